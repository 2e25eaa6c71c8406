package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
)

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
	msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	// The message quotes the expression as it is: escape what would break
	// the one-line error (a \n in the filter's string is a newline here).
	var b strings.Builder
	for _, r := range msg {
		if r < 0x20 || r == 0x7f {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
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
