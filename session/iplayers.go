package session

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// IP protocol numbers the decoder goes past.
const (
	protoHopByHop = 0
	protoIPv4     = 4
	protoTCP      = 6
	protoUDP      = 17
	protoIPv6     = 41
	protoRouting  = 43
	protoFragment = 44
	protoGRE      = 47
	protoAH       = 51
	protoDestOpts = 60
)

// vxlanPort is VXLAN's UDP port (IANA).
const vxlanPort = 4789

// protoLayer is the header an IP protocol number announces; the IPv6
// extension headers only after IPv6.
func protoLayer(proto uint8, v6 bool) layer {
	switch proto {
	case protoTCP:
		return layerTCP
	case protoUDP:
		return layerUDP
	case protoGRE:
		return layerGRE
	case protoIPv4:
		return layerIPv4
	case protoIPv6:
		return layerIPv6
	case protoAH:
		return layerAH
	case protoHopByHop, protoRouting, protoDestOpts:
		if v6 {
			return layerIPv6Ext
		}
	case protoFragment:
		if v6 {
			return layerIPv6Frag
		}
	}
	return layerNone
}

// rawIP dispatches a bare IP packet on its version.
func (w *walk) rawIP() layer {
	if len(w.data) == 0 {
		return layerBroken
	}
	switch w.data[0] >> 4 {
	case 4:
		return layerIPv4
	case 6:
		return layerIPv6
	}
	return layerBroken
}

// ipLength is the length an IP header announces for its packet (header
// included): the captured length when the field is 0 (TCP segmentation
// offload, IPv6 jumbograms), and never more than an enclosing IP payload.
func (w *walk) ipLength(field int) int {
	if field == 0 {
		field = len(w.data)
		if w.want >= 0 {
			field = w.want
		}
	}
	if w.want >= 0 && field > w.want {
		field = w.want
	}
	return field
}

// ipv4 reads an IPv4 header. A fragment ends the walk, described in s.
func (w *walk) ipv4(s *Segment) layer {
	b := w.data
	if len(b) < 20 || b[0]>>4 != 4 {
		return layerBroken
	}
	hlen := int(b[0]&0x0f) * 4
	total := w.ipLength(int(binary.BigEndian.Uint16(b[2:4])))
	if hlen < 20 || total < hlen || len(b) < hlen {
		return layerBroken
	}
	if len(b) > total {
		b = b[:total] // link padding or trailer
	}
	s.Src = netip.AddrFrom4([4]byte(b[12:16]))
	s.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	s.NetFlow = gopacket.NewFlow(layers.EndpointIPv4, b[12:16], b[16:20])
	w.data, w.want, w.v6 = b[hlen:], total-hlen, false
	proto := b[9]
	if frag := binary.BigEndian.Uint16(b[6:8]); frag&0x3fff != 0 { // more fragments, or an offset
		s.Fragment = true
		s.Frag = IPFragment{
			ID:      uint32(binary.BigEndian.Uint16(b[4:6])),
			Proto:   proto,
			Offset:  int(frag&0x1fff) * 8,
			More:    frag&0x2000 != 0,
			Payload: w.data,
		}
		s.PayloadLen = w.want
		return layerNone
	}
	return protoLayer(proto, false)
}

// ipv6 reads an IPv6 header.
func (w *walk) ipv6(s *Segment) layer {
	b := w.data
	if len(b) < 40 || b[0]>>4 != 6 {
		return layerBroken
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if plen == 0 {
		plen = len(b) - 40 // a jumbogram, or segmentation offload
		if w.want >= 0 {
			plen = w.want - 40
		}
	}
	total := w.ipLength(40 + plen)
	if total < 40 {
		return layerBroken
	}
	if len(b) > total {
		b = b[:total]
	}
	s.Src = netip.AddrFrom16([16]byte(b[8:24]))
	s.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	s.NetFlow = gopacket.NewFlow(layers.EndpointIPv6, b[8:24], b[24:40])
	w.data, w.want, w.v6 = b[40:], total-40, true
	w.ext = b[6]
	return protoLayer(b[6], true)
}

// ipv6Ext skips a hop-by-hop, routing or destination options header. The
// addresses stay those of the IPv6 header, as tshark's ipv6.dst (a routing
// header's final destination is not used).
func (w *walk) ipv6Ext() layer {
	if len(w.data) < 8 {
		return layerBroken
	}
	next := w.data[0]
	if !w.skip((int(w.data[1]) + 1) * 8) {
		return layerBroken
	}
	w.ext = next
	return protoLayer(next, true)
}

// ah skips an IPsec authentication header (RFC 4302), in IPv4 or IPv6.
func (w *walk) ah() layer {
	if len(w.data) < 8 {
		return layerBroken
	}
	next := w.data[0]
	if !w.skip((int(w.data[1]) + 2) * 4) {
		return layerBroken
	}
	w.ext = next
	return protoLayer(next, w.v6)
}

// ipv6Frag reads an IPv6 fragment header: the walk ends with the fragment
// described in s.
func (w *walk) ipv6Frag(s *Segment) layer {
	b := w.data
	if len(b) < 8 || w.want < 8 {
		return layerBroken
	}
	off := binary.BigEndian.Uint16(b[2:4])
	s.Fragment = true
	s.Frag = IPFragment{
		V6:      true,
		ID:      binary.BigEndian.Uint32(b[4:8]),
		Proto:   b[0],
		Offset:  int(off>>3) * 8,
		More:    off&1 != 0,
		Payload: b[8:],
	}
	s.PayloadLen = w.want - 8
	return layerNone
}

// udp reads a UDP header: VXLAN (either port 4789) goes on to the inner
// Ethernet frame, any other UDP ends the walk.
func (w *walk) udp() layer {
	b := w.data
	if len(b) < 8 {
		return layerBroken
	}
	if binary.BigEndian.Uint16(b[0:2]) != vxlanPort && binary.BigEndian.Uint16(b[2:4]) != vxlanPort {
		return layerNone
	}
	if !w.skip(8 + 8) { // UDP, VXLAN (flags, VNI)
		return layerBroken
	}
	return layerEthernet
}

// GRE header flags (RFC 1701, 2784, 2890).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greVersion  = 0x0007
)

// gre reads a GRE header with its optional fields (checksum, RFC 1701
// offset and source routes, key, sequence number). Version 1 (PPTP) ends
// the walk.
func (w *walk) gre() layer {
	b := w.data
	if len(b) < 4 {
		return layerBroken
	}
	flags, proto := binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4])
	if flags&greVersion != 0 {
		return layerNone
	}
	n := 4
	if flags&(greChecksum|greRouting) != 0 {
		n += 4
	}
	if flags&greKey != 0 {
		n += 4
	}
	if flags&greSeq != 0 {
		n += 4
	}
	if !w.skip(n) {
		return layerBroken
	}
	if flags&greRouting != 0 && !w.greRoutes() {
		return layerBroken
	}
	if proto == ethTypeBridging {
		return layerEthernet
	}
	return etherLayer(proto)
}

// greRoutes skips RFC 1701 source route entries, up to the null one.
func (w *walk) greRoutes() bool {
	for {
		if len(w.data) < 4 {
			return false
		}
		family, n := binary.BigEndian.Uint16(w.data[0:2]), int(w.data[3])
		if !w.skip(4 + n) {
			return false
		}
		if family == 0 && n == 0 {
			return true
		}
	}
}
