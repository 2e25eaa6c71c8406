// Package tap is the broker-subscription source of `mqtap tap mqtt://HOST:PORT`:
// it connects to an MQTT broker as a client (over TCP, TLS or WebSocket),
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
// however the server framed them (package wsdial).
package tap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
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

// newTapper checks cfg, fills in the defaults and prepares the TLS
// configuration; nothing is dialled.
func newTapper(cfg Config, out chan<- Chunk) (*tapper, error) {
	server, useTLS, ws, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if len(cfg.Topics) == 0 {
		cfg.Topics = []string{"#"}
	}
	for _, f := range cfg.Topics {
		if err := checkFilter(f); err != nil {
			return nil, err
		}
	}
	if cfg.QoS > 2 {
		return nil, fmt.Errorf("subscription QoS %d: QoS is 0, 1 or 2", cfg.QoS)
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = defaultKeepAlive
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	t := &tapper{
		cfg:      cfg,
		server:   server,
		ws:       ws,
		display:  server.String(),
		clientID: cfg.ClientID,
		out:      out,
		abandon:  make(chan struct{}),
		open:     make(map[*tapConn]struct{}),
		reasonCh: make(chan struct{}),
	}
	if t.clientID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("making a client ID: %w", err)
		}
		t.clientID = "mqtap-" + hex.EncodeToString(b[:])
	}
	if useTLS {
		t.tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("reading the CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s: no PEM certificate in it", cfg.CAFile)
			}
			t.tlsCfg.RootCAs = pool
		}
	} else if cfg.CAFile != "" || cfg.Insecure {
		return nil, fmt.Errorf("%s does not use TLS: a CA file or insecure mode needs mqtts:// or wss://", t.display)
	}
	return t, nil
}

// parseURL checks a broker URL and returns it as scheme://host:port (with
// the path for WebSocket), whether it is a TLS scheme and whether it is a
// WebSocket one.
func parseURL(raw string) (u *url.URL, useTLS, ws bool, err error) {
	const want = "mqtt://, tcp://, mqtts://, ssl://, tls://, ws:// or wss://"
	if raw == "" {
		return nil, false, false, fmt.Errorf("no broker URL (want %sHOST:PORT)", "mqtt://")
	}
	if !strings.Contains(raw, "://") {
		return nil, false, false, fmt.Errorf("broker URL %q has no scheme (want %s, e.g. mqtt://%s)", raw, want, raw)
	}
	u, err = url.Parse(raw)
	if err != nil {
		return nil, false, false, fmt.Errorf("broker URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	port := defaultTCPPort
	switch scheme {
	case "mqtt", "tcp":
	case "mqtts", "ssl", "tls":
		useTLS, port = true, defaultTLSPort
	case "ws", "wss":
		u, err := ParseWebSocketURL(raw)
		if err != nil {
			return nil, false, false, fmt.Errorf("broker URL: %w", err)
		}
		return u, scheme == "wss", true, nil
	default:
		return nil, false, false, fmt.Errorf("broker URL %q: unsupported scheme %q (want %s)", raw, u.Scheme, want)
	}
	host := u.Hostname()
	if host == "" {
		return nil, false, false, fmt.Errorf("broker URL %q has no host", raw)
	}
	if u.User != nil {
		return nil, false, false, fmt.Errorf("broker URL %q: credentials in the URL are not supported (set the user name and password separately)", u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, false, false, fmt.Errorf("broker URL %q: unexpected path, query or fragment (want %sHOST:PORT; a path needs ws:// or wss://)", raw, scheme+"://")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, false, false, fmt.Errorf("broker URL %q: bad port %q", raw, p)
		}
		port = strconv.Itoa(n)
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}, useTLS, false, nil
}

// checkFilter rejects topic filters that no broker accepts.
func checkFilter(f string) error {
	switch {
	case f == "":
		return errors.New("empty topic filter")
	case strings.ContainsRune(f, 0):
		return fmt.Errorf("topic filter %q contains a NUL character", f)
	case len(f) > 65535:
		return fmt.Errorf("topic filter of %d bytes: at most 65535", len(f))
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("topic filter %q: # must be a whole level, the last one", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("topic filter %q: + must be a whole level", f)
		}
	}
	return nil
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

// dial is autopaho's AttemptConnection: it opens the network connection
// and wraps it so that every read is also handed to the caller.
func (t *tapper) dial(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
	// autopaho passes its own context here, not the one bounded by
	// ConnectTimeout: bound the dial (and TLS handshake) ourselves.
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	switch {
	case t.ws:
		var wc *WSConn
		wc, err = DialWebSocket(ctx, u, DialOptions{TLSConfig: t.tlsCfg})
		if err == nil {
			t.mu.Lock()
			t.noProto = wc.Subprotocol == ""
			t.mu.Unlock()
			c = wc
		}
	case t.tlsCfg != nil:
		d := tls.Dialer{Config: t.tlsCfg}
		c, err = d.DialContext(ctx, "tcp", u.Host)
	default:
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.conns++
	tc := &tapConn{
		Conn:   c,
		t:      t,
		n:      t.conns,
		local:  addrPort(c.LocalAddr()),
		broker: addrPort(c.RemoteAddr()),
		buf:    make([]byte, readBufSize),
	}
	t.open[tc] = struct{}{}
	t.mu.Unlock()
	// autopaho writes from several goroutines; paho's packet writer holds
	// the Locker of this wrapper for each packet.
	return packets.NewThreadSafeConn(tc), nil
}

// backoff is autopaho's ReconnectBackoff: the delay before attempt (0 for
// the first one) of a connection cycle. The initial cycle starts at once;
// after a lost connection the delays are 0.5s, 1s, 2s, ... up to
// MaxBackoff.
func (t *tapper) backoff(attempt int) time.Duration {
	t.mu.Lock()
	reconnecting, stopping, why := t.everUp, t.fatal != nil, t.lastErr
	t.mu.Unlock()
	if !reconnecting {
		if attempt == 0 {
			return 0
		}
		return firstBackoff // not reached: a failed first attempt ends Run
	}
	d := delay(attempt+1, t.cfg.MaxBackoff)
	if attempt > 0 && !stopping && t.runCtx.Err() == nil {
		t.logf("reconnecting to %s in %v (attempt %d): %s", t.display, d, attempt+1, why)
	}
	return d
}

// delay is the wait before reconnect attempt n (1-based): 0.5s doubled
// n-1 times, at most maxDelay.
func delay(n int, maxDelay time.Duration) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// permanent reports whether a CONNACK refusal will not go away by
// retrying.
func permanent(code byte) bool {
	switch code {
	case 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C:
		return true
	}
	return false
}

// onConnectError is autopaho's OnConnectError: a connection attempt failed.
func (t *tapper) onConnectError(err error) {
	var ce *autopaho.ConnackError
	refused := errors.As(err, &ce) && ce.ReasonCode >= 0x80
	t.mu.Lock()
	first := !t.everUp
	t.mu.Unlock()
	switch {
	case refused && (first || permanent(ce.ReasonCode)):
		t.fail(&refusedError{server: t.display, code: ce.ReasonCode, reason: ce.Reason, err: err})
	case first:
		t.fail(fmt.Errorf("connecting to %s: %w", t.display, connectCause(err)))
	default:
		why := describe(connectCause(err))
		if refused {
			why = "the broker refused the connection: " + connackText(ce.ReasonCode, ce.Reason)
		}
		t.mu.Lock()
		t.lastErr = why
		t.mu.Unlock()
	}
}

// connectCause strips autopaho's "failed to connect to URL: " wrapping.
func connectCause(err error) error {
	var ce *autopaho.ConnackError
	if errors.As(err, &ce) {
		return err
	}
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", connectTimeout, err)
	}
	return err
}

// onUp is autopaho's OnConnectionUp: CONNACK accepted the connection.
func (t *tapper) onUp(cm *autopaho.ConnectionManager, _ *paho.Connack) {
	t.mu.Lock()
	first := !t.everUp
	t.everUp = true
	t.upConn = t.conns
	n := t.conns
	t.reason, t.reasonSet, t.reasonCh = "", false, make(chan struct{})
	noProto := t.noProto
	t.mu.Unlock()
	if first {
		t.logf("connected to %s (MQTT 5, client ID %q)", t.display, t.clientID)
	} else {
		t.logf("reconnected to %s (connection %d)", t.display, n)
	}
	if noProto && !t.warnedProto {
		t.warnedProto = true
		t.logf("warning: %s chose no WebSocket subprotocol (MQTT-6.0.0-4: it must choose \"mqtt\"); the connection works anyway", t.display)
	}
	t.workers.Add(1)
	go t.subscribe(cm, first)
}

// subscribe subscribes to the topic filters on the connection that just
// came up.
func (t *tapper) subscribe(cm *autopaho.ConnectionManager, first bool) {
	defer t.workers.Done()
	s := &paho.Subscribe{Subscriptions: make([]paho.SubscribeOptions, len(t.cfg.Topics))}
	for i, f := range t.cfg.Topics {
		s.Subscriptions[i] = paho.SubscribeOptions{Topic: f, QoS: t.cfg.QoS}
	}
	sa, err := cm.Subscribe(t.runCtx, s)
	if t.runCtx.Err() != nil {
		return
	}
	if sa != nil {
		for i, code := range sa.Reasons {
			if code < 0x80 {
				continue
			}
			topic := "?"
			if i < len(t.cfg.Topics) {
				topic = t.cfg.Topics[i]
			}
			reason := ""
			if sa.Properties != nil {
				reason = sa.Properties.ReasonString
			}
			t.fail(&subRefusedError{server: t.display, topic: topic, code: code, reason: reason, err: err})
			return
		}
	}
	if err != nil {
		if errors.Is(err, paho.ErrConnectionLost) || errors.Is(err, autopaho.ConnectionDownError) {
			return // the next connection subscribes again
		}
		err = fmt.Errorf("%s: subscribing to %s: %w", t.display, quoteList(t.cfg.Topics), err)
		if first {
			t.fail(err)
		} else {
			t.logf("%v", err)
		}
		return
	}
	if first {
		var granted []string
		for i, f := range t.cfg.Topics {
			g := fmt.Sprintf("%q", f)
			if i < len(sa.Reasons) && sa.Reasons[i] != t.cfg.QoS {
				g += fmt.Sprintf(" (QoS %d granted)", sa.Reasons[i])
			}
			granted = append(granted, g)
		}
		t.logf("subscribed to %s with QoS %d", strings.Join(granted, ", "), t.cfg.QoS)
	}
}

// noteReason records why connection n (if it is the one that was up) was
// lost; the first reason wins.
func (t *tapper) noteReason(n int, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n != t.upConn || t.reasonSet {
		return
	}
	t.reason, t.reasonSet = why, true
	close(t.reasonCh)
}

// onClientError is paho's OnClientError (called by autopaho in a
// goroutine): the connection that was up failed.
func (t *tapper) onClientError(err error) {
	t.mu.Lock()
	n := t.upConn
	t.mu.Unlock()
	t.noteReason(n, describe(err))
}

// onServerDisconnect is paho's OnServerDisconnect (called in a goroutine):
// the broker sent DISCONNECT.
func (t *tapper) onServerDisconnect(d *paho.Disconnect) {
	reason := ""
	if d.Properties != nil {
		reason = d.Properties.ReasonString
	}
	t.mu.Lock()
	n := t.upConn
	t.mu.Unlock()
	t.noteReason(n, "the broker sent DISCONNECT: "+disconnectText(d.ReasonCode, reason))
}

// onDown is autopaho's OnConnectionDown: the connection that was up is
// gone. It logs why (waiting briefly for paho's callbacks, which autopaho
// runs in goroutines) and lets autopaho reconnect unless Run is ending.
func (t *tapper) onDown() bool {
	t.mu.Lock()
	ch := t.reasonCh
	t.mu.Unlock()
	timer := time.NewTimer(reasonWait)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	case <-t.runCtx.Done():
	}
	t.mu.Lock()
	why, stopping := t.reason, t.fatal != nil
	t.lastErr = ""
	t.mu.Unlock()
	if stopping || t.runCtx.Err() != nil {
		return false
	}
	if why == "" {
		why = "connection closed"
	}
	t.logf("lost the connection to %s: %s; reconnecting", t.display, why)
	return true
}

// describe turns a connection error into a short phrase.
func describe(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the broker closed the connection"
	}
	return err.Error()
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

// quoteList is `"a/#", "b"`.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
