package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session/brokertest"
)

// sampleKeys returns the --keys arguments of a sample capture: its folder
// under pcaps/samples/keys, when there is one.
func sampleKeys(capture string) []string {
	name := filepath.Base(capture)
	name = name[:len(name)-len(filepath.Ext(name))]
	name = strings.TrimSuffix(name, ".pcap")
	dir := filepath.Join("../../pcaps/samples/keys", name)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return []string{"--keys", dir}
	}
	return nil
}

// checkFrameOrder reads a capture and fails when a record's frame number
// is smaller than the one before it. It returns the number of records.
func checkFrameOrder(t *testing.T, capture string, extra ...string) int {
	t.Helper()
	args := append([]string{"read", capture, "-T", "fields", "-e", "frame.number"}, extra...)
	code, out, errOut := mqtap(args...)
	if code != 0 {
		t.Fatalf("mqtap %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	prev, n := 0, 0
	for _, line := range strings.Fields(out) {
		f, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("%s: frame number %q", capture, line)
		}
		if f < prev {
			t.Errorf("%s: record %d is in frame %d, after one in frame %d: not in frame order", capture, n+1, f, prev)
		}
		prev = f
		n++
	}
	return n
}

// TestFrameOrderOnEveryCapture reads every sample and conformance capture
// (with its keys) and checks that frame numbers never decrease.
func TestFrameOrderOnEveryCapture(t *testing.T) {
	total := 0
	for _, capture := range append(samples(t), conformance(t)...) {
		total += checkFrameOrder(t, capture, sampleKeys(capture)...)
	}
	if total < 1000 {
		t.Errorf("only %d records in all the captures", total)
	}
}

// runBinary runs the built mqtap with stdin and returns its exit code and
// output.
func runBinary(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(mqtapBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("mqtap %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestStandardInput reads captures from pipes: "-" and "-r -", pcap,
// pcapng and gzip, the same records as from the file.
func TestStandardInput(t *testing.T) {
	for _, sample := range []string{"mqtt5.pcapng", "cooked-sll.pcap", "cooked-sll2.pcap.gz", "tls12-lab.pcapng"} {
		path := filepath.Join("../../pcaps/samples", sample)
		extra := sampleKeys(path)
		_, want, _ := mqtap(append([]string{"read", path, "-T", "ndjson"}, extra...)...)
		if strings.Count(want, "\n") < 5 {
			t.Fatalf("%s: only %q", sample, want)
		}
		for _, args := range [][]string{{"read", "-"}, {"read", "-r", "-"}} {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			code, got, errOut := runBinary(t, f, append(append(args, "-T", "ndjson"), extra...)...)
			f.Close()
			if code != 0 || got != want {
				t.Errorf("%s through mqtap %s: exit %d, %d bytes of output, want %d (stderr %s)", sample, strings.Join(args, " "), code, len(got), len(want), errOut)
			}
		}
	}
	// zcat x.pcapng.gz | mqtap read -
	gz := exec.Command("gzip", "-c", "../../pcaps/samples/mqtt311.pcapng")
	data, err := gz.Output()
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := mqtap("read", "../../pcaps/samples/mqtt311.pcapng")
	if code, got, errOut := runBinary(t, bytes.NewReader(data), "read", "-"); code != 0 || got != want {
		t.Errorf("gzip through a pipe: exit %d, got %q (stderr %s)", code, got, errOut)
	}
	// Not a capture: one line, exit 1.
	if code, _, errOut := runBinary(t, strings.NewReader("hello"), "read", "-"); code != 1 || !strings.Contains(errOut, "standard input") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("garbage on standard input: exit %d, stderr %q", code, errOut)
	}
}

// TestStreamFromTcpdump reads `tcpdump -U -w -` through a pipe: a record is
// printed while tcpdump still runs, as soon as its frame arrives.
func TestStreamFromTcpdump(t *testing.T) {
	needRoot(t)
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	td := exec.Command("tcpdump", "-i", "lo", "--immediate-mode", "-U", "-w", "-", "tcp port "+port)
	pipe, err := td.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	tdErr := &brokertest.Buffer{}
	td.Stderr = tdErr
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	defer td.Process.Kill()
	out := &brokertest.Buffer{}
	mq := exec.Command(mqtapBinary(t), "read", "-", "-d", "tcp.port=="+port+",mqtt", "-T", "fields", "-e", "mqtt.clientid")
	mq.Stdin, mq.Stdout, mq.Stderr = pipe, out, out
	if err := mq.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mq.Wait() }()
	if err := brokertest.WaitFor(tdErr, "listening on", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		sendConnect(t, addr, fmt.Sprintf("streamed-%d", i))
		if err := brokertest.WaitFor(out, fmt.Sprintf("streamed-%d\n", i), 10*time.Second, nil); err != nil {
			t.Fatalf("CONNECT %d not printed while tcpdump runs: %v", i, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("mqtap ended before tcpdump did: %v", err)
	default:
	}
	td.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("mqtap after tcpdump stopped: %v; output %s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mqtap did not end with its input")
	}
}

// withSecretsAt copies a capture into a pcapng whose Decryption Secrets
// Block holding keylog comes right after frame after (0: before the first
// frame).
func withSecretsAt(t *testing.T, src, keylog string, after int) string {
	t.Helper()
	secret, err := os.ReadFile(keylog)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcaps.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := filepath.Join(t.TempDir(), "secrets.pcapng")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcaps.NewWriter(f, r, pcaps.WriterInfo{Application: "mqtap test"})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		if n == after {
			if err := w.WriteSecrets(pcaps.SecretsTLSKeyLog, secret); err != nil {
				t.Fatal(err)
			}
		}
		data, ci, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFrame(data, ci, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEmbeddedSecrets reads captures that carry their TLS key log (editcap
// --inject-secrets puts it first; another file has it in its middle,
// before the connections it decrypts): every command decrypts them without
// --keys, as with the key log given.
func TestEmbeddedSecrets(t *testing.T) {
	sample := "../../pcaps/samples/tls12-lab.pcapng"
	keylog := "../../pcaps/samples/keys/tls12-lab/tls.keylog"
	injected := filepath.Join(t.TempDir(), "injected.pcapng")
	if out, err := exec.Command("editcap", "--inject-secrets", "tls,"+keylog, sample, injected).CombinedOutput(); err != nil {
		t.Fatalf("editcap --inject-secrets: %v\n%s", err, out)
	}
	middle := withSecretsAt(t, sample, keylog, 3) // after the first connection's TCP handshake
	_, want, _ := mqtap("read", sample, "--keys", keylog, "-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtap.tls_version")
	if strings.Count(want, "\n") < 40 {
		t.Fatalf("the sample decrypts to only %q", want)
	}
	for _, capture := range []string{injected, middle} {
		code, got, errOut := mqtap("read", capture, "-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtap.tls_version")
		if code != 0 || got != want || strings.Contains(errOut, "could not be decrypted") {
			t.Errorf("%s: exit %d, stderr %q, records differ from those with the key log: %s", filepath.Base(capture), code, errOut, firstDiff(lines(got), lines(want)))
		}
		if _, out, _ := mqtap("sessions", "--tls", capture, "-T", "json"); strings.Count(out, `"decrypted": "ok"`) != 3 {
			t.Errorf("%s: sessions --tls:\n%s", filepath.Base(capture), out)
		}
		// The certificate audit names the MQTT clients inside the
		// decrypted connections (without keys it cannot).
		if _, out, _ := mqtap("findings", capture); !strings.Contains(out, "le0nh4rt @ 127.0.0.1") {
			t.Errorf("%s: findings:\n%s", filepath.Base(capture), out)
		}
		// tshark decrypts the capture with its embedded key log too.
		cmp := exec.Command(filepath.Join(shared(t), "tools", "tshark-compare"), "--mqtap", mqtapBinary(t), capture)
		if out, err := cmp.CombinedOutput(); err != nil || !strings.Contains(string(out), "47/47") {
			t.Errorf("tshark-compare on %s: %v\n%s", filepath.Base(capture), err, out)
		}
		// The export keeps the secrets: tshark decrypts it by itself.
		exported := filepath.Join(t.TempDir(), "export.pcapng")
		runExport(t, capture, "-o", exported)
		if n := strings.Count(tsharkOut(t, exported, "-Y", "mqtt", "-d", "tcp.port==8883,tls"), "\n"); n < 40 {
			t.Errorf("%s: tshark decrypts %d MQTT frames of the export alone", filepath.Base(capture), n)
		}
	}
	// Secrets placed after the handshakes of the first connections do not
	// decrypt them (as in Wireshark), but do decrypt the last one.
	first, err := strconv.Atoi(lines(tsharkOut(t, sample, "-Y", "tcp.stream == 2", "-T", "fields", "-e", "frame.number"))[0])
	if err != nil {
		t.Fatal(err)
	}
	late := withSecretsAt(t, sample, keylog, first-1)
	_, got, errOut := mqtap("read", late, "-T", "fields", "-e", "tcp.stream")
	if !strings.Contains(errOut, "2 of 3 TLS connection(s) could not be decrypted") || strings.Trim(got, "2\n") != "" || got == "" {
		t.Errorf("secrets before the third connection: stdout %q stderr %q", got, errOut)
	}
}

// TestMergedLinkTypes reads a pcapng merged from an SLL2 and an Ethernet
// capture (mergecap): each interface's frames with its own link type, and
// every record naming its interface as tshark does.
func TestMergedLinkTypes(t *testing.T) {
	merged := filepath.Join(t.TempDir(), "merged.pcapng")
	if out, err := exec.Command("mergecap", "-F", "pcapng", "-w", merged, "../../pcaps/samples/cooked-sll2.pcap.gz", "../../pcaps/samples/mqtt5.pcapng").CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v\n%s", err, out)
	}
	want := map[string]bool{}
	for _, l := range lines(tsharkOut(t, merged, "-Y", "mqtt", "-T", "fields", "-e", "frame.number", "-e", "frame.interface_id", "-e", "frame.interface_name")) {
		want[l] = true
	}
	_, out, errOut := mqtap("read", merged, "-T", "fields", "-e", "frame.number", "-e", "frame.interface_id", "-e", "frame.interface_name")
	got := map[string]bool{}
	links := map[string]bool{}
	for _, l := range lines(out) {
		got[l] = true
		links[strings.Split(l, "\t")[1]] = true
	}
	if len(want) < 50 || len(links) != 2 || fmt.Sprint(got) != fmt.Sprint(want) || errOut != "" {
		t.Errorf("merged capture: %d frames with MQTT (tshark %d), interfaces %v, stderr %q", len(got), len(want), links, errOut)
	}
	cmp := exec.Command(filepath.Join(shared(t), "tools", "tshark-compare"), "--mqtap", mqtapBinary(t), merged)
	if out, err := cmp.CombinedOutput(); err != nil {
		t.Errorf("tshark-compare on the merged capture: %v\n%s", err, out)
	}
	// The interface is a field like the others, in filters too.
	_, out, _ = mqtap("read", merged, "-Y", `frame.interface_id == 1 && mqtt.msgtype == 3`, "-T", "fields", "-e", "frame.interface_name")
	if l := lines(out); len(l) == 0 || strings.Count(out, l[0]+"\n") != len(l) {
		t.Errorf("-Y frame.interface_id == 1: %q", out)
	}
	_, out, _ = mqtap("read", merged, "-V", "-c", "1")
	if !strings.Contains(out, "Interface id: ") {
		t.Errorf("-V without the interface:\n%s", out)
	}
}

// TestTuiReadsPipeWithEmbeddedSecrets opens, from a pipe, a capture whose
// TLS key log is in its middle: the terminal UI lists the MQTT packets
// inside TLS, with the interface in the frame's details.
func TestTuiReadsPipeWithEmbeddedSecrets(t *testing.T) {
	sample := "../../pcaps/samples/tls12-lab.pcapng"
	capture := withSecretsAt(t, sample, "../../pcaps/samples/keys/tls12-lab/tls.keylog", 3)
	tm := startTmux(t, 160, 45, "cat "+capture+" | "+mqtapBinary(t)+" tui -")
	tm.waitFor("the decrypted packets of the pipe", func(s string) bool {
		return strings.Contains(s, "Subscribe Request") && strings.Contains(s, "done")
	})
	tm.keys("Tab")
	time.Sleep(200 * time.Millisecond)
	tm.keys("e") // expand every subtree of the details
	tm.waitFor("the interface in the details", func(s string) bool { return strings.Contains(s, "Interface id: 0 (lo)") })
	tm.keys("q")
	if s := tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED ") }); !strings.Contains(s, "EXITED 0") {
		t.Errorf("mqtap tui - did not exit 0:\n%s", s)
	}
}

// TestSnapLengthCapture captures one session twice at once, whole and with
// tcpdump -s 96: every packet that starts a frame of the whole capture is
// in the cut one, in the same frame, with the fields the 96 bytes hold and
// marked truncated when its frame was cut; tshark agrees on what it shows.
func TestSnapLengthCapture(t *testing.T) {
	needRoot(t)
	b := brokertest.StartBroker(t)
	whole := brokertest.StartCapture(t, b.Port)
	cut := brokertest.StartCapture(t, b.Port, "-s", "96")
	sizes := []int{0, 10, 200, 1000, 3000, 20}
	for i, n := range sizes {
		msg := strings.Repeat("x", n)
		out, err := exec.Command("mosquitto_pub", "-h", b.Host, "-p", strconv.Itoa(b.Port), "-q", "1", "-t", fmt.Sprintf("snap/%d", i), "-m", msg).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		}
	}
	time.Sleep(300 * time.Millisecond)
	whole.Stop(t)
	cut.Stop(t)
	fields := []string{"-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtt.msgid", "-e", "mqtt.topic", "-e", "mqtap.truncated", "-d", "tcp.port==" + strconv.Itoa(b.Port) + ",mqtt"}
	_, all, _ := mqtap(append([]string{"read", whole.Path}, fields...)...)
	_, got, errOut := mqtap(append([]string{"read", cut.Path}, fields...)...)
	if !strings.Contains(errOut, "snap length cut") {
		t.Errorf("no word on the snap length: %q", errOut)
	}
	byFrame := map[string]string{}
	for _, l := range lines(got) {
		f := strings.SplitN(l, "\t", 2)
		if _, ok := byFrame[f[0]]; !ok {
			byFrame[f[0]] = f[1]
		}
	}
	firsts, truncated := 0, 0
	seen := map[string]bool{}
	for _, l := range lines(all) {
		f := strings.Split(l, "\t")
		if seen[f[0]] {
			continue // not the first packet of its frame: it may start past the 96 bytes
		}
		seen[f[0]] = true
		firsts++
		g, ok := byFrame[f[0]]
		if !ok {
			t.Errorf("frame %s: %s missing from the cut capture", f[0], l)
			continue
		}
		gf := strings.Split(g, "\t")
		if gf[0] != f[1] || gf[1] != f[2] || (gf[2] != f[3] && gf[2] != "") {
			t.Errorf("frame %s: cut capture has %q, the whole one %q", f[0], g, l)
		}
		if gf[3] == "True" {
			truncated++
		}
	}
	if firsts < 30 || truncated < 4 {
		t.Errorf("%d packets compared, %d of them truncated", firsts, truncated)
	}
	cmp := exec.Command(filepath.Join(shared(t), "tools", "tshark-compare"), "--mqtap", mqtapBinary(t), "--port", strconv.Itoa(b.Port), cut.Path)
	if out, err := cmp.CombinedOutput(); err != nil {
		t.Errorf("tshark-compare on the cut capture: %v\n%s", err, out)
	}
}

// TestLostConnectSegment drops a client's CONNECT frame with editcap, on
// an MQTT port and on a port where MQTT must be detected: every other
// packet is still shown, in its own frame and in frame order, as in the
// whole capture.
func TestLostConnectSegment(t *testing.T) {
	for _, c := range []struct {
		sample string
		frame  int
	}{{"mqtt5.pcapng", 4}, {"port17501.pcapng", 68}} {
		src := filepath.Join("../../pcaps/samples", c.sample)
		cut := filepath.Join(t.TempDir(), "cut.pcapng")
		if out, err := exec.Command("editcap", src, cut, strconv.Itoa(c.frame)).CombinedOutput(); err != nil {
			t.Fatalf("editcap: %v\n%s", err, out)
		}
		fields := []string{"-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtt.msgid"}
		_, whole, _ := mqtap(append([]string{"read", src}, fields...)...)
		var want []string
		for _, l := range lines(whole) {
			f := strings.SplitN(l, "\t", 2)
			n, _ := strconv.Atoi(f[0])
			switch {
			case n == c.frame: // the lost CONNECT
			case n > c.frame:
				want = append(want, strconv.Itoa(n-1)+"\t"+f[1])
			default:
				want = append(want, l)
			}
		}
		checkFrameOrder(t, cut)
		_, got, _ := mqtap(append([]string{"read", cut}, fields...)...)
		if !slices.Equal(lines(got), want) {
			t.Errorf("%s without frame %d: %s", c.sample, c.frame, firstDiff(lines(got), want))
		}
	}
}

// TestOverlappingFragmentsFinding writes, with scapy, a TCP segment
// carrying a CONNECT in IPv4 fragments, one of which overlaps another with
// different bytes: the CONNECT is decoded and mqtap findings reports the
// overlap.
func TestOverlappingFragmentsFinding(t *testing.T) {
	out := filepath.Join(t.TempDir(), "overlap.pcap")
	script := `
import sys
from scapy.all import Ether, IP, TCP, Raw, wrpcap
connect = bytes([0x10, 0x12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 6]) + b"client"
seg = bytes(TCP(sport=41600, dport=1883, flags="PA", seq=1000, ack=1) / Raw(connect))
def frag(off, more, data):
    return Ether() / IP(src="10.0.0.1", dst="10.0.0.2", proto=6, id=77, frag=off // 8, flags="MF" if more else 0) / Raw(data)
forged = bytearray(seg[8:24]); forged[3] ^= 0xff
wrpcap(sys.argv[1], [
    Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=41600, dport=1883, flags="S", seq=999),
    frag(0, True, seg[:16]),
    frag(8, True, bytes(forged)),
    frag(16, False, seg[16:]),
])
`
	if b, err := exec.Command("/usr/bin/python3", "-c", script, out).CombinedOutput(); err != nil {
		t.Fatalf("scapy: %v\n%s", err, b)
	}
	code, got, errOut := mqtap("read", out, "-T", "fields", "-e", "frame.number", "-e", "mqtt.clientid")
	if code != 0 || got != "4\tclient\n" || !strings.Contains(errOut, "1 ip.fragment-overlap") {
		t.Errorf("read: exit %d, stdout %q, stderr %q", code, got, errOut)
	}
	_, report, _ := mqtap("findings", out)
	if !strings.Contains(report, "ip.fragment-overlap") || !strings.Contains(report, "Overlapping IP fragments") {
		t.Errorf("findings:\n%s", report)
	}
}

// TestProtocolsAgreeWithTshark compares frame.protocols of every frame
// with an MQTT packet in the samples with tshark's, the dissectors of the
// payload after mqtt included (data-text-lines for text/plain, json,
// sparkplugb:protobuf); for a frame with several MQTT packets, whose
// chain tshark writes once for all of them, up to mqtt. TLS samples are
// read with their key logs; WebSocket samples, whose MQTT tshark does not
// see, are left out.
func TestProtocolsAgreeWithTshark(t *testing.T) {
	compared := 0
	for _, capture := range samples(t) {
		name := filepath.Base(capture)
		if strings.HasPrefix(name, "ws") {
			continue
		}
		var targs, margs []string
		if strings.HasPrefix(name, "tls") {
			keylog := filepath.Join("../../pcaps/samples/keys", strings.TrimSuffix(name, ".pcapng"), "tls.keylog")
			if _, err := os.Stat(keylog); err == nil {
				targs = []string{"-o", "tls.keylog_file:" + keylog}
				margs = []string{"--keys", keylog}
			}
		}
		want, multi := map[string]string{}, map[string]bool{}
		_, out, _ := mqtap(append([]string{"read", capture, "-T", "fields", "-e", "frame.number", "-e", "frame.protocols"}, margs...)...)
		seen := map[string]bool{}
		for _, l := range lines(out) {
			f := strings.SplitN(l, "\t", 2)
			multi[f[0]] = seen[f[0]]
			seen[f[0]] = true
		}
		for _, l := range lines(tsharkOut(t, capture, append(targs, "-Y", "mqtt", "-T", "fields", "-e", "frame.number", "-e", "frame.protocols")...)) {
			f := strings.SplitN(l, "\t", 2)
			if k := strings.Index(f[1], ":mqtt"); k >= 0 {
				want[f[0]] = f[1]
				if strings.Count(f[1], ":mqtt") > 1 || multi[f[0]] {
					want[f[0]] = f[1][:k+5]
				}
			}
		}
		for _, l := range lines(out) {
			f := strings.SplitN(l, "\t", 2)
			if w, ok := want[f[0]]; ok {
				compared++
				if got := f[1]; got != w && !(multi[f[0]] && strings.HasPrefix(got, w)) {
					t.Errorf("%s frame %s: frame.protocols %q, tshark %q", name, f[0], got, w)
				}
			}
		}
	}
	if compared < 1000 {
		t.Errorf("only %d frames compared", compared)
	}
}
