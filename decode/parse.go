// The decoder of one control packet: its state, how it reports problems,
// the readers of the wire types (integers, variable byte integers,
// length-prefixed strings), the fixed header and the dispatch by packet
// type. Each packet family has its own file (connect.go, publish.go,
// subscribe.go); topic checks are in topic.go, MQTT 5 properties in
// properties.go.

package decode

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// decoder decodes one control packet. In dry mode it records neither fields
// nor problems and leaves the Conn unchanged; it only counts what it finds.
type decoder struct {
	p          *Packet
	c          *Conn
	b          []byte // the packet, or during properties the packet up to their end
	off        int
	ver        uint8
	fromClient bool
	typ        Type
	flags      uint8
	qos        uint8
	dry        bool
	inProps    bool
	cut        bool // the capture holds only the start of the packet: running out of bytes is not a malformation
	unknown    bool // the connection's version was unknown before this packet (no CONNECT seen)

	malformed  bool
	violations int
	props      int // properties read

	// property values the packet-level checks need
	seen       uint64 // property identifiers seen in the current property block
	alias      uint16
	hasAlias   bool
	tam        uint16
	hasTAM     bool
	pfi        uint8
	authMethod bool
	authData   bool
	sessExpiry bool
}

// add appends a field unless the decoder is dry.
func (d *decoder) add(name string, k Kind, depth uint8, u uint64, bs []byte, off, n int) {
	if d.dry {
		return
	}
	d.p.Fields = append(d.p.Fields, Field{Name: name, Kind: k, Depth: depth, Uint: u, Bytes: bs, Off: off, Len: n})
}

func (d *decoder) problem(s Severity, rule, text string, off, n int, short bool) {
	if short && d.cut {
		return // the bytes were not captured, not missing from the packet
	}
	if s == Malformed {
		d.malformed = true
	} else {
		d.violations++
	}
	if d.dry {
		return
	}
	d.p.Problems = append(d.p.Problems, Problem{Severity: s, Rule: rule, Text: text, Off: off, Len: n, short: short})
}

// bad reports a malformation.
func (d *decoder) bad(rule, text string, off, n int) { d.problem(Malformed, rule, text, off, n, false) }

// short reports a field that runs past the end of the packet.
func (d *decoder) short(rule, text string, off, n int) {
	d.problem(Malformed, rule, text, off, n, true)
}

// viol reports a protocol violation.
func (d *decoder) viol(rule, text string, off, n int) {
	d.problem(Violation, rule, text, off, n, false)
}

// badf, shortf and violf are formatted variants of bad, short and viol that
// format only when the text is kept.
func (d *decoder) badf(rule string, off, n int, format string, args ...any) {
	if d.dry {
		d.malformed = true
		return
	}
	d.bad(rule, fmt.Sprintf(format, args...), off, n)
}

func (d *decoder) shortf(rule string, off, n int, format string, args ...any) {
	if d.dry {
		d.malformed = true
		return
	}
	d.short(rule, fmt.Sprintf(format, args...), off, n)
}

func (d *decoder) violf(rule string, off, n int, format string, args ...any) {
	if d.dry {
		d.violations++
		return
	}
	d.viol(rule, fmt.Sprintf(format, args...), off, n)
}

// r picks the normative statement id of the MQTT 3.1.1 or the MQTT 5.0
// specification, as the packet's version calls for. MQTT 3.1 has no
// numbered statements; its packets are checked against the 3.1.1 ids.
func (d *decoder) r(v3, v5 string) string {
	if d.ver == V5 {
		return v5
	}
	return v3
}

// need reports whether n more bytes are available, and reports a
// malformation naming what when they are not.
func (d *decoder) need(n int, what string) bool { return d.needx(n, what, "") }

// needLen is need for the length prefix of what.
func (d *decoder) needLen(what string) bool { return d.needx(2, what, " length") }

func (d *decoder) needx(n int, what, suffix string) bool {
	left := len(d.b) - d.off
	if left >= n {
		return true
	}
	where := "packet"
	if d.inProps {
		where = "property block"
	}
	d.shortf("", d.off, left, "%s ends inside the %s%s: %d bytes needed, %d left", where, what, suffix, n, left)
	return false
}

func (d *decoder) u8() uint8 { v := d.b[d.off]; d.off++; return v }

func (d *decoder) u16() uint16 {
	v := uint16(d.b[d.off])<<8 | uint16(d.b[d.off+1])
	d.off += 2
	return v
}

func (d *decoder) u32() uint32 {
	b := d.b[d.off:]
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	d.off += 4
	return v
}

// vbi reads a variable byte integer.
func (d *decoder) vbi(what string) (v uint32, n int, ok bool) {
	start := d.off
	shift := uint(0)
	for i := 0; i < 4; i++ {
		if !d.need(1, what) {
			return 0, 0, false
		}
		c := d.u8()
		v |= uint32(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			n = d.off - start
			if !minimalVBI(d.b[start:d.off]) {
				d.violf("MQTT-1.5.5-1", start, n, "%s is not encoded in the minimum number of bytes", what)
			}
			return v, n, true
		}
	}
	d.badf("", start, 4, "%s is encoded in more than 4 bytes", what)
	return 0, 0, false
}

// lstr reads a two-byte length and that many bytes, emitting the length as
// lenName and the value as valName (kind) unless the value is empty and
// skipEmpty is set, as Wireshark does for topics. It checks UTF-8 when kind
// is KindString and checkUTF8 is set.
func (d *decoder) lstr(lenName, valName string, depth uint8, kind Kind, what string, checkUTF8, skipEmpty bool) ([]byte, int, bool) {
	if !d.needLen(what) {
		return nil, d.off, false
	}
	lenOff := d.off
	n := int(d.u16())
	d.add(lenName, KindUint, depth, uint64(n), nil, lenOff, 2)
	if !d.need(n, what) {
		return nil, d.off, false
	}
	off := d.off
	v := d.b[off : off+n : off+n]
	d.off += n
	if n > 0 || !skipEmpty {
		d.add(valName, kind, depth, 0, v, off, n)
	}
	if checkUTF8 {
		d.utf8(v, off, what, "")
	}
	return v, off, true
}

// utf8 checks a UTF-8 encoded string (MQTT-1.5.3-1/-2, MQTT-1.5.4-1/-2).
// rule overrides the statement id for invalid encodings when not "".
func (d *decoder) utf8(v []byte, off int, what, rule string) {
	if !utf8.Valid(v) {
		if rule == "" {
			rule = d.r("MQTT-1.5.3-1", "MQTT-1.5.4-1")
		}
		d.badf(rule, off, len(v), "%s is not well-formed UTF-8", what)
	} else if bytes.IndexByte(v, 0) >= 0 {
		if rule == "" {
			rule = d.r("MQTT-1.5.3-2", "MQTT-1.5.4-2")
		}
		d.badf(rule, off, len(v), "%s contains the null character U+0000", what)
	}
}

// headerFlags emits the Header Flags field and its bits, as Wireshark does.
func (d *decoder) headerFlags() {
	b0 := uint64(d.b[0])
	d.add("mqtt.hdrflags", KindUint, 0, b0, nil, 0, 1)
	d.add("mqtt.msgtype", KindUint, 1, b0>>4, nil, 0, 1)
	switch {
	case d.typ == PUBLISH:
		d.add("mqtt.dupflag", KindBool, 1, b0>>3&1, nil, 0, 1)
		d.add("mqtt.qos", KindUint, 1, b0>>1&3, nil, 0, 1)
		d.add("mqtt.retain", KindBool, 1, b0&1, nil, 0, 1)
	case d.ver == V31 && (d.typ == PUBREL || d.typ == SUBSCRIBE || d.typ == UNSUBSCRIBE):
		d.add("mqtt.dupflag", KindBool, 1, b0>>3&1, nil, 0, 1)
		d.add("mqtt.qos", KindUint, 1, b0>>1&3, nil, 0, 1)
		d.add("mqtt.retain_reserved", KindUint, 1, b0&1, nil, 0, 1)
	default:
		d.add("mqtt.hdr_reserved", KindUint, 1, b0&0x0f, nil, 0, 1)
	}
}

// checkFlags validates the fixed header flags of the packet type.
func (d *decoder) checkFlags() {
	f := d.flags
	switch d.typ {
	case PUBLISH:
		qos := f >> 1 & 3
		if qos == 3 {
			d.viol("MQTT-3.3.1-4", "PUBLISH has both QoS bits set (QoS 3)", 0, 1)
		}
		if qos == 0 && f&8 != 0 {
			d.viol("MQTT-3.3.1-2", "DUP flag set on a QoS 0 PUBLISH", 0, 1)
		}
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		rule := "MQTT-3.6.1-1"
		switch d.typ {
		case SUBSCRIBE:
			rule = "MQTT-3.8.1-1"
		case UNSUBSCRIBE:
			rule = "MQTT-3.10.1-1"
		}
		if d.ver == V31 {
			if f&7 != 2 {
				d.violf("", 0, 1, "MQTT 3.1 %s must have QoS 1 and RETAIN 0 in the fixed header (flags 0x%x)", d.typ, f)
			}
		} else if f != 2 {
			d.violf(rule, 0, 1, "reserved fixed header flags of %s must be 0010, not %04b", d.typ, f)
		}
	case Reserved:
	default:
		if d.ver == V31 || f == 0 {
			return
		}
		rule := d.r("MQTT-2.2.2-1", "MQTT-2.1.3-1")
		switch d.typ {
		case DISCONNECT:
			rule = "MQTT-3.14.1-1"
		case AUTH:
			rule = "MQTT-3.15.1-1"
		}
		d.violf(rule, 0, 1, "reserved fixed header flags of %s must be 0000, not %04b", d.typ, f)
	}
}

// run decodes the packet.
func (d *decoder) run(h FixedHeader) {
	p := d.p
	d.headerFlags()
	d.add("mqtt.len", KindUint, 0, uint64(h.Remaining), nil, 1, h.HeaderLen-1)
	if !minimalVBI(d.b[1:h.HeaderLen]) {
		d.viol(d.r("", "MQTT-1.5.5-1"), "remaining length is not encoded in the minimum number of bytes", 1, h.HeaderLen-1)
	}
	if d.typ == PUBLISH {
		d.qos = d.flags >> 1 & 3
		if !d.dry {
			p.QoS = d.qos
			p.Dup = d.flags&8 != 0
			p.Retain = d.flags&1 != 0
		}
	}
	d.checkFlags()
	d.checkDirection()
	if len(d.b) < h.Total() {
		d.shortf("", h.HeaderLen, len(d.b)-h.HeaderLen, "packet is truncated: remaining length is %d but only %d bytes follow the fixed header", h.Remaining, len(d.b)-h.HeaderLen)
	}
	d.off = h.HeaderLen
	switch d.typ {
	case Reserved:
		d.bad("", "packet type 0 is reserved", 0, 1)
		return
	case CONNECT:
		d.connect()
	case CONNACK:
		d.connack()
	case PUBLISH:
		d.publish()
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		d.ack()
	case SUBSCRIBE:
		d.subscribe()
	case SUBACK:
		d.suback()
	case UNSUBSCRIBE:
		d.unsubscribe()
	case UNSUBACK:
		d.unsuback()
	case PINGREQ, PINGRESP:
		d.end()
	case DISCONNECT, AUTH:
		if d.typ == AUTH && d.ver != V5 {
			d.bad("", "packet type 15 (AUTH) is reserved before MQTT 5.0", 0, 1)
			return
		}
		d.disconnectOrAuth()
	}
}

// checkDirection reports packet types sent the wrong way.
func (d *decoder) checkDirection() {
	var clientOnly, serverOnly bool
	switch d.typ {
	case CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ:
		clientOnly = true
	case CONNACK, SUBACK, UNSUBACK, PINGRESP:
		serverOnly = true
	case DISCONNECT:
		clientOnly = d.ver != V5
	}
	switch {
	case clientOnly && !d.fromClient:
		d.violf("", 0, 1, "%s sent by the server; only a client sends it", d.typ)
	case serverOnly && d.fromClient:
		d.violf("", 0, 1, "%s sent by the client; only a server sends it", d.typ)
	}
}

// end reports bytes left after the last field of the packet.
func (d *decoder) end() {
	if n := len(d.b) - d.off; n > 0 {
		d.badf("", d.off, n, "%d unexpected bytes after the end of the %s packet", n, d.typ)
		d.off = len(d.b)
	}
}

// msgid reads the packet identifier; zero is reported with rule.
func (d *decoder) msgid(rule string) bool {
	if !d.need(2, "packet identifier") {
		return false
	}
	off := d.off
	id := d.u16()
	if !d.dry {
		d.p.PacketID = id
	}
	d.add("mqtt.msgid", KindUint, 0, uint64(id), nil, off, 2)
	if id == 0 {
		d.violf(rule, off, 2, "%s has packet identifier 0", d.typ)
	}
	return true
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
