package decode

import "errors"

// FixedHeader is the parsed fixed header of a control packet.
type FixedHeader struct {
	Type      Type  // control packet type (high nibble of the first byte)
	Flags     uint8 // low nibble of the first byte
	Remaining int   // value of the remaining length field
	HeaderLen int   // length of the fixed header: 1 + number of remaining-length bytes
}

// Total returns the length of the whole control packet: HeaderLen + Remaining.
func (h FixedHeader) Total() int { return h.HeaderLen + h.Remaining }

// AppendVarint appends n in MQTT's variable byte integer encoding (the
// remaining length, MQTT 5 property lengths): 7 bits a byte, least
// significant first, the high bit set on every byte but the last. n must be
// between 0 and 268435455.
func AppendVarint(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// ErrShort reports that b does not yet hold enough bytes to parse the fixed
// header (the type byte and a complete remaining length).
var ErrShort = errors.New("decode: not enough bytes for the MQTT fixed header")

// ErrRemainingLength reports a remaining length encoded in more than 4 bytes,
// which makes the packet malformed.
var ErrRemainingLength = errors.New("decode: MQTT remaining length encoded in more than 4 bytes")

// ParseHeader parses the fixed header at the start of b. It returns ErrShort
// when b ends before the remaining length does and ErrRemainingLength when the
// remaining length is longer than 4 bytes. It does not check the packet type
// or the flags.
func ParseHeader(b []byte) (FixedHeader, error) {
	var h FixedHeader
	if len(b) < 2 {
		return h, ErrShort
	}
	h.Type = Type(b[0] >> 4)
	h.Flags = b[0] & 0x0f
	shift := uint(0)
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return h, ErrShort
		}
		h.Remaining |= int(b[i]&0x7f) << shift
		shift += 7
		if b[i]&0x80 == 0 {
			h.HeaderLen = i + 1
			return h, nil
		}
	}
	return h, ErrRemainingLength
}

// minimalVBI reports whether a complete variable byte integer encoding uses
// the minimum number of bytes (MQTT-1.5.5-1): only a one-byte encoding may end
// with a zero byte.
func minimalVBI(enc []byte) bool {
	return len(enc) <= 1 || enc[len(enc)-1] != 0
}

// flagsValid reports whether flags are what the specification requires in the
// fixed header of a packet of type t under version (0 = any version).
func flagsValid(t Type, flags, version uint8) bool {
	switch t {
	case PUBLISH:
		return flags>>1&3 != 3
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		// MQTT 3.1 sends these with QoS 1 and lets DUP be set on a resend.
		return flags == 2 || (flags == 0x0a && (version == 0 || version == V31))
	default:
		return flags == 0
	}
}

// remainingValid reports whether a remaining length is possible for a
// well-formed packet of type t under version (0 = any version).
func remainingValid(t Type, rem int, version uint8) bool {
	switch t {
	case PINGREQ, PINGRESP:
		return rem == 0
	case DISCONNECT:
		return version == V5 || version == 0 || rem == 0
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		if version == V5 || version == 0 {
			return rem >= 2
		}
		return rem == 2
	case CONNACK, UNSUBACK:
		switch version {
		case 0:
			return rem >= 2
		case V5:
			return rem >= 3
		}
		return rem == 2
	case SUBACK:
		return rem >= 2
	case SUBSCRIBE:
		return rem >= 5
	case UNSUBSCRIBE:
		return rem >= 4
	case CONNECT:
		return rem >= 12
	case PUBLISH:
		return rem >= 2
	case AUTH:
		return version == V5 || version == 0
	}
	return false
}

// PlausiblePrefix reports whether b, too short to hold a whole fixed header
// (ParseHeader returns ErrShort), could be the start of a plausible control
// packet: a valid type and flags, and remaining-length bytes that may still
// end in a minimal encoding of at most maxRemaining. A capture that starts,
// or resumes after a gap, with a fixed header split across segments (even
// a single byte) is joined with the next bytes instead of being skipped.
func PlausiblePrefix(b []byte, version uint8, maxRemaining int) bool {
	if len(b) == 0 || len(b) >= 5 {
		return false
	}
	t, flags := Type(b[0]>>4), b[0]&15
	if t == Reserved || (t == AUTH && version != 0 && version != V5) || !flagsValid(t, flags, version) {
		return false
	}
	vbi := b[1:]
	least := 1 // the smallest remaining length the bytes so far allow
	for _, c := range vbi {
		if c&0x80 == 0 {
			return false // the length ended: not a prefix (ParseHeader would not return ErrShort)
		}
		least *= 128
	}
	return least <= maxRemaining
}

// fresh is the state of a connection nothing is known of, shared by every
// Plausible call. It must stay a package variable: a Conn local to
// Plausible escapes to the heap through dryRun (one allocation per probe on
// the resync path), and it is safe to share because dry runs only read the
// Conn, never write it. Nothing else may use it.
var fresh Conn

// Plausible reports whether b starts with a plausible MQTT control packet, for
// stream resynchronisation and port detection: the packet type is valid (AUTH
// only for version 5 or 0), the fixed-header flags are exactly what the
// specification requires for that type (PUBLISH: QoS below 3), the remaining
// length is minimally encoded, at most maxRemaining and possible for the type,
// and, when the whole packet is in b, it decodes without a Malformed problem
// under version (0 = any of 3.1.1 and 5.0; a CONNECT under the level it
// names, which must be a known protocol name and level).
// Plausible returns false when b is too short to hold the fixed header; call
// ParseHeader to tell that case (ErrShort) apart. It does not allocate.
func Plausible(b []byte, version uint8, maxRemaining int) bool {
	h, err := ParseHeader(b)
	if err != nil || h.Remaining > maxRemaining || !minimalVBI(b[1:h.HeaderLen]) {
		return false
	}
	if h.Type == Reserved || (h.Type == AUTH && version != 0 && version != V5) {
		return false
	}
	if !flagsValid(h.Type, h.Flags, version) || !remainingValid(h.Type, h.Remaining, version) {
		return false
	}
	if len(b) < h.Total() {
		return true
	}
	pkt := b[:h.Total()]
	c := &fresh
	if h.Type == CONNECT {
		v := connectLayout(pkt, h.HeaderLen)
		return v != 0 && !c.dryRun(pkt, h, true, v).malformed
	}
	if version != 0 {
		return !c.dryRun(pkt, h, true, version).malformed
	}
	return !c.dryRun(pkt, h, true, V311).malformed || !c.dryRun(pkt, h, true, V5).malformed
}
