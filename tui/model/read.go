// Reading records back from the spool: rows for the packet list (cached),
// whole records decoded again for the detail panes and display filters.

package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// rawRow reads row i of the rows file.
func (c *Capture) rawRow(i int, row *[rowSize]byte) error {
	if i < 0 || i >= c.Len() {
		return fmt.Errorf("record %d: out of range (%d records)", i, c.Len())
	}
	if _, err := c.rows.ReadAt(row[:], int64(i)*rowSize); err != nil {
		return fmt.Errorf("reading record %d from the index: %w", i, err)
	}
	return nil
}

// readBlob reads n bytes of record i's blob (all of it when n < 0).
func (c *Capture) readBlob(row *[rowSize]byte, n int, buf []byte) ([]byte, error) {
	le := binary.LittleEndian
	off, size := int64(le.Uint64(row[36:])), int(le.Uint32(row[44:]))
	if n < 0 || n > size {
		n = size
	}
	if n > maxBlob {
		return nil, errors.New("corrupt index: record too large")
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := c.blob.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return buf, nil
}

// Row returns the packet-list row of record i.
func (c *Capture) Row(i int) (Row, error) {
	c.cacheMu.Lock()
	r, ok := c.cache[i]
	c.cacheMu.Unlock()
	if ok {
		return r, nil
	}
	var row [rowSize]byte
	if err := c.rawRow(i, &row); err != nil {
		return Row{}, err
	}
	le := binary.LittleEndian
	b, err := c.readBlob(&row, int(le.Uint32(row[58:])), nil)
	if err != nil {
		return Row{}, err
	}
	d := blobReader{b: b}
	info, topic := d.bytes(), d.bytes()
	if d.err != nil {
		return Row{}, fmt.Errorf("record %d: %w", i, d.err)
	}
	r = c.rowFields(i, &row)
	r.Info, r.Topic = string(info), string(topic)
	c.cacheMu.Lock()
	if len(c.cache) >= rowCacheSize {
		clear(c.cache)
	}
	c.cache[i] = r
	c.cacheMu.Unlock()
	return r, nil
}

// rowFields decodes a row's fixed fields.
func (c *Capture) rowFields(i int, row *[rowSize]byte) Row {
	le := binary.LittleEndian
	r := Row{
		Index:      i,
		Frame:      int(le.Uint32(row[0:])),
		Stream:     int(le.Uint32(row[4:])),
		Time:       time.Unix(0, int64(le.Uint64(row[8:]))),
		Relative:   time.Duration(le.Uint64(row[16:])),
		Length:     int(le.Uint32(row[24:])),
		Type:       decode.Type(row[48]),
		FromClient: row[49]&flagFromClient != 0,
		Direct:     row[49]&flagDirect != 0,
		Malformed:  row[49]&flagMalformed != 0,
		Decrypt:    statusCodes[min(int(row[50]), len(statusCodes)-1)],
		Verify:     statusCodes[min(int(row[51]), len(statusCodes)-1)],
		Findings:   int(le.Uint16(row[52:])),
		Severity:   session.Severity(row[54]),
	}
	src, dst := c.addrs(row)
	r.Src, r.Dst = src.String(), dst.String()
	return r
}

func (c *Capture) addrs(row *[rowSize]byte) (src, dst netip.AddrPort) {
	le := binary.LittleEndian
	c.epMu.RLock()
	defer c.epMu.RUnlock()
	if i := le.Uint32(row[28:]); int(i) < len(c.endpoints) {
		src = c.endpoints[i]
	}
	if i := le.Uint32(row[32:]); int(i) < len(c.endpoints) {
		dst = c.endpoints[i]
	}
	return src, dst
}

// Record returns record i with every field, decoded again from the index.
// The caller owns it.
func (c *Capture) Record(i int) (*session.Record, error) {
	r := &session.Record{}
	if _, err := c.recordInto(i, r, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// recordInto decodes record i into r, reusing buf for the blob; it returns
// the buffer for the next call. r's slices alias buf.
func (c *Capture) recordInto(i int, r *session.Record, buf []byte) ([]byte, error) {
	var row [rowSize]byte
	if err := c.rawRow(i, &row); err != nil {
		return buf, err
	}
	b, err := c.readBlob(&row, -1, buf)
	if err != nil {
		return buf, err
	}
	return b, c.decodeRecord(i, &row, b, r)
}

// decodeRecord decodes record i from its row and its whole blob b into r;
// r's slices alias b.
func (c *Capture) decodeRecord(i int, row *[rowSize]byte, b []byte, r *session.Record) error {
	le := binary.LittleEndian
	src, dst := c.addrs(row)
	fromClient := row[49]&flagFromClient != 0
	*r = session.Record{Frame: int(le.Uint32(row[0:])), Time: time.Unix(0, int64(le.Uint64(row[8:]))), Relative: time.Duration(le.Uint64(row[16:])),
		FrameLen: int(le.Uint32(row[24:])), Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		Stream: int(le.Uint32(row[4:])), Direct: row[49]&flagDirect != 0, InFrame: row[49]&flagInFrame != 0,
		Packet: decode.Packet{Fields: r.Packet.Fields[:0], Problems: r.Packet.Problems[:0]}, Findings: r.Findings[:0]}
	d := blobReader{b: b}
	d.bytes() // info
	topic := d.bytes()
	cr := &r.Crypto
	for _, s := range []*string{&cr.Session, &cr.Scheme, &cr.Kex, &cr.Verify, &cr.Decrypt, &cr.Reason, &cr.Key, &cr.KDF} {
		*s = string(d.bytes())
	}
	cr.Plaintext = d.bytes()
	if tt := d.varint(); tt != 0 {
		cr.TokenTime = time.Unix(0, tt)
	}
	cr.Message = int(d.uvarint())
	cr.Copy = d.byte() != 0
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		f := session.Finding{Code: session.FindingCode(d.byte()), Lower: session.Severity(d.byte())}
		f.Rule, f.Text = string(d.bytes()), string(d.bytes())
		r.Findings = append(r.Findings, f)
	}
	r.TLSVersion, r.TLSSuite = uint16(d.uvarint()), uint16(d.uvarint())
	r.Protocols, d.b = session.ParseProtocols(d.b)
	c.readWS(&d, r)
	c.readValue(&d, r, i)
	raw := d.bytes()
	if d.err != nil {
		return fmt.Errorf("record %d: %w", i, d.err)
	}
	var conn decode.Conn
	if row[49]&flagUnknownVersion == 0 {
		conn.SetVersion(row[55]) // else the version is picked from the packet, as it was
	}
	if alias := le.Uint16(row[56:]); alias != 0 && len(topic) > 0 {
		conn.SetAlias(fromClient, alias, topic)
	}
	if row[49]&flagTruncated != 0 {
		conn.DecodeTruncated(raw, fromClient, &r.Packet)
	} else {
		conn.Decode(raw, fromClient, &r.Packet)
	}
	r.Interface = c.rowInterface(row)
	return nil
}

// chunk reads records lo to hi-1 whole, rows and blobs, each with one read
// (buf is reused), for decodeRecord: the rows, and the blobs from the
// first record's on.
func (c *Capture) chunk(lo, hi int, buf []byte) (rows, blobs, reuse []byte, err error) {
	if lo < 0 || hi > c.Len() || lo >= hi {
		return nil, nil, buf, fmt.Errorf("records %d to %d: out of range (%d records)", lo, hi-1, c.Len())
	}
	n := (hi - lo) * rowSize
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	rows = buf[:n]
	if _, err := c.rows.ReadAt(rows, int64(lo)*rowSize); err != nil {
		return nil, nil, buf, fmt.Errorf("reading records %d to %d from the index: %w", lo, hi-1, err)
	}
	le := binary.LittleEndian
	first, last := rows[:rowSize], rows[n-rowSize:]
	start := int64(le.Uint64(first[36:]))
	end := int64(le.Uint64(last[36:])) + int64(le.Uint32(last[44:]))
	if end < start || end-start > maxBlob {
		return nil, nil, buf, errors.New("corrupt index: records out of order")
	}
	total := n + int(end-start)
	if cap(buf) < total {
		buf = append(buf[:n], make([]byte, total-n)...)
		rows = buf[:n]
	}
	blobs = buf[n:total]
	if _, err := c.blob.ReadAt(blobs, start); err != nil {
		return nil, nil, buf, fmt.Errorf("reading the index: %w", err)
	}
	return rows, blobs, buf, nil
}

// chunkRecord decodes record lo+k of a chunk into r.
func (c *Capture) chunkRecord(lo, k int, rows, blobs []byte, r *session.Record) error {
	le := binary.LittleEndian
	row := (*[rowSize]byte)(rows[k*rowSize:])
	base := int64(le.Uint64(rows[36:]))
	off, size := int64(le.Uint64(row[36:]))-base, int64(le.Uint32(row[44:]))
	if off < 0 || off+size > int64(len(blobs)) {
		return fmt.Errorf("record %d: corrupt index", lo+k)
	}
	return c.decodeRecord(lo+k, row, blobs[off:off+size:off+size], r)
}

// readWS reads what appendWS wrote.
func (c *Capture) readWS(d *blobReader, r *session.Record) {
	if d.byte() == 0 || d.err != nil {
		return
	}
	f := &r.WSFrame
	f.Opcode = decode.WSOpcode(d.byte())
	fl := d.byte()
	f.Fin, f.Masked, f.RSV = fl&1 != 0, fl&2 != 0, fl>>2
	f.PayloadLen = d.uvarint()
	for k := range f.MaskKey {
		f.MaskKey[k] = d.byte()
	}
	f.HeaderLen = copy(f.Header[:], d.bytes())
	c.epMu.RLock()
	r.WebSocket = c.ws[r.Stream]
	c.epMu.RUnlock()
}

// rowInterface returns the interface a row names, or nil.
func (c *Capture) rowInterface(row *[rowSize]byte) *session.Interface {
	n := int(binary.LittleEndian.Uint16(row[62:]))
	c.epMu.RLock()
	defer c.epMu.RUnlock()
	if n == 0 || n > len(c.ifaces) {
		return nil
	}
	return c.ifaces[n-1]
}

// blobReader reads what add wrote; the first error sticks.
type blobReader struct {
	b   []byte
	err error
}

var errCorrupt = errors.New("corrupt index")

func (d *blobReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *blobReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *blobReader) byte() byte {
	if len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *blobReader) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err, d.b = errCorrupt, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
