// Writing records to the spool: each record becomes one fixed-size row
// (the packet list's columns) and one blob (Info, topic, decryption
// results, findings, WebSocket frame, raw packet); endpoints and
// interfaces are interned.

package model

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/output"
)

// Row bit flags.
const (
	flagFromClient = 1 << iota
	flagDirect
	flagMalformed
	flagTruncated
	flagUnknownVersion
	flagInFrame // session.Record.InFrame
)

var statusCodes = []string{"", "ok", "no-key", "failed", "bad"}

func statusCode(s string) byte {
	for i, v := range statusCodes {
		if v == s {
			return byte(i)
		}
	}
	return 0
}

// indexRecord writes the row and blob of one record, which aggregate
// already counted; on the indexing goroutine.
func (c *Capture) indexRecord(r *session.Record) error {
	src, dst := c.endpoint(r.Src, r.SrcPort), c.endpoint(r.Dst, r.DstPort)
	b, head, sev := c.appendBlob(c.scratch[:0], r)
	c.scratch = b
	row := c.makeRow(r, src, dst, len(b), head, sev)

	c.rowBuf = append(c.rowBuf, row[:]...)
	c.blobBuf = append(c.blobBuf, b...)
	c.blobSize += int64(len(b))
	c.total++
	if len(c.rowBuf) >= flushRows*rowSize || c.total%32 == 1 && time.Since(c.lastFlush) >= flushInterval {
		return c.writeOut()
	}
	return nil
}

// appendBlob appends the blob of r to b: Info and topic first (what the
// list reads, head bytes), then the rest. sev is the highest severity of
// the record's findings.
func (c *Capture) appendBlob(b []byte, r *session.Record) (_ []byte, head int, sev session.Severity) {
	c.info = output.AppendInfo(c.info[:0], r)
	b = appendBytes(b, c.info)
	b = appendBytes(b, r.Packet.Topic)
	head = len(b)
	cr := &r.Crypto
	for _, s := range []string{cr.Session, cr.Scheme, cr.Kex, cr.Verify, cr.Decrypt, cr.Reason, cr.Key, cr.KDF} {
		b = appendBytes(b, []byte(s))
	}
	b = appendBytes(b, cr.Plaintext)
	tt := int64(0)
	if !cr.TokenTime.IsZero() {
		tt = cr.TokenTime.UnixNano()
	}
	b = binary.AppendVarint(b, tt)
	b = binary.AppendUvarint(b, uint64(cr.Message))
	b = append(b, btob(cr.Copy))
	b = binary.AppendUvarint(b, uint64(len(r.Findings)))
	sev = session.SevInfo
	for _, f := range r.Findings {
		b = append(b, byte(f.Code), byte(f.Lower))
		b = appendBytes(b, []byte(f.Rule))
		b = appendBytes(b, []byte(f.Text))
		sev = max(sev, f.Severity())
	}
	b = binary.AppendUvarint(b, uint64(r.TLSVersion))
	b = binary.AppendUvarint(b, uint64(r.TLSSuite))
	b = r.Protocols.AppendBinary(b)
	b = c.appendWS(b, r)
	b = c.appendValue(b, r, c.total)
	b = appendBytes(b, r.Packet.Raw)
	return b, head, sev
}

// makeRow is the row of r, whose endpoints are src and dst and whose blob
// of size bytes (head of them for the list) starts at the blob file's
// current end.
func (c *Capture) makeRow(r *session.Record, src, dst uint32, size, head int, sev session.Severity) [rowSize]byte {
	var row [rowSize]byte
	le := binary.LittleEndian
	le.PutUint32(row[0:], uint32(r.Frame))
	le.PutUint32(row[4:], uint32(r.Stream))
	le.PutUint64(row[8:], uint64(r.Time.UnixNano()))
	le.PutUint64(row[16:], uint64(r.Relative))
	le.PutUint32(row[24:], uint32(r.FrameLen))
	le.PutUint32(row[28:], src)
	le.PutUint32(row[32:], dst)
	le.PutUint64(row[36:], uint64(c.blobSize))
	le.PutUint32(row[44:], uint32(size))
	row[48] = byte(r.Packet.Type)
	var flags byte
	if r.Packet.FromClient {
		flags |= flagFromClient
	}
	if r.Direct {
		flags |= flagDirect
	}
	if r.Packet.Malformed() != "" {
		flags |= flagMalformed
	}
	if r.Packet.Truncated {
		flags |= flagTruncated
	}
	if r.Packet.Unknown {
		flags |= flagUnknownVersion
	}
	if r.InFrame {
		flags |= flagInFrame
	}
	row[49] = flags
	row[50] = statusCode(r.Crypto.Decrypt)
	row[51] = statusCode(r.Crypto.Verify)
	le.PutUint16(row[52:], uint16(min(len(r.Findings), 65535)))
	row[54] = byte(sev)
	row[55] = r.Packet.Version
	le.PutUint16(row[56:], r.Packet.TopicAlias)
	le.PutUint32(row[58:], uint32(head))
	le.PutUint16(row[62:], c.internInterface(r.Interface))
	return row
}

// endpoint interns an address.
func (c *Capture) endpoint(a netip.Addr, port uint16) uint32 {
	ap := netip.AddrPortFrom(a.Unmap(), port)
	c.epMu.RLock()
	i, ok := c.epIndex[ap]
	c.epMu.RUnlock()
	if ok {
		return i
	}
	c.epMu.Lock()
	defer c.epMu.Unlock()
	if i, ok := c.epIndex[ap]; ok {
		return i
	}
	i = uint32(len(c.endpoints))
	c.endpoints = append(c.endpoints, ap)
	c.epIndex[ap] = i
	return i
}

// appendWS appends the WebSocket frame that completed the record's packet
// (a 0 when there is none), and keeps its connection's description.
func (c *Capture) appendWS(b []byte, r *session.Record) []byte {
	if r.WebSocket == nil {
		return append(b, 0)
	}
	c.epMu.Lock()
	if c.ws[r.Stream] == nil {
		if c.ws == nil {
			c.ws = make(map[int]*session.WSInfo)
		}
		cp := *r.WebSocket
		c.ws[r.Stream] = &cp
	}
	c.epMu.Unlock()
	f := &r.WSFrame
	b = append(b, 1, byte(f.Opcode), btob(f.Fin)|btob(f.Masked)<<1|f.RSV<<2)
	b = binary.AppendUvarint(b, f.PayloadLen)
	b = append(b, f.MaskKey[:]...)
	return appendBytes(b, f.Header[:f.HeaderLen])
}

// internInterface returns the row's interface number of a record's
// interface: its id plus one, 0 for none (or an id too large to keep).
func (c *Capture) internInterface(ifc *session.Interface) uint16 {
	if ifc == nil || ifc.ID >= 65535 {
		return 0
	}
	c.epMu.RLock()
	known := ifc.ID < len(c.ifaces) && c.ifaces[ifc.ID] != nil && c.ifaces[ifc.ID].Name == ifc.Name && c.ifaces[ifc.ID].Link == ifc.Link
	c.epMu.RUnlock()
	if !known {
		c.epMu.Lock()
		for len(c.ifaces) <= ifc.ID {
			c.ifaces = append(c.ifaces, nil)
		}
		cp := *ifc
		c.ifaces[ifc.ID] = &cp
		c.epMu.Unlock()
	}
	return uint16(ifc.ID + 1)
}

// appendBytes appends v with its length.
func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func btob(v bool) byte {
	if v {
		return 1
	}
	return 0
}
