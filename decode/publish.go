// PUBLISH (with its Topic Alias) and the packets that acknowledge it:
// PUBACK, PUBREC, PUBREL and PUBCOMP.

package decode

import (
	"bytes"
	"unicode/utf8"
)

// publish decodes PUBLISH: the topic name, the packet identifier (QoS 1
// and 2), the MQTT 5 properties and the payload.
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
