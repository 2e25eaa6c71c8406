package live

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
		return nil, fmt.Errorf("capture filter %q: %w for mqtap's built-in compiler; install tcpdump, whose optimizer makes shorter programs", expr, err)
	}
	return nil, fmt.Errorf("capture filter %q: %w", expr, err)
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
