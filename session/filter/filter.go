// Package filter compiles Wireshark display filters (-Y) and evaluates them
// on MQTT records.
//
// A filter is compiled once by Compile, which rejects a bad filter with a
// SyntaxError giving the column where it fails and what was expected; Match
// then evaluates it on one MQTT control packet (session.Record) without
// allocating. The names are those of DESIGN.md's records: Wireshark's
// (frame.number, ip.src, tcp.stream, mqtt.topic, mqtt.msg, ...), mqtap's own
// (mqtap.type, mqtap.session, mqtap.decrypt, mqtap.plaintext, ...), plus
//   - ip.addr (ip.src or ip.dst), ipv6.addr, tcp.port (tcp.srcport or
//     tcp.dstport);
//   - mqtt.prop_number and mqtt.prop_string, Wireshark's generic names for
//     the MQTT 5 properties mqtap names one by one (mqtt.property.*);
//   - the protocols frame, tcp, mqtt and mqtap (present on every record), ip
//     or ipv6 (by address family).
//
// # Syntax (Wireshark's, as tshark 4.0 reads it)
//
//	mqtt.topic contains "salle" and mqtt.qos >= 1
//	mqtt.msgtype == 3 || mqtt.msgtype == "Subscribe Request"
//	not mqtt.topic
//	ip.addr == 10.0.0.0/8 && tcp.port in {1883, 8883}
//	mqtt.msgid in {1..5 10} and mqtt.retain == True
//	mqtt.msg contains 7b:22 or mqtt.msg[0:2] == "{\""
//	mqtt.topic matches "^capteurs/.*/salle-[0-9]+$"
//	len(mqtt.msg) > 100 and count(mqtt.topic) >= 2
//	mqtt.hdrflags & 0x06 == 0x04
//
// In detail:
//   - Comparisons: == != < > <= >= and eq ne lt gt le ge; === (all_eq),
//     !== (any_ne, also ~=), any_eq, all_ne; "any" or "all" before a field
//     chooses the quantifier ("all tcp.port > 1024"). contains (strings and
//     byte sequences), matches or ~ (a regular expression in double quotes),
//     in {a, b, lo..hi} (commas or spaces between members).
//   - Logic: not !, and &&, xor ^^, or || (from the tightest), parentheses.
//     "not a or b and c" is "(not a) or (b and c)".
//   - A field or protocol alone tests its presence.
//   - Values: numbers (decimal, 0x hexadecimal, 0 octal, 0b binary, 'c'
//     character constants), value names of numeric fields in quotes or as a
//     single word ("Publish Message", Success: case-insensitive), booleans
//     (True, False, true, false, or a number), strings in double quotes with
//     C escapes (\n, \x41, \101, \u00e9) or raw r"...", unquoted words
//     for string fields (mqtt.username == alice), byte strings (aa:bb:cc,
//     aa-bb-cc, aa.bb.cc, aabbcc, 0xNN) for byte fields, IPv4 and IPv6
//     addresses with optional /bits, seconds with a fraction for
//     frame.time_epoch, frame.time_relative and mqtap.token_time, another
//     field of a compatible type.
//   - Slices of string and byte fields and of mqtt: f[i:len], f[i-end],
//     f[i], f[:len], f[i:], negative offsets counting from the end; a
//     slice compares with byte strings and strings. Functions len(f) and
//     count(f). Bitwise and: f & mask, alone (any bit set) or compared.
//
// Semantics follow tshark 4.0: a test on a field that occurs several times
// (tcp.port, ip.addr, the topics of a SUBSCRIBE) is true when any occurrence
// satisfies it, except != (all_ne) and === (all_eq), which need every
// occurrence; every comparison also requires the field to be present, so
// "not mqtt.topic == x" and "mqtt.topic != x" differ on records without a
// topic. "matches" is case-insensitive unless the pattern starts with (?-i),
// as in tshark 4.0 (Wireshark 4.2 and later are case-sensitive by default).
//
// # Differences from tshark 4.0
//
//   - Filters run per MQTT control packet, not per frame: in a frame that
//     carries several packets, "mqtt.msgtype == 3 and mqtt.msgtype == 4" is
//     false for every packet, where tshark sees both values in the frame.
//     MatchFrame evaluates a frame's records together, as tshark does.
//   - Regular expressions are Go's (RE2), not PCRE2: no back-references or
//     look-around.
//   - An unquoted word that reads as a byte string or an IP address
//     (mqtt.topic == 7b:22, mqtt.username == 10.0.0.1) is an error for a
//     string field, as in Wireshark 4.2 and later; tshark 4.0 compares it as
//     text. Quote it to compare text.
//   - Accepted although tshark 4.0 rejects them (later Wireshark versions
//     accept them): sets with spaces between members ({1 2}), xor and ^^,
//     the booleans true and false in lower case.
//   - Not supported: arithmetic, the functions upper, lower, string, min,
//     max and abs, concatenated slices (f[0,2-3]), the layer operator (#),
//     field references (${...}), macros, host names instead of addresses, and
//     comparisons on the bytes of frame, ip, ipv6 and tcp (their presence can
//     be tested).
package filter

import (
	"strconv"

	"github.com/mqtap/mqtap/session"
)

// Filter is a compiled display filter. It is safe for concurrent use.
type Filter struct {
	expr string
	root *node
}

// SyntaxError says where a filter is wrong: Col is 1-based and counts
// characters (not bytes) of Expr.
type SyntaxError struct {
	Expr string
	Col  int
	Msg  string
}

// Error returns the error on one line: `column 14: expected a value after
// "==", got end of filter`.
func (e *SyntaxError) Error() string {
	return "column " + strconv.Itoa(e.Col) + ": " + e.Msg
}

// Compile parses expr once into a matcher. Unknown field names are errors,
// as in tshark ("\"mqtt.foo\" is neither a field nor a protocol name"); so
// are values that do not fit the field (a string for a number, a bad
// address, a number too big for the field, a bad regular expression). The
// error is a *SyntaxError.
func Compile(expr string) (*Filter, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{expr: expr, toks: toks}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	return &Filter{expr: expr, root: root}, nil
}

// Match evaluates the filter on one MQTT control packet record. It does not
// allocate; it reads only the fields the filter names. A nil Filter matches
// every record.
func (f *Filter) Match(r *session.Record) bool {
	if f == nil {
		return true
	}
	if r == nil {
		return false
	}
	rs := [1]*session.Record{r}
	return f.root.eval(rs[:])
}

// MatchFrame evaluates the filter on the records of one frame together, as
// tshark evaluates a frame: a field's occurrences are those of every record.
// A nil Filter matches every frame.
func (f *Filter) MatchFrame(rs []*session.Record) bool {
	if f == nil {
		return true
	}
	for _, r := range rs {
		if r == nil {
			return false
		}
	}
	if len(rs) == 0 {
		return false
	}
	return f.root.eval(rs)
}

// String returns the filter as it was written.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.expr
}

// RequiredEqual returns the text that field name must have for a record to
// match, when the filter says so at its top: it is the test name ==
// "text", or an "and" of tests with one. A caller that holds the field's
// values more cheaply than a whole record (an index) can skip the records
// that cannot match without building them.
func (f *Filter) RequiredEqual(name string) ([]byte, bool) {
	if v, ok := f.required(name, vBytes); ok {
		return v.b, true
	}
	return nil, false
}

// RequiredUint is RequiredEqual for a number: the filter is name == N, or
// an "and" of tests with one.
func (f *Filter) RequiredUint(name string) (uint64, bool) {
	if v, ok := f.required(name, vUint); ok {
		return v.u, true
	}
	return 0, false
}

// required finds the value of kind k that a top-level test name == value
// requires.
func (f *Filter) required(name string, k vkind) (*val, bool) {
	if f == nil {
		return nil, false
	}
	tests := []*node{f.root}
	if f.root.op == nAnd {
		tests = f.root.kids
	}
	for _, n := range tests {
		if n.op != nTest {
			continue
		}
		t := n.t
		if t.rel != relEq || t.all || t.rhs != nil || t.textAddr || t.lhs.sl != nil || t.lhs.fn != fnNone || t.lhs.masked ||
			t.lhs.def == nil || t.lhs.def.Name != name {
			continue
		}
		if v, ok := t.lit.form(k); ok {
			return v, true
		}
	}
	return nil, false
}
