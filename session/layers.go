package session

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// LayerDecoder decodes the link, IP and TCP headers of frames of one link
// type without allocating: Ethernet (with VLAN tags), Linux cooked (SLL,
// SLL2), BSD loopback/null and raw IPv4/IPv6.
type LayerDecoder struct {
	parser  *gopacket.DecodingLayerParser
	parser6 *gopacket.DecodingLayerParser // raw IP captures: for IPv6 packets
	rawIP   bool                          // link type carries bare IPv4 or IPv6 packets
	eth     layers.Ethernet
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	// TCP is the TCP header of the last frame Decode found TCP in.
	TCP     layers.TCP
	decoded []gopacket.LayerType
}

// Segment is what Decode found in a frame.
type Segment struct {
	Src, Dst netip.Addr
	NetFlow  gopacket.Flow
	TCP      bool // the frame carries a TCP segment (in LayerDecoder.TCP)
	Fragment bool // an IPv4 fragment: not reassembled
	Broken   bool // the link or IP layer could not be decoded
	// PayloadLen is the TCP payload length the IP header gives: more than
	// len(LayerDecoder.TCP.Payload) when the snap length cut the frame.
	PayloadLen int
	ipPayload  int // payload length the innermost IP header gives
}

// NewLayerDecoder returns a decoder for a link type, or an error naming the
// link type when mqtap cannot decode it.
func NewLayerDecoder(link layers.LinkType) (*LayerDecoder, error) {
	d := &LayerDecoder{decoded: make([]gopacket.LayerType, 0, 8)}
	var first gopacket.LayerType
	switch link {
	case layers.LinkTypeEthernet:
		first = layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		first = layers.LayerTypeLinuxSLL
	case layers.LinkTypeLinuxSLL2:
		first = layers.LayerTypeLinuxSLL2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		first = layers.LayerTypeLoopback
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		first, d.rawIP = layers.LayerTypeIPv4, true
	default:
		return nil, fmt.Errorf("link type %d (%s) is not supported: mqtap reads Ethernet, Linux cooked (SLL, SLL2), BSD loopback/null and raw IP captures", int(link), link)
	}
	d.parser = gopacket.NewDecodingLayerParser(first, &d.eth, &d.sll, &d.sll2, &d.loop, &d.dot1q, &d.ip4, &d.ip6, &d.TCP)
	d.parser.IgnoreUnsupported = true
	d.parser6 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv6, &d.ip4, &d.ip6, &d.TCP)
	d.parser6.IgnoreUnsupported = true
	return d, nil
}

// Decode decodes one frame's headers.
func (d *LayerDecoder) Decode(data []byte) Segment {
	parser := d.parser
	if d.rawIP && len(data) > 0 && data[0]>>4 == 6 {
		parser = d.parser6
	}
	err := parser.DecodeLayers(data, &d.decoded)
	var s Segment
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			s.Src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
			s.Dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
			s.NetFlow = d.ip4.NetworkFlow()
			s.ipPayload = int(d.ip4.Length) - int(d.ip4.IHL)*4
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				s.Fragment = true
				return s
			}
		case layers.LayerTypeIPv6:
			s.Src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			s.Dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
			s.NetFlow = d.ip6.NetworkFlow()
			s.ipPayload = int(d.ip6.Length)
		case layers.LayerTypeTCP:
			s.TCP = true
			s.PayloadLen = len(d.TCP.Payload)
			if last := s.ipPayload - int(d.TCP.DataOffset)*4; last > s.PayloadLen {
				s.PayloadLen = last
			}
		}
	}
	if !s.TCP && err != nil {
		var unsupported gopacket.UnsupportedLayerType
		s.Broken = !errors.As(err, &unsupported)
	}
	return s
}
