// This file parses the operands of a test: fields, slices, bitmasks,
// functions and sets.

package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// functions are the function names of Wireshark's filter language.
var functions = map[string]fnKind{
	"len": fnLen, "count": fnCount,
	"upper": fnNone, "lower": fnNone, "string": fnNone, "max": fnNone, "min": fnNone, "abs": fnNone,
}

// parseOperand parses a field with an optional slice or bitmask, or (when
// fn) a function of such a field. lhs tells whether it starts a test.
func (p *parser) parseOperand(lhs, fn bool) (*operand, *SyntaxError) {
	t := p.peek()
	switch {
	case t.kind == tEOF:
		return nil, p.errAt(t, "expected a field name, got end of filter")
	case t.kind == tWord && keywords[t.text]:
		return nil, p.errAt(t, "expected a field name, got %s", t.describe())
	case t.kind != tWord:
		if lhs {
			if _, _, ok := relOf(p.toks[p.pos+1]); ok && (t.kind == tString || t.kind == tChar) {
				return nil, p.errAt(t, "the left side of %q must be a field or a function, not %s", p.toks[p.pos+1].text, t.describe())
			}
		}
		return nil, p.errAt(t, "expected a field name, got %s", t.describe())
	}
	p.advance()
	if p.peek().kind == tLParen {
		return p.parseFunction(t, fn)
	}
	def := lookupField(t.text)
	if def == nil {
		if lhs {
			if r := p.peek(); isOp(r, "==", "!=", "===", "!==", "~=", ">", "<", ">=", "<=") && looksLiteral(t.text) {
				return nil, p.errAt(t, "the left side of %q must be a field or a function, not %s", r.text, t.describe())
			}
		}
		return nil, p.errAt(t, "%q is neither a field nor a protocol name", t.text)
	}
	o := &operand{def: def, off: t.off, text: t.text}
	if p.peek().kind == tLBracket {
		if err := p.parseSlice(o); err != nil {
			return nil, err
		}
	}
	if isOp(p.peek(), "&") || isWord(p.peek(), "bitwise_and") {
		if err := p.parseMask(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// parseFunction parses the call of function name (its argument in
// parentheses) after its name; fn is false where a function cannot be.
func (p *parser) parseFunction(name token, fn bool) (*operand, *SyntaxError) {
	fk, known := functions[name.text]
	if !known {
		return nil, p.errAt(name, "%q is not a function (mqtap knows len and count)", name.text)
	}
	if fk == fnNone {
		return nil, p.errAt(name, "the function %s() is not supported by mqtap (len and count are)", name.text)
	}
	if !fn {
		return nil, p.errAt(name, "a function takes a field, not the function %s()", name.text)
	}
	p.advance()
	inner, err := p.parseOperand(false, false)
	if err != nil {
		return nil, err
	}
	if inner.masked {
		return nil, errAt(p.expr, inner.off, "%s() takes a field, not a bitwise expression", name.text)
	}
	if fk == fnLen {
		switch inner.typ() {
		case decode.TypeString, decode.TypeBytes, typeAny:
		default:
			return nil, errAt(p.expr, inner.off, "len() takes a string or byte field; %s is of type %s", inner.text, typeName(inner.typ()))
		}
	}
	c := p.peek()
	if c.kind != tRParen {
		return nil, p.errAt(c, "expected \")\" to close %s(, got %s", name.text, c.describe())
	}
	p.advance()
	inner.fn = fk
	inner.off = name.off
	inner.text = p.expr[name.off : c.off+1]
	return inner, nil
}

// parseMask parses a bitwise and with a mask after an integer field.
func (p *parser) parseMask(o *operand) *SyntaxError {
	amp := p.advance()
	if o.sl != nil || (o.def.Type != decode.TypeUint && o.def.Type != decode.TypeBool) {
		return p.errAt(amp, "the bitwise and %q works on integer fields; %s is of type %s", amp.text, o.text, typeName(o.typ()))
	}
	m := p.peek()
	if m.kind == tEOF {
		return p.errAt(m, "expected a bit mask after %q, got end of filter", amp.text)
	}
	l, err := p.parseLit(o, amp)
	if err != nil {
		return err
	}
	v, _ := l.form(vUint)
	o.masked, o.mask = true, v.u
	o.text = p.expr[o.off : m.off+len(m.raw)]
	return nil
}

// looksLiteral reports whether a word reads as a value rather than a
// misspelt field name.
func looksLiteral(w string) bool {
	if w == "" {
		return false
	}
	c := w[0]
	return c >= '0' && c <= '9' || c == '-'
}

// parseSlice parses [i:j], [i-j], [i], [:j] or [i:] after a field.
func (p *parser) parseSlice(o *operand) *SyntaxError {
	open := p.advance()
	switch o.def.Type {
	case decode.TypeString, decode.TypeBytes, typeAny:
	default:
		if o.def.src != session.FromMQTT {
			return p.errAt(open, "%s (type=%s) cannot be sliced: slices work on strings, byte sequences and the mqtt protocol", o.text, typeName(o.def.Type))
		}
	}
	w := p.peek()
	if w.kind != tWord {
		return p.errAt(w, "expected a range such as 0:2, 1-3, 0 or -2: after \"[\", got %s", w.describe())
	}
	p.advance()
	sl, msg := parseRange(w.text)
	if msg != "" {
		return p.errAt(w, "%s", msg)
	}
	c := p.peek()
	if c.kind == tComma {
		return p.errAt(c, "concatenated slices (a comma in [...]) are not supported by mqtap")
	}
	if c.kind != tRBracket {
		return p.errAt(c, "expected \"]\" to close the slice, got %s", c.describe())
	}
	p.advance()
	o.sl = sl
	o.text = p.expr[o.off : c.off+1]
	return nil
}

// parseRange parses the inside of a slice.
func parseRange(s string) (*slice, string) {
	bad := fmt.Sprintf("%q is not a valid range: use i:length, i-end, i, :length or i:", s)
	num := func(s string) (int, bool) {
		if s == "" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 32)
		return int(v), err == nil
	}
	if a, b, ok := strings.Cut(s, ":"); ok {
		start := 0
		if a != "" {
			v, ok := num(a)
			if !ok {
				return nil, bad
			}
			start = v
		}
		if b == "" {
			if a == "" {
				return nil, bad
			}
			return &slice{kind: sliceToEnd, start: start}, ""
		}
		n, ok := num(b)
		if !ok {
			return nil, bad
		}
		if n <= 0 {
			return nil, fmt.Sprintf("range %s isn't valid because length %d isn't positive", s, n)
		}
		return &slice{kind: sliceLen, start: start, arg: n}, ""
	}
	// i-j, where i and j may be negative: "-3--1", "1-2", "-2".
	i := 1
	for i < len(s) && s[i] != '-' {
		i++
	}
	if i >= len(s) {
		v, ok := num(s)
		if !ok {
			return nil, bad
		}
		return &slice{kind: sliceLen, start: v, arg: 1}, ""
	}
	a, ok1 := num(s[:i])
	b, ok2 := num(s[i+1:])
	if !ok1 || !ok2 {
		return nil, bad
	}
	if (a >= 0) == (b >= 0) && b < a {
		return nil, fmt.Sprintf("range %s isn't valid because its end comes before its start", s)
	}
	return &slice{kind: sliceEnd, start: a, arg: b}, ""
}

// parseSet parses {a, b, c..d} after "in".
func (p *parser) parseSet(lhs *operand, opTok token) ([]setElem, *SyntaxError) {
	open := p.peek()
	if open.kind == tEOF {
		return nil, p.errAt(open, "expected \"{\" after %q, got end of filter", opTok.text)
	}
	if open.kind != tLBrace {
		return nil, p.errAt(open, "expected \"{\" after %q, got %s", opTok.text, open.describe())
	}
	p.advance()
	var set []setElem
	for {
		t := p.peek()
		switch {
		case t.kind == tEOF:
			return nil, p.errAt(t, "expected a value or \"}\" in the set opened at column %d, got end of filter", utf8.RuneCountInString(p.expr[:open.off])+1)
		case t.kind == tRBrace && len(set) > 0:
			p.advance()
			return set, nil
		case t.kind == tComma && len(set) > 0:
			p.advance()
			if n := p.peek(); n.kind == tRBrace || n.kind == tComma {
				return nil, p.errAt(n, "expected a value after \",\" in the set, got %s", n.describe())
			}
			continue
		case t.kind != tWord && t.kind != tString && t.kind != tChar:
			return nil, p.errAt(t, "expected a value in the set, got %s", t.describe())
		}
		e, err := p.parseSetElem(lhs, opTok)
		if err != nil {
			return nil, err
		}
		set = append(set, e)
	}
}

// parseSetElem parses a value or a range lo..hi of a set.
func (p *parser) parseSetElem(lhs *operand, opTok token) (setElem, *SyntaxError) {
	var e setElem
	t := p.advance()
	lo, hi := t, token{}
	hasRange := false
	if t.kind == tWord {
		if a, b, ok := strings.Cut(t.text, ".."); ok {
			hasRange = true
			if a == "" {
				return e, p.errAt(t, "expected a value before \"..\"")
			}
			lo = token{kind: tWord, text: a, raw: a, off: t.off}
			if b != "" {
				hi = token{kind: tWord, text: b, raw: b, off: t.off + len(a) + 2}
			}
		}
	}
	if !hasRange {
		if n := p.peek(); n.kind == tWord && strings.HasPrefix(n.text, "..") {
			p.advance()
			hasRange = true
			if rest := n.text[2:]; rest != "" {
				hi = token{kind: tWord, text: rest, raw: rest, off: n.off + 2}
			}
		}
	}
	if hasRange && hi.kind == tEOF {
		h := p.peek()
		if h.kind != tWord && h.kind != tString && h.kind != tChar {
			return e, p.errAt(h, "expected the end of the range after \"..\", got %s", h.describe())
		}
		hi = p.advance()
	}
	var err *SyntaxError
	if e.lo, err = p.convert(lhs, opTok, lo); err != nil {
		return e, err
	}
	if !hasRange {
		e.hi = e.lo
		return e, nil
	}
	switch lhs.typ() {
	case decode.TypeUint, decode.TypeBool, decode.TypeTime, decode.TypeIPv4, decode.TypeIPv6, decode.TypeString, decode.TypeBytes, typeAny:
	default:
		return e, p.errAt(lo, "%s values cannot form a range", typeName(lhs.typ()))
	}
	if e.hi, err = p.convert(lhs, opTok, hi); err != nil {
		return e, err
	}
	e.isRange = true
	return e, nil
}
