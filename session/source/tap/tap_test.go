package tap

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
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
	"github.com/mqtap/mqtap/session/brokertest"
)

// MQTT control packet types the tests look for.
const (
	typeCONNACK  = 2
	typePUBLISH  = 3
	typeSUBACK   = 9
	typePINGRESP = 13
)

// ---- a mosquitto the test controls (kill and restart on the same port) ----

// mosq is a mosquitto process on a fixed port with a given configuration.
type mosq struct {
	t      testing.TB
	port   int
	conf   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *brokertest.Buffer
}

// startMosq starts mosquitto with "listener PORT 127.0.0.1" followed by
// extra; it is killed when the test ends.
func startMosq(t testing.TB, port int, extra string) *mosq {
	t.Helper()
	conf := fmt.Sprintf("listener %d 127.0.0.1\n%spersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n", port, extra)
	if os.Geteuid() == 0 {
		conf += "user root\n" // otherwise mosquitto drops to the mosquitto user
	}
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &mosq{t: t, port: port, conf: path, log: &brokertest.Buffer{}}
	m.start()
	t.Cleanup(m.kill)
	return m
}

// start starts the process and waits until it listens.
func (m *mosq) start() {
	m.t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	m.cmd = exec.Command(bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("starting mosquitto: %v", err)
	}
	exited := make(chan struct{})
	m.exited = exited
	go func() { m.cmd.Wait(); close(exited) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			m.t.Fatalf("mosquitto exited at start: %s", m.log.String())
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto does not listen on %s after 5s: %s", addr, m.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the process (SIGKILL) and waits for it.
func (m *mosq) kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// pub publishes one QoS 1 message with mosquitto_pub.
func pub(t testing.TB, port int, topic, msg string, extra ...string) {
	t.Helper()
	args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", topic, "-m", msg, "-q", "1"}, extra...)
	if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// ---- collecting what Run sends ----

// collector keeps every chunk Run sends.
type collector struct {
	mu     sync.Mutex
	chunks []Chunk
	done   chan struct{}
}

func newCollector(out <-chan Chunk) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for ch := range out {
			c.mu.Lock()
			c.chunks = append(c.chunks, ch)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) snapshot() []Chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Chunk(nil), c.chunks...)
}

// packets splits the data received on connection conn into MQTT packets.
func (c *collector) packets(conn int) (pkts []packet, rest []byte) {
	var data []byte
	for _, ch := range c.snapshot() {
		if ch.Conn == conn {
			data = append(data, ch.Data...)
		}
	}
	return splitPackets(data)
}

// closed reports whether connection conn's Closed chunk came.
func (c *collector) closed(conn int) bool {
	for _, ch := range c.snapshot() {
		if ch.Conn == conn && ch.Closed {
			return true
		}
	}
	return false
}

// count is the number of packets of type typ received on connection conn.
func (c *collector) count(conn int, typ byte) int {
	pkts, _ := c.packets(conn)
	n := 0
	for _, p := range pkts {
		if p.typ == typ {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run is a Run in progress.
type run struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	col    *collector
	log    *brokertest.Buffer
	once   sync.Once
	err    error
	took   time.Duration // from cancel to Run's return
}

// startRun starts Run with cfg (Log goes to r.log) and a collector on its
// output; it is stopped when the test ends.
func startRun(t testing.TB, cfg Config) *run {
	t.Helper()
	r := &run{t: t, done: make(chan error, 1), log: &brokertest.Buffer{}}
	cfg.Log = func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("log line with a line break: %q", line)
		}
		fmt.Fprintln(r.log, line)
	}
	out := make(chan Chunk) // unbuffered: Run must cope with a receiver that takes its time
	r.col = newCollector(out)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- Run(ctx, cfg, out)
		close(out) // Run never closes it
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels Run and returns its result.
func (r *run) stop() error {
	r.t.Helper()
	r.once.Do(func() {
		start := time.Now()
		r.cancel()
		select {
		case r.err = <-r.done:
			r.took = time.Since(start)
		case <-time.After(5 * time.Second):
			r.t.Fatalf("Run still running 5s after its context was cancelled; log:\n%s", r.log.String())
		}
		<-r.col.done
	})
	return r.err
}

// wait waits for Run to end on its own (an error) and returns its result.
func (r *run) wait(timeout time.Duration) error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.once.Do(func() { r.err = err; <-r.col.done })
		return err
	case <-time.After(timeout):
		r.t.Fatalf("Run still running after %v; log:\n%s", timeout, r.log.String())
	}
	return nil
}

// ---- a tiny MQTT splitter ----

// packet is one MQTT control packet.
type packet struct {
	typ, flags byte
	body       []byte
}

// splitPackets splits data at the packet boundaries given by the fixed
// headers; rest is an incomplete packet at the end.
func splitPackets(data []byte) (pkts []packet, rest []byte) {
	for len(data) > 0 {
		n, k, ok := vbi(data[1:])
		if !ok || len(data) < 1+k+n {
			return pkts, data
		}
		pkts = append(pkts, packet{typ: data[0] >> 4, flags: data[0] & 0x0F, body: data[1+k : 1+k+n]})
		data = data[1+k+n:]
	}
	return pkts, nil
}

// withoutPings drops the PINGRESP packets.
func withoutPings(pkts []packet) []packet {
	var out []packet
	for _, p := range pkts {
		if p.typ != typePINGRESP {
			out = append(out, p)
		}
	}
	return out
}

// vbi decodes a variable byte integer: its value and length.
func vbi(b []byte) (n, k int, ok bool) {
	mult := 1
	for k < len(b) && k < 4 {
		n += int(b[k]&0x7F) * mult
		mult *= 128
		k++
		if b[k-1]&0x80 == 0 {
			return n, k, true
		}
	}
	return 0, 0, false
}

// publish decodes an MQTT 5 PUBLISH.
func (p packet) publish(t testing.TB) (topic, payload string) {
	t.Helper()
	b := p.body
	if len(b) < 2 {
		t.Fatalf("PUBLISH of %d bytes", len(b))
	}
	tl := int(binary.BigEndian.Uint16(b))
	topic, b = string(b[2:2+tl]), b[2+tl:]
	if (p.flags>>1)&3 > 0 {
		b = b[2:] // packet identifier
	}
	n, k, ok := vbi(b)
	if !ok {
		t.Fatalf("PUBLISH properties: bad length")
	}
	return topic, string(b[k+n:])
}

// subackReasons decodes the reason codes of an MQTT 5 SUBACK.
func (p packet) subackReasons(t testing.TB) []byte {
	t.Helper()
	n, k, ok := vbi(p.body[2:])
	if !ok {
		t.Fatalf("SUBACK properties: bad length")
	}
	return p.body[2+k+n:]
}

// publishes returns the topic=payload of every PUBLISH of connection conn.
func (c *collector) publishes(t testing.TB, conn int) []string {
	pkts, _ := c.packets(conn)
	var s []string
	for _, p := range pkts {
		if p.typ == typePUBLISH {
			topic, payload := p.publish(t)
			s = append(s, topic+"="+payload)
		}
	}
	return s
}

func mqttURL(port int) string { return "mqtt://127.0.0.1:" + strconv.Itoa(port) }

// ---- the tests ----

func TestReceivesSubscribedMessages(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	r := startRun(t, Config{URL: mqttURL(b.Port), Topics: []string{"lab/#"}, QoS: 1})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })

	pub(t, b.Port, "lab/x", "hello 1")
	pub(t, b.Port, "other/y", "not for us")
	pub(t, b.Port, "lab/x", "hello 2")
	pub(t, b.Port, "lab/x", "hello 3")
	waitFor(t, "3 PUBLISH", 10*time.Second, func() bool { return r.col.count(1, typePUBLISH) >= 3 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	pkts, rest := r.col.packets(1)
	if len(rest) != 0 {
		t.Errorf("%d bytes of an incomplete packet at the end", len(rest))
	}
	// paho's pinger sends a PINGREQ as soon as the connection is up, so a
	// PINGRESP comes too (before or after the SUBACK).
	pkts = withoutPings(pkts)
	var types []byte
	for _, p := range pkts {
		types = append(types, p.typ)
	}
	if want := []byte{typeCONNACK, typeSUBACK, typePUBLISH, typePUBLISH, typePUBLISH}; !bytes.Equal(types, want) {
		t.Fatalf("packet types %v, want %v (without PINGRESP)", types, want)
	}
	if pkts[0].body[1] != 0 {
		t.Errorf("CONNACK reason 0x%02X", pkts[0].body[1])
	}
	if got := pkts[1].subackReasons(t); !bytes.Equal(got, []byte{1}) {
		t.Errorf("SUBACK reasons %v, want [1] (QoS 1 granted)", got)
	}
	got := r.col.publishes(t, 1)
	want := []string{"lab/x=hello 1", "lab/x=hello 2", "lab/x=hello 3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("PUBLISH %q, want %q", got, want)
	}

	chunks := r.col.snapshot()
	broker := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.Port))
	seen := map[*byte]bool{}
	for i, ch := range chunks {
		if ch.Conn != 1 || ch.Broker != broker || ch.Local.Addr() != broker.Addr() || ch.Local.Port() == 0 || ch.Local == broker {
			t.Errorf("chunk %d: Conn %d, Local %v, Broker %v; want Conn 1, Local 127.0.0.1:*, Broker %v", i, ch.Conn, ch.Local, ch.Broker, broker)
		}
		if ch.Time.IsZero() {
			t.Errorf("chunk %d has no time", i)
		}
		if ch.Closed != (ch.Data == nil) {
			t.Errorf("chunk %d: Closed %v with %d bytes", i, ch.Closed, len(ch.Data))
		}
		if len(ch.Data) > 0 {
			if seen[&ch.Data[0]] {
				t.Errorf("chunk %d shares its buffer with an earlier chunk", i)
			}
			seen[&ch.Data[0]] = true
		}
	}
	if last := chunks[len(chunks)-1]; !last.Closed {
		t.Errorf("the last chunk is not Closed: %+v", last)
	}
	if n := len(chunks); n < 3 {
		t.Errorf("%d chunks", n)
	}
	for _, want := range []string{"connected to " + mqttURL(b.Port) + " (MQTT 5, client ID \"mqtap-", `subscribed to "lab/#" with QoS 1`} {
		if !strings.Contains(r.log.String(), want) {
			t.Errorf("log has no %q:\n%s", want, r.log.String())
		}
	}
}

func TestReconnects(t *testing.T) {
	t.Parallel()
	port := brokertest.FreePort(t)
	m := startMosq(t, port, "allow_anonymous true\n")
	r := startRun(t, Config{URL: mqttURL(port), Topics: []string{"lab/#"}, MaxBackoff: time.Second})
	waitFor(t, "SUBACK on connection 1", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	pub(t, port, "lab/x", "before")
	waitFor(t, "PUBLISH on connection 1", 10*time.Second, func() bool { return r.col.count(1, typePUBLISH) == 1 })

	m.kill()
	if err := brokertest.WaitFor(r.log, "lost the connection to "+mqttURL(port)+": ", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Closed chunk of connection 1", 5*time.Second, func() bool { return r.col.closed(1) })
	// The first reconnect attempt (after 0.5s) is refused; the next is
	// logged with its delay.
	if err := brokertest.WaitFor(r.log, "reconnecting to "+mqttURL(port)+" in 1s (attempt 2): ", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}

	m.start()
	if err := brokertest.WaitFor(r.log, "reconnected to "+mqttURL(port), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SUBACK on connection 2", 10*time.Second, func() bool { return r.col.count(2, typeSUBACK) == 1 })
	pub(t, port, "lab/x", "after")
	waitFor(t, "PUBLISH on connection 2", 10*time.Second, func() bool { return r.col.count(2, typePUBLISH) == 1 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := r.col.publishes(t, 1); len(got) != 1 || got[0] != "lab/x=before" {
		t.Errorf("connection 1 PUBLISH %q", got)
	}
	if got := r.col.publishes(t, 2); len(got) != 1 || got[0] != "lab/x=after" {
		t.Errorf("connection 2 PUBLISH %q", got)
	}
	var locals [3]netip.AddrPort
	closedAt := map[int]int{}
	chunks := r.col.snapshot()
	for i, ch := range chunks {
		if ch.Conn < 1 || ch.Conn > 2 {
			t.Fatalf("chunk %d of connection %d", i, ch.Conn)
		}
		if _, ok := closedAt[ch.Conn]; ok {
			t.Errorf("chunk %d of connection %d after its Closed chunk", i, ch.Conn)
		}
		if ch.Closed {
			closedAt[ch.Conn] = i
		}
		locals[ch.Conn] = ch.Local
		if ch.Broker.Port() != uint16(port) {
			t.Errorf("chunk %d: Broker %v", i, ch.Broker)
		}
	}
	if len(closedAt) != 2 || !chunks[len(chunks)-1].Closed || chunks[len(chunks)-1].Conn != 2 {
		t.Errorf("Closed chunks at %v of %d chunks; want one per connection, connection 2's last", closedAt, len(chunks))
	}
	if locals[1] == locals[2] {
		t.Errorf("both connections from %v", locals[1])
	}
	t.Logf("log:\n%s", r.log.String())
	if n := len(r.log.Lines("lost the connection")); n != 1 {
		t.Errorf("%d 'lost the connection' lines:\n%s", n, r.log.String())
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	port := brokertest.FreePort(t)
	start := time.Now()
	r := startRun(t, Config{URL: mqttURL(port)})
	err := r.wait(5 * time.Second)
	if err == nil {
		t.Fatal("Run returned nil against a port nothing listens on")
	}
	t.Logf("%v (after %v)", err, time.Since(start))
	if !strings.Contains(err.Error(), "connecting to "+mqttURL(port)+": ") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q: want the URL and connection refused", err)
	}
	if n := len(r.col.snapshot()); n != 0 {
		t.Errorf("%d chunks without a connection", n)
	}
	if s := r.log.String(); s != "" {
		t.Errorf("a failed first attempt logged %q; the error should be the only message", s)
	}
}

// passwordBroker starts mosquitto with user alice (password secret) and
// bob (password bobpw), no anonymous access, and extra configuration.
func passwordBroker(t *testing.T, extra string) int {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "passwd")
	setPassword(t, pw, "alice", "secret")
	setPassword(t, pw, "bob", "bobpw")
	port := brokertest.FreePort(t)
	startMosq(t, port, "allow_anonymous false\npassword_file "+pw+"\n"+extra)
	return port
}

// setPassword sets a user's password in a mosquitto password file
// (created if need be).
func setPassword(t *testing.T, file, user, password string) {
	t.Helper()
	args := []string{"-b", file, user, password}
	if _, err := os.Stat(file); err != nil {
		args = append([]string{"-c"}, args...)
	}
	if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
}

// TestReconnectRefused: credentials that stop working while the broker is
// down end Run at the reconnect instead of retrying forever.
func TestReconnectRefused(t *testing.T) {
	t.Parallel()
	pw := filepath.Join(t.TempDir(), "passwd")
	setPassword(t, pw, "alice", "secret")
	port := brokertest.FreePort(t)
	m := startMosq(t, port, "allow_anonymous false\npassword_file "+pw+"\n")
	r := startRun(t, Config{URL: mqttURL(port), Username: "alice", Password: []byte("secret"), MaxBackoff: time.Second})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })

	m.kill()
	if err := brokertest.WaitFor(r.log, "lost the connection", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	setPassword(t, pw, "alice", "changed")
	m.start()
	err := r.wait(10 * time.Second)
	if err == nil {
		t.Fatal("Run returned nil")
	}
	t.Logf("%v", err)
	if !strings.HasPrefix(err.Error(), mqttURL(port)+" refused the connection: ") || !strings.Contains(err.Error(), "(CONNACK reason 0x8") {
		t.Errorf("error %q", err)
	}
	if strings.Contains(r.log.String(), "reconnected") {
		t.Errorf("log:\n%s", r.log.String())
	}
	// The refused connection is the second network connection: its
	// CONNACK and its end were handed out.
	var conn2 []byte
	pkts, _ := r.col.packets(2)
	for _, p := range pkts {
		conn2 = append(conn2, p.typ)
	}
	if !bytes.Equal(conn2, []byte{typeCONNACK}) || pkts[0].body[1] < 0x80 || !r.col.closed(2) {
		t.Errorf("connection 2: packets %v, closed %v; want a refusing CONNACK and the end", conn2, r.col.closed(2))
	}
}

func TestBadPassword(t *testing.T) {
	t.Parallel()
	port := passwordBroker(t, "")

	r := startRun(t, Config{URL: mqttURL(port), Username: "alice", Password: []byte("wrong")})
	err := r.wait(10 * time.Second)
	if err == nil {
		t.Fatal("Run returned nil with a bad password")
	}
	t.Logf("%v", err)
	msg := err.Error()
	if !strings.HasPrefix(msg, mqttURL(port)+" refused the connection: ") ||
		!(strings.Contains(msg, "not authorized (CONNACK reason 0x87)") || strings.Contains(msg, "bad user name or password (CONNACK reason 0x86)")) {
		t.Errorf("error %q", msg)
	}
	// The CONNACK itself was handed out, and the connection ended.
	pkts, _ := r.col.packets(1)
	if len(pkts) != 1 || pkts[0].typ != typeCONNACK || pkts[0].body[1] < 0x80 {
		t.Errorf("connection 1 packets %+v, want one refusing CONNACK", pkts)
	}
	if !r.col.closed(1) {
		t.Error("no Closed chunk")
	}

	// The right password gets in.
	ok := startRun(t, Config{URL: mqttURL(port), Username: "alice", Password: []byte("secret")})
	waitFor(t, "SUBACK with the right password", 10*time.Second, func() bool { return ok.col.count(1, typeSUBACK) == 1 })
	if err := ok.stop(); err != nil {
		t.Fatalf("Run with the right password: %v", err)
	}
}

// TestACLFileSubscription: mosquitto 2.0's acl_file grants every
// SUBSCRIBE (SUBACK reason 0x00 even for a filter the user may not read)
// and only checks read access when it delivers a message. So Run cannot
// report such a subscription as refused; what the test checks is that
// nothing of the forbidden topic is delivered.
func TestACLFileSubscription(t *testing.T) {
	t.Parallel()
	acl := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(acl, []byte("user alice\ntopic read allowed/#\n\nuser bob\ntopic write #\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := passwordBroker(t, "acl_file "+acl+"\n")

	r := startRun(t, Config{URL: mqttURL(port), Username: "alice", Password: []byte("secret"), Topics: []string{"secret/#", "allowed/#"}})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	pub(t, port, "secret/x", "hidden", "-u", "bob", "-P", "bobpw")
	pub(t, port, "allowed/y", "visible", "-u", "bob", "-P", "bobpw")
	waitFor(t, "PUBLISH", 10*time.Second, func() bool { return r.col.count(1, typePUBLISH) >= 1 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	pkts, _ := r.col.packets(1)
	for _, p := range pkts {
		if p.typ == typeSUBACK {
			if got := p.subackReasons(t); !bytes.Equal(got, []byte{0, 0}) {
				t.Errorf("SUBACK reasons %v: mosquitto's acl_file now refuses subscriptions; TestDynsecSubscriptionRefused covers that", got)
			}
		}
	}
	if got := r.col.publishes(t, 1); len(got) != 1 || got[0] != "allowed/y=visible" {
		t.Errorf("PUBLISH %q, want only allowed/y=visible", got)
	}
}

// TestDynsecSubscriptionRefused uses mosquitto's dynamic security plugin,
// which (unlike acl_file) checks SUBSCRIBE and refuses with SUBACK 0x87.
func TestDynsecSubscriptionRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	js := filepath.Join(dir, "dynsec.json")
	if out, err := exec.Command("mosquitto_ctrl", "dynsec", "init", js, "alice", "secret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_ctrl dynsec init: %v: %s", err, out)
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("dynsec.json: %v", err)
	}
	// alice's role (created by init as "admin") may subscribe to
	// allowed/# only; the default ACL denies every other SUBSCRIBE.
	doc["roles"] = []any{map[string]any{"rolename": "admin", "acls": []any{
		map[string]any{"acltype": "subscribePattern", "topic": "allowed/#", "allow": true},
		map[string]any{"acltype": "publishClientSend", "topic": "#", "allow": true},
	}}}
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	plugin := "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
	if m, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so"); len(m) > 0 {
		plugin = m[0]
	}
	port := brokertest.FreePort(t)
	startMosq(t, port, "allow_anonymous false\nplugin "+plugin+"\nplugin_opt_config_file "+js+"\n")

	r := startRun(t, Config{URL: mqttURL(port), Username: "alice", Password: []byte("secret"), Topics: []string{"allowed/#", "secret/#"}})
	err = r.wait(10 * time.Second)
	if err == nil {
		t.Fatal("Run returned nil with a refused subscription")
	}
	t.Logf("%v", err)
	if want := mqttURL(port) + `: subscription to "secret/#" refused: not authorized (0x87)`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	pkts, _ := r.col.packets(1)
	pkts = withoutPings(pkts)
	if len(pkts) != 2 || pkts[1].typ != typeSUBACK || !bytes.Equal(pkts[1].subackReasons(t), []byte{0, 0x87}) {
		t.Errorf("packets %+v, want CONNACK and SUBACK [0 0x87]", pkts)
	}
	if !r.col.closed(1) {
		t.Error("no Closed chunk")
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://x"}, `unsupported scheme "http"`},
		{Config{URL: "ftp://x:80"}, `unsupported scheme "ftp"`},
		{Config{URL: "ws://x:0/mqtt"}, "bad port"},
		{Config{URL: "ws://x/mqtt", CAFile: "ca.pem"}, "needs mqtts:// or wss://"},
		{Config{URL: "mqtt://"}, "has no host"},
		{Config{URL: "mqtt://:1883"}, "has no host"},
		{Config{URL: "localhost:1883"}, "has no scheme"},
		{Config{URL: ""}, "no broker URL"},
		{Config{URL: "mqtt://h:99999"}, "bad port"},
		{Config{URL: "mqtt://u:pw@h"}, "credentials in the URL"},
		{Config{URL: "mqtt://h/path"}, "unexpected path"},
		{Config{URL: "mqtt://h", CAFile: "ca.pem"}, "needs mqtts://"},
		{Config{URL: "mqtts://h", CAFile: "/nonexistent/ca.pem"}, "reading the CA file"},
		{Config{URL: "mqtt://h", Topics: []string{"a/#/b"}}, "# must be"},
		{Config{URL: "mqtt://h", Topics: []string{"a/b+"}}, "+ must be"},
		{Config{URL: "mqtt://h", Topics: []string{""}}, "empty topic filter"},
		{Config{URL: "mqtt://h", QoS: 3}, "QoS 3"},
	} {
		out := make(chan Chunk, 1)
		start := time.Now()
		err := Run(context.Background(), c.cfg, out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%+v: took %v (did it connect?)", c.cfg, d)
		}
		if len(out) != 0 {
			t.Errorf("%+v: a chunk was sent", c.cfg)
		}
	}
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://h":              "mqtt://h:1883",
		"tcp://h:1884/":         "tcp://h:1884",
		"MQTTS://h":             "mqtts://h:8883",
		"ssl://10.0.0.1":        "ssl://10.0.0.1:8883",
		"tls://[::1]:8884":      "tls://[::1]:8884",
		"mqtt://[fe80::1%25lo]": "mqtt://[fe80::1%25lo]:1883",
	} {
		u, _, _, err := parseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("parseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
}

func TestDelay(t *testing.T) {
	for _, c := range []struct {
		n    int
		max  time.Duration
		want time.Duration
	}{
		{1, 30 * time.Second, 500 * time.Millisecond},
		{2, 30 * time.Second, time.Second},
		{3, 30 * time.Second, 2 * time.Second},
		{7, 30 * time.Second, 30 * time.Second},
		{1000, 30 * time.Second, 30 * time.Second},
		{3, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{1, 100 * time.Millisecond, 100 * time.Millisecond},
	} {
		if got := delay(c.n, c.max); got != c.want {
			t.Errorf("delay(%d, %v) = %v, want %v", c.n, c.max, got, c.want)
		}
	}
}

// tlsFiles writes a CA and a server certificate for 127.0.0.1 signed by
// it (ECDSA P-256) and returns the paths of the CA's certificate, the
// server's certificate and its key.
func tlsFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	authority := keytest.NewCA(t, "", keytest.KeyECDSA)
	ca, _ = authority.Write(t, dir, "ca")
	cert, key = authority.Issue(t, keytest.KeyECDSA, []string{"127.0.0.1", "localhost"}).Write(t, dir, "server")
	return ca, cert, key
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ca, cert, key := tlsFiles(t)
	tlsPort, plainPort := brokertest.FreePort(t), brokertest.FreePort(t)
	// A TLS listener for the tap, a plain one for mosquitto_pub.
	startMosq(t, tlsPort, fmt.Sprintf("certfile %s\nkeyfile %s\ncafile %s\nlistener %d 127.0.0.1\nallow_anonymous true\n", cert, key, ca, plainPort))
	url := "mqtts://127.0.0.1:" + strconv.Itoa(tlsPort)

	r := startRun(t, Config{URL: url, CAFile: ca, Topics: []string{"lab/#"}})
	waitFor(t, "SUBACK over TLS", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	pub(t, plainPort, "lab/tls", "secret hello")
	waitFor(t, "PUBLISH over TLS", 10*time.Second, func() bool { return r.col.count(1, typePUBLISH) == 1 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := r.col.publishes(t, 1); len(got) != 1 || got[0] != "lab/tls=secret hello" {
		t.Errorf("PUBLISH %q", got)
	}
	for _, ch := range r.col.snapshot() {
		if ch.Broker.Port() != uint16(tlsPort) {
			t.Errorf("Broker %v, want port %d", ch.Broker, tlsPort)
		}
	}

	// System roots do not know the test CA.
	bad := startRun(t, Config{URL: url})
	err := bad.wait(10 * time.Second)
	if err == nil {
		t.Fatal("Run returned nil without the CA")
	}
	t.Logf("%v", err)
	if !strings.Contains(err.Error(), "connecting to "+url+": ") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q: want the URL and a certificate error", err)
	}
	if n := len(bad.col.snapshot()); n != 0 {
		t.Errorf("%d chunks from a failed TLS handshake", n)
	}

	// Insecure skips the verification.
	ins := startRun(t, Config{URL: url, Insecure: true})
	waitFor(t, "SUBACK with Insecure", 10*time.Second, func() bool { return ins.col.count(1, typeSUBACK) == 1 })
	if err := ins.stop(); err != nil {
		t.Fatalf("Run with Insecure: %v", err)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	r := startRun(t, Config{URL: mqttURL(b.Port)})
	waitFor(t, "SUBACK", 10*time.Second, func() bool { return r.col.count(1, typeSUBACK) == 1 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.took > time.Second {
		t.Errorf("Run returned %v after the cancel", r.took)
	}
	chunks := r.col.snapshot()
	if last := chunks[len(chunks)-1]; !last.Closed || last.Conn != 1 {
		t.Errorf("last chunk %+v, want connection 1 Closed", last)
	}
	if n := len(r.log.Lines("lost the connection")); n != 0 {
		t.Errorf("a cancel logged a lost connection:\n%s", r.log.String())
	}
}

// TestCancelWithoutReceiver: a receiver that stops reading must not keep
// Run from returning once ctx is done.
func TestCancelWithoutReceiver(t *testing.T) {
	t.Parallel()
	b := brokertest.StartBroker(t)
	out := make(chan Chunk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{URL: mqttURL(b.Port), Topics: []string{"lab/#"}}, out) }()
	// Read until the SUBACK, then stop reading.
	var data []byte
	deadline := time.After(10 * time.Second)
	for {
		var ch Chunk
		select {
		case ch = <-out:
		case <-deadline:
			t.Fatal("no SUBACK after 10s")
		}
		data = append(data, ch.Data...)
		pkts, _ := splitPackets(data)
		if pkts = withoutPings(pkts); len(pkts) == 2 && pkts[1].typ == typeSUBACK {
			break
		}
	}
	pub(t, b.Port, "lab/x", "nobody reads this") // the tap's reader now blocks on out
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Run returned %v after the cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still blocked 5s after the cancel with nobody reading")
	}
}

// TestErrorsWrap: the errors keep their cause.
func TestErrorsWrap(t *testing.T) {
	t.Parallel()
	port := brokertest.FreePort(t)
	err := Run(context.Background(), Config{URL: mqttURL(port)}, make(chan Chunk, 16))
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("error %v (%T) does not wrap the *net.OpError", err, err)
	}
}
