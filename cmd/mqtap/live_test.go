package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// The live tests run the mqtap binary itself: they need signals, a process
// of its own to capture with, and another user for the privilege error.
// Capturing needs root (CI runs as root); these tests never skip.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// mqtapBinary builds mqtap once per test run into a directory every user
// can read (the privilege test runs it as nobody).
func mqtapBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mqtap-bin-")
		if err != nil {
			binErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "mqtap")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// needRoot fails (never skips) when the tests cannot capture.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("live capture tests need root (CAP_NET_RAW): run make test as root, as CI does")
	}
}

// liveRun is a running mqtap sniff or tap.
type liveRun struct {
	cmd    *exec.Cmd
	stdout *brokertest.Buffer
	stderr *brokertest.Buffer
	done   chan struct{}
	code   int
}

// startMqtap starts the binary and waits until it says it is running (want
// on stderr).
func startMqtap(t *testing.T, want string, args ...string) *liveRun {
	t.Helper()
	return startCommand(t, want, exec.Command(mqtapBinary(t), args...), args)
}

// startCommand starts cmd, an mqtap run with args, and waits until it says
// want on stderr; the run is killed when the test ends.
func startCommand(t *testing.T, want string, cmd *exec.Cmd, args []string) *liveRun {
	t.Helper()
	r := &liveRun{cmd: cmd, stdout: &brokertest.Buffer{}, stderr: &brokertest.Buffer{}, done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	if err := brokertest.WaitFor(r.stderr, want, 10*time.Second, r.done); err != nil {
		t.Fatalf("mqtap %s: %v\nstderr: %s", strings.Join(args, " "), err, r.stderr.String())
	}
	return r
}

// interrupt sends Ctrl-C and waits for the exit code.
func (r *liveRun) interrupt(t *testing.T) int {
	t.Helper()
	r.cmd.Process.Signal(os.Interrupt)
	return r.wait(t, 10*time.Second)
}

func (r *liveRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(d):
		t.Fatalf("mqtap did not exit within %v; stderr: %s", d, r.stderr.String())
	}
	return -1
}

// ndjsonRecords parses -T ndjson output into field maps.
func ndjsonRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not ndjson: %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

// field returns a record's field as text (first value of a list).
func field(rec map[string]any, name string) string {
	v, ok := rec[name]
	if !ok {
		return ""
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		v = l[0]
	}
	return fmt.Sprint(v)
}

var summaryRE = regexp.MustCompile(`mqtap: (\d+) packets captured, (\d+) dropped by the kernel, (\d+) MQTT packets decoded`)

// summary parses sniff's last line on stderr.
func summary(t *testing.T, stderr string) (captured, dropped, decoded int) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line on stderr: %q", stderr)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return a, b, c
}

// waitForPlaintext waits until a record with plaintext text, decrypted,
// has been printed while mqtap still runs.
func waitForPlaintext(t *testing.T, r *liveRun, text string) {
	t.Helper()
	want := `"mqtap.plaintext":"` + text + `"`
	if err := brokertest.WaitFor(r.stdout, want, 15*time.Second, r.done); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, r.stdout.String(), r.stderr.String())
	}
}

// TestSniffDecryptsLabSessionsLive captures a real broker on lo while the Go
// and Python lab peers run key exchanges, with keys the peers write during
// the run, and checks every message is printed decrypted before mqtap stops.
func TestSniffDecryptsLabSessionsLive(t *testing.T) {
	needRoot(t)
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	port := strconv.Itoa(b.Port)
	keyDir := t.TempDir()
	run := startMqtap(t, "Capturing on 'lo'", "sniff", "-i", "lo", "-d", "tcp.port=="+port+",mqtt", "--keys", keyDir, "-T", "ndjson")

	// Python responder, Go requester: only the responder saves its keys.
	brokertest.StartPyResponder(t, "live1", "--host", b.Host, "--port", port, "--save-keys", filepath.Join(keyDir, "py"))
	code, stdout, stderr := mqtap("lab", "request", "live1", "uppercase", "hello live capture", "--host", b.Host, "--port", port)
	if code != 0 || stdout != "HELLO LIVE CAPTURE\n" {
		t.Fatalf("lab request: exit %d %q %q", code, stdout, stderr)
	}
	waitForPlaintext(t, run, "hello live capture")
	waitForPlaintext(t, run, "HELLO LIVE CAPTURE")

	// Go responder, Python requester over MQTT 5: only the requester's keys.
	respLog := &brokertest.Buffer{}
	go run2(respLog, "lab", "respond", "live2", "--host", b.Host, "--port", port, "--count", "1")
	if err := brokertest.WaitFor(respLog, "ready:", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	out, errOut, pcode := brokertest.PyRun(t, 20*time.Second, "request", "live2", "reverse", "stressed", "--host", b.Host, "--port", port,
		"--protocol", "5", "--save-keys", filepath.Join(keyDir, "py-req"))
	if pcode != 0 || out != "desserts\n" {
		t.Fatalf("labpeer.py request: exit %d %q %q", pcode, out, errOut)
	}
	waitForPlaintext(t, run, "stressed")
	waitForPlaintext(t, run, "desserts")

	if code := run.interrupt(t); code != 0 {
		t.Fatalf("sniff exit %d after Ctrl-C; stderr %s", code, run.stderr.String())
	}
	recs := ndjsonRecords(t, run.stdout.String())
	decrypted := map[string]int{}
	for _, r := range recs {
		if field(r, "mqtap.decrypt") == "ok" {
			decrypted[field(r, "mqtap.session")]++
		}
		if field(r, "mqtap.decrypt") == "no-key" || field(r, "mqtap.decrypt") == "failed" {
			t.Errorf("message not decrypted live: %v", r)
		}
	}
	// Each session: request and response, each seen twice (publisher to
	// broker, broker to subscriber).
	if decrypted["live1#1"] != 4 || decrypted["live2#1"] != 4 {
		t.Errorf("decrypted per session %v, want 4 each", decrypted)
	}
	captured, dropped, decoded := summary(t, run.stderr.String())
	if dropped != 0 || captured == 0 || decoded != len(recs) {
		t.Errorf("summary captured %d dropped %d decoded %d; %d records printed", captured, dropped, decoded, len(recs))
	}
}

// run2 runs the command line in-process, logging stderr.
func run2(log io.Writer, args ...string) int {
	return run(args, io.Discard, log)
}

// TestTapDecryptsLabSession subscribes to the broker instead of capturing.
func TestTapDecryptsLabSession(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	port := strconv.Itoa(b.Port)
	keyDir := t.TempDir()
	run := startMqtap(t, "subscribed", "tap", "mqtt://"+b.Addr(), "--keys", keyDir, "-T", "ndjson")
	brokertest.StartPyResponder(t, "tap1", "--host", b.Host, "--port", port)
	code, stdout, stderr := mqtap("lab", "request", "tap1", "title-case", "over the tap", "--host", b.Host, "--port", port, "--save-keys", filepath.Join(keyDir, "go"))
	if code != 0 || stdout != "Over The Tap\n" {
		t.Fatalf("lab request: exit %d %q %q", code, stdout, stderr)
	}
	waitForPlaintext(t, run, "over the tap")
	waitForPlaintext(t, run, "Over The Tap")
	if code := run.interrupt(t); code != 0 {
		t.Fatalf("tap exit %d; stderr %s", code, run.stderr.String())
	}
	recs := ndjsonRecords(t, run.stdout.String())
	kex := 0
	for _, r := range recs {
		if _, ok := r["frame.number"]; ok {
			t.Errorf("a tap record has a frame number: %v", r)
		}
		if _, ok := r["tcp.srcport"]; ok {
			t.Errorf("a tap record has TCP fields: %v", r)
		}
		if field(r, "mqtap.type") == "PUBLISH" && field(r, "ip.src") != "127.0.0.1" {
			t.Errorf("the broker is not the source: %v", r)
		}
		if field(r, "mqtap.kex") != "" {
			kex++
		}
	}
	if kex != 2 {
		t.Errorf("%d key-exchange messages, want 2 (request and response)", kex)
	}
	if !strings.Contains(run.stderr.String(), "MQTT packets received from mqtt://"+b.Addr()) {
		t.Errorf("no summary on stderr: %s", run.stderr.String())
	}
}

// sendConnect opens a TCP connection to addr and sends an MQTT CONNECT.
func sendConnect(t *testing.T, addr, clientID string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(clientID))}, clientID...)
	c.Write(append([]byte{0x10, byte(len(body))}, body...))
	time.Sleep(50 * time.Millisecond)
}

// listen accepts and discards connections on a free loopback port.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestSniffKernelFilter checks that traffic on other ports never reaches
// mqtap: MQTT on a port outside the filter would be detected if delivered,
// as --any-port shows.
func TestSniffKernelFilter(t *testing.T) {
	needRoot(t)
	inside, outside := listen(t), listen(t)
	_, inPort, _ := net.SplitHostPort(inside)
	_, outPort, _ := net.SplitHostPort(outside)
	for _, anyPort := range []bool{false, true} {
		args := []string{"sniff", "-i", "lo", "-T", "fields", "-e", "tcp.dstport", "-e", "mqtt.clientid", "-f", inPort}
		if anyPort {
			args = []string{"sniff", "-i", "lo", "-T", "fields", "-e", "tcp.dstport", "-e", "mqtt.clientid", "--any-port"}
		}
		run := startMqtap(t, "Capturing on", args...)
		sendConnect(t, outside, "outside")
		sendConnect(t, inside, "inside")
		if err := brokertest.WaitFor(run.stdout, "inside", 10*time.Second, run.done); err != nil {
			t.Fatalf("any-port=%v: %v; stderr %s", anyPort, err, run.stderr.String())
		}
		if code := run.interrupt(t); code != 0 {
			t.Fatalf("exit %d: %s", code, run.stderr.String())
		}
		out := run.stdout.String()
		gotOutside := strings.Contains(out, outPort+"\toutside")
		if gotOutside != anyPort {
			t.Errorf("any-port=%v: CONNECT on the other port printed=%v; output:\n%s", anyPort, gotOutside, out)
		}
		if !strings.Contains(out, inPort+"\tinside") {
			t.Errorf("any-port=%v: CONNECT on the filtered port missing:\n%s", anyPort, out)
		}
		captured, _, _ := summary(t, run.stderr.String())
		if !anyPort && captured > 20 {
			t.Errorf("the kernel filter let %d frames through for one short connection", captured)
		}
	}
}

// TestSniffStops checks -c, -a duration and Ctrl-C flushing of -T json and
// -w.
func TestSniffStops(t *testing.T) {
	needRoot(t)
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)

	// -c 2 with -Y: exits by itself after the second CONNECT the display
	// filter selects.
	run := startMqtap(t, "Capturing on", "sniff", "-i", "lo", "-f", port, "-c", "2", "-Y", `mqtt.clientid != "count0"`, "-T", "fields", "-e", "mqtt.clientid")
	for i := range 4 {
		sendConnect(t, addr, fmt.Sprintf("count%d", i))
		if i == 2 {
			if code := run.wait(t, 5*time.Second); code != 0 {
				t.Fatalf("-c 2: exit %d", code)
			}
		}
	}
	if out := run.stdout.String(); out != "count1\ncount2\n" {
		t.Errorf("-c 2 -Y printed:\n%s", out)
	}

	// -a duration:1 with nothing to capture.
	start := time.Now()
	run = startMqtap(t, "Capturing on", "sniff", "-i", "lo", "-f", port, "-a", "duration:1")
	if code := run.wait(t, 5*time.Second); code != 0 || time.Since(start) < time.Second {
		t.Fatalf("-a duration:1: exit %d after %v", code, time.Since(start))
	}
	if c, d, m := summary(t, run.stderr.String()); c != 0 || d != 0 || m != 0 {
		t.Errorf("idle capture summary %d %d %d", c, d, m)
	}

	// Ctrl-C: the JSON array is closed and the -w file is complete.
	spool := filepath.Join(t.TempDir(), "live.pcapng")
	run = startMqtap(t, "Capturing on", "sniff", "-i", "lo", "-f", port, "-T", "json", "-w", spool)
	for i := range 3 {
		sendConnect(t, addr, fmt.Sprintf("json%d", i))
	}
	if err := brokertest.WaitFor(run.stdout, "json2", 10*time.Second, run.done); err != nil {
		t.Fatal(err)
	}
	if code := run.interrupt(t); code != 0 {
		t.Fatalf("exit %d: %s", code, run.stderr.String())
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(run.stdout.String()), &recs); err != nil || len(recs) != 3 {
		t.Fatalf("-T json after Ctrl-C: %v, %d records:\n%s", err, len(recs), run.stdout.String())
	}
	captured, _, _ := summary(t, run.stderr.String())
	code, out, errOut := mqtap("read", spool, "-T", "fields", "-e", "mqtt.clientid")
	if code != 0 || out != "json0\njson1\njson2\n" {
		t.Errorf("read of the -w file: exit %d %q %q", code, out, errOut)
	}
	tsOut, err := exec.Command("capinfos", "-c", "-M", spool).Output()
	if err != nil || !strings.Contains(string(tsOut), "Number of packets:   "+strconv.Itoa(captured)) {
		t.Errorf("capinfos of the -w file: %v %s (sniff captured %d)", err, tsOut, captured)
	}
}

// TestSniffErrors checks the one-line errors: privileges, interfaces, usage.
func TestSniffErrors(t *testing.T) {
	needRoot(t)
	bin := mqtapBinary(t)
	cmd := exec.Command(bin, "sniff", "-i", "lo")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("unprivileged sniff: %v %s", err, out)
	}
	msg := string(out)
	if strings.Count(strings.TrimSpace(msg), "\n") != 0 || !strings.Contains(msg, "needs root or the CAP_NET_RAW capability") ||
		!strings.Contains(msg, "sudo setcap cap_net_raw,cap_net_admin+ep "+bin) {
		t.Errorf("privilege error: %q", msg)
	}

	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sniff", "-i", "nope0"}, 1, `no interface "nope0": the interfaces are lo`},
		{[]string{"sniff"}, 2, "sniff needs an interface"},
		{[]string{"sniff", "-i", "lo", "-a", "minutes:3"}, 2, `-a "minutes:3"`},
		{[]string{"sniff", "-i", "lo", "-f", "1883,70000"}, 2, `-f "1883,70000"`},
		{[]string{"sniff", "-i", "lo", "-f", "1883", "--any-port"}, 2, "--any-port and -f"},
		{[]string{"sniff", "-i", "99"}, 2, "-i 99: there are"},
		{[]string{"sniff", "-i", "lo", "-Y", "mqtt.topic ==="}, 2, "-Y"},
	}
	for _, c := range cases {
		code, stdout, stderr := mqtap(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and %q", c.args, code, stderr, stdout, c.code, c.msg)
		}
	}
	code, stdout, _ := mqtap("sniff", "-D")
	if code != 0 || !strings.Contains(stdout, ". lo (Loopback)") || !strings.Contains(stdout, ". any (") {
		t.Errorf("-D: exit %d\n%s", code, stdout)
	}
}

// TestTapErrors checks that a tap that cannot connect says so in one line.
func TestTapErrors(t *testing.T) {
	port := brokertest.FreePort(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tap", fmt.Sprintf("mqtt://127.0.0.1:%d", port)}, 1, "connection refused"},
		{[]string{"tap", "http://127.0.0.1:1883"}, 1, "http"},
		{[]string{"tap"}, 2, "tap needs one broker URL"},
		{[]string{"tap", "mqtt://127.0.0.1:1883", "-a", "packets:3"}, 2, "use -c N"},
		{[]string{"tap", "mqtt://127.0.0.1:1883", "--qos", "3"}, 2, "QoS is 0, 1 or 2"},
	}
	for _, c := range cases {
		code, stdout, stderr := mqtap(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and %q", c.args, code, stderr, stdout, c.code, c.msg)
		}
	}
}
