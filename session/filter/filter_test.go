package filter

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// mqttString encodes an MQTT UTF-8 string: two length bytes, then s.
func mqttString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// packet builds a control packet from its first byte and its body.
func packet(first byte, body ...[]byte) []byte {
	var b []byte
	for _, part := range body {
		b = append(b, part...)
	}
	out := decode.AppendVarint([]byte{first}, len(b))
	return append(out, b...)
}

// record decodes raw (MQTT 3.1.1 unless version says otherwise) into a
// record from 10.1.2.3:50000 to 192.168.0.1:1883, frame 7, stream 3.
func record(version uint8, raw []byte) *session.Record {
	r := &session.Record{
		Frame:    7,
		Time:     time.Unix(1795458474, 583138551),
		Relative: 1500 * time.Millisecond,
		FrameLen: 120,
		Src:      netip.MustParseAddr("10.1.2.3"),
		Dst:      netip.MustParseAddr("192.168.0.1"),
		SrcPort:  50000,
		DstPort:  1883,
		Stream:   3,
	}
	var c decode.Conn
	c.SetVersion(version)
	c.Decode(raw, true, &r.Packet)
	return r
}

var (
	// PUBLISH QoS 1, retain, topic "capteurs/température", id 7, payload {"t":21.5}
	publish = record(decode.V311, packet(0x33, mqttString("capteurs/température"), []byte{0, 7}, []byte(`{"t":21.5}`)))
	// SUBSCRIBE id 2: "a/b" QoS 0, "c/#" QoS 2
	subscribe = record(decode.V311, packet(0x82, []byte{0, 2}, mqttString("a/b"), []byte{0}, mqttString("c/#"), []byte{2}))
	// PINGREQ
	pingreq = record(decode.V311, packet(0xc0))
	// MQTT 5 PUBLISH QoS 0 with a user property unité=°C and correlation data, from ::1 to ::2
	publish5 = func() *session.Record {
		props := []byte{0x26}
		props = append(props, mqttString("unité")...)
		props = append(props, mqttString("°C")...)
		props = append(props, 0x09)
		props = append(props, mqttString("req-42")...)
		props = append(props, 0x02, 0, 0, 0x0e, 0x10) // message expiry 3600
		r := record(decode.V5, packet(0x30, mqttString("x/y"), []byte{byte(len(props))}, props, []byte{0xde, 0xad, 0xbe, 0xef}))
		r.Src, r.Dst = netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::2")
		return r
	}()
	// a PUBLISH mqtap decrypted
	decrypted = func() *session.Record {
		r := record(decode.V311, packet(0x32, mqttString("le0nh4rt/uppercase/request"), []byte{0, 1}, []byte("gAAAAAB...")))
		r.Crypto = session.Crypto{Session: "le0nh4rt#1", Scheme: "dh-fernet", Decrypt: "ok",
			Plaintext: []byte("Networking is the best!"), Message: 4, TokenTime: time.Unix(1795458000, 0)}
		r.Findings = []session.Finding{{Code: session.KexMITM}, {Code: session.PayloadReplay}}
		return r
	}()
)

// TestMatch evaluates filters on hand-made records.
func TestMatch(t *testing.T) {
	tests := []struct {
		filter string
		rec    *session.Record
		want   bool
	}{
		// presence, protocols
		{`mqtt`, pingreq, true},
		{`tcp && frame && mqtap`, pingreq, true},
		{`ip`, publish, true},
		{`ipv6`, publish, false},
		{`ipv6 and not ip`, publish5, true},
		{`mqtt.topic`, publish, true},
		{`mqtt.topic`, pingreq, false},
		{`not mqtt.topic`, pingreq, true},
		{`mqtt.msgid`, subscribe, true},
		{`mqtt.properties`, publish5, true},
		{`mqtt.property.user_property`, publish5, true},
		{`mqtt.properties`, publish, false},

		// comparison operators, both spellings
		{`mqtt.msgid == 7`, publish, true},
		{`mqtt.msgid eq 7`, publish, true},
		{`mqtt.msgid any_eq 7`, publish, true},
		{`mqtt.msgid != 7`, publish, false},
		{`mqtt.msgid ne 8`, publish, true},
		{`mqtt.msgid all_ne 8`, publish, true},
		{`mqtt.msgid > 6`, publish, true},
		{`mqtt.msgid gt 7`, publish, false},
		{`mqtt.msgid >= 7`, publish, true},
		{`mqtt.msgid ge 8`, publish, false},
		{`mqtt.msgid < 8`, publish, true},
		{`mqtt.msgid lt 7`, publish, false},
		{`mqtt.msgid <= 7`, publish, true},
		{`mqtt.msgid le 6`, publish, false},
		{`mqtt.msgid==7&&mqtt.qos==1`, publish, true},

		// any-of and all-of over several occurrences (SUBSCRIBE topics)
		{`mqtt.topic == "a/b"`, subscribe, true},
		{`mqtt.topic == "c/#"`, subscribe, true},
		{`mqtt.topic != "a/b"`, subscribe, false}, // all_ne
		{`mqtt.topic != "z"`, subscribe, true},
		{`mqtt.topic ne "c/#"`, subscribe, false},
		{`mqtt.topic === "a/b"`, subscribe, false}, // all_eq
		{`mqtt.topic all_eq "a/b"`, publish, false},
		{`mqtt.topic === "capteurs/température"`, publish, true},
		{`mqtt.topic !== "a/b"`, subscribe, true}, // any_ne
		{`mqtt.topic ~= "a/b"`, subscribe, true},
		{`mqtt.topic any_ne "capteurs/température"`, publish, false},
		{`any mqtt.topic != "a/b"`, subscribe, true},
		{`all mqtt.topic == "a/b"`, subscribe, false},
		{`all mqtt.topic contains "/"`, subscribe, true},
		{`all mqtt.sub.qos in {0, 2}`, subscribe, true},
		{`all mqtt.sub.qos > 0`, subscribe, false},
		{`mqtt.sub.qos > 1`, subscribe, true},
		{`tcp.port == 1883`, publish, true},
		{`tcp.port == 50000`, publish, true},
		{`tcp.port != 1883`, publish, false},
		{`tcp.port > 60000`, publish, false},
		{`ip.addr == 192.168.0.1`, publish, true},
		{`ip.addr == 10.1.2.3`, publish, true},
		{`ip.addr != 10.1.2.3`, publish, false},
		{`ip.src == 192.168.0.1`, publish, false},
		{`ip.dst == 192.168.0.1`, publish, true},
		// a comparison needs the field: absent fields compare false, both ways
		{`mqtt.topic == "x"`, pingreq, false},
		{`mqtt.topic != "x"`, pingreq, false},
		{`not mqtt.topic == "x"`, pingreq, true},
		{`!(mqtt.topic != "x")`, pingreq, true},

		// logic and precedence: not > and > xor > or
		{`not mqtt.topic or mqtt.qos == 1 and mqtt.retain == 0`, publish, false},
		{`not mqtt.topic or mqtt.qos == 1 and mqtt.retain == 1`, publish, true},
		{`not mqtt.topic or mqtt.qos == 1 and mqtt.retain == 0`, pingreq, true},
		{`not (mqtt.topic or mqtt.qos == 1) and mqtt.retain == 0`, publish, false},
		{`mqtt.qos == 0 and mqtt.retain or mqtt.msgid == 7`, publish, true},
		{`mqtt.qos == 0 and (mqtt.retain or mqtt.msgid == 7)`, publish, false},
		{`!!mqtt.topic`, publish, true},
		{`not not not mqtt.topic`, publish, false},
		{`mqtt.topic xor mqtt.msgid`, publish, false},
		{`mqtt.topic ^^ mqtt.msgid`, subscribe, false},
		{`mqtt.topic xor mqtt.msgid`, publish5, true},
		{`mqtt xor tcp xor ip`, publish, true},
		{`mqtt.msgid == 1 or mqtt.msgid == 7 xor mqtt.qos == 1`, publish, false},
		{`mqtt.msgid == 1 || mqtt.msgid == 8 || mqtt.msgid == 7`, publish, true},
		{`((((mqtt.msgid == 7))))`, publish, true},

		// numbers
		{`mqtt.msgid == 0x7`, publish, true},
		{`mqtt.msgid == 0X07`, publish, true},
		{`mqtt.msgid == 07`, publish, true},
		{`mqtt.msgid == 010`, publish, false},
		{`mqtt.msgid == 0b111`, publish, true},
		{`mqtt.msgid == '\x07'`, publish, true},
		{`mqtt.msgid == '\007'`, publish, true},
		{`mqtt.len > 'A'`, publish, false},
		{`mqtt.msgid > -1`, publish, false}, // tshark 4.0: a negative number is above every unsigned value
		{`mqtt.msgid == -1`, publish, false},
		// value names (Wireshark's value strings), quoted or not, any case
		{`mqtt.msgtype == "Publish Message"`, publish, true},
		{`mqtt.msgtype == "publish message"`, publish, true},
		{`mqtt.msgtype == "Subscribe Request"`, subscribe, true},
		{`mqtt.qos == "At least once delivery (Acknowledged deliver)"`, publish, true},
		{`mqtt.ver == "MQTT v3.1.1"`, publish, false}, // only CONNECT carries mqtt.ver
		{`mqtt.msgtype in {"Ping Request", 3}`, pingreq, true},
		// booleans
		{`mqtt.retain`, publish, true},
		{`mqtt.retain == 1`, publish, true},
		{`mqtt.retain == True`, publish, true},
		{`mqtt.retain == TRUE`, publish, true},
		{`mqtt.retain == true`, publish, true},
		{`mqtt.retain == 2`, publish, true},
		{`mqtt.retain == 0`, publish, false},
		{`mqtt.retain == False`, publish, false},
		{`mqtt.dupflag == false`, publish, true},
		{`mqtt.dupflag == FALSE && mqtt.retain != 0`, publish, true},
		{`mqtt.retain > 0`, publish, true},
		// strings
		{`mqtt.topic == "capteurs/température"`, publish, true},
		{`mqtt.topic == "capteurs/temp\u00e9rature"`, publish, true},
		{`mqtt.topic == "capteurs/temp\U000000e9rature"`, publish, true},
		{`mqtt.topic == "capteurs/temp\xc3\xa9rature"`, publish, true},
		{`mqtt.topic == "capteurs/temp\303\251rature"`, publish, true},
		{`mqtt.topic == "\x63apteurs/température"`, publish, true},
		{`mqtt.topic == r"capteurs/température"`, publish, true},
		{`mqtt.topic contains r"\d"`, publish, false},
		{`mqtt.topic == capteurs/température`, publish, true}, // unquoted word
		{`mqtt.topic contains "temp"`, publish, true},
		{`mqtt.topic contains "Temp"`, publish, false},
		{`mqtt.topic contains capteurs`, publish, true},
		{`mqtt.topic > "capteurs"`, publish, true},
		{`mqtt.topic < "b"`, subscribe, true},
		{`mqtt.topic in {"a/b" "x"}`, subscribe, true},
		{`mqtt.topic in {"x", "y"}`, subscribe, false},
		{`mqtt.topic in {"a".."b"}`, subscribe, true},
		{`mqtt.topic == "a\"b"`, subscribe, false},
		// regular expressions: case-insensitive unless (?-i), as tshark 4.0
		{`mqtt.topic matches "^capteurs/"`, publish, true},
		{`mqtt.topic matches "CAPTEURS"`, publish, true},
		{`mqtt.topic matches "(?-i)CAPTEURS"`, publish, false},
		{`mqtt.topic ~ "temp.rature$"`, publish, true},
		{`mqtt.topic matches "^c/"`, subscribe, true},
		{`mqtt.msg matches "^\\{\"t\""`, publish, true},
		{`mqtt.msg matches "21\\.5"`, publish, true},
		// byte strings
		{`mqtt.msg == 7b:22:74:22:3a:32:31:2e:35:7d`, publish, true},
		{`mqtt.msg == 7b-22-74-22-3a-32-31-2e-35-7d`, publish, true},
		{`mqtt.msg == 7b.22.74.22.3a.32.31.2e.35.7d`, publish, true},
		{`mqtt.msg == 7b2274223a32312e357d`, publish, true},
		{`mqtt.msg == "{\"t\":21.5}"`, publish, true},
		{`mqtt.msg contains 7b:22`, publish, true},
		{`mqtt.msg contains 0x7b`, publish, true},
		{`mqtt.msg contains '{'`, publish, true},
		{`mqtt.msg contains 7d`, publish, true},
		{`mqtt.msg contains 7e`, publish, false},
		{`mqtt.msg contains "21.5"`, publish, true},
		{`mqtt.msg > 7a`, publish, true},
		{`mqtt.msg == de:ad:be:ef`, publish5, true},
		{`mqtt.property.correlation_data == "req-42"`, publish5, true},
		{`mqtt.property.correlation_data contains 2d:34`, publish5, true},
		// slices
		{`mqtt.msg[0:2] == 7b:22`, publish, true},
		{`mqtt.msg[0:2] == "{\""`, publish, true},
		{`mqtt.msg[:2] == 7b:22`, publish, true},
		{`mqtt.msg[0] == 7b`, publish, true},
		{`mqtt.msg[1-2] == 22:74`, publish, true},
		{`mqtt.msg[-1] == "}"`, publish, true},
		{`mqtt.msg[-2:] == "5}"`, publish, true},
		{`mqtt.msg[-4:2] == "1."`, publish, true},
		{`mqtt.msg[-3--2] == "1."`, publish, false},
		{`mqtt.msg[-3--2] == ".5"`, publish, true},
		{`mqtt.msg[9:] == "}"`, publish, true},
		{`mqtt.msg[10:]`, publish, false}, // past the end
		{`mqtt.msg[9:2]`, publish, false},
		{`mqtt.msg[8:2]`, publish, true},
		{`mqtt.topic[0:8] == "capteurs"`, publish, true},
		{`mqtt.topic[0:3] == 63:61:70`, publish, true},
		{`mqtt[0] == 0x33`, publish, true},
		{`mqtt[0] == 33`, publish, true},
		{`mqtt contains "température"`, publish, true},
		// functions
		{`len(mqtt.msg) == 10`, publish, true},
		{`len(mqtt.topic) > 20`, publish, true}, // bytes, not characters
		{`len(mqtt.topic) == 3`, subscribe, true},
		{`len(mqtt.msg[0:4]) == 4`, publish, true},
		{`count(mqtt.topic) == 2`, subscribe, true},
		{`count(mqtt.topic) == 1`, publish, true},
		{`count(mqtt.topic) == 0`, pingreq, false}, // as tshark: no field, no count
		{`count(tcp.port) == 2`, publish, true},
		{`count(ip.addr) == 2 && count(ipv6.addr) == 0`, publish, false},
		{`len(mqtt.topic) == len(mqtt.topic)`, publish, true},
		// bitwise and
		{`mqtt.hdrflags & 0x01`, publish, true},
		{`mqtt.hdrflags & 0x08`, publish, false},
		{`mqtt.hdrflags & 0x06 == 2`, publish, true},
		{`mqtt.hdrflags bitwise_and 0xf0 == 0x30`, publish, true},
		// sets and ranges
		{`mqtt.msgid in {1, 7}`, publish, true},
		{`mqtt.msgid in {1 7}`, publish, true},
		{`mqtt.msgid in {1,2, 3}`, publish, false},
		{`mqtt.msgid in {1..5}`, publish, false},
		{`mqtt.msgid in {1..7}`, publish, true},
		{`mqtt.msgid in {1 .. 7}`, publish, true},
		{`mqtt.msgid in {1.. 7}`, publish, true},
		{`mqtt.msgid in {1 ..7}`, publish, true},
		{`mqtt.msgid in {0x1..0x7}`, publish, true},
		{`mqtt.msgid in {8..10, 2}`, publish, false},
		{`tcp.port in {80, 443, 1883}`, publish, true},
		{`tcp.stream in {0 2}`, publish, false},
		{`tcp.stream in {0 3}`, publish, true},
		{`ip.addr in {10.0.0.0/8}`, publish, true},
		{`ip.addr in {10.1.2.1 .. 10.1.2.5}`, publish, true},
		{`frame.time_relative in {1..2}`, publish, true},
		// addresses
		{`ip.addr == 10.0.0.0/8`, publish, true},
		{`ip.addr == 10.1.2.3/32`, publish, true},
		{`ip.addr == 10.1.2.4/32`, publish, false},
		{`ip.addr == 0.0.0.0/0`, publish, true},
		{`ip.src == 192.168.0.0/16`, publish, false},
		{`ip.src != 192.168.0.0/16`, publish, true},
		{`ip.addr > 192.168.0.0`, publish, true},
		{`ip.src < 10.1.2.4`, publish, true},
		{`ip.src == ip.dst`, publish, false},
		{`ip.src < ip.dst`, publish, true},
		{`ipv6.addr == ::1`, publish5, true},
		{`ipv6.dst == 2001:db8::/32`, publish5, true},
		{`ipv6.src == 2001:db8::/32`, publish5, false},
		{`ip.addr == 10.1.2.3`, publish5, false},
		// times
		{`frame.time_relative == 1.5`, publish, true},
		{`frame.time_relative > 1.499999999`, publish, true},
		{`frame.time_relative < 1.5`, publish, false},
		{`frame.time_relative >= 1`, publish, true},
		{`frame.time_relative > -1`, publish, true},
		{`frame.time_epoch == 1795458474.583138551`, publish, true},
		{`frame.time_epoch > 1795458474.58`, publish, true},
		{`frame.time_epoch < 1795458474.5831385`, publish, false},
		// record fields
		{`frame.number == 7 and frame.len == 120`, publish, true},
		{`tcp.srcport == 50000 && tcp.dstport == 1883 && tcp.stream == 3`, publish, true},
		{`mqtap.type == "PUBLISH"`, publish, true},
		{`mqtap.type == SUBSCRIBE`, subscribe, true},
		{`mqtap.type in {"PINGREQ", "PINGRESP"}`, pingreq, true},
		{`mqtap.malformed`, publish, false},
		{`mqtap.session == "le0nh4rt#1"`, decrypted, true},
		{`mqtap.scheme == "dh-fernet" and mqtap.decrypt == "ok"`, decrypted, true},
		{`mqtap.plaintext contains "best"`, decrypted, true},
		{`mqtap.plaintext_hex`, decrypted, false},
		{`mqtap.findings == "payload.replay"`, decrypted, true},
		{`mqtap.findings != "kex.mitm"`, decrypted, false},
		{`mqtap.message == 4`, decrypted, true},
		{`mqtap.token_time == 1795458000`, decrypted, true},
		{`mqtap.session`, publish, false},
		{`mqtap.verify`, decrypted, false},
		// MQTT 5 properties, under mqtap's names and Wireshark's generic ones
		{`mqtt.prop_key == "unité"`, publish5, true},
		{`mqtt.prop_value == "°C"`, publish5, true},
		{`mqtt.property.message_expiry_interval == 3600`, publish5, true},
		{`mqtt.prop_number == 3600`, publish5, true},
		{`mqtt.prop_string == "req-42"`, publish5, true},
		{`mqtt.prop_string`, publish, false},
		// field against field
		{`mqtt.msgid == mqtt.msgid`, publish, true},
		{`mqtt.msgid != mqtt.msgid`, publish, false},
		{`tcp.srcport > tcp.dstport`, publish, true},
		{`tcp.port == tcp.dstport`, publish, true},
		{`mqtt.topic contains mqtt.topic`, subscribe, true},
		{`mqtt.topic == mqtt.clientid`, publish, false},
	}
	for _, tc := range tests {
		f, err := Compile(tc.filter)
		if err != nil {
			t.Errorf("Compile(%s): %v", tc.filter, err)
			continue
		}
		if got := f.Match(tc.rec); got != tc.want {
			t.Errorf("%s on %s: got %v, want %v", tc.filter, tc.rec.Packet.Type, got, tc.want)
		}
		if got := f.MatchFrame([]*session.Record{tc.rec}); got != tc.want {
			t.Errorf("MatchFrame: %s on %s: got %v, want %v", tc.filter, tc.rec.Packet.Type, got, tc.want)
		}
		if f.String() != tc.filter {
			t.Errorf("String() = %q, want %q", f.String(), tc.filter)
		}
	}
}

// TestMatchFrame checks tshark's frame semantics: occurrences of every
// record count together.
func TestMatchFrame(t *testing.T) {
	frame := []*session.Record{publish, pingreq}
	for _, tc := range []struct {
		filter              string
		perFrame, perPacket bool
	}{
		{`mqtt.msgtype == 3 and mqtt.msgtype == 12`, true, false},
		{`not mqtt.topic`, false, true},
		{`mqtt.msgtype != 3`, false, true},
		{`count(mqtt.msgtype) == 2`, true, false},
		{`mqtt.topic`, true, true},
		{`mqtt.msgtype == 14`, false, false},
	} {
		f, err := Compile(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.MatchFrame(frame); got != tc.perFrame {
			t.Errorf("MatchFrame(%s) = %v, want %v", tc.filter, got, tc.perFrame)
		}
		if got := f.Match(frame[0]) || f.Match(frame[1]); got != tc.perPacket {
			t.Errorf("Match(%s) on either record = %v, want %v", tc.filter, got, tc.perPacket)
		}
	}
	f, _ := Compile("mqtt")
	if f.MatchFrame(nil) || f.MatchFrame([]*session.Record{nil}) || f.Match(nil) {
		t.Error("a filter matches no record")
	}
	var none *Filter
	if !none.Match(publish) || !none.MatchFrame(frame) || none.String() != "" {
		t.Error("a nil Filter matches every record")
	}
}

// TestPrecedence checks how expressions group.
func TestPrecedence(t *testing.T) {
	for _, tc := range []struct{ filter, tree string }{
		{`not a or b and c`, `(or (not a) (and b c))`},
		{`a or b xor c and d`, `(or a (xor b (and c d)))`},
		{`a and b and c or d`, `(or (and a b c) d)`},
		{`!a && !b || c`, `(or (and (not a) (not b)) c)`},
		{`not (a or b)`, `(not (or a b))`},
		{`a and (b or c) and not not d`, `(and a (or b c) d)`},
		{`a || b || c`, `(or a b c)`},
		{`a ^^ b ^^ c`, `(xor a b c)`},
		{`a`, `a`},
	} {
		expr := tc.filter
		for _, f := range []string{"a", "b", "c", "d"} {
			expr = replaceWord(expr, f, "mqtt.topic")
		}
		f, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		// names of the tests in order: a, b, c, d
		names := []string{"a", "b", "c", "d"}
		i := 0
		got := dump(f.root, func() string { s := names[i%4]; i++; return s })
		if got != tc.tree {
			t.Errorf("%s: parsed as %s, want %s", tc.filter, got, tc.tree)
		}
	}
}

// replaceWord replaces the single-letter word w in s.
func replaceWord(s, w, by string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		isW := s[i:i+1] == w && (i == 0 || !isLetter(s[i-1])) && (i+1 == len(s) || !isLetter(s[i+1]))
		if isW {
			sb.WriteString(by)
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }

// dump prints an expression tree, naming the tests in order with name.
func dump(n *node, name func() string) string {
	op := map[nodeOp]string{nNot: "not", nAnd: "and", nOr: "or", nXor: "xor"}[n.op]
	if n.op == nTest {
		return name()
	}
	s := "(" + op
	for _, k := range n.kids {
		s += " " + dump(k, name)
	}
	return s + ")"
}

// TestErrors checks that bad filters are rejected with the column of the
// mistake and a message saying what is wrong.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		filter string
		col    int
		msg    string
	}{
		{``, 1, "empty"},
		{`   `, 4, "empty"},
		{`mqtt.foo`, 1, `"mqtt.foo" is neither a field nor a protocol name`},
		{`mqtt.topic == "a" and mqtt.topik`, 23, `"mqtt.topik" is neither a field nor a protocol name`},
		{`(mqtt.topic`, 12, `unclosed parenthesis: expected ")" to close the "(" of column 1, got end of filter`},
		{`((mqtt.topic) or mqtt`, 22, `"(" of column 1`},
		{`(mqtt.topic "x")`, 13, `expected ")" to close the "(" of column 1, got "\"x\""`},
		{`mqtt.topic)`, 11, `no "(" is open`},
		{`()`, 2, `expected a field name, got ")"`},
		{`mqtt.topic ==`, 14, `expected a value after "==", got end of filter`},
		{`mqtt.topic == `, 15, `expected a value after "==", got end of filter`},
		{`mqtt.msgid > and mqtt`, 14, `expected a value after ">", got "and"`},
		{`mqtt.topic contains`, 20, `expected a value after "contains", got end of filter`},
		{`mqtt.topic = "x"`, 12, `"=" is not an operator: compare with ==`},
		{`mqtt.topic =! "x"`, 12, `"=" is not an operator`},
		{`mqtt.topic | mqtt`, 12, `use ||`},
		{`mqtt.topic "x"`, 12, `unexpected "\"x\"": expected "and", "or" or the end of the filter`},
		{`mqtt.topic == "a" "b"`, 19, `unexpected "\"b\""`},
		{`mqtt.topic like "x"`, 12, `unexpected "like"`},
		{`and`, 1, `expected a field name, got "and"`},
		{`not`, 4, `expected a field name, got end of filter`},
		{`mqtt and`, 9, `expected a field name, got end of filter`},
		{`1 == mqtt.msgid`, 1, `the left side of "==" must be a field or a function, not "1"`},
		{`"x" == mqtt.topic`, 1, `the left side of "==" must be a field or a function`},
		{`mqtt.topic matches "("`, 20, `invalid regular expression "\"(\"": missing closing )`},
		{`mqtt.topic matches "a(?=b)"`, 20, `invalid regular expression`},
		{`mqtt.topic matches capteurs`, 20, `needs a regular expression in double quotes`},
		{`mqtt.topic matches`, 19, `expected a regular expression in double quotes after "matches", got end of filter`},
		{`ip.addr == 10.0.0.300`, 12, `"10.0.0.300" is not a valid IPv4 address`},
		{`ip.addr == 10.0.0.0/33`, 12, `netmask bits in a CIDR IPv4 address should be <= 32, not 33`},
		{`ip.addr == 10.0.0.0/x`, 12, `not a valid netmask length`},
		{`ip.addr == ::1`, 12, `"::1" is not a valid IPv4 address`},
		{`ipv6.addr == 127.0.0.1`, 14, `"127.0.0.1" is not a valid IPv6 address`},
		{`ipv6.addr == ::1/129`, 14, `should be <= 128, not 129`},
		{`ip.addr == "10.0.0.1"`, 12, `write "10.0.0.1" without quotes`},
		{`ip.addr == www.example.com`, 12, `host names are not resolved`},
		{`mqtt.msgid == aa:bb`, 15, `"aa:bb" is not a valid number`},
		{`mqtt.msgid == 70000`, 15, `70000 is too big for mqtt.msgid, maximum 65535`},
		{`mqtt.msgid == 1.5`, 15, `"1.5" is not a valid number`},
		{`mqtt.msgid == "1"`, 15, `cannot be compared with the string "1"`},
		{`mqtt.msgtype == PUBLISH`, 17, `"PUBLISH" cannot be found among the possible values for mqtt.msgtype`},
		{`mqtt.msgtype == "Publish"`, 17, `"Publish" cannot be found among the possible values for mqtt.msgtype`},
		{`mqtt.qos == 256`, 13, `256 is too big for mqtt.qos, maximum 255`},
		{`frame.number == 0x100000000`, 17, `0x100000000 is too big for frame.number, maximum 4294967295`},
		{`mqtt.retain == yes`, 16, `"yes" is not a boolean value for mqtt.retain`},
		{`mqtt.retain == "True"`, 16, `write True, False, 1 or 0 without quotes`},
		{`mqtt.msg == hello`, 13, `"hello" is not a valid byte string`},
		{`mqtt.msg == 7b:2`, 0, ""}, // valid: single-digit bytes
		{`mqtt.msg == 7b:223`, 13, `not a valid byte string`},
		{`mqtt.msg == abc`, 13, `not a valid byte string`},
		{`mqtt.msg == 0x123`, 13, `not a valid byte string`},
		{`mqtt.msgid == 7b:22`, 15, `"7b:22" is not a valid number`},
		{`mqtt.topic == 7b:22`, 15, `"7b:22" is a byte string but mqtt.topic is a string: write "7b:22" in double quotes`},
		{`mqtt.topic contains 7b-22`, 21, `is a byte string`},
		{`mqtt.clientid in {a, 0x41}`, 22, `"0x41" is a byte string`},
		{`mqtt.username == 10.0.0.1`, 18, `"10.0.0.1" is an IP address but mqtt.username is a string`},
		{`mqtt.username == 10.0.0.0/8`, 18, `is an IP network`},
		{`mqtt.username == fe80::1`, 18, `is an IP address`},
		{`frame.time_relative < 1ms`, 23, `"1ms" is not a valid time`},
		{`frame.time_epoch == "2026-11-23"`, 21, `time in seconds`},
		{`frame.time_epoch == 99999999999999999999`, 21, `not a valid time`},
		{`mqtt.msgid contains 1`, 1, `mqtt.msgid (type=Unsigned integer) cannot take part in a "contains" comparison`},
		{`mqtt.msgid matches "1"`, 1, `cannot take part in a "matches" comparison`},
		{`ip.addr contains 10`, 1, `(type=IPv4 address) cannot take part`},
		{`mqtt.properties == 1`, 1, `mqtt.properties (type=Label) cannot take part in a "==" comparison`},
		{`tcp contains "x"`, 1, `the protocol tcp can only be tested for presence`},
		{`frame[0:2] == 00:00`, 6, `frame (type=Protocol) cannot be sliced`},
		{`mqtt.msgid[0] == 1`, 11, `cannot be sliced`},
		{`mqtt.msg[0:0]`, 10, `range 0:0 isn't valid because length 0 isn't positive`},
		{`mqtt.msg[a:b]`, 10, `"a:b" is not a valid range`},
		{`mqtt.msg[3-1]`, 10, `its end comes before its start`},
		{`mqtt.msg[0:1`, 13, `expected "]" to close the slice, got end of filter`},
		{`mqtt.msg[]`, 10, `expected a range`},
		{`mqtt.msg[0,2]`, 11, `concatenated slices`},
		{`mqtt.msgid == mqtt.topic`, 15, `mqtt.msgid and mqtt.topic are not of compatible types`},
		{`ip.src == ipv6.src`, 11, `not of compatible types`},
		{`mqtt.topic == tcp`, 15, `mqtt.topic and tcp are not of compatible types`},
		{`mqtt.msgid in 1`, 15, `expected "{" after "in", got "1"`},
		{`mqtt.msgid in`, 14, `expected "{" after "in", got end of filter`},
		{`mqtt.msgid in {}`, 16, `expected a value in the set, got "}"`},
		{`mqtt.msgid in {1,`, 18, `expected a value or "}" in the set opened at column 15, got end of filter`},
		{`mqtt.msgid in {1,,2}`, 18, `expected a value after "," in the set`},
		{`mqtt.msgid in {1..}`, 19, `expected the end of the range after "..", got "}"`},
		{`mqtt.msgid in {..3}`, 16, `expected a value before ".."`},
		{`mqtt.msgid in {1 x}`, 18, `"x" is not a valid number`},
		{`mqtt.topic in {"a" (}`, 20, `expected a value in the set, got "("`},
		{`mqtt.properties in {1..2}`, 1, `(type=Label)`},
		{`mqtt.msgid not in {1}`, 12, `"not in" is not supported`},
		{`all mqtt.topic`, 15, `expected a comparison after "all mqtt.topic", got end of filter`},
		{`lower(mqtt.topic) == "a"`, 1, `the function lower() is not supported by mqtap (len and count are)`},
		{`foo(mqtt.topic)`, 1, `"foo" is not a function`},
		{`len(mqtt.msgid) == 2`, 5, `len() takes a string or byte field; mqtt.msgid is of type Unsigned integer`},
		{`len(len(mqtt.msg)) == 2`, 5, `a function takes a field, not the function len()`},
		{`len(mqtt.msg == 2`, 14, `expected ")" to close len(, got "=="`},
		{`count(mqtt.msgid & 1) == 1`, 7, `count() takes a field, not a bitwise expression`},
		{`mqtt.topic & 1`, 12, `the bitwise and "&" works on integer fields`},
		{`mqtt.hdrflags &`, 16, `expected a bit mask after "&", got end of filter`},
		{`mqtt.hdrflags & x`, 17, `"x" is not a valid number`},
		{`mqtt.topic == "abc`, 15, `the closing quote of this string is missing`},
		{`mqtt.topic == "a\qb"`, 17, `\q is not a valid escape sequence`},
		{`mqtt.topic == "a\`, 17, `a backslash ends the filter`},
		{`mqtt.topic == "\x"`, 16, `\x must be followed by one or two hex digits`},
		{`mqtt.topic == "\u12"`, 16, `\u must be followed by 4 hex digits`},
		{`mqtt.topic == "\ud800"`, 16, `not a valid Unicode code point`},
		{`mqtt.topic == "\777"`, 16, `octal escape \777 is over \377`},
		{`mqtt.msgid == ''`, 15, `empty character constant`},
		{`mqtt.msgid == 'ab'`, 15, `the closing ' of this character constant is missing`},
		{`mqtt.topic == 'a'`, 15, `write the character constant 'a' in double quotes`},
		{`mqtt.msg == '€'`, 13, `more than one byte`},
		{`ip.addr#2 == 10.0.0.1`, 8, `the layer operator "#" is not supported`},
		{`frame.len > ${frame.len}`, 13, `field references`},
		{`tcp.dstport >= tcp.srcport + 1`, 28, `arithmetic ("+") is not supported`},
		{`mqtt.topic == "x" ; mqtt`, 19, `";" is not allowed here`},
		{`mqtt.topic == "é" and mqtt.foo`, 23, `"mqtt.foo" is neither`}, // columns count characters
		{`mqtt.topic == é€ and mqtt.foo`, 22, `"mqtt.foo" is neither`},
		{"mqtt.topic == \xff", 15, "invalid UTF-8"},
		{`mqtt.msgid == 1 xor`, 20, `expected a field name, got end of filter`},
	} {
		_, err := Compile(tc.filter)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("Compile(%s): %v", tc.filter, err)
			}
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%s) = %v, want a *SyntaxError", tc.filter, err)
			continue
		}
		if se.Col != tc.col || !strings.Contains(se.Msg, tc.msg) || se.Expr != tc.filter {
			t.Errorf("Compile(%s):\n got column %d: %s\nwant column %d: …%s…", tc.filter, se.Col, se.Msg, tc.col, tc.msg)
		}
		if s := se.Error(); strings.Contains(s, "\n") || !strings.HasPrefix(s, "column ") {
			t.Errorf("Error() = %q, want one line starting with \"column \"", s)
		}
	}
}

// TestErrorFormat checks the one-line error text.
func TestErrorFormat(t *testing.T) {
	_, err := Compile(`mqtt.topic ==`)
	if got, want := err.Error(), `column 14: expected a value after "==", got end of filter`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestKnownFields checks that every field name a record can carry compiles
// as a presence test, and that the field types agree with the kinds the
// decoder produces on the samples.
func TestKnownFields(t *testing.T) {
	for _, name := range session.RecordFields() {
		if _, err := Compile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name := range fieldDefs {
		if !session.KnownField(name) && fieldDefs[name].Type != decode.TypeProtocol && !derived[name] {
			t.Errorf("%s is in the filter's field table but session.KnownField does not know it", name)
		}
	}
	kinds := map[decode.FieldType]decode.Kind{decode.TypeUint: decode.KindUint, decode.TypeBool: decode.KindBool, decode.TypeString: decode.KindString,
		decode.TypeBytes: decode.KindBytes, decode.TypeNone: decode.KindNone}
	seen := map[string]bool{}
	for _, file := range []string{"mqtt5.pcapng", "mqtt311.pcapng", "mqtt31.pcapng", "mqtt5-topic-alias.pcapng", "audit-broker.pcapng"} {
		for _, r := range readRecords(t, samples+file) {
			for _, f := range r.Packet.Fields {
				d := fieldDefs[f.Name]
				if d == nil {
					t.Errorf("%s: the decoder produces %s, which the filter's table lacks", file, f.Name)
					continue
				}
				if want := kinds[d.Type]; want != f.Kind && !(d.Type == decode.TypeString && f.Kind == decode.KindBytes) {
					t.Errorf("%s is %v in the table, the decoder says %v", f.Name, typeName(d.Type), f.Kind)
				}
				seen[f.Name] = true
			}
		}
	}
	if len(seen) < 60 {
		t.Errorf("only %d field names seen in the samples", len(seen))
	}
}

// derived are the field names the filter adds to the record's.
var derived = map[string]bool{"ip.addr": true, "ipv6.addr": true, "tcp.port": true}

// TestLongFilters checks that long chains and deep nesting neither exhaust
// the stack nor take long.
func TestLongFilters(t *testing.T) {
	long := strings.Repeat("mqtt.msgid == 7 and ", 100000) + "mqtt"
	f, err := Compile(long)
	if err != nil || !f.Match(publish) || f.Match(pingreq) {
		t.Errorf("a chain of 100000 tests: %v", err)
	}
	f, err = Compile(strings.Repeat("not ", 100001) + "mqtt.topic")
	if err != nil || f.Match(publish) || !f.Match(pingreq) {
		t.Errorf("100001 nots: %v", err)
	}
	f, err = Compile(strings.Repeat("(", maxDepth) + "mqtt" + strings.Repeat(")", maxDepth))
	if err != nil || !f.Match(pingreq) {
		t.Errorf("%d parentheses: %v", maxDepth, err)
	}
	f, err = Compile(strings.Repeat("(mqtt) or ", 100000) + "mqtt")
	if err != nil || !f.Match(pingreq) {
		t.Errorf("100000 parenthesised tests: %v", err)
	}
	_, err = Compile(strings.Repeat("(", maxDepth+1) + "mqtt" + strings.Repeat(")", maxDepth+1))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Col != maxDepth+1 || !strings.Contains(se.Msg, "nested more than") {
		t.Errorf("%d parentheses: %v", maxDepth+1, err)
	}
}

// TestRequiredEqual: a topic that a filter requires at its top is found;
// anything that does not require it (or, not, !=, slices, functions,
// other fields, other relations) is not taken for it.
func TestRequiredEqual(t *testing.T) {
	for expr, want := range map[string]string{
		`mqtt.topic == "a/b"`:                             "a/b",
		`mqtt.topic == "a/b" && mqtt.qos == 1`:            "a/b",
		`tcp.port == 1883 and mqtt.topic eq "x" and mqtt`: "x",
	} {
		f, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if got, ok := f.RequiredEqual("mqtt.topic"); !ok || string(got) != want {
			t.Errorf("%s: %q %v, want %q", expr, got, ok, want)
		}
	}
	for _, expr := range []string{
		`mqtt.topic == "a" || mqtt.qos == 1`, `!(mqtt.topic == "a")`, `mqtt.topic != "a"`,
		`mqtt.topic[0:1] == "a"`, `len(mqtt.topic) == 3`, `mqtt.topic contains "a"`, `mqtt.clientid == "a"`,
		`mqtt.topic`, `mqtt.topic matches "a"`, `mqtt.topic in {"a" "b"}`,
	} {
		f, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if got, ok := f.RequiredEqual("mqtt.topic"); ok {
			t.Errorf("%s: requires %q", expr, got)
		}
	}
	for expr, want := range map[string]int{
		`mqtt.msgtype == 3`: 3, `mqtt.msgtype == 8 && mqtt.topic`: 8, `mqtt.msgtype == 0x0c`: 12,
		`mqtt.msgtype != 3`: -1, `mqtt.msgtype > 3`: -1, `mqtt.msgtype == 3 || mqtt.qos == 1`: -1, `mqtt.qos == 1`: -1,
		`mqtt.msgtype in {3 8}`: -1, `mqtt.msgtype & 2`: -1,
	} {
		f, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		got, ok := f.RequiredUint("mqtt.msgtype")
		if want < 0 && ok || want >= 0 && (!ok || got != uint64(want)) {
			t.Errorf("%s: requires %d %v, want %d", expr, got, ok, want)
		}
	}
}
