package decode

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

var typeNames = [16]string{
	"Reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// infoNames are Wireshark's names of the packet types (Info column and
// Message Type field).
var infoNames = [16]string{
	"Reserved", "Connect Command", "Connect Ack", "Publish Message", "Publish Ack",
	"Publish Received", "Publish Release", "Publish Complete", "Subscribe Request",
	"Subscribe Ack", "Unsubscribe Request", "Unsubscribe Ack", "Ping Request",
	"Ping Response", "Disconnect Req", "Authentication Exchange",
}

// String returns the specification's name of the packet type ("CONNECT",
// "PUBLISH", ...; "Reserved" for 0).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// WiresharkName returns Wireshark's name of the packet type ("Connect
// Command", "Publish Message", "Disconnect Req", ...).
func (t Type) WiresharkName() string {
	if int(t) < len(infoNames) {
		return infoNames[t]
	}
	return "Unknown (0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// Wireshark's value strings.
var qosNames = [4]string{
	"At most once delivery (Fire and Forget)",
	"At least once delivery (Acknowledged deliver)",
	"Exactly once delivery (Assured Delivery)",
	"Reserved",
}

var retainHandlingNames = [4]string{
	"Send msgs at subscription time",
	"Send msgs if subscription does not exist",
	"Do not send msgs at subscription time",
	"Reserved",
}

var returnCodeNames = [6]string{
	"Connection Accepted",
	"Connection Refused: unacceptable protocol version",
	"Connection Refused: identifier rejected",
	"Connection Refused: server unavailable",
	"Connection Refused: bad user name or password",
	"Connection Refused: not authorized",
}

var versionNames = map[uint64]string{3: "MQTT v3.1", 4: "MQTT v3.1.1", 5: "MQTT v5.0"}

// ReturnCodeName returns the name of an MQTT 3.1/3.1.1 CONNACK return code
// ("Connection Accepted", ...), or "" for a reserved code.
func ReturnCodeName(code uint8) string {
	if int(code) < len(returnCodeNames) {
		return returnCodeNames[code]
	}
	return ""
}

// QoSName returns Wireshark's name of a QoS level.
func QoSName(qos uint8) string {
	if int(qos) < len(qosNames) {
		return qosNames[qos]
	}
	return ""
}

// reasonText holds the MQTT 5 reason code names (Wireshark's wording).
var reasonText = map[uint8]string{
	0x00: "Success", 0x01: "Granted QoS 1", 0x02: "Granted QoS 2", 0x04: "Disconnect with Will Message",
	0x10: "No matching subscribers", 0x11: "No subscription existed", 0x18: "Continue authentication",
	0x19: "Re-authenticate", 0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
	0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid", 0x86: "Bad User Name or Password", 0x87: "Not authorized",
	0x88: "Server unavailable", 0x89: "Server busy", 0x8a: "Banned", 0x8b: "Server shutting down",
	0x8c: "Bad authentication method", 0x8d: "Keep Alive timeout", 0x8e: "Session taken over",
	0x8f: "Topic Filter invalid", 0x90: "Topic Name invalid", 0x91: "Packet Identifier in use",
	0x92: "Packet Identifier not found", 0x93: "Receive Maximum exceeded", 0x94: "Topic Alias invalid",
	0x95: "Packet too large", 0x96: "Message rate too high", 0x97: "Quota exceeded",
	0x98: "Administrative action", 0x99: "Payload format invalid", 0x9a: "Retain not supported",
	0x9b: "QoS not supported", 0x9c: "Use another server", 0x9d: "Server moved",
	0x9e: "Shared Subscription not supported", 0x9f: "Connection rate exceeded",
	0xa0: "Maximum connect time", 0xa1: "Subscription Identifiers not supported",
	0xa2: "Wildcard Subscription not supported",
}

// reasonCodes lists the reason codes each MQTT 5 packet type may carry
// (specification, sections 3.2.2.2 to 3.15.2.1).
var reasonCodes = map[Type][]uint8{
	CONNACK: {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90,
		0x95, 0x97, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f},
	PUBACK:   {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99},
	PUBREC:   {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99},
	PUBREL:   {0x00, 0x92},
	PUBCOMP:  {0x00, 0x92},
	SUBACK:   {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2},
	UNSUBACK: {0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91},
	DISCONNECT: {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
		0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2},
	AUTH: {0x00, 0x18, 0x19},
}

// ReasonName returns the name of MQTT 5 reason code code in a packet of type
// t ("Success", "No matching subscribers", "Granted QoS 0", "Normal
// disconnection", ...), or "" when the code is not one that type may carry.
// For MQTT 3 CONNACK return codes use ReturnCodeName.
func ReasonName(t Type, code uint8) string {
	for _, c := range reasonCodes[t] {
		if c != code {
			continue
		}
		switch {
		case code == 0 && t == SUBACK:
			return "Granted QoS 0"
		case code == 0 && t == DISCONNECT:
			return "Normal disconnection"
		}
		return reasonText[code]
	}
	return ""
}

// fieldInfo describes how a field is labelled.
type fieldInfo struct {
	title   string
	mask    uint8 // bits of the byte a bitfield occupies (0: not a bitfield)
	hex     bool  // integer shown in hexadecimal
	boolean bool  // a flag: "Set" or "Not set"
	// vals names an integer value; "" means unknown. nil: no value names.
	vals func(t Type, v uint64) string
}

func qosVals(_ Type, v uint64) string {
	if v < 4 {
		return qosNames[v]
	}
	return ""
}

func reasonVals(t Type, v uint64) string {
	if v > 0xff {
		return ""
	}
	return ReasonName(t, uint8(v))
}

var fieldInfos = map[string]fieldInfo{
	"mqtt.hdrflags": {title: "Header Flags", hex: true},
	"mqtt.msgtype": {title: "Message Type", mask: 0xf0, vals: func(_ Type, v uint64) string {
		if v < 16 {
			return infoNames[v]
		}
		return ""
	}},
	"mqtt.hdr_reserved":          {title: "Reserved", mask: 0x0f},
	"mqtt.retain_reserved":       {title: "Reserved", mask: 0x01},
	"mqtt.dupflag":               {title: "DUP Flag", mask: 0x08, boolean: true},
	"mqtt.qos":                   {title: "QoS Level", mask: 0x06, vals: qosVals},
	"mqtt.retain":                {title: "Retain", mask: 0x01, boolean: true},
	"mqtt.len":                   {title: "Msg Len"},
	"mqtt.proto_len":             {title: "Protocol Name Length"},
	"mqtt.protoname":             {title: "Protocol Name"},
	"mqtt.ver":                   {title: "Version", vals: func(_ Type, v uint64) string { return versionNames[v] }},
	"mqtt.conflags":              {title: "Connect Flags", hex: true},
	"mqtt.conflag.uname":         {title: "User Name Flag", mask: 0x80, boolean: true},
	"mqtt.conflag.passwd":        {title: "Password Flag", mask: 0x40, boolean: true},
	"mqtt.conflag.retain":        {title: "Will Retain", mask: 0x20, boolean: true},
	"mqtt.conflag.qos":           {title: "QoS Level", mask: 0x18, vals: qosVals},
	"mqtt.conflag.willflag":      {title: "Will Flag", mask: 0x04, boolean: true},
	"mqtt.conflag.cleansess":     {title: "Clean Session Flag", mask: 0x02, boolean: true},
	"mqtt.conflag.reserved":      {title: "(Reserved)", mask: 0x01, boolean: true},
	"mqtt.kalive":                {title: "Keep Alive"},
	"mqtt.clientid_len":          {title: "Client ID Length"},
	"mqtt.clientid":              {title: "Client ID"},
	"mqtt.willtopic_len":         {title: "Will Topic Length"},
	"mqtt.willtopic":             {title: "Will Topic"},
	"mqtt.willmsg_len":           {title: "Will Message Length"},
	"mqtt.willmsg":               {title: "Will Message"},
	"mqtt.username_len":          {title: "User Name Length"},
	"mqtt.username":              {title: "User Name"},
	"mqtt.passwd_len":            {title: "Password Length"},
	"mqtt.passwd":                {title: "Password"},
	"mqtt.conack.flags":          {title: "Acknowledge Flags", hex: true},
	"mqtt.conack.flags.reserved": {title: "Reserved", mask: 0xfe, boolean: true},
	"mqtt.conack.flags.sp":       {title: "Session Present", mask: 0x01, boolean: true},
	"mqtt.conack.val": {title: "Return Code", vals: func(_ Type, v uint64) string {
		if v < 6 {
			return returnCodeNames[v]
		}
		return ""
	}},
	"mqtt.msgid":     {title: "Message Identifier"},
	"mqtt.topic_len": {title: "Topic Length"},
	"mqtt.topic":     {title: "Topic"},
	"mqtt.sub.qos":   {title: "Requested QoS", vals: qosVals},
	"mqtt.suback.qos": {title: "Granted QoS", vals: func(_ Type, v uint64) string {
		if v == 0x80 {
			return "Failure"
		}
		return qosVals(0, v)
	}},
	"mqtt.subscription_options":          {title: "Subscription Options", hex: true},
	"mqtt.subscription_options_reserved": {title: "Reserved", mask: 0xc0, hex: true},
	"mqtt.subscription_options_retain": {title: "Retain Handling", mask: 0x30, vals: func(_ Type, v uint64) string {
		if v < 4 {
			return retainHandlingNames[v]
		}
		return ""
	}},
	"mqtt.subscription_options_rap": {title: "Retain As Published", mask: 0x08, boolean: true},
	"mqtt.subscription_options_nl":  {title: "No Local", mask: 0x04, boolean: true},
	"mqtt.subscription_options_qos": {title: "QoS", mask: 0x03, vals: qosVals},
	"mqtt.connack.reason_code":      {title: "Reason Code", vals: reasonVals},
	"mqtt.puback.reason_code":       {title: "Reason Code", vals: reasonVals},
	"mqtt.pubrec.reason_code":       {title: "Reason Code", vals: reasonVals},
	"mqtt.pubrel.reason_code":       {title: "Reason Code", vals: reasonVals},
	"mqtt.pubcomp.reason_code":      {title: "Reason Code", vals: reasonVals},
	"mqtt.suback.reason_code":       {title: "Reason Code", vals: reasonVals},
	"mqtt.unsuback.reason_code":     {title: "Reason Code", vals: reasonVals},
	"mqtt.disconnect.reason_code":   {title: "Reason Code", vals: reasonVals},
	"mqtt.auth.reason_code":         {title: "Reason Code", vals: reasonVals},
	"mqtt.properties":               {title: "Properties"},
	"mqtt.will_properties":          {title: "Will Properties"},
	"mqtt.property_len":             {title: "Total Length"},
	"mqtt.property_id": {title: "ID", hex: true, vals: func(_ Type, v uint64) string {
		if v > 0xff {
			return ""
		}
		return PropertyName(uint8(v))
	}},
	"mqtt.prop_key_len":   {title: "Key Length"},
	"mqtt.prop_key":       {title: "Key"},
	"mqtt.prop_value_len": {title: "Value Length"},
	"mqtt.prop_value":     {title: "Value"},
	"mqtt.prop_unknown":   {title: "Unknown Property"},
	"mqtt.msg":            {title: "Message"},
}

func init() {
	for i := range propDefs {
		d := &propDefs[i]
		if d.name == "" {
			continue
		}
		fi := fieldInfo{title: d.name}
		if uint8(i) == PropMaximumQoS {
			fi = fieldInfo{title: "QoS", vals: qosVals}
		}
		fieldInfos[d.field] = fi
	}
}

// FieldTitle returns the human-readable title of a field name as the detail
// tree shows it ("Message Type", "Topic", "Reason Code", "Receive Maximum",
// ...), or "" for a name the decoder does not produce.
func FieldTitle(name string) string {
	return fieldInfos[name].title
}

// KnownField reports whether name is a field the decoder produces, under
// its own name or Wireshark's generic property names (WiresharkAlias).
func KnownField(name string) bool {
	if _, ok := fieldInfos[name]; ok {
		return true
	}
	return name == "mqtt.prop_number" || name == "mqtt.prop_string"
}

// FieldHex reports whether integer field name is conventionally shown in
// hexadecimal (Wireshark's BASE_HEX: mqtt.hdrflags, mqtt.conflags,
// mqtt.conack.flags, mqtt.subscription_options, mqtt.property_id, ...).
func FieldHex(name string) bool {
	return fieldInfos[name].hex
}

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
	id := p.Field("mqtt.msgid")
	switch p.Type {
	case PUBLISH:
		if id != nil {
			b = appendID(b, id.Uint)
		}
		if p.Field("mqtt.msg") != nil {
			b = append(b, " ["...)
			b = append(b, p.Topic...)
			b = append(b, ']')
		}
	case SUBSCRIBE:
		if id != nil {
			b = appendID(b, id.Uint)
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
		if id != nil {
			b = appendID(b, id.Uint)
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
func Label(p *Packet, f *Field) string {
	fi, ok := fieldInfos[f.Name]
	title := fi.title
	if !ok {
		title = f.Name
	}
	var sb strings.Builder
	if fi.mask != 0 && f.Depth > 0 && f.Off >= 0 && f.Off < len(p.Raw) {
		writeBits(&sb, fi.mask, p.Raw[f.Off])
		sb.WriteString(" = ")
	}
	sb.WriteString(title)
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
		writeUint(&sb, p, f, fi)
		if fi.hex && fi.vals == nil && fi.mask == 0 {
			writeSummary(&sb, p, f)
		}
	case KindString:
		sb.WriteString(": ")
		writeText(&sb, f.Bytes)
	case KindBytes:
		sb.WriteString(": ")
		writeHex(&sb, f.Bytes)
	}
	return sb.String()
}

// writeUint writes an integer value the way Wireshark labels it.
func writeUint(sb *strings.Builder, p *Packet, f *Field, fi fieldInfo) {
	num := func() {
		if fi.hex {
			digits := 2
			if fi.mask != 0 {
				digits = 1
			}
			s := strconv.FormatUint(f.Uint, 16)
			sb.WriteString("0x")
			for i := len(s); i < digits; i++ {
				sb.WriteByte('0')
			}
			sb.WriteString(s)
		} else {
			sb.WriteString(strconv.FormatUint(f.Uint, 10))
		}
	}
	if fi.vals == nil {
		num()
		return
	}
	name := fi.vals(reasonType(f.Name, p.Type), f.Uint)
	if name == "" {
		name = "Unknown"
	}
	sb.WriteString(name)
	sb.WriteString(" (")
	num()
	sb.WriteString(")")
}

// reasonType returns the packet type a reason code field belongs to.
func reasonType(name string, t Type) Type {
	switch name {
	case "mqtt.connack.reason_code":
		return CONNACK
	case "mqtt.puback.reason_code":
		return PUBACK
	case "mqtt.pubrec.reason_code":
		return PUBREC
	case "mqtt.pubrel.reason_code":
		return PUBREL
	case "mqtt.pubcomp.reason_code":
		return PUBCOMP
	case "mqtt.suback.reason_code":
		return SUBACK
	case "mqtt.unsuback.reason_code":
		return UNSUBACK
	case "mqtt.disconnect.reason_code":
		return DISCONNECT
	case "mqtt.auth.reason_code":
		return AUTH
	}
	return t
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
func writeSummary(sb *strings.Builder, p *Packet, f *Field) {
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
		ci := fieldInfos[name]
		v := (f.Uint & uint64(ci.mask)) >> bits.TrailingZeros8(ci.mask)
		switch {
		case ci.boolean:
			if v != 0 {
				sb.WriteString(", ")
				sb.WriteString(ci.title)
			}
		case ci.vals != nil:
			name := ci.vals(p.Type, v)
			if name == "" {
				name = "Unknown"
			}
			sb.WriteString(", ")
			sb.WriteString(ci.title)
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
func writeBits(sb *strings.Builder, mask, v uint8) {
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
func writeText(sb *strings.Builder, b []byte) {
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
func writeHex(sb *strings.Builder, b []byte) {
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
