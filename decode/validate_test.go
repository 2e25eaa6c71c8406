package decode

import (
	"strings"
	"testing"
)

// rulecase is a packet (after setup) that must carry a problem of severity
// sev with statement id rule and text containing text.
type rulecase struct {
	name  string
	setup []step
	pk    step
	sev   Severity
	rule  string
	text  string
}

func checkRules(t *testing.T, cases []rulecase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p := run(t, append(append([]step(nil), c.setup...), c.pk)...)
			for _, pr := range p.Problems {
				if pr.Severity == c.sev && pr.Rule == c.rule && strings.Contains(pr.Text, c.text) {
					return
				}
			}
			t.Errorf("want %v %q %q; got: %s", c.sev, c.rule, c.text, problems(p))
		})
	}
}

var (
	s31  = []step{cli(connect31)}
	s311 = []step{cli(connect311)}
	s5   = []step{cli(connect50)}
)

// tam5 is an MQTT 5 connection whose client announced Topic Alias Maximum
// clientMax and whose server announced serverMax (negative: absent).
func tam5(clientMax, serverMax int) []step {
	var cp, sp []byte
	if clientMax >= 0 {
		cp = prop(0x22, u16(clientMax))
	}
	if serverMax >= 0 {
		sp = prop(0x22, u16(serverMax))
	}
	return []step{cli(connect5(props(cp))), srv(pkt(0x20, []byte{0, 0}, props(sp)))}
}

func TestViolations(t *testing.T) {
	alias := func(a int) []byte { return pkt(0x30, s("t"), props(prop(0x23, u16(a))), []byte("x")) }
	checkRules(t, []rulecase{
		// fixed header flags
		{"reserved flags 3.1.1", s311, srv(pkt(0x41, u16(1))), Violation, "MQTT-2.2.2-1", "reserved fixed header flags"},
		{"reserved flags 5.0", s5, srv(pkt(0x41, u16(1))), Violation, "MQTT-2.1.3-1", "reserved fixed header flags"},
		{"PUBREL flags", s311, cli(pkt(0x60, u16(1))), Violation, "MQTT-3.6.1-1", "0010"},
		{"SUBSCRIBE flags", s311, cli(pkt(0x80, u16(1), s("a"), []byte{0})), Violation, "MQTT-3.8.1-1", "0010"},
		{"UNSUBSCRIBE flags", s5, cli(pkt(0xa3, u16(1), props(), s("a"))), Violation, "MQTT-3.10.1-1", "0010"},
		{"3.1 PUBREL without QoS 1", s31, cli(pkt(0x60, u16(1))), Violation, "", "MQTT 3.1 PUBREL must have QoS 1"},
		{"DISCONNECT flags", s5, cli(pkt(0xe2)), Violation, "MQTT-3.14.1-1", "reserved fixed header flags"},
		{"AUTH flags", s5, cli(pkt(0xf8)), Violation, "MQTT-3.15.1-1", "reserved fixed header flags"},
		{"QoS 3", s311, cli(pkt(0x36, s("t"), u16(1))), Violation, "MQTT-3.3.1-4", "QoS 3"},
		{"DUP on QoS 0", s311, cli(pkt(0x38, s("t"))), Violation, "MQTT-3.3.1-2", "DUP"},
		{"remaining length not minimal 5.0", s5, cli([]byte{0xc0, 0x80, 0x00}), Violation, "MQTT-1.5.5-1", "remaining length"},
		{"remaining length not minimal 3.1.1", s311, cli([]byte{0xc0, 0x80, 0x00}), Violation, "", "remaining length"},
		{"property length not minimal", s5, cli(pkt(0x30, s("t"), []byte{0x80, 0x00})), Violation, "MQTT-1.5.5-1", "property length"},
		// packet identifiers
		{"PUBLISH id 0 3.1.1", s311, cli(pkt(0x32, s("t"), u16(0))), Violation, "MQTT-2.3.1-1", "packet identifier 0"},
		{"PUBLISH id 0 5.0 client", s5, cli(pkt(0x32, s("t"), u16(0), props())), Violation, "MQTT-2.2.1-3", "packet identifier 0"},
		{"PUBLISH id 0 5.0 server", s5, srv(pkt(0x34, s("t"), u16(0), props())), Violation, "MQTT-2.2.1-4", "packet identifier 0"},
		{"SUBSCRIBE id 0", s311, cli(pkt(0x82, u16(0), s("a"), []byte{0})), Violation, "MQTT-2.3.1-1", "packet identifier 0"},
		{"UNSUBSCRIBE id 0 5.0", s5, cli(pkt(0xa2, u16(0), props(), s("a"))), Violation, "MQTT-2.2.1-3", "packet identifier 0"},
		{"PUBACK id 0 3.1.1", s311, srv(pkt(0x40, u16(0))), Violation, "MQTT-2.3.1-6", "packet identifier 0"},
		{"PUBCOMP id 0 5.0", s5, srv(pkt(0x70, u16(0))), Violation, "MQTT-2.2.1-5", "packet identifier 0"},
		{"SUBACK id 0 3.1.1", s311, srv(pkt(0x90, u16(0), []byte{0})), Violation, "MQTT-2.3.1-7", "packet identifier 0"},
		{"UNSUBACK id 0 5.0", s5, srv(pkt(0xb0, u16(0), props(), []byte{0})), Violation, "MQTT-2.2.1-6", "packet identifier 0"},
		// properties
		{"duplicate property", s5, cli(pkt(0x30, s("t"), props(prop(0x03, s("a")), prop(0x03, s("b"))))), Violation, "", "Content Type included more than once"},
		{"duplicate subscription identifier in SUBSCRIBE", s5, cli(pkt(0x82, u16(1), props(prop(0x0b, enc(1)), prop(0x0b, enc(2))), s("a"), []byte{0})),
			Violation, "", "Subscription Identifier included more than once"},
		{"Payload Format Indicator 2", s5, cli(pkt(0x30, s("t"), props(prop(0x01, []byte{2})))), Violation, "", "Payload Format Indicator is 2"},
		{"payload not UTF-8", s5, cli(pkt(0x30, s("t"), props(prop(0x01, []byte{1})), []byte{0xff})), Violation, "", "payload is not well-formed UTF-8"},
		{"Request Problem Information 2", nil, cli(connect5(props(prop(0x17, []byte{2})))), Violation, "", "Request Problem Information is 2"},
		{"Request Response Information 3", nil, cli(connect5(props(prop(0x19, []byte{3})))), Violation, "", "Request Response Information is 3"},
		{"Maximum QoS 2", s5, srv(pkt(0x20, []byte{0, 0}, props(prop(0x24, []byte{2})))), Violation, "", "Maximum QoS is 2"},
		{"Retain Available 2", s5, srv(pkt(0x20, []byte{0, 0}, props(prop(0x25, []byte{2})))), Violation, "", "Retain Available is 2"},
		{"Receive Maximum 0", nil, cli(connect5(props(prop(0x21, u16(0))))), Violation, "", "Receive Maximum is 0"},
		{"Maximum Packet Size 0", s5, srv(pkt(0x20, []byte{0, 0}, props(prop(0x27, u32(0))))), Violation, "", "Maximum Packet Size is 0"},
		{"Subscription Identifier 0", s5, cli(pkt(0x82, u16(1), props(prop(0x0b, enc(0))), s("a"), []byte{0})), Violation, "", "Subscription Identifier is 0"},
		{"Subscription Identifier from client", s5, cli(pkt(0x30, s("t"), props(prop(0x0b, enc(3))))), Violation, "MQTT-3.3.4-6", "Subscription Identifier"},
		{"Response Topic wildcard", s5, cli(pkt(0x30, s("t"), props(prop(0x08, s("r/#"))))), Violation, "MQTT-3.3.2-14", "Response Topic"},
		{"Authentication Data without Method", nil, cli(connect5(props(prop(0x16, s("x"))))), Violation, "", "Authentication Data without Authentication Method"},
		{"Session Expiry in server DISCONNECT", s5, srv(pkt(0xe0, []byte{0}, props(prop(0x11, u32(1))))), Violation, "MQTT-3.14.2-2", "Session Expiry"},
		// topics and topic aliases
		{"wildcard + in PUBLISH topic", s311, cli(pkt(0x30, s("a/+"))), Violation, "MQTT-3.3.2-2", "wildcard"},
		{"wildcard # in PUBLISH topic", s5, cli(pkt(0x30, s("#"), props())), Violation, "MQTT-3.3.2-2", "wildcard"},
		{"empty topic 3.1.1", s311, cli(pkt(0x30, s(""), []byte("x"))), Violation, "MQTT-4.7.3-1", "zero-length topic name"},
		{"empty topic 5.0 without alias", s5, cli(pkt(0x30, s(""), props())), Violation, "MQTT-4.7.3-1", "zero-length topic name"},
		{"empty topic unknown alias", s5, cli(pkt(0x30, s(""), props(prop(0x23, u16(1))))), Violation, "", "has no mapping yet"},
		{"topic alias 0", s5, cli(alias(0)), Violation, "MQTT-3.3.2-8", "Topic Alias 0"},
		{"client alias above server maximum", tam5(10, 2), cli(alias(3)), Violation, "MQTT-3.3.2-9", "above the Topic Alias Maximum 2"},
		{"client alias without server maximum", tam5(10, -1), cli(alias(1)), Violation, "MQTT-3.2.2-18", "no Topic Alias Maximum"},
		{"server alias above client maximum", tam5(4, 10), srv(alias(5)), Violation, "MQTT-3.3.2-11", "above the Topic Alias Maximum 4"},
		{"server alias without client maximum", tam5(-1, 10), srv(alias(1)), Violation, "MQTT-3.1.2-27", "no Topic Alias Maximum"},
		{"will topic wildcard 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x06}, u16(0), s("c"), s("w/#"), s("m"))), Violation, "MQTT-4.7.1-1", "will topic"},
		{"will topic wildcard 5.0", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x06}, u16(0), props(), s("c"), props(), s("w/+"), s("m"))), Violation, "MQTT-4.7.0-1", "will topic"},
		// CONNECT
		{"second CONNECT", s311, cli(connect311), Violation, "MQTT-3.1.0-2", "second CONNECT"},
		{"CONNECT reserved flag", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x03}, u16(0), s("c"))), Violation, "MQTT-3.1.2-3", "reserved flag"},
		{"will QoS without will 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x0a}, u16(0), s("c"))), Violation, "MQTT-3.1.2-13", "Will QoS is 1"},
		{"will QoS without will 5.0", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x12}, u16(0), props(), s("c"))), Violation, "MQTT-3.1.2-11", "Will QoS is 2"},
		{"will retain without will 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x22}, u16(0), s("c"))), Violation, "MQTT-3.1.2-15", "Will Retain"},
		{"will retain without will 5.0", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x22}, u16(0), props(), s("c"))), Violation, "MQTT-3.1.2-13", "Will Retain"},
		{"will QoS 3 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x1e}, u16(0), s("c"), s("w"), s("m"))), Violation, "MQTT-3.1.2-14", "Will QoS is 3"},
		{"will QoS 3 5.0", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x1e}, u16(0), props(), s("c"), props(), s("w"), s("m"))), Violation, "MQTT-3.1.2-12", "Will QoS is 3"},
		{"password without user name", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x42}, u16(0), s("c"), s("pw"))), Violation, "MQTT-3.1.2-22", "Password Flag"},
		{"3.1 password without user name", nil, cli(pkt(0x10, s("MQIsdp"), []byte{3, 0x42}, u16(0), s("c"), s("pw"))), Violation, "MQTT-3.1.2-22", "Password Flag"},
		{"3.1 empty client identifier", nil, cli(pkt(0x10, s("MQIsdp"), []byte{3, 0x02}, u16(0), s(""))), Violation, "", "1 to 23 bytes"},
		{"3.1 long client identifier", nil, cli(pkt(0x10, s("MQIsdp"), []byte{3, 0x02}, u16(0), s(strings.Repeat("c", 24)))), Violation, "", "not 24"},
		{"3.1.1 empty client identifier without clean session", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x00}, u16(0), s(""))), Violation, "MQTT-3.1.3-7", "zero-length client identifier"},
		// CONNACK
		{"CONNACK flags 3.1.1", s311, srv(pkt(0x20, []byte{2, 0})), Violation, "", "reserved bits 7-1"},
		{"CONNACK flags 5.0", s5, srv(pkt(0x20, []byte{0x80, 0}, props())), Violation, "MQTT-3.2.2-1", "reserved bits 7-1"},
		{"session present with error 3.1.1", s311, srv(pkt(0x20, []byte{1, 5})), Violation, "MQTT-3.2.2-4", "Session Present"},
		{"session present with error 5.0", s5, srv(pkt(0x20, []byte{1, 0x87}, props())), Violation, "MQTT-3.2.2-6", "Session Present"},
		{"CONNACK return code 6", s311, srv(pkt(0x20, []byte{0, 6})), Violation, "", "return code 6 is reserved"},
		// reason codes
		{"CONNACK reason", s5, srv(pkt(0x20, []byte{0, 0x05}, props())), Violation, "MQTT-3.2.2-8", "not a CONNACK reason code"},
		{"PUBACK reason", s5, srv(pkt(0x40, u16(1), []byte{0x01})), Violation, "MQTT-3.4.2-1", "not a PUBACK reason code"},
		{"PUBREC reason", s5, srv(pkt(0x50, u16(1), []byte{0x92})), Violation, "MQTT-3.5.2-1", "not a PUBREC reason code"},
		{"PUBREL reason", s5, cli(pkt(0x62, u16(1), []byte{0x10})), Violation, "MQTT-3.6.2-1", "not a PUBREL reason code"},
		{"PUBCOMP reason", s5, srv(pkt(0x70, u16(1), []byte{0x80})), Violation, "MQTT-3.7.2-1", "not a PUBCOMP reason code"},
		{"SUBACK reason 5.0", s5, srv(pkt(0x90, u16(1), props(), []byte{0x03})), Violation, "MQTT-3.9.3-2", "not a SUBACK reason code"},
		{"SUBACK return code 3.1.1", s311, srv(pkt(0x90, u16(1), []byte{0x03})), Violation, "MQTT-3.9.3-2", "reserved"},
		{"UNSUBACK reason", s5, srv(pkt(0xb0, u16(1), props(), []byte{0x01})), Violation, "MQTT-3.11.3-2", "not an UNSUBACK reason code"},
		{"DISCONNECT reason", s5, cli(pkt(0xe0, []byte{0x01})), Violation, "MQTT-3.14.2-1", "not a DISCONNECT reason code"},
		{"AUTH reason", s5, cli(pkt(0xf0, []byte{0x01})), Violation, "MQTT-3.15.2-1", "not an AUTH reason code"},
		{"SUBACK without codes 3.1.1", s311, srv(pkt(0x90, u16(1))), Violation, "MQTT-3.8.4-5", "no return code"},
		{"SUBACK without codes 5.0", s5, srv(pkt(0x90, u16(1), props())), Violation, "MQTT-3.8.4-6", "no return code"},
		{"UNSUBACK without codes 5.0", s5, srv(pkt(0xb0, u16(1), props())), Violation, "MQTT-3.11.3-2", "no reason code"},
		// SUBSCRIBE and UNSUBSCRIBE
		{"SUBSCRIBE without topic 3.1.1", s311, cli(pkt(0x82, u16(1))), Violation, "MQTT-3.8.3-3", "no topic filter"},
		{"SUBSCRIBE without topic 5.0", s5, cli(pkt(0x82, u16(1), props())), Violation, "MQTT-3.8.3-2", "no topic filter"},
		{"UNSUBSCRIBE without topic", s311, cli(pkt(0xa2, u16(1))), Violation, "MQTT-3.10.3-2", "no topic filter"},
		{"subscription options reserved bits", s5, cli(pkt(0x82, u16(1), props(), s("a"), []byte{0x41})), Violation, "MQTT-3.8.3-5", "reserved bits"},
		{"requested QoS reserved bits", s311, cli(pkt(0x82, u16(1), s("a"), []byte{0x04})), Violation, "MQTT-3.8.3-4", "reserved bits"},
		{"requested QoS 3", s311, cli(pkt(0x82, u16(1), s("a"), []byte{0x03})), Violation, "MQTT-3.8.3-4", "QoS 3"},
		{"subscription QoS 3", s5, cli(pkt(0x82, u16(1), props(), s("a"), []byte{0x03})), Violation, "", "QoS 3"},
		{"retain handling 3", s5, cli(pkt(0x82, u16(1), props(), s("a"), []byte{0x30})), Violation, "", "Retain Handling 3"},
		{"No Local on shared subscription", s5, cli(pkt(0x82, u16(1), props(), s("$share/g/a"), []byte{0x04})), Violation, "MQTT-3.8.3-4", "No Local"},
		{"empty topic filter", s311, cli(pkt(0xa2, u16(1), s(""))), Violation, "MQTT-4.7.3-1", "zero-length topic filter"},
		{"# not last 3.1.1", s311, cli(pkt(0x82, u16(1), s("a/#/b"), []byte{0})), Violation, "MQTT-4.7.1-2", "multi-level wildcard"},
		{"# not alone 5.0", s5, cli(pkt(0x82, u16(1), props(), s("a#"), []byte{0})), Violation, "MQTT-4.7.1-1", "multi-level wildcard"},
		{"+ not alone 3.1.1", s311, cli(pkt(0xa2, u16(1), s("a/b+"))), Violation, "MQTT-4.7.1-3", "single-level wildcard"},
		{"+ not alone 5.0", s5, cli(pkt(0x82, u16(1), props(), s("+a/b"), []byte{0})), Violation, "MQTT-4.7.1-2", "single-level wildcard"},
		{"shared without ShareName", s5, cli(pkt(0x82, u16(1), props(), s("$share//a"), []byte{0})), Violation, "MQTT-4.8.2-1", "ShareName"},
		{"shared without filter separator", s5, cli(pkt(0x82, u16(1), props(), s("$share/g"), []byte{0})), Violation, "MQTT-4.8.2-1", "ShareName"},
		{"ShareName with wildcard", s5, cli(pkt(0x82, u16(1), props(), s("$share/g+/a"), []byte{0})), Violation, "MQTT-4.8.2-2", "ShareName contains"},
		{"shared without filter", s5, cli(pkt(0xa2, u16(1), props(), s("$share/g/"))), Violation, "MQTT-4.8.2-2", "no topic filter"},
		// direction
		{"CONNACK from the client", s311, cli(pkt(0x20, []byte{0, 0})), Violation, "", "CONNACK sent by the client"},
		{"SUBSCRIBE from the server", s311, srv(pkt(0x82, u16(1), s("a"), []byte{0})), Violation, "", "SUBSCRIBE sent by the server"},
		{"3.1.1 DISCONNECT from the server", s311, srv(pkt(0xe0)), Violation, "", "DISCONNECT sent by the server"},
	})
}

// TestNoFalseViolations checks packets close to the rules above that are fine.
func TestNoFalseViolations(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"3.1 PUBREL with DUP", []step{cli(connect31), cli(pkt(0x6a, u16(1)))}},
		{"3.1 SUBSCRIBE QoS 1 header", []step{cli(connect31), cli(pkt(0x82, u16(1), s("a"), []byte{0}))}},
		{"5.0 password without user name", []step{cli(pkt(0x10, s("MQTT"), []byte{5, 0x42}, u16(0), props(), s(""), s("pw")))}},
		{"5.0 DISCONNECT from the server", []step{cli(connect50), srv(pkt(0xe0, []byte{0x8b}))}},
		{"server PUBLISH with two subscription identifiers", []step{cli(connect50), srv(pkt(0x30, s("t"), props(prop(0x0b, enc(1)), prop(0x0b, enc(2)))))}},
		{"alias within both maxima", append(tam5(3, 3), cli(pkt(0x30, s("t"), props(prop(0x23, u16(3))))), srv(pkt(0x30, s("u"), props(prop(0x23, u16(3))))))},
		{"alias without CONNECT captured", []step{cli(pkt(0x30, s("t"), props(prop(0x23, u16(900))), []byte("x")))}},
		{"valid filters", []step{cli(connect50), cli(pkt(0x82, u16(1), props(), s("#"), []byte{0}, s("+"), []byte{0}, s("a/+/#"), []byte{0},
			s("/"), []byte{0}, s("+/+"), []byte{0}, s("$share/g/#"), []byte{0}))}},
		{"3.1.1 empty client identifier with clean session", []step{cli(pkt(0x10, s("MQTT"), []byte{4, 0x02}, u16(0), s("")))}},
		{"payload UTF-8", []step{cli(connect50), cli(pkt(0x30, s("t"), props(prop(0x01, []byte{1})), []byte("héllo")))}},
		{"user property repeated", []step{cli(connect50), cli(pkt(0x30, s("t"), props(userProp("a", "1"), userProp("a", "2"))))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p := run(t, c.steps...)
			if len(p.Problems) != 0 {
				t.Errorf("problems: %s", problems(p))
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	long := []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}
	checkRules(t, []rulecase{
		{"remaining length over 4 bytes", nil, cli(long), Malformed, "", "more than 4 bytes"},
		{"header cut short", nil, cli([]byte{0x30, 0x80}), Malformed, "", "inside the remaining length"},
		{"empty input", nil, cli(nil), Malformed, "", "empty packet"},
		{"shorter than remaining length", s311, cli(pkt(0x30, s("abc"), []byte("x"))[:5]), Malformed, "", "remaining length is 6 but only 3"},
		{"reserved type 0", s311, cli(pkt(0x00)), Malformed, "", "packet type 0 is reserved"},
		{"AUTH before 5.0", s311, cli(pkt(0xf0)), Malformed, "", "reserved before MQTT 5.0"},
		{"truncated topic", s311, cli(pkt(0x30, []byte{0, 9, 'a'})), Malformed, "", "ends inside the topic name"},
		{"truncated topic length", s311, cli(pkt(0x30, []byte{0})), Malformed, "", "ends inside the topic length"},
		{"truncated packet identifier", s311, cli(pkt(0x32, s("t"), []byte{1})), Malformed, "", "ends inside the packet identifier"},
		{"truncated will message", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x06}, u16(0), s("c"), s("w"), []byte{0, 5, 1})), Malformed, "", "ends inside the will message"},
		{"truncated password", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0xc2}, u16(0), s("c"), s("u"), []byte{0, 5})), Malformed, "", "ends inside the password"},
		{"truncated subscription options", s311, cli(pkt(0x82, u16(1), s("a"))), Malformed, "", "ends inside the subscription options"},
		{"truncated connect flags", nil, cli(pkt(0x10, s("MQTT"), []byte{4})), Malformed, "", "ends inside the connect flags"},
		{"properties past the packet", s5, cli(pkt(0x30, s("t"), []byte{9, 0x23, 0})), Malformed, "", "property length 9 runs past"},
		{"property value past the block", s5, cli(pkt(0x30, s("t"), []byte{2, 0x23, 0}, []byte("payload"))), Malformed, "", "property block ends inside the Topic Alias"},
		{"property string past the block", s5, cli(pkt(0x30, s("t"), []byte{3, 0x03, 0, 5}, []byte("payload"))), Malformed, "", "property block ends inside the Content Type"},
		{"user property value missing", s5, cli(pkt(0x30, s("t"), props(prop(0x26, s("k"))))), Malformed, "", "user property value length"},
		{"property length over 4 bytes", s5, cli(pkt(0x30, s("t"), []byte{0xff, 0xff, 0xff, 0xff, 0x7f})), Malformed, "", "property length is encoded in more than 4 bytes"},
		{"property length missing", s5, srv(pkt(0x20, []byte{0, 0})), Malformed, "MQTT-2.2.2-1", "property length is missing"},
		{"unknown property", s5, cli(pkt(0x30, s("t"), props(prop(0x05, []byte{1})))), Malformed, "", "unknown property identifier 0x05"},
		{"property not allowed", s5, cli(pkt(0x30, s("t"), props(prop(0x11, u32(1))))), Malformed, "", "Session Expiry Interval (0x11) is not allowed in PUBLISH"},
		{"will property not allowed", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x06}, u16(0), props(), s("c"), props(prop(0x11, u32(1))), s("w"), s("m"))),
			Malformed, "", "not allowed in the Will Properties"},
		{"invalid UTF-8 3.1.1", s311, cli(pkt(0x30, s("a\xffb"))), Malformed, "MQTT-1.5.3-1", "topic name is not well-formed UTF-8"},
		{"invalid UTF-8 5.0", s5, cli(pkt(0x82, u16(1), props(), s("\xc3"), []byte{0})), Malformed, "MQTT-1.5.4-1", "topic filter is not well-formed UTF-8"},
		{"surrogate in UTF-8", s311, cli(pkt(0x30, s("\xed\xa0\x80"))), Malformed, "MQTT-1.5.3-1", "not well-formed UTF-8"},
		{"U+0000 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x02}, u16(0), s("a\x00b"))), Malformed, "MQTT-1.5.3-2", "client identifier contains the null character"},
		{"U+0000 5.0", s5, cli(pkt(0x30, s("t"), props(prop(0x08, s("\x00"))))), Malformed, "MQTT-1.5.4-2", "Response Topic contains the null character"},
		{"user property not UTF-8", s5, cli(pkt(0x30, s("t"), props(userProp("k", "\xff")))), Malformed, "MQTT-1.5.7-1", "user property value"},
		{"protocol level mismatch", nil, cli(pkt(0x10, s("MQTT"), []byte{3, 2}, u16(0), s("c"))), Malformed, "MQTT-3.1.2-2", "protocol level 3"},
		{"MQIsdp level 4", nil, cli(pkt(0x10, s("MQIsdp"), []byte{4, 2}, u16(0), s("c"))), Malformed, "MQTT-3.1.2-2", "MQIsdp"},
		{"unknown protocol name", nil, cli(pkt(0x10, s("XYZ"), []byte{4, 2}, u16(0), s("c"))), Malformed, "MQTT-3.1.2-1", "\"XYZ\""},
		{"user name missing 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x82}, u16(0), s("c"))), Malformed, "MQTT-3.1.2-19", "user name is missing"},
		{"user name missing 5.0", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x82}, u16(0), props(), s("c"))), Malformed, "MQTT-3.1.2-17", "user name is missing"},
		{"password missing 3.1.1", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0xc2}, u16(0), s("c"), s("u"))), Malformed, "MQTT-3.1.2-21", "password is missing"},
		{"password missing 5.0", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x42}, u16(0), props(), s("c"))), Malformed, "MQTT-3.1.2-19", "password is missing"},
		{"will missing", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x06}, u16(0), props(), s("c"))), Malformed, "MQTT-3.1.2-9", "will fields are missing"},
		{"user name present without flag", nil, cli(pkt(0x10, s("MQTT"), []byte{4, 0x02}, u16(0), s("c"), s("u"))), Malformed, "MQTT-3.1.2-18", "unexpected bytes"},
		{"password present without flag", nil, cli(pkt(0x10, s("MQTT"), []byte{5, 0x82}, u16(0), props(), s("c"), s("u"), s("p"))), Malformed, "MQTT-3.1.2-18", "unexpected bytes"},
		{"PUBACK too long 3.1.1", s311, srv(pkt(0x40, u16(1), []byte{0})), Malformed, "", "1 unexpected bytes after the end of the PUBACK"},
		{"CONNACK too long 3.1.1", s311, srv(pkt(0x20, []byte{0, 0, 0})), Malformed, "", "unexpected bytes after the end of the CONNACK"},
		{"UNSUBACK too long 3.1.1", s311, srv(pkt(0xb0, u16(1), []byte{0})), Malformed, "", "unexpected bytes after the end of the UNSUBACK"},
		{"PINGREQ with body", s311, cli(pkt(0xc0, []byte{0})), Malformed, "", "unexpected bytes after the end of the PINGREQ"},
		{"DISCONNECT with body 3.1.1", s311, cli(pkt(0xe0, []byte{0})), Malformed, "", "unexpected bytes after the end of the DISCONNECT"},
		{"PUBACK bytes after properties", s5, srv(pkt(0x40, u16(1), []byte{0}, props(), []byte{7})), Malformed, "", "unexpected bytes after the end of the PUBACK"},
	})
}

// TestMalformedKeepsFields checks that a packet that cannot be parsed to
// its end keeps the fields decoded so far.
func TestMalformedKeepsFields(t *testing.T) {
	_, p := run(t, cli(connect311), cli(pkt(0x32, s("a/b"), []byte{1})))
	if vals(p, "mqtt.topic") != "a/b" || vals(p, "mqtt.msg") != "" || p.Malformed() == "" {
		t.Errorf("fields %q, malformed %q", vals(p, "mqtt.topic"), p.Malformed())
	}
	if Info(p) != "Publish Message[Malformed Packet]" {
		t.Errorf("Info %q", Info(p))
	}
	_, p = run(t, cli(connect50), cli(pkt(0x30, s("t"), props(prop(0x23, u16(1)), prop(0x05, []byte{9, 9})), []byte("pay"))))
	if vals(p, "mqtt.prop_unknown") != "\t\t" || vals(p, "mqtt.msg") != "706179" || vals(p, "mqtt.property.topic_alias") != "1" {
		t.Errorf("unknown property: prop_unknown %q msg %q: %s", vals(p, "mqtt.prop_unknown"), vals(p, "mqtt.msg"), problems(p))
	}
	// A Malformed problem that is not a truncation does not mark the Info.
	if strings.Contains(Info(p), "Malformed") {
		t.Errorf("Info %q", Info(p))
	}
}
