package decode

// propType is the wire type of an MQTT 5 property value.
type propType uint8

const (
	propByte   propType = iota + 1 // one byte integer
	propTwo                        // two byte integer
	propFour                       // four byte integer
	propVBI                        // variable byte integer
	propString                     // UTF-8 encoded string
	propBinary                     // binary data
	propPair                       // UTF-8 string pair (user property)
)

// ctxWill is the property context bit of the CONNECT Will Properties; the
// other bits are 1<<Type of the packet that carries the properties.
const ctxWill = 1 << 16

func ctx(ts ...Type) uint32 {
	var m uint32
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

// propDef describes one MQTT 5 property identifier.
type propDef struct {
	name  string   // name as in the specification
	field string   // mqtap/Wireshark field name of the typed value
	typ   propType // wire type
	ctx   uint32   // packets (and ctxWill) in which it may appear
	multi bool     // may appear more than once
	// generic is Wireshark's generic field for the value ("" when Wireshark
	// has a dedicated field of its own, as for Content Type).
	generic string
}

var propDefs = [0x2b]propDef{
	0x01: {"Payload Format Indicator", "mqtt.property.payload_format_indicator", propByte, ctx(PUBLISH) | ctxWill, false, "mqtt.prop_number"},
	0x02: {"Message Expiry Interval", "mqtt.property.message_expiry_interval", propFour, ctx(PUBLISH) | ctxWill, false, "mqtt.prop_number"},
	0x03: {"Content Type", "mqtt.property.content_type", propString, ctx(PUBLISH) | ctxWill, false, ""},
	0x08: {"Response Topic", "mqtt.property.response_topic", propString, ctx(PUBLISH) | ctxWill, false, "mqtt.prop_string"},
	0x09: {"Correlation Data", "mqtt.property.correlation_data", propBinary, ctx(PUBLISH) | ctxWill, false, "mqtt.prop_string"},
	0x0b: {"Subscription Identifier", "mqtt.property.subscription_identifier", propVBI, ctx(PUBLISH, SUBSCRIBE), false, "mqtt.prop_number"},
	0x11: {"Session Expiry Interval", "mqtt.property.session_expiry_interval", propFour, ctx(CONNECT, CONNACK, DISCONNECT), false, "mqtt.prop_number"},
	0x12: {"Assigned Client Identifier", "mqtt.property.assigned_client_identifier", propString, ctx(CONNACK), false, "mqtt.prop_string"},
	0x13: {"Server Keep Alive", "mqtt.property.server_keep_alive", propTwo, ctx(CONNACK), false, "mqtt.prop_number"},
	0x15: {"Authentication Method", "mqtt.property.authentication_method", propString, ctx(CONNECT, CONNACK, AUTH), false, "mqtt.prop_string"},
	0x16: {"Authentication Data", "mqtt.property.authentication_data", propBinary, ctx(CONNECT, CONNACK, AUTH), false, "mqtt.prop_string"},
	0x17: {"Request Problem Information", "mqtt.property.request_problem_information", propByte, ctx(CONNECT), false, "mqtt.prop_number"},
	0x18: {"Will Delay Interval", "mqtt.property.will_delay_interval", propFour, ctxWill, false, "mqtt.prop_number"},
	0x19: {"Request Response Information", "mqtt.property.request_response_information", propByte, ctx(CONNECT), false, "mqtt.prop_number"},
	0x1a: {"Response Information", "mqtt.property.response_information", propString, ctx(CONNACK), false, "mqtt.prop_string"},
	0x1c: {"Server Reference", "mqtt.property.server_reference", propString, ctx(CONNACK, DISCONNECT), false, "mqtt.prop_string"},
	0x1f: {"Reason String", "mqtt.property.reason_string", propString, ctx(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH), false, "mqtt.prop_string"},
	0x21: {"Receive Maximum", "mqtt.property.receive_maximum", propTwo, ctx(CONNECT, CONNACK), false, "mqtt.prop_number"},
	0x22: {"Topic Alias Maximum", "mqtt.property.topic_alias_maximum", propTwo, ctx(CONNECT, CONNACK), false, "mqtt.prop_number"},
	0x23: {"Topic Alias", "mqtt.property.topic_alias", propTwo, ctx(PUBLISH), false, ""},
	0x24: {"Maximum QoS", "mqtt.property.max_qos", propByte, ctx(CONNACK), false, ""},
	0x25: {"Retain Available", "mqtt.property.retain_available", propByte, ctx(CONNACK), false, "mqtt.prop_number"},
	0x26: {"User Property", "mqtt.property.user_property", propPair, ctx(CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH) | ctxWill, true, ""},
	0x27: {"Maximum Packet Size", "mqtt.property.maximum_packet_size", propFour, ctx(CONNECT, CONNACK), false, "mqtt.prop_number"},
	0x28: {"Wildcard Subscription Available", "mqtt.property.wildcard_subscription_available", propByte, ctx(CONNACK), false, "mqtt.prop_number"},
	0x29: {"Subscription Identifier Available", "mqtt.property.subscription_identifier_available", propByte, ctx(CONNACK), false, "mqtt.prop_number"},
	0x2a: {"Shared Subscription Available", "mqtt.property.shared_subscription_available", propByte, ctx(CONNACK), false, "mqtt.prop_number"},
}

// Property identifiers of MQTT 5.0 (section 2.2.2.2).
const (
	PropPayloadFormatIndicator          uint8 = 0x01
	PropMessageExpiryInterval           uint8 = 0x02
	PropContentType                     uint8 = 0x03
	PropResponseTopic                   uint8 = 0x08
	PropCorrelationData                 uint8 = 0x09
	PropSubscriptionIdentifier          uint8 = 0x0b
	PropSessionExpiryInterval           uint8 = 0x11
	PropAssignedClientIdentifier        uint8 = 0x12
	PropServerKeepAlive                 uint8 = 0x13
	PropAuthenticationMethod            uint8 = 0x15
	PropAuthenticationData              uint8 = 0x16
	PropRequestProblemInformation       uint8 = 0x17
	PropWillDelayInterval               uint8 = 0x18
	PropRequestResponseInformation      uint8 = 0x19
	PropResponseInformation             uint8 = 0x1a
	PropServerReference                 uint8 = 0x1c
	PropReasonString                    uint8 = 0x1f
	PropReceiveMaximum                  uint8 = 0x21
	PropTopicAliasMaximum               uint8 = 0x22
	PropTopicAlias                      uint8 = 0x23
	PropMaximumQoS                      uint8 = 0x24
	PropRetainAvailable                 uint8 = 0x25
	PropUserProperty                    uint8 = 0x26
	PropMaximumPacketSize               uint8 = 0x27
	PropWildcardSubscriptionAvailable   uint8 = 0x28
	PropSubscriptionIdentifierAvailable uint8 = 0x29
	PropSharedSubscriptionAvailable     uint8 = 0x2a
)

func propDefOf(id uint8) *propDef {
	if int(id) < len(propDefs) && propDefs[id].name != "" {
		return &propDefs[id]
	}
	return nil
}

// PropertyName returns the specification's name of an MQTT 5 property
// identifier ("Payload Format Indicator", "Topic Alias", ...), or "" for an
// identifier the specification does not define.
func PropertyName(id uint8) string {
	if d := propDefOf(id); d != nil {
		return d.name
	}
	return ""
}

// PropertyField returns the name of the typed field that carries the value of
// property id ("mqtt.property.message_expiry_interval", ...), or "" for an
// unknown identifier. User properties are "mqtt.property.user_property", a
// heading whose children are mqtt.prop_key_len, mqtt.prop_key,
// mqtt.prop_value_len and mqtt.prop_value.
func PropertyField(id uint8) string {
	if d := propDefOf(id); d != nil {
		return d.field
	}
	return ""
}

// WiresharkAlias returns Wireshark's generic field name for a typed property
// field whose value Wireshark shows under a generic name instead
// ("mqtt.prop_number" for integers, "mqtt.prop_string" for strings and binary
// data), or "" when the field's own name is Wireshark's or Wireshark has none.
// Filters and JSON output can answer to both names.
func WiresharkAlias(name string) string {
	for i := range propDefs {
		if propDefs[i].field == name && propDefs[i].name != "" {
			return propDefs[i].generic
		}
	}
	return ""
}
