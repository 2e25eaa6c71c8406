package session

import (
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// LinkTypeNFLOG is Linux NFLOG (what `tcpdump -i nflog:N` writes); gopacket
// has no name for it.
const LinkTypeNFLOG layers.LinkType = 239

// LayerDecoder decodes the link, IP and TCP headers of frames of one link
// type without allocating, down to the innermost TCP segment:
//
//   - links: Ethernet (any number of 802.1Q, 802.1ad and 0x9100 VLAN tags,
//     802.3 frames with LLC/SNAP), Linux cooked (SLL, SLL2), BSD
//     loopback/null, raw IPv4/IPv6, Linux NFLOG, 802.11 data frames with or
//     without a radiotap header (QoS and 4-address frames, LLC/SNAP);
//   - IPv4 and IPv6 with their extension headers (hop-by-hop, routing,
//     destination options, fragment) and AH;
//   - tunnels: VXLAN (UDP port 4789), GRE (IPv4, IPv6 and Ethernet
//     payloads, checksum, key and sequence number options) and IP in IP
//     (protocols 4 and 41).
//
// Connections are keyed on the innermost IP and TCP headers. IP fragments
// are reported, not reassembled: the first fragmented IP layer met stops
// decoding (for a tunnel whose outer IP is fragmented, that outer fragment),
// and DecodePayload goes on from the reassembled datagram.
type LayerDecoder struct {
	link  layers.LinkType
	first layer
	chain Protocols // of the last frame Decode read, for DecodePayload
	// TCP is the TCP header of the last frame Decode found TCP in.
	TCP layers.TCP
}

// TCPHeader is what the pipeline reads of a TCP header (LayerDecoder.TCP),
// with the captured payload.
type TCPHeader struct {
	SrcPort, DstPort   uint16
	Seq, Ack           uint32
	SYN, ACK, FIN, RST bool
	Payload            []byte
}

// Header returns the header of the TCP segment the last Decode or
// DecodePayload found.
func (d *LayerDecoder) Header() TCPHeader {
	t := &d.TCP
	return TCPHeader{SrcPort: uint16(t.SrcPort), DstPort: uint16(t.DstPort), Seq: t.Seq, Ack: t.Ack,
		SYN: t.SYN, ACK: t.ACK, FIN: t.FIN, RST: t.RST, Payload: t.Payload}
}

// Decoded is a frame's Segment and TCP header, decoded ahead of the
// pipeline (Pipeline.FrameDecoded).
type Decoded struct {
	Seg Segment
	TCP TCPHeader // when Seg.TCP
}

// Segment is what Decode found in a frame.
type Segment struct {
	Src, Dst netip.Addr // innermost IP addresses
	NetFlow  gopacket.Flow
	TCP      bool       // a TCP segment, in LayerDecoder.TCP
	Fragment bool       // an IP fragment: Frag describes it (TCP is false)
	Frag     IPFragment // the fragment, when Fragment is set
	Broken   bool       // the link or IP layer could not be decoded
	// Encrypted is a protected 802.11 data frame: mqtap does not decrypt
	// 802.11.
	Encrypted bool
	// PayloadLen is the number of TCP payload bytes the IP header says the
	// segment carries; larger than len(TCP.Payload) when the capture cut the
	// frame (snap length). For a fragment, the fragment data bytes the IP
	// header says it carries (larger than len(Frag.Payload) when cut).
	PayloadLen int
	// Protocols is the frame's chain of protocols, as frame.protocols
	// (DecodePayload goes on with the chain of the frame's Decode).
	Protocols Protocols
}

// IPFragment is one fragment of an IPv4 or IPv6 datagram (innermost IP
// layer). An IPv6 packet with a Fragment header is always reported as one,
// even an atomic fragment (Offset 0, More false: a whole datagram).
type IPFragment struct {
	V6      bool
	ID      uint32 // IPv4 identification or IPv6 fragment identification
	Proto   uint8  // protocol / next header of the fragmentable part
	Offset  int    // bytes
	More    bool
	Payload []byte // the fragment's data (aliases the frame)
}

// layer is the kind of header the decoder reads next.
type layer uint8

const (
	layerNone     layer = iota // nothing mqtap decodes follows: no TCP
	layerBroken                // a header could not be decoded
	layerTCP                   // TCP
	layerEthernet              // Ethernet II or 802.3
	layerVLAN                  // one 802.1Q/802.1ad tag
	layerLLC                   // 802.2 LLC, with SNAP
	layerSLL                   // Linux cooked v1
	layerSLL2                  // Linux cooked v2
	layerLoop                  // BSD loopback/null
	layerRawIP                 // IPv4 or IPv6, by its version
	layerIPv4                  // IPv4
	layerIPv6                  // IPv6
	layerIPv6Ext               // IPv6 hop-by-hop, routing or destination options
	layerIPv6Frag              // IPv6 fragment header
	layerAH                    // IPsec authentication header
	layerUDP                   // UDP: VXLAN on port 4789
	layerGRE                   // GRE
	layerNFLOG                 // Linux NFLOG
	layerRadiotap              // radiotap, then 802.11
	layer80211                 // 802.11
)

// linkLayers maps each supported link type to its first header.
var linkLayers = map[layers.LinkType]layer{
	layers.LinkTypeNull:           layerLoop,
	layers.LinkTypeEthernet:       layerEthernet,
	12:                            layerRawIP, // raw IP on OpenBSD
	14:                            layerRawIP, // raw IP on some BSDs
	layers.LinkTypeRaw:            layerRawIP,
	layers.LinkTypeIEEE802_11:     layer80211,
	layers.LinkTypeLoop:           layerLoop,
	layers.LinkTypeLinuxSLL:       layerSLL,
	layers.LinkTypeIEEE80211Radio: layerRadiotap,
	layers.LinkTypeIPv4:           layerRawIP,
	layers.LinkTypeIPv6:           layerRawIP,
	LinkTypeNFLOG:                 layerNFLOG,
	layers.LinkTypeLinuxSLL2:      layerSLL2,
}

// Supported reports whether mqtap decodes frames of a link type.
func Supported(link layers.LinkType) bool {
	_, ok := linkLayers[link]
	return ok
}

// NewLayerDecoder returns a decoder for a link type, or an error naming the
// link type when mqtap cannot decode it.
func NewLayerDecoder(link layers.LinkType) (*LayerDecoder, error) {
	first, ok := linkLayers[link]
	if !ok {
		return nil, fmt.Errorf("link type %d (%s) is not supported: mqtap reads Ethernet, Linux cooked (SLL, SLL2), BSD loopback/null, raw IP, Linux NFLOG and 802.11 (with or without radiotap) captures", int(link), link)
	}
	return &LayerDecoder{first: first, link: link}, nil
}

// Link is the link type the decoder reads.
func (d *LayerDecoder) Link() layers.LinkType { return d.link }

// walk is the decoding state of one frame.
type walk struct {
	data []byte // the frame from the next header on
	// want is how many bytes the innermost IP header says follow data[0],
	// counting those the capture cut; -1 before any IP header.
	want int
	v6   bool   // the innermost IP header is IPv6 (its extension headers follow)
	pad  bool   // radiotap: padding aligns the 802.11 payload on 4 bytes
	tag  uint16 // the last EtherType read (the VLAN tag's TPID, for its name)
	ext  uint8  // the protocol number that announced the next IPv6 extension header
}

// skip drops n header bytes. It fails when the frame, or the IP payload
// its IP header announces, is shorter.
func (w *walk) skip(n int) bool {
	if n > len(w.data) || (w.want >= 0 && n > w.want) {
		return false
	}
	w.data = w.data[n:]
	if w.want >= 0 {
		w.want -= n
	}
	return true
}

// Decode decodes one frame's headers.
func (d *LayerDecoder) Decode(data []byte) Segment {
	var s Segment
	w := walk{data: data, want: -1}
	d.run(d.first, &w, &s)
	d.chain = s.Protocols
	return s
}

// DecodePayload continues decoding from the payload of a reassembled IP
// datagram (protocol proto between src and dst): TCP, IPv6 extension
// headers after the fragment header, or a tunnel (UDP/VXLAN, GRE, IP-in-IP)
// down to the inner TCP. Addresses of the wrong family for v6 make a
// Broken segment.
func (d *LayerDecoder) DecodePayload(v6 bool, src, dst netip.Addr, proto uint8, payload []byte) Segment {
	s := Segment{Src: src, Dst: dst, Protocols: d.chain}
	switch {
	case v6 && src.Is6() && dst.Is6():
		a, b := src.As16(), dst.As16()
		s.NetFlow = gopacket.NewFlow(layers.EndpointIPv6, a[:], b[:])
	case !v6 && src.Is4() && dst.Is4():
		a, b := src.As4(), dst.As4()
		s.NetFlow = gopacket.NewFlow(layers.EndpointIPv4, a[:], b[:])
	default:
		s.Broken = true
		return s
	}
	w := walk{data: payload, want: len(payload), v6: v6}
	d.run(protoLayer(proto, v6), &w, &s)
	return s
}

// run reads headers from l on until TCP or a header it does not go past.
// Every step consumes at least one byte or ends the walk, so it ends.
func (d *LayerDecoder) run(l layer, w *walk, s *Segment) {
	for {
		switch l {
		case layerNone:
			return
		case layerBroken:
			s.Broken = true
			return
		case layerTCP:
			s.Protocols.add(pTCP)
			d.tcp(w, s)
			return
		}
		tag, ext := w.tag, w.ext // what announced this header, for its name
		next := w.step(l, s)
		w.names(l, next, tag, ext, s)
		l = next
	}
}

// step reads the header of layer l and returns the layer that follows it.
func (w *walk) step(l layer, s *Segment) layer {
	switch l {
	case layerEthernet:
		return w.ethernet()
	case layerVLAN:
		return w.vlan()
	case layerLLC:
		return w.llc()
	case layerSLL:
		return w.sll()
	case layerSLL2:
		return w.sll2()
	case layerLoop:
		return w.loop()
	case layerRawIP:
		return w.rawIP()
	case layerIPv4:
		return w.ipv4(s)
	case layerIPv6:
		return w.ipv6(s)
	case layerIPv6Ext:
		return w.ipv6Ext()
	case layerIPv6Frag:
		return w.ipv6Frag(s)
	case layerAH:
		return w.ah()
	case layerUDP:
		return w.udp()
	case layerGRE:
		return w.gre()
	case layerNFLOG:
		return w.nflog()
	case layerRadiotap:
		return w.radiotap()
	case layer80211:
		return w.dot11(s)
	}
	return layerBroken
}

// tcp decodes the TCP header into d.TCP.
func (d *LayerDecoder) tcp(w *walk, s *Segment) {
	b := w.data
	// Checked here so that DecodeFromBytes never builds an error.
	if len(b) < 20 || b[12]>>4 < 5 || int(b[12]>>4)*4 > len(b) {
		s.Broken = true
		return
	}
	if err := d.TCP.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		s.Broken = true
		return
	}
	s.TCP = true
	s.PayloadLen = len(d.TCP.Payload)
	if w.want >= 0 {
		s.PayloadLen = w.want - int(d.TCP.DataOffset)*4
	}
}
