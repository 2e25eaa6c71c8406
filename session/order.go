package session

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Frame order. Records leave the pipeline in frame order: a record's Frame
// is never smaller than the one before it. Most packets are complete in the
// frame being read, and go to the handler at once. Some belong to earlier
// frames: the data behind a hole that is given up keeps the frames it
// arrived in, and so does the data a connection held while its protocol
// was being detected. While any direction holds such data (a holder),
// records of later frames wait in a queue, and leave it as soon as no
// holder can yield a record of an earlier frame.

// queued is a control packet waiting for its turn.
type queued struct {
	c         *conn
	i         int
	raw       []byte
	ctx       frameCtx
	malformed string
	notes     notes
}

// inOrder reports whether a packet of frame can go to the handler now.
func (p *Pipeline) inOrder(frame int) bool {
	return len(p.queue) == 0 && (len(p.holders) == 0 || frame <= p.low())
}

// low returns the earliest frame a holder can still yield a record of,
// and forgets the holders that hold nothing any more.
func (p *Pipeline) low() int {
	low := math.MaxInt
	kept := p.holders[:0]
	for _, h := range p.holders {
		frame, ok := h.holding()
		if !ok {
			h.release()
			continue
		}
		kept = append(kept, h)
		low = min(low, frame)
	}
	clear(p.holders[len(kept):])
	p.holders = kept
	return low
}

// release marks a holder as no longer registered.
func (h holder) release() {
	if h.i < 0 {
		h.c.pendingHolder = false
		return
	}
	h.c.halves[h.i].tcp.holder = false
}

// enqueue keeps a copy of a packet that must wait for earlier frames.
func (p *Pipeline) enqueue(c *conn, i int, raw []byte, ctx *frameCtx, malformed string, n notes) {
	q := queued{c: c, i: i, raw: append([]byte(nil), raw...), ctx: *ctx, malformed: malformed, notes: n}
	at := len(p.queue)
	if at > 0 && p.queue[at-1].ctx.frame > ctx.frame {
		// After every packet of the same or an earlier frame, so that
		// packets of one frame keep their order.
		at = sort.Search(len(p.queue), func(k int) bool { return p.queue[k].ctx.frame > ctx.frame })
	}
	p.queue = append(p.queue, queued{})
	copy(p.queue[at+1:], p.queue[at:])
	p.queue[at] = q
	p.queued += len(raw)
	if p.queued > p.opts.MaxQueued && !p.unblocking {
		p.unblocking = true
		p.unblock()
		p.unblocking = false
	}
}

// unblock makes the holders that hold the queue back let go, when the
// packets waiting behind them reach Options.MaxQueued: holes are given up
// (their data keeps its frames), detection that still holds data no longer
// holds the output (that data goes to the frame that decides).
func (p *Pipeline) unblock() {
	why := fmt.Sprintf("the cap of %s of MQTT packets waiting for earlier frames was reached", byteSize(p.opts.MaxQueued))
	for _, h := range slices.Clone(p.holders) {
		if _, ok := h.holding(); !ok {
			continue
		}
		p.stats.CapsReached++
		if h.i < 0 {
			h.c.late = true
			continue
		}
		p.giveUpAll(h.c, h.i, why)
	}
}

// release hands the queued packets whose turn has come to the handler; all
// of them with all true (the end of the capture).
func (p *Pipeline) release(all bool) {
	if len(p.queue) == 0 {
		return
	}
	low := math.MaxInt
	if !all && len(p.holders) > 0 {
		low = p.low()
	}
	n := 0
	for n < len(p.queue) && p.queue[n].ctx.frame <= low && p.err == nil {
		q := &p.queue[n]
		p.emit(q.c, q.i, q.raw, &q.ctx, q.malformed, &q.notes)
		p.queued -= len(q.raw)
		n++
	}
	if p.err != nil {
		n, p.queued = len(p.queue), 0
	}
	clear(p.queue[:n])
	p.queue = append(p.queue[:0], p.queue[n:]...)
}
