// SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.

package decode

// subscribe decodes SUBSCRIBE: the packet identifier, the MQTT 5
// properties and the topic filters with their options.
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

// unsubscribe decodes UNSUBSCRIBE: the packet identifier, the MQTT 5
// properties and the topic filters.
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

// suback decodes SUBACK: the packet identifier, the MQTT 5 properties and
// a return code (MQTT 5: reason code) per topic filter.
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

// unsuback decodes UNSUBACK: the packet identifier and, in MQTT 5, the
// properties and a reason code per topic filter.
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
