package output

import (
	"strconv"
	"unsafe"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// columns is the plan of -T fields: where each -e name's values come from.
// Most names are read straight from the record or from the MQTT packet's
// fields; only the others make the record build Head and Tail.
type columns struct {
	direct   []session.FieldSource // per column: read from the record (FromFrame...), or 0
	paths    []string              // per column: the path of mqtap.value.<path>, or ""
	headTail bool                  // some column is in Head or Tail: visit them all
	value    bool                  // some column reads the decoded value
	names    [256]nameCols         // the columns of a field name, by its address (see colsOf)
}

// nameCols caches which columns a field name fills.
type nameCols struct {
	name string
	cols []int
	set  bool
}

// directSources are the record fields -T fields reads from the record
// itself instead of from Head, with the same text.
var directSources = map[session.FieldSource]bool{
	session.FromFrame: true, session.FromFrameLen: true, session.FromSrcPort: true, session.FromDstPort: true,
	session.FromStream: true, session.FromIPSrc: true, session.FromIPDst: true, session.FromIPv6Src: true, session.FromIPv6Dst: true,
}

func newColumns(names []string) *columns {
	c := &columns{direct: make([]session.FieldSource, len(names)), paths: make([]string, len(names))}
	for i, name := range names {
		rf := session.LookupField(name)
		switch {
		case rf == nil: // a field of the MQTT packet
		case directSources[rf.Source]:
			c.direct[i] = rf.Source
		case rf.Source == session.FromValuePath:
			c.paths[i], c.value = rf.Path, true
		default:
			c.headTail = true
			c.value = c.value || rf.Source == session.FromValue || rf.Source == session.FromValueFormat
		}
	}
	c.headTail = c.headTail || c.value
	return c
}

// colsOf returns the columns that the field name fills (those not read
// directly). The names come from the field registry, so the cache slot is
// picked by the name's address (checked by value), trying a few slots
// before it replaces one.
func (w *formatter) colsOf(name string) []int {
	c := w.columns
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name)))) ^ uint64(len(name))
	h = h * 0x9e3779b97f4a7c15 >> 56 // Fibonacci hashing to one of 256 slots
	var slot *nameCols
	for i := range uint64(4) {
		s := &c.names[(h+i)%uint64(len(c.names))]
		if s.set && s.name == name {
			return s.cols
		}
		if slot == nil && !s.set {
			slot = s
		}
	}
	if slot == nil {
		slot = &c.names[h%uint64(len(c.names))]
	}
	alias := decode.WiresharkAlias(name)
	slot.name, slot.cols, slot.set = name, slot.cols[:0], true
	for i, want := range w.opts.FieldNames {
		if c.direct[i] == 0 && c.paths[i] == "" && (want == name || alias != "" && want == alias) {
			slot.cols = append(slot.cols, i)
		}
	}
	return slot.cols
}

// appendFields appends a record as -T fields prints it: the values of each
// -e name, several joined by commas, tab-separated.
func (w *formatter) appendFields(b []byte, r *session.Record) []byte {
	w.clearColumns()
	if w.columns.headTail {
		r.Each(w.fill)
	} else {
		for i := range r.Packet.Fields {
			w.fill(&r.Packet.Fields[i])
		}
	}
	if w.columns.value {
		w.fillPaths(r)
	}
	l := lineOf(r)
	return w.appendFieldLine(b, &l)
}

// fillPaths fills the columns of mqtap.value.<path> names: each value at
// the path, strings as their text and other values as JSON.
func (w *formatter) fillPaths(r *session.Record) {
	_, js, err := r.DecodedValue()
	if err != nil || js == nil {
		return
	}
	for i, path := range w.columns.paths {
		if path == "" {
			continue
		}
		payload.Lookup(js, path, func(v []byte) {
			if len(w.cols[i]) > 0 {
				w.cols[i] = append(w.cols[i], ',')
			}
			if payload.KindOf(v) == payload.KindString {
				w.cols[i] = append(w.cols[i], payload.Unquote(v)...)
			} else {
				w.cols[i] = append(w.cols[i], v...)
			}
		})
	}
}

func (w *formatter) clearColumns() {
	for i := range w.cols {
		w.cols[i] = w.cols[i][:0]
	}
}

// fills reports whether the field fills a column.
func (w *formatter) fills(f *decode.Field) bool { return len(w.colsOf(f.Name)) > 0 }

// fill adds a field's value to the columns it fills.
func (w *formatter) fill(f *decode.Field) {
	if f.Kind == decode.KindNone {
		return
	}
	for _, i := range w.colsOf(f.Name) {
		if len(w.cols[i]) > 0 {
			w.cols[i] = append(w.cols[i], ',')
		}
		w.cols[i] = w.appendPlain(w.cols[i], f)
	}
}

// appendFieldLine adds the columns read from the record itself to those
// filled, and appends them.
func (w *formatter) appendFieldLine(b []byte, l *line) []byte {
	for i, src := range w.columns.direct {
		if src != 0 {
			w.cols[i] = appendDirect(w.cols[i], l, src)
		}
	}
	for i := range w.cols {
		if i > 0 {
			b = append(b, '\t')
		}
		b = append(b, w.cols[i]...)
	}
	return append(b, '\n')
}

// appendDirect appends the value of a record field read from the record,
// as Head would give it: nothing when the record does not have it.
func appendDirect(b []byte, l *line, src session.FieldSource) []byte {
	if l.direct {
		switch src {
		case session.FromFrame, session.FromFrameLen, session.FromSrcPort, session.FromDstPort, session.FromStream:
			return b // a packet received from the broker has no frame nor TCP fields
		}
	}
	switch src {
	case session.FromFrame:
		return appendUint(b, uint64(l.frame))
	case session.FromFrameLen:
		return appendUint(b, uint64(l.frameLen))
	case session.FromSrcPort:
		return appendUint(b, uint64(l.srcPort))
	case session.FromDstPort:
		return appendUint(b, uint64(l.dstPort))
	case session.FromStream:
		return appendUint(b, uint64(l.stream))
	case session.FromIPSrc, session.FromIPDst:
		if l.ipv6() {
			return b
		}
	case session.FromIPv6Src, session.FromIPv6Dst:
		if !l.ipv6() {
			return b
		}
	}
	a := l.src
	if src == session.FromIPDst || src == session.FromIPv6Dst {
		a = l.dst
	}
	return a.Unmap().AppendTo(b)
}

// appendUint appends a number as appendPlain does.
func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }
