package brokertest

import (
	"bytes"
	"context"
	"fmt"
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
	"github.com/mqtap/mqtap/session/brokertest/wsbridge"
)

// WSBridgeOptions choose how a test's WebSocket bridge behaves
// (StartWSBridge); the zero value is a ws:// endpoint at /mqtt that
// chooses "mqtt" or "mqttv3.1", refuses compression and sends each MQTT
// packet in one frame.
type WSBridgeOptions struct {
	// Path is the endpoint ("/mqtt" when empty); other paths get 404.
	Path string
	// Subprotocols, NoSubprotocol and ForceSubprotocol are as in
	// wsbridge.Options.
	Subprotocols     []string
	NoSubprotocol    bool
	ForceSubprotocol string
	// Compression is the answer to permessage-deflate.
	Compression wsbridge.Compression
	// TLS makes it a wss:// endpoint whose certificate (for
	// keytest.DefaultHosts) a fresh test CA signs (WSBridge.CAFile); the TLS
	// secrets of every connection go to WSBridge.KeyLog.
	TLS bool
	// Framing is how what the broker sends is framed.
	Framing wsbridge.Framing
	// Port is the port to listen on (0: a free one).
	Port int
}

// WSBridge is a running WebSocket bridge in front of a test broker.
type WSBridge struct {
	// URL is ws://127.0.0.1:PORT/mqtt (wss:// with TLS).
	URL  string
	Host string
	Port int
	// CAFile verifies the bridge's certificate (TLS only).
	CAFile string
	// KeyLog is the NSS key log file the bridge writes (TLS only).
	KeyLog string
	// Log is the bridge's log: one line per connection and one with its
	// packet counts when it closes.
	Log *Buffer

	opts    wsbridge.Options
	mu      sync.Mutex
	b       *wsbridge.Bridge
	keyFile *os.File
	earlier []wsbridge.ConnStats // connections of the bridges before a Restart
}

// StartWSBridge starts a WebSocket-to-TCP bridge on 127.0.0.1 in front of
// the plain MQTT listener of broker and stops it when the test ends.
func StartWSBridge(t testing.TB, broker *Broker, opts WSBridgeOptions) *WSBridge {
	t.Helper()
	if broker.TLS {
		t.Fatal("StartWSBridge: the bridge relays to a plain MQTT listener, not a TLS one")
	}
	w := &WSBridge{Host: "127.0.0.1", Port: opts.Port, Log: &Buffer{}}
	if w.Port == 0 {
		w.Port = FreePort(t)
	}
	w.opts = wsbridge.Options{
		Broker:           broker.Addr(),
		Listen:           net.JoinHostPort(w.Host, strconv.Itoa(w.Port)),
		Path:             opts.Path,
		Subprotocols:     opts.Subprotocols,
		NoSubprotocol:    opts.NoSubprotocol,
		ForceSubprotocol: opts.ForceSubprotocol,
		Compression:      opts.Compression,
		Framing:          opts.Framing,
		Log:              func(format string, args ...any) { fmt.Fprintf(w.Log, format+"\n", args...) },
	}
	if opts.TLS {
		dir := t.TempDir()
		ca := keytest.NewCA(t, "ca", keytest.KeyECDSA)
		w.CAFile, _ = ca.Write(t, dir, "ca")
		cert, key := ca.Issue(t, keytest.KeyECDSA, nil).Write(t, dir, "server")
		w.KeyLog = filepath.Join(dir, "bridge.keylog")
		f, err := os.OpenFile(w.KeyLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		w.keyFile = f
		w.opts.TLS = &wsbridge.TLS{CertFile: cert, KeyFile: key, KeyLog: f}
	}
	w.start(t)
	t.Cleanup(func() {
		w.Stop()
		if w.keyFile != nil {
			w.keyFile.Close()
		}
	})
	return w
}

// start listens on the bridge's port.
func (w *WSBridge) start(t testing.TB) {
	t.Helper()
	b, err := wsbridge.Start(w.opts)
	if err != nil {
		t.Fatalf("starting the WebSocket bridge: %v", err)
	}
	w.mu.Lock()
	w.b = b
	w.URL = b.URL()
	w.mu.Unlock()
}

// Stop closes the bridge as if it crashed: its port stops listening and
// every connection is cut (no WebSocket Close frame).
func (w *WSBridge) Stop() {
	w.mu.Lock()
	b := w.b
	w.b = nil
	w.mu.Unlock()
	if b != nil {
		b.Close()
		w.mu.Lock()
		w.earlier = append(w.earlier, b.Conns()...)
		w.mu.Unlock()
	}
}

// Restart starts the bridge again, on the same port, after Stop.
func (w *WSBridge) Restart(t testing.TB) {
	t.Helper()
	w.Stop()
	w.start(t)
}

// Addr is the bridge's address.
func (w *WSBridge) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(w.Host), uint16(w.Port))
}

// Conns describes every connection the bridge has had, across restarts.
func (w *WSBridge) Conns() []wsbridge.ConnStats {
	w.mu.Lock()
	out := append([]wsbridge.ConnStats(nil), w.earlier...)
	b := w.b
	w.mu.Unlock()
	if b != nil {
		out = append(out, b.Conns()...)
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
