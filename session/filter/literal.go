package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mqtap/mqtap/decode"
)

// parseLit converts the token after a comparison operator to a value of the
// operand's type.
func (p *parser) parseLit(o *operand, opTok token) (lit, *SyntaxError) {
	t := p.peek()
	switch t.kind {
	case tWord, tString, tChar:
	case tEOF:
		return lit{}, p.errAt(t, "expected a value after %q, got end of filter", opTok.text)
	default:
		return lit{}, p.errAt(t, "expected a value after %q, got %s", opTok.text, t.describe())
	}
	if t.kind == tWord && keywords[t.text] {
		return lit{}, p.errAt(t, "expected a value after %q, got %s", opTok.text, t.describe())
	}
	p.advance()
	return p.convert(o, opTok, t)
}

// convert turns a literal token into a value comparable with o.
func (p *parser) convert(o *operand, opTok token, t token) (lit, *SyntaxError) {
	typ := o.typ()
	if opTok.text == "&" || opTok.text == "bitwise_and" {
		typ = o.def.Type
		if typ == decode.TypeBool {
			typ = decode.TypeUint
		}
	}
	name := o.text
	var v val
	var err *SyntaxError
	switch typ {
	case decode.TypeUint:
		bits := o.def.Bits
		if o.fn != fnNone || o.masked {
			bits = 64
		}
		v.k = vUint
		v.u, err = p.uintLit(o, t, bits, name)
	case decode.TypeBool:
		v.k = vUint
		v.u, err = p.boolLit(t, name)
	case decode.TypeString:
		v.k = vBytes
		v.b, err = p.stringLit(t, name)
	case decode.TypeBytes:
		v.k = vBytes
		v.b, err = p.bytesLit(t)
	case decode.TypeIPv4, decode.TypeIPv6:
		return p.addrLit(t, name, typ == decode.TypeIPv6)
	case decode.TypeTime:
		v.k = vTime
		v.t, err = p.timeLit(t, name)
	default: // typeAny
		return anyLit(t), nil
	}
	if err != nil {
		return lit{bits: -1}, err
	}
	return lit{forms: []val{v}, bits: -1}, nil
}

// stringLit converts a literal for a string field.
func (p *parser) stringLit(t token, name string) ([]byte, *SyntaxError) {
	switch t.kind {
	case tChar:
		return nil, p.errAt(t, "%s is a string: write the character constant %s in double quotes", name, t.raw)
	case tWord:
		if msg := ambiguous(t.text, name); msg != "" {
			return nil, p.errAt(t, "%s", msg)
		}
	}
	return []byte(t.text), nil
}

// bytesLit converts a literal for a byte sequence: a string, a character
// constant or bytes in hexadecimal.
func (p *parser) bytesLit(t token) ([]byte, *SyntaxError) {
	switch t.kind {
	case tString:
		return []byte(t.text), nil
	case tChar:
		if t.num > 0xff {
			return nil, p.errAt(t, "the character constant %s is more than one byte", t.raw)
		}
		return []byte{byte(t.num)}, nil
	}
	b, ok := parseByteString(t.text)
	if !ok {
		return nil, p.errAt(t, "%q is not a valid byte string (write aa:bb:cc, aa-bb-cc, aabbcc or a \"string\")", t.text)
	}
	return b, nil
}

// addrLit converts a literal for an address field, possibly in CIDR
// notation.
func (p *parser) addrLit(t token, name string, v6 bool) (lit, *SyntaxError) {
	family := "IPv4"
	if v6 {
		family = "IPv6"
	}
	if t.kind != tWord {
		return lit{bits: -1}, p.errAt(t, "%s is an %s address: write %s without quotes", name, family, t.raw)
	}
	a, bits, msg := parseAddr(t.text, v6)
	if msg != "" {
		return lit{bits: -1}, p.errAt(t, "%s", msg)
	}
	return lit{forms: []val{{k: vAddr, a: a}}, bits: bits}, nil
}

// timeLit converts a literal for a time field: seconds, in nanoseconds.
func (p *parser) timeLit(t token, name string) (int64, *SyntaxError) {
	if t.kind != tWord {
		return 0, p.errAt(t, "%s is a time in seconds: write a number such as 1.5 without quotes", name)
	}
	v, ok := parseSeconds([]byte(t.text))
	if !ok {
		return 0, p.errAt(t, "%q is not a valid time: write seconds such as 1795458474.58 or 0.5", t.text)
	}
	return v, nil
}

// anyLit converts a literal for an untyped field (typeAny) to every form it
// can have: a character constant is a number; a word is also a number, a
// time or an address when it reads as one; every literal is also text.
func anyLit(t token) lit {
	l := lit{bits: -1}
	if t.kind == tChar {
		l.forms = append(l.forms, val{k: vUint, u: t.num})
		return l
	}
	if t.kind == tWord {
		if v, ok := parseUint(t.text); ok {
			l.forms = append(l.forms, val{k: vUint, u: v})
		}
		if v, ok := parseSeconds([]byte(t.text)); ok {
			l.forms = append(l.forms, val{k: vTime, t: v})
		}
		if f, ok := parseFloat(t.text); ok {
			l.forms = append(l.forms, val{k: vFloat, f: f})
		}
		switch t.text {
		case "true", "True", "TRUE":
			l.forms = append(l.forms, val{k: vUint, u: 1})
		case "false", "False", "FALSE":
			l.forms = append(l.forms, val{k: vUint, u: 0})
		}
		if a, bits, msg := parseAddr(t.text, strings.Contains(t.text, ":")); msg == "" {
			l.forms = append(l.forms, val{k: vAddr, a: a})
			l.bits = bits
		}
	}
	l.forms = append(l.forms, val{k: vBytes, b: []byte(t.text)})
	return l
}

// uintLit converts a literal for an unsigned integer field of the given
// width, looking up value names (Wireshark's value strings) when it has them.
func (p *parser) uintLit(o *operand, t token, bits uint8, name string) (uint64, *SyntaxError) {
	def := o.def
	vals := def.Vals
	if o.fn != fnNone || o.masked {
		vals = nil
	}
	var v uint64
	switch t.kind {
	case tChar:
		v = t.num
	case tString:
		if vals == nil {
			return 0, p.errAt(t, "%s is an unsigned integer: it cannot be compared with the string %s (write the number without quotes)", name, t.raw)
		}
		n, ok := lookupVals(def, t.text)
		if !ok {
			return 0, p.errAt(t, "%s cannot be found among the possible values for %s", t.raw, def.Name)
		}
		return n, nil
	default:
		n, ok := parseUint(t.text)
		if !ok {
			if neg, ok := parseNegative(t.text); ok {
				// tshark 4.0 accepts a negative number for an unsigned field
				// and never finds it equal to (or greater than) a value.
				return neg, nil
			}
			if vals != nil {
				if n, ok := lookupVals(def, t.text); ok {
					return n, nil
				}
				return 0, p.errAt(t, "%q cannot be found among the possible values for %s", t.text, def.Name)
			}
			return 0, p.errAt(t, "%q is not a valid number", t.text)
		}
		v = n
	}
	if bits < 64 && v>>bits != 0 {
		return 0, p.errAt(t, "%s is too big for %s, maximum %d", t.raw, name, uint64(1)<<bits-1)
	}
	return v, nil
}

// lookupVals finds a value by its name, ignoring case as Wireshark does.
// Fields with value names are one byte wide.
func lookupVals(def *fieldDef, s string) (uint64, bool) {
	for v := uint64(0); v <= 0xff; v++ {
		if n := def.Vals(v); n != "" && strings.EqualFold(n, s) {
			return v, true
		}
	}
	return 0, false
}

// boolLit converts a literal for a boolean field.
func (p *parser) boolLit(t token, name string) (uint64, *SyntaxError) {
	switch t.kind {
	case tChar:
		return b2u(t.num != 0), nil
	case tString:
		return 0, p.errAt(t, "%s is a boolean: write True, False, 1 or 0 without quotes, not %s", name, t.raw)
	}
	switch t.text {
	case "True", "TRUE", "true":
		return 1, nil
	case "False", "FALSE", "false":
		return 0, nil
	}
	if v, ok := parseUint(t.text); ok {
		return b2u(v != 0), nil
	}
	return 0, p.errAt(t, "%q is not a boolean value for %s: use True, False, 1 or 0", t.text, name)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// parseFloat parses a decimal number, with a sign, fraction and exponent
// allowed, for the numbers of decoded values.
func parseFloat(s string) (float64, bool) {
	if s == "" || !(s[0] >= '0' && s[0] <= '9' || s[0] == '-' || s[0] == '.') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// parseUint parses a decimal, 0x hexadecimal, 0b binary or 0-prefixed octal
// number.
func parseUint(s string) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	base, digits := 10, s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, digits = 16, s[2:]
	case len(s) > 2 && (s[:2] == "0b" || s[:2] == "0B"):
		base, digits = 2, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	v, err := strconv.ParseUint(digits, base, 64)
	return v, err == nil
}

// parseNegative parses "-N" and returns it as a two's complement uint64.
func parseNegative(s string) (uint64, bool) {
	if len(s) < 2 || s[0] != '-' {
		return 0, false
	}
	v, ok := parseUint(s[1:])
	if !ok || v > 1<<63 {
		return 0, false
	}
	return -v, true
}

// parseByteString parses aa:bb:cc, aa-bb-cc, aa.bb.cc, aabbcc, a single
// byte "a" or "0xNN" (one byte, as Wireshark converts it).
func parseByteString(s string) ([]byte, bool) {
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		v, err := strconv.ParseUint(s[2:], 16, 8)
		if err != nil {
			return nil, false
		}
		return []byte{byte(v)}, true
	}
	sep := byte(0)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ':' || c == '-' || c == '.' {
			sep = c
			break
		}
	}
	var out []byte
	if sep == 0 {
		if len(s) == 1 && isHex(s[0]) {
			return []byte{byte(hexVal(s[0]))}, true
		}
		if len(s) == 0 || len(s)%2 != 0 {
			return nil, false
		}
		for i := 0; i < len(s); i += 2 {
			if !isHex(s[i]) || !isHex(s[i+1]) {
				return nil, false
			}
			out = append(out, byte(hexVal(s[i])<<4|hexVal(s[i+1])))
		}
		return out, true
	}
	for _, part := range strings.Split(s, string(sep)) {
		switch {
		case len(part) == 1 && isHex(part[0]):
			out = append(out, byte(hexVal(part[0])))
		case len(part) == 2 && isHex(part[0]) && isHex(part[1]):
			out = append(out, byte(hexVal(part[0])<<4|hexVal(part[1])))
		default:
			return nil, false
		}
	}
	return out, true
}

// parseAddr parses an IPv4 or IPv6 address, optionally in CIDR notation.
// It returns the prefix length (-1 without one) or an error message.
func parseAddr(s string, v6 bool) (netip.Addr, int, string) {
	family, max := "IPv4", 32
	if v6 {
		family, max = "IPv6", 128
	}
	host, bitsText, cidr := strings.Cut(s, "/")
	a, err := netip.ParseAddr(host)
	if err != nil || a.Is6() != v6 || a.Zone() != "" {
		return netip.Addr{}, 0, fmt.Sprintf("%q is not a valid %s address (host names are not resolved)", host, family)
	}
	if !cidr {
		return a, -1, ""
	}
	bits, err := strconv.Atoi(bitsText)
	if err != nil || bits < 0 {
		return netip.Addr{}, 0, fmt.Sprintf("%q is not a valid netmask length in %q", bitsText, s)
	}
	if bits > max {
		return netip.Addr{}, 0, fmt.Sprintf("netmask bits in a CIDR %s address should be <= %d, not %d", family, max, bits)
	}
	pfx, _ := a.Prefix(bits)
	return pfx.Addr(), bits, ""
}

// maxSeconds is the largest number of seconds nanoseconds in an int64 hold.
const maxSeconds = (1<<63 - 1) / 1_000_000_000

// parseSeconds parses a decimal number of seconds ("1795458474.583138551",
// "-0.5", "3") into nanoseconds, without allocating.
func parseSeconds(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var sec, frac int64
	digits, fracDigits := 0, 0
	dot := false
	for _, c := range b {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			d := int64(c - '0')
			if !dot {
				if sec > maxSeconds/10 {
					return 0, false
				}
				sec = sec*10 + d
				digits++
			} else if fracDigits < 9 {
				frac = frac*10 + d
				fracDigits++
			}
		default:
			return 0, false
		}
	}
	if digits == 0 && fracDigits == 0 {
		return 0, false
	}
	if sec >= maxSeconds {
		return 0, false
	}
	for ; fracDigits < 9; fracDigits++ {
		frac *= 10
	}
	ns := sec*1e9 + frac
	if neg {
		ns = -ns
	}
	return ns, true
}

// ambiguous says what else an unquoted word for a string field could be
// ("a byte string": aa:bb, aa-bb, aa.bb, 0xNN; "an IP address"), and how to
// write it, or "" when it can only be text. tshark 4.0 compares such a word
// as text; Wireshark 4.2 and later reject it, and so does mqtap, rather than
// guess.
func ambiguous(w, field string) string {
	quote := fmt.Sprintf("write \"%s\" in double quotes to compare text", w)
	if _, err := netip.ParseAddr(w); err == nil {
		return fmt.Sprintf("%q is an IP address but %s is a string: %s", w, field, quote)
	}
	if _, err := netip.ParsePrefix(w); err == nil {
		return fmt.Sprintf("%q is an IP network but %s is a string: %s", w, field, quote)
	}
	if b, ok := parseByteString(w); ok && len(b) > 0 && (strings.ContainsAny(w, ":-.") || len(w) > 2 && (w[:2] == "0x" || w[:2] == "0X")) {
		return fmt.Sprintf("%q is a byte string but %s is a string: %s, or compare its bytes with a slice (%s[0:%d] == %s)",
			w, field, quote, field, len(b), w)
	}
	return ""
}
