package session

import "encoding/binary"

// EtherTypes the decoder goes past.
const (
	ethTypeIPv4     = 0x0800
	ethTypeIPv6     = 0x86dd
	ethTypeDot1Q    = 0x8100
	ethTypeDot1AD   = 0x88a8
	ethTypeQinQ     = 0x9100 // pre-802.1ad QinQ
	ethTypeBridging = 0x6558 // transparent Ethernet bridging (GRE)
	ethTypeLLC      = 0x0004 // Linux cooked: an 802.2 LLC frame follows
)

// etherLayer is the header an EtherType announces.
func etherLayer(t uint16) layer {
	switch t {
	case ethTypeIPv4:
		return layerIPv4
	case ethTypeIPv6:
		return layerIPv6
	case ethTypeDot1Q, ethTypeDot1AD, ethTypeQinQ:
		return layerVLAN
	}
	return layerNone
}

// ethernet reads an Ethernet II header, or an 802.3 header (a length
// instead of a type) followed by LLC.
func (w *walk) ethernet() layer {
	if len(w.data) < 14 {
		return layerBroken
	}
	t := binary.BigEndian.Uint16(w.data[12:14])
	w.skip(14)
	return w.lengthOrType(t)
}

// lengthOrType follows an Ethernet or VLAN type field: a value up to 1500
// is an 802.3 length (LLC follows, the rest is padding).
func (w *walk) lengthOrType(t uint16) layer {
	w.tag = t
	switch {
	case t <= 1500:
		if int(t) < len(w.data) {
			w.data = w.data[:t]
		}
		return layerLLC
	case t < 0x0600:
		return layerBroken
	}
	return etherLayer(t)
}

// vlan reads one 802.1Q/802.1ad tag; stacked tags are read one by one.
func (w *walk) vlan() layer {
	if len(w.data) < 4 {
		return layerBroken
	}
	t := binary.BigEndian.Uint16(w.data[2:4])
	w.skip(4)
	return w.lengthOrType(t)
}

// llc reads an 802.2 LLC header: only SNAP with an EtherType (RFC 1042 or
// 802.1H bridge tunnel) goes on.
func (w *walk) llc() layer {
	b := w.data
	if len(b) < 3 {
		return layerBroken
	}
	if b[0] != 0xaa || b[1] != 0xaa || b[2] != 0x03 {
		return layerNone // not SNAP: no IP in it
	}
	if len(b) < 8 {
		return layerBroken
	}
	if b[3] != 0 || b[4] != 0 || (b[5] != 0 && b[5] != 0xf8) {
		return layerNone // an organisation's own protocol
	}
	t := binary.BigEndian.Uint16(b[6:8])
	w.skip(8)
	return etherLayer(t)
}

// arphrdNetlink is the Linux hardware type of netlink captures (nlmon):
// their protocol field is a netlink family, not an EtherType.
const arphrdNetlink = 824

// cooked follows a Linux cooked header's protocol field.
func (w *walk) cooked(hatype, proto uint16) layer {
	switch {
	case hatype == arphrdNetlink:
		return layerNone
	case proto == ethTypeLLC:
		return layerLLC
	}
	return etherLayer(proto)
}

// sll reads a Linux cooked v1 header (16 bytes).
func (w *walk) sll() layer {
	if len(w.data) < 16 {
		return layerBroken
	}
	hatype, proto := binary.BigEndian.Uint16(w.data[2:4]), binary.BigEndian.Uint16(w.data[14:16])
	w.skip(16)
	return w.cooked(hatype, proto)
}

// sll2 reads a Linux cooked v2 header (20 bytes).
func (w *walk) sll2() layer {
	if len(w.data) < 20 {
		return layerBroken
	}
	proto, hatype := binary.BigEndian.Uint16(w.data[0:2]), binary.BigEndian.Uint16(w.data[8:10])
	w.skip(20)
	return w.cooked(hatype, proto)
}

// loop reads a BSD loopback/null header: an address family in the
// capturing host's byte order (null) or in network order (loop).
func (w *walk) loop() layer {
	b := w.data
	if len(b) < 4 {
		return layerBroken
	}
	family := binary.LittleEndian.Uint32(b[0:4])
	if b[0] == 0 && b[1] == 0 {
		family = binary.BigEndian.Uint32(b[0:4])
	}
	w.skip(4)
	switch family {
	case 2: // AF_INET
		return layerIPv4
	case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		return layerIPv6
	}
	return layerNone
}

// Radiotap flags (the Flags field, bit 1 of the first presence word).
const (
	radiotapTSFT     = 1 << 0
	radiotapFlags    = 1 << 1
	radiotapExtended = 1 << 31
	radiotapDataPad  = 0x20 // padding between the 802.11 header and payload
)

// radiotap reads a radiotap header; of its fields only Flags matters (data
// padding). A frame check sequence at the end is left to the IP length.
func (w *walk) radiotap() layer {
	b := w.data
	if len(b) < 8 || b[0] != 0 {
		return layerBroken
	}
	n := int(binary.LittleEndian.Uint16(b[2:4]))
	if n < 8 || n > len(b) {
		return layerBroken
	}
	present := binary.LittleEndian.Uint32(b[4:8])
	off := 8
	for p := present; p&radiotapExtended != 0; off += 4 {
		if off+4 > n {
			return layerBroken
		}
		p = binary.LittleEndian.Uint32(b[off : off+4])
	}
	if present&radiotapFlags != 0 {
		if present&radiotapTSFT != 0 {
			off = (off+7)&^7 + 8 // TSFT: 8 bytes, aligned on 8
		}
		if off >= n {
			return layerBroken
		}
		w.pad = b[off]&radiotapDataPad != 0
	}
	w.skip(n)
	return layer80211
}

// 802.11 frame control bits (second byte).
const (
	dot11ToFromDS  = 0x03
	dot11MoreFrag  = 0x04
	dot11Protected = 0x40
	dot11Order     = 0x80
)

// dot11 reads an 802.11 data frame header (QoS, 4 addresses, HT control).
// Management, control and null frames carry no IP; a protected frame is
// reported Encrypted; an 802.11 fragment or an A-MSDU is Broken: a frame
// holds one TCP segment here.
func (w *walk) dot11(s *Segment) layer {
	b := w.data
	if len(b) < 24 || b[0]&0x03 != 0 {
		return layerBroken
	}
	typ, sub, flags := b[0]>>2&0x03, b[0]>>4, b[1]
	if typ != 2 || sub&0x04 != 0 { // not data, or no data in it
		return layerNone
	}
	n := 24
	if flags&dot11ToFromDS == dot11ToFromDS {
		n += 6 // a fourth address (WDS, mesh)
	}
	amsdu := false
	if sub&0x08 != 0 { // QoS data: a QoS control field
		if len(b) < n+2 {
			return layerBroken
		}
		amsdu = b[n]&0x80 != 0
		n += 2
		if flags&dot11Order != 0 {
			n += 4 // HT control
		}
	}
	if w.pad {
		n = (n + 3) &^ 3
	}
	if flags&dot11Protected != 0 {
		s.Encrypted = true
		return layerNone
	}
	if flags&dot11MoreFrag != 0 || binary.LittleEndian.Uint16(b[22:24])&0x0f != 0 || amsdu {
		return layerBroken
	}
	if !w.skip(n) {
		return layerBroken
	}
	return layerLLC
}
