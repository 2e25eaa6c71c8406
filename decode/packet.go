// Package decode decodes MQTT control packets from raw bytes.
//
// It covers MQTT 3.1, 3.1.1 and 5.0, and the WebSocket layer MQTT may ride on
// (frames, the HTTP upgrade, permessage-deflate: websocket.go, http.go,
// wsupgrade.go, deflate.go). It is pure: bytes in, structures out, no I/O and
// no keys.
//
// A decoded Packet keeps a flat, pre-order list of Fields. Every field carries
// its Wireshark name (mqtt.topic, mqtt.msgid, ...), its typed value and its
// byte range within the packet, so callers can filter on it, print it as a
// tree or highlight it in a hex view. Values alias the input bytes: decoding
// a packet into a reused Packet does not allocate once its slices have grown.
//
// # Fields
//
// Field names, values, byte ranges and tree depths are those of Wireshark's
// MQTT dissector (checked against tshark 4.0 by TestAgainstTshark), with
// these additions:
//   - Every MQTT 5 property value is a typed field named after its property
//     (PropertyField): mqtt.property.message_expiry_interval (KindUint),
//     mqtt.property.response_topic (KindString),
//     mqtt.property.correlation_data (KindBytes), ... Wireshark's own names
//     are kept where it has one: mqtt.property.content_type,
//     mqtt.property.topic_alias and mqtt.property.max_qos. Where Wireshark
//     shows a value under a generic name instead (mqtt.prop_number,
//     mqtt.prop_string), WiresharkAlias returns that name. String and binary
//     property fields cover their two-byte length prefix, as Wireshark's
//     Content Type does. Each property follows its mqtt.property_id field at
//     the same depth, under mqtt.properties or mqtt.will_properties.
//   - A user property is a mqtt.property.user_property heading (KindNone)
//     whose children are mqtt.prop_key_len, mqtt.prop_key,
//     mqtt.prop_value_len and mqtt.prop_value.
//   - mqtt.topic of a PUBLISH that uses a topic alias with an empty topic
//     carries the topic the alias maps to (Packet.Topic too), with the byte
//     range of the empty topic (Len 0). Like Wireshark, an empty topic
//     without an alias has no mqtt.topic field, nor has an empty SUBSCRIBE
//     or UNSUBSCRIBE topic filter or will topic.
//   - mqtt.passwd is KindString as in Wireshark, but the specification makes
//     it binary data: it is not checked for UTF-8.
//
// Each field is declared once (Fields, LookupField): its type as display
// filters see it, its width, its title in the detail tree (Label) and the
// names of its values. The packet type names (Type.String,
// Type.WiresharkName) and the MQTT 5 reason codes (ReasonName,
// ReasonSpecName) are one table each.
//
// # Problems
//
// A Problem is Malformed when the packet cannot be parsed as MQTT: a
// remaining length over 4 bytes, fields running past the end of the packet,
// bytes left after the last field, invalid UTF-8 or U+0000 in a UTF-8
// string, an unknown property identifier, a property not allowed in the
// packet, a property block longer than the packet, an unknown protocol name
// and level, a reserved packet type. Everything else the specification
// forbids is a Violation: reserved flag bits, QoS 3, packet identifier 0,
// duplicate properties, wildcards in topic names, invalid topic filters,
// topic alias errors, invalid reason codes, a second CONNECT, packets sent in
// the wrong direction, ... Problem.Rule is the normative statement id of the
// MQTT 5.0 specification for MQTT 5.0 packets and of the MQTT 3.1.1
// specification for MQTT 3.1 and 3.1.1 packets (MQTT 3.1 has no numbered
// statements), or "" where the specification states the rule without an id
// (the text then names the section where that helps).
package decode

import "strconv"

// Type is an MQTT control packet type (the high nibble of the first byte).
type Type uint8

// MQTT control packet types.
const (
	Reserved    Type = 0
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

// Protocol levels as carried in CONNECT.
const (
	V31  uint8 = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 uint8 = 4 // MQTT 3.1.1
	V5   uint8 = 5 // MQTT 5.0
)

// Kind is the type of a Field's value.
type Kind uint8

// Field value kinds.
const (
	KindNone   Kind = iota // a subtree heading without a value of its own
	KindUint               // Field.Uint
	KindBool               // Field.Uint is 0 or 1
	KindString             // Field.Bytes holds UTF-8 text
	KindBytes              // Field.Bytes holds binary data
)

// Field is one decoded field of a packet.
type Field struct {
	Name  string // Wireshark's field name where it has one, else mqtap's (see DESIGN.md)
	Kind  Kind
	Depth uint8  // 0 for top-level fields; children follow their parent with Depth+1
	Uint  uint64 // value of KindUint and KindBool fields
	Bytes []byte // value of KindString and KindBytes fields; aliases Packet.Raw or connection state
	Off   int    // byte offset within Packet.Raw
	Len   int    // byte length within Packet.Raw
}

// Severity tells a malformed packet from a protocol violation.
type Severity uint8

// Problem severities.
const (
	Malformed Severity = iota + 1 // the packet cannot be parsed as MQTT
	Violation                     // parsed, but breaks a rule of the specification
)

// String returns "malformed" or "violation".
func (s Severity) String() string {
	switch s {
	case Malformed:
		return "malformed"
	case Violation:
		return "violation"
	}
	return "Severity(" + strconv.Itoa(int(s)) + ")"
}

// Problem is a malformation or protocol violation found in a packet.
type Problem struct {
	Severity Severity
	Rule     string // normative statement id such as "MQTT-3.1.2-3", or "" when there is none
	Text     string // one sentence, e.g. "reserved flag bits set in PUBREL fixed header"
	Off, Len int    // the bytes concerned within Packet.Raw

	short bool // a field runs past the end of the packet (Wireshark: "[Malformed Packet]")
}

// Packet is one decoded MQTT control packet.
type Packet struct {
	Raw       []byte // the whole control packet: fixed header, variable header, payload
	Type      Type
	Flags     uint8 // low nibble of the first byte
	HeaderLen int   // length of the fixed header (1 + remaining-length bytes)
	Remaining int   // the remaining length field
	Version   uint8 // protocol level the packet was decoded with (V31, V311 or V5)
	// Unknown is set when the connection's version was not known before
	// this packet (no CONNECT seen, none set or inferred): Version was
	// picked from the packet alone.
	Unknown    bool
	FromClient bool // sent by the client (true) or by the broker (false)

	// Values the pipeline needs on every packet, also present in Fields.
	Dup, Retain bool
	QoS         uint8
	PacketID    uint16 // 0 when the packet type has none
	Topic       []byte // PUBLISH topic, alias resolved; nil for other types
	TopicAlias  uint16 // MQTT 5 topic alias property, 0 when absent
	Payload     []byte // PUBLISH application message (mqtt.msg); nil for other types and when the packet ends before it
	PayloadOff  int    // offset of Payload within Raw
	// ContentType and PayloadFormat are the MQTT 5 Content Type and
	// Payload Format Indicator of a PUBLISH (nil and 0 when absent).
	ContentType   []byte
	PayloadFormat uint8

	// Truncated is set when the capture holds only the first len(Raw)
	// bytes of the packet (Wireshark: "Packet size limited during
	// capture"): the fields after them are missing, and that is not a
	// malformation.
	Truncated bool

	Fields   []Field   // every field, pre-order
	Problems []Problem // malformations and protocol violations, in order found
}

// Malformed reports the first reason the packet could not be parsed, or "".
func (p *Packet) Malformed() string {
	for i := range p.Problems {
		if p.Problems[i].Severity == Malformed {
			return p.Problems[i].Text
		}
	}
	return ""
}

// reset clears p for decoding a new packet, keeping the capacity of its slices.
func (p *Packet) reset() {
	*p = Packet{Fields: p.Fields[:0], Problems: p.Problems[:0]}
}

// Field returns the first field named name, or nil.
func (p *Packet) Field(name string) *Field {
	for i := range p.Fields {
		if p.Fields[i].Name == name {
			return &p.Fields[i]
		}
	}
	return nil
}

// Violation reports the first protocol violation found in the packet, or "".
func (p *Packet) Violation() string {
	for i := range p.Problems {
		if p.Problems[i].Severity == Violation {
			return p.Problems[i].Text
		}
	}
	return ""
}
