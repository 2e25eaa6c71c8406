package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
)

// DefaultWSPath is the endpoint of a bridge whose WSBridgeOptions.Path is
// empty.
const DefaultWSPath = "/mqtt"

// defaultMaxPacket is WSBridgeOptions.MaxPacket's default.
const defaultMaxPacket = 16 << 20

// WSBridgeOptions choose how a WebSocket bridge behaves; the zero value
// is a ws:// endpoint at /mqtt that chooses "mqtt" or "mqttv3.1", refuses
// compression and sends each MQTT packet in one frame.
type WSBridgeOptions struct {
	// Path is the endpoint (DefaultWSPath when empty); other paths get
	// 404 Not Found.
	Path string
	// Subprotocols are chosen from the client's offer in this order of
	// preference; nil means {"mqtt", "mqttv3.1"}. A client that offers
	// none of them is accepted without a subprotocol.
	Subprotocols []string
	// NoSubprotocol accepts every upgrade without choosing a subprotocol.
	NoSubprotocol bool
	// ForceSubprotocol, when set, is the subprotocol of every answer,
	// offered or not (as a misbehaving server would).
	ForceSubprotocol string
	// Compression is the answer to an offer of permessage-deflate.
	Compression Compression
	// Framing is how what the broker sends is framed.
	Framing Framing
	// TLS makes the bridge a wss:// endpoint with the server certificate
	// (PEM, the chain) CertFile and its private key KeyFile. StartWSBridge
	// makes them when they are empty: a certificate for
	// keytest.DefaultHosts that a fresh test CA signs (WSBridge.CAFile).
	TLS               bool
	CertFile, KeyFile string
	// KeyLogWriter, with TLS, receives the TLS secrets of every connection
	// in the NSS key log format (tls.Config.KeyLogWriter); StartWSBridge
	// writes them to WSBridge.KeyLog when it is nil.
	KeyLogWriter io.Writer
	// MaxPacket caps an MQTT packet from the broker and a message from
	// the client, in bytes (0: 16 MiB); a connection that exceeds it is
	// closed and the log says so.
	MaxPacket int
	// Log receives one line per event (connections, their packet counts
	// when they close, errors); nil discards them (StartWSBridge: they go
	// to WSBridge.Log). Calls never overlap.
	Log func(format string, args ...any)
}

// check fills in the defaults of opts and checks them.
func (opts *WSBridgeOptions) check() error {
	if opts.Path == "" {
		opts.Path = DefaultWSPath
	}
	if !strings.HasPrefix(opts.Path, "/") {
		return fmt.Errorf("wsbridge: path %q does not start with /", opts.Path)
	}
	if opts.Subprotocols == nil {
		opts.Subprotocols = []string{"mqtt", "mqttv3.1"}
	}
	if opts.MaxPacket <= 0 {
		opts.MaxPacket = defaultMaxPacket
	}
	for _, c := range opts.Framing.Cuts {
		if c <= 0 {
			return fmt.Errorf("wsbridge: fragment size %d: want at least 1 byte", c)
		}
	}
	for _, t := range opts.Framing.SplitTypes {
		if t == 0 || t > 15 {
			return fmt.Errorf("wsbridge: MQTT packet type %d: want 1 (CONNECT) to 15 (AUTH)", t)
		}
	}
	if opts.TLS && (opts.CertFile == "" || opts.KeyFile == "") {
		return errors.New("wsbridge: TLS needs a certificate and its key")
	}
	return nil
}

// WSBridge is a running WebSocket-to-TCP bridge in front of a plain MQTT
// listener.
type WSBridge struct {
	// URL is ws://HOST:PORT/PATH (wss:// with TLS).
	URL  string
	Host string
	Port int
	// CAFile verifies the bridge's certificate (StartWSBridge with TLS).
	CAFile string
	// KeyLog is the NSS key log file the bridge writes (StartWSBridge
	// with TLS).
	KeyLog string
	// Log is the bridge's log (StartWSBridge): one line per connection
	// and one with its packet counts when it closes.
	Log *Buffer

	broker  string
	opts    WSBridgeOptions
	mu      sync.Mutex
	run     *wsServer     // nil when stopped
	earlier []WSConnStats // connections of the runs before a Restart
}

// ListenWSBridge starts a bridge on listen (host:port; "127.0.0.1:0",
// a free port, when empty) in front of the plain MQTT listener at broker
// (host:port). It serves until Stop.
func ListenWSBridge(broker, listen string, opts WSBridgeOptions) (*WSBridge, error) {
	if broker == "" {
		return nil, errors.New("wsbridge: no broker address")
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	w := &WSBridge{broker: broker, opts: opts}
	if err := w.listen(listen); err != nil {
		return nil, err
	}
	return w, nil
}

// StartWSBridge starts a bridge on a free port of 127.0.0.1 in front of
// the plain MQTT listener of broker, logging to WSBridge.Log, and stops it
// when the test ends.
func StartWSBridge(t testing.TB, broker *Broker, opts WSBridgeOptions) *WSBridge {
	t.Helper()
	if broker.TLS {
		t.Fatal("StartWSBridge: the bridge relays to a plain MQTT listener, not a TLS one")
	}
	log := &Buffer{}
	if opts.Log == nil {
		opts.Log = func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	}
	var caFile, keyLog string
	if opts.TLS {
		dir := t.TempDir()
		if opts.CertFile == "" {
			ca := keytest.NewCA(t, "ca", keytest.KeyECDSA)
			caFile, _ = ca.Write(t, dir, "ca")
			opts.CertFile, opts.KeyFile = ca.Issue(t, keytest.KeyECDSA, nil).Write(t, dir, "server")
		}
		if opts.KeyLogWriter == nil {
			keyLog = filepath.Join(dir, "bridge.keylog")
			f, err := os.OpenFile(keyLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() }) // after Stop
			opts.KeyLogWriter = f
		}
	}
	w, err := ListenWSBridge(broker.Addr(), "127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("starting the WebSocket bridge: %v", err)
	}
	w.Log, w.CAFile, w.KeyLog = log, caFile, keyLog
	t.Cleanup(w.Stop)
	return w
}

// listen starts a run of the bridge on listen.
func (w *WSBridge) listen(listen string) error {
	run, err := serveWS(w.broker, listen, w.opts)
	if err != nil {
		return err
	}
	scheme := "ws"
	if w.opts.TLS {
		scheme = "wss"
	}
	w.mu.Lock()
	w.run = run
	w.Host, w.Port = run.addr.Addr().String(), int(run.addr.Port())
	w.URL = scheme + "://" + run.addr.String() + w.opts.Path
	w.mu.Unlock()
	return nil
}

// Stop closes the bridge as if it crashed: its port stops listening and
// every connection is cut (no WebSocket Close frame). Conns still
// describes its connections.
func (w *WSBridge) Stop() {
	w.mu.Lock()
	run := w.run
	w.run = nil
	w.mu.Unlock()
	if run != nil {
		run.close()
		w.mu.Lock()
		w.earlier = append(w.earlier, run.stats()...)
		w.mu.Unlock()
	}
}

// Restart starts the bridge again, on the same port, after Stop; the
// connections of the new run are numbered from 1 again.
func (w *WSBridge) Restart(t testing.TB) {
	t.Helper()
	w.Stop()
	if err := w.listen(net.JoinHostPort(w.Host, strconv.Itoa(w.Port))); err != nil {
		t.Fatalf("restarting the WebSocket bridge: %v", err)
	}
}

// Addr is the bridge's address.
func (w *WSBridge) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(w.Host), uint16(w.Port))
}

// Conns describes every connection the bridge has had, in order, across
// restarts.
func (w *WSBridge) Conns() []WSConnStats {
	w.mu.Lock()
	out := append([]WSConnStats(nil), w.earlier...)
	run := w.run
	w.mu.Unlock()
	if run != nil {
		out = append(out, run.stats()...)
	}
	return out
}

// WSScript is the path of scripts/wsmqtt.py, the MQTT-over-WebSocket client
// on python3-websockets, in this checkout.
func WSScript() string { return scriptPath("wsmqtt.py") }

// CheckWebsockets fails the test unless /usr/bin/python3 imports websockets
// (python3-websockets).
func CheckWebsockets(t testing.TB) {
	t.Helper()
	checkImport(t, "websockets.client", "python3-websockets")
}

// WSRun runs wsmqtt.py with args and returns its stderr (its log) and exit
// code; it fails the test if the script is still running after timeout.
func WSRun(t testing.TB, timeout time.Duration, args ...string) (stderr string, code int) {
	t.Helper()
	CheckWebsockets(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Python, append([]string{WSScript()}, args...)...)
	var e bytes.Buffer
	cmd.Stderr = &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wsmqtt.py %s: still running after %v; stderr: %s", strings.Join(args, " "), timeout, e.String())
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return e.String(), ee.ExitCode()
		}
		t.Fatalf("wsmqtt.py: %v", err)
	}
	return e.String(), 0
}
