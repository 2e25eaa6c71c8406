package session

import (
	"slices"
	"unsafe"

	"github.com/mqtap/mqtap/decode"
)

// CopyTo makes dst a copy of r that shares nothing the pipeline reuses or
// changes later, so that another goroutine may read dst while the pipeline
// goes on: the packet's bytes and fields, the findings, the plaintext and
// the WebSocket connection's description. dst's buffers are reused.
func (r *Record) CopyTo(dst *Record) { r.CopyPartTo(dst, Part{Raw: true}) }

// Part says what CopyPartTo keeps of a record's packet besides its
// scalars, Problems and Topic.
type Part struct {
	Raw    bool                     // the packet's bytes, and Payload
	Fields func(*decode.Field) bool // which fields to keep, with their values (nil: all)
	// Value decodes the record's value before copying it, for a reader of
	// mqtap.value that does not keep the bytes it is decoded from (Raw
	// false). With Raw, the copy decodes its value itself when asked.
	Value bool
}

// CopyPartTo is CopyTo for a reader that needs only part of the packet,
// such as a one-line summary, a few -e columns or the index of the
// terminal UI: dst.Packet keeps the packet's scalars, Problems, Topic and
// what part asks for. Without part.Raw, Raw is left out and Payload is
// empty (nil when r's is nil, so that its presence still shows). It copies
// far fewer bytes than CopyTo.
func (r *Record) CopyPartTo(dst *Record, part Part) {
	if !part.Raw {
		// decided now, while the bytes they are read from are there
		if part.Value {
			r.DecodedValue()
		}
		if r.Packet.ContentType != nil {
			r.validJSON()
		}
	}
	keep := r.copyRest(dst)
	p, q := &r.Packet, &dst.Packet
	var oldRaw []byte
	q.Raw = keep.raw[:0]
	q.Payload = nil
	if part.Raw {
		oldRaw = p.Raw
		q.Raw = append(q.Raw, p.Raw...)
		q.Payload = dst.rebase(oldRaw, q.Raw, p.Payload)
	} else if p.Payload != nil {
		q.Payload = []byte{}
	}
	q.Topic = dst.rebase(oldRaw, q.Raw, p.Topic)
	q.ContentType = dst.rebase(oldRaw, q.Raw, p.ContentType)
	q.Fields = keep.fields[:0]
	for i := range p.Fields {
		if f := &p.Fields[i]; part.Fields == nil || part.Fields(f) {
			q.Fields = append(q.Fields, *f)
			q.Fields[len(q.Fields)-1].Bytes = dst.rebase(oldRaw, q.Raw, f.Bytes)
		}
	}
}

// copyRest copies r into dst but for the packet's bytes and fields, which
// the caller copies into the buffers it is given back.
func (r *Record) copyRest(dst *Record) recordBuffers {
	keep := recordBuffers{dst.Packet.Raw, dst.Packet.Fields, dst.Packet.Problems, dst.Findings, dst.Crypto.Plaintext, dst.arena, dst.ws, dst.Value.json}
	head, tail, text := dst.head, dst.tail, dst.text
	*dst = *r
	dst.head, dst.tail, dst.text = head[:0], tail[:0], text[:0]
	dst.arena = keep.arena[:0]
	dst.Packet.Problems = append(keep.problems[:0], r.Packet.Problems...)
	dst.Findings = append(keep.findings[:0], r.Findings...)
	dst.Crypto.Plaintext = append(keep.plaintext[:0], r.Crypto.Plaintext...)
	dst.Value.json = append(keep.json[:0], r.Value.json...)
	if r.WebSocket != nil {
		if keep.ws == nil {
			keep.ws = new(WSInfo)
		}
		*keep.ws = *r.WebSocket
		keep.ws.Offered, keep.ws.Chosen = slices.Clone(r.WebSocket.Offered), slices.Clone(r.WebSocket.Chosen)
		dst.WebSocket = keep.ws
	}
	dst.ws = keep.ws
	return keep
}

// recordBuffers are the buffers of a Record that CopyTo reuses.
type recordBuffers struct {
	raw       []byte
	fields    []decode.Field
	problems  []decode.Problem
	findings  []Finding
	plaintext []byte
	arena     []byte
	ws        *WSInfo
	json      []byte
}

// rebase returns the copy of b, a slice of the packet: within newRaw when b
// lies within oldRaw (most fields do), else in the record's arena (values
// held by the connection, such as a topic resolved from its alias).
func (r *Record) rebase(oldRaw, newRaw, b []byte) []byte {
	if len(b) == 0 {
		return b // nil or empty: nothing to read through it
	}
	if len(oldRaw) > 0 {
		// Addresses are compared, never converted back: the result is a
		// slice of newRaw.
		base := uintptr(unsafe.Pointer(unsafe.SliceData(oldRaw)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		if at >= base && at+uintptr(len(b)) <= base+uintptr(len(oldRaw)) {
			off := int(at - base)
			return newRaw[off : off+len(b) : off+len(b)]
		}
	}
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// CopySize is about the memory a copy of r holds (its packet, fields,
// problems, findings and plaintext), for those that bound what they keep.
func (r *Record) CopySize() int {
	const field, problem, finding = int(unsafe.Sizeof(decode.Field{})), int(unsafe.Sizeof(decode.Problem{})), int(unsafe.Sizeof(Finding{}))
	return cap(r.Packet.Raw) + cap(r.Packet.Fields)*field + cap(r.Packet.Problems)*problem + cap(r.Findings)*finding + cap(r.Crypto.Plaintext) + cap(r.Value.json)
}
