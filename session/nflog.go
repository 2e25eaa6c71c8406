package session

import "encoding/binary"

// NFLOG attribute types (linux/netfilter/nfnetlink_log.h).
const (
	nflogTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nflogPayload  = 9      // NFULA_PAYLOAD: the packet, from its IP header
)

// nflog reads a Linux NFLOG header (link type 239: family, version,
// resource id) and its TLVs up to the payload one, an IPv4 or IPv6 packet.
// TLV lengths and types are in the capturing host's byte order: the first
// TLV's type tells which. A payload TLV the capture cut is decoded as far
// as it goes; a frame without one (cut before it, or logged without the
// packet) is Broken: there is nothing to decode.
func (w *walk) nflog() layer {
	if len(w.data) < 4 {
		return layerBroken
	}
	b := w.data[4:]
	big := nflogBigEndian(b)
	for len(b) > 0 {
		if len(b) < 4 {
			return layerBroken
		}
		n, typ := nflogU16(b[0:2], big), nflogU16(b[2:4], big)&nflogTypeMask
		if n < 4 {
			return layerBroken
		}
		if typ == nflogPayload {
			w.data = b[4:min(int(n), len(b))]
			return layerRawIP
		}
		if int(n) > len(b) {
			return layerBroken // cut before the payload
		}
		b = b[min((int(n)+3)&^3, len(b)):]
	}
	return layerBroken
}

// nflogBigEndian guesses the byte order of NFLOG TLVs from the first one's
// type: attribute types are small numbers.
func nflogBigEndian(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	return binary.LittleEndian.Uint16(b[2:4])&nflogTypeMask > 0xff && binary.BigEndian.Uint16(b[2:4])&nflogTypeMask <= 0xff
}

func nflogU16(b []byte, big bool) uint16 {
	if big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}
