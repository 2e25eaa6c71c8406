package brokertest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Compression is what the bridge answers to a client that offers
// permessage-deflate (RFC 7692).
type Compression int

// Compression modes.
const (
	// CompressionNone refuses permessage-deflate.
	CompressionNone Compression = iota
	// CompressionContextTakeover accepts it with context takeover, or
	// without it for the directions the client asks
	// (client_no_context_takeover, server_no_context_takeover).
	CompressionContextTakeover
	// CompressionNoContextTakeover accepts it without context takeover in
	// both directions.
	CompressionNoContextTakeover
)

// ParseCompression maps "none", "context-takeover" and
// "no-context-takeover" to a Compression.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "none", "off":
		return CompressionNone, nil
	case "context-takeover", "deflate":
		return CompressionContextTakeover, nil
	case "no-context-takeover":
		return CompressionNoContextTakeover, nil
	}
	return 0, fmt.Errorf("unknown compression %q: want none, context-takeover or no-context-takeover", s)
}

func (c Compression) mode() websocket.CompressionMode {
	switch c {
	case CompressionContextTakeover:
		return websocket.CompressionContextTakeover
	case CompressionNoContextTakeover:
		return websocket.CompressionNoContextTakeover
	}
	return websocket.CompressionDisabled
}

// Framing is how the bridge frames what the broker sends. The zero value
// sends each MQTT packet as one Binary message of one frame.
type Framing struct {
	// SplitTypes are the MQTT packet types (1 CONNECT … 15 AUTH) sent in
	// several frames: a Binary frame without FIN, Continuation frames,
	// and an empty Continuation frame with FIN.
	SplitTypes []byte
	// Cuts are the sizes of the first fragments of a split packet, the
	// rest being the last one; nil means {1}: the fixed header's first
	// byte alone, so the fixed header itself is split.
	Cuts []int
	// Ping sends a Ping frame between the first two fragments of each
	// split packet (a control frame inside a fragmented message).
	Ping bool
	// Join sends the packets that are not split and that the broker sent
	// together (with less than 100 ms between them: mosquitto's small
	// packets wait for an ACK under Nagle's algorithm) in one frame.
	Join bool
}

// splits reports whether packets of type typ are split.
func (f Framing) splits(typ byte) bool {
	for _, t := range f.SplitTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// WSConnStats describe one WebSocket connection of a bridge.
type WSConnStats struct {
	N      int            // 1 for the first connection, …
	Client netip.AddrPort // the client's end
	// Path, Offered and Subprotocol are the request's path, the
	// subprotocols the client offered and the one chosen ("" none).
	Path        string
	Offered     []string
	Subprotocol string
	// Extensions is the Sec-WebSocket-Extensions the bridge answered
	// ("" none), Offered its request's.
	Extensions, OfferedExtensions string
	ClientID                      string       // of the client's CONNECT, when it sent one
	Sent                          PacketCounts // MQTT packets the client sent (to the broker)
	Received                      PacketCounts // MQTT packets the broker sent (to the client)
	Frames                        int          // data frames sent to the client (a message of n fragments counts n+1 with Split)
	Pings                         int          // Ping frames sent to the client
	Closed                        bool         // the connection has ended
}

// wsServer is one run of a bridge, from listening to Stop: a WSBridge
// restarted on its port is a new run, whose connections are numbered from
// 1 again.
type wsServer struct {
	opts   WSBridgeOptions
	broker string // host:port of the plain MQTT listener
	ln     net.Listener
	srv    *http.Server
	addr   netip.AddrPort
	logMu  sync.Mutex

	mu     sync.Mutex
	closed bool
	conns  []*relay
	live   sync.WaitGroup
	served chan struct{}
}

// serveWS listens on listen and serves until close; opts are checked and
// complete (WSBridgeOptions.check).
func serveWS(broker, listen string, opts WSBridgeOptions) (*wsServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("wsbridge: %w", err)
	}
	b := &wsServer{opts: opts, broker: broker, served: make(chan struct{})}
	b.addr = ln.Addr().(*net.TCPAddr).AddrPort()
	b.ln = &countingListener{Listener: ln}
	if opts.TLS {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("wsbridge: loading the server certificate: %w", err)
		}
		b.ln = tls.NewListener(b.ln, &tls.Config{Certificates: []tls.Certificate{cert}, KeyLogWriter: opts.KeyLogWriter, NextProtos: []string{"http/1.1"}})
	}
	b.srv = &http.Server{
		Handler:           http.HandlerFunc(b.serveHTTP),
		ErrorLog:          log.New(logWriter{b}, "", 0),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if cc, ok := c.(*countingConn); ok {
				return context.WithValue(ctx, connKey{}, cc)
			}
			return ctx
		},
	}
	go func() {
		defer close(b.served)
		if err := b.srv.Serve(b.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.logf("serving: %v", err)
		}
	}()
	return b, nil
}

// stats describes every connection of the run so far, in order.
func (b *wsServer) stats() []WSConnStats {
	b.mu.Lock()
	rs := append([]*relay(nil), b.conns...)
	b.mu.Unlock()
	out := make([]WSConnStats, len(rs))
	for i, r := range rs {
		out[i] = r.snapshot()
	}
	return out
}

// close stops listening, ends every connection abruptly (both TCP
// connections closed, no WebSocket Close frame: as if the bridge had
// crashed) and waits for the relays to finish.
func (b *wsServer) close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	rs := append([]*relay(nil), b.conns...)
	b.mu.Unlock()
	err := b.srv.Close()
	for _, r := range rs {
		r.abort()
	}
	b.live.Wait()
	<-b.served
	return err
}

// logf writes one line to the log.
func (b *wsServer) logf(format string, args ...any) {
	if b.opts.Log == nil {
		return
	}
	b.logMu.Lock()
	defer b.logMu.Unlock()
	b.opts.Log(format, args...)
}

// serveHTTP accepts the upgrade on the bridge's path, dials the broker and
// relays.
func (b *wsServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != b.opts.Path {
		b.logf("%s: %s %s: 404 (the endpoint is %s)", r.RemoteAddr, r.Method, r.URL.Path, b.opts.Path)
		http.NotFound(w, r)
		return
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	broker, err := d.DialContext(ctx, "tcp", b.broker)
	cancel()
	if err != nil {
		b.logf("%s: cannot reach the broker: %v", r.RemoteAddr, err)
		http.Error(w, "the MQTT broker behind this bridge is unreachable", http.StatusBadGateway)
		return
	}
	ao := &websocket.AcceptOptions{
		Subprotocols:       b.opts.Subprotocols,
		InsecureSkipVerify: true, // any Origin
		CompressionMode:    b.opts.Compression.mode(),
	}
	if b.opts.NoSubprotocol || b.opts.ForceSubprotocol != "" {
		ao.Subprotocols = nil
	}
	if b.opts.ForceSubprotocol != "" {
		w.Header().Set("Sec-WebSocket-Protocol", b.opts.ForceSubprotocol)
	}
	c, err := websocket.Accept(w, r, ao)
	if err != nil {
		broker.Close()
		b.logf("%s: upgrade refused: %v", r.RemoteAddr, err)
		return
	}
	c.SetReadLimit(int64(b.opts.MaxPacket))
	rl := b.newRelay(r, w.Header(), c, broker)
	if rl == nil {
		return
	}
	defer b.live.Done()
	rl.run()
}

// newRelay registers a connection; nil (and everything closed) when the
// bridge is closing.
func (b *wsServer) newRelay(r *http.Request, h http.Header, c *websocket.Conn, broker net.Conn) *relay {
	rl := &relay{b: b, ws: c, broker: broker, done: make(chan struct{})}
	rl.stats.Client, _ = netip.ParseAddrPort(r.RemoteAddr)
	rl.stats.Client = netip.AddrPortFrom(rl.stats.Client.Addr().Unmap(), rl.stats.Client.Port())
	rl.stats.Path = r.URL.Path
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				rl.stats.Offered = append(rl.stats.Offered, p)
			}
		}
	}
	rl.stats.OfferedExtensions = strings.Join(r.Header.Values("Sec-WebSocket-Extensions"), ", ")
	rl.stats.Subprotocol = c.Subprotocol()
	rl.stats.Extensions = h.Get("Sec-WebSocket-Extensions")
	rl.tcp, _ = r.Context().Value(connKey{}).(*countingConn)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		c.CloseNow()
		broker.Close()
		return nil
	}
	b.conns = append(b.conns, rl)
	rl.stats.N = len(b.conns)
	b.live.Add(1)
	b.mu.Unlock()
	b.logf("connection %d from %s: %s, subprotocol %q (offered %q), extensions %q",
		rl.stats.N, rl.stats.Client, rl.stats.Path, rl.stats.Subprotocol, strings.Join(rl.stats.Offered, ", "), rl.stats.Extensions)
	return rl
}

// logWriter passes net/http's messages (failed TLS handshakes) to the
// bridge's log.
type logWriter struct{ b *wsServer }

// Write logs p as one line.
func (w logWriter) Write(p []byte) (int, error) {
	w.b.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// connKey is the request context key of the connection's countingConn.
type connKey struct{}

// countingListener hands out countingConns.
type countingListener struct{ net.Listener }

// Accept implements net.Listener.
func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c}, nil
}

// countingConn counts the writes to a TCP connection: a relay waits for
// the write of a Ping frame before it writes the next fragment.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

// Write implements net.Conn.
func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.writes.Add(1)
	return n, err
}
