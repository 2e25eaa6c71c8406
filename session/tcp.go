package session

import (
	"fmt"
	"time"
)

// TCP reassembly. Each direction of a connection hands its bytes to the
// MQTT framing (feed) in sequence order, each with the frame it arrived in;
// bytes the capture does not hold are handed over as a gap of known length
// (lost), so the framing can go on right after a packet that spans the gap.
//
// Call order for one segment: Pipeline.segment, which first applies the
// segment's acknowledgement to the other direction (ack), then delivers the
// segment's new bytes at once when they continue the direction (the fast
// path: no copy), or holds a copy behind the hole before them (hold).
//
// Held data is released when the hole is filled (attributed to the frame
// that filled it, which completes the packets waiting behind it), or given
// up (giveUp) as soon as the capture shows the hole will never be filled:
// the peer acknowledged bytes past it, the direction ended (FIN or RST),
// the data waited FlushAfter of capture time, or the held bytes reached
// their cap. Given-up data keeps the frames it arrived in; the records it
// yields are put back in frame order by the pipeline's queue (order.go).

// tcpDir is the reassembly state of one direction of a connection.
type tcpDir struct {
	next    uint32   // sequence number of the next byte to deliver
	base    uint32   // sequence number of relative position 0 (Wireshark's relative sequence numbers)
	acked   uint32   // highest acknowledgement the peer sent for this direction
	finSeq  uint32   // sequence number of its FIN
	started bool     // next and base are known
	hasAck  bool     // acked is set
	holder  bool     // registered in Pipeline.holders
	fin     bool     // the sender closed the direction
	ooo     *reorder // what is held past a hole; nil when nothing is
}

// reorder is what a direction holds past a hole. It is allocated when a
// segment is first held and dropped when the last is delivered, so that
// the many connections that never hold anything do not carry it.
type reorder struct {
	segs  []heldSeg // segments past a hole, sorted by sequence number
	bytes int       // captured bytes held
	since time.Time // capture time the oldest held segment arrived
}

// held returns the segments the direction holds past a hole.
func (d *tcpDir) held() []heldSeg {
	if d.ooo == nil {
		return nil
	}
	return d.ooo.segs
}

// finished reports whether every byte of a closed direction was delivered.
func (d *tcpDir) finished() bool {
	return d.fin && d.ooo == nil && seqDiff(d.next, d.finSeq) >= 0
}

// heldSeg is a segment held behind a hole.
type heldSeg struct {
	seq  uint32
	data []byte // the captured bytes (a copy)
	wire int    // bytes on the wire: more than len(data) when the snap length cut the frame
	ctx  frameCtx
}

// seqDiff is a - b in sequence space (RFC 1982 arithmetic).
func seqDiff(a, b uint32) int { return int(int32(a - b)) }

// relative returns seq as a Wireshark relative sequence number.
func (d *tcpDir) relative(seq uint32) uint32 { return seq - d.base }

// segment takes one TCP segment of direction i of c: tcp holds its header
// and captured payload, wire is its payload length on the wire.
func (p *Pipeline) segment(c *conn, i int, tcp *TCPHeader, wire int, ctx *frameCtx) {
	d := &c.halves[i].tcp
	if tcp.ACK {
		p.ack(c, 1-i, tcp.Ack)
	}
	seq := tcp.Seq
	if tcp.SYN {
		if !d.started {
			d.started, d.base, d.next = true, seq, seq+1
		}
		seq++ // data sent with a SYN (TCP Fast Open) starts after it
	}
	if wire > 0 {
		if !d.started {
			// The capture started after this direction's SYN: framing
			// starts at an unknown point of the byte stream.
			d.started, d.base, d.next = true, seq-1, seq
			h := &c.halves[i]
			h.midflow, h.resync = true, true
			c.missed(i)
		}
		if diff := seqDiff(seq, d.next); diff > 0 {
			p.hold(c, i, seq, tcp.Payload, wire, ctx)
		} else if -diff < wire {
			p.own = diff == 0 && ctx == &p.cur
			p.take(c, i, seq, tcp.Payload, wire, ctx)
			p.own = false
			p.drain(c, i, ctx)
		}
	}
	if tcp.FIN && d.started {
		d.fin, d.finSeq = true, seq+uint32(wire)
	}
	if tcp.FIN || tcp.RST {
		// Nothing will fill a hole any more: the sender is done, or the
		// connection is gone.
		p.giveUpAll(c, i, "")
	}
	if tcp.RST {
		p.giveUpAll(c, 1-i, "")
	}
}

// take delivers the bytes of a segment that starts at or before d.next and
// ends after it: the captured ones, then those the snap length cut off as
// a gap.
func (p *Pipeline) take(c *conn, i int, seq uint32, data []byte, wire int, ctx *frameCtx) {
	d := &c.halves[i].tcp
	if skip := seqDiff(d.next, seq); skip < len(data) {
		d.next = seq + uint32(len(data))
		if c.kind != kindOther {
			p.feed(c, i, data[skip:], ctx)
		}
	}
	if end := seq + uint32(wire); seqDiff(end, d.next) > 0 {
		if c.kind != kindOther {
			p.lost(c, i, seqDiff(end, d.next), ctx, lostSnap, "")
		}
		d.next = end
	}
}

// drain delivers the held segments that the bytes delivered so far have
// reached. They complete their packets in the frame ctx.
func (p *Pipeline) drain(c *conn, i int, ctx *frameCtx) {
	d := &c.halves[i].tcp
	r := d.ooo
	if r == nil || seqDiff(r.segs[0].seq, d.next) > 0 {
		return
	}
	for len(r.segs) > 0 && seqDiff(r.segs[0].seq, d.next) <= 0 {
		s := r.segs[0]
		r.segs = r.segs[1:]
		r.bytes -= len(s.data)
		p.held -= len(s.data)
		if seqDiff(s.seq+uint32(s.wire), d.next) > 0 {
			use := ctx
			if use == nil {
				use = &s.ctx
			}
			p.take(c, i, s.seq, s.data, s.wire, use)
		}
	}
	switch {
	case len(r.segs) > 0:
		r.resetSince()
	case d.ooo == r:
		d.ooo = nil // let it go
	}
}

// resetSince sets since to the arrival of the oldest segment held.
func (r *reorder) resetSince() {
	r.since = r.segs[0].ctx.at
	for _, s := range r.segs[1:] {
		if s.ctx.at.Before(r.since) {
			r.since = s.ctx.at
		}
	}
}

// hold keeps a copy of a segment that starts past d.next, unless the
// capture already shows that the bytes before it were lost.
func (p *Pipeline) hold(c *conn, i int, seq uint32, data []byte, wire int, ctx *frameCtx) {
	d := &c.halves[i].tcp
	if c.kind == kindOther {
		d.next = seq + uint32(wire) // nothing is decoded: follow the sequence numbers only
		return
	}
	if d.ooo == nil {
		d.ooo = &reorder{since: ctx.at}
	}
	r := d.ooo
	at := len(r.segs)
	for at > 0 && seqDiff(r.segs[at-1].seq, seq) > 0 {
		at--
	}
	if at > 0 && r.segs[at-1].seq == seq && r.segs[at-1].wire >= wire {
		return // a retransmission of a held segment
	}
	s := heldSeg{seq: seq, data: append([]byte(nil), data...), wire: wire, ctx: *ctx}
	r.segs = append(r.segs, heldSeg{})
	copy(r.segs[at+1:], r.segs[at:])
	r.segs[at] = s
	r.bytes += len(data)
	p.held += len(data)
	if !d.holder {
		d.holder = true
		p.holders = append(p.holders, holder{c: c, i: i})
	}
	switch {
	case d.hasAck && seqDiff(d.acked, d.next) > 0:
		// The peer has acknowledged bytes the capture does not hold.
		p.giveUp(c, i, d.acked, "")
	case r.bytes > p.opts.MaxHeld/4:
		p.giveUpAll(c, i, capText(p.opts.MaxHeld/4, "per direction of a connection"))
	}
	for p.held > p.opts.MaxHeld && p.giveUpOldest(capText(p.opts.MaxHeld, "across connections")) {
	}
}

// giveUpOldest gives up the holes of the direction whose held data waited
// longest. It reports whether there was one.
func (p *Pipeline) giveUpOldest(why string) bool {
	var oldest *holder
	for k := range p.holders {
		h := &p.holders[k]
		if h.i < 0 || h.c.halves[h.i].tcp.ooo == nil {
			continue
		}
		if oldest == nil || h.c.halves[h.i].tcp.ooo.since.Before(oldest.c.halves[oldest.i].tcp.ooo.since) {
			oldest = h
		}
	}
	if oldest == nil {
		return false
	}
	p.giveUpAll(oldest.c, oldest.i, why)
	return true
}

// ack applies an acknowledgement the peer sent for direction i: bytes it
// acknowledges that the capture does not hold will never come.
func (p *Pipeline) ack(c *conn, i int, ack uint32) {
	d := &c.halves[i].tcp
	if !d.started {
		return
	}
	if !d.hasAck || seqDiff(ack, d.acked) > 0 {
		d.acked, d.hasAck = ack, true
	}
	if d.ooo != nil && seqDiff(ack, d.next) > 0 {
		p.giveUp(c, i, ack, "")
	}
}

// giveUpAll gives up every hole of direction i: all held data is
// delivered in the frames it arrived in. why names a cap that forced it.
func (p *Pipeline) giveUpAll(c *conn, i int, why string) {
	held := c.halves[i].tcp.held()
	if len(held) == 0 {
		return
	}
	if why != "" {
		p.stats.CapsReached++
	}
	last := held[len(held)-1]
	end := last.seq + uint32(last.wire)
	for _, s := range held {
		if e := s.seq + uint32(s.wire); seqDiff(e, end) > 0 {
			end = e
		}
	}
	p.giveUp(c, i, end, why)
}

// giveUp declares the bytes of direction i before sequence number upto
// that the capture does not hold lost, and delivers the held data up to
// there (and what follows it without a hole) in the frames it arrived in.
func (p *Pipeline) giveUp(c *conn, i int, upto uint32, why string) {
	d := &c.halves[i].tcp
	for seqDiff(upto, d.next) > 0 {
		held := d.held()
		if len(held) > 0 && seqDiff(held[0].seq, d.next) <= 0 {
			p.drain(c, i, nil)
			continue
		}
		end := upto
		if len(held) > 0 && seqDiff(held[0].seq, upto) < 0 {
			end = held[0].seq
		}
		n := seqDiff(end, d.next)
		var ctx *frameCtx
		if len(held) > 0 {
			ctx = &held[0].ctx
		} else {
			ctx = &p.cur
		}
		p.lost(c, i, n, ctx, lostHole, why)
		d.next = end
	}
	p.drain(c, i, nil)
}

// capText says which cap of held data was reached.
func capText(n int, scope string) string {
	return fmt.Sprintf("the cap of %s of out-of-order data held %s was reached", byteSize(n), scope)
}

// byteSize writes n bytes the way a person reads them: "512 bytes",
// "64 KiB", "32 MiB".
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// holder is a direction that holds data which, once released, may yield
// records in frames before the current one.
type holder struct {
	c *conn
	i int
}

// holding reports whether h still holds such data, and the earliest frame
// a record from it can belong to.
func (h holder) holding() (frame int, ok bool) {
	c := h.c
	if h.i < 0 {
		held := c.pending()
		if len(held) == 0 || c.late {
			return 0, false
		}
		return held[0].ctx.frame, true
	}
	held := c.halves[h.i].tcp.held()
	if len(held) == 0 {
		return 0, false
	}
	frame = held[0].ctx.frame
	for _, s := range held[1:] {
		frame = min(frame, s.ctx.frame)
	}
	return frame, true
}

// expireHolds gives up holes whose data waited FlushAfter of capture time,
// and stops detection that held data that long from holding back the
// output.
func (p *Pipeline) expireHolds() {
	limit := p.now.Add(-p.opts.FlushAfter)
	for _, h := range p.holders {
		if h.i < 0 {
			if held := h.c.pending(); len(held) > 0 && held[0].ctx.at.Before(limit) {
				h.c.late = true
			}
			continue
		}
		if r := h.c.halves[h.i].tcp.ooo; r != nil && r.since.Before(limit) {
			p.giveUpAll(h.c, h.i, "")
		}
	}
}
