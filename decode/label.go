package decode

import (
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Info returns the text of Wireshark's Info column for one packet: "Connect
// Command", "Publish Message (id=3) [a/b]", "Publish Message [a/b]" (QoS 0),
// "Subscribe Request (id=1) [a] [b]", "Unsubscribe Ack (id=2)", "Ping
// Request", "Disconnect Req", ..., with "[Malformed Packet]" appended where a
// field runs past the end of the packet, as tshark 4.0 prints it. Wireshark
// joins the texts of several packets in one frame with ", ".
func Info(p *Packet) string {
	return string(AppendInfo(nil, p))
}

// AppendInfo appends the text of Info to b without allocating.
func AppendInfo(b []byte, p *Packet) []byte {
	b = append(b, p.Type.WiresharkName()...)
	id, hasID := p.id()
	switch p.Type {
	case PUBLISH:
		if hasID {
			b = appendID(b, id)
		}
		if p.Payload != nil { // mqtt.msg is there
			b = append(b, " ["...)
			b = append(b, p.Topic...)
			b = append(b, ']')
		}
	case SUBSCRIBE:
		if hasID {
			b = appendID(b, id)
		}
		var last []byte
		for i := range p.Fields {
			f := &p.Fields[i]
			if f.Name != "mqtt.topic_len" {
				continue
			}
			switch {
			case i+1 < len(p.Fields) && p.Fields[i+1].Name == "mqtt.topic":
				last = p.Fields[i+1].Bytes
			case f.Uint != 0:
				continue // truncated topic
			}
			b = append(b, " ["...)
			b = append(b, last...)
			b = append(b, ']')
		}
	case UNSUBSCRIBE, SUBACK, UNSUBACK, PUBACK, PUBREC, PUBREL, PUBCOMP:
		if hasID {
			b = appendID(b, id)
		}
	}
	for i := range p.Problems {
		if p.Problems[i].short {
			b = append(b, "[Malformed Packet]"...)
			break
		}
	}
	return b
}

// id returns the value of the packet's mqtt.msgid field and whether it has
// one. A non-zero PacketID is that field's value and a QoS 0 PUBLISH has
// none: only a packet identifier of 0 needs a search.
func (p *Packet) id() (uint64, bool) {
	switch {
	case p.PacketID != 0:
		return uint64(p.PacketID), true
	case p.Type == PUBLISH && p.QoS == 0:
		return 0, false
	}
	return 0, p.Field("mqtt.msgid") != nil
}

func appendID(b []byte, id uint64) []byte {
	b = append(b, " (id="...)
	b = strconv.AppendUint(b, id, 10)
	return append(b, ')')
}

// Label returns the line of the detail tree for field f of packet p, as
// tshark -V prints it: "Message Type: Publish Message (3)" preceded by the
// bit pattern for bitfields (".... .01. = QoS Level: At least once delivery
// (Acknowledged deliver) (1)"), "Header Flags: 0x32, Message Type: Publish
// Message, QoS Level: ..." for flag bytes, "Topic: a/b", "Reason Code:
// Success (0)", "ID: Receive Maximum (0x21)", "Receive Maximum: 20",
// "Message: 68656c6c6f" (bytes in hex, cut after 36 bytes with "…"). Strings
// escape control characters as Wireshark does. It does not indent; indent
// by f.Depth. MQTT 5 properties are titled with the specification's names.
func Label(p *Packet, f *Field) string { return string(AppendLabel(nil, p, f)) }

// AppendLabel appends Label(p, f) to dst and returns the extended slice:
// writers of many labels (mqtap read -V) reuse one buffer.
func AppendLabel(dst []byte, p *Packet, f *Field) []byte {
	def := fieldIndex[f.Name]
	if def == nil || def.Title == "" {
		def = &FieldDef{Title: f.Name} // a name the decoder does not produce
	}
	sb := labelBuf(dst)
	if def.Mask != 0 && f.Depth > 0 && f.Off >= 0 && f.Off < len(p.Raw) {
		writeBits(&sb, def.Mask, p.Raw[f.Off])
		sb.WriteString(" = ")
	}
	sb.WriteString(def.Title)
	switch f.Kind {
	case KindNone:
		if f.Name == "mqtt.property.user_property" {
			if k, v, ok := userPropertyText(p, f); ok {
				sb.WriteString(": ")
				writeText(&sb, k)
				sb.WriteString(" = ")
				writeText(&sb, v)
			}
		}
	case KindBool:
		if f.Uint != 0 {
			sb.WriteString(": Set")
		} else {
			sb.WriteString(": Not set")
		}
	case KindUint:
		sb.WriteString(": ")
		writeUint(&sb, f, def)
		if def.Hex && def.Vals == nil && def.Mask == 0 {
			writeSummary(&sb, p, f)
		}
	case KindString:
		sb.WriteString(": ")
		writeText(&sb, f.Bytes)
	case KindBytes:
		sb.WriteString(": ")
		writeHex(&sb, f.Bytes)
	}
	return sb
}

// labelBuf is a byte slice with the methods of a strings.Builder that the
// label writers use, appending in place.
type labelBuf []byte

// WriteString appends s.
func (b *labelBuf) WriteString(s string) (int, error) {
	*b = append(*b, s...)
	return len(s), nil
}

// WriteByte appends c.
func (b *labelBuf) WriteByte(c byte) error {
	*b = append(*b, c)
	return nil
}

// WriteRune appends r in UTF-8.
func (b *labelBuf) WriteRune(r rune) (int, error) {
	n := len(*b)
	*b = utf8.AppendRune(*b, r)
	return len(*b) - n, nil
}

// writeUint writes an integer value the way Wireshark labels it.
func writeUint(sb *labelBuf, f *Field, def *FieldDef) {
	num := func() {
		if def.Hex {
			sb.WriteString("0x")
			if def.Mask == 0 && f.Uint < 16 {
				sb.WriteByte('0') // two digits, but for a bitfield's value
			}
			*sb = strconv.AppendUint(*sb, f.Uint, 16)
		} else {
			*sb = strconv.AppendUint(*sb, f.Uint, 10)
		}
	}
	if def.Vals == nil {
		num()
		return
	}
	name := def.Vals(f.Uint)
	if name == "" {
		name = "Unknown"
	}
	sb.WriteString(name)
	sb.WriteString(" (")
	num()
	sb.WriteString(")")
}

// summaryChildren lists, per flag byte, the bitfields Wireshark shows under
// it, in order.
var summaryChildren = map[string][]string{
	"mqtt.conflags": {"mqtt.conflag.uname", "mqtt.conflag.passwd", "mqtt.conflag.retain", "mqtt.conflag.qos",
		"mqtt.conflag.willflag", "mqtt.conflag.cleansess", "mqtt.conflag.reserved"},
	"mqtt.conack.flags": {"mqtt.conack.flags.reserved", "mqtt.conack.flags.sp"},
	"mqtt.subscription_options": {"mqtt.subscription_options_reserved", "mqtt.subscription_options_retain",
		"mqtt.subscription_options_rap", "mqtt.subscription_options_nl", "mqtt.subscription_options_qos"},
}

var (
	publishFlags = []string{"mqtt.msgtype", "mqtt.dupflag", "mqtt.qos", "mqtt.retain"}
	v31Flags     = []string{"mqtt.msgtype", "mqtt.dupflag", "mqtt.qos", "mqtt.retain_reserved"}
	otherFlags   = []string{"mqtt.msgtype", "mqtt.hdr_reserved"}
)

// writeSummary appends to a flag byte's label what Wireshark appends: the
// names of the set flags and the named values of its multi-bit fields. It
// works from the byte's value, so it does not depend on where f is.
func writeSummary(sb *labelBuf, p *Packet, f *Field) {
	children := summaryChildren[f.Name]
	if f.Name == "mqtt.hdrflags" {
		t := Type(f.Uint >> 4)
		switch {
		case t == PUBLISH:
			children = publishFlags
		case p.Version == V31 && (t == PUBREL || t == SUBSCRIBE || t == UNSUBSCRIBE):
			children = v31Flags
		default:
			children = otherFlags
		}
	}
	for _, name := range children {
		c := fieldIndex[name]
		v := (f.Uint & uint64(c.Mask)) >> bits.TrailingZeros8(c.Mask)
		switch {
		case c.Type == TypeBool:
			if v != 0 {
				sb.WriteString(", ")
				sb.WriteString(c.Title)
			}
		case c.Vals != nil:
			name := c.Vals(v)
			if name == "" {
				name = "Unknown"
			}
			sb.WriteString(", ")
			sb.WriteString(c.Title)
			sb.WriteString(": ")
			sb.WriteString(name)
		}
	}
}

// userPropertyText returns the key and value of the user property whose
// heading is f, read from the packet bytes it covers.
func userPropertyText(p *Packet, f *Field) (key, val []byte, ok bool) {
	if f.Off < 0 || f.Len < 0 || f.Off+f.Len > len(p.Raw) {
		return nil, nil, false
	}
	b := p.Raw[f.Off : f.Off+f.Len]
	str := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(b[0])<<8 | int(b[1])
		if len(b) < 2+n {
			return nil, false
		}
		v := b[2 : 2+n]
		b = b[2+n:]
		return v, true
	}
	key, ok1 := str()
	val, ok2 := str()
	return key, val, ok1 && ok2
}

// writeBits writes Wireshark's bit pattern of v under mask: "...0 0...".
func writeBits(sb *labelBuf, mask, v uint8) {
	for i := 7; i >= 0; i-- {
		switch {
		case mask&(1<<i) == 0:
			sb.WriteByte('.')
		case v&(1<<i) != 0:
			sb.WriteByte('1')
		default:
			sb.WriteByte('0')
		}
		if i == 4 {
			sb.WriteByte(' ')
		}
	}
}

// writeText writes a string the way Wireshark's format_text shows it:
// control characters escaped (\n, \t, ... or octal), invalid UTF-8 as U+FFFD.
func writeText(sb *labelBuf, b []byte) {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			sb.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f:
			sb.WriteByte('\\')
			switch r {
			case '\a':
				sb.WriteByte('a')
			case '\b':
				sb.WriteByte('b')
			case '\f':
				sb.WriteByte('f')
			case '\n':
				sb.WriteByte('n')
			case '\r':
				sb.WriteByte('r')
			case '\t':
				sb.WriteByte('t')
			case '\v':
				sb.WriteByte('v')
			default:
				sb.WriteByte(byte('0' + r>>6&7))
				sb.WriteByte(byte('0' + r>>3&7))
				sb.WriteByte(byte('0' + r&7))
			}
		default:
			sb.WriteRune(r)
		}
	}
}

// maxLabelBytes is how many bytes of a binary value a label shows before
// "…", as Wireshark does.
const maxLabelBytes = 36

// writeHex writes bytes in lowercase hexadecimal, "<MISSING>" when empty.
func writeHex(sb *labelBuf, b []byte) {
	if len(b) == 0 {
		sb.WriteString("<MISSING>")
		return
	}
	const digits = "0123456789abcdef"
	n := min(len(b), maxLabelBytes)
	for _, c := range b[:n] {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	if len(b) > n {
		sb.WriteString("…")
	}
}
