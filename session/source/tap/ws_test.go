package tap

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// TestWebSocket taps a mosquitto through the WebSocket bridge, which cuts
// the CONNACK and every PUBLISH into fragments with a Ping between them and
// joins what mosquitto sends together: the chunks hold the broker's MQTT
// bytes whatever the framing, from the bridge's address.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Framing: brokertest.Framing{
		SplitTypes: []byte{2, 3}, Cuts: []int{1, 1, 3}, Ping: true, Join: true,
	}})
	r := startRun(t, Config{URL: w.URL, Topics: []string{"ws/#"}, QoS: 1})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	for i := 1; i <= 3; i++ {
		pub(t, b.Port, "ws/x", fmt.Sprintf("over WebSocket %d", i))
	}
	pub(t, b.Port, "other", "not for us")
	waitFor(t, "3 PUBLISH", 10*time.Second, func() bool { return r.col.count(1, typePUBLISH) >= 3 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	pkts, rest := r.col.packets(1)
	if len(rest) != 0 {
		t.Errorf("%d bytes of an incomplete packet at the end", len(rest))
	}
	var types []byte
	for _, p := range withoutPings(pkts) {
		types = append(types, p.typ)
	}
	if want := []byte{typeCONNACK, typeSUBACK, typePUBLISH, typePUBLISH, typePUBLISH}; !bytes.Equal(types, want) {
		t.Fatalf("packet types %v, want %v (without PINGRESP)", types, want)
	}
	got := strings.Join(r.col.publishes(t, 1), "|")
	if want := "ws/x=over WebSocket 1|ws/x=over WebSocket 2|ws/x=over WebSocket 3"; got != want {
		t.Errorf("PUBLISH %q, want %q", got, want)
	}
	for i, ch := range r.col.snapshot() {
		if ch.Broker != w.Addr() || ch.Local.Port() == 0 {
			t.Errorf("chunk %d: broker %v, local %v; want the bridge %v", i, ch.Broker, ch.Local, w.Addr())
		}
	}
	st := w.Conns()[0]
	if st.Subprotocol != "mqtt" || st.Pings < 4 || st.Received[typePUBLISH] != 3 || !strings.HasPrefix(st.ClientID, "mqtap-") {
		t.Errorf("the bridge saw %+v", st)
	}
	if !strings.Contains(r.log.String(), "connected to "+w.URL) {
		t.Errorf("log: %s", r.log.String())
	}
}

// TestWebSocketTLS taps through a wss:// bridge: with the test CA, with
// --insecure, and without either (a one-line error).
func TestWebSocketTLS(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: true})
	for _, cfg := range []Config{{URL: w.URL, CAFile: w.CAFile}, {URL: w.URL, Insecure: true}} {
		cfg.Topics = []string{"secure/#"}
		r := startRun(t, cfg)
		waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
		pub(t, b.Port, "secure/x", "through wss")
		waitFor(t, "PUBLISH", 10*time.Second, func() bool { return r.col.count(1, typePUBLISH) == 1 })
		if err := r.stop(); err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		if got := r.col.publishes(t, 1); len(got) != 1 || got[0] != "secure/x=through wss" {
			t.Errorf("%+v: %q", cfg, got)
		}
	}
	r := startRun(t, Config{URL: w.URL})
	err := r.wait(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "connecting to "+w.URL+": ") || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("without the CA: %v", err)
	}
}

// TestWebSocketReconnect stops the bridge under the tap and starts it
// again: the tap says so and receives on its second connection.
func TestWebSocketReconnect(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	r := startRun(t, Config{URL: w.URL, Topics: []string{"r/#"}, MaxBackoff: time.Second})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	w.Stop()
	waitFor(t, "the end of connection 1", 10*time.Second, func() bool { return r.col.closed(1) })
	time.Sleep(300 * time.Millisecond) // a failed attempt or two
	w.Restart(t)
	waitFor(t, "SUBACK on connection 2", 15*time.Second, func() bool { return r.col.count(2, typeSUBACK) == 1 })
	pub(t, b.Port, "r/x", "after the restart")
	waitFor(t, "PUBLISH", 10*time.Second, func() bool { return r.col.count(2, typePUBLISH) == 1 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	log := r.log.String()
	for _, want := range []string{"lost the connection to " + w.URL + ": ", "reconnected to " + w.URL + " (connection 2)"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the log:\n%s", want, log)
		}
	}
}

// TestWebSocketErrors checks that a tap that cannot reach an MQTT
// WebSocket endpoint ends with one line saying why, and that a server
// choosing no subprotocol is a warning.
func TestWebSocketErrors(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	plain := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	chat := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{ForceSubprotocol: "chat"})
	free := brokertest.FreePort(t)
	for _, c := range []struct{ url, want string }{
		{fmt.Sprintf("ws://127.0.0.1:%d/mqtt", free), "connect: connection refused"},
		{fmt.Sprintf("ws://%s/wrong", plain.Addr()), "HTTP 404 Not Found: no WebSocket endpoint at /wrong"},
		{chat.URL, `the server chose the WebSocket subprotocol "chat", not mqtt`},
		{fmt.Sprintf("ws://%s/mqtt", b.Addr()), "without an HTTP answer"},
		{fmt.Sprintf("mqtt://%s/mqtt", plain.Addr()), "a path needs ws:// or wss://"},
		{fmt.Sprintf("ws://%s/mqtt#x", plain.Addr()), "fragment"},
	} {
		r := startRun(t, Config{URL: c.url})
		err := r.wait(10 * time.Second)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line with %q", c.url, err, c.want)
		}
		if r.log.String() != "" {
			t.Errorf("%s: logged %q before failing", c.url, r.log.String())
		}
	}
	none := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{NoSubprotocol: true})
	r := startRun(t, Config{URL: none.URL})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if want := "warning: " + none.URL + " chose no WebSocket subprotocol"; !strings.Contains(r.log.String(), want) {
		t.Errorf("no %q in the log:\n%s", want, r.log.String())
	}
}

func TestParseWebSocketURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://h":                   "ws://h:80/",
		"WSS://h/mqtt":             "wss://h:443/mqtt",
		"ws://127.0.0.1:8080/mqtt": "ws://127.0.0.1:8080/mqtt",
		"wss://[::1]:8084/mqtt":    "wss://[::1]:8084/mqtt",
	} {
		u, tls, ws, err := parseURL(in)
		if err != nil || u.String() != want || !ws || tls != strings.HasPrefix(want, "wss") {
			t.Errorf("parseURL(%q) = %v, %v, %v, %v; want %s", in, u, tls, ws, err, want)
		}
	}
}

// FuzzParseURL checks that parseURL never panics, that what it accepts it
// accepts again unchanged, and that only ws:// and wss:// keep a path.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"mqtt://h:1883", "mqtts://[::1]", "ws://h:8080/mqtt", "wss://h/mqtt?x=1", "tcp://h/", "ws://h/%2Fa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, _, ws, err := parseURL(s)
		if err != nil {
			return
		}
		again, _, ws2, err := parseURL(u.String())
		if err != nil || again.String() != u.String() || ws2 != ws {
			t.Fatalf("%q -> %q -> %v, %v", s, u, again, err)
		}
		if h, _, err := net.SplitHostPort(u.Host); err != nil || h == "" {
			t.Fatalf("%q: host %q does not split: %v", s, u.Host, err)
		}
		if !ws && u.Path != "" {
			t.Fatalf("%q: path %q without WebSocket", s, u.Path)
		}
	})
}
