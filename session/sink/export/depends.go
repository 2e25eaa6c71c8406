package export

import (
	"context"
	"net/netip"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
)

// maxChain bounds the frames remembered per direction of a connection while
// no packet boundary falls at the end of a frame.
const maxChain = 4096

// plan is the middle pass of a plain export. It runs the capture through
// the pipeline again (without the analysis stages) and returns the frames
// to write: those c selected, the frames they depend on, and with
// withContext every frame of the selected connections.
//
// A frame depends on the earlier frames that carry bytes of the MQTT packets
// it completes, as in Wireshark's "Export Specified Packets" with depended
// upon packets: without them Wireshark meets a segment that starts in the
// middle of a packet and loses the MQTT framing of the rest of the
// connection. When such an earlier frame itself starts in the middle of a
// packet, the frames of that packet are kept too, back to a frame that
// starts on a packet boundary. The bytes of each direction are counted
// from the TCP sequence numbers (retransmitted bytes once).
//
// The bookkeeping is capped (maxChain, maxHoles); st counts what the caps
// left out, with Truncated. A cancelled ctx stops it with ctx's error.
func plan(ctx context.Context, path string, c *Collector, withContext bool, pipeOpts session.Options) (need bitmap, st Stats, err error) {
	need = append(bitmap(nil), c.frames...)
	end := c.lastFrame(withContext)
	if end <= 0 {
		return need, st, nil
	}
	src, err := file.Open(path, file.Options{Frames: end})
	if err != nil {
		return nil, st, err
	}
	defer src.Close()
	d := &depends{c: c, need: &need, streams: make(map[int]*streamBytes)}
	pipeOpts.OnTCPFrame = func(f session.TCPFrame) {
		if withContext && c.streams.has(f.Stream) {
			need.set(f.Frame)
		}
		if f.Stream < len(c.lastSel) && f.Frame <= int(c.lastSel[f.Stream]) {
			d.segment(f)
		}
	}
	p := session.New(pipeOpts, func(rec *session.Record) error {
		d.record(rec)
		return nil
	})
	if err := src.Run(ctx, p); err != nil {
		return nil, st, err
	}
	for _, s := range d.streams {
		d.count(s)
	}
	d.st.Truncated = src.Truncated()
	return need, d.st, nil
}

// depends follows the bytes of each direction of the MQTT connections.
type depends struct {
	c       *Collector
	need    *bitmap
	streams map[int]*streamBytes
	st      Stats // ChainCut and HolesLost of the streams done with
}

// count adds what the caps left out of a stream's bookkeeping to d.st.
func (d *depends) count(s *streamBytes) {
	for i := range s.dirs {
		d.st.ChainCut += s.dirs[i].chainCut
		d.st.HolesLost += s.dirs[i].holesLost
	}
}

// streamBytes is the byte accounting of one connection with a selected
// packet, until its last selected packet: its two directions by sender.
type streamBytes struct {
	src  [2]netip.AddrPort
	dirs [2]dirBytes
}

// dirBytes counts the bytes one side sent and the MQTT packets delivered
// from them.
type dirBytes struct {
	started  bool
	next     uint32 // the sequence number after the highest byte received
	nextOff  int64  // next as an offset from the first sequence number
	holes    []span // bytes below next not received yet (out of order)
	end      int64  // bytes received so far
	consumed int64  // bytes of the MQTT packets delivered so far
	chain    []chained

	chainCut, holesLost int // see Stats
}

// span is a range of stream offsets [from, to).
type span struct{ from, to int64 }

// maxHoles bounds the missing ranges remembered per direction.
const maxHoles = 64

// receive counts the bytes of a segment that were not received before: the
// ones past the highest byte so far and those filling a hole left by
// segments that came out of order.
func (b *dirBytes) receive(seq uint32, length int) int64 {
	from := b.nextOff + int64(int32(seq-b.next))
	to := from + int64(length)
	var n int64
	for i := 0; i < len(b.holes); i++ {
		h := b.holes[i]
		lo, hi := max(from, h.from), min(to, h.to)
		if lo >= hi {
			continue
		}
		n += hi - lo
		switch {
		case lo == h.from && hi == h.to:
			b.holes = append(b.holes[:i], b.holes[i+1:]...)
			i--
		case lo == h.from:
			b.holes[i].from = hi
		case hi == h.to:
			b.holes[i].to = lo
		default:
			b.holes[i].to = lo
			b.holes = append(b.holes, span{hi, h.to})
		}
	}
	if to > b.nextOff {
		switch {
		case from <= b.nextOff:
		case len(b.holes) < maxHoles:
			b.holes = append(b.holes, span{b.nextOff, from})
		default:
			b.holesLost++ // its bytes will count as new when they come
		}
		n += to - max(from, b.nextOff)
		b.next += uint32(to - b.nextOff)
		b.nextOff = to
	}
	return n
}

// chained is a frame whose bytes may still be needed: one of the frames
// since the last frame that ended on a packet boundary.
type chained struct {
	frame int
	end   int64 // byte count at the end of the frame
}

// dir returns the accounting of src's direction of stream, or nil when the
// connection has more than two endpoints (never, for TCP).
func (d *depends) dir(stream int, src netip.AddrPort, create bool) *dirBytes {
	s := d.streams[stream]
	if s == nil {
		if !create {
			return nil
		}
		s = &streamBytes{}
		d.streams[stream] = s
	}
	for i := range s.src {
		if s.src[i] == src {
			return &s.dirs[i]
		}
	}
	if !create {
		return nil
	}
	for i := range s.src {
		if !s.src[i].IsValid() {
			s.src[i] = src
			return &s.dirs[i]
		}
	}
	return nil
}

// segment counts the new bytes of a TCP frame of an MQTT connection.
func (d *depends) segment(seg session.TCPFrame) {
	if !seg.SYN && seg.Payload == 0 {
		return
	}
	b := d.dir(seg.Stream, seg.Src, true)
	if b == nil {
		return
	}
	if seg.SYN {
		b.started, b.next = true, seg.Seq+1
		return
	}
	if !b.started {
		b.started, b.next = true, seg.Seq
	}
	n := b.receive(seg.Seq, seg.Payload)
	if n <= 0 {
		return // a retransmission
	}
	b.end += n
	if len(b.chain) == maxChain {
		b.chain = append(b.chain[:0], b.chain[1:]...)
		b.chainCut++
	}
	b.chain = append(b.chain, chained{seg.Frame, b.end})
}

// record consumes the bytes of one MQTT packet; when its frame is exported,
// the frames holding its bytes (and those of the packets they start with)
// are too.
func (d *depends) record(r *session.Record) {
	b := d.dir(r.Stream, netip.AddrPortFrom(r.Src, r.SrcPort), false)
	if b == nil {
		return
	}
	if d.c.frames.has(r.Frame) {
		for _, f := range b.chain {
			if f.frame <= r.Frame {
				d.need.set(f.frame)
			}
		}
	}
	hdr, err := decode.ParseHeader(r.Packet.Raw)
	resync := err != nil || hdr.Total() != len(r.Packet.Raw)
	for _, f := range r.Findings {
		resync = resync || f.Code == session.TCPGap || f.Code == session.MQTTResync
	}
	b.consumed += int64(len(r.Packet.Raw))
	if resync || b.consumed > b.end {
		// Bytes were lost or skipped: start again at the end of what was
		// received.
		b.consumed, b.chain = b.end, b.chain[:0]
	}
	// Frames up to the last one that ends where this packet ends are not
	// needed by the packets to come.
	for i := len(b.chain) - 1; i >= 0; i-- {
		if b.chain[i].end == b.consumed {
			b.chain = append(b.chain[:0], b.chain[i+1:]...)
			break
		}
	}
	if r.Frame >= int(d.c.lastSel[r.Stream]) {
		d.count(d.streams[r.Stream])
		delete(d.streams, r.Stream) // no selected packet of the connection is left
	}
}

// ignore drops the warnings of the passes after the first, which already
// reported them.
func ignore(string) {}
