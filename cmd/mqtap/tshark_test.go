package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// comparedFields are checked value for value against Wireshark's dissector:
// the fields of shared/tools/tshark-compare and more.
var comparedFields = []string{
	"mqtt.msgtype", "mqtt.len", "mqtt.hdrflags", "mqtt.topic", "mqtt.topic_len", "mqtt.qos", "mqtt.msgid",
	"mqtt.dupflag", "mqtt.retain", "mqtt.ver", "mqtt.protoname", "mqtt.conflags", "mqtt.kalive",
	"mqtt.clientid", "mqtt.username", "mqtt.passwd", "mqtt.willtopic", "mqtt.willmsg", "mqtt.msg",
	"mqtt.conack.val", "mqtt.conack.flags", "mqtt.conack.flags.sp", "mqtt.sub.qos",
	"mqtt.connack.reason_code", "mqtt.puback.reason_code", "mqtt.pubrec.reason_code",
	"mqtt.pubrel.reason_code", "mqtt.pubcomp.reason_code", "mqtt.suback.reason_code",
	"mqtt.unsuback.reason_code", "mqtt.disconnect.reason_code", "mqtt.auth.reason_code",
	"mqtt.property_len", "mqtt.property.content_type", "mqtt.property.topic_alias",
	"mqtt.prop_key", "mqtt.prop_value",
}

// tsharkPorts are decoded as MQTT by tshark too (Wireshark needs "decode as"
// for anything but 1883 and 8883).
var tsharkPorts = []string{"1884", "1885", "17501", "18830"}

type message struct {
	frame  int
	stream string // tcp.stream
	fields map[string][]string
}

// tsharkMessages decodes a capture with tshark and returns its MQTT messages
// in order. --no-duplicate-keys keeps every MQTT layer of a frame that holds
// several packets (plain -T json repeats the "mqtt" key and a JSON reader
// keeps only the last).
func tsharkMessages(t *testing.T, capture string, extra ...string) []message {
	t.Helper()
	args := append([]string{"-n", "-r", capture, "-T", "json", "--no-duplicate-keys", "-Y", "mqtt"}, extra...)
	for _, p := range tsharkPorts {
		args = append(args, "-d", "tcp.port=="+p+",mqtt")
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", capture, err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark JSON: %v", err)
	}
	var msgs []message
	for _, p := range pkts {
		var frame struct {
			Number string `json:"frame.number"`
		}
		json.Unmarshal(p.Source.Layers["frame"], &frame)
		n, _ := strconv.Atoi(frame.Number)
		var tcp struct {
			Stream string `json:"tcp.stream"`
		}
		json.Unmarshal(p.Source.Layers["tcp"], &tcp)
		raw := p.Source.Layers["mqtt"]
		var layers []json.RawMessage
		if err := json.Unmarshal(raw, &layers); err != nil {
			layers = []json.RawMessage{raw}
		}
		for _, l := range layers {
			m := message{frame: n, stream: tcp.Stream, fields: map[string][]string{}}
			if err := flatten(json.NewDecoder(strings.NewReader(string(l))), m.fields); err != nil {
				t.Fatalf("frame %d: mqtt layer: %v", n, err)
			}
			if _, ok := m.fields["mqtt.msgtype"]; ok {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs
}

// flatten collects every mqtt.* string value at any depth of tshark's tree,
// in document order.
func flatten(dec *json.Decoder, out map[string][]string) error {
	type level struct {
		object bool
		key    string // the key whose value comes next (objects), or of the array
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, level{object: true})
			case '[':
				key := ""
				if top >= 0 {
					key = stack[top].key
				}
				stack = append(stack, level{key: key})
			default:
				stack = stack[:top]
				if top > 0 && stack[top-1].object {
					stack[top-1].key = ""
				}
			}
			continue
		}
		if top < 0 {
			continue
		}
		if stack[top].object && stack[top].key == "" {
			stack[top].key, _ = tok.(string)
			continue
		}
		if v, ok := tok.(string); ok && strings.HasPrefix(stack[top].key, "mqtt.") {
			out[stack[top].key] = append(out[stack[top].key], v)
		}
		if stack[top].object {
			stack[top].key = ""
		}
	}
}

// mqtapMessages decodes a capture with mqtap's own command line.
func mqtapMessages(t *testing.T, capture string, extra ...string) []message {
	t.Helper()
	args := append([]string{"read", capture, "-T", "ndjson", "--show-secrets"}, extra...)
	for _, p := range tsharkPorts {
		args = append(args, "-d", "tcp.port=="+p+",mqtt")
	}
	code, out, stderr := mqtap(args...)
	if code != 0 {
		t.Fatalf("mqtap read %s: exit %d: %s", capture, code, stderr)
	}
	var msgs []message
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		m := message{fields: map[string][]string{}}
		for k, v := range rec {
			switch v := v.(type) {
			case []any:
				for _, e := range v {
					m.fields[k] = append(m.fields[k], fmt.Sprint(e))
				}
			default:
				m.fields[k] = []string{fmt.Sprint(v)}
			}
		}
		m.frame, _ = strconv.Atoi(m.fields["frame.number"][0])
		m.stream = m.fields["tcp.stream"][0]
		msgs = append(msgs, m)
	}
	return msgs
}

// norm makes tshark's and mqtap's spellings of one value comparable:
// numbers in any base, booleans, and colon-separated hex bytes.
func norm(field, s string) string {
	switch s {
	case "true", "True":
		return "1"
	case "false", "False":
		return "0"
	}
	if n, err := strconv.ParseInt(s, 0, 64); err == nil && field != "mqtt.msg" && field != "mqtt.willmsg" {
		return strconv.FormatInt(n, 10)
	}
	if field == "mqtt.msg" || field == "mqtt.willmsg" {
		return strings.ReplaceAll(s, ":", "")
	}
	return s
}

// TestAgreesWithTshark decodes the shared conformance captures and the
// project's samples with mqtap and with Wireshark's own dissector, and
// compares every message field by field.
func TestAgreesWithTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is required for this test (make deps installs it)")
	}
	total, agree, compared := 0, 0, 0
	for _, capture := range append(conformance(t), samples(t)...) {
		// tshark 4.0 does not decode MQTT inside WebSocket: the ws-*/wss-*
		// samples are checked against their ground truth
		// (pcaps/samples/ws-ground-truth.tsv) by the WebSocket tests instead.
		if base := filepath.Base(capture); strings.HasPrefix(base, "ws-") || strings.HasPrefix(base, "wss-") {
			continue
		}
		n, a, c := compareWithTshark(t, capture, nil, nil)
		total, agree, compared = total+n, agree+a, compared+c
	}
	t.Logf("%d/%d messages agree (%d field values compared)", agree, total, compared)
	if total == 0 || compared < 4*total {
		t.Fatalf("too little compared: %d messages, %d fields", total, compared)
	}
}

// compareWithTshark decodes one capture with tshark (and tsharkArgs) and
// mqtap read (and mqtapArgs) and reports every message that differs. It
// returns the messages tshark found, those that agree and the field values
// compared.
func compareWithTshark(t *testing.T, capture string, tsharkArgs, mqtapArgs []string) (total, agree, compared int) {
	t.Helper()
	want := tsharkMessages(t, capture, tsharkArgs...)
	got := mqtapMessages(t, capture, mqtapArgs...)
	if len(got) != len(want) {
		t.Errorf("%s: mqtap found %d messages, tshark %d", capture, len(got), len(want))
	}
	for i, w := range want {
		total++
		if i >= len(got) {
			break
		}
		g := got[i]
		var diffs []string
		if g.frame != w.frame {
			diffs = append(diffs, fmt.Sprintf("frame: tshark=%d mqtap=%d", w.frame, g.frame))
		}
		if g.stream != w.stream {
			diffs = append(diffs, fmt.Sprintf("tcp.stream: tshark=%s mqtap=%s", w.stream, g.stream))
		}
		for _, f := range comparedFields {
			wv, ok := w.fields[f]
			if !ok {
				continue
			}
			gv := g.fields[f]
			compared++
			if len(gv) == 1 && len(wv) > 1 && f != "mqtt.prop_key" && f != "mqtt.prop_value" && f != "mqtt.topic" && f != "mqtt.sub.qos" && f != "mqtt.suback.reason_code" && f != "mqtt.unsuback.reason_code" {
				wv = wv[:1] // tshark repeats some fields in subtrees; mqtap has them once
			}
			if !equalNorm(f, wv, gv) {
				diffs = append(diffs, fmt.Sprintf("%s: tshark=%q mqtap=%q", f, wv, gv))
			}
		}
		if len(diffs) > 0 {
			t.Errorf("%s frame %d message %d: %s", capture, w.frame, i, strings.Join(diffs, "; "))
			continue
		}
		agree++
	}
	return total, agree, compared
}

func equalNorm(field string, a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if norm(field, a[i]) != norm(field, b[i]) {
			return false
		}
	}
	return true
}
