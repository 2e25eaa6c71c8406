package session

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
)

// registryRecords returns records that together carry every field of Head
// and Tail: one over IPv4 with everything set, one over IPv6 whose
// plaintext is not UTF-8, and one received directly from a broker.
func registryRecords() []*Record {
	full := &Record{
		Frame: 7, Time: time.Unix(1795458474, 583138551), Relative: 1500 * time.Millisecond, FrameLen: 120,
		Interface: &Interface{ID: 1, Name: "eth0", name: []byte("eth0")},
		Src:       netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 50000, DstPort: 1883, Stream: 3,
		Packet: decode.Packet{Type: decode.PUBLISH, Truncated: true,
			Problems: []decode.Problem{{Severity: decode.Malformed, Text: "topic runs past the packet"}}},
		Findings:   []Finding{{Code: KexMITM}, {Code: TCPGap}},
		WebSocket:  &WSInfo{},
		WSFrame:    WSFrameInfo{Fin: true, Opcode: 2, Masked: true, PayloadLen: 20},
		TLSVersion: 0x0304, TLSSuite: 0x1301,
		Crypto: Crypto{Session: "s#1", Scheme: "dh-fernet", Kex: "response", Verify: "ok", Decrypt: "ok",
			Reason: "none", Plaintext: []byte("hello"), Key: "k.pem", KDF: "hkdf", TokenTime: time.Unix(1795458000, 0), Message: 4},
	}
	v6 := &Record{
		Frame: 8, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
		Packet: decode.Packet{Type: decode.PUBLISH},
		Crypto: Crypto{Verify: "ok", Plaintext: []byte{0xff, 0xfe}},
	}
	direct := &Record{Frame: 1, Direct: true, Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"),
		Packet: decode.Packet{Type: decode.CONNACK}}
	spark := &Record{Frame: 9, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Packet: decode.Packet{Type: decode.PUBLISH, Topic: []byte("spBv1.0/G/DDATA/E/D"), Payload: []byte{}}}
	spark.Value.Sparkplug = &payload.SparkplugPayload{Seq: 3, HasSeq: true,
		Metrics: []payload.Metric{{Name: "T", HasName: true, Alias: 1, HasAlias: true, Datatype: 10, Value: []byte("21.5")}}}
	spark.Value.SetDecoded(payload.SparkplugB, []byte(`{"seq":3,"metrics":{"T":21.5}}`))
	return []*Record{full, v6, direct, spark}
}

// kindOf is the kind of the values of a record field of each type.
var kindOf = map[decode.FieldType]decode.Kind{
	decode.TypeUint: decode.KindUint, decode.TypeBool: decode.KindBool, decode.TypeString: decode.KindString,
	decode.TypeBytes: decode.KindBytes, decode.TypeIPv4: decode.KindString, decode.TypeIPv6: decode.KindString,
	decode.TypeTime: KindNumber, TypeJSON: KindJSON,
}

// TestFieldRegistry checks the declarations of the record's fields: each
// name declared once, and not by the decoder too; every field Head and Tail
// yield declared, with a type that matches the kind of its values; every
// declared field of Head and Tail yielded by some record.
func TestFieldRegistry(t *testing.T) {
	declared := map[string]bool{}
	for _, f := range Fields() {
		if declared[f.Name] {
			t.Errorf("%s is declared twice", f.Name)
		}
		declared[f.Name] = true
		if decode.LookupField(f.Name) != nil {
			t.Errorf("%s is declared by the decoder too", f.Name)
		}
		if LookupField(f.Name) != f {
			t.Errorf("%s: LookupField does not find its declaration", f.Name)
		}
		if (f.Source == FromText) != (f.Text != nil) {
			t.Errorf("%s: source %d with Text set %v", f.Name, f.Source, f.Text != nil)
		}
		if f.Title == "" && f.Source != FromChain {
			t.Errorf("%s has no title", f.Name)
		}
	}
	for _, name := range RecordFields() {
		if f := LookupField(name); f == nil || !KnownField(name) || f.Type == decode.TypeProtocol {
			t.Errorf("record field %s: declaration %v, known %v", name, f, KnownField(name))
		}
	}
	yielded := map[string]bool{}
	for _, r := range registryRecords() {
		for _, fs := range [][]decode.Field{r.Head(), r.Tail()} {
			for _, f := range fs {
				d := LookupField(f.Name)
				if d == nil || !KnownField(f.Name) {
					t.Errorf("frame %d: %s is not declared", r.Frame, f.Name)
					continue
				}
				if want, ok := kindOf[d.Type]; !ok || f.Kind != want {
					t.Errorf("%s is declared %v, its values are of kind %v", f.Name, d.Type, f.Kind)
				}
				yielded[f.Name] = true
			}
		}
	}
	for _, name := range RecordFields() {
		if !yielded[name] {
			t.Errorf("no record yields %s", name)
		}
	}
	if KnownField("nope") || LookupField("nope") != nil || !KnownField("mqtt.topic") || !KnownField("mqtt.prop_number") {
		t.Error("KnownField or LookupField answer wrongly for nope, mqtt.topic, mqtt.prop_number")
	}
}
