package decode

import (
	"strings"
	"testing"
)

func TestReasonName(t *testing.T) {
	cases := []struct {
		t    Type
		code uint8
		want string
	}{
		{CONNACK, 0x00, "Success"},
		{CONNACK, 0x86, "Bad User Name or Password"},
		{CONNACK, 0x8c, "Bad authentication method"},
		{CONNACK, 0x10, ""},
		{PUBACK, 0x10, "No matching subscribers"},
		{PUBREC, 0x99, "Payload format invalid"},
		{PUBREL, 0x92, "Packet Identifier not found"},
		{PUBREL, 0x10, ""},
		{PUBCOMP, 0x00, "Success"},
		{SUBACK, 0x00, "Granted QoS 0"},
		{SUBACK, 0x02, "Granted QoS 2"},
		{SUBACK, 0xa2, "Wildcard Subscription not supported"},
		{SUBACK, 0x03, ""},
		{UNSUBACK, 0x11, "No subscription existed"},
		{UNSUBACK, 0x80, "Unspecified error"},
		{DISCONNECT, 0x00, "Normal disconnection"},
		{DISCONNECT, 0x04, "Disconnect with Will Message"},
		{DISCONNECT, 0xa0, "Maximum connect time"},
		{DISCONNECT, 0x84, ""},
		{AUTH, 0x18, "Continue authentication"},
		{AUTH, 0x19, "Re-authenticate"},
		{AUTH, 0x80, ""},
		{PUBLISH, 0x00, ""},
	}
	for _, c := range cases {
		if got := ReasonName(c.t, c.code); got != c.want {
			t.Errorf("ReasonName(%v, 0x%02x) = %q, want %q", c.t, c.code, got, c.want)
		}
	}
	if ReturnCodeName(0) != "Connection Accepted" || ReturnCodeName(5) != "Connection Refused: not authorized" || ReturnCodeName(6) != "" {
		t.Errorf("ReturnCodeName: %q %q %q", ReturnCodeName(0), ReturnCodeName(5), ReturnCodeName(6))
	}
	if QoSName(1) != "At least once delivery (Acknowledged deliver)" || QoSName(4) != "" {
		t.Errorf("QoSName: %q %q", QoSName(1), QoSName(4))
	}
}

func TestPropertyNames(t *testing.T) {
	named := 0
	for id := 0; id < 256; id++ {
		name, field := PropertyName(uint8(id)), PropertyField(uint8(id))
		if (name == "") != (field == "") {
			t.Errorf("property 0x%02x: name %q field %q", id, name, field)
		}
		if name == "" {
			continue
		}
		named++
		if !strings.HasPrefix(field, "mqtt.property.") || FieldTitle(field) == "" {
			t.Errorf("property 0x%02x: field %q title %q", id, field, FieldTitle(field))
		}
	}
	if named != 27 {
		t.Errorf("%d properties named, want 27", named)
	}
	for id, want := range map[uint8][2]string{
		0x01: {"Payload Format Indicator", "mqtt.property.payload_format_indicator"},
		0x02: {"Message Expiry Interval", "mqtt.property.message_expiry_interval"},
		0x03: {"Content Type", "mqtt.property.content_type"},
		0x0b: {"Subscription Identifier", "mqtt.property.subscription_identifier"},
		0x23: {"Topic Alias", "mqtt.property.topic_alias"},
		0x24: {"Maximum QoS", "mqtt.property.max_qos"},
		0x26: {"User Property", "mqtt.property.user_property"},
		0x2a: {"Shared Subscription Available", "mqtt.property.shared_subscription_available"},
	} {
		if PropertyName(id) != want[0] || PropertyField(id) != want[1] {
			t.Errorf("property 0x%02x: %q %q, want %q", id, PropertyName(id), PropertyField(id), want)
		}
	}
	for name, want := range map[string]string{
		"mqtt.property.receive_maximum":          "mqtt.prop_number",
		"mqtt.property.subscription_identifier":  "mqtt.prop_number",
		"mqtt.property.response_topic":           "mqtt.prop_string",
		"mqtt.property.correlation_data":         "mqtt.prop_string",
		"mqtt.property.content_type":             "",
		"mqtt.property.topic_alias":              "",
		"mqtt.property.max_qos":                  "",
		"mqtt.property.user_property":            "",
		"mqtt.topic":                             "",
		"mqtt.property.authentication_method":    "mqtt.prop_string",
		"mqtt.property.wildcard_subscription_av": "",
	} {
		if got := WiresharkAlias(name); got != want {
			t.Errorf("WiresharkAlias(%q) = %q, want %q", name, got, want)
		}
	}
	if FieldTitle("mqtt.msgtype") != "Message Type" || FieldTitle("nope") != "" || !FieldHex("mqtt.hdrflags") || FieldHex("mqtt.len") {
		t.Errorf("FieldTitle/FieldHex")
	}
}

// label returns the label of the first field named name.
func label(t *testing.T, p *Packet, name string) string {
	t.Helper()
	f := p.Field(name)
	if f == nil {
		t.Fatalf("no field %s", name)
	}
	return Label(p, f)
}

func TestLabel(t *testing.T) {
	_, p := run(t, cli(connect50), cli(pkt(0x3b, s("a\nb\x01é\\"), u16(3), props(
		prop(0x02, u32(77)), prop(0x09, []byte{0, 2, 0xde, 0xad}), userProp("k", "v\tw"), prop(0x23, u16(4))),
		make([]byte, 40))))
	for name, want := range map[string]string{
		"mqtt.hdrflags":                         "Header Flags: 0x3b, Message Type: Publish Message, DUP Flag, QoS Level: At least once delivery (Acknowledged deliver), Retain",
		"mqtt.msgtype":                          "0011 .... = Message Type: Publish Message (3)",
		"mqtt.dupflag":                          ".... 1... = DUP Flag: Set",
		"mqtt.qos":                              ".... .01. = QoS Level: At least once delivery (Acknowledged deliver) (1)",
		"mqtt.retain":                           ".... ...1 = Retain: Set",
		"mqtt.topic":                            `Topic: a\nb\001é\`,
		"mqtt.msgid":                            "Message Identifier: 3",
		"mqtt.properties":                       "Properties",
		"mqtt.property_id":                      "ID: Message Expiry Interval (0x02)",
		"mqtt.property.message_expiry_interval": "Message Expiry Interval: 77",
		"mqtt.property.correlation_data":        "Correlation Data: dead",
		"mqtt.property.user_property":           `User Property: k = v\tw`,
		"mqtt.prop_value":                       `Value: v\tw`,
		"mqtt.property.topic_alias":             "Topic Alias: 4",
		"mqtt.msg":                              "Message: " + strings.Repeat("00", 36) + "…",
	} {
		if got := label(t, p, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	_, p = run(t, cli(connect50), cli(pkt(0x82, u16(1), props(), s("a"), []byte{0xed})), srv(pkt(0x20, []byte{0, 0x99}, props(prop(0x24, []byte{1})))))
	for name, want := range map[string]string{
		"mqtt.conack.flags":          "Acknowledge Flags: 0x00",
		"mqtt.conack.flags.reserved": "0000 000. = Reserved: Not set",
		"mqtt.connack.reason_code":   "Reason Code: Unknown (153)",
		"mqtt.property.max_qos":      "QoS: At least once delivery (Acknowledged deliver) (1)",
	} {
		if got := label(t, p, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	_, p = run(t, cli(connect50), cli(pkt(0x82, u16(1), props(), s("a"), []byte{0xed})))
	for name, want := range map[string]string{
		"mqtt.subscription_options":          "Subscription Options: 0xed, Retain Handling: Do not send msgs at subscription time, Retain As Published, No Local, QoS: At least once delivery (Acknowledged deliver)",
		"mqtt.subscription_options_reserved": "11.. .... = Reserved: 0x3",
		"mqtt.subscription_options_retain":   "..10 .... = Retain Handling: Do not send msgs at subscription time (2)",
		"mqtt.property_len":                  "Total Length: 0",
	} {
		if got := label(t, p, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	_, p = run(t, cli(pkt(0x10, s("MQIsdp"), []byte{3, 0x3f}, u16(5), s("c"), s("w"), []byte{0, 0})), srv(pkt(0x20, []byte{1, 9})))
	for name, want := range map[string]string{
		"mqtt.conack.flags.reserved": "Reserved: Set",
		"mqtt.conack.val":            "Return Code: Unknown (9)",
	} {
		if got := label(t, p, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	_, p = run(t, cli(pkt(0x10, s("MQIsdp"), []byte{3, 0x3f}, u16(5), s("c"), s("w"), []byte{0, 0})))
	for name, want := range map[string]string{
		"mqtt.conflags": "Connect Flags: 0x3f, Will Retain, QoS Level: Reserved, Will Flag, Clean Session Flag, (Reserved)",
		"mqtt.ver":      "Version: MQTT v3.1 (3)",
		"mqtt.willmsg":  "Will Message: <MISSING>",
	} {
		if got := label(t, p, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	// Invalid UTF-8 shows as U+FFFD; a field that is not in p still gets a label.
	_, p = run(t, cli(connect311), cli(pkt(0x30, s("a\xffb"))))
	if got := label(t, p, "mqtt.topic"); got != "Topic: a\ufffdb" {
		t.Errorf("invalid UTF-8 label %q", got)
	}
	f := *p.Field("mqtt.topic")
	if got := Label(p, &f); got != "Topic: a\ufffdb" {
		t.Errorf("copied field label %q", got)
	}
	if got := Label(p, &Field{Name: "mqtap.other", Kind: KindUint, Uint: 7}); got != "mqtap.other: 7" {
		t.Errorf("unknown field label %q", got)
	}
}

func TestInfo(t *testing.T) {
	cases := []struct {
		steps []step
		want  string
	}{
		{[]step{cli(connect311), cli(pkt(0x82, u16(5), s(""), []byte{1}, s("q"), []byte{1}, s(""), []byte{2}))}, "Subscribe Request (id=5) [] [q] [q]"},
		{[]step{cli(connect311), cli(pkt(0x82, u16(6), s("q"), []byte{1}, []byte{0, 5, 'a'}))}, "Subscribe Request (id=6) [q][Malformed Packet]"},
		{[]step{cli(connect311), cli(pkt(0x30, []byte{0, 9, 'a', 'b'}))}, "Publish Message[Malformed Packet]"},
		{[]step{cli(connect50), srv(pkt(0x30, s(""), props(prop(0x23, u16(4))), []byte("x")))}, "Publish Message []"},
		{[]step{cli(connect311), cli(pkt(0x00))}, "Reserved"},
		{[]step{cli(connect311), cli(pkt(0xf0))}, "Authentication Exchange"},
		{[]step{cli(connect311), cli(pkt(0x36, s("t"), u16(9)))}, "Publish Message (id=9) [t]"},
	}
	for _, c := range cases {
		_, p := run(t, c.steps...)
		if got := Info(p); got != c.want {
			t.Errorf("Info = %q, want %q", got, c.want)
		}
	}
}

func TestLabelEscapes(t *testing.T) {
	_, p := run(t, cli(connect311), cli(pkt(0x30, s("\a\b\f\n\r\t\v\x7f\x1b/ü"))))
	want := `Topic: \a\b\f\n\r\t\v\177\033/ü`
	if got := label(t, p, "mqtt.topic"); got != want {
		t.Errorf("label %q, want %q", got, want)
	}
}

// TestHeaderErrorFields checks a packet whose fixed header cannot be parsed
// on a connection of known version: the header flags are still decoded.
func TestHeaderErrorFields(t *testing.T) {
	c, p := run(t, cli(connect31))
	c.Decode([]byte{0x6a, 0xff, 0xff, 0xff, 0xff, 0x7f}, true, p)
	if p.Version != V31 || vals(p, "mqtt.retain_reserved") != "0" || vals(p, "mqtt.dupflag") != "1" || p.Malformed() == "" {
		t.Errorf("version %d fields %q: %s", p.Version, vals(p, "mqtt.dupflag"), problems(p))
	}
	checkInvariants(t, p)
}
