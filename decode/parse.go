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

func (d *decoder) connect() {
	if d.fromClient && d.c.connectSeen {
		d.viol("MQTT-3.1.0-2", "second CONNECT on the connection", 0, len(d.b))
	}
	name, nameOff, ok := d.lstr("mqtt.proto_len", "mqtt.protoname", 0, KindString, "protocol name", true, false)
	if !ok || !d.need(1, "protocol level") {
		return
	}
	levelOff := d.off
	level := d.u8()
	d.add("mqtt.ver", KindUint, 0, uint64(level), nil, levelOff, 1)
	known := versionOf(name, level)
	if known == 0 {
		rule := "MQTT-3.1.2-1"
		if string(name) == "MQTT" || string(name) == "MQIsdp" {
			rule = "MQTT-3.1.2-2"
		}
		d.badf(rule, nameOff-2, levelOff+1-(nameOff-2), "protocol name %q with protocol level %d is not MQTT 3.1 (MQIsdp/3), 3.1.1 (MQTT/4) or 5.0 (MQTT/5)", name, level)
	}
	if !d.dry {
		if d.fromClient {
			d.c.connectSeen = true
		}
		if known != 0 {
			d.c.version, d.c.inferred = known, false
		}
	}
	if !d.need(1, "connect flags") {
		return
	}
	flOff := d.off
	fl := d.u8()
	f := uint64(fl)
	d.add("mqtt.conflags", KindUint, 0, f, nil, flOff, 1)
	d.add("mqtt.conflag.uname", KindBool, 1, f>>7&1, nil, flOff, 1)
	d.add("mqtt.conflag.passwd", KindBool, 1, f>>6&1, nil, flOff, 1)
	d.add("mqtt.conflag.retain", KindBool, 1, f>>5&1, nil, flOff, 1)
	d.add("mqtt.conflag.qos", KindUint, 1, f>>3&3, nil, flOff, 1)
	d.add("mqtt.conflag.willflag", KindBool, 1, f>>2&1, nil, flOff, 1)
	d.add("mqtt.conflag.cleansess", KindBool, 1, f>>1&1, nil, flOff, 1)
	d.add("mqtt.conflag.reserved", KindBool, 1, f&1, nil, flOff, 1)
	will, willQoS, willRetain := fl&4 != 0, fl>>3&3, fl&0x20 != 0
	user, pass := fl&0x80 != 0, fl&0x40 != 0
	if fl&1 != 0 {
		d.viol("MQTT-3.1.2-3", "reserved flag in the CONNECT flags is set", flOff, 1)
	}
	if !will && willQoS != 0 {
		d.violf(d.r("MQTT-3.1.2-13", "MQTT-3.1.2-11"), flOff, 1, "Will QoS is %d although the Will Flag is 0", willQoS)
	}
	if will && willQoS == 3 {
		d.viol(d.r("MQTT-3.1.2-14", "MQTT-3.1.2-12"), "Will QoS is 3", flOff, 1)
	}
	if !will && willRetain {
		d.viol(d.r("MQTT-3.1.2-15", "MQTT-3.1.2-13"), "Will Retain is set although the Will Flag is 0", flOff, 1)
	}
	if pass && !user && d.ver != V5 {
		d.viol("MQTT-3.1.2-22", "Password Flag is set but the User Name Flag is not", flOff, 1)
	}
	if !d.need(2, "keep alive") {
		return
	}
	d.add("mqtt.kalive", KindUint, 0, uint64(d.u16()), nil, d.off-2, 2)
	if d.ver == V5 {
		if !d.properties("mqtt.properties", 0, 1<<CONNECT) {
			return
		}
		if d.authData && !d.authMethod {
			d.viol("", "Authentication Data without Authentication Method (Protocol Error, MQTT 5.0 section 3.1.2.11.10)", 0, len(d.b))
		}
		if !d.dry && d.fromClient {
			d.c.clientTAM, d.c.clientTAMKnown = d.tam, true
		}
	}
	cid, cidOff, ok := d.lstr("mqtt.clientid_len", "mqtt.clientid", 0, KindString, "client identifier", true, false)
	if !ok {
		return
	}
	switch {
	case d.ver == V31 && (len(cid) == 0 || len(cid) > 23):
		d.violf("", cidOff, len(cid), "MQTT 3.1 client identifier must be 1 to 23 bytes long, not %d", len(cid))
	case d.ver == V311 && len(cid) == 0 && fl&2 == 0:
		d.viol("MQTT-3.1.3-7", "zero-length client identifier with Clean Session 0", cidOff, 0)
	}
	if will {
		if d.off >= len(d.b) {
			d.short("MQTT-3.1.2-9", "Will Flag is set but the will fields are missing", d.off, 0)
			return
		}
		if d.ver == V5 && !d.willProperties() {
			return
		}
		topic, off, ok := d.lstr("mqtt.willtopic_len", "mqtt.willtopic", 0, KindString, "will topic", true, true)
		if !ok {
			return
		}
		d.topicName(topic, off, "will topic")
		if _, _, ok := d.lstr("mqtt.willmsg_len", "mqtt.willmsg", 0, KindBytes, "will message", false, false); !ok {
			return
		}
	}
	if user {
		if d.off >= len(d.b) {
			d.bad(d.r("MQTT-3.1.2-19", "MQTT-3.1.2-17"), "User Name Flag is set but the user name is missing", d.off, 0)
			return
		}
		if _, _, ok := d.lstr("mqtt.username_len", "mqtt.username", 0, KindString, "user name", true, false); !ok {
			return
		}
	}
	if pass {
		if d.off >= len(d.b) {
			d.bad(d.r("MQTT-3.1.2-21", "MQTT-3.1.2-19"), "Password Flag is set but the password is missing", d.off, 0)
			return
		}
		if _, _, ok := d.lstr("mqtt.passwd_len", "mqtt.passwd", 0, KindString, "password", false, false); !ok {
			return
		}
	}
	if n := len(d.b) - d.off; n > 0 {
		rule := ""
		switch {
		case !user:
			rule = d.r("MQTT-3.1.2-18", "MQTT-3.1.2-16")
		case !pass:
			rule = d.r("MQTT-3.1.2-20", "MQTT-3.1.2-18")
		}
		d.badf(rule, d.off, n, "%d unexpected bytes after the end of the CONNECT payload", n)
	}
}

func (d *decoder) connack() {
	if !d.need(1, "acknowledge flags") {
		return
	}
	off := d.off
	fl := d.u8()
	if d.ver == V31 {
		d.add("mqtt.conack.flags.reserved", KindBool, 0, b2u(fl != 0), nil, off, 1)
	} else {
		d.add("mqtt.conack.flags", KindUint, 0, uint64(fl), nil, off, 1)
		d.add("mqtt.conack.flags.reserved", KindBool, 1, b2u(fl&0xfe != 0), nil, off, 1)
		d.add("mqtt.conack.flags.sp", KindBool, 1, uint64(fl&1), nil, off, 1)
		if fl&0xfe != 0 {
			d.violf(d.r("", "MQTT-3.2.2-1"), off, 1, "reserved bits 7-1 of the CONNACK flags are set (0x%02x)", fl)
		}
	}
	if !d.need(1, "return code") {
		return
	}
	off = d.off
	code := d.u8()
	if d.ver == V5 {
		d.add("mqtt.connack.reason_code", KindUint, 0, uint64(code), nil, off, 1)
		if ReasonName(CONNACK, code) == "" {
			d.violf("MQTT-3.2.2-8", off, 1, "0x%02x is not a CONNACK reason code", code)
		}
	} else {
		name := "mqtt.conack.val"
		if d.unknown {
			// Without the CONNECT, Wireshark names the code as MQTT 5
			// does; so does mqtap, for the same field in both.
			name = "mqtt.connack.reason_code"
		}
		d.add(name, KindUint, 0, uint64(code), nil, off, 1)
		if code > 5 {
			d.violf("", off, 1, "CONNACK return code %d is reserved", code)
		}
	}
	if d.ver != V31 && fl&1 != 0 && code != 0 {
		d.viol(d.r("MQTT-3.2.2-4", "MQTT-3.2.2-6"), "Session Present is set with a non-zero return code", off-1, 2)
	}
	if d.ver == V5 {
		if !d.properties("mqtt.properties", 0, 1<<CONNACK) {
			return
		}
		if !d.dry && !d.fromClient {
			d.c.serverTAM, d.c.serverTAMKnown = d.tam, true
		}
	}
	d.end()
}

func (d *decoder) publish() {
	p := d.p
	if !d.need(2, "topic length") {
		return
	}
	lenOff := d.off
	n := int(d.u16())
	d.add("mqtt.topic_len", KindUint, 0, uint64(n), nil, lenOff, 2)
	if !d.need(n, "topic name") {
		return
	}
	topicOff := d.off
	topic := d.b[topicOff : topicOff+n : topicOff+n]
	d.off += n
	topicField := -1
	if !d.dry {
		topicField = len(p.Fields)
		p.Topic = topic
	}
	d.add("mqtt.topic", KindString, 0, 0, topic, topicOff, n)
	d.utf8(topic, topicOff, "topic name", "")
	if d.qos > 0 {
		rule := "MQTT-2.2.1-4"
		if d.fromClient {
			rule = "MQTT-2.2.1-3"
		}
		if !d.msgid(d.r("MQTT-2.3.1-1", rule)) {
			return
		}
	}
	if d.ver == V5 {
		if !d.properties("mqtt.properties", 0, 1<<PUBLISH) {
			return
		}
	}
	if bytes.IndexByte(topic, '+') >= 0 || bytes.IndexByte(topic, '#') >= 0 {
		d.viol("MQTT-3.3.2-2", "topic name contains a wildcard character", topicOff, n)
	}
	if d.hasAlias {
		d.topicAlias(topic, topicOff, topicField)
	} else if n == 0 {
		d.viol("MQTT-4.7.3-1", "zero-length topic name without a topic alias", lenOff, 2)
		if !d.dry {
			p.Fields = append(p.Fields[:topicField], p.Fields[topicField+1:]...)
		}
	}
	payload := d.b[d.off:]
	if !d.dry {
		p.Payload = payload
		p.PayloadOff = d.off
	}
	d.add("mqtt.msg", KindBytes, 0, 0, payload, d.off, len(payload))
	if d.pfi == 1 && !d.cut && !utf8.Valid(payload) {
		d.viol("", "payload is not well-formed UTF-8 although the Payload Format Indicator is 1 (MQTT 5.0 section 3.3.2.3.2)", d.off, len(payload))
	}
	d.off = len(d.b)
}

// topicAlias checks and applies the Topic Alias of a PUBLISH.
func (d *decoder) topicAlias(topic []byte, topicOff, topicField int) {
	p := d.p
	a := d.alias
	if !d.dry {
		p.TopicAlias = a
	}
	dir := 0
	if !d.fromClient {
		dir = 1
	}
	switch {
	case a == 0:
		d.viol("MQTT-3.3.2-8", "Topic Alias 0 is not permitted", topicOff, len(topic))
	case d.fromClient && d.c.serverTAMKnown && d.c.serverTAM == 0:
		d.violf("MQTT-3.2.2-18", topicOff, len(topic), "Topic Alias %d sent although the server announced no Topic Alias Maximum", a)
	case d.fromClient && d.c.serverTAMKnown && a > d.c.serverTAM:
		d.violf("MQTT-3.3.2-9", topicOff, len(topic), "Topic Alias %d is above the Topic Alias Maximum %d the server announced", a, d.c.serverTAM)
	case !d.fromClient && d.c.clientTAMKnown && d.c.clientTAM == 0:
		d.violf("MQTT-3.1.2-27", topicOff, len(topic), "Topic Alias %d sent although the client announced no Topic Alias Maximum", a)
	case !d.fromClient && d.c.clientTAMKnown && a > d.c.clientTAM:
		d.violf("MQTT-3.3.2-11", topicOff, len(topic), "Topic Alias %d is above the Topic Alias Maximum %d the client announced", a, d.c.clientTAM)
	}
	if len(topic) > 0 {
		if a != 0 && !d.dry {
			d.c.setAlias(dir, a, topic)
		}
		return
	}
	t, ok := d.c.lookupAlias(dir, a)
	if !ok {
		if a != 0 && !d.c.unsure[dir] {
			d.violf("", topicOff, 0, "zero-length topic name with Topic Alias %d, which has no mapping yet (Protocol Error, MQTT 5.0 section 3.3.2.3.4)", a)
		}
		return
	}
	if !d.dry {
		p.Topic = t
		p.Fields[topicField].Bytes = t
	}
}

// ack decodes PUBACK, PUBREC, PUBREL and PUBCOMP.
func (d *decoder) ack() {
	if !d.msgid(d.r("MQTT-2.3.1-6", "MQTT-2.2.1-5")) {
		return
	}
	if d.ver == V5 && d.off < len(d.b) {
		off := d.off
		code := d.u8()
		name, rule := "", ""
		switch d.typ {
		case PUBACK:
			name, rule = "mqtt.puback.reason_code", "MQTT-3.4.2-1"
		case PUBREC:
			name, rule = "mqtt.pubrec.reason_code", "MQTT-3.5.2-1"
		case PUBREL:
			name, rule = "mqtt.pubrel.reason_code", "MQTT-3.6.2-1"
		default:
			name, rule = "mqtt.pubcomp.reason_code", "MQTT-3.7.2-1"
		}
		d.add(name, KindUint, 0, uint64(code), nil, off, 1)
		if ReasonName(d.typ, code) == "" {
			d.violf(rule, off, 1, "0x%02x is not a %s reason code", code, d.typ)
		}
		if d.off < len(d.b) && !d.properties("mqtt.properties", 0, 1<<d.typ) {
			return
		}
	}
	d.end()
}

func (d *decoder) subscribe() {
	if !d.msgid(d.r("MQTT-2.3.1-1", "MQTT-2.2.1-3")) {
		return
	}
	if d.ver == V5 && !d.properties("mqtt.properties", 0, 1<<SUBSCRIBE) {
		return
	}
	count := 0
	for d.off < len(d.b) {
		filter, off, ok := d.lstr("mqtt.topic_len", "mqtt.topic", 0, KindString, "topic filter", true, true)
		if !ok {
			return
		}
		shared := d.topicFilter(filter, off)
		if !d.need(1, "subscription options") {
			return
		}
		oOff := d.off
		o := d.u8()
		u := uint64(o)
		count++
		if d.ver == V5 {
			d.add("mqtt.subscription_options", KindUint, 0, u, nil, oOff, 1)
			d.add("mqtt.subscription_options_reserved", KindUint, 1, u>>6, nil, oOff, 1)
			d.add("mqtt.subscription_options_retain", KindUint, 1, u>>4&3, nil, oOff, 1)
			d.add("mqtt.subscription_options_rap", KindBool, 1, u>>3&1, nil, oOff, 1)
			d.add("mqtt.subscription_options_nl", KindBool, 1, u>>2&1, nil, oOff, 1)
			d.add("mqtt.subscription_options_qos", KindUint, 1, u&3, nil, oOff, 1)
			if o&0xc0 != 0 {
				d.violf("MQTT-3.8.3-5", oOff, 1, "reserved bits of the subscription options are set (0x%02x)", o)
			}
			if o&3 == 3 {
				d.viol("", "subscription options request QoS 3 (Protocol Error, MQTT 5.0 section 3.8.3.1)", oOff, 1)
			}
			if o>>4&3 == 3 {
				d.viol("", "Retain Handling 3 is reserved (Protocol Error, MQTT 5.0 section 3.8.3.1)", oOff, 1)
			}
			if shared && o&4 != 0 {
				d.viol("MQTT-3.8.3-4", "No Local set on a shared subscription", oOff, 1)
			}
		} else {
			d.add("mqtt.sub.qos", KindUint, 0, u, nil, oOff, 1)
			if o&0xfc != 0 || o&3 == 3 {
				d.violf("MQTT-3.8.3-4", oOff, 1, "requested QoS byte 0x%02x has reserved bits set or QoS 3", o)
			}
		}
	}
	if count == 0 {
		d.viol(d.r("MQTT-3.8.3-3", "MQTT-3.8.3-2"), "SUBSCRIBE contains no topic filter", d.off, 0)
	}
}

func (d *decoder) unsubscribe() {
	if !d.msgid(d.r("MQTT-2.3.1-1", "MQTT-2.2.1-3")) {
		return
	}
	if d.ver == V5 && !d.properties("mqtt.properties", 0, 1<<UNSUBSCRIBE) {
		return
	}
	count := 0
	for d.off < len(d.b) {
		filter, off, ok := d.lstr("mqtt.topic_len", "mqtt.topic", 0, KindString, "topic filter", true, true)
		if !ok {
			return
		}
		d.topicFilter(filter, off)
		count++
	}
	if count == 0 {
		d.viol("MQTT-3.10.3-2", "UNSUBSCRIBE contains no topic filter", d.off, 0)
	}
}

func (d *decoder) suback() {
	if !d.msgid(d.r("MQTT-2.3.1-7", "MQTT-2.2.1-6")) {
		return
	}
	if d.ver == V5 && !d.properties("mqtt.properties", 0, 1<<SUBACK) {
		return
	}
	count := 0
	for d.off < len(d.b) {
		off := d.off
		code := d.u8()
		count++
		if d.ver == V5 {
			d.add("mqtt.suback.reason_code", KindUint, 0, uint64(code), nil, off, 1)
			if ReasonName(SUBACK, code) == "" {
				d.violf("MQTT-3.9.3-2", off, 1, "0x%02x is not a SUBACK reason code", code)
			}
		} else {
			d.add("mqtt.suback.qos", KindUint, 0, uint64(code), nil, off, 1)
			if code > 2 && code != 0x80 {
				d.violf("MQTT-3.9.3-2", off, 1, "SUBACK return code 0x%02x is reserved", code)
			}
		}
	}
	if count == 0 {
		d.viol(d.r("MQTT-3.8.4-5", "MQTT-3.8.4-6"), "SUBACK contains no return code", d.off, 0)
	}
}

func (d *decoder) unsuback() {
	if !d.msgid(d.r("MQTT-2.3.1-7", "MQTT-2.2.1-6")) {
		return
	}
	if d.ver != V5 {
		d.end()
		return
	}
	if !d.properties("mqtt.properties", 0, 1<<UNSUBACK) {
		return
	}
	count := 0
	for d.off < len(d.b) {
		off := d.off
		code := d.u8()
		count++
		d.add("mqtt.unsuback.reason_code", KindUint, 0, uint64(code), nil, off, 1)
		if ReasonName(UNSUBACK, code) == "" {
			d.violf("MQTT-3.11.3-2", off, 1, "0x%02x is not an UNSUBACK reason code", code)
		}
	}
	if count == 0 {
		d.viol("MQTT-3.11.3-2", "UNSUBACK contains no reason code", d.off, 0)
	}
}

// disconnectOrAuth decodes DISCONNECT (any version) and AUTH (MQTT 5).
func (d *decoder) disconnectOrAuth() {
	if d.ver != V5 {
		d.end()
		return
	}
	if d.off >= len(d.b) {
		return
	}
	off := d.off
	code := d.u8()
	if d.typ == DISCONNECT {
		d.add("mqtt.disconnect.reason_code", KindUint, 0, uint64(code), nil, off, 1)
		if ReasonName(DISCONNECT, code) == "" {
			d.violf("MQTT-3.14.2-1", off, 1, "0x%02x is not a DISCONNECT reason code", code)
		}
	} else {
		d.add("mqtt.auth.reason_code", KindUint, 0, uint64(code), nil, off, 1)
		if ReasonName(AUTH, code) == "" {
			d.violf("MQTT-3.15.2-1", off, 1, "0x%02x is not an AUTH reason code", code)
		}
	}
	if d.off < len(d.b) {
		if !d.properties("mqtt.properties", 0, 1<<d.typ) {
			return
		}
		if d.typ == DISCONNECT && d.sessExpiry && !d.fromClient {
			d.viol("MQTT-3.14.2-2", "server sent a Session Expiry Interval in DISCONNECT", off, len(d.b)-off)
		}
	}
	d.end()
}

// topicName checks a topic name that is not a filter (will topic).
func (d *decoder) topicName(t []byte, off int, what string) {
	if bytes.IndexByte(t, '+') >= 0 || bytes.IndexByte(t, '#') >= 0 {
		d.violf(d.r("MQTT-4.7.1-1", "MQTT-4.7.0-1"), off, len(t), "%s contains a wildcard character", what)
	}
}

// topicFilter checks a topic filter and reports whether it is an MQTT 5
// shared subscription.
func (d *decoder) topicFilter(f []byte, off int) (shared bool) {
	if len(f) == 0 {
		d.viol("MQTT-4.7.3-1", "zero-length topic filter", off-2, 2)
		return false
	}
	if d.ver == V5 && bytes.HasPrefix(f, []byte("$share/")) {
		shared = true
		rest := f[len("$share/"):]
		i := bytes.IndexByte(rest, '/')
		switch {
		case i <= 0:
			d.viol("MQTT-4.8.2-1", "shared subscription without a ShareName followed by '/'", off, len(f))
			return shared
		case bytes.ContainsAny(rest[:i], "+#"):
			d.viol("MQTT-4.8.2-2", "ShareName contains '+' or '#'", off, len(f))
		case i == len(rest)-1:
			d.viol("MQTT-4.8.2-2", "shared subscription has no topic filter after the ShareName", off, len(f))
			return shared
		}
		f = rest[i+1:]
	}
	for lvl := range bytes.SplitSeq(f, []byte("/")) {
		if bytes.IndexByte(lvl, '#') >= 0 {
			if len(lvl) != 1 || &lvl[0] != &f[len(f)-1] {
				d.viol(d.r("MQTT-4.7.1-2", "MQTT-4.7.1-1"), "multi-level wildcard '#' is not alone in the last level of the topic filter", off, len(f))
				return shared
			}
		}
		if bytes.IndexByte(lvl, '+') >= 0 && len(lvl) != 1 {
			d.viol(d.r("MQTT-4.7.1-3", "MQTT-4.7.1-2"), "single-level wildcard '+' does not occupy an entire level of the topic filter", off, len(f))
			return shared
		}
	}
	return shared
}

// willProperties decodes the Will Properties of an MQTT 5 CONNECT, keeping
// the packet-level property state of the CONNECT properties.
func (d *decoder) willProperties() bool {
	seen, tam, hasTAM, am, ad := d.seen, d.tam, d.hasTAM, d.authMethod, d.authData
	d.pfi = 0
	ok := d.properties("mqtt.will_properties", 0, ctxWill)
	d.seen, d.tam, d.hasTAM, d.authMethod, d.authData = seen, tam, hasTAM, am, ad
	return ok
}

// properties decodes an MQTT 5 property block as field name at depth, for
// the context bit ctxBit (1<<Type, or ctxWill). It reports false when the
// rest of the packet cannot be parsed.
func (d *decoder) properties(name string, depth uint8, ctxBit uint32) bool {
	start := d.off
	if d.off >= len(d.b) {
		d.short("MQTT-2.2.2-1", "property length is missing", d.off, 0)
		return false
	}
	plen, n, ok := d.vbi("property length")
	if !ok {
		return false
	}
	end := d.off + int(plen)
	total := n + int(plen)
	if end > len(d.b) {
		total = len(d.b) - start
	}
	d.add(name, KindNone, depth, 0, nil, start, total)
	d.add("mqtt.property_len", KindUint, depth+1, uint64(plen), nil, start, n)
	d.seen = 0
	if end > len(d.b) {
		d.shortf("", start, len(d.b)-start, "property length %d runs past the end of the packet (%d bytes left)", plen, len(d.b)-d.off)
		d.propertyList(len(d.b), depth+1, ctxBit)
		return false
	}
	return d.propertyList(end, depth+1, ctxBit)
}

// propertyList decodes the properties up to end.
func (d *decoder) propertyList(end int, depth uint8, ctxBit uint32) bool {
	full := d.b
	d.b = d.b[:end]
	d.inProps = true
	ok := d.propertyLoop(end, depth, ctxBit)
	d.b = full
	d.inProps = false
	return ok
}

func (d *decoder) propertyLoop(end int, depth uint8, ctxBit uint32) bool {
	for d.off < end {
		idOff := d.off
		id := d.u8()
		d.add("mqtt.property_id", KindUint, depth, uint64(id), nil, idOff, 1)
		def := propDefOf(id)
		if def == nil {
			d.badf("", idOff, end-idOff, "unknown property identifier 0x%02x", id)
			d.add("mqtt.prop_unknown", KindString, depth, 0, d.b[d.off:end], d.off, end-d.off)
			d.off = end
			return true
		}
		if def.ctx&ctxBit == 0 {
			d.badf("", idOff, 1, "property %s (0x%02x) is not allowed in %s", def.name, id, ctxName(ctxBit))
		}
		if !def.multi && !(id == PropSubscriptionIdentifier && ctxBit == 1<<PUBLISH) {
			if d.seen&(1<<id) != 0 {
				d.violf("", idOff, 1, "%s included more than once (Protocol Error, MQTT 5.0 section 2.2.2.2)", def.name)
			}
		}
		d.seen |= 1 << id
		if !d.propertyValue(id, def, idOff, depth) {
			d.off = end
			return false
		}
		d.props++
	}
	return true
}

// ctxName names a property context for messages.
func ctxName(ctxBit uint32) string {
	if ctxBit == ctxWill {
		return "the Will Properties"
	}
	for t := Type(0); t < 16; t++ {
		if ctxBit == 1<<t {
			return t.String()
		}
	}
	return "this packet"
}

// propertyValue decodes the value of property id.
func (d *decoder) propertyValue(id uint8, def *propDef, idOff int, depth uint8) bool {
	off := d.off
	var v uint64
	switch def.typ {
	case propByte:
		if !d.need(1, def.name) {
			return false
		}
		v = uint64(d.u8())
	case propTwo:
		if !d.need(2, def.name) {
			return false
		}
		v = uint64(d.u16())
	case propFour:
		if !d.need(4, def.name) {
			return false
		}
		v = uint64(d.u32())
	case propVBI:
		x, _, ok := d.vbi(def.name)
		if !ok {
			return false
		}
		v = uint64(x)
	case propString, propBinary:
		if !d.needLen(def.name) {
			return false
		}
		n := int(d.u16())
		if !d.need(n, def.name) {
			return false
		}
		s := d.b[d.off : d.off+n : d.off+n]
		d.off += n
		kind := KindBytes
		if def.typ == propString {
			kind = KindString
			d.utf8(s, off+2, def.name, "")
		}
		d.add(def.field, kind, depth, 0, s, off, n+2)
		d.checkStringProperty(id, s, off)
		return true
	case propPair:
		return d.userProperty(def, depth)
	}
	d.add(def.field, KindUint, depth, v, nil, off, d.off-off)
	d.checkNumberProperty(id, def, v, off, d.off-off)
	return true
}

// userProperty decodes a user property: a heading and its key and value.
func (d *decoder) userProperty(def *propDef, depth uint8) bool {
	start := d.off
	head := -1
	if !d.dry {
		head = len(d.p.Fields)
	}
	d.add(def.field, KindNone, depth, 0, nil, start, 0)
	ok := d.pair(depth + 1)
	if !d.dry {
		d.p.Fields[head].Len = d.off - start
	}
	return ok
}

// pair decodes the key and value of a user property.
func (d *decoder) pair(depth uint8) bool {
	key, koff, ok := d.lstr("mqtt.prop_key_len", "mqtt.prop_key", depth, KindString, "user property key", false, false)
	if !ok {
		return false
	}
	d.utf8(key, koff, "user property key", "MQTT-1.5.7-1")
	val, voff, ok := d.lstr("mqtt.prop_value_len", "mqtt.prop_value", depth, KindString, "user property value", false, false)
	if !ok {
		return false
	}
	d.utf8(val, voff, "user property value", "MQTT-1.5.7-1")
	return true
}

// checkStringProperty validates string and binary property values.
func (d *decoder) checkStringProperty(id uint8, s []byte, off int) {
	switch id {
	case PropResponseTopic:
		if bytes.IndexByte(s, '+') >= 0 || bytes.IndexByte(s, '#') >= 0 {
			d.viol("MQTT-3.3.2-14", "Response Topic contains a wildcard character", off, len(s)+2)
		}
	case PropAuthenticationMethod:
		d.authMethod = true
	case PropAuthenticationData:
		d.authData = true
	}
}

// checkNumberProperty validates integer property values.
func (d *decoder) checkNumberProperty(id uint8, def *propDef, v uint64, off, n int) {
	switch id {
	case PropPayloadFormatIndicator:
		d.pfi = uint8(v)
		if v > 1 {
			d.violf("", off, n, "Payload Format Indicator is %d; it must be 0 or 1 (MQTT 5.0 section 3.3.2.3.2)", v)
		}
	case PropRequestProblemInformation, PropRequestResponseInformation, PropMaximumQoS, PropRetainAvailable,
		PropWildcardSubscriptionAvailable, PropSubscriptionIdentifierAvailable, PropSharedSubscriptionAvailable:
		if v > 1 {
			d.violf("", off, n, "%s is %d; it must be 0 or 1 (Protocol Error)", def.name, v)
		}
	case PropReceiveMaximum, PropMaximumPacketSize:
		if v == 0 {
			d.violf("", off, n, "%s is 0 (Protocol Error)", def.name)
		}
	case PropSubscriptionIdentifier:
		if v == 0 {
			d.viol("", "Subscription Identifier is 0 (Protocol Error, MQTT 5.0 section 3.3.2.3.8)", off, n)
		}
		if d.typ == PUBLISH && d.fromClient {
			d.viol("MQTT-3.3.4-6", "PUBLISH from a client contains a Subscription Identifier", off, n)
		}
	case PropTopicAliasMaximum:
		d.tam, d.hasTAM = uint16(v), true
	case PropTopicAlias:
		d.alias, d.hasAlias = uint16(v), true
	case PropSessionExpiryInterval:
		d.sessExpiry = true
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
