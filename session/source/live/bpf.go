// Package capture reads frames from a live network interface through Linux's
// packet sockets (AF_PACKET, cgo-free) and compiles the kernel (BPF) filter
// that keeps only the traffic mqtap decodes.
package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/bpf"
)

// Link is where the IP header starts in the frames a filter runs on.
type Link int

const (
	LinkEthernet Link = iota // Ethernet II header (14 bytes; also Linux loopback)
	LinkRaw                  // frames start with the IPv4 or IPv6 header (AF_PACKET SOCK_DGRAM, tun devices)
)

func (l Link) String() string {
	switch l {
	case LinkEthernet:
		return "Ethernet"
	case LinkRaw:
		return "raw IP"
	}
	return "Link(" + strconv.Itoa(int(l)) + ")"
}

// PortsExpr is the default filter: TCP on any of ports, e.g.
// "tcp port 1883 or tcp port 1884". Empty ports → "tcp".
func PortsExpr(ports []uint16) string {
	if len(ports) == 0 {
		return "tcp"
	}
	seen := make(map[uint16]bool, len(ports))
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		if seen[p] {
			continue
		}
		seen[p] = true
		parts = append(parts, "tcp port "+strconv.Itoa(int(p)))
	}
	return strings.Join(parts, " or ")
}

// ParsePortList reads a list of port numbers separated by commas and/or
// spaces: "1883,8883", "1883 8883" and "1883, 8883" all give [1883 8883].
// ok is false, with no error, when s is not purely a list of numbers (it is
// then presumably a tcpdump expression); err is set when s is such a list but
// one of its numbers is not a port (0 or above 65535).
func ParsePortList(s string) (ports []uint16, ok bool, err error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, false, nil
	}
	for _, f := range fields {
		for i := 0; i < len(f); i++ {
			if f[i] < '0' || f[i] > '9' {
				return nil, false, nil
			}
		}
	}
	for _, f := range fields {
		n, perr := strconv.ParseUint(f, 10, 64)
		if perr != nil || n == 0 || n > 65535 {
			return nil, true, fmt.Errorf("port %s is out of range (1-65535)", f)
		}
		ports = append(ports, uint16(n))
	}
	return ports, true, nil
}

// CompileFilter compiles a tcpdump-syntax capture filter for frames of link
// into a classic BPF program that accepts at most snaplen bytes of a
// matching frame and 0 of others. expr "" matches everything.
//
// The built-in compiler understands a useful subset of tcpdump's syntax:
// the primitives tcp, udp, sctp, ip, ip6, [tcp|udp|sctp] [src|dst] port N,
// [tcp|udp|sctp] [src|dst] portrange A-B, [ip|ip6] [src|dst] host ADDR
// (IPv4 or IPv6 literal) and [ip|ip6] [src|dst] net CIDR, combined with
// and/&&, or/||, not/! and parentheses, with tcpdump's qualifier reuse
// ("port 1883 or 8883"). An expression it does not understand is compiled
// with `tcpdump -y EN10MB|RAW -ddd EXPR` when tcpdump is installed (it needs
// neither an interface nor privileges), which gives the full libpcap syntax;
// the program's `ret #nonzero` instructions then return snaplen.
func CompileFilter(expr string, link Link, snaplen uint32) ([]bpf.RawInstruction, error) {
	return compileFilter(expr, link, snaplen, tcpdumpPath())
}

// compileFilter is CompileFilter with the path of tcpdump given ("" when
// there is none).
func compileFilter(expr string, link Link, snaplen uint32, tcpdump string) ([]bpf.RawInstruction, error) {
	if link != LinkEthernet && link != LinkRaw {
		return nil, fmt.Errorf("capture filter %q: unknown link type %v", expr, link)
	}
	if snaplen == 0 {
		return nil, fmt.Errorf("capture filter %q: the snapshot length must be positive", expr)
	}
	prog, err := compileBuiltin(expr, link, snaplen)
	if err == nil {
		return prog, nil
	}
	if tcpdump != "" {
		prog, terr := compileTcpdump(tcpdump, expr, link, snaplen)
		if terr == nil {
			return prog, nil
		}
		var te *tcpdumpError
		if errors.As(terr, &te) {
			return nil, fmt.Errorf("capture filter %q: %s", expr, te.msg)
		}
		// tcpdump did not run: report what the built-in compiler found.
	}
	var be *builtinError
	if errors.As(err, &be) && be.unsupported {
		return nil, fmt.Errorf("capture filter %q: mqtap's built-in compiler does not understand %q (it knows tcp, udp, sctp, ip, ip6, [src|dst] port, portrange, [src|dst] host, net, and, or, not, parentheses); install tcpdump for full tcpdump syntax", expr, be.word)
	}
	if errors.Is(err, errFilterTooLong) {
		return nil, fmt.Errorf("capture filter %q: %v for mqtap's built-in compiler; install tcpdump, whose optimizer makes shorter programs", expr, err)
	}
	return nil, fmt.Errorf("capture filter %q: %v", expr, err)
}

// builtinError is an expression the built-in compiler rejects: either a
// word it does not know (unsupported), or a syntax error.
type builtinError struct {
	unsupported bool
	word        string // the word not understood
	msg         string // the syntax error
}

func (e *builtinError) Error() string {
	if e.unsupported {
		return fmt.Sprintf("%q is not understood", e.word)
	}
	return e.msg
}

func unsupported(word string) error { return &builtinError{unsupported: true, word: word} }

func syntaxErrorf(format string, args ...any) error {
	return &builtinError{msg: fmt.Sprintf(format, args...)}
}

// errFilterTooLong is the built-in compiler's program being too long for
// the kernel: more than 4096 instructions, or a conditional jump over more
// than 255 of them.
var errFilterTooLong = errors.New("filter too long")

// filterMaxInstructions is the kernel's limit (BPF_MAXINSNS).
const filterMaxInstructions = 4096

// filterMaxTokens bounds the length of an expression: each primitive
// takes several instructions.
const filterMaxTokens = filterMaxInstructions

// filterMaxDepth bounds the nesting of parentheses and negations.
const filterMaxDepth = 100

// compileBuiltin compiles expr with mqtap's own compiler, without tcpdump.
func compileBuiltin(expr string, link Link, snaplen uint32) ([]bpf.RawInstruction, error) {
	var ipOff uint32
	switch link {
	case LinkEthernet:
		ipOff = 14
	case LinkRaw:
		ipOff = 0
	default:
		return nil, fmt.Errorf("unknown link type %v", link)
	}
	toks := filterLex(expr)
	if len(toks) > filterMaxTokens {
		return nil, fmt.Errorf("%w (%d words)", errFilterTooLong, len(toks)-1)
	}
	p := &filterParser{toks: toks}
	tree, err := p.program()
	if err != nil {
		return nil, err
	}
	lw := filterLowerer{eth: link == LinkEthernet, ip: ipOff}
	var b bexpr = bconst(true)
	if tree != nil {
		b = lw.lower(tree)
	}
	return filterGen(b, ipOff, snaplen)
}

// ---- lexer

type ftokKind int

const (
	ftEOF ftokKind = iota
	ftWord
	ftLParen
	ftRParen
	ftNot
	ftAnd
	ftOr
	ftBad // characters of a syntax the built-in compiler does not know
)

type ftok struct {
	kind ftokKind
	text string
}

func isFilterWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_'
}

func isFilterSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func filterLex(s string) []ftok {
	var toks []ftok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isFilterSpace(c):
			i++
		case c == '(':
			toks = append(toks, ftok{ftLParen, "("})
			i++
		case c == ')':
			toks = append(toks, ftok{ftRParen, ")"})
			i++
		case c == '!' && (i+1 >= len(s) || s[i+1] != '='):
			toks = append(toks, ftok{ftNot, "!"})
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, ftok{ftAnd, "&&"})
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, ftok{ftOr, "||"})
			i += 2
		case isFilterWordByte(c):
			j := i
			for j < len(s) && isFilterWordByte(s[j]) {
				j++
			}
			w := s[i:j]
			if j < len(s) && !isFilterSpace(s[j]) && s[j] != '(' && s[j] != ')' && s[j] != '!' &&
				!strings.HasPrefix(s[j:], "&&") && !strings.HasPrefix(s[j:], "||") {
				// A word glued to other characters, as tcp[13]: not ours.
				for j < len(s) && !isFilterSpace(s[j]) {
					j++
				}
				toks = append(toks, ftok{ftBad, s[i:j]})
				i = j
				continue
			}
			switch w {
			case "and":
				toks = append(toks, ftok{ftAnd, w})
			case "or":
				toks = append(toks, ftok{ftOr, w})
			case "not":
				toks = append(toks, ftok{ftNot, w})
			default:
				toks = append(toks, ftok{ftWord, w})
			}
			i = j
		default:
			j := i
			for j < len(s) && !isFilterSpace(s[j]) {
				j++
			}
			toks = append(toks, ftok{ftBad, s[i:j]})
			i = j
		}
	}
	return append(toks, ftok{kind: ftEOF})
}

// ---- parser

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

// filterValue is a value of a primitive: a number, a range, an address or a
// CIDR prefix.
type filterValue struct {
	kind   int // fvNumber, fvRange, fvAddr, fvPrefix
	n, m   uint64
	addr   netip.Addr
	prefix netip.Prefix
}

const (
	fvNumber = iota
	fvRange
	fvAddr
	fvPrefix
)

// filterNumber parses a decimal number as libpcap does; numbers with a
// leading 0 or 0x (octal, hexadecimal in libpcap) are left to tcpdump.
func filterNumber(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 1 << 63, true // far too large anyway
	}
	return n, true
}

func parseFilterValue(s string) (filterValue, bool) {
	if n, ok := filterNumber(s); ok {
		return filterValue{kind: fvNumber, n: n}, true
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		x, ok1 := filterNumber(a)
		y, ok2 := filterNumber(b)
		if ok1 && ok2 {
			return filterValue{kind: fvRange, n: x, m: y}, true
		}
		return filterValue{}, false
	}
	if a, b, ok := strings.Cut(s, "/"); ok {
		addr, err := netip.ParseAddr(a)
		bits, ok := filterNumber(b)
		if err != nil || !ok || addr.Zone() != "" {
			return filterValue{}, false
		}
		if bits > uint64(addr.BitLen()) {
			bits = 1 << 16 // invalid, reported by the caller
		}
		return filterValue{kind: fvPrefix, addr: addr, n: bits}, true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return filterValue{}, false
	}
	return filterValue{kind: fvAddr, addr: addr}, true
}

// filterPrimitive is the primitive of value s with the qualifiers q.
func filterPrimitive(q filterQual, s string) (filterNode, error) {
	v, ok := parseFilterValue(s)
	if !ok {
		return nil, unsupported(s)
	}
	if !q.valid {
		return nil, syntaxErrorf("%q has no qualifier (as host or port) to reuse", s)
	}
	switch q.addr {
	case "port", "portrange":
		switch q.proto {
		case "", "tcp", "udp", "sctp":
		default:
			return nil, syntaxErrorf("%q qualifier of %s", q.proto, q.addr)
		}
		var lo, hi uint64
		switch {
		case q.addr == "port" && v.kind == fvNumber:
			lo, hi = v.n, v.n
		case q.addr == "portrange" && v.kind == fvRange:
			lo, hi = v.n, v.m
		case v.kind == fvAddr || v.kind == fvPrefix:
			return nil, syntaxErrorf("%s needs a port number, not %q", q.addr, s)
		default:
			return nil, unsupported(s)
		}
		for _, n := range []uint64{lo, hi} {
			if n > 65535 {
				return nil, syntaxErrorf("port %d is out of range (0-65535)", n)
			}
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		return fPort{proto: q.proto, dir: q.dir, lo: uint16(lo), hi: uint16(hi)}, nil
	}
	// host, net or an address with no address qualifier
	switch q.proto {
	case "", "ip", "ip6":
	default:
		return nil, syntaxErrorf("%q qualifier of a host or net", q.proto)
	}
	var prefix netip.Prefix
	switch {
	case v.kind == fvAddr && q.addr != "net":
		prefix = netip.PrefixFrom(v.addr, v.addr.BitLen())
	case v.kind == fvPrefix && q.addr == "net":
		if v.n > uint64(v.addr.BitLen()) {
			return nil, syntaxErrorf("mask length of %q is too large", s)
		}
		prefix = netip.PrefixFrom(v.addr, int(v.n))
		if prefix.Masked().Addr() != v.addr {
			return nil, syntaxErrorf("non-network bits set in %q", s)
		}
	case v.kind == fvPrefix:
		return nil, syntaxErrorf("%q: a mask needs net", s)
	default:
		// a number as host or net ("net 10", "host 167772161"), or a
		// network without mask: tcpdump's business.
		return nil, unsupported(s)
	}
	if q.proto == "ip" && !prefix.Addr().Is4() || q.proto == "ip6" && prefix.Addr().Is4() {
		return nil, syntaxErrorf("%q qualifier of address %q", q.proto, s)
	}
	return fAddr{proto: q.proto, dir: q.dir, prefix: prefix}, nil
}

// ---- lowering: primitives to tests of loaded frame bytes

// bload is what the accumulator holds: size bytes at off (at X+off when
// ind, X being the IPv4 header's length), and'ed with mask if not 0.
type bload struct {
	size uint8
	off  uint32
	ind  bool
	mask uint32
}

// bexpr is a boolean expression over tests: bAnd, bOr, bNot, bTest, bconst.
type bexpr interface{}

type (
	bAnd   struct{ l, r bexpr }
	bOr    struct{ l, r bexpr }
	bNot   struct{ x bexpr }
	bconst bool
	bTest  struct {
		ld   bload
		cond bpf.JumpTest // JumpEqual, JumpGreaterOrEqual, JumpGreaterThan, JumpBitsSet
		val  uint32
	}
)

func band(xs ...bexpr) bexpr {
	var out bexpr = bconst(true)
	for _, x := range xs {
		switch {
		case x == bconst(false):
			return bconst(false)
		case x == bconst(true):
		case out == bconst(true):
			out = x
		default:
			out = bAnd{out, x}
		}
	}
	return out
}

func bor(xs ...bexpr) bexpr {
	var out bexpr = bconst(false)
	for _, x := range xs {
		switch {
		case x == bconst(true):
			return bconst(true)
		case x == bconst(false):
		case out == bconst(false):
			out = x
		default:
			out = bOr{out, x}
		}
	}
	return out
}

func bnot(x bexpr) bexpr {
	switch v := x.(type) {
	case bconst:
		return !v
	case bNot:
		return v.x
	}
	return bNot{x}
}

func eq(ld bload, v uint32) bexpr { return bTest{ld: ld, cond: bpf.JumpEqual, val: v} }

type filterLowerer struct {
	eth bool   // Ethernet header before the IP header
	ip  uint32 // offset of the IP header
}

func (l filterLowerer) abs(size uint8, off uint32) bload { return bload{size: size, off: l.ip + off} }

func (l filterLowerer) ipv4() bexpr {
	if l.eth {
		return eq(bload{size: 2, off: 12}, 0x0800)
	}
	return eq(bload{size: 1, off: 0, mask: 0xf0}, 0x40)
}

func (l filterLowerer) ipv6() bexpr {
	if l.eth {
		return eq(bload{size: 2, off: 12}, 0x86dd)
	}
	return eq(bload{size: 1, off: 0, mask: 0xf0}, 0x60)
}

// arp matches ARP and RARP frames, whose addresses tcpdump's host and net
// also look at on Ethernet.
func (l filterLowerer) arp() bexpr {
	if !l.eth {
		return bconst(false)
	}
	et := bload{size: 2, off: 12}
	return bor(eq(et, 0x0806), eq(et, 0x8035))
}

var ipProtoNumbers = map[string]uint32{"tcp": 6, "udp": 17, "sctp": 132}

const ipv6FragmentHeader = 44

func (l filterLowerer) lower(n filterNode) bexpr {
	switch n := n.(type) {
	case fAnd:
		return band(l.lower(n.l), l.lower(n.r))
	case fOr:
		// Consecutive ports with the same qualifiers, as PortsExpr's, share
		// their IP version and protocol checks: "tcp port 1883 or tcp port
		// 8883" is compiled as "tcp and (port 1883 or port 8883)" (not with
		// "src and dst", which a port of each would satisfy).
		items := flattenOr(n, nil)
		var out bexpr = bconst(false)
		for i := 0; i < len(items); {
			p, ok := items[i].(fPort)
			if !ok || p.dir == dirBoth {
				out = bor(out, l.lower(items[i]))
				i++
				continue
			}
			ranges := [][2]uint16{{p.lo, p.hi}}
			for i++; i < len(items); i++ {
				q, ok := items[i].(fPort)
				if !ok || q.proto != p.proto || q.dir != p.dir {
					break
				}
				ranges = append(ranges, [2]uint16{q.lo, q.hi})
			}
			out = bor(out, l.ports(p.proto, p.dir, ranges))
		}
		return out
	case fNot:
		return bnot(l.lower(n.x))
	case fProto:
		switch n.proto {
		case "ip":
			return l.ipv4()
		case "ip6":
			return l.ipv6()
		}
		p := ipProtoNumbers[n.proto]
		nh := l.abs(1, 6)
		return bor(
			band(l.ipv4(), eq(l.abs(1, 9), p)),
			// as tcpdump: also the protocol after an IPv6 fragment header
			band(l.ipv6(), bor(eq(nh, p), band(eq(nh, ipv6FragmentHeader), eq(l.abs(1, 40), p)))))
	case fPort:
		return l.ports(n.proto, n.dir, [][2]uint16{{n.lo, n.hi}})
	case fAddr:
		if n.prefix.Addr().Is4() {
			ip := band(l.ipv4(), l.dirTest(n.dir,
				l.prefix4Test(n.prefix, l.abs(4, 12)), l.prefix4Test(n.prefix, l.abs(4, 16))))
			if n.proto == "" && l.eth {
				// ARP/RARP sender and target protocol addresses
				arp := band(l.arp(), l.dirTest(n.dir,
					l.prefix4Test(n.prefix, bload{size: 4, off: 28}), l.prefix4Test(n.prefix, bload{size: 4, off: 38})))
				return bor(ip, arp)
			}
			return ip
		}
		return band(l.ipv6(), l.dirTest(n.dir,
			l.prefix6Test(n.prefix, l.ip+8), l.prefix6Test(n.prefix, l.ip+24)))
	}
	panic(fmt.Sprintf("capture: unknown filter node %T", n))
}

func flattenOr(n filterNode, out []filterNode) []filterNode {
	if o, ok := n.(fOr); ok {
		return flattenOr(o.r, flattenOr(o.l, out))
	}
	return append(out, n)
}

// ports matches TCP, UDP or SCTP (as tcpdump's port) or only proto's
// segments whose port in direction dir is in one of ranges.
func (l filterLowerer) ports(proto string, dir int, ranges [][2]uint16) bexpr {
	protos := []uint32{6, 17, 132}
	if proto != "" {
		protos = []uint32{ipProtoNumbers[proto]}
	}
	var p4, p6 []bexpr
	for _, p := range protos {
		p4 = append(p4, eq(l.abs(1, 9), p))
		p6 = append(p6, eq(l.abs(1, 6), p))
	}
	v6 := band(l.ipv6(), bor(p6...),
		l.portTest(dir, ranges, l.abs(2, 40), l.abs(2, 42)))
	v4 := band(l.ipv4(), bor(p4...),
		bnot(bTest{ld: l.abs(2, 6), cond: bpf.JumpBitsSet, val: 0x1fff}), // first fragment only
		l.portTest(dir, ranges, bload{size: 2, off: l.ip, ind: true}, bload{size: 2, off: l.ip + 2, ind: true}))
	return bor(v6, v4)
}

func (l filterLowerer) dirTest(dir int, src, dst bexpr) bexpr {
	switch dir {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirBoth:
		return band(src, dst)
	}
	return bor(src, dst)
}

func (l filterLowerer) portTest(dir int, ranges [][2]uint16, src, dst bload) bexpr {
	in := func(ld bload) bexpr {
		var out bexpr = bconst(false)
		for _, r := range ranges {
			if r[0] == r[1] {
				out = bor(out, eq(ld, uint32(r[0])))
			} else {
				out = bor(out, band(bTest{ld: ld, cond: bpf.JumpGreaterOrEqual, val: uint32(r[0])},
					bnot(bTest{ld: ld, cond: bpf.JumpGreaterThan, val: uint32(r[1])})))
			}
		}
		return out
	}
	return l.dirTest(dir, in(src), in(dst))
}

func prefixMask(bits int) uint32 {
	if bits >= 32 {
		return 0xffffffff
	}
	if bits <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

func (l filterLowerer) prefix4Test(p netip.Prefix, ld bload) bexpr {
	if p.Bits() == 0 {
		return bconst(true)
	}
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	m := prefixMask(p.Bits())
	if m != 0xffffffff {
		ld.mask = m
	}
	return eq(ld, v&m)
}

func (l filterLowerer) prefix6Test(p netip.Prefix, off uint32) bexpr {
	a := p.Addr().As16()
	var out bexpr = bconst(true)
	for w := 0; w < 4; w++ {
		bits := p.Bits() - 32*w
		if bits <= 0 {
			break
		}
		v := uint32(a[4*w])<<24 | uint32(a[4*w+1])<<16 | uint32(a[4*w+2])<<8 | uint32(a[4*w+3])
		m := prefixMask(bits)
		ld := bload{size: 4, off: off + uint32(4*w)}
		if m != 0xffffffff {
			ld.mask = m
		}
		out = band(out, eq(ld, v&m))
	}
	return out
}

// ---- code generation

// regState is what the registers are known to hold at a point.
type regState struct {
	aKnown bool
	a      bload
	xKnown bool // X holds the IPv4 header length
}

func (s regState) merge(o regState) regState {
	if !s.aKnown || !o.aKnown || s.a != o.a {
		s.aKnown = false
	}
	s.xKnown = s.xKnown && o.xKnown
	return s
}

type pinsn struct {
	ins    bpf.Instruction // a non-jump
	jump   int             // 0: ins; 1: conditional; 2: ja
	cond   bpf.JumpTest
	val    uint32
	jt, jf int // labels
}

type labelInfo struct {
	pos   int // -1 until bound
	seen  bool
	state regState
}

type filterEmitter struct {
	ipOff  uint32
	prog   []pinsn
	labels []labelInfo
	cur    regState
	fall   bool // the current position is reached by falling through
}

func (e *filterEmitter) newLabel() int {
	e.labels = append(e.labels, labelInfo{pos: -1})
	return len(e.labels) - 1
}

func (e *filterEmitter) ref(label int) {
	li := &e.labels[label]
	if !li.seen {
		li.seen, li.state = true, e.cur
	} else {
		li.state = li.state.merge(e.cur)
	}
}

func (e *filterEmitter) bind(label int) {
	li := &e.labels[label]
	li.pos = len(e.prog)
	st, any := regState{}, false
	if e.fall {
		st, any = e.cur, true
	}
	if li.seen {
		if any {
			st = st.merge(li.state)
		} else {
			st = li.state
		}
	}
	e.cur = st
	e.fall = true
}

func (e *filterEmitter) emit(ins bpf.Instruction) {
	e.prog = append(e.prog, pinsn{ins: ins})
	e.fall = true
}

func (e *filterEmitter) load(ld bload) {
	if e.cur.aKnown && e.cur.a == ld {
		return
	}
	if unmasked := ld; ld.mask != 0 {
		unmasked.mask = 0
		if e.cur.aKnown && e.cur.a == unmasked {
			e.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ld.mask})
			e.cur.a = ld
			return
		}
	}
	if ld.ind {
		if !e.cur.xKnown {
			e.emit(bpf.LoadMemShift{Off: e.ipOff})
			e.cur.xKnown = true
		}
		e.emit(bpf.LoadIndirect{Off: ld.off, Size: int(ld.size)})
	} else {
		e.emit(bpf.LoadAbsolute{Off: ld.off, Size: int(ld.size)})
	}
	if ld.mask != 0 {
		e.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ld.mask})
	}
	e.cur.aKnown, e.cur.a = true, ld
}

func (e *filterEmitter) compile(b bexpr, t, f int) {
	switch b := b.(type) {
	case bAnd:
		mid := e.newLabel()
		e.compile(b.l, mid, f)
		e.bind(mid)
		e.compile(b.r, t, f)
	case bOr:
		mid := e.newLabel()
		e.compile(b.l, t, mid)
		e.bind(mid)
		e.compile(b.r, t, f)
	case bNot:
		e.compile(b.x, f, t)
	case bconst:
		target := f
		if b {
			target = t
		}
		e.ref(target)
		e.prog = append(e.prog, pinsn{jump: 2, jt: target})
		e.fall = false
	case bTest:
		e.load(b.ld)
		e.ref(t)
		e.ref(f)
		e.prog = append(e.prog, pinsn{jump: 1, cond: b.cond, val: b.val, jt: t, jf: f})
		e.fall = false
	default:
		panic(fmt.Sprintf("capture: unknown filter expression %T", b))
	}
}

// filterGen generates the program of b, which returns snaplen when b holds
// and 0 otherwise.
func filterGen(b bexpr, ipOff uint32, snaplen uint32) ([]bpf.RawInstruction, error) {
	var insns []bpf.Instruction
	switch b {
	case bconst(true):
		insns = []bpf.Instruction{bpf.RetConstant{Val: snaplen}}
	case bconst(false):
		insns = []bpf.Instruction{bpf.RetConstant{Val: 0}}
	default:
		e := &filterEmitter{ipOff: ipOff, fall: true}
		t, f := e.newLabel(), e.newLabel()
		e.compile(b, t, f)
		e.bind(t)
		e.emit(bpf.RetConstant{Val: snaplen})
		e.bind(f)
		e.emit(bpf.RetConstant{Val: 0})
		if len(e.prog) > filterMaxInstructions {
			return nil, fmt.Errorf("%w (%d instructions, the kernel takes %d)", errFilterTooLong, len(e.prog), filterMaxInstructions)
		}
		insns = make([]bpf.Instruction, len(e.prog))
		for i, pi := range e.prog {
			switch pi.jump {
			case 0:
				insns[i] = pi.ins
				continue
			case 2:
				skip := e.labels[pi.jt].pos - i - 1
				if e.labels[pi.jt].pos < 0 || skip < 0 {
					return nil, errors.New("capture filter: internal error: unresolved jump")
				}
				insns[i] = bpf.Jump{Skip: uint32(skip)}
				continue
			}
			jt, jf := e.labels[pi.jt].pos-i-1, e.labels[pi.jf].pos-i-1
			if e.labels[pi.jt].pos < 0 || e.labels[pi.jf].pos < 0 || jt < 0 || jf < 0 {
				return nil, errors.New("capture filter: internal error: unresolved jump")
			}
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("%w (a jump over more than 255 instructions)", errFilterTooLong)
			}
			insns[i] = bpf.JumpIf{Cond: pi.cond, Val: pi.val, SkipTrue: uint8(jt), SkipFalse: uint8(jf)}
		}
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("capture filter: %w", err)
	}
	return raw, nil
}

// ---- tcpdump

// tcpdumpPath is tcpdump's path, "" when it is not installed.
func tcpdumpPath() string {
	if p, err := exec.LookPath("tcpdump"); err == nil {
		return p
	}
	// sbin is often missing from the PATH of users other than root.
	for _, p := range []string{"/usr/sbin/tcpdump", "/sbin/tcpdump"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// tcpdumpError is tcpdump's rejection of an expression.
type tcpdumpError struct{ msg string }

func (e *tcpdumpError) Error() string { return e.msg }

// compileTcpdump compiles expr with `tcpdump -y EN10MB|RAW -ddd`; the
// program's accepting returns then return snaplen.
func compileTcpdump(tcpdump, expr string, link Link, snaplen uint32) ([]bpf.RawInstruction, error) {
	dlt := "EN10MB"
	if link == LinkRaw {
		dlt = "RAW"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tcpdump, "-y", dlt, "-ddd", "--", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && errors.As(err, &exitErr) && ctx.Err() == nil {
		msg := tcpdumpMessage(stderr.String())
		if msg == "" {
			msg = "tcpdump: " + err.Error()
		}
		return nil, &tcpdumpError{msg: msg}
	}
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", tcpdump, err)
	}
	prog, err := parseTcpdumpProgram(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("reading the output of %s -ddd: %w", tcpdump, err)
	}
	for i, ins := range prog {
		if ins.Op == 0x06 && ins.K != 0 { // ret #k
			prog[i].K = snaplen
		}
	}
	return prog, nil
}

// tcpdumpMessage is tcpdump's error, on one line.
func tcpdumpMessage(stderr string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "WARNING") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "; ")
}

// parseTcpdumpProgram reads tcpdump -ddd's output: the number of
// instructions, then one "code jt jf k" line each.
func parseTcpdumpProgram(out string) ([]bpf.RawInstruction, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || n <= 0 || n > filterMaxInstructions || len(lines) != n+1 {
		return nil, fmt.Errorf("unexpected output %q", firstLine(out))
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("unexpected line %q", l)
		}
		var v [4]uint64
		for j, s := range f {
			bits := []int{16, 8, 8, 32}[j]
			x, err := strconv.ParseUint(s, 10, bits)
			if err != nil {
				return nil, fmt.Errorf("unexpected line %q", l)
			}
			v[j] = x
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
