package model

import (
	"encoding/binary"

	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// appendValue appends what the payload stage decided about the record's
// value: nothing to keep (0) for a value recognised by its content, which
// the record decodes again when asked; else the Spec, and for a value the
// stage decoded (a named format, Sparkplug B) the result. A Sparkplug B
// payload, whose aliases only the stage could resolve, is kept by
// reference (it is never modified), by the record's number.
func (c *Capture) appendValue(b []byte, r *session.Record, n int) []byte {
	v := &r.Value
	if v.Spec == (payload.Spec{}) && !v.Claimed && v.Sparkplug == nil {
		return append(b, 0)
	}
	b = append(b, 1, byte(v.Spec.Format), byte(v.Spec.Compression), btob(v.Spec.UTF8)|btob(v.Claimed)<<1)
	b = appendBytes(b, []byte(v.Why))
	if !v.Claimed {
		return append(b, 0) // decoded again when asked, as the first time
	}
	f, js, err := r.DecodedValue()
	if err != nil {
		e := r.ValueError()
		if e == nil {
			e = &payload.Error{Format: f, Msg: err.Error()}
		}
		b = append(b, 2, byte(e.Format), btob(e.Limit))
		b = binary.AppendUvarint(b, uint64(e.Offset))
		return appendBytes(b, []byte(e.Msg))
	}
	if v.Sparkplug != nil {
		c.epMu.Lock()
		if c.sparkplug == nil {
			c.sparkplug = make(map[int]*payload.SparkplugPayload)
		}
		c.sparkplug[n] = v.Sparkplug
		c.epMu.Unlock()
	}
	b = append(b, 1, byte(f))
	return appendBytes(b, js)
}

// readValue restores what appendValue kept into record n.
func (c *Capture) readValue(d *blobReader, r *session.Record, n int) {
	if d.byte() == 0 || d.err != nil {
		return
	}
	v := &r.Value
	v.Spec.Format, v.Spec.Compression = payload.Format(d.byte()), payload.Compression(d.byte())
	fl := d.byte()
	v.Spec.UTF8, v.Claimed = fl&1 != 0, fl&2 != 0
	v.Why = string(d.bytes())
	switch d.byte() {
	case 1:
		f := payload.Format(d.byte())
		v.SetDecoded(f, d.bytes())
		c.epMu.RLock()
		v.Sparkplug = c.sparkplug[n]
		c.epMu.RUnlock()
	case 2:
		e := &payload.Error{Format: payload.Format(d.byte()), Limit: d.byte() != 0}
		e.Offset = int(d.uvarint())
		e.Msg = string(d.bytes())
		v.SetFailed(e.Format, e)
	}
}
