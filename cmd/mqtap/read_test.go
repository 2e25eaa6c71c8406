package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mqtap/mqtap/pcaps"
)

// shared is the folder of shared test material beside the checkout.
func shared(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MQTAP_SHARED")
	if dir == "" {
		dir = "../../../shared"
	}
	if _, err := os.Stat(filepath.Join(dir, "captures", "conformance")); err != nil {
		t.Fatalf("shared test captures not found at %s (set MQTAP_SHARED): %v", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

func conformance(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(shared(t), "captures", "conformance", "*.pcap"))
	if len(files) == 0 {
		t.Fatal("no conformance captures")
	}
	return files
}

func samples(t *testing.T) []string {
	files, _ := filepath.Glob("../../pcaps/samples/*.pcap*")
	if len(files) == 0 {
		t.Fatal("no sample captures in pcaps/samples")
	}
	return files
}

// mqtap runs the command line in-process.
func mqtap(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReadErrorsAreOneLineWithExitCodes(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a capture file\n"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	cap := conformance(t)[0]
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing file", []string{"read", filepath.Join(dir, "nope.pcap")}, 1, "no such file"},
		{"not a capture", []string{"read", text}, 1, "not a pcap or pcapng capture"},
		{"empty file", []string{"read", empty}, 1, "empty file"},
		{"directory", []string{"read", dir}, 1, "is a directory"},
		{"no file", []string{"read"}, 2, "read needs a capture file"},
		{"two files", []string{"read", cap, cap}, 2, "one capture file"},
		{"bad format", []string{"read", cap, "-T", "xml"}, 2, "unknown output format"},
		{"fields without -e", []string{"read", cap, "-T", "fields"}, 2, "needs at least one -e"},
		{"bad decode-as", []string{"read", cap, "-d", "udp.port==5,mqtt"}, 2, "tcp.port"},
		{"unknown field", []string{"read", cap, "-T", "fields", "-e", "mqtt.nosuch"}, 2, "unknown field(s) for -e: mqtt.nosuch"},
		{"bad filter", []string{"read", cap, "-Y", "mqtt.topic =="}, 2, "column 14: expected a value"},
		{"unknown filter field", []string{"sessions", cap, "-Y", "mqtt.nosuch"}, 2, "neither a field nor a protocol name"},
		{"bad filter in findings", []string{"findings", cap, "-Y", "(mqtt"}, 2, "column"},
		{"unknown flag", []string{"read", cap, "--frobnicate"}, 2, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, 1, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := mqtap(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.msg) {
				t.Errorf("stderr %q does not say %q", stderr, c.msg)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("error is %d lines, want one: %q", n+1, stderr)
			}
		})
	}
}

func TestReadFormats(t *testing.T) {
	cap := filepath.Join(shared(t), "captures", "conformance", "mqtt5-pub-mosquittoprops.pcap")
	code, out, stderr := mqtap("read", cap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.Contains(lines[2], "Publish Message (id=1) [topicX]") || !strings.HasPrefix(strings.TrimSpace(lines[0]), "4 ") {
		t.Fatalf("text output:\n%s", out)
	}

	code, out, _ = mqtap("read", cap, "-T", "ndjson")
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	if code != 0 || len(recs) != 5 {
		t.Fatalf("ndjson: exit %d, %d records", code, len(recs))
	}
	if recs[2]["mqtt.topic"] != "topicX" || recs[2]["frame.number"] != float64(8) || recs[2]["mqtap.type"] != "PUBLISH" || recs[2]["mqtt.msgtype"] != float64(3) {
		t.Errorf("PUBLISH record: %v", recs[2])
	}
	if recs[0]["mqtt.passwd"] != "********" || recs[0]["mqtt.username"] != "user" {
		t.Errorf("CONNECT password not masked or username missing: %v", recs[0])
	}
	_, out, _ = mqtap("read", cap, "-T", "ndjson", "--show-secrets")
	if !strings.Contains(out, `"mqtt.passwd":"pass"`) {
		t.Errorf("--show-secrets did not show the password")
	}

	_, out, _ = mqtap("read", cap, "-T", "json")
	var arr []map[string]any
	if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 5 {
		t.Fatalf("-T json is not an array of 5 objects: %v\n%s", err, out)
	}

	_, out, _ = mqtap("read", cap, "-T", "fields", "-e", "frame.number", "-e", "mqtt.topic", "-e", "mqtt.prop_key")
	if !strings.Contains(out, "8\ttopicX\tuserprop3") {
		t.Errorf("-T fields output:\n%s", out)
	}

	_, out, _ = mqtap("read", cap, "-V")
	for _, want := range []string{"MQ Telemetry Transport Protocol, Publish Message (id=1) [topicX]", "Password: ********", "Topic: topicX"} {
		if !strings.Contains(out, want) {
			t.Errorf("-V output lacks %q", want)
		}
	}
}

func TestTruncatedCapture(t *testing.T) {
	src := filepath.Join(shared(t), "captures", "conformance", "mqtt311-pub-qos2.pcap")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, data[:len(data)-20], 0o644)
	code, out, stderr := mqtap("read", cut)
	if code != 0 || !strings.Contains(stderr, "truncated after frame") || strings.TrimSpace(out) == "" {
		t.Errorf("truncated in the last frame: exit %d, stderr %q, %d bytes of output", code, stderr, len(out))
	}
	headerOnly := filepath.Join(dir, "header.pcap")
	os.WriteFile(headerOnly, data[:24+10], 0o644)
	code, _, stderr = mqtap("read", headerOnly)
	if code != 1 || !strings.Contains(stderr, "truncated before its first frame") {
		t.Errorf("truncated in the first frame: exit %d, stderr %q", code, stderr)
	}
}

// TestLinkTypesAndCompression rewrites a real capture with every link-layer
// header mqtap reads, and gzip-compressed, and expects the same records.
func TestLinkTypesAndCompression(t *testing.T) {
	src := filepath.Join(shared(t), "captures", "conformance", "mqtt311-pub-qos1.pcap")
	_, want, _ := mqtap("read", src, "-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtt.topic", "-e", "mqtt.msgid")
	if strings.Count(want, "\n") < 4 {
		t.Fatalf("reference output too short:\n%s", want)
	}
	dir := t.TempDir()
	variants := map[string]func(eth []byte) []byte{
		"null": func(eth []byte) []byte { return append([]byte{30, 0, 0, 0}, eth[14:]...) }, // AF_INET6 on BSD
		"raw":  func(eth []byte) []byte { return eth[14:] },
		"sll": func(eth []byte) []byte {
			h := []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, eth[12], eth[13]}
			return append(h, eth[14:]...)
		},
		"sll2": func(eth []byte) []byte {
			h := []byte{eth[12], eth[13], 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}
			return append(h, eth[14:]...)
		},
		"vlan": func(eth []byte) []byte {
			h := append(append([]byte{}, eth[:12]...), 0x81, 0x00, 0x00, 0x2a, eth[12], eth[13])
			return append(h, eth[14:]...)
		},
	}
	links := map[string]layers.LinkType{"null": layers.LinkTypeNull, "raw": layers.LinkTypeRaw, "sll": layers.LinkTypeLinuxSLL, "sll2": layers.LinkTypeLinuxSLL2, "vlan": layers.LinkTypeEthernet}
	for name, conv := range variants {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".pcap")
			rewrite(t, src, out, links[name], conv)
			code, got, stderr := mqtap("read", out, "-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtt.topic", "-e", "mqtt.msgid")
			if code != 0 || got != want {
				t.Errorf("exit %d (%s), got\n%s\nwant\n%s", code, stderr, got, want)
			}
		})
	}
	t.Run("gzip", func(t *testing.T) {
		raw, _ := os.ReadFile(src)
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(raw)
		zw.Close()
		gz := filepath.Join(dir, "c.pcap.gz")
		os.WriteFile(gz, z.Bytes(), 0o644)
		code, got, stderr := mqtap("read", gz, "-T", "fields", "-e", "frame.number", "-e", "mqtt.msgtype", "-e", "mqtt.topic", "-e", "mqtt.msgid")
		if code != 0 || got != want {
			t.Errorf("exit %d (%s), got\n%s\nwant\n%s", code, stderr, got, want)
		}
	})
}

// rewrite copies a capture, converting every frame and setting the link type.
func rewrite(t *testing.T, src, dst string, link layers.LinkType, conv func([]byte) []byte) {
	t.Helper()
	r, err := pcaps.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.Next()
		if err != nil {
			break
		}
		out := conv(append([]byte(nil), data...))
		ci.CaptureLength, ci.Length = len(out), len(out)
		if err := w.WritePacket(ci, out); err != nil {
			t.Fatal(err)
		}
	}
}
