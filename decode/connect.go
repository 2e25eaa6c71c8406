// CONNECT, CONNACK, DISCONNECT and AUTH: the packets that open, accept or
// refuse, authenticate and end an MQTT connection.

package decode

// connect decodes CONNECT: the variable header (protocol name and level,
// connect flags, keep alive, MQTT 5 properties), then the payload.
func (d *decoder) connect() {
	if d.fromClient && d.c.connectSeen {
		d.viol("MQTT-3.1.0-2", "second CONNECT on the connection", 0, len(d.b))
	}
	if !d.connectProtocol() {
		return
	}
	fl, ok := d.connectFlags()
	if !ok {
		return
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
	d.connectPayload(fl)
}

// connectProtocol reads the protocol name and level, from which the
// connection learns its version. It reports false when the packet ends
// before the level.
func (d *decoder) connectProtocol() bool {
	name, nameOff, ok := d.lstr("mqtt.proto_len", "mqtt.protoname", 0, KindString, "protocol name", true, false)
	if !ok || !d.need(1, "protocol level") {
		return false
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
	return true
}

// connectFlags reads and checks the connect flags; ok is false when the
// packet ends before them.
func (d *decoder) connectFlags() (fl uint8, ok bool) {
	if !d.need(1, "connect flags") {
		return 0, false
	}
	flOff := d.off
	fl = d.u8()
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
	return fl, true
}

// connectPayload reads the CONNECT payload: the client identifier, then
// the will (MQTT 5 will properties, topic, message), the user name and the
// password as the connect flags fl announce them.
func (d *decoder) connectPayload(fl uint8) {
	will, user, pass := fl&4 != 0, fl&0x80 != 0, fl&0x40 != 0
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

// connack decodes CONNACK: the acknowledge flags, the return code (MQTT 5:
// reason code) and the MQTT 5 properties.
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
