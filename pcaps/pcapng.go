package pcaps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// pcapng block types and the byte-order magic.
const (
	blockSHB                 = 0x0a0d0d0a
	blockIDB                 = 0x00000001
	blockPB                  = 0x00000002 // obsolete Packet Block
	blockSPB                 = 0x00000003
	blockNRB                 = 0x00000004
	blockISB                 = 0x00000005
	blockEPB                 = 0x00000006
	blockJournal             = 0x00000009 // systemd journal export
	blockDSB                 = 0x0000000a
	blockCustom              = 0x00000bad
	blockCustomNoCopy        = 0x40000bad
	byteOrderMagic    uint32 = 0x1a2b3c4d

	// maxBlock is the largest block the reader accepts: a larger total
	// length is taken for a corrupt block.
	maxBlock = 256 << 20
	// maxInterfaces is how many interfaces one input may declare; the
	// reader ignores the ones after, with a warning.
	maxInterfaces = 1 << 16
)

// sectionState says how the blocks of the current section are read.
type sectionState uint8

const (
	sectionRead sectionState = iota // a known version: blocks are read
	sectionSkip                     // an unknown version: blocks are skipped up to the next section
	sectionLost                     // no valid section header: only a section header is looked for
)

// ngState is where the pcapng reader is: its section and the section's
// interfaces.
type ngState struct {
	section int  // index of the current section (every valid section header counts), -1 before the first
	big     bool // the section is big-endian
	state   sectionState
	base    int // index in Reader.ifaces of the section's first interface
	count   int // interfaces the section declared
}

func (s *ngState) u16(b []byte) uint16 {
	if s.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (s *ngState) u32(b []byte) uint32 {
	if s.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (s *ngState) u64(b []byte) uint64 {
	if s.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// iface is an interface with what its timestamps need.
type iface struct {
	Interface
	pow2  bool   // if_tsresol is a power of 2
	exp   uint8  // its exponent
	units uint64 // timestamp units per second
}

// setResolution sets the timestamp resolution from an if_tsresol value and
// reports whether it is one the reader can use.
func (f *iface) setResolution(v uint8) bool {
	f.pow2, f.exp = v&0x80 != 0, v&0x7f
	switch {
	case f.pow2 && f.exp < 64:
		f.units = 1 << f.exp
	case !f.pow2 && f.exp < 20:
		f.units = 1
		for range f.exp {
			f.units *= 10
		}
	default:
		f.pow2, f.exp, f.units = false, 6, 1e6
		return false
	}
	f.TSResol = v
	return true
}

// time converts a timestamp of the interface, rounding down to the
// nanosecond, and adds if_tsoffset.
func (f *iface) time(ts uint64) time.Time {
	var sec, ns uint64
	switch {
	case f.units == 1e6:
		sec, ns = ts/1e6, ts%1e6*1e3
	case f.units == 1e9:
		sec, ns = ts/1e9, ts%1e9
	case f.pow2:
		sec = ts >> f.exp
		if f.exp > 0 {
			hi, lo := bits.Mul64(ts&(f.units-1), 1e9)
			ns = hi<<(64-f.exp) | lo>>f.exp
		}
	case f.units <= 1e9:
		sec, ns = ts/f.units, ts%f.units*(1e9/f.units)
	default:
		sec, ns = ts/f.units, ts%f.units/(f.units/1e9)
	}
	return time.Unix(int64(sec)+f.TSOffset, int64(ns))
}

// ngBlock reads one pcapng block: a frame becomes pending, other blocks
// update the state or are reported as events.
func (r *Reader) ngBlock() error {
	start := r.in.pos
	if err := r.in.fill(12); err != nil {
		return err
	}
	length, problem := r.framing(r.in.avail(), false)
	if problem == "" {
		if err := r.in.fill(int(length)); err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				return err
			}
			// A total length past the end: a truncated input, unless a
			// valid block follows, which makes the length the problem.
			if !r.resync(start, fmt.Sprintf("block total length %d runs past the end of the input", length), true) {
				return ErrTruncated
			}
			return nil
		}
		_, problem = r.framing(r.in.avail()[:length], false)
	}
	if problem != "" {
		if binary.LittleEndian.Uint32(r.in.avail()) == blockSHB {
			r.ng.state = sectionLost // the section's blocks cannot be trusted
		}
		r.resync(start, problem, false)
		return nil
	}
	b := r.in.avail()[:length]
	r.in.skip(int(length))
	r.ngParse(start, b)
	return nil
}

// framing checks the framing of the block at the start of b (at least 12
// bytes): a known byte order, a sane total length (of which fill must then
// make sure) and, when b holds the whole block, the trailing length. For
// a section header it also takes the byte order it declares. With
// candidate, the block must also be of a known type, as resync wants.
func (r *Reader) framing(b []byte, candidate bool) (uint32, string) {
	s := &r.ng
	typ := binary.LittleEndian.Uint32(b)
	big := s.big
	if typ == blockSHB {
		switch byteOrderMagic {
		case binary.LittleEndian.Uint32(b[8:]):
			big = false
		case binary.BigEndian.Uint32(b[8:]):
			big = true
		default:
			return 0, fmt.Sprintf("section header with an unknown byte-order magic %#08x", binary.LittleEndian.Uint32(b[8:]))
		}
	} else if s.state == sectionLost || (candidate && s.state == sectionSkip) {
		return 0, "not a section header"
	}
	order := ngState{big: big}
	typ, length := order.u32(b), order.u32(b[4:])
	if candidate && minLength(typ) == 0 {
		return 0, "unknown block type"
	}
	switch {
	case length < 12 || length < minLength(typ):
		return 0, fmt.Sprintf("%s with a total length of %d bytes, too short", blockName(typ), length)
	case length%4 != 0:
		return 0, fmt.Sprintf("%s with a total length of %d bytes, not a multiple of 4", blockName(typ), length)
	case length > maxBlock:
		return 0, fmt.Sprintf("%s with a total length of %d bytes, more than the %d MiB a block may have", blockName(typ), length, maxBlock>>20)
	}
	if len(b) >= int(length) {
		if end := order.u32(b[length-4:]); end != length {
			return 0, fmt.Sprintf("%s whose trailing length %d does not match its total length %d", blockName(typ), end, length)
		}
	}
	return length, ""
}

// minLength is the smallest total length of a block of a known type, 0
// for an unknown type.
func minLength(typ uint32) uint32 {
	switch typ {
	case blockSHB:
		return 28
	case blockEPB, blockPB:
		return 32
	case blockIDB, blockDSB:
		return 20
	case blockSPB:
		return 16
	case blockNRB, blockISB, blockJournal, blockCustom, blockCustomNoCopy:
		return 12
	}
	return 0
}

// blockName names a block type in warnings.
func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockEPB:
		return "enhanced packet block"
	case blockSPB:
		return "simple packet block"
	case blockPB:
		return "packet block"
	case blockDSB:
		return "decryption secrets block"
	case blockNRB:
		return "name resolution block"
	case blockISB:
		return "interface statistics block"
	}
	return fmt.Sprintf("block of type %#x", typ)
}

// resync skips a malformed block that starts at start (the next unread
// byte): it looks at every byte after it for a block framed right whose
// content is valid, and reports the problem in one warning. Every byte,
// not every fourth: a capture cut short and then appended to (cat of a
// truncated file and another) leaves the next section unaligned. With
// atEnd the input has ended; resync then warns only when it found a
// block, and it reports whether it did.
func (r *Reader) resync(start int64, problem string, atEnd bool) bool {
	for {
		r.in.skip(1)
		if err := r.in.fill(12); err != nil {
			if atEnd {
				return false
			}
			r.in.skip(len(r.in.avail()))
			if r.ng.state != sectionSkip {
				r.warn(start, "%s; no valid block follows, the rest of the input (%d bytes) is skipped", problem, r.in.pos-start)
			}
			return false
		}
		if r.candidate() {
			if r.ng.state != sectionSkip {
				r.warn(start, "%s; skipped %d bytes to the next valid block", problem, r.in.pos-start)
			}
			return true
		}
	}
}

// candidate reports whether a valid block starts at the next unread byte
// (of which at least 12 are there).
func (r *Reader) candidate() bool {
	length, problem := r.framing(r.in.avail(), true)
	if problem != "" || r.in.fill(int(length)) != nil {
		return false
	}
	b := r.in.avail()[:length]
	if _, problem = r.framing(b, true); problem != "" {
		return false
	}
	switch typ := r.ng.u32(b); typ {
	case blockEPB, blockPB, blockSPB:
		return r.packetProblem(typ, b[8:length-4]) == ""
	}
	return true
}

// ngParse acts on a block framed right; b is the whole block. Frames
// become pending; problems of content are warnings that skip the block.
func (r *Reader) ngParse(start int64, b []byte) {
	s := &r.ng
	typ, body := s.u32(b), b[8:len(b)-4]
	if typ == blockSHB {
		r.sectionHeader(start, b)
		return
	}
	if s.state != sectionRead {
		return
	}
	switch typ {
	case blockEPB, blockPB, blockSPB:
		if problem := r.packetProblem(typ, body); problem != "" {
			r.warn(start, "%s %s; block skipped", blockName(typ), problem)
			return
		}
		r.packet(typ, body)
	case blockIDB:
		r.interfaceBlock(start, body)
	case blockDSB:
		kind, n := s.u32(body), s.u32(body[4:])
		if uint64(n) > uint64(len(body)-8) {
			r.warn(start, "decryption secrets block says %d bytes of secrets but holds %d; block skipped", n, len(body)-8)
			return
		}
		data := append([]byte(nil), body[8:8+n]...)
		r.events = append(r.events, event{kind: eventSecret, secret: Secret{Type: kind, Data: data}})
	}
}

// sectionHeader starts a new section (b is a whole section header block
// framed right, in its own byte order).
func (r *Reader) sectionHeader(start int64, b []byte) {
	s := &r.ng
	s.big = binary.LittleEndian.Uint32(b[8:]) != byteOrderMagic
	s.section++
	s.base, s.count = len(r.ifaces), 0
	major, minor := s.u16(b[12:]), s.u16(b[14:])
	if major != 1 {
		s.state = sectionSkip
		r.warn(start, "section %d has pcapng version %d.%d, which this reader does not know; its blocks are skipped", s.section, major, minor)
		return
	}
	s.state = sectionRead
}

// packetProblem says what is wrong with a packet block's content, "" when
// nothing is.
func (r *Reader) packetProblem(typ uint32, body []byte) string {
	s := &r.ng
	switch typ {
	case blockSPB:
		if s.count == 0 {
			return "comes before any interface of its section"
		}
		return ""
	case blockEPB:
		id, caplen := s.u32(body), s.u32(body[12:])
		if caplen > uint32(len(body)-20) {
			return fmt.Sprintf("says %d captured bytes but holds at most %d", caplen, len(body)-20)
		}
		if id >= uint32(s.count) {
			return fmt.Sprintf("is on interface %d, but its section declares %d", id, s.count)
		}
	case blockPB:
		id, caplen := s.u16(body), s.u32(body[12:])
		if caplen > uint32(len(body)-20) {
			return fmt.Sprintf("says %d captured bytes but holds at most %d", caplen, len(body)-20)
		}
		if int(id) >= s.count {
			return fmt.Sprintf("is on interface %d, but its section declares %d", id, s.count)
		}
	}
	return ""
}

// packet makes the frame of a valid packet block pending.
func (r *Reader) packet(typ uint32, body []byte) {
	s := &r.ng
	var id int
	var ts uint64
	var caplen, origlen uint32
	var data []byte
	switch typ {
	case blockEPB, blockPB:
		if typ == blockEPB {
			id = int(s.u32(body))
		} else {
			id = int(s.u16(body))
		}
		ts = uint64(s.u32(body[4:]))<<32 | uint64(s.u32(body[8:]))
		caplen, origlen = s.u32(body[12:]), s.u32(body[16:])
		data = body[20 : 20+caplen]
	case blockSPB:
		origlen = s.u32(body)
		caplen = min(origlen, uint32(len(body)-4))
		if snap := r.ifaces[s.base].SnapLen; snap != 0 {
			caplen = min(caplen, snap)
		}
		data = body[4 : 4+caplen]
	}
	f := &r.ifaces[s.base+id]
	r.data = data
	r.ci.CaptureLength, r.ci.Length, r.ci.InterfaceIndex = int(caplen), int(origlen), s.base+id
	if typ == blockSPB {
		// No timestamp: Wireshark shows none and stores 0.
		r.ci.Timestamp = time.Unix(0, 0)
	} else {
		r.ci.Timestamp = f.time(ts)
	}
	r.pending = true
}

// interfaceBlock declares an interface of the current section.
func (r *Reader) interfaceBlock(start int64, body []byte) {
	s := &r.ng
	if len(r.ifaces) >= maxInterfaces {
		r.warn(start, "more than %d interfaces; interface %d of section %d is ignored", maxInterfaces, s.count, s.section)
		return
	}
	f := iface{Interface: Interface{
		Index:     len(r.ifaces),
		ID:        s.count,
		Section:   s.section,
		LinkType:  layers.LinkType(s.u16(body)),
		SnapLen:   s.u32(body[4:]),
		Described: true,
	}}
	f.setResolution(6)
	r.interfaceOptions(start, &f, body[8:])
	s.count++
	r.ifaces = append(r.ifaces, f)
	r.events = append(r.events, event{kind: eventInterface, iface: len(r.ifaces) - 1})
}

// Option codes of an Interface Description Block.
const (
	optEnd         = 0
	optComment     = 1
	optName        = 2
	optDescription = 3
	optTSResol     = 9
	optFilter      = 11
	optOS          = 12
	optTSOffset    = 14
)

// interfaceOptions reads the options of an Interface Description Block.
func (r *Reader) interfaceOptions(start int64, f *iface, opts []byte) {
	s := &r.ng
	for len(opts) >= 4 {
		code, n := s.u16(opts), int(s.u16(opts[2:]))
		if code == optEnd {
			return
		}
		if n > len(opts)-4 {
			r.warn(start, "interface description block: option %d of %d bytes runs past the block; the rest of its options are ignored", code, n)
			return
		}
		v := opts[4 : 4+n]
		opts = opts[min(len(opts), 4+(n+3)&^3):]
		switch code {
		case optComment:
			if f.Comment == "" {
				f.Comment = cString(v)
			}
		case optName:
			f.Name = cString(v)
		case optDescription:
			f.Description = cString(v)
		case optOS:
			f.OS = cString(v)
		case optFilter:
			if n > 1 && v[0] == 0 { // a filter string; other types are not text
				f.Filter = cString(v[1:])
			}
		case optTSResol:
			if n != 1 || !f.setResolution(v[0]) {
				r.warn(start, "interface description block: if_tsresol %x is not a resolution this reader can use; microseconds assumed", v)
			}
		case optTSOffset:
			if n != 8 {
				r.warn(start, "interface description block: if_tsoffset of %d bytes instead of 8 is ignored", n)
				continue
			}
			f.TSOffset = int64(s.u64(v))
		}
	}
}

// cString is an option's string, without the NUL terminator some writers
// add.
func cString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}
