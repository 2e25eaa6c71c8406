package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// subscribe is a record of a SUBSCRIBE with two topics, decoded by the real
// decoder.
func subscribe(t *testing.T) *session.Record {
	t.Helper()
	raw := []byte{0x82, 0x0e, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '\t', 'd', 0x00}
	r := &session.Record{Frame: 7, Time: time.Unix(1700000000, 5000), Relative: 1500 * time.Microsecond, FrameLen: 82,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 1883, Stream: 3}
	var c decode.Conn
	c.SetVersion(decode.V311)
	c.Decode(raw, true, &r.Packet)
	if m := r.Packet.Malformed(); m != "" {
		t.Fatalf("test packet malformed: %s", m)
	}
	return r
}

func write(t *testing.T, opts Options, recs ...*session.Record) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestNDJSONRepeatedFieldsAreArrays(t *testing.T) {
	out := write(t, Options{Format: NDJSON}, subscribe(t))
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	topics, ok := m["mqtt.topic"].([]any)
	if !ok || len(topics) != 2 || topics[0] != "a/b" || topics[1] != "c\td" {
		t.Errorf("mqtt.topic = %#v, want [a/b c\\td]", m["mqtt.topic"])
	}
	if m["frame.time_epoch"] != 1700000000.000005 || m["tcp.stream"] != float64(3) || m["ip.src"] != "10.0.0.1" {
		t.Errorf("record fields: %v", m)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("ndjson is not one line per record: %q", out)
	}
}

func TestFieldsJoinsValuesWithCommas(t *testing.T) {
	out := write(t, Options{Format: Fields, FieldNames: []string{"frame.number", "mqtt.topic", "mqtt.sub.qos", "nosuch.field"}}, subscribe(t))
	if out != "7\ta/b,c\td\t1,0\t\n" {
		t.Errorf("fields output %q", out)
	}
}

func TestTextSummary(t *testing.T) {
	out := write(t, Options{}, subscribe(t))
	for _, want := range []string{"    7 ", "   0.001500 ", "10.0.0.1:40000 → 10.0.0.2:1883", "SUBSCRIBE", "   82 Subscribe Request (id=1) [a/b]"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary %q lacks %q", out, want)
		}
	}
}

func TestControlCharactersInInfoAreEscaped(t *testing.T) {
	r := subscribe(t)
	var c decode.Conn
	c.SetVersion(decode.V311)
	c.Decode([]byte{0x30, 0x07, 0x00, 0x03, 'a', 0x1b, 'b', 'h', 'i'}, true, &r.Packet)
	out := write(t, Options{}, r)
	if strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `[a\x1bb]`) {
		t.Errorf("escape character reached the terminal: %q", out)
	}
}

func TestJSONStringEscaping(t *testing.T) {
	got := string(appendJSONString(nil, "a\"b\\c\n\x01\x7f\xffé"))
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s is not a JSON string: %v", got, err)
	}
	if back != "a\"b\\c\n\x01\x7f\ufffdé" {
		t.Errorf("round trip gave %q", back)
	}
}

func TestEmptyJSONArray(t *testing.T) {
	if out := write(t, Options{Format: JSON}); strings.TrimSpace(out) != "[\n]" {
		t.Errorf("empty -T json = %q", out)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{{Format: "xml"}, {Format: Fields}, {Format: JSON, Verbose: true}} {
		if _, err := New(&bytes.Buffer{}, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestAppendSeconds(t *testing.T) {
	for ns, want := range map[int64]string{0: "0.000000", 1499: "0.000001", 2_000_313_000: "2.000313", -5000: "-0.000005"} {
		if got := string(appendSeconds(nil, ns)); got != want {
			t.Errorf("appendSeconds(%d) = %q, want %q", ns, got, want)
		}
	}
}
