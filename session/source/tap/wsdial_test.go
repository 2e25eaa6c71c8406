package tap_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mqtap/mqtap/session/brokertest"
	"github.com/mqtap/mqtap/session/source/tap"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"ws://broker:8080/mqtt", "ws://broker:8080/mqtt", ""},
		{"WS://Broker/mqtt", "ws://Broker:80/mqtt", ""},
		{"wss://broker", "wss://broker:443/", ""},
		{"wss://[::1]:8084/mqtt?x=1", "wss://[::1]:8084/mqtt?x=1", ""},
		{"mqtt://broker:1883", "", "want ws:// or wss://"},
		{"ws://:8080/mqtt", "", "no host"},
		{"ws://u:p@broker/mqtt", "", "credentials"},
		{"ws://broker:0/mqtt", "", "bad port"},
		{"ws://broker:70000/mqtt", "", "bad port"},
		{"ws://broker/mqtt#x", "", "fragment"},
		{"ws://bro ker/", "", "WebSocket URL"},
		{"ws://::", "", "bad host"}, // found by FuzzParseWebSocketURL: "ws://[:]:80/" does not parse
	} {
		u, err := tap.ParseWebSocketURL(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: %v, want an error with %q", c.in, err, c.err)
		case c.err == "" && (err != nil || u.String() != c.want):
			t.Errorf("%q: %v %v, want %s", c.in, u, err, c.want)
		}
	}
}

// FuzzParseWebSocketURL checks that ParseURL never panics and that what it accepts
// it accepts again unchanged.
func FuzzParseWebSocketURL(f *testing.F) {
	for _, s := range []string{"ws://broker:8080/mqtt", "wss://[::1]/", "ws://h/p?q#f", "WSS://x:443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := tap.ParseWebSocketURL(s)
		if err != nil {
			return
		}
		again, err := tap.ParseWebSocketURL(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("%q -> %q -> %v, %v", s, u, again, err)
		}
		if h, _, err := net.SplitHostPort(u.Host); err != nil || h == "" {
			t.Fatalf("%q: host %q does not split: %v", s, u.Host, err)
		}
	})
}

// dial dials raw with a 10 s bound.
func dial(t *testing.T, raw string, o tap.DialOptions) (*tap.WSConn, error) {
	t.Helper()
	u, err := tap.ParseWebSocketURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return tap.DialWebSocket(ctx, u, o)
}

// connack sends an MQTT 3.1.1 CONNECT on c and reads the CONNACK.
func connack(t *testing.T, c net.Conn) []byte {
	t.Helper()
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 5, 'd', 'i', 'a', 'l', 'r'}
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 4)
	n := 0
	for n < 4 {
		k, err := c.Read(b[n:])
		if err != nil {
			t.Fatalf("reading the CONNACK: %v", err)
		}
		n += k
	}
	return b
}

func TestDial(t *testing.T) {
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	c, err := dial(t, w.URL, tap.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol != "mqtt" || c.Remote != w.Addr() || c.Local.Addr() != netip.MustParseAddr("127.0.0.1") || c.Local.Port() == 0 || c.TLS != nil {
		t.Errorf("conn %+v", c)
	}
	if c.RemoteAddr().String() != w.Addr().String() {
		t.Errorf("RemoteAddr %v", c.RemoteAddr())
	}
	if got := connack(t, c); string(got) != "\x20\x02\x00\x00" {
		t.Errorf("CONNACK % x", got)
	}
	st := w.Conns()[0]
	if strings.Join(st.Offered, ",") != "mqtt" || st.Client != c.Local {
		t.Errorf("the bridge saw %+v", st)
	}
}

func TestDialTLS(t *testing.T) {
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: true})
	pem, _ := os.ReadFile(w.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := dial(t, w.URL, tap.DialOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.TLS == nil || c.TLS.Version != tls.VersionTLS13 || c.Remote != w.Addr() {
		t.Errorf("conn %+v", c)
	}
	if got := connack(t, c); string(got) != "\x20\x02\x00\x00" {
		t.Errorf("CONNACK % x", got)
	}
	called := false
	c2, err := dial(t, w.URL, tap.DialOptions{DialTLS: func(ctx context.Context, addr string) (net.Conn, error) {
		called = true
		d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
		return d.DialContext(ctx, "tcp", addr)
	}})
	if err != nil || !called {
		t.Fatalf("DialTLS: called %v, %v", called, err)
	}
	c2.Close()
}

// TestDialErrors checks that each failed upgrade is one line saying what
// the server did.
func TestDialErrors(t *testing.T) {
	b := brokertest.StartBroker(t)
	plain := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	secure := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: true})
	chat := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{ForceSubprotocol: "chat"})
	none := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{NoSubprotocol: true})
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from a web page") })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	free := brokertest.FreePort(t)
	for _, c := range []struct{ url, want string }{
		{fmt.Sprintf("ws://127.0.0.1:%d/mqtt", free), "connection refused"},
		{fmt.Sprintf("ws://127.0.0.1:%d/wrong", plain.Port), "HTTP 404 Not Found: no WebSocket endpoint at /wrong"},
		{fmt.Sprintf("ws://%s/mqtt", ln.Addr()), `HTTP 200 OK: not a WebSocket endpoint ("hello from a web page")`},
		{fmt.Sprintf("ws://%s/mqtt", b.Addr()), "without an HTTP answer (not a WebSocket endpoint: an MQTT listener?"},
		{chat.URL, `the server chose the WebSocket subprotocol "chat", not mqtt`},
		{strings.Replace(secure.URL, "wss:", "ws:", 1), "HTTP 400 Bad Request"},
		{secure.URL, "certificate signed by unknown authority"},
		{strings.Replace(plain.URL, "ws:", "wss:", 1), "the server answers in plain HTTP, not TLS (a ws:// endpoint? then use ws://)"},
	} {
		conn, err := dial(t, c.url, tap.DialOptions{})
		if err == nil {
			conn.Close()
			t.Errorf("%s: connected", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q, want one line with %q", c.url, err, c.want)
		}
	}
	var se *tap.SubprotocolError
	if _, err := dial(t, chat.URL, tap.DialOptions{}); !errors.As(err, &se) || se.Chosen != "chat" {
		t.Errorf("subprotocol refused: %#v", err)
	}
	c, err := dial(t, none.URL, tap.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol != "" {
		t.Errorf("subprotocol %q, want none", c.Subprotocol)
	}
	if got := connack(t, c); string(got) != "\x20\x02\x00\x00" {
		t.Errorf("CONNACK % x without a subprotocol", got)
	}
	c.Close()
}

// TestCloseWhileReading checks that Close sends a Close frame even while
// another goroutine is blocked reading (as paho's reader is).
func TestCloseWhileReading(t *testing.T) {
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	c, err := dial(t, w.URL, tap.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	connack(t, c)
	c.SetReadDeadline(time.Time{})
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		read <- err
	}()
	time.Sleep(50 * time.Millisecond) // the reader is blocked
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-read; err == nil {
		t.Error("the blocked read returned no error")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.Log.String(), "closed (the client closed the WebSocket: StatusNormalClosure)") {
		if time.Now().After(deadline) {
			t.Fatalf("the bridge did not see a Close frame:\n%s", w.Log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTextMessage checks that a Text message from the server is an error
// that says why, and that the server gets Close 1003.
func TestTextMessage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	status := make(chan websocket.StatusCode, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Write(r.Context(), websocket.MessageText, []byte("hello"))
		_, _, err = c.Read(context.Background())
		status <- websocket.CloseStatus(err)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := dial(t, "ws://"+ln.Addr().String()+"/mqtt", tap.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "Text message") {
		t.Errorf("reading a Text message: %v", err)
	}
	select {
	case s := <-status:
		if s != websocket.StatusUnsupportedData {
			t.Errorf("the server got %v, want 1003", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server got no Close frame")
	}
}
