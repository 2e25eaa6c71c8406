// Lowering of a parsed capture filter to a boolean expression over tests
// of frame bytes (EtherType, IP version and protocol, ports, addresses).

package live

import (
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

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
