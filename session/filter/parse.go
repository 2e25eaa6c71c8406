package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// nodeOp is the operation of an expression node.
type nodeOp uint8

const (
	nTest nodeOp = iota // a field test
	nNot
	nAnd
	nOr
	nXor
)

// node is one node of a compiled filter: a test, or a logical operation on
// its kids (one for nNot; two or more for the others, which are n-ary so a
// long chain of "and" or "or" does not nest).
type node struct {
	op   nodeOp
	kids []*node
	t    *test
}

// rel is the relation a test checks between a field and a value.
type rel uint8

const (
	relExists rel = iota
	relEq
	relNe
	relGt
	relGe
	relLt
	relLe
	relContains
	relMatches
	relIn
)

// fnKind is a function applied to a field.
type fnKind uint8

const (
	fnNone  fnKind = iota
	fnLen          // len(f): byte length of each occurrence
	fnCount        // count(f): number of occurrences
)

// sliceKind is the form of a slice: [i:j], [i-j], [i:].
type sliceKind uint8

const (
	sliceLen   sliceKind = iota + 1 // start and length
	sliceEnd                        // start and inclusive end
	sliceToEnd                      // start to the end of the field
)

// slice selects bytes of a string or byte field.
type slice struct {
	kind       sliceKind
	start, arg int // arg: length (sliceLen) or end offset (sliceEnd)
}

// apply returns the selected bytes of b, or false when b is too short.
func (s *slice) apply(b []byte) ([]byte, bool) {
	n := len(b)
	start := s.start
	if start < 0 {
		start += n
	}
	if start < 0 || start >= n {
		return nil, false
	}
	switch s.kind {
	case sliceLen:
		if s.arg > n-start {
			return nil, false
		}
		return b[start : start+s.arg], true
	case sliceEnd:
		end := s.arg
		if end < 0 {
			end += n
		}
		if end < start || end >= n {
			return nil, false
		}
		return b[start : end+1], true
	}
	return b[start:], true
}

// operand is a field as a test reads it: possibly sliced, masked or passed
// to a function.
type operand struct {
	def    *fieldDef
	sl     *slice
	fn     fnKind
	masked bool
	mask   uint64
	off    int    // where it starts in the filter
	text   string // as written
}

// typ returns the type of the operand's values.
func (o *operand) typ() decode.FieldType {
	switch {
	case o.fn != fnNone || o.masked:
		return decode.TypeUint
	case o.sl != nil:
		return decode.TypeBytes
	case o.def.src == session.FromMQTT:
		return decode.TypeBytes
	}
	return o.def.Type
}

// lit is a literal value, in one form per kind it can be compared as (one
// form for a typed field, several for typeAny).
type lit struct {
	forms []val
	bits  int // prefix length of an address literal written in CIDR notation, else -1
}

// form returns the literal's form for values of kind k.
func (l *lit) form(k vkind) (*val, bool) {
	for i := range l.forms {
		if l.forms[i].k == k {
			return &l.forms[i], true
		}
	}
	return nil, false
}

// setElem is one member of an "in" set: a value or a range.
type setElem struct {
	lo, hi  lit
	isRange bool
}

// test is a field test: presence, comparison, search, match or membership.
type test struct {
	lhs operand
	rel rel
	all bool     // every occurrence (pair) must satisfy rel, rather than one
	rhs *operand // a field on the right side, or nil
	lit lit
	set []setElem
	re  *regexp.Regexp
	// textAddr: the field is untyped (typeAny) and a literal is an address, so
	// text values are read as addresses (record fields Head shows as text).
	textAddr bool
}

// parser is a recursive-descent parser over the tokens of one filter.
type parser struct {
	expr  string
	toks  []token
	pos   int
	depth int // parentheses open at the current token
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) advance() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

// errAt returns a syntax error at byte offset off of expr.
func errAt(expr string, off int, format string, args ...any) *SyntaxError {
	if off > len(expr) {
		off = len(expr)
	}
	return &SyntaxError{Expr: expr, Col: utf8.RuneCountInString(expr[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errAt(t token, format string, args ...any) *SyntaxError {
	return errAt(p.expr, t.off, format, args...)
}

// isWord reports whether t is the word w (keywords are case-sensitive in
// Wireshark).
func isWord(t token, words ...string) bool {
	if t.kind != tWord {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func isOp(t token, ops ...string) bool {
	if t.kind != tOp {
		return false
	}
	for _, o := range ops {
		if t.text == o {
			return true
		}
	}
	return false
}

// keywords cannot be field names or unquoted values.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "xor": true, "in": true, "contains": true, "matches": true,
	"eq": true, "ne": true, "gt": true, "lt": true, "ge": true, "le": true,
	"any_eq": true, "all_ne": true, "all_eq": true, "any_ne": true, "bitwise_and": true,
}

// parse parses a whole filter.
func (p *parser) parse() (*node, *SyntaxError) {
	if p.peek().kind == tEOF {
		return nil, p.errAt(p.peek(), "the filter is empty")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errAt(t, "unexpected \")\": no \"(\" is open")
		}
		return nil, p.errAt(t, "unexpected %s: expected \"and\", \"or\" or the end of the filter", t.describe())
	}
	return n, nil
}

// parseOr parses a or b or ...; the operators below bind tighter, in the
// order xor, and, not.
func (p *parser) parseOr() (*node, *SyntaxError) {
	l, err := p.parseXor()
	if err != nil {
		return nil, err
	}
	if !(isWord(p.peek(), "or") || isOp(p.peek(), "||")) {
		return l, nil
	}
	n := &node{op: nOr, kids: []*node{l}}
	for isWord(p.peek(), "or") || isOp(p.peek(), "||") {
		p.advance()
		r, err := p.parseXor()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

// parseXor parses a xor b xor ... (true when an odd number are).
func (p *parser) parseXor() (*node, *SyntaxError) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if !(isWord(p.peek(), "xor") || isOp(p.peek(), "^^")) {
		return l, nil
	}
	n := &node{op: nXor, kids: []*node{l}}
	for isWord(p.peek(), "xor") || isOp(p.peek(), "^^") {
		p.advance()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

// parseAnd parses a and b and ...
func (p *parser) parseAnd() (*node, *SyntaxError) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	if !(isWord(p.peek(), "and") || isOp(p.peek(), "&&")) {
		return l, nil
	}
	n := &node{op: nAnd, kids: []*node{l}}
	for isWord(p.peek(), "and") || isOp(p.peek(), "&&") {
		p.advance()
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

// maxDepth bounds nesting, so a hostile filter cannot exhaust the stack.
const maxDepth = 200

// parseNot parses any number of not or ! before a primary expression.
func (p *parser) parseNot() (*node, *SyntaxError) {
	depth := 0
	for isWord(p.peek(), "not") || isOp(p.peek(), "!") {
		p.advance()
		depth++
	}
	n, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if depth%2 == 1 { // "not not a" is "a"
		n = &node{op: nNot, kids: []*node{n}}
	}
	return n, nil
}

// parsePrimary parses a parenthesised expression or a test.
func (p *parser) parsePrimary() (*node, *SyntaxError) {
	t := p.peek()
	if t.kind == tLParen {
		open := p.advance()
		if p.depth++; p.depth > maxDepth {
			return nil, p.errAt(open, "parentheses nested more than %d deep", maxDepth)
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.depth--
		if c := p.peek(); c.kind != tRParen {
			col := utf8.RuneCountInString(p.expr[:open.off]) + 1
			if c.kind == tEOF {
				return nil, p.errAt(c, "unclosed parenthesis: expected \")\" to close the \"(\" of column %d, got end of filter", col)
			}
			return nil, p.errAt(c, "expected \")\" to close the \"(\" of column %d, got %s", col, c.describe())
		}
		p.advance()
		return n, nil
	}
	tst, err := p.parseTest()
	if err != nil {
		return nil, err
	}
	return &node{op: nTest, t: tst}, nil
}

// relOps maps comparison operators to a relation and whether every
// occurrence must satisfy it (tshark 4.0's any/all semantics).
var relOps = map[string]struct {
	rel rel
	all bool
}{
	"==": {relEq, false}, "eq": {relEq, false}, "any_eq": {relEq, false},
	"!=": {relNe, true}, "ne": {relNe, true}, "all_ne": {relNe, true},
	"===": {relEq, true}, "all_eq": {relEq, true},
	"!==": {relNe, false}, "~=": {relNe, false}, "any_ne": {relNe, false},
	">": {relGt, false}, "gt": {relGt, false},
	">=": {relGe, false}, "ge": {relGe, false},
	"<": {relLt, false}, "lt": {relLt, false},
	"<=": {relLe, false}, "le": {relLe, false},
	"contains": {relContains, false},
	"matches":  {relMatches, false}, "~": {relMatches, false},
	"in": {relIn, false},
}

// relOf returns the relation token t names, if any.
func relOf(t token) (rel, bool, bool) {
	if t.kind != tOp && t.kind != tWord {
		return 0, false, false
	}
	r, ok := relOps[t.text]
	return r.rel, r.all, ok
}

// parseTest parses [any|all] operand [relation value].
func (p *parser) parseTest() (*test, *SyntaxError) {
	quant := ""
	if t := p.peek(); isWord(t, "any", "all") && p.toks[p.pos+1].kind == tWord {
		if lookupField(t.text) == nil {
			quant = p.advance().text
		}
	}
	lhs, err := p.parseOperand(true, true)
	if err != nil {
		return nil, err
	}
	tst := &test{lhs: *lhs}
	opTok := p.peek()
	r, all, ok := relOf(opTok)
	if !ok {
		if err := p.checkNoRel(opTok, quant, lhs); err != nil {
			return nil, err
		}
		tst.rel = relExists // presence of a field, slice, function value or masked bits
		return tst, nil
	}
	p.advance()
	tst.rel, tst.all = r, all
	switch quant {
	case "any":
		tst.all = false
	case "all":
		tst.all = true
	}
	if err := p.checkOperandRel(lhs, opTok, r); err != nil {
		return nil, err
	}
	switch r {
	case relMatches:
		tst.re, err = p.parseRegexp(opTok)
	case relIn:
		err = p.parseSetTest(tst, lhs, opTok)
	default:
		err = p.parseValue(tst, lhs, opTok, r)
	}
	if err != nil {
		return nil, err
	}
	return tst, nil
}

// checkNoRel rejects what follows an operand that is not a comparison
// operator, where a presence test cannot end either.
func (p *parser) checkNoRel(opTok token, quant string, lhs *operand) *SyntaxError {
	switch {
	case opTok.kind == tOp && !isOp(opTok, "&&", "||", "^^", "!"):
		return p.errAt(opTok, "%s is not a comparison operator (use ==, !=, <, >, <=, >=, contains, matches or in)", opTok.describe())
	case quant != "":
		return p.errAt(opTok, "expected a comparison after %q, got %s", quant+" "+lhs.text, opTok.describe())
	case isWord(opTok, "not") && isWord(p.toks[p.pos+1], "in"):
		return p.errAt(opTok, "\"not in\" is not supported (nor by tshark 4.0): write not %s in {...}", lhs.text)
	}
	return nil
}

// parseRegexp parses the regular expression after "matches".
func (p *parser) parseRegexp(opTok token) (*regexp.Regexp, *SyntaxError) {
	v := p.peek()
	if v.kind == tEOF {
		return nil, p.errAt(v, "expected a regular expression in double quotes after %q, got end of filter", opTok.text)
	}
	if v.kind != tString {
		return nil, p.errAt(v, "%q needs a regular expression in double quotes, got %s", opTok.text, v.describe())
	}
	p.advance()
	if _, err := regexp.Compile(v.text); err != nil {
		return nil, p.errAt(v, "invalid regular expression %s: %s", v.describe(), reErr(err))
	}
	// tshark 4.0 matches case-insensitively unless the pattern says (?-i).
	re, err := regexp.Compile("(?i)" + v.text)
	if err != nil {
		return nil, p.errAt(v, "invalid regular expression %s: %s", v.describe(), reErr(err))
	}
	return re, nil
}

// parseSetTest parses the set after "in".
func (p *parser) parseSetTest(tst *test, lhs *operand, opTok token) *SyntaxError {
	set, err := p.parseSet(lhs, opTok)
	if err != nil {
		return err
	}
	tst.set = set
	for _, e := range set {
		_, ok := e.lo.form(vAddr)
		tst.textAddr = tst.textAddr || ok && lhs.typ() == typeAny
	}
	return nil
}

// parseValue parses what a field is compared with: another field or
// function, or a literal.
func (p *parser) parseValue(tst *test, lhs *operand, opTok token, r rel) *SyntaxError {
	v := p.peek()
	if v.kind == tEOF {
		return p.errAt(v, "expected a value after %q, got end of filter", opTok.text)
	}
	if v.kind == tWord && !keywords[v.text] && (lookupField(v.text) != nil || p.toks[p.pos+1].kind == tLParen) {
		rhs, err := p.parseOperand(false, true)
		if err != nil {
			return err
		}
		if !compatible(lhs.typ(), rhs.typ()) || r == relContains && rhs.typ() != decode.TypeBytes && rhs.typ() != decode.TypeString && rhs.typ() != typeAny {
			return errAt(p.expr, rhs.off, "%s and %s are not of compatible types", lhs.text, rhs.text)
		}
		if err := p.checkOperandRel(rhs, opTok, r); err != nil {
			return err
		}
		tst.rhs = rhs
		return nil
	}
	l, err := p.parseLit(lhs, opTok)
	if err != nil {
		return err
	}
	tst.lit = l
	_, ok := l.form(vAddr)
	tst.textAddr = ok && lhs.typ() == typeAny && r != relContains
	return nil
}

// reErr shortens a regexp error to its cause.
func reErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// compatible reports whether values of types a and b can be compared.
func compatible(a, b decode.FieldType) bool {
	class := func(t decode.FieldType) int {
		switch t {
		case decode.TypeUint, decode.TypeBool:
			return 1
		case decode.TypeString, decode.TypeBytes:
			return 2
		}
		return int(t) + 10
	}
	return a == typeAny || b == typeAny || class(a) == class(b)
}

// checkOperandRel rejects relations a field type cannot take part in.
func (p *parser) checkOperandRel(o *operand, opTok token, r rel) *SyntaxError {
	t := o.typ()
	switch {
	case t == decode.TypeNone:
		return errAt(p.expr, o.off, "%s (type=Label) cannot take part in a %q comparison: it can only be tested for presence", o.text, opTok.text)
	case t == decode.TypeProtocol:
		return errAt(p.expr, o.off, "the protocol %s can only be tested for presence here: mqtap does not keep its bytes (mqtt's are kept)", o.text)
	case r == relContains && t != decode.TypeString && t != decode.TypeBytes && t != typeAny:
		return errAt(p.expr, o.off, "%s (type=%s) cannot take part in a %q comparison: it works on strings and byte sequences", o.text, typeName(t), opTok.text)
	case r == relMatches && t != decode.TypeString && t != decode.TypeBytes && t != typeAny:
		return errAt(p.expr, o.off, "%s (type=%s) cannot take part in a %q comparison: it works on strings and byte sequences", o.text, typeName(t), opTok.text)
	}
	return nil
}

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
