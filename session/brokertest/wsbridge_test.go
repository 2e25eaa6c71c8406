package brokertest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mqtap/mqtap/session/brokertest"
)

// pub publishes one message to the broker's plain listener with
// mosquitto_pub.
func pub(t testing.TB, b *brokertest.Broker, topic, msg string, extra ...string) {
	t.Helper()
	args := append([]string{"-h", b.Host, "-p", strconv.Itoa(b.Port), "-t", topic, "-m", msg}, extra...)
	if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// addr is the bridge's host:port.
func addr(w *brokertest.WSBridge) string { return w.Addr().String() }

// TestSplitAndPing checks the framing of split packets on the wire: the
// CONNACK and a PUBLISH cut after their first byte and two more, a Ping
// between the first two fragments, the SUBACK whole, and the bytes of each
// packet exactly the broker's.
func TestSplitAndPing(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Framing: brokertest.Framing{
		SplitTypes: []byte{2, 3}, Cuts: []int{1, 2}, Ping: true,
	}})
	rc := dialRaw(t, addr(w), "/mqtt", "Sec-WebSocket-Protocol: mqtt")
	if rc.resp.StatusCode != http.StatusSwitchingProtocols || rc.header("Sec-WebSocket-Protocol") != "mqtt" {
		t.Fatalf("upgrade answer %d, subprotocol %q", rc.resp.StatusCode, rc.header("Sec-WebSocket-Protocol"))
	}
	rc.send(2, true, connectPacket("raw-split"))
	frames, data := rc.message()
	if !bytes.Equal(data, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK % x, want 20 02 00 00", data)
	}
	want := []frame{
		{opcode: 2, payload: []byte{0x20}},
		{opcode: 9, fin: true, payload: []byte("1")},
		{opcode: 0, payload: []byte{2, 0}},
		{opcode: 0, payload: []byte{0}},
		{opcode: 0, fin: true, payload: []byte{}},
	}
	if len(frames) != len(want) {
		t.Fatalf("CONNACK frames %v, want %v", frames, want)
	}
	for i, f := range frames {
		w := want[i]
		if f.opcode != w.opcode || f.fin != w.fin || f.masked || f.rsv != 0 || !bytes.Equal(f.payload, w.payload) {
			t.Errorf("CONNACK frame %d: %v, want %v", i, f, w)
		}
	}
	rc.send(2, true, subscribePacket(1, "t/#", 1))
	frames, data = rc.message()
	if len(frames) != 1 || !bytes.Equal(data, []byte{0x90, 3, 0, 1, 1}) {
		t.Fatalf("SUBACK frames %v, want one frame 90 03 00 01 01", frames)
	}
	pub(t, b, "t/x", "hello", "-q", "1")
	frames, data = rc.message()
	wantPub := []byte{0x32, 12, 0, 3, 't', '/', 'x', 0, 1, 'h', 'e', 'l', 'l', 'o'}
	if !bytes.Equal(data, wantPub) {
		t.Fatalf("PUBLISH % x, want % x", data, wantPub)
	}
	if len(frames) != 5 || frames[1].opcode != 9 || len(frames[2].payload) != 2 || len(frames[3].payload) != 11 {
		t.Fatalf("PUBLISH frames %v: want 1 byte, Ping, 2 bytes, 11 bytes, empty FIN", frames)
	}
	rc.send(2, true, []byte{0x40, 2, 0, 1}) // PUBACK
	rc.send(2, true, []byte{0xE0, 0})       // DISCONNECT
	if code := rc.closed(); code != 1000 {
		t.Errorf("closed with %d after DISCONNECT, want 1000", code)
	}
	waitClosed(t, w, 1)
	st := w.Conns()[0]
	if st.ClientID != "raw-split" || st.Sent.String() != "CONNECT 1, PUBACK 1, SUBSCRIBE 1, DISCONNECT 1" ||
		st.Received.String() != "CONNACK 1, PUBLISH 1, SUBACK 1" || st.Pings != 2 || st.Frames != 9 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(w.Log.String(), `client "raw-split" sent CONNECT 1, PUBACK 1, SUBSCRIBE 1, DISCONNECT 1; received CONNACK 1, PUBLISH 1, SUBACK 1`) {
		t.Errorf("log:\n%s", w.Log.String())
	}
}

// waitClosed waits until the bridge's connection n (1-based) has ended.
func waitClosed(t testing.TB, w *brokertest.WSBridge, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs := w.Conns()
		if len(cs) >= n && cs[n-1].Closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %d still open after 10s; log:\n%s", n, w.Log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJoin checks that packets the broker sends together share a frame:
// ten PINGRESPs answering ten PINGREQs sent in one message, and a SUBACK
// with the retained messages that follow it.
func TestJoin(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	pub(t, b, "r/1", "one", "-r", "-q", "1")
	pub(t, b, "r/2", "two", "-r", "-q", "1")
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Framing: brokertest.Framing{Join: true}})
	rc := dialRaw(t, addr(w), "/mqtt", "Sec-WebSocket-Protocol: mqtt")
	rc.send(2, true, connectPacket("raw-join"))
	if _, data := rc.message(); !bytes.Equal(data, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK % x", data)
	}
	rc.send(2, true, bytes.Repeat([]byte{0xC0, 0}, 10))
	frames, data := rc.message()
	if len(frames) != 1 || !bytes.Equal(data, bytes.Repeat([]byte{0xD0, 0}, 10)) {
		t.Fatalf("ten PINGRESPs: frames %v", frames)
	}
	rc.send(2, true, subscribePacket(7, "r/#", 0))
	frames, data = rc.message()
	pkts := splitAll(t, data)
	if len(frames) != 1 || len(pkts) != 3 || pkts[0][0] != 0x90 || pkts[1][0]>>4 != 3 || pkts[2][0]>>4 != 3 {
		t.Fatalf("SUBACK and two retained PUBLISH in one frame: frames %v", frames)
	}
}

// splitAll splits data into whole MQTT packets.
func splitAll(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(data) > 0 {
		n, _, err := brokertest.PacketLen(data)
		if err != nil || n > len(data) {
			t.Fatalf("not whole MQTT packets: % x (%v)", data, err)
		}
		out, data = append(out, data[:n]), data[n:]
	}
	return out
}

// TestUpgradeAnswers checks the HTTP side: another path is 404, a plain
// GET 426, a broker that is down 502, and the subprotocol choices.
func TestUpgradeAnswers(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	if rc := dialRaw(t, addr(w), "/other", "Sec-WebSocket-Protocol: mqtt"); rc.resp.StatusCode != http.StatusNotFound {
		t.Errorf("/other: %d, want 404", rc.resp.StatusCode)
	}
	resp, err := http.Get("http://" + addr(w) + "/mqtt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: %d, want 426", resp.StatusCode)
	}
	for _, c := range []struct {
		opts         brokertest.WSBridgeOptions
		offer, chose string
	}{
		{brokertest.WSBridgeOptions{}, "mqtt", "mqtt"},
		{brokertest.WSBridgeOptions{}, "mqttv3.1", "mqttv3.1"},
		{brokertest.WSBridgeOptions{}, "chat, mqtt", "mqtt"},
		{brokertest.WSBridgeOptions{}, "chat", ""},
		{brokertest.WSBridgeOptions{Subprotocols: []string{"chat"}}, "mqtt, chat", "chat"},
		{brokertest.WSBridgeOptions{NoSubprotocol: true}, "mqtt", ""},
		{brokertest.WSBridgeOptions{ForceSubprotocol: "chat"}, "mqtt", "chat"},
	} {
		w := brokertest.StartWSBridge(t, b, c.opts)
		rc := dialRaw(t, addr(w), "/mqtt", "Sec-WebSocket-Protocol: "+c.offer)
		if rc.resp.StatusCode != 101 || rc.header("Sec-WebSocket-Protocol") != c.chose {
			t.Errorf("%+v offered %q: %d, chose %q; want 101 and %q", c.opts, c.offer, rc.resp.StatusCode, rc.header("Sec-WebSocket-Protocol"), c.chose)
		}
		rc.send(2, true, connectPacket("sub-"+c.chose))
		if _, data := rc.message(); !bytes.Equal(data, []byte{0x20, 2, 0, 0}) {
			t.Errorf("%+v: CONNACK % x", c.opts, data)
		}
	}
	down := &brokertest.Broker{Host: "127.0.0.1", Port: brokertest.FreePort(t)} // nothing listens there
	wd := brokertest.StartWSBridge(t, down, brokertest.WSBridgeOptions{})
	if rc := dialRaw(t, addr(wd), "/mqtt", "Sec-WebSocket-Protocol: mqtt"); rc.resp.StatusCode != http.StatusBadGateway {
		t.Errorf("broker down: %d, want 502", rc.resp.StatusCode)
	}
	if !strings.Contains(wd.Log.String(), "cannot reach the broker") {
		t.Errorf("log: %s", wd.Log.String())
	}
}

// TestTextMessage checks that a Text message ends the connection with
// status 1003 (MQTT-6.0.0-1) and nothing reaches the broker.
func TestTextMessage(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	rc := dialRaw(t, addr(w), "/mqtt", "Sec-WebSocket-Protocol: mqtt")
	rc.send(1, true, connectPacket("text"))
	if code := rc.closed(); code != 1003 {
		t.Fatalf("answer to a Text message: Close %d, want 1003", code)
	}
	waitClosed(t, w, 1)
	if st := w.Conns()[0]; st.Sent.Total() != 0 {
		t.Errorf("sent %s", st.Sent)
	}
}

// dialCoder connects with github.com/coder/websocket (offering mqtt) and
// returns the connection and the answer's headers.
func dialCoder(t testing.TB, url string, mode websocket.CompressionMode, tlsCfg *tls.Config) (*websocket.Conn, http.Header) {
	t.Helper()
	c, h, _ := dialRecorded(t, url, mode, tlsCfg)
	return c, h
}

// recorder keeps what a connection reads.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// received is everything read so far.
func (r *recorder) received() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.got...)
}

// dialRecorded is dialCoder whose TCP connection records what it reads.
func dialRecorded(t testing.TB, url string, mode websocket.CompressionMode, tlsCfg *tls.Config) (*websocket.Conn, http.Header, *recorder) {
	t.Helper()
	rec := &recorder{}
	tr := &http.Transport{TLSClientConfig: tlsCfg, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		rec.Conn = c
		return rec, err
	}}
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"mqtt"}, CompressionMode: mode})
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	return c, resp.Header, rec
}

// serverFrames parses the frames a client read (after the upgrade answer):
// how many data frames had RSV1 (compressed) and how many did not.
func serverFrames(t testing.TB, got []byte) (compressed, plain int) {
	t.Helper()
	i := bytes.Index(got, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatal("no upgrade answer")
	}
	for b := got[i+4:]; len(b) >= 2; {
		n, hl := int(b[1]&0x7F), 2
		switch n {
		case 126:
			n, hl = int(b[2])<<8|int(b[3]), 4
		case 127:
			t.Fatal("a frame over 64 KiB")
		}
		if b[0]&0x08 == 0 { // data frames
			if b[0]&0x40 != 0 {
				compressed++
			} else {
				plain++
			}
		}
		if hl+n > len(b) {
			t.Fatalf("a truncated frame")
		}
		b = b[hl+n:]
	}
	return compressed, plain
}

// roundTrip connects over c, subscribes to t/# and checks that the
// payloads published by mosquitto_pub come back whole.
func roundTrip(t testing.TB, b *brokertest.Broker, c *websocket.Conn, payloads []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	nc := websocket.NetConn(ctx, c, websocket.MessageBinary)
	if _, err := nc.Write(connectPacket("coder")); err != nil {
		t.Fatal(err)
	}
	got := readPackets(t, nc, 1)
	if !bytes.Equal(got[0], []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK % x", got[0])
	}
	nc.Write(subscribePacket(1, "t/#", 0))
	readPackets(t, nc, 1)
	for _, p := range payloads {
		pub(t, b, "t/x", p)
	}
	for i, pk := range readPackets(t, nc, len(payloads)) {
		if !bytes.HasSuffix(pk, []byte("t/x"+payloads[i])) {
			t.Errorf("PUBLISH %d: % x, want payload %q", i, pk, payloads[i])
		}
	}
	nc.Write([]byte{0xE0, 0})
	// the broker closes the connection, the bridge the WebSocket: reading
	// answers its Close frame
	if _, err := nc.Read(make([]byte, 1)); err == nil || websocket.CloseStatus(err) != -1 && websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("after DISCONNECT: %v, want the end of the connection", err)
	}
}

// readPackets reads n MQTT packets from r.
func readPackets(t testing.TB, r net.Conn, n int) [][]byte {
	t.Helper()
	var buf []byte
	var out [][]byte
	tmp := make([]byte, 64<<10)
	for len(out) < n {
		for {
			total, _, err := brokertest.PacketLen(buf)
			if err != nil || total > len(buf) {
				break
			}
			out, buf = append(out, buf[:total]), buf[total:]
		}
		if len(out) >= n {
			break
		}
		k, err := r.Read(tmp)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(out), err)
		}
		buf = append(buf, tmp[:k]...)
	}
	return out
}

// TestCompression checks what each compression mode answers to coder's
// client and that messages of every size, compressed or not, arrive whole.
func TestCompression(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	big := strings.Repeat("compressible payload ", 200)
	for _, c := range []struct {
		bridge brokertest.Compression
		client websocket.CompressionMode
		want   string
	}{
		{brokertest.CompressionNone, websocket.CompressionContextTakeover, ""},
		{brokertest.CompressionContextTakeover, websocket.CompressionDisabled, ""},
		{brokertest.CompressionContextTakeover, websocket.CompressionContextTakeover, "permessage-deflate"},
		{brokertest.CompressionContextTakeover, websocket.CompressionNoContextTakeover, "permessage-deflate; client_no_context_takeover; server_no_context_takeover"},
		{brokertest.CompressionNoContextTakeover, websocket.CompressionContextTakeover, "permessage-deflate; client_no_context_takeover; server_no_context_takeover"},
	} {
		w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Compression: c.bridge})
		conn, h, rec := dialRecorded(t, w.URL, c.client, nil)
		if got := h.Get("Sec-WebSocket-Extensions"); got != c.want {
			t.Errorf("bridge %v, client %v: extensions %q, want %q", c.bridge, c.client, got, c.want)
		}
		roundTrip(t, b, conn, []string{"a", big, big, "b"})
		// coder compresses messages of 128 bytes and more (512 without
		// context takeover): the two big PUBLISHes
		compressed, plain := serverFrames(t, rec.received())
		if wantC := map[bool]int{true: 2, false: 0}[c.want != ""]; compressed != wantC || plain+compressed != 6 {
			t.Errorf("bridge %v, client %v: %d compressed and %d plain data frames, want %d of 6 compressed", c.bridge, c.client, compressed, plain, wantC)
		}
		waitClosed(t, w, 1)
		if st := w.Conns()[0]; st.Extensions != c.want || st.Received.String() != "CONNACK 1, PUBLISH 4, SUBACK 1" {
			t.Errorf("stats %+v", st)
		}
	}
}

// TestTLS checks a wss:// bridge: the test CA verifies it, and its key log
// holds the secrets of the connection.
func TestTLS(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: true})
	if !strings.HasPrefix(w.URL, "wss://127.0.0.1:") {
		t.Fatalf("URL %s", w.URL)
	}
	pem, err := os.ReadFile(w.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, _ := dialCoder(t, w.URL, websocket.CompressionDisabled, &tls.Config{RootCAs: pool})
	roundTrip(t, b, conn, []string{"over TLS"})
	kl, _ := os.ReadFile(w.KeyLog)
	if !strings.Contains(string(kl), "CLIENT_TRAFFIC_SECRET_0 ") {
		t.Errorf("key log:\n%s", kl)
	}
	if _, _, err := websocket.Dial(context.Background(), w.URL, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v", err)
	}
}

// TestStopAndRestart checks that Stop cuts every connection and that the
// bridge listens again on the same port.
func TestStopAndRestart(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	conn, _ := dialCoder(t, w.URL, websocket.CompressionDisabled, nil)
	nc := websocket.NetConn(context.Background(), conn, websocket.MessageBinary)
	nc.Write(connectPacket("restart"))
	readPackets(t, nc, 1)
	w.Stop()
	if _, err := nc.Read(make([]byte, 10)); err == nil {
		t.Fatal("read after Stop succeeded")
	}
	if c, err := net.Dial("tcp", addr(w)); err == nil {
		c.Close()
		t.Fatal("the port still listens after Stop")
	}
	w.Restart(t)
	conn, _ = dialCoder(t, w.URL, websocket.CompressionDisabled, nil)
	roundTrip(t, b, conn, []string{"again"})
	if n := len(w.Conns()); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}
