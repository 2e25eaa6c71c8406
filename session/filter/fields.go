package filter

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// ftype is the type of a field as the filter language sees it (Wireshark's
// FT_* types, reduced to what records carry).
type ftype uint8

const (
	ftNone   ftype = iota // a subtree heading (FT_NONE): existence tests only
	ftProto               // a protocol name: existence tests (mqtt also has bytes)
	ftUint                // unsigned integer
	ftBool                // boolean: 0 or 1
	ftString              // character string
	ftBytes               // byte sequence
	ftIPv4                // IPv4 address
	ftIPv6                // IPv6 address
	ftTime                // seconds with nanoseconds (FT_RELATIVE_TIME in tshark 4.0)
	ftAny                 // a record field this package has no type for: typed by its values
)

// typeName names a field type in error messages, as tshark does.
func (t ftype) typeName() string {
	switch t {
	case ftNone:
		return "Label"
	case ftProto:
		return "Protocol"
	case ftUint:
		return "Unsigned integer"
	case ftBool:
		return "Boolean"
	case ftString:
		return "Character string"
	case ftBytes:
		return "Byte sequence"
	case ftIPv4:
		return "IPv4 address"
	case ftIPv6:
		return "IPv6 address"
	case ftTime:
		return "Time offset"
	}
	return "Record field"
}

// source says where the values of a field come from.
type source uint8

const (
	srcPacket       source = iota // r.Packet.Fields named one of def.names
	srcRecord                     // r.Head() and r.Tail() fields named one of def.names
	srcFrameNumber                // r.Frame
	srcFrameLen                   // r.FrameLen
	srcTimeEpoch                  // r.Time
	srcTimeRelative               // r.Relative
	srcIPSrc                      // r.Src when IPv4
	srcIPDst                      // r.Dst when IPv4
	srcIPAddr                     // r.Src, r.Dst when IPv4
	srcIPv6Src                    // r.Src when IPv6
	srcIPv6Dst                    // r.Dst when IPv6
	srcIPv6Addr                   // r.Src, r.Dst when IPv6
	srcSrcPort                    // r.SrcPort
	srcDstPort                    // r.DstPort
	srcPort                       // r.SrcPort, r.DstPort
	srcStream                     // r.Stream
	srcType                       // mqtap.type
	srcMalformed                  // mqtap.malformed
	srcFindings                   // mqtap.findings
	srcMessage                    // mqtap.message
	srcCrypto                     // a string of r.Crypto (def.str)
	srcPlaintext                  // mqtap.plaintext
	srcPlaintextHex               // mqtap.plaintext_hex
	srcTokenTime                  // mqtap.token_time
	srcProtoMQTT                  // the mqtt protocol: r.Packet.Raw
	srcProtoAlways                // frame, tcp, mqtap: present on every record
	srcProtoIP                    // ip: present when the record is IPv4
	srcProtoIPv6                  // ipv6: present when the record is IPv6
	srcProtoChain                 // another protocol: present when frame.protocols names it
)

// fieldDef describes one field name a filter can use.
type fieldDef struct {
	name  string
	typ   ftype
	bits  uint8    // width of an unsigned integer field (8, 16, 32, 64)
	src   source   // where its values come from
	names []string // field names scanned for srcPacket and srcRecord
	vals  func(v uint64) string
	// valsMax is the largest value vals is asked about.
	valsMax uint64
	str     func(r *session.Record) string // srcCrypto
}

// fieldDefs holds every field and protocol name a filter can use.
var fieldDefs = map[string]*fieldDef{}

func addField(d *fieldDef) {
	if d.src == srcPacket && d.names == nil {
		d.names = []string{d.name}
	}
	fieldDefs[d.name] = d
}

func packetField(name string, typ ftype, bits uint8) *fieldDef {
	d := &fieldDef{name: name, typ: typ, bits: bits, src: srcPacket}
	addField(d)
	return d
}

// Value names, as Wireshark's value strings.
var (
	qosVals       = func(v uint64) string { return decode.QoSName(uint8(v)) }
	subackQoSVals = func(v uint64) string {
		if v == 0x80 {
			return "Failure"
		}
		if v < 3 {
			return decode.QoSName(uint8(v))
		}
		return ""
	}
	retainHandlingVals = func(v uint64) string {
		switch v {
		case 0:
			return "Send msgs at subscription time"
		case 1:
			return "Send msgs if subscription does not exist"
		case 2:
			return "Do not send msgs at subscription time"
		}
		return ""
	}
	versionVals = func(v uint64) string {
		switch v {
		case uint64(decode.V31):
			return "MQTT v3.1"
		case uint64(decode.V311):
			return "MQTT v3.1.1"
		case uint64(decode.V5):
			return "MQTT v5.0"
		}
		return ""
	}
)

func reasonVals(t decode.Type) func(uint64) string {
	return func(v uint64) string { return decode.ReasonName(t, uint8(v)) }
}

func init() {
	u8 := func(name string) *fieldDef { return packetField(name, ftUint, 8) }
	u16 := func(name string) *fieldDef { return packetField(name, ftUint, 16) }
	u32 := func(name string) *fieldDef { return packetField(name, ftUint, 32) }
	u64 := func(name string) *fieldDef { return packetField(name, ftUint, 64) }
	boolean := func(name string) { packetField(name, ftBool, 1) }
	str := func(name string) { packetField(name, ftString, 0) }
	byts := func(name string) { packetField(name, ftBytes, 0) }
	label := func(name string) { packetField(name, ftNone, 0) }
	withVals := func(d *fieldDef, max uint64, f func(uint64) string) {
		d.vals, d.valsMax = f, max
	}

	// The MQTT dissector's fields, typed as tshark 4.0 types them.
	u8("mqtt.hdrflags")
	withVals(u8("mqtt.msgtype"), 15, func(v uint64) string { return decode.Type(v).WiresharkName() })
	u8("mqtt.hdr_reserved")
	u8("mqtt.retain_reserved")
	boolean("mqtt.dupflag")
	withVals(u8("mqtt.qos"), 3, qosVals)
	boolean("mqtt.retain")
	u64("mqtt.len")
	u16("mqtt.proto_len")
	str("mqtt.protoname")
	withVals(u8("mqtt.ver"), 255, versionVals)
	u8("mqtt.conflags")
	boolean("mqtt.conflag.uname")
	boolean("mqtt.conflag.passwd")
	boolean("mqtt.conflag.retain")
	withVals(u8("mqtt.conflag.qos"), 3, qosVals)
	boolean("mqtt.conflag.willflag")
	boolean("mqtt.conflag.cleansess")
	boolean("mqtt.conflag.reserved")
	u16("mqtt.kalive")
	u16("mqtt.clientid_len")
	str("mqtt.clientid")
	u16("mqtt.willtopic_len")
	str("mqtt.willtopic")
	u16("mqtt.willmsg_len")
	byts("mqtt.willmsg")
	u16("mqtt.username_len")
	str("mqtt.username")
	u16("mqtt.passwd_len")
	str("mqtt.passwd")
	u8("mqtt.conack.flags")
	boolean("mqtt.conack.flags.reserved")
	boolean("mqtt.conack.flags.sp")
	withVals(u8("mqtt.conack.val"), 255, func(v uint64) string { return decode.ReturnCodeName(uint8(v)) })
	u16("mqtt.msgid")
	u16("mqtt.topic_len")
	str("mqtt.topic")
	withVals(u8("mqtt.sub.qos"), 3, qosVals)
	withVals(u8("mqtt.suback.qos"), 255, subackQoSVals)
	u8("mqtt.subscription_options")
	u8("mqtt.subscription_options_reserved")
	withVals(u8("mqtt.subscription_options_retain"), 3, retainHandlingVals)
	boolean("mqtt.subscription_options_rap")
	boolean("mqtt.subscription_options_nl")
	withVals(u8("mqtt.subscription_options_qos"), 3, qosVals)
	for _, t := range []decode.Type{decode.CONNACK, decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP,
		decode.SUBACK, decode.UNSUBACK, decode.DISCONNECT, decode.AUTH} {
		withVals(u8("mqtt."+strings.ToLower(t.String())+".reason_code"), 255, reasonVals(t))
	}
	label("mqtt.properties")
	label("mqtt.will_properties")
	u64("mqtt.property_len")
	withVals(u8("mqtt.property_id"), 255, func(v uint64) string { return decode.PropertyName(uint8(v)) })
	u32("mqtt.prop_key_len")
	str("mqtt.prop_key")
	u32("mqtt.prop_value_len")
	str("mqtt.prop_value")
	str("mqtt.prop_unknown")
	byts("mqtt.msg")

	// MQTT 5 properties: mqtap's typed fields, and Wireshark's generic names
	// (mqtt.prop_number, mqtt.prop_string) answering for all of them.
	generic := map[string]*fieldDef{
		"mqtt.prop_number": {name: "mqtt.prop_number", typ: ftUint, bits: 32, src: srcPacket, names: []string{}},
		"mqtt.prop_string": {name: "mqtt.prop_string", typ: ftString, src: srcPacket, names: []string{}},
	}
	for id := 0; id < 256; id++ {
		name := decode.PropertyField(uint8(id))
		if name == "" {
			continue
		}
		var d *fieldDef
		switch uint8(id) {
		case decode.PropUserProperty:
			d = packetField(name, ftNone, 0)
		case decode.PropContentType, decode.PropResponseTopic, decode.PropAssignedClientIdentifier,
			decode.PropAuthenticationMethod, decode.PropResponseInformation, decode.PropServerReference,
			decode.PropReasonString:
			d = packetField(name, ftString, 0)
		case decode.PropCorrelationData, decode.PropAuthenticationData:
			d = packetField(name, ftBytes, 0)
		case decode.PropPayloadFormatIndicator, decode.PropRequestProblemInformation,
			decode.PropRequestResponseInformation, decode.PropRetainAvailable,
			decode.PropWildcardSubscriptionAvailable, decode.PropSubscriptionIdentifierAvailable,
			decode.PropSharedSubscriptionAvailable:
			d = u8(name)
		case decode.PropMaximumQoS:
			d = u8(name)
			withVals(d, 3, qosVals)
		case decode.PropReceiveMaximum, decode.PropTopicAliasMaximum, decode.PropTopicAlias,
			decode.PropServerKeepAlive:
			d = u16(name)
		default:
			d = u32(name)
		}
		if g := generic[decode.WiresharkAlias(name)]; g != nil {
			g.names = append(g.names, d.name)
		}
	}
	for _, g := range generic {
		addField(g)
	}

	// The record's own fields.
	rec := func(name string, typ ftype, bits uint8, src source) *fieldDef {
		d := &fieldDef{name: name, typ: typ, bits: bits, src: src}
		addField(d)
		return d
	}
	rec("frame.number", ftUint, 32, srcFrameNumber)
	rec("frame.len", ftUint, 32, srcFrameLen)
	rec("frame.time_epoch", ftTime, 0, srcTimeEpoch)
	rec("frame.time_relative", ftTime, 0, srcTimeRelative)
	rec("ip.src", ftIPv4, 0, srcIPSrc)
	rec("ip.dst", ftIPv4, 0, srcIPDst)
	rec("ip.addr", ftIPv4, 0, srcIPAddr)
	rec("ipv6.src", ftIPv6, 0, srcIPv6Src)
	rec("ipv6.dst", ftIPv6, 0, srcIPv6Dst)
	rec("ipv6.addr", ftIPv6, 0, srcIPv6Addr)
	rec("tcp.srcport", ftUint, 16, srcSrcPort)
	rec("tcp.dstport", ftUint, 16, srcDstPort)
	rec("tcp.port", ftUint, 16, srcPort)
	rec("tcp.stream", ftUint, 32, srcStream)
	rec("mqtap.type", ftString, 0, srcType)
	rec("mqtap.malformed", ftString, 0, srcMalformed)
	rec("mqtap.findings", ftString, 0, srcFindings)
	rec("mqtap.message", ftUint, 64, srcMessage)
	rec("mqtap.plaintext", ftString, 0, srcPlaintext)
	rec("mqtap.plaintext_hex", ftBytes, 0, srcPlaintextHex)
	rec("mqtap.token_time", ftTime, 0, srcTokenTime)
	for name, f := range map[string]func(c *session.Crypto) string{
		"mqtap.session":       func(c *session.Crypto) string { return c.Session },
		"mqtap.kex":           func(c *session.Crypto) string { return c.Kex },
		"mqtap.verify":        func(c *session.Crypto) string { return c.Verify },
		"mqtap.decrypt":       func(c *session.Crypto) string { return c.Decrypt },
		"mqtap.decrypt_error": func(c *session.Crypto) string { return c.Reason },
		"mqtap.key":           func(c *session.Crypto) string { return c.Key },
		"mqtap.kdf":           func(c *session.Crypto) string { return c.KDF },
	} {
		rec(name, ftString, 0, srcCrypto).str = func(r *session.Record) string { return f(&r.Crypto) }
	}
	rec("mqtap.scheme", ftString, 0, srcCrypto).str = (*session.Record).Scheme

	// Protocols.
	rec("mqtt", ftProto, 0, srcProtoMQTT)
	rec("frame", ftProto, 0, srcProtoAlways)
	rec("tcp", ftProto, 0, srcProtoAlways)
	rec("mqtap", ftProto, 0, srcProtoAlways)
	rec("ip", ftProto, 0, srcProtoIP)
	rec("ipv6", ftProto, 0, srcProtoIPv6)
	for _, name := range session.ProtocolNames() {
		if fieldDefs[name] == nil {
			rec(name, ftProto, 0, srcProtoChain)
		}
	}
}

// lookupField returns the definition of a field or protocol name, or nil
// when the name is unknown. A name the session package knows but this table
// does not (a record field added later) is read from the record's Head and
// Tail and typed by its values.
func lookupField(name string) *fieldDef {
	if d := fieldDefs[name]; d != nil {
		return d
	}
	if session.KnownField(name) {
		return &fieldDef{name: name, typ: ftAny, src: srcRecord, names: []string{name}}
	}
	return nil
}

// vkind is the kind of one field value.
type vkind uint8

const (
	vNone  vkind = iota // presence only (labels, protocols without bytes)
	vUint               // val.u
	vBytes              // val.b (strings and byte sequences)
	vAddr               // val.a
	vTime               // val.t, nanoseconds
)

// val is one occurrence of a field.
type val struct {
	k vkind
	u uint64
	t int64
	b []byte
	a netip.Addr
}

// cursor walks the occurrences of a field over the records being matched.
type cursor struct {
	ri  int // index of the record
	pos int // position within that record's source
}

// isIPv6 tells whether a record's addresses are IPv6 (IPv4-mapped ones count
// as IPv4), as Record.Head decides.
func isIPv6(r *session.Record) bool {
	return r.Src.Is6() && !r.Src.Is4In6()
}

// isIPv4 tells whether a record's addresses are IPv4.
func isIPv4(r *session.Record) bool {
	return r.Src.IsValid() && !isIPv6(r)
}

// plaintext returns the record's plaintext when Tail shows one, and whether
// it is valid UTF-8 (mqtap.plaintext) or not (mqtap.plaintext_hex).
func plaintext(r *session.Record) (b []byte, text, ok bool) {
	c := &r.Crypto
	if c.Decrypt == "ok" || c.Decrypt == "" && c.Verify == "ok" && len(c.Plaintext) > 0 {
		return c.Plaintext, utf8.Valid(c.Plaintext), true
	}
	return nil, false, false
}

// fieldValue converts a record or packet field to a value.
func fieldValue(f *decode.Field, v *val) bool {
	switch f.Kind {
	case decode.KindNone:
		*v = val{k: vNone}
	case decode.KindUint, decode.KindBool:
		*v = val{k: vUint, u: f.Uint}
	case decode.KindString, decode.KindBytes:
		*v = val{k: vBytes, b: f.Bytes}
	case session.KindNumber:
		t, ok := parseSeconds(f.Bytes)
		if !ok {
			return false
		}
		*v = val{k: vTime, t: t}
	default:
		return false
	}
	return true
}

// next stores in v the next occurrence of field d over rs from c and
// advances c; false when there are no more.
func (d *fieldDef) next(rs []*session.Record, c *cursor, v *val) bool {
	for ; c.ri < len(rs); c.ri, c.pos = c.ri+1, 0 {
		if d.nextIn(rs[c.ri], c, v) {
			return true
		}
	}
	return false
}

// nextIn is next within one record.
func (d *fieldDef) nextIn(r *session.Record, c *cursor, v *val) bool {
	switch d.src {
	case srcPacket:
		fs := r.Packet.Fields
		for i := c.pos; i < len(fs); i++ {
			if hasName(d.names, fs[i].Name) && fieldValue(&fs[i], v) {
				c.pos = i + 1
				return true
			}
		}
		c.pos = len(fs)
		return false
	case srcRecord:
		h := r.Head()
		for c.pos < len(h) {
			i := c.pos
			c.pos++
			if hasName(d.names, h[i].Name) && fieldValue(&h[i], v) {
				return true
			}
		}
		t := r.Tail()
		for c.pos < len(h)+len(t) {
			i := c.pos - len(h)
			c.pos++
			if hasName(d.names, t[i].Name) && fieldValue(&t[i], v) {
				return true
			}
		}
		return false
	case srcFrameNumber:
		*v = val{k: vUint, u: uint64(r.Frame)}
		return first(c)
	case srcFrameLen:
		*v = val{k: vUint, u: uint64(r.FrameLen)}
		return first(c)
	case srcTimeEpoch:
		*v = val{k: vTime, t: r.Time.UnixNano()}
		return first(c)
	case srcTimeRelative:
		*v = val{k: vTime, t: int64(r.Relative)}
		return first(c)
	case srcIPSrc, srcIPDst, srcIPAddr:
		if !isIPv4(r) {
			return false
		}
		return addrs(r, d.src == srcIPSrc || d.src == srcIPAddr, d.src == srcIPDst || d.src == srcIPAddr, c, v)
	case srcIPv6Src, srcIPv6Dst, srcIPv6Addr:
		if !isIPv6(r) {
			return false
		}
		return addrs(r, d.src == srcIPv6Src || d.src == srcIPv6Addr, d.src == srcIPv6Dst || d.src == srcIPv6Addr, c, v)
	case srcSrcPort:
		*v = val{k: vUint, u: uint64(r.SrcPort)}
		return first(c)
	case srcDstPort:
		*v = val{k: vUint, u: uint64(r.DstPort)}
		return first(c)
	case srcPort:
		switch c.pos {
		case 0:
			*v = val{k: vUint, u: uint64(r.SrcPort)}
		case 1:
			*v = val{k: vUint, u: uint64(r.DstPort)}
		default:
			return false
		}
		c.pos++
		return true
	case srcStream:
		*v = val{k: vUint, u: uint64(r.Stream)}
		return first(c)
	case srcType:
		*v = val{k: vBytes, b: stringBytes(r.Packet.Type.String())}
		return first(c)
	case srcMalformed:
		m := r.Packet.Malformed()
		*v = val{k: vBytes, b: stringBytes(m)}
		return m != "" && first(c)
	case srcFindings:
		if c.pos >= len(r.Findings) {
			return false
		}
		*v = val{k: vBytes, b: stringBytes(r.Findings[c.pos].Code.String())}
		c.pos++
		return true
	case srcMessage:
		*v = val{k: vUint, u: uint64(r.Crypto.Message)}
		return r.Crypto.Message > 0 && first(c)
	case srcCrypto:
		s := d.str(r)
		*v = val{k: vBytes, b: stringBytes(s)}
		return s != "" && first(c)
	case srcPlaintext, srcPlaintextHex:
		b, text, ok := plaintext(r)
		*v = val{k: vBytes, b: b}
		return ok && text == (d.src == srcPlaintext) && first(c)
	case srcTokenTime:
		if r.Crypto.TokenTime.IsZero() {
			return false
		}
		*v = val{k: vTime, t: r.Crypto.TokenTime.Unix() * 1e9}
		return first(c)
	case srcProtoMQTT:
		*v = val{k: vBytes, b: r.Packet.Raw}
		return first(c)
	case srcProtoAlways:
		*v = val{k: vNone}
		return first(c)
	case srcProtoIP:
		*v = val{k: vNone}
		return isIPv4(r) && first(c)
	case srcProtoIPv6:
		*v = val{k: vNone}
		return isIPv6(r) && first(c)
	case srcProtoChain:
		*v = val{k: vNone}
		return r.HasProtocol(d.name) && first(c)
	}
	return false
}

// first reports whether c is at the first occurrence of a field that occurs
// at most once per record, and moves past it.
func first(c *cursor) bool {
	if c.pos > 0 {
		return false
	}
	c.pos = 1
	return true
}

// addrs yields the record's source and/or destination address.
func addrs(r *session.Record, src, dst bool, c *cursor, v *val) bool {
	for c.pos < 2 {
		i := c.pos
		c.pos++
		switch {
		case i == 0 && src:
			*v = val{k: vAddr, a: r.Src.Unmap()}
			return true
		case i == 1 && dst:
			*v = val{k: vAddr, a: r.Dst.Unmap()}
			return true
		}
	}
	return false
}

// hasName reports whether name is one of names.
func hasName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
