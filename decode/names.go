package decode

import "strconv"

// typeNames holds the names of the packet types: the specification's and
// Wireshark's (Info column and Message Type field).
var typeNames = [16]struct{ spec, wireshark string }{
	{"Reserved", "Reserved"},
	{"CONNECT", "Connect Command"},
	{"CONNACK", "Connect Ack"},
	{"PUBLISH", "Publish Message"},
	{"PUBACK", "Publish Ack"},
	{"PUBREC", "Publish Received"},
	{"PUBREL", "Publish Release"},
	{"PUBCOMP", "Publish Complete"},
	{"SUBSCRIBE", "Subscribe Request"},
	{"SUBACK", "Subscribe Ack"},
	{"UNSUBSCRIBE", "Unsubscribe Request"},
	{"UNSUBACK", "Unsubscribe Ack"},
	{"PINGREQ", "Ping Request"},
	{"PINGRESP", "Ping Response"},
	{"DISCONNECT", "Disconnect Req"},
	{"AUTH", "Authentication Exchange"},
}

// String returns the specification's name of the packet type ("CONNECT",
// "PUBLISH", ...; "Reserved" for 0).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t].spec
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// WiresharkName returns Wireshark's name of the packet type ("Connect
// Command", "Publish Message", "Disconnect Req", ...).
func (t Type) WiresharkName() string {
	if int(t) < len(typeNames) {
		return typeNames[t].wireshark
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

var versionNames = map[uint64]string{uint64(V31): "MQTT v3.1", uint64(V311): "MQTT v3.1.1", uint64(V5): "MQTT v5.0"}

// ReturnCodeName returns the name of an MQTT 3.1/3.1.1 CONNACK return code
// ("Connection Accepted", ...), or "" for a reserved code.
func ReturnCodeName(code uint8) string {
	return returnCodeVals(uint64(code))
}

// QoSName returns Wireshark's name of a QoS level.
func QoSName(qos uint8) string {
	return qosVals(uint64(qos))
}

// The value names of the fields (FieldDef.Vals).

func typeVals(v uint64) string {
	if v < uint64(len(typeNames)) {
		return typeNames[v].wireshark
	}
	return ""
}

func qosVals(v uint64) string {
	if v < uint64(len(qosNames)) {
		return qosNames[v]
	}
	return ""
}

func subackQoSVals(v uint64) string {
	if v == 0x80 {
		return "Failure"
	}
	return qosVals(v)
}

func retainHandlingVals(v uint64) string {
	if v < uint64(len(retainHandlingNames)) {
		return retainHandlingNames[v]
	}
	return ""
}

func returnCodeVals(v uint64) string {
	if v < uint64(len(returnCodeNames)) {
		return returnCodeNames[v]
	}
	return ""
}

func versionVals(v uint64) string { return versionNames[v] }

func propertyVals(v uint64) string {
	if v > 0xff {
		return ""
	}
	return PropertyName(uint8(v))
}

// reason is one row of the MQTT 5 reason code table (specification, section
// 2.4, with the packets of sections 3.2.2.2 to 3.15.2.1).
type reason struct {
	code uint8
	name string // Wireshark's wording
	// spec is the specification's wording where Wireshark's differs.
	spec    string
	packets uint32 // 1<<Type of the packets that may carry it
}

// reasons are the MQTT 5 reason codes. A code has several rows when its
// name depends on the packet (0x00: "Success", "Normal disconnection",
// "Granted QoS 0").
var reasons = []reason{
	{0x00, "Success", "", ctx(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH)},
	{0x00, "Normal disconnection", "", ctx(DISCONNECT)},
	{0x00, "Granted QoS 0", "", ctx(SUBACK)},
	{0x01, "Granted QoS 1", "", ctx(SUBACK)},
	{0x02, "Granted QoS 2", "", ctx(SUBACK)},
	{0x04, "Disconnect with Will Message", "", ctx(DISCONNECT)},
	{0x10, "No matching subscribers", "", ctx(PUBACK, PUBREC)},
	{0x11, "No subscription existed", "", ctx(UNSUBACK)},
	{0x18, "Continue authentication", "", ctx(AUTH)},
	{0x19, "Re-authenticate", "", ctx(AUTH)},
	{0x80, "Unspecified error", "", ctx(CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT)},
	{0x81, "Malformed Packet", "", ctx(CONNACK, DISCONNECT)},
	{0x82, "Protocol Error", "", ctx(CONNACK, DISCONNECT)},
	{0x83, "Implementation specific error", "", ctx(CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT)},
	{0x84, "Unsupported Protocol Version", "", ctx(CONNACK)},
	{0x85, "Client Identifier not valid", "", ctx(CONNACK)},
	{0x86, "Bad User Name or Password", "", ctx(CONNACK)},
	{0x87, "Not authorized", "", ctx(CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT)},
	{0x88, "Server unavailable", "", ctx(CONNACK)},
	{0x89, "Server busy", "", ctx(CONNACK, DISCONNECT)},
	{0x8a, "Banned", "", ctx(CONNACK)},
	{0x8b, "Server shutting down", "", ctx(DISCONNECT)},
	{0x8c, "Bad authentication method", "", ctx(CONNACK, DISCONNECT)},
	{0x8d, "Keep Alive timeout", "", ctx(DISCONNECT)},
	{0x8e, "Session taken over", "", ctx(DISCONNECT)},
	{0x8f, "Topic Filter invalid", "", ctx(SUBACK, UNSUBACK, DISCONNECT)},
	{0x90, "Topic Name invalid", "", ctx(CONNACK, PUBACK, PUBREC, DISCONNECT)},
	{0x91, "Packet Identifier in use", "", ctx(PUBACK, PUBREC, SUBACK, UNSUBACK)},
	{0x92, "Packet Identifier not found", "", ctx(PUBREL, PUBCOMP)},
	{0x93, "Receive Maximum exceeded", "", ctx(DISCONNECT)},
	{0x94, "Topic Alias invalid", "", ctx(DISCONNECT)},
	{0x95, "Packet too large", "", ctx(CONNACK, DISCONNECT)},
	{0x96, "Message rate too high", "", ctx(DISCONNECT)},
	{0x97, "Quota exceeded", "", ctx(CONNACK, PUBACK, PUBREC, SUBACK, DISCONNECT)},
	{0x98, "Administrative action", "", ctx(DISCONNECT)},
	{0x99, "Payload format invalid", "", ctx(PUBACK, PUBREC, DISCONNECT)},
	{0x9a, "Retain not supported", "", ctx(CONNACK, DISCONNECT)},
	{0x9b, "QoS not supported", "", ctx(CONNACK, DISCONNECT)},
	{0x9c, "Use another server", "", ctx(CONNACK, DISCONNECT)},
	{0x9d, "Server moved", "", ctx(CONNACK, DISCONNECT)},
	{0x9e, "Shared Subscription not supported", "Shared Subscriptions not supported", ctx(SUBACK, DISCONNECT)},
	{0x9f, "Connection rate exceeded", "", ctx(CONNACK, DISCONNECT)},
	{0xa0, "Maximum connect time", "", ctx(DISCONNECT)},
	{0xa1, "Subscription Identifiers not supported", "", ctx(SUBACK, DISCONNECT)},
	{0xa2, "Wildcard Subscription not supported", "Wildcard Subscriptions not supported", ctx(SUBACK, DISCONNECT)},
}

// ReasonName returns the name of MQTT 5 reason code code in a packet of type
// t ("Success", "No matching subscribers", "Granted QoS 0", "Normal
// disconnection", ...), or "" when the code is not one that type may carry.
// For MQTT 3 CONNACK return codes use ReturnCodeName.
func ReasonName(t Type, code uint8) string {
	bit := uint32(1) << t
	for i := range reasons {
		if r := &reasons[i]; r.code == code && r.packets&bit != 0 {
			return r.name
		}
	}
	return ""
}

// ReasonSpecName returns the specification's name of MQTT 5 reason code
// code, whatever packet carries it ("Unspecified error", "Shared
// Subscriptions not supported", ...; "Success" for 0), or "" for a code the
// specification does not define.
func ReasonSpecName(code uint8) string {
	for i := range reasons {
		if r := &reasons[i]; r.code == code {
			if r.spec != "" {
				return r.spec
			}
			return r.name
		}
	}
	return ""
}
