// The built-in capture filter compiler's parser: tcpdump's grammar
// (primitives with qualifiers, and/or/not, parentheses, qualifier reuse)
// to a tree of filterNode.

package live

import "net/netip"

// filter directions
const (
	dirAny  = iota // src or dst (the default)
	dirSrc         // src
	dirDst         // dst
	dirBoth        // src and dst
)

// filterQual is the qualifiers of a primitive (tcpdump's head), reused by a
// bare value after and/or.
type filterQual struct {
	valid bool
	proto string // "", "tcp", "udp", "sctp", "ip", "ip6"
	dir   int
	addr  string // "", "host", "net", "port", "portrange"
}

// filterNode is a parsed expression.
type filterNode interface{}

type (
	fAnd   struct{ l, r filterNode }
	fOr    struct{ l, r filterNode }
	fNot   struct{ x filterNode }
	fProto struct{ proto string } // tcp, udp, sctp, ip, ip6
	fPort  struct {
		proto  string // "", tcp, udp, sctp
		dir    int
		lo, hi uint16
	}
	fAddr struct {
		proto  string // "", ip, ip6
		dir    int
		prefix netip.Prefix
	}
)

var filterKeywords = map[string]bool{
	"tcp": true, "udp": true, "sctp": true, "ip": true, "ip6": true,
	"src": true, "dst": true, "host": true, "net": true, "port": true, "portrange": true,
}

type filterParser struct {
	toks  []ftok
	pos   int
	depth int
}

func (p *filterParser) peek() ftok { return p.toks[p.pos] }

func (p *filterParser) peekAt(n int) ftok {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return ftok{kind: ftEOF}
}

func (p *filterParser) next() ftok {
	t := p.toks[p.pos]
	if t.kind != ftEOF {
		p.pos++
	}
	return t
}

// unexpected is the error for token t where something else was due.
func (p *filterParser) unexpected(t ftok, want string) error {
	switch t.kind {
	case ftEOF:
		return syntaxErrorf("the expression ends where %s was expected", want)
	case ftBad:
		return unsupported(t.text)
	case ftWord:
		if !filterKeywords[t.text] {
			return unsupported(t.text)
		}
	}
	return syntaxErrorf("%q where %s was expected", t.text, want)
}

func (p *filterParser) enter() error {
	p.depth++
	if p.depth > filterMaxDepth {
		return syntaxErrorf("the expression is nested too deeply")
	}
	return nil
}

func (p *filterParser) leave() { p.depth-- }

func (p *filterParser) program() (filterNode, error) {
	if p.peek().kind == ftEOF {
		return nil, nil
	}
	n, _, err := p.expr(filterQual{})
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != ftEOF {
		if t.kind == ftRParen {
			return nil, syntaxErrorf("unbalanced parentheses: \")\" without \"(\"")
		}
		return nil, p.unexpected(t, "and, or or the end")
	}
	return n, nil
}

// expr: term { (and|or) (term|id) }, and and or with the same precedence,
// associating left to right, as tcpdump's.
func (p *filterParser) expr(q filterQual) (filterNode, filterQual, error) {
	if err := p.enter(); err != nil {
		return nil, q, err
	}
	defer p.leave()
	left, q, err := p.term(q)
	if err != nil {
		return nil, q, err
	}
	for {
		op := p.peek()
		if op.kind != ftAnd && op.kind != ftOr {
			return left, q, nil
		}
		p.next()
		if p.peek().kind == ftEOF {
			return nil, q, syntaxErrorf("nothing after %q", op.text)
		}
		var right filterNode
		if p.startsID(0) {
			right, q, err = p.id(q)
		} else {
			right, q, err = p.term(q)
		}
		if err != nil {
			return nil, q, err
		}
		if op.kind == ftAnd {
			left = fAnd{left, right}
		} else {
			left = fOr{left, right}
		}
	}
}

// startsID reports whether a bare value (which reuses the qualifiers before
// it) starts n tokens ahead, possibly negated or in parentheses.
func (p *filterParser) startsID(n int) bool {
	for {
		t := p.peekAt(n)
		switch {
		case t.kind == ftNot || t.kind == ftLParen:
			n++
		case t.kind == ftWord:
			return !filterKeywords[t.text]
		default:
			return false
		}
	}
}

func (p *filterParser) term(q filterQual) (filterNode, filterQual, error) {
	if err := p.enter(); err != nil {
		return nil, q, err
	}
	defer p.leave()
	if p.peek().kind == ftNot {
		p.next()
		n, q2, err := p.term(q)
		if err != nil {
			return nil, q, err
		}
		return fNot{n}, q2, nil
	}
	return p.rterm(q)
}

func (p *filterParser) rterm(q filterQual) (filterNode, filterQual, error) {
	t := p.peek()
	switch t.kind {
	case ftLParen:
		p.next()
		n, _, err := p.expr(q)
		if err != nil {
			return nil, q, err
		}
		if c := p.peek(); c.kind != ftRParen {
			if c.kind == ftEOF {
				return nil, q, syntaxErrorf("unbalanced parentheses: \"(\" without \")\"")
			}
			return nil, q, p.unexpected(c, "\")\"")
		}
		p.next()
		// As tcpdump's: after parentheses, the qualifiers of before them.
		return n, q, nil
	case ftWord:
	default:
		return nil, q, p.unexpected(t, "a primitive")
	}
	head := filterQual{valid: true}
	switch t.text {
	case "tcp", "udp", "sctp", "ip", "ip6":
		p.next()
		nt := p.peek()
		if nt.kind != ftWord || !isFilterQualWord(nt.text) {
			// A protocol alone; a bare value after it is an error.
			return fProto{t.text}, filterQual{}, nil
		}
		head.proto = t.text
	case "src", "dst", "host", "net", "port", "portrange":
	default:
		return nil, q, p.unexpected(t, "a primitive")
	}
	if w := p.peek(); w.kind == ftWord && (w.text == "src" || w.text == "dst") {
		p.next()
		head.dir = dirSrc
		if w.text == "dst" {
			head.dir = dirDst
		}
		if op, o := p.peek(), p.peekAt(1); (op.kind == ftAnd || op.kind == ftOr) &&
			o.kind == ftWord && (o.text == "src" || o.text == "dst") && o.text != w.text {
			p.next()
			p.next()
			head.dir = dirAny
			if op.kind == ftAnd {
				head.dir = dirBoth
			}
		}
	}
	if w := p.peek(); w.kind == ftWord {
		switch w.text {
		case "host", "net", "port", "portrange":
			p.next()
			head.addr = w.text
		}
	}
	n, _, err := p.id(head)
	if err != nil {
		return nil, q, err
	}
	return n, head, nil
}

func isFilterQualWord(w string) bool {
	switch w {
	case "src", "dst", "host", "net", "port", "portrange":
		return true
	}
	return false
}

// id is a value with the qualifiers q: VALUE, not id, or ( id {and|or id} ).
func (p *filterParser) id(q filterQual) (filterNode, filterQual, error) {
	if err := p.enter(); err != nil {
		return nil, q, err
	}
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case ftNot:
		p.next()
		n, _, err := p.id(q)
		if err != nil {
			return nil, q, err
		}
		return fNot{n}, q, nil
	case ftLParen:
		p.next()
		if p.peek().kind == ftLParen {
			// tcpdump's grammar: a list of values starts with a value.
			return nil, q, syntaxErrorf("a list of values in parentheses cannot start with \"(\"")
		}
		n, _, err := p.id(q)
		if err != nil {
			return nil, q, err
		}
		for {
			op := p.peek()
			if op.kind != ftAnd && op.kind != ftOr {
				break
			}
			p.next()
			r, _, err := p.id(q)
			if err != nil {
				return nil, q, err
			}
			if op.kind == ftAnd {
				n = fAnd{n, r}
			} else {
				n = fOr{n, r}
			}
		}
		if c := p.peek(); c.kind != ftRParen {
			if c.kind == ftEOF {
				return nil, q, syntaxErrorf("unbalanced parentheses: \"(\" without \")\"")
			}
			return nil, q, p.unexpected(c, "\")\"")
		}
		p.next()
		return n, q, nil
	case ftWord:
		if filterKeywords[t.text] {
			return nil, q, p.unexpected(t, "a value")
		}
		p.next()
		n, err := filterPrimitive(q, t.text)
		return n, q, err
	}
	return nil, q, p.unexpected(t, "a value")
}
