// Package tap is the broker-subscription source of mqtap tap.
//
// It connects to an MQTT broker as a client (over TCP, TLS or WebSocket),
// subscribes to topic filters and hands the caller the raw MQTT bytes the
// broker sends on each network connection, so that the caller decodes them
// with its own MQTT decoder exactly as it decodes a captured TCP stream.
//
// The client is github.com/eclipse/paho.golang's autopaho, which reconnects
// with a growing delay when the connection is lost. paho.golang speaks MQTT 5
// only, so the connection is always an MQTT 5 connection (protocol level 5)
// and the bytes handed out are MQTT 5 packets; a broker that only speaks
// MQTT 3.1.1 refuses the connection. The session is always clean: every
// CONNECT has Clean Start set and a Session Expiry Interval of 0, so the
// broker keeps nothing between connections and the subscriptions are made
// again after each reconnect.
//
// Only the broker-to-mqtap direction is handed out (CONNACK, SUBACK,
// PUBLISH, PINGRESP, DISCONNECT, ...); what mqtap itself sends (CONNECT,
// SUBSCRIBE, PUBACK, PINGREQ) is not. The bytes are those of the MQTT
// layer: for mqtts:// they are the decrypted TLS application data, for
// ws:// and wss:// the payloads of the binary WebSocket messages, in order,
// however the server framed them (wsdial.go).
package tap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Chunk is data the broker sent on one connection, in order, or the end of that connection.
type Chunk struct {
	Conn   int            // 1 for the first network connection, 2 after the first reconnect, ...
	Local  netip.AddrPort // mqtap's end of the connection
	Broker netip.AddrPort // the broker's end
	Data   []byte         // bytes received (owned by the receiver); nil when Closed
	Time   time.Time      // when they were read
	Closed bool           // the connection ended
}

// Config says where to connect and what to subscribe to.
type Config struct {
	URL        string                           // mqtt://host:port, tcp://, mqtts://host:port (TLS), ssl://, tls://, ws://host:port/path, wss:// (WebSocket); port defaults 1883 / 8883 / 80 / 443
	Topics     []string                         // topic filters, default ["#"]
	QoS        byte                             // subscription QoS (default 0)
	Username   string                           // user name of the CONNECT packet (empty: none)
	Password   []byte                           // nil: no password
	CAFile     string                           // PEM CA certificates for mqtts:// and wss:// (empty: system roots)
	Insecure   bool                             // mqtts:// or wss:// without certificate verification
	ClientID   string                           // default "mqtap-" + 8 random hex chars
	KeepAlive  uint16                           // seconds, default 30
	Log        func(format string, args ...any) // progress/reconnect messages (one line each, no trailing newline); nil: silent
	MaxBackoff time.Duration                    // reconnect delay grows 0.5s,1s,2s... up to this (default 30s)
}

const (
	defaultTCPPort    = "1883"
	defaultTLSPort    = "8883"
	defaultKeepAlive  = 30
	defaultMaxBackoff = 30 * time.Second
	firstBackoff      = 500 * time.Millisecond // delay before the first reconnect attempt
	connectTimeout    = 10 * time.Second       // dial + TLS handshake, and CONNECT to CONNACK
	shutdownGrace     = 500 * time.Millisecond // how long sends may still wait once ctx is done
	reasonWait        = 250 * time.Millisecond // how long to wait for why a connection was lost
	readBufSize       = 32 << 10
)

// Run connects, subscribes and sends every chunk to out until ctx is done, then disconnects cleanly and returns nil.
// It returns an error (one line, e.g. `connecting to mqtt://localhost:1: dial tcp 127.0.0.1:1: connect: connection refused`,
// `mqtt://h:1883 refused the connection: bad user name or password (CONNACK reason 0x86)`,
// `mqtt://h:1883: subscription to "secret/#" refused: not authorized (0x87)`) when the FIRST connection attempt fails
// or is refused, or when a subscription is refused (SUBACK reason >= 0x80) — a tap that can never see anything must
// not wait silently. After a connection has succeeded once, losing it is not an error: Run logs (via cfg.Log)
// `lost the connection to mqtt://h:p: <why>; reconnecting` and each `reconnecting to ... in 2s (attempt 3): <why>`
// and `reconnected to ...`, and reconnects with backoff forever (until ctx is done), re-subscribing. A CONNACK
// refusal for bad credentials / not authorized on a reconnect also ends Run with an error.
// Clean session: always a clean start (CleanStartOnInitialConnection true; SessionExpiryInterval 0). autopaho
// sets Clean Start on its first CONNECT only, so the tap's ConnectPacketBuilder sets it on every reconnect too.
//
// The connection speaks MQTT 5 (paho.golang implements no other version).
//
// The configuration (URL scheme and host, topic filters, QoS, CA file) is
// checked before connecting. Conn numbers the network connections that were
// established (a dial that fails gets no number; one whose CONNECT is
// refused does). Each connection's data chunks come in the order read,
// followed by exactly one Closed chunk; the last connection's Closed chunk
// is sent before Run returns. The refusals that end Run on a reconnect are
// CONNACK reasons 0x84 (unsupported protocol version), 0x85 (client
// identifier not valid), 0x86 (bad user name or password), 0x87 (not
// authorized), 0x8A (banned) and 0x8C (bad authentication method); any
// other failure to reconnect is retried.
//
// Nothing is logged before the first connection is up, so a failed first
// attempt produces only the returned error.
//
// out must be drained by another goroutine; Run never closes it. Sends on
// out block (a slow receiver slows the reads from the broker) until ctx is
// done; after that they give up 0.5s later, so Run returns promptly even if
// nobody receives any more. cfg.Log calls never overlap.
func Run(ctx context.Context, cfg Config, out chan<- Chunk) error {
	if out == nil {
		return errors.New("tap: nil output channel")
	}
	t, err := newTapper(cfg, out)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.runCtx, t.cancel = runCtx, cancel

	if ctx.Err() != nil {
		return nil
	}
	cm, err := autopaho.NewConnection(runCtx, t.clientConfig())
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", t.display, err)
	}
	<-runCtx.Done()

	// From now on sends may wait shutdownGrace at most; after that, any
	// connection still open (a DISCONNECT stuck in a full send buffer) is
	// closed so that autopaho can finish.
	forced := make(chan struct{})
	timer := time.AfterFunc(shutdownGrace, func() {
		t.abandonSends()
		t.closeAll()
		close(forced)
	})
	defer func() {
		if !timer.Stop() {
			<-forced
		}
	}()
	<-cm.Done()      // autopaho sent DISCONNECT and closed the connection
	t.workers.Wait() // subscription goroutines
	t.closeAll()     // connections autopaho left behind, if any
	t.finish()
	return t.failure()
}

// tapper is the state of one Run.
type tapper struct {
	cfg      Config
	server   *url.URL // normalised: scheme://host:port, and /path for WebSocket
	ws       bool     // ws:// or wss://
	display  string   // server.String(), for messages
	tlsCfg   *tls.Config
	clientID string
	out      chan<- Chunk
	runCtx   context.Context
	cancel   context.CancelFunc

	abandon     chan struct{} // closed when sends give up
	abandonOnce sync.Once
	logMu       sync.Mutex // serialises cfg.Log
	warnedProto bool       // the missing subprotocol was logged (onUp only)
	workers     sync.WaitGroup
	inflight    sync.WaitGroup // sends in progress (see send)

	mu        sync.Mutex
	finished  bool                  // Run is returning: no more sends
	fatal     error                 // why Run ends with an error
	conns     int                   // network connections established so far
	open      map[*tapConn]struct{} // connections not yet ended
	everUp    bool                  // a connection has succeeded once
	upConn    int                   // number of the last connection that came up
	lastErr   string                // why the last connection attempt failed
	reason    string                // why connection upConn was lost
	reasonSet bool
	noProto   bool          // the WebSocket server of the last connection chose no subprotocol
	reasonCh  chan struct{} // closed when reason is set
}

// clientConfig is the autopaho configuration of the tap.
func (t *tapper) clientConfig() autopaho.ClientConfig {
	return autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{t.server},
		KeepAlive:                     t.cfg.KeepAlive,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0,
		ReconnectBackoff:              t.backoff,
		ConnectTimeout:                connectTimeout,
		AttemptConnection:             t.dial,
		OnConnectionUp:                t.onUp,
		OnConnectionDown:              t.onDown,
		OnConnectError:                t.onConnectError,
		ConnectUsername:               t.cfg.Username,
		ConnectPassword:               t.cfg.Password,
		// autopaho clears Clean Start after the first connection; the tap
		// wants a clean session on every connection.
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			cp.CleanStart = true
			return cp, nil
		},
		ClientConfig: paho.ClientConfig{
			ClientID:           t.clientID,
			OnClientError:      t.onClientError,
			OnServerDisconnect: t.onServerDisconnect,
		},
	}
}

// logf sends one line to cfg.Log.
func (t *tapper) logf(format string, args ...any) {
	if t.cfg.Log == nil {
		return
	}
	t.logMu.Lock()
	defer t.logMu.Unlock()
	t.cfg.Log(format, args...)
}

// fail records the first error that ends Run and stops the connection
// manager.
func (t *tapper) fail(err error) {
	t.mu.Lock()
	if t.fatal == nil {
		t.fatal = err
	}
	t.mu.Unlock()
	t.cancel()
}

func (t *tapper) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fatal
}

// send hands c to the caller. Until Run's context is done it waits for the
// receiver; after that at most until the shutdown grace period ends. Once
// Run is returning it drops c.
func (t *tapper) send(c Chunk) {
	t.mu.Lock()
	if t.finished {
		t.mu.Unlock()
		return
	}
	t.inflight.Add(1)
	t.mu.Unlock()
	defer t.inflight.Done()
	select {
	case t.out <- c:
	case <-t.abandon:
	}
}

func (t *tapper) abandonSends() {
	t.abandonOnce.Do(func() { close(t.abandon) })
}

// closeAll closes every connection that has not ended.
func (t *tapper) closeAll() {
	t.mu.Lock()
	conns := make([]*tapConn, 0, len(t.open))
	for c := range t.open {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// finish stops all sends and waits for those in progress.
func (t *tapper) finish() {
	t.mu.Lock()
	t.finished = true
	t.mu.Unlock()
	t.inflight.Wait()
}
