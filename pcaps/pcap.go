package pcaps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Limits of pcap records. A record longer than maxRecord (or than the
// file's snap length, when that is larger, up to maxBlock) is taken for a
// corrupt one, as Wireshark does. After one, the reader looks for the next
// plausible record within resyncWindow bytes; when there is none, the read
// ends as truncated.
const (
	maxRecord    = 262144
	resyncWindow = 1 << 20
	maxTimeJump  = 86400 // seconds between neighbouring records of a plausible record
)

// pcapInfo is what a pcap file header says.
type pcapInfo struct {
	big   bool   // big-endian
	nano  bool   // nanosecond timestamps
	limit uint32 // largest captured length a record may have
	last  uint32 // seconds of the last record read
	seen  bool   // a record was read
}

func (p *pcapInfo) u16(b []byte) uint16 {
	if p.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (p *pcapInfo) u32(b []byte) uint32 {
	if p.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// readPcapHeader reads the 24-byte pcap file header and declares the
// file's implicit interface.
func (r *Reader) readPcapHeader() error {
	if err := r.in.fill(24); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: too short for a pcap file header (%d bytes)", r.Path, len(r.in.avail()))
		}
		return fmt.Errorf("%s: reading the pcap file header: %w", r.Path, err)
	}
	h := r.in.avail()[:24]
	p := &r.pcap
	switch binary.LittleEndian.Uint32(h) {
	case 0xd4c3b2a1:
		p.big = true
	case 0x4d3cb2a1:
		p.big, p.nano = true, true
	case 0xa1b23c4d:
		p.nano = true
	}
	if major, minor := p.u16(h[4:]), p.u16(h[6:]); major != 2 {
		return fmt.Errorf("%s: pcap version %d.%d is not supported (only 2.x is)", r.Path, major, minor)
	}
	snap, network := p.u32(h[16:]), p.u32(h[20:])
	p.limit = maxRecord
	if snap > maxRecord {
		p.limit = min(snap, maxBlock)
	}
	f := iface{Interface: Interface{LinkType: layers.LinkType(network & 0xffff), SnapLen: snap, TSResol: 6}}
	if p.nano {
		f.TSResol = 9
	}
	f.setResolution(f.TSResol)
	r.ifaces = append(r.ifaces, f)
	r.events = append(r.events, event{kind: eventInterface})
	r.in.skip(24)
	return nil
}

// pcapRecord reads one pcap record and makes its frame pending.
func (r *Reader) pcapRecord() error {
	start := r.in.pos
	if err := r.in.fill(16); err != nil {
		return err
	}
	p := &r.pcap
	h := r.in.avail()
	caplen := p.u32(h[8:])
	if caplen > p.limit {
		return r.pcapResync(start, fmt.Sprintf("record header says %d captured bytes, more than the %d a record of this file may hold", caplen, p.limit))
	}
	if err := r.in.fill(16 + int(caplen)); err != nil {
		return err
	}
	h = r.in.avail()
	sec, frac := p.u32(h), p.u32(h[4:])
	r.data = h[16 : 16+caplen]
	r.in.skip(16 + int(caplen))
	ns := int64(frac)
	if !p.nano {
		ns *= 1000
	}
	r.ci.Timestamp = time.Unix(int64(sec), ns)
	r.ci.CaptureLength, r.ci.Length, r.ci.InterfaceIndex = int(caplen), int(p.u32(h[12:])), 0
	p.last, p.seen = sec, true
	r.pending = true
	return nil
}

// pcapResync skips a corrupt record header at start (the next unread
// byte), byte by byte, to the next plausible record, and warns once. When
// none follows within resyncWindow bytes, the read ends as truncated.
func (r *Reader) pcapResync(start int64, problem string) error {
	for n := 1; n <= resyncWindow; n++ {
		r.in.skip(1)
		ok, more := r.plausibleRecord()
		if ok {
			r.warn(start, "%s; skipped %d bytes to the next plausible record", problem, n)
			return nil
		}
		if !more {
			r.warn(start, "%s; no plausible record follows, the rest of the input is not read", problem)
			return ErrTruncated
		}
	}
	r.warn(start, "%s; no plausible record in the %d KiB after it, the rest of the input is not read", problem, resyncWindow>>10)
	return ErrTruncated
}

// plausibleRecord reports whether a record that looks right starts at the
// next unread byte: a sane header, followed by the end of the input or by
// another sane header. more is false once the input has ended there.
func (r *Reader) plausibleRecord() (ok, more bool) {
	if r.in.fill(16) != nil {
		return false, false
	}
	p := &r.pcap
	h := r.in.avail()
	if !p.saneHeader(h, p.last, p.seen) {
		return false, true
	}
	n := 16 + int(p.u32(h[8:]))
	if err := r.in.fill(n + 16); err != nil {
		h = r.in.avail()
		return len(h) == n && r.in.ended(), true
	}
	h = r.in.avail()
	return p.saneHeader(h[n:], p.u32(h), true), true
}

// saneHeader reports whether h starts with a record header that could be
// right: lengths within the limits, a sub-second part below one second
// and, when near is known, seconds within maxTimeJump of it.
func (p *pcapInfo) saneHeader(h []byte, near uint32, known bool) bool {
	sec, frac, caplen, origlen := p.u32(h), p.u32(h[4:]), p.u32(h[8:]), p.u32(h[12:])
	second := uint32(1e6)
	if p.nano {
		second = 1e9
	}
	if caplen > p.limit || caplen > origlen || origlen > maxBlock || frac >= second {
		return false
	}
	d := int64(sec) - int64(near)
	return !known || (d >= -maxTimeJump && d <= maxTimeJump)
}
