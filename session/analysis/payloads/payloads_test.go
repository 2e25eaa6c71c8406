package payloads

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

// keyring writes a keyring (and files beside it) and loads it.
func keyring(t *testing.T, toml string, files map[string]string) (*keys.Store, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "ring.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return keys.Load(path)
}

func TestRuleErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		files      map[string]string
		want       []string // in the error of keys.Load, or else of New
	}{
		{"unknown format", "\n[[rule]]\ntopics = [\"a\"]\npayload = { format = \"xml\" }\n", nil,
			[]string{"ring.toml:4", `unknown format "xml"`, "json, cbor, msgpack, protobuf, sparkplugb, text"}},
		{"unknown compression", "[[rule]]\ntopics = [\"a\"]\npayload = { format = \"json\" }\ncompression = \"lz4\"\n", nil,
			[]string{"ring.toml:4", `unknown compression "lz4"`}},
		{"payload not a table", "[[rule]]\ntopics = [\"a\"]\npayload = \"json\"\n", nil,
			[]string{"ring.toml:3", "payload is a string, want a table"}},
		{"format not a string", "[[rule]]\ntopics = [\"a\"]\npayload = { format = 3 }\n", nil,
			[]string{"ring.toml:3", "payload.format is a integer, want a string"}},
		{"proto that does not compile", "[[rule]]\ntopics = [\"a\"]\npayload = { format = \"protobuf\", proto = \"bad.proto\", message = \"x.M\" }\n",
			map[string]string{"bad.proto": "syntax = \"proto3\";\npackage x;\nmessage M { int32 a = 1 }\n"},
			[]string{"ring.toml:3", "bad.proto:3"}},
		{"message missing", "[[rule]]\ntopics = [\"a\"]\npayload = { format = \"protobuf\", proto = \"m.proto\", message = \"x.Nope\" }\n",
			map[string]string{"m.proto": "syntax = \"proto3\";\npackage x;\nmessage M { int32 a = 1; }\n"},
			[]string{"ring.toml:3", "x.Nope"}},
		{"proto without message", "[[rule]]\ntopics = [\"a\"]\npayload = { format = \"protobuf\", proto = \"m.proto\" }\n",
			map[string]string{"m.proto": "syntax = \"proto3\";\nmessage M { int32 a = 1; }\n"},
			[]string{"ring.toml:3", "no message"}},
		{"proto for another format", "[[rule]]\ntopics = [\"a\"]\npayload = { format = \"json\", proto = \"m.proto\", message = \"M\" }\n", nil,
			[]string{"ring.toml:3", `not "json"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := keyring(t, tc.toml, tc.files)
			if err == nil {
				_, err = New(store)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error on several lines: %q", msg)
			}
		})
	}
}

// publish returns a PUBLISH record on topic, on stream.
func publish(stream int, topic string, data []byte) *session.Record {
	return &session.Record{Stream: stream, Packet: decode.Packet{Type: decode.PUBLISH, Topic: []byte(topic), Payload: data, FromClient: true}}
}

// metric is a Sparkplug B metric: a name (or "") and an alias (or 0), and
// a double value.
type metric struct {
	name  string
	alias uint64
	value float64
}

// spb encodes a Sparkplug B payload with protowire: seq (when >= 0) and
// double metrics.
func spb(seq int, ms ...metric) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1700000000000)
	for _, m := range ms {
		var mb []byte
		if m.name != "" {
			mb = protowire.AppendTag(mb, 1, protowire.BytesType)
			mb = protowire.AppendString(mb, m.name)
		}
		if m.alias != 0 {
			mb = protowire.AppendTag(mb, 2, protowire.VarintType)
			mb = protowire.AppendVarint(mb, m.alias)
		}
		mb = protowire.AppendTag(mb, 4, protowire.VarintType)
		mb = protowire.AppendVarint(mb, 10) // Double
		mb = protowire.AppendTag(mb, 13, protowire.Fixed64Type)
		mb = protowire.AppendFixed64(mb, math.Float64bits(m.value))
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, mb)
	}
	if seq >= 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(seq))
	}
	return b
}

func TestSparkplugState(t *testing.T) {
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "spBv1.0/G/"
	steps := []struct {
		stream       int
		topic        string
		data         []byte
		value, found string // mqtap.value, and the findings' codes joined
	}{
		{1, ns + "NBIRTH/E", spb(0, metric{"T", 1, 20.5}, metric{"P", 2, 1}), `{"timestamp":1700000000000,"seq":0,"metrics":{"T":20.5,"P":1}}`, ""},
		{1, ns + "DBIRTH/E/D", spb(1, metric{"S", 3, 7}), `{"timestamp":1700000000000,"seq":1,"metrics":{"S":7}}`, ""},
		{1, ns + "NDATA/E", spb(2, metric{"", 1, 21}), `{"timestamp":1700000000000,"seq":2,"metrics":{"T":21}}`, ""},
		{1, ns + "DDATA/E/D", spb(3, metric{"", 3, 8}), `{"timestamp":1700000000000,"seq":3,"metrics":{"S":8}}`, ""},
		// a subscriber's connection starting here: no gap for its first
		{2, ns + "NDATA/E", spb(2, metric{"", 2, 2}), `{"timestamp":1700000000000,"seq":2,"metrics":{"P":2}}`, ""},
		{1, ns + "NDATA/E", spb(5, metric{"", 2, 3}), `{"timestamp":1700000000000,"seq":5,"metrics":{"P":3}}`, "sparkplug.seq-gap"},
		{1, ns + "NCMD/E", spb(-1, metric{"", 1, 0}), `{"timestamp":1700000000000,"metrics":{"T":0}}`, ""},
		{1, ns + "NDEATH/E", spb(-1, metric{"bdSeq", 0, 0}), `{"timestamp":1700000000000,"metrics":{"bdSeq":0}}`, ""},
		// after the death the aliases are unknown
		{1, ns + "NDATA/E", spb(6, metric{"", 1, 22}), `{"timestamp":1700000000000,"seq":6,"metrics":{"1":22}}`, ""},
		// a rebirth names aliases anew; 255 then 0 is in order
		{3, ns + "NBIRTH/E", spb(254, metric{"U", 1, 1}), `{"timestamp":1700000000000,"seq":254,"metrics":{"U":1}}`, ""},
		{3, ns + "NDATA/E", spb(255, metric{"", 1, 2}), `{"timestamp":1700000000000,"seq":255,"metrics":{"U":2}}`, ""},
		{3, ns + "NDATA/E", spb(0, metric{"", 1, 3}), `{"timestamp":1700000000000,"seq":0,"metrics":{"U":3}}`, ""},
		{3, ns + "NDATA/E", spb(0, metric{"", 1, 4}), `{"timestamp":1700000000000,"seq":0,"metrics":{"U":4}}`, "sparkplug.seq-gap"},
		// not Sparkplug B: bytes that are not a payload
		{3, ns + "NDATA/E", []byte{0xff, 0xff}, "", "payload.malformed"},
	}
	for i, st := range steps {
		r := publish(st.stream, st.topic, st.data)
		s.Observe(r)
		f, js, err := r.DecodedValue()
		var codes []string
		for _, fd := range r.Findings {
			codes = append(codes, fd.Code.String())
		}
		if got := strings.Join(codes, ","); got != st.found {
			t.Errorf("step %d (%s): findings %q, want %q", i, st.topic, got, st.found)
		}
		if st.value == "" {
			if err == nil || f != payload.SparkplugB {
				t.Errorf("step %d: format %s, error %v; want a Sparkplug B error", i, f, err)
			}
			continue
		}
		if err != nil || f != payload.SparkplugB || string(js) != st.value {
			t.Errorf("step %d (%s): %s %s %v, want %s", i, st.topic, f, js, err, st.value)
		}
	}
}

// TestContentTypeBeforeTopic: a Sparkplug B topic with a Content Type is
// decoded as the content type says, and a rule comes before both.
func TestContentTypeBeforeTopic(t *testing.T) {
	store, err := keyring(t, "[[rule]]\ntopics = [\"spBv1.0/G/NDATA/R\"]\npayload = { format = \"text\" }\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(store)
	if err != nil {
		t.Fatal(err)
	}
	r := publish(1, "spBv1.0/G/NDATA/E", []byte(`{"a":1}`))
	r.Packet.ContentType = []byte("application/json")
	s.Observe(r)
	if f, js, err := r.DecodedValue(); f != payload.JSON || string(js) != `{"a":1}` || err != nil || !r.Value.Claimed {
		t.Errorf("content type: %s %s %v", f, js, err)
	}
	r = publish(1, "spBv1.0/G/NDATA/R", []byte(`{"a":1}`))
	r.Packet.ContentType = []byte("application/cbor")
	s.Observe(r)
	if f, js, err := r.DecodedValue(); f != payload.Text || string(js) != `"{\"a\":1}"` || err != nil || !strings.HasPrefix(r.Value.Why, "rule ") {
		t.Errorf("rule: %s %s %v (%s)", f, js, err, r.Value.Why)
	}
	// a JSON payload recognised by its content is not decoded until asked
	r = publish(1, "x", []byte(`{"a":1}`))
	s.Observe(r)
	if r.Value.Claimed || r.Value.Spec != (payload.Spec{}) {
		t.Errorf("unnamed format claimed: %+v", r.Value)
	}
}
