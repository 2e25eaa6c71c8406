// The values of capture filter primitives (port numbers, port ranges,
// addresses, CIDR prefixes) and the primitive a value makes with its
// qualifiers.

package live

import (
	"net/netip"
	"strconv"
	"strings"
)

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
