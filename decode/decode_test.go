package decode

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// step is one packet of a connection.
type step struct {
	fromClient bool
	raw        []byte
}

func cli(b []byte) step { return step{true, b} }
func srv(b []byte) step { return step{false, b} }

// run decodes steps on a fresh connection and returns it with the last packet.
func run(t *testing.T, steps ...step) (*Conn, *Packet) {
	t.Helper()
	c := &Conn{}
	p := &Packet{}
	for _, st := range steps {
		c.Decode(st.raw, st.fromClient, p)
		checkInvariants(t, p)
	}
	return c, p
}

// vals returns the values of every field named name, comma separated.
func vals(p *Packet, name string) string {
	var out []string
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Name != name {
			continue
		}
		switch f.Kind {
		case KindUint, KindBool:
			out = append(out, fmt.Sprint(f.Uint))
		case KindString:
			out = append(out, string(f.Bytes))
		case KindBytes:
			out = append(out, fmt.Sprintf("%x", f.Bytes))
		default:
			out = append(out, "-")
		}
	}
	return strings.Join(out, ",")
}

func problems(p *Packet) string {
	var out []string
	for _, pr := range p.Problems {
		out = append(out, fmt.Sprintf("%v %s: %s", pr.Severity, pr.Rule, pr.Text))
	}
	return strings.Join(out, "; ")
}

// checkInvariants checks what every decoded packet must satisfy.
func checkInvariants(t testing.TB, p *Packet) {
	t.Helper()
	prev := -1
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Off < 0 || f.Len < 0 || f.Off+f.Len > len(p.Raw) {
			t.Fatalf("field %s at %d+%d outside the %d-byte packet", f.Name, f.Off, f.Len, len(p.Raw))
		}
		if int(f.Depth) > prev+1 {
			t.Fatalf("field %s at depth %d follows depth %d", f.Name, f.Depth, prev)
		}
		prev = int(f.Depth)
		if f.Name == "" || FieldTitle(f.Name) == "" {
			t.Fatalf("field %q has no title", f.Name)
		}
		if Label(p, f) == "" {
			t.Fatalf("field %s has no label", f.Name)
		}
	}
	for _, pr := range p.Problems {
		if pr.Off < 0 || pr.Len < 0 || pr.Off+pr.Len > len(p.Raw) || pr.Text == "" {
			t.Fatalf("problem %+v outside the %d-byte packet or without text", pr, len(p.Raw))
		}
		if pr.Severity != Malformed && pr.Severity != Violation {
			t.Fatalf("problem %+v has no severity", pr)
		}
	}
	if p.Payload != nil && (p.PayloadOff+len(p.Payload) != len(p.Raw)) {
		t.Fatalf("payload at %d+%d does not end the %d-byte packet", p.PayloadOff, len(p.Payload), len(p.Raw))
	}
	_ = Info(p)
}

func TestParseHeader(t *testing.T) {
	cases := []struct {
		in        []byte
		err       error
		typ       Type
		flags     uint8
		rem, hlen int
	}{
		{nil, ErrShort, 0, 0, 0, 0},
		{[]byte{0x30}, ErrShort, 0, 0, 0, 0},
		{[]byte{0x30, 0x80}, ErrShort, 0, 0, 0, 0},
		{[]byte{0xc0, 0x00}, nil, PINGREQ, 0, 0, 2},
		{[]byte{0x3b, 0x7f}, nil, PUBLISH, 0x0b, 127, 2},
		{[]byte{0x30, 0x80, 0x01}, nil, PUBLISH, 0, 128, 3},
		{[]byte{0x30, 0xff, 0x7f}, nil, PUBLISH, 0, 16383, 3},
		{[]byte{0x30, 0x80, 0x80, 0x01}, nil, PUBLISH, 0, 16384, 4},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, nil, PUBLISH, 0, 268435455, 5},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrRemainingLength, 0, 0, 0, 0},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0xff}, ErrRemainingLength, 0, 0, 0, 0},
	}
	for _, c := range cases {
		h, err := ParseHeader(c.in)
		if !errors.Is(err, c.err) {
			t.Errorf("ParseHeader(% x): error %v, want %v", c.in, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if h.Type != c.typ || h.Flags != c.flags || h.Remaining != c.rem || h.HeaderLen != c.hlen || h.Total() != c.rem+c.hlen {
			t.Errorf("ParseHeader(% x) = %+v (total %d)", c.in, h, h.Total())
		}
	}
}

func TestTypeNames(t *testing.T) {
	for ty, want := range map[Type][2]string{
		Reserved:    {"Reserved", "Reserved"},
		CONNECT:     {"CONNECT", "Connect Command"},
		PUBLISH:     {"PUBLISH", "Publish Message"},
		PUBREC:      {"PUBREC", "Publish Received"},
		UNSUBSCRIBE: {"UNSUBSCRIBE", "Unsubscribe Request"},
		PINGRESP:    {"PINGRESP", "Ping Response"},
		DISCONNECT:  {"DISCONNECT", "Disconnect Req"},
		AUTH:        {"AUTH", "Authentication Exchange"},
		Type(16):    {"Type(16)", "Unknown (0x10)"},
	} {
		if ty.String() != want[0] || ty.WiresharkName() != want[1] {
			t.Errorf("type %d: %q %q, want %q", uint8(ty), ty.String(), ty.WiresharkName(), want)
		}
	}
	if Malformed.String() != "malformed" || Violation.String() != "violation" || Severity(9).String() != "Severity(9)" {
		t.Errorf("severity names: %v %v %v", Malformed, Violation, Severity(9))
	}
}

// TestDecode decodes valid packets of every type in every version and
// checks their fields, Info and that they have no problem.
func TestDecode(t *testing.T) {
	type want map[string]string
	c5 := cli(connect50)
	c311 := cli(connect311)
	c31 := cli(connect31)
	cases := []struct {
		name  string
		steps []step
		ver   uint8
		info  string
		want  want
	}{
		{"3.1 CONNECT", []step{cli(pkt(0x10, s("MQIsdp"), []byte{3, 0xce}, u16(60), s("cid"), s("w/t"), s("wm"), s("u"), s("pw")))}, V31,
			"Connect Command", want{"mqtt.protoname": "MQIsdp", "mqtt.ver": "3", "mqtt.conflags": "206", "mqtt.conflag.qos": "1",
				"mqtt.conflag.willflag": "1", "mqtt.clientid": "cid", "mqtt.willtopic": "w/t", "mqtt.willmsg": "776d", "mqtt.username": "u", "mqtt.passwd": "pw"}},
		{"3.1 CONNACK", []step{c31, srv(pkt(0x20, []byte{0, 4}))}, V31, "Connect Ack",
			want{"mqtt.conack.flags.reserved": "0", "mqtt.conack.val": "4", "mqtt.conack.flags": ""}},
		{"3.1 PUBREL with DUP", []step{c31, cli(pkt(0x6a, u16(3)))}, V31, "Publish Release (id=3)",
			want{"mqtt.dupflag": "1", "mqtt.qos": "1", "mqtt.retain_reserved": "0", "mqtt.msgid": "3"}},
		{"3.1 SUBSCRIBE", []step{c31, cli(pkt(0x82, u16(1), s("a/b"), []byte{2}))}, V31, "Subscribe Request (id=1) [a/b]",
			want{"mqtt.topic": "a/b", "mqtt.sub.qos": "2", "mqtt.retain_reserved": "0"}},
		{"3.1.1 CONNECT", []step{cli(pkt(0x10, s("MQTT"), []byte{4, 0xc2}, u16(30), s("id"), s("user"), s("pass")))}, V311,
			"Connect Command", want{"mqtt.ver": "4", "mqtt.kalive": "30", "mqtt.username_len": "4", "mqtt.username": "user", "mqtt.passwd": "pass",
				"mqtt.conflag.uname": "1", "mqtt.conflag.passwd": "1", "mqtt.conflag.cleansess": "1"}},
		{"3.1.1 CONNACK", []step{c311, srv(pkt(0x20, []byte{1, 0}))}, V311, "Connect Ack",
			want{"mqtt.conack.flags": "1", "mqtt.conack.flags.sp": "1", "mqtt.conack.val": "0", "mqtt.connack.reason_code": ""}},
		{"3.1.1 PUBLISH QoS 0", []step{c311, cli(pkt(0x31, s("t/x"), []byte("hello")))}, V311, "Publish Message [t/x]",
			want{"mqtt.retain": "1", "mqtt.qos": "0", "mqtt.topic_len": "3", "mqtt.topic": "t/x", "mqtt.msg": "68656c6c6f", "mqtt.msgid": ""}},
		{"3.1.1 PUBLISH QoS 2 DUP", []step{c311, srv(pkt(0x3c, s("t"), u16(513), []byte{}))}, V311, "Publish Message (id=513) [t]",
			want{"mqtt.dupflag": "1", "mqtt.qos": "2", "mqtt.msgid": "513", "mqtt.msg": ""}},
		{"3.1.1 PUBACK", []step{c311, srv(pkt(0x40, u16(7)))}, V311, "Publish Ack (id=7)", want{"mqtt.msgid": "7", "mqtt.hdr_reserved": "0"}},
		{"3.1.1 PUBREC", []step{c311, srv(pkt(0x50, u16(7)))}, V311, "Publish Received (id=7)", want{"mqtt.msgid": "7"}},
		{"3.1.1 PUBREL", []step{c311, cli(pkt(0x62, u16(7)))}, V311, "Publish Release (id=7)", want{"mqtt.hdr_reserved": "2"}},
		{"3.1.1 PUBCOMP", []step{c311, srv(pkt(0x70, u16(7)))}, V311, "Publish Complete (id=7)", want{"mqtt.msgid": "7"}},
		{"3.1.1 SUBSCRIBE", []step{c311, cli(pkt(0x82, u16(9), s("a/+"), []byte{1}, s("#"), []byte{0}))}, V311,
			"Subscribe Request (id=9) [a/+] [#]", want{"mqtt.topic": "a/+,#", "mqtt.sub.qos": "1,0"}},
		{"3.1.1 SUBACK", []step{c311, srv(pkt(0x90, u16(9), []byte{1, 0x80}))}, V311, "Subscribe Ack (id=9)", want{"mqtt.suback.qos": "1,128"}},
		{"3.1.1 UNSUBSCRIBE", []step{c311, cli(pkt(0xa2, u16(10), s("a"), s("b")))}, V311, "Unsubscribe Request (id=10)", want{"mqtt.topic": "a,b"}},
		{"3.1.1 UNSUBACK", []step{c311, srv(pkt(0xb0, u16(10)))}, V311, "Unsubscribe Ack (id=10)", want{"mqtt.msgid": "10"}},
		{"3.1.1 PINGREQ", []step{c311, cli(pkt(0xc0))}, V311, "Ping Request", want{"mqtt.len": "0"}},
		{"3.1.1 PINGRESP", []step{c311, srv(pkt(0xd0))}, V311, "Ping Response", want{"mqtt.msgtype": "13"}},
		{"3.1.1 DISCONNECT", []step{c311, cli(pkt(0xe0))}, V311, "Disconnect Req", want{"mqtt.msgtype": "14"}},
		{"5.0 CONNECT", []step{cli(pkt(0x10, s("MQTT"), []byte{5, 0x06}, u16(60), props(prop(0x11, u32(30)), userProp("k", "v")),
			s("cid"), props(prop(0x18, u32(9)), prop(0x03, s("text/plain"))), s("w"), s("m")))}, V5, "Connect Command",
			want{"mqtt.properties": "-", "mqtt.property_len": "12,18", "mqtt.property_id": "17,38,24,3",
				"mqtt.property.session_expiry_interval": "30", "mqtt.property.user_property": "-", "mqtt.prop_key": "k", "mqtt.prop_value": "v",
				"mqtt.will_properties": "-", "mqtt.property.will_delay_interval": "9", "mqtt.property.content_type": "text/plain", "mqtt.willtopic": "w"}},
		{"5.0 CONNACK", []step{c5, srv(pkt(0x20, []byte{0, 0x00}, props(prop(0x22, u16(10)), prop(0x12, s("auto")), prop(0x24, []byte{1}))))}, V5,
			"Connect Ack", want{"mqtt.connack.reason_code": "0", "mqtt.conack.val": "", "mqtt.property.topic_alias_maximum": "10",
				"mqtt.property.assigned_client_identifier": "auto", "mqtt.property.max_qos": "1"}},
		{"5.0 PUBLISH", []step{c5, cli(pkt(0x32, s("a/b"), u16(1), props(prop(0x02, u32(60)), prop(0x09, []byte{0, 2, 0xff, 0}), prop(0x01, []byte{1})), []byte("x")))}, V5,
			"Publish Message (id=1) [a/b]", want{"mqtt.property.message_expiry_interval": "60", "mqtt.property.correlation_data": "ff00",
				"mqtt.property.payload_format_indicator": "1", "mqtt.msg": "78"}},
		{"5.0 PUBACK short", []step{c5, srv(pkt(0x40, u16(1)))}, V5, "Publish Ack (id=1)", want{"mqtt.puback.reason_code": "", "mqtt.properties": ""}},
		{"5.0 PUBACK reason", []step{c5, srv(pkt(0x40, u16(1), []byte{0x10}))}, V5, "Publish Ack (id=1)", want{"mqtt.puback.reason_code": "16", "mqtt.properties": ""}},
		{"5.0 PUBREC props", []step{c5, srv(pkt(0x50, u16(1), []byte{0x80}, props(prop(0x1f, s("why")))))}, V5, "Publish Received (id=1)",
			want{"mqtt.pubrec.reason_code": "128", "mqtt.property.reason_string": "why"}},
		{"5.0 PUBREL", []step{c5, cli(pkt(0x62, u16(1), []byte{0x92}))}, V5, "Publish Release (id=1)", want{"mqtt.pubrel.reason_code": "146"}},
		{"5.0 PUBCOMP", []step{c5, srv(pkt(0x70, u16(1), []byte{0}, props()))}, V5, "Publish Complete (id=1)", want{"mqtt.pubcomp.reason_code": "0", "mqtt.property_len": "0"}},
		{"5.0 SUBSCRIBE", []step{c5, cli(pkt(0x82, u16(2), props(prop(0x0b, enc(200))), s("a/#"), []byte{0x2d}, s("$share/g/b"), []byte{0x01}))}, V5,
			"Subscribe Request (id=2) [a/#] [$share/g/b]", want{"mqtt.property.subscription_identifier": "200", "mqtt.subscription_options": "45,1",
				"mqtt.subscription_options_qos": "1,1", "mqtt.subscription_options_nl": "1,0", "mqtt.subscription_options_rap": "1,0",
				"mqtt.subscription_options_retain": "2,0", "mqtt.subscription_options_reserved": "0,0", "mqtt.sub.qos": ""}},
		{"5.0 SUBACK", []step{c5, srv(pkt(0x90, u16(2), props(), []byte{2, 0x87}))}, V5, "Subscribe Ack (id=2)", want{"mqtt.suback.reason_code": "2,135", "mqtt.suback.qos": ""}},
		{"5.0 UNSUBSCRIBE", []step{c5, cli(pkt(0xa2, u16(3), props(userProp("a", "b")), s("x")))}, V5, "Unsubscribe Request (id=3)", want{"mqtt.topic": "x", "mqtt.prop_key": "a"}},
		{"5.0 UNSUBACK", []step{c5, srv(pkt(0xb0, u16(3), props(), []byte{0x11, 0x80}))}, V5, "Unsubscribe Ack (id=3)", want{"mqtt.unsuback.reason_code": "17,128"}},
		{"5.0 PINGREQ", []step{c5, cli(pkt(0xc0))}, V5, "Ping Request", want{"mqtt.len": "0"}},
		{"5.0 DISCONNECT short", []step{c5, cli(pkt(0xe0))}, V5, "Disconnect Req", want{"mqtt.disconnect.reason_code": ""}},
		{"5.0 DISCONNECT reason only", []step{c5, srv(pkt(0xe0, []byte{0x8e}))}, V5, "Disconnect Req", want{"mqtt.disconnect.reason_code": "142", "mqtt.properties": ""}},
		{"5.0 DISCONNECT props", []step{c5, cli(pkt(0xe0, []byte{0x04}, props(prop(0x11, u32(0)), prop(0x1c, s("srv2")))))}, V5, "Disconnect Req",
			want{"mqtt.disconnect.reason_code": "4", "mqtt.property.session_expiry_interval": "0", "mqtt.property.server_reference": "srv2"}},
		{"5.0 AUTH short", []step{c5, srv(pkt(0xf0))}, V5, "Authentication Exchange", want{"mqtt.auth.reason_code": ""}},
		{"5.0 AUTH", []step{c5, cli(pkt(0xf0, []byte{0x18}, props(prop(0x15, s("SCRAM")), prop(0x16, []byte{0, 1, 0xaa}))))}, V5, "Authentication Exchange",
			want{"mqtt.auth.reason_code": "24", "mqtt.property.authentication_method": "SCRAM", "mqtt.property.authentication_data": "aa"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p := run(t, c.steps...)
			if len(p.Problems) != 0 {
				t.Errorf("problems: %s", problems(p))
			}
			if p.Version != c.ver {
				t.Errorf("decoded as version %d, want %d", p.Version, c.ver)
			}
			if got := Info(p); got != c.info {
				t.Errorf("Info %q, want %q", got, c.info)
			}
			for name, w := range c.want {
				if got := vals(p, name); got != w {
					t.Errorf("%s = %q, want %q", name, got, w)
				}
			}
		})
	}
}

// TestPacketSummary checks the values Decode copies out of the fields.
func TestPacketSummary(t *testing.T) {
	raw := pkt(0x3b, s("a/b"), u16(42), []byte("pay"))
	_, p := run(t, cli(connect311), cli(raw))
	if p.Type != PUBLISH || p.Flags != 0x0b || !p.Dup || !p.Retain || p.QoS != 1 || p.PacketID != 42 ||
		string(p.Topic) != "a/b" || string(p.Payload) != "pay" || p.PayloadOff != len(raw)-3 ||
		p.HeaderLen != 2 || p.Remaining != len(raw)-2 || !p.FromClient || p.Version != V311 || p.TopicAlias != 0 {
		t.Errorf("summary: %+v", p)
	}
	if f := p.Field("mqtt.topic"); f == nil || f.Off != 4 || f.Len != 3 || f.Depth != 0 {
		t.Errorf("topic field %+v", f)
	}
	if f := p.Field("mqtt.qos"); f == nil || f.Off != 0 || f.Len != 1 || f.Depth != 1 {
		t.Errorf("qos field %+v", f)
	}
	if p.Field("mqtt.nothing") != nil || p.Malformed() != "" || p.Violation() != "" {
		t.Errorf("unexpected field or problem: %s", problems(p))
	}
	// Reuse: decoding a PINGREQ into the same Packet clears the PUBLISH values.
	var c Conn
	c.Decode(pkt(0xc0), true, p)
	if p.Topic != nil || p.Payload != nil || p.PacketID != 0 || p.QoS != 0 || len(p.Fields) != 4 {
		t.Errorf("packet not reset: %+v", p)
	}
	// Bytes after the packet are ignored.
	c.Decode(append(pkt(0xc0), 1, 2, 3), true, p)
	if len(p.Raw) != 2 || len(p.Problems) != 0 {
		t.Errorf("trailing input: raw %d bytes, %s", len(p.Raw), problems(p))
	}
}
