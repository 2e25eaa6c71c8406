// Decoding of MQTT 5 property blocks: each property's value as a field,
// and the checks of single values; the table of properties is in props.go.

package decode

import "bytes"

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
	case PropContentType:
		if !d.dry && d.p.Type == PUBLISH {
			d.p.ContentType = s
		}
	}
}

// checkNumberProperty validates integer property values.
func (d *decoder) checkNumberProperty(id uint8, def *propDef, v uint64, off, n int) {
	switch id {
	case PropPayloadFormatIndicator:
		d.pfi = uint8(v)
		if !d.dry && d.p.Type == PUBLISH {
			d.p.PayloadFormat = uint8(v)
		}
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
