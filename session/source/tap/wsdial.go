// MQTT over WebSocket: DialWebSocket connects mqtap's MQTT clients (the
// broker tap and the lab peer) to a broker over WebSocket.
//
// It takes ws:// and wss:// URLs, sends the HTTP upgrade offering the
// subprotocol "mqtt" (MQTT 3.1.1 and 5.0, section 6) and returns a
// net.Conn that carries the MQTT bytes: each Write is one binary message,
// and Read returns the payloads of the messages received, in order,
// whatever their framing (github.com/coder/websocket). A failed upgrade is
// a one-line error that says what the server answered instead.

package tap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// WSSubprotocol is the WebSocket subprotocol of MQTT 3.1.1 and 5.0.
const WSSubprotocol = "mqtt"

// IsWebSocketScheme reports whether scheme (any case) is ws or wss.
func IsWebSocketScheme(scheme string) bool {
	s := strings.ToLower(scheme)
	return s == "ws" || s == "wss"
}

// ParseWebSocketURL checks a ws:// or wss:// URL and returns it with its scheme in
// lower case, an explicit port (80 for ws, 443 for wss when absent) and a
// path ("/" when absent). Credentials and fragments are refused.
func ParseWebSocketURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("WebSocket URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	port := "80"
	switch scheme {
	case "ws":
	case "wss":
		port = "443"
	default:
		return nil, fmt.Errorf("WebSocket URL %q: scheme %q, want ws:// or wss://", raw, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("WebSocket URL %q has no host", raw)
	}
	if !validHost(host) {
		return nil, fmt.Errorf("WebSocket URL %q: bad host %q (an IPv6 address goes in brackets, e.g. ws://[::1]:8080/mqtt)", raw, host)
	}
	if u.User != nil {
		return nil, fmt.Errorf("WebSocket URL %q: credentials in the URL are not supported", u.Redacted())
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("WebSocket URL %q: a fragment (#…) has no meaning here", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("WebSocket URL %q: bad port %q", raw, p)
		}
		port = strconv.Itoa(n)
	}
	out := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if out.Path == "" {
		out.Path = "/"
	}
	if _, err := url.Parse(out.String()); err != nil {
		return nil, fmt.Errorf("WebSocket URL %q: bad host %q", raw, host)
	}
	return out, nil
}

// validHost reports whether a URL's host (url.URL.Hostname, brackets
// removed) names a host: no brackets left, and colons only in an IPv6
// address.
func validHost(host string) bool {
	if strings.ContainsAny(host, "[]") {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err == nil || !strings.Contains(host, ":")
}

// DialOptions adjust DialWebSocket.
type DialOptions struct {
	// TLSConfig is the TLS configuration of wss:// (its ServerName is the
	// URL's host when empty); nil means crypto/tls's defaults.
	TLSConfig *tls.Config
	// DialTLS, when set, makes the TLS connection of wss:// to addr
	// (host:port) instead, handshake included: the lab peer's, with its
	// key log and its own error messages.
	DialTLS func(ctx context.Context, addr string) (net.Conn, error)
	// Subprotocols are offered in this order; nil means {"mqtt"}.
	Subprotocols []string
}

// WSConn is an MQTT-over-WebSocket connection.
type WSConn struct {
	// Conn carries the MQTT bytes: each Write is one binary message.
	net.Conn
	// Local and Remote are the TCP connection's ends.
	Local, Remote netip.AddrPort
	// Subprotocol is the one the server chose ("" none: MQTT-6.0.0-4
	// wants "mqtt", but some servers choose nothing).
	Subprotocol string
	// Extensions is the server's Sec-WebSocket-Extensions.
	Extensions string
	// TLS is the state of the TLS connection of wss:// (nil for ws://).
	TLS *tls.ConnectionState
}

// LocalAddr implements net.Conn: the TCP connection's local end.
func (c *WSConn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.Local) }

// RemoteAddr implements net.Conn: the server's end.
func (c *WSConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.Remote) }

// msgConn carries MQTT bytes in the binary messages of a WebSocket: each
// Write is one message, Read returns the payloads of the messages received,
// in order. Unlike coder's NetConn it reads and writes without a context
// of its own, which costs allocations on every frame; deadlines are the
// transport connection's (after one expires the connection is unusable).
type msgConn struct {
	ws  *websocket.Conn
	raw net.Conn // the TCP or TLS connection, for deadlines and addresses

	rmu sync.Mutex // serialises Read
	r   io.Reader  // the message being read
}

// errText is the error of a Text message: MQTT travels in Binary ones.
var errText = errors.New("the server sent a Text message: MQTT travels in Binary messages (MQTT-6.0.0-1)")

// Read implements net.Conn; a Close frame with status 1000 or 1001 is
// io.EOF.
func (m *msgConn) Read(p []byte) (int, error) {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if m.r == nil {
			typ, r, err := m.ws.Reader(context.Background())
			if err != nil {
				if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.MessageBinary {
				m.ws.Close(websocket.StatusUnsupportedData, "MQTT travels in Binary messages (MQTT-6.0.0-1)")
				return 0, errText
			}
			m.r = r
		}
		n, err := m.r.Read(p)
		if errors.Is(err, io.EOF) {
			m.r, err = nil, nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write implements net.Conn: p is one binary message.
func (m *msgConn) Write(p []byte) (int, error) {
	if err := m.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the connection as RFC 6455 wants: a Close frame (1000), the
// server's Close frame (at most 5 s), then the TCP connection, even while
// another goroutine is reading.
func (m *msgConn) Close() error {
	err := m.ws.Close(websocket.StatusNormalClosure, "")
	if errors.Is(err, net.ErrClosed) || websocket.CloseStatus(err) != -1 {
		return nil
	}
	return err
}

// LocalAddr implements net.Conn.
func (m *msgConn) LocalAddr() net.Addr { return m.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (m *msgConn) RemoteAddr() net.Addr { return m.raw.RemoteAddr() }

// SetDeadline implements net.Conn on the transport connection.
func (m *msgConn) SetDeadline(t time.Time) error { return m.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn on the transport connection.
func (m *msgConn) SetReadDeadline(t time.Time) error { return m.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn on the transport connection.
func (m *msgConn) SetWriteDeadline(t time.Time) error { return m.raw.SetWriteDeadline(t) }

// DialWebSocket connects to u (from ParseWebSocketURL) and completes the upgrade; ctx
// bounds the connection and the handshake, not the returned Conn.
func DialWebSocket(ctx context.Context, u *url.URL, o DialOptions) (*WSConn, error) {
	if !IsWebSocketScheme(u.Scheme) {
		return nil, fmt.Errorf("WebSocket URL %s: scheme %q, want ws:// or wss://", u, u.Scheme)
	}
	var (
		mu  sync.Mutex
		raw net.Conn // the transport's connection (TLS for wss)
	)
	keep := func(c net.Conn, err error) (net.Conn, error) {
		if err == nil {
			mu.Lock()
			raw = c
			mu.Unlock()
		}
		return c, err
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return keep(d.DialContext(ctx, network, addr))
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if o.DialTLS != nil {
				return keep(o.DialTLS(ctx, addr))
			}
			cfg := o.TLSConfig.Clone()
			if cfg == nil {
				cfg = &tls.Config{}
			}
			if cfg.ServerName == "" {
				cfg.ServerName = u.Hostname()
			}
			d := tls.Dialer{Config: cfg}
			return keep(d.DialContext(ctx, network, addr))
		},
		DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	protos := o.Subprotocols
	if protos == nil {
		protos = []string{WSSubprotocol}
	}
	c, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: refuseOthers{tr, protos}},
		Subprotocols: protos,
	})
	if err != nil {
		return nil, upgradeError(u, protos, resp, err)
	}
	mu.Lock()
	nc := raw
	mu.Unlock()
	if nc == nil {
		c.CloseNow()
		return nil, errors.New("WebSocket upgrade: the connection went missing")
	}
	c.SetReadLimit(-1) // MQTT packets up to 256 MiB; the reader reads them in pieces
	out := &WSConn{
		Conn:        &msgConn{ws: c, raw: nc},
		Local:       addrPort(nc.LocalAddr()),
		Remote:      addrPort(nc.RemoteAddr()),
		Subprotocol: c.Subprotocol(),
		Extensions:  resp.Header.Get("Sec-WebSocket-Extensions"),
	}
	if tc, ok := nc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		cs := tc.ConnectionState()
		out.TLS = &cs
	}
	return out, nil
}

// refuseOthers closes the connection of an upgrade whose subprotocol was
// not offered, before coder/websocket sees it: it would otherwise wait 3 s
// for the server to send something it could quote.
type refuseOthers struct {
	rt      http.RoundTripper
	offered []string
}

func (r refuseOthers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		return resp, err
	}
	if chosen := resp.Header.Get("Sec-WebSocket-Protocol"); chosen != "" {
		for _, o := range r.offered {
			if strings.EqualFold(o, chosen) {
				return resp, nil
			}
		}
		resp.Body.Close()
	}
	return resp, nil
}

// StatusError is an upgrade the server answered with another HTTP status
// than 101 Switching Protocols.
type StatusError struct {
	URL    string
	Path   string // the URL's path
	Status string // "404 Not Found"
	Code   int
	Body   string // the first line of the body, if any
}

func (e *StatusError) Error() string {
	what := "the server answered instead of switching to WebSocket"
	switch {
	case e.Code == http.StatusNotFound:
		what = "no WebSocket endpoint at " + e.Path
	case e.Code >= 200 && e.Code < 300:
		what = "not a WebSocket endpoint"
	case e.Code == http.StatusUpgradeRequired || e.Code == http.StatusBadRequest:
		what = "the server refused the WebSocket upgrade"
	case e.Code >= 300 && e.Code < 400:
		what = "the server redirects elsewhere"
	}
	s := fmt.Sprintf("HTTP %s: %s", e.Status, what)
	if e.Body != "" {
		s += fmt.Sprintf(" (%q)", e.Body)
	}
	return s
}

// SubprotocolError is an upgrade whose chosen subprotocol was not offered.
type SubprotocolError struct {
	URL     string
	Chosen  string
	Offered []string
	err     error
}

func (e *SubprotocolError) Error() string {
	return fmt.Sprintf("the server chose the WebSocket subprotocol %q, not %s: it does not carry MQTT",
		e.Chosen, strings.Join(e.Offered, " or "))
}

func (e *SubprotocolError) Unwrap() error { return e.err }

// upgradeError says in one line why the upgrade failed (the caller names
// the URL).
func upgradeError(u *url.URL, offered []string, resp *http.Response, err error) error {
	where := u.String()
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		body := ""
		if resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
			body = strings.TrimSpace(string(line))
		}
		return &StatusError{URL: where, Path: u.Path, Status: resp.Status, Code: resp.StatusCode, Body: body}
	}
	if resp != nil {
		if chosen := resp.Header.Get("Sec-WebSocket-Protocol"); chosen != "" && strings.Contains(err.Error(), "Sec-WebSocket-Protocol") {
			return &SubprotocolError{URL: where, Chosen: chosen, Offered: offered, err: err}
		}
		return fmt.Errorf("WebSocket upgrade: %w", unwrapDial(err))
	}
	err = unwrapDial(err)
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return errors.New("the server closed the connection without an HTTP answer (not a WebSocket endpoint: an MQTT listener? then use mqtt:// or mqtts://)")
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return errors.New("the server answers in plain HTTP, not TLS (a ws:// endpoint? then use ws://)")
	case strings.Contains(err.Error(), "malformed HTTP"):
		return fmt.Errorf("the server does not answer in HTTP (an MQTT listener? then use mqtt:// or mqtts://): %w", err)
	}
	return err
}

// unwrapDial drops coder's and net/http's wrapping ("failed to WebSocket
// dial: failed to send handshake request: Get "…": ") down to the
// transport's own error (dial, TLS handshake).
func unwrapDial(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
