package decode

import "errors"

// FixedHeader is the parsed fixed header of a control packet.
type FixedHeader struct {
	Type      Type  // control packet type
	Flags     uint8 // low nibble of the first byte
	Remaining int   // value of the remaining length field
	HeaderLen int   // 1 + number of remaining-length bytes
}

// Total returns the length of the whole control packet.
func (h FixedHeader) Total() int { return h.HeaderLen + h.Remaining }

// ErrShort reports that not enough bytes are available yet to parse the fixed header.
var ErrShort = errors.New("decode: not enough bytes for the MQTT fixed header")

// ErrRemainingLength reports a remaining length encoded in more than 4 bytes.
var ErrRemainingLength = errors.New("decode: remaining length encoded in more than 4 bytes")

// ParseHeader parses the fixed header at the start of b.
func ParseHeader(b []byte) (FixedHeader, error) {
	var h FixedHeader
	if len(b) < 2 {
		return h, ErrShort
	}
	h.Type = Type(b[0] >> 4)
	h.Flags = b[0] & 0x0f
	mult := 1
	for i := 1; ; i++ {
		if i > 4 {
			return h, ErrRemainingLength
		}
		if i >= len(b) {
			return h, ErrShort
		}
		h.Remaining += int(b[i]&0x7f) * mult
		mult <<= 7
		if b[i]&0x80 == 0 {
			h.HeaderLen = i + 1
			return h, nil
		}
	}
}

// Plausible reports whether b starts with a plausible control packet.
func Plausible(b []byte, version uint8, maxRemaining int) bool {
	h, err := ParseHeader(b)
	return err == nil && h.Type != Reserved && h.Remaining <= maxRemaining
}

// Conn is the protocol state of one MQTT connection, both directions.
// The zero value is ready to use.
type Conn struct {
	version uint8
}

// Version returns the protocol level in use, 0 while unknown.
func (c *Conn) Version() uint8 { return c.version }

// SetVersion forces the protocol level.
func (c *Conn) SetVersion(v uint8) { c.version = v }

// Decode decodes exactly one complete control packet into p.
func (c *Conn) Decode(raw []byte, fromClient bool, p *Packet) {
	p.Raw = raw
	p.Fields = p.Fields[:0]
	p.Problems = p.Problems[:0]
	p.FromClient = fromClient
	h, err := ParseHeader(raw)
	if err != nil {
		p.Problems = append(p.Problems, Problem{Severity: Malformed, Text: err.Error()})
		return
	}
	p.Type, p.Flags, p.HeaderLen, p.Remaining = h.Type, h.Flags, h.HeaderLen, h.Remaining
}

var typeNames = [16]string{"Reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// String returns the packet type name as in the specification.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Unknown"
}

// Info returns Wireshark's Info column text for p.
func Info(p *Packet) string { return p.Type.String() }

// Label returns the detail tree line for f.
func Label(p *Packet, f *Field) string { return f.Name }

// ReasonName returns the name of a reason code for packet type t.
func ReasonName(t Type, code uint8) string { return "Unknown" }

// PropertyName returns the name of an MQTT 5 property.
func PropertyName(id uint8) string { return "Unknown" }
