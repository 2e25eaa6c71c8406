package decode

import (
	"strconv"
	"strings"
)

// FieldType is the type of a field's values as display filters see them:
// Wireshark's FT_* types, reduced to what mqtap's records carry.
type FieldType uint8

// Field types. The decoder's fields are of the types up to TypeBytes; the
// others are those of the layers around MQTT, which records add (package
// session).
const (
	TypeNone     FieldType = iota // a subtree heading without a value of its own (KindNone)
	TypeProtocol                  // a protocol: tested for presence
	TypeUint                      // an unsigned integer Bits wide (KindUint)
	TypeBool                      // a flag (KindBool)
	TypeString                    // text (KindString)
	TypeBytes                     // a byte sequence (KindBytes)
	TypeIPv4                      // an IPv4 address, as text
	TypeIPv6                      // an IPv6 address, as text
	TypeTime                      // seconds with nanoseconds, as decimal text
)

// String names a field type as tshark does in its filter errors
// ("Unsigned integer", "Character string", ...).
func (t FieldType) String() string {
	switch t {
	case TypeNone:
		return "Label"
	case TypeProtocol:
		return "Protocol"
	case TypeUint:
		return "Unsigned integer"
	case TypeBool:
		return "Boolean"
	case TypeString:
		return "Character string"
	case TypeBytes:
		return "Byte sequence"
	case TypeIPv4:
		return "IPv4 address"
	case TypeIPv6:
		return "IPv6 address"
	case TypeTime:
		return "Time offset"
	}
	return "FieldType(" + strconv.Itoa(int(t)) + ")"
}

// FieldDef declares a field: its name, the type of its values and how a
// detail tree labels it.
type FieldDef struct {
	Name  string    // Wireshark's name where it has one, else mqtap's
	Type  FieldType // the type of its values
	Bits  uint8     // width of a TypeUint (8 to 64) or TypeBool (1) value
	Title string    // its title in a detail tree ("Message Type")
	Mask  uint8     // the bits of its byte a bitfield occupies (0: not a bitfield)
	Hex   bool      // an integer shown in hexadecimal (Wireshark's BASE_HEX)
	// Vals names the values of a one-byte integer (Wireshark's value
	// strings): "" for a value without a name. Nil when it has none.
	Vals func(v uint64) string
}

// mqttFields declares the fields of the MQTT decoder, typed as tshark 4.0
// types them. The fields of the MQTT 5 properties follow, made from
// propDefs, then Wireshark's generic property names (see fieldDefs).
var mqttFields = []FieldDef{
	{Name: "mqtt.hdrflags", Type: TypeUint, Bits: 8, Title: "Header Flags", Hex: true},
	{Name: "mqtt.msgtype", Type: TypeUint, Bits: 8, Title: "Message Type", Mask: 0xf0, Vals: typeVals},
	{Name: "mqtt.hdr_reserved", Type: TypeUint, Bits: 8, Title: "Reserved", Mask: 0x0f},
	{Name: "mqtt.retain_reserved", Type: TypeUint, Bits: 8, Title: "Reserved", Mask: 0x01},
	{Name: "mqtt.dupflag", Type: TypeBool, Bits: 1, Title: "DUP Flag", Mask: 0x08},
	{Name: "mqtt.qos", Type: TypeUint, Bits: 8, Title: "QoS Level", Mask: 0x06, Vals: qosVals},
	{Name: "mqtt.retain", Type: TypeBool, Bits: 1, Title: "Retain", Mask: 0x01},
	{Name: "mqtt.len", Type: TypeUint, Bits: 64, Title: "Msg Len"},
	{Name: "mqtt.proto_len", Type: TypeUint, Bits: 16, Title: "Protocol Name Length"},
	{Name: "mqtt.protoname", Type: TypeString, Title: "Protocol Name"},
	{Name: "mqtt.ver", Type: TypeUint, Bits: 8, Title: "Version", Vals: versionVals},
	{Name: "mqtt.conflags", Type: TypeUint, Bits: 8, Title: "Connect Flags", Hex: true},
	{Name: "mqtt.conflag.uname", Type: TypeBool, Bits: 1, Title: "User Name Flag", Mask: 0x80},
	{Name: "mqtt.conflag.passwd", Type: TypeBool, Bits: 1, Title: "Password Flag", Mask: 0x40},
	{Name: "mqtt.conflag.retain", Type: TypeBool, Bits: 1, Title: "Will Retain", Mask: 0x20},
	{Name: "mqtt.conflag.qos", Type: TypeUint, Bits: 8, Title: "QoS Level", Mask: 0x18, Vals: qosVals},
	{Name: "mqtt.conflag.willflag", Type: TypeBool, Bits: 1, Title: "Will Flag", Mask: 0x04},
	{Name: "mqtt.conflag.cleansess", Type: TypeBool, Bits: 1, Title: "Clean Session Flag", Mask: 0x02},
	{Name: "mqtt.conflag.reserved", Type: TypeBool, Bits: 1, Title: "(Reserved)", Mask: 0x01},
	{Name: "mqtt.kalive", Type: TypeUint, Bits: 16, Title: "Keep Alive"},
	{Name: "mqtt.clientid_len", Type: TypeUint, Bits: 16, Title: "Client ID Length"},
	{Name: "mqtt.clientid", Type: TypeString, Title: "Client ID"},
	{Name: "mqtt.willtopic_len", Type: TypeUint, Bits: 16, Title: "Will Topic Length"},
	{Name: "mqtt.willtopic", Type: TypeString, Title: "Will Topic"},
	{Name: "mqtt.willmsg_len", Type: TypeUint, Bits: 16, Title: "Will Message Length"},
	{Name: "mqtt.willmsg", Type: TypeBytes, Title: "Will Message"},
	{Name: "mqtt.username_len", Type: TypeUint, Bits: 16, Title: "User Name Length"},
	{Name: "mqtt.username", Type: TypeString, Title: "User Name"},
	{Name: "mqtt.passwd_len", Type: TypeUint, Bits: 16, Title: "Password Length"},
	{Name: "mqtt.passwd", Type: TypeString, Title: "Password"},
	{Name: "mqtt.conack.flags", Type: TypeUint, Bits: 8, Title: "Acknowledge Flags", Hex: true},
	{Name: "mqtt.conack.flags.reserved", Type: TypeBool, Bits: 1, Title: "Reserved", Mask: 0xfe},
	{Name: "mqtt.conack.flags.sp", Type: TypeBool, Bits: 1, Title: "Session Present", Mask: 0x01},
	{Name: "mqtt.conack.val", Type: TypeUint, Bits: 8, Title: "Return Code", Vals: returnCodeVals},
	{Name: "mqtt.msgid", Type: TypeUint, Bits: 16, Title: "Message Identifier"},
	{Name: "mqtt.topic_len", Type: TypeUint, Bits: 16, Title: "Topic Length"},
	{Name: "mqtt.topic", Type: TypeString, Title: "Topic"},
	{Name: "mqtt.sub.qos", Type: TypeUint, Bits: 8, Title: "Requested QoS", Vals: qosVals},
	{Name: "mqtt.suback.qos", Type: TypeUint, Bits: 8, Title: "Granted QoS", Vals: subackQoSVals},
	{Name: "mqtt.subscription_options", Type: TypeUint, Bits: 8, Title: "Subscription Options", Hex: true},
	{Name: "mqtt.subscription_options_reserved", Type: TypeUint, Bits: 8, Title: "Reserved", Mask: 0xc0, Hex: true},
	{Name: "mqtt.subscription_options_retain", Type: TypeUint, Bits: 8, Title: "Retain Handling", Mask: 0x30, Vals: retainHandlingVals},
	{Name: "mqtt.subscription_options_rap", Type: TypeBool, Bits: 1, Title: "Retain As Published", Mask: 0x08},
	{Name: "mqtt.subscription_options_nl", Type: TypeBool, Bits: 1, Title: "No Local", Mask: 0x04},
	{Name: "mqtt.subscription_options_qos", Type: TypeUint, Bits: 8, Title: "QoS", Mask: 0x03, Vals: qosVals},
	reasonCodeField(CONNACK),
	reasonCodeField(PUBACK),
	reasonCodeField(PUBREC),
	reasonCodeField(PUBREL),
	reasonCodeField(PUBCOMP),
	reasonCodeField(SUBACK),
	reasonCodeField(UNSUBACK),
	reasonCodeField(DISCONNECT),
	reasonCodeField(AUTH),
	{Name: "mqtt.properties", Type: TypeNone, Title: "Properties"},
	{Name: "mqtt.will_properties", Type: TypeNone, Title: "Will Properties"},
	{Name: "mqtt.property_len", Type: TypeUint, Bits: 64, Title: "Total Length"},
	{Name: "mqtt.property_id", Type: TypeUint, Bits: 8, Title: "ID", Hex: true, Vals: propertyVals},
	{Name: "mqtt.prop_key_len", Type: TypeUint, Bits: 32, Title: "Key Length"},
	{Name: "mqtt.prop_key", Type: TypeString, Title: "Key"},
	{Name: "mqtt.prop_value_len", Type: TypeUint, Bits: 32, Title: "Value Length"},
	{Name: "mqtt.prop_value", Type: TypeString, Title: "Value"},
	{Name: "mqtt.prop_unknown", Type: TypeString, Title: "Unknown Property"},
	{Name: "mqtt.msg", Type: TypeBytes, Title: "Message"},
}

// reasonCodeField declares the MQTT 5 reason code field of packets of type
// t (mqtt.connack.reason_code, ...): its values are named as that type
// names them.
func reasonCodeField(t Type) FieldDef {
	return FieldDef{Name: "mqtt." + strings.ToLower(t.String()) + ".reason_code", Type: TypeUint, Bits: 8, Title: "Reason Code",
		Vals: func(v uint64) string {
			if v > 0xff {
				return ""
			}
			return ReasonName(t, uint8(v))
		}}
}

// genericPropFields are Wireshark's generic names for property values
// (WiresharkAlias): they answer for the typed property fields and are never
// in a packet, so they have no title.
var genericPropFields = []FieldDef{
	{Name: "mqtt.prop_number", Type: TypeUint, Bits: 32},
	{Name: "mqtt.prop_string", Type: TypeString},
}

// propField declares the typed field of an MQTT 5 property, typed by the
// property's wire type and titled with the specification's name.
func propField(d *propDef) FieldDef {
	f := FieldDef{Name: d.field, Title: d.name}
	switch d.typ {
	case propByte:
		f.Type, f.Bits = TypeUint, 8
	case propTwo:
		f.Type, f.Bits = TypeUint, 16
	case propFour, propVBI:
		f.Type, f.Bits = TypeUint, 32
	case propString:
		f.Type = TypeString
	case propBinary:
		f.Type = TypeBytes
	case propPair:
		f.Type = TypeNone
	}
	if d.field == "mqtt.property.max_qos" {
		f.Title, f.Vals = "QoS", qosVals // as Wireshark titles it
	}
	return f
}

// fieldDefs holds every field the decoder declares, in order: mqttFields,
// the property fields in identifier order, genericPropFields.
var fieldDefs = func() []*FieldDef {
	var defs []*FieldDef
	for i := range mqttFields {
		defs = append(defs, &mqttFields[i])
	}
	for i := range propDefs {
		if propDefs[i].name != "" {
			f := propField(&propDefs[i])
			defs = append(defs, &f)
		}
	}
	for i := range genericPropFields {
		defs = append(defs, &genericPropFields[i])
	}
	return defs
}()

// fieldIndex finds a field declaration by name.
var fieldIndex = func() map[string]*FieldDef {
	m := make(map[string]*FieldDef, len(fieldDefs))
	for _, f := range fieldDefs {
		m[f.Name] = f
	}
	return m
}()

// Fields returns the declarations of every field the decoder produces, and
// of Wireshark's generic property names (mqtt.prop_number,
// mqtt.prop_string), in a fixed order. They must not be modified.
func Fields() []*FieldDef {
	return fieldDefs
}

// LookupField returns the declaration of a field name the decoder knows
// (KnownField), or nil.
func LookupField(name string) *FieldDef {
	return fieldIndex[name]
}

// KnownField reports whether name is a field the decoder produces, under
// its own name or Wireshark's generic property names (WiresharkAlias).
func KnownField(name string) bool {
	return fieldIndex[name] != nil
}

// FieldTitle returns the human-readable title of a field name as the detail
// tree shows it ("Message Type", "Topic", "Reason Code", "Receive Maximum",
// ...), or "" for a name the decoder does not produce.
func FieldTitle(name string) string {
	if f := fieldIndex[name]; f != nil {
		return f.Title
	}
	return ""
}

// FieldHex reports whether integer field name is conventionally shown in
// hexadecimal (Wireshark's BASE_HEX: mqtt.hdrflags, mqtt.conflags,
// mqtt.conack.flags, mqtt.subscription_options, mqtt.property_id, ...).
func FieldHex(name string) bool {
	f := fieldIndex[name]
	return f != nil && f.Hex
}
