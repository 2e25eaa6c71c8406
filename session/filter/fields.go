package filter

import (
	"net/netip"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// typeAny is the type of the record fields the filter reads from Head and
// Tail (session.FromHeadTail): their values type them, so a comparison
// takes the literal in every form it can have. Every other field has the
// type its declaration gives it (decode.FieldType).
const typeAny decode.FieldType = 255

// typeName names a field type in error messages, as tshark does.
func typeName(t decode.FieldType) string {
	if t == typeAny {
		return "Record field"
	}
	return t.String()
}

// fieldDef is a field or protocol name as the filter reads it: its
// declaration and where its values come from.
type fieldDef struct {
	*decode.FieldDef
	src  session.FieldSource
	text func(r *session.Record) string // session.FromText
	path string                         // session.FromValuePath
	// names are the fields session.FromPacket and session.FromHeadTail
	// scan: the field itself, or those a generic name answers for.
	names []string
}

// fieldDefs holds every field and protocol name a filter can use: the
// decoder's fields (decode.Fields), among them Wireshark's generic property
// names (mqtt.prop_number, mqtt.prop_string) answering for the typed
// property fields, and the names of the record (session.Fields).
var fieldDefs = func() map[string]*fieldDef {
	m := map[string]*fieldDef{}
	for name, d := range packetFieldDefs() {
		m[name] = d
	}
	for _, f := range session.Fields() {
		m[f.Name] = recordFieldDef(f)
	}
	return m
}()

// packetFieldDefs returns the filter's definitions of the decoder's fields.
func packetFieldDefs() map[string]*fieldDef {
	generic := map[string][]string{}
	for _, f := range decode.Fields() {
		if alias := decode.WiresharkAlias(f.Name); alias != "" {
			generic[alias] = append(generic[alias], f.Name)
		}
	}
	m := map[string]*fieldDef{}
	for _, f := range decode.Fields() {
		names, ok := generic[f.Name]
		if !ok {
			names = []string{f.Name}
		}
		m[f.Name] = &fieldDef{FieldDef: f, src: session.FromPacket, names: names}
	}
	return m
}

// recordFieldDef returns the filter's definition of a record field.
func recordFieldDef(f *session.RecordField) *fieldDef {
	switch f.Source {
	case session.FromHeadTail:
		return untyped(f.Name)
	}
	if f.Type == session.TypeJSON { // a JSON value: typed by what it holds
		return &fieldDef{FieldDef: &decode.FieldDef{Name: f.Name, Type: typeAny, Title: f.Title}, src: f.Source, path: f.Path}
	}
	return &fieldDef{FieldDef: &f.FieldDef, src: f.Source, text: f.Text}
}

// untyped returns the definition of a record field read from Head and Tail
// and typed by its values.
func untyped(name string) *fieldDef {
	return &fieldDef{FieldDef: &decode.FieldDef{Name: name, Type: typeAny}, src: session.FromHeadTail, names: []string{name}}
}

// lookupField returns the definition of a field or protocol name, or nil
// when the name is unknown. A record field the table lacks (see
// TestUntypedRecordFields) is read from Head and Tail and typed by its
// values.
func lookupField(name string) *fieldDef {
	if d := fieldDefs[name]; d != nil {
		return d
	}
	if f := session.LookupField(name); f != nil && f.Source == session.FromValuePath {
		return recordFieldDef(f)
	}
	if session.KnownField(name) {
		return untyped(name)
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
	vFloat              // val.f, a number of a decoded value
)

// val is one occurrence of a field.
type val struct {
	k vkind
	u uint64
	t int64
	f float64
	b []byte
	a netip.Addr
}

// cursor walks the occurrences of a field over the records being matched.
type cursor struct {
	ri  int // index of the record
	pos int // position within that record's source
}

// isIPv4 tells whether a record's addresses are IPv4 ones.
func isIPv4(r *session.Record) bool {
	return r.Src.IsValid() && !r.IPv6()
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
	case session.KindJSON:
		jsonValue(f.Bytes, v)
	default:
		return false
	}
	return true
}

// jsonValue converts a JSON value: a number to vFloat, a boolean to vUint
// (1 or 0), a string to its text, null to presence only, and an object or
// array to its JSON text.
func jsonValue(js []byte, v *val) {
	switch payload.KindOf(js) {
	case payload.KindNumber:
		f, _ := payload.Number(js)
		*v = val{k: vFloat, f: f}
	case payload.KindBool:
		*v = val{k: vUint, u: b2u(js[0] == 't')}
	case payload.KindString:
		*v = val{k: vBytes, b: []byte(payload.Unquote(js))}
	case payload.KindNull:
		*v = val{k: vNone}
	default:
		*v = val{k: vBytes, b: js}
	}
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
	case session.FromPacket:
		return d.nextPacket(r, c, v)
	case session.FromHeadTail:
		return d.nextHeadTail(r, c, v)
	case session.FromIPAddr, session.FromIPv6Addr, session.FromPort, session.FromFindings:
		return d.nextOfMany(r, c, v)
	case session.FromValuePath:
		return d.nextValue(r, c, v)
	}
	return d.value(r, v) && first(c)
}

// nextPacket is nextIn for the fields of the MQTT packet.
func (d *fieldDef) nextPacket(r *session.Record, c *cursor, v *val) bool {
	fs := r.Packet.Fields
	for i := c.pos; i < len(fs); i++ {
		if hasName(d.names, fs[i].Name) && fieldValue(&fs[i], v) {
			c.pos = i + 1
			return true
		}
	}
	c.pos = len(fs)
	return false
}

// nextHeadTail is nextIn for fields read from the record's Head and Tail.
func (d *fieldDef) nextHeadTail(r *session.Record, c *cursor, v *val) bool {
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
}

// nextOfMany is nextIn for the record's fields that can occur more than
// once: both addresses, both ports, the findings.
func (d *fieldDef) nextOfMany(r *session.Record, c *cursor, v *val) bool {
	switch d.src {
	case session.FromIPAddr:
		return isIPv4(r) && addrs(r, c, v)
	case session.FromIPv6Addr:
		return r.IPv6() && addrs(r, c, v)
	case session.FromPort:
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
	case session.FromFindings:
		if c.pos >= len(r.Findings) {
			return false
		}
		*v = val{k: vBytes, b: stringBytes(r.Findings[c.pos].Code.String())}
		c.pos++
		return true
	}
	return false
}

// nextValue is nextIn for the members of the decoded value at the field's
// path: the c.pos-th of them.
func (d *fieldDef) nextValue(r *session.Record, c *cursor, v *val) bool {
	_, js, err := r.DecodedValue()
	if err != nil || js == nil {
		return false
	}
	n, found := 0, false
	payload.Lookup(js, d.path, func(m []byte) {
		if n == c.pos && !found {
			jsonValue(m, v)
			found = true
		}
		n++
	})
	if found {
		c.pos++
	}
	return found
}

// value stores in v the value of a record field that occurs at most once,
// and reports whether the record has it.
func (d *fieldDef) value(r *session.Record, v *val) bool {
	switch d.src {
	case session.FromFrame:
		*v = val{k: vUint, u: uint64(r.Frame)}
	case session.FromFrameLen:
		*v = val{k: vUint, u: uint64(r.FrameLen)}
	case session.FromTime:
		*v = val{k: vTime, t: r.Time.UnixNano()}
	case session.FromRelative:
		*v = val{k: vTime, t: int64(r.Relative)}
	case session.FromIPSrc, session.FromIPDst:
		*v = val{k: vAddr, a: addr(r, d.src == session.FromIPSrc)}
		return isIPv4(r)
	case session.FromIPv6Src, session.FromIPv6Dst:
		*v = val{k: vAddr, a: addr(r, d.src == session.FromIPv6Src)}
		return r.IPv6()
	case session.FromSrcPort:
		*v = val{k: vUint, u: uint64(r.SrcPort)}
	case session.FromDstPort:
		*v = val{k: vUint, u: uint64(r.DstPort)}
	case session.FromStream:
		*v = val{k: vUint, u: uint64(r.Stream)}
	case session.FromType:
		*v = val{k: vBytes, b: stringBytes(r.Packet.Type.String())}
	case session.FromMalformed:
		m := r.Packet.Malformed()
		*v = val{k: vBytes, b: stringBytes(m)}
		return m != ""
	default:
		return d.mqtapValue(r, v)
	}
	return true
}

// mqtapValue is value for mqtap's fields of what it learned about the
// payload, and for protocols.
func (d *fieldDef) mqtapValue(r *session.Record, v *val) bool {
	switch d.src {
	case session.FromMessage:
		*v = val{k: vUint, u: uint64(r.Crypto.Message)}
		return r.Crypto.Message > 0
	case session.FromText:
		s := d.text(r)
		*v = val{k: vBytes, b: stringBytes(s)}
		return s != ""
	case session.FromPlaintext, session.FromPlaintextHex:
		b, ok := r.Plaintext()
		*v = val{k: vBytes, b: b}
		return ok && utf8.Valid(b) == (d.src == session.FromPlaintext)
	case session.FromTokenTime:
		*v = val{k: vTime, t: r.Crypto.TokenTime.Unix() * 1e9}
		return !r.Crypto.TokenTime.IsZero()
	case session.FromValueFormat:
		f, _, _ := r.DecodedValue()
		*v = val{k: vBytes, b: stringBytes(f.String())}
		return f != payload.None
	case session.FromValue:
		_, js, err := r.DecodedValue()
		if err != nil || js == nil {
			return false
		}
		jsonValue(js, v)
		return true
	}
	return d.present(r, v)
}

// present reports whether a protocol is part of the record, and stores its
// value: the bytes of mqtt, nothing for the others.
func (d *fieldDef) present(r *session.Record, v *val) bool {
	if d.src == session.FromMQTT {
		*v = val{k: vBytes, b: r.Packet.Raw}
		return true
	}
	*v = val{k: vNone}
	switch d.src {
	case session.FromAlways:
		return true
	case session.FromIPv4:
		return isIPv4(r)
	case session.FromIPv6:
		return r.IPv6()
	case session.FromChain:
		return r.HasProtocol(d.Name)
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

// addr returns the record's source or destination address.
func addr(r *session.Record, src bool) netip.Addr {
	if src {
		return r.Src.Unmap()
	}
	return r.Dst.Unmap()
}

// addrs yields the record's source, then destination address.
func addrs(r *session.Record, c *cursor, v *val) bool {
	if c.pos >= 2 {
		return false
	}
	*v = val{k: vAddr, a: addr(r, c.pos == 0)}
	c.pos++
	return true
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
