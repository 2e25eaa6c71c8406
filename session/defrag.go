package session

import (
	"fmt"
	"net/netip"
	"time"
)

// Defaults of DefragOptions.
const (
	defragMaxBytes     = 8 << 20
	defragMaxDatagrams = 4096
	defragMaxSize      = 65535
	defragTimeout      = 30 * time.Second
)

// DefragOptions configure a Defragmenter. A zero or negative field takes
// its default.
type DefragOptions struct {
	MaxBytes     int           // fragment bytes held across all datagrams being reassembled (0: 8 MiB)
	MaxDatagrams int           // datagrams being reassembled at once (0: 4096)
	MaxSize      int           // largest datagram payload accepted (0: 65535 for IPv4; IPv6 jumbograms are not reassembled)
	Timeout      time.Duration // capture time a datagram may take to complete (0: 30 s, as Linux ipfrag_time)
}

func (o DefragOptions) withDefaults() DefragOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = defragMaxBytes
	}
	if o.MaxDatagrams <= 0 {
		o.MaxDatagrams = defragMaxDatagrams
	}
	if o.MaxSize <= 0 {
		o.MaxSize = defragMaxSize
	}
	if o.Timeout <= 0 {
		o.Timeout = defragTimeout
	}
	return o
}

// Fragment is one IP fragment as a Defragmenter takes it: the fragment the
// IP decoder found (its Payload is borrowed, valid only during Add, and
// copied when held), the datagram's addresses and the frame that carried
// it.
type Fragment struct {
	IPFragment
	Src, Dst netip.Addr
	Frame    int       // capture frame number, for problems and for Datagram.Frames
	Time     time.Time // capture time of the frame
}

// Datagram is a reassembled datagram. Its Frames are the frames of the
// fragments that brought bytes to it (or its end, for an empty last
// fragment): a fragment that only repeats bytes already received, the same
// or different, is not listed (Wireshark lists every fragment).
type Datagram struct {
	V6       bool
	Src, Dst netip.Addr
	Proto    uint8
	Payload  []byte // the reassembled payload (e.g. a TCP header and data); valid until the next call on the Defragmenter
	Frames   []int  // frames of the fragments that made it, in offset order (each once); valid until the next call
}

// FragmentProblem is something wrong with a datagram's fragments: a
// finding, with the frames involved and the capture time it was found at.
// Its code is IPFragmentOverlap (overlapping fragments with different
// data), IPFragmentMalformed (fragments that cannot form a datagram; the
// datagram is discarded) or IPFragmentIncomplete (a datagram dropped before
// it completed: timed out, dropped at a cap, or still incomplete at the
// end). Its text is one sentence naming the datagram (src -> dst, id) and
// what is wrong; a cap reached names the cap.
type FragmentProblem struct {
	Finding
	Frames []int // ascending
	Time   time.Time
}

// maxFreeEntries is how many finished datagrams keep their buffers for
// reuse.
const maxFreeEntries = 16

// Defragmenter reassembles IPv4 and IPv6 datagrams from their fragments.
// It is not safe for concurrent use.
//
// The pipeline hands it each fragment the link and IP decoder finds; the
// fragment that completes a datagram gets the reassembled payload back, and
// the frame that carried it is the frame the datagram is reported in, as in
// Wireshark.
//
// # Keys
//
// A datagram is keyed by (IPv4, source, destination, identification,
// protocol) as in Linux (ip_fragment.c keys on saddr, daddr, id and
// protocol) and Wireshark (packet-ip.c mixes the protocol into the
// reassembly id). An IPv6 datagram is keyed by (source, destination,
// identification) only, as RFC 8200 section 4.5 says and as Linux
// (reassembly.c) and Wireshark (packet-ipv6.c) do: the next header of the
// fragmentable part may differ between fragments, and the one of the
// fragment at offset 0 is the datagram's protocol. Interfaces and VLANs are
// not part of the key (Wireshark mixes the VLAN id in for private IPv4
// addresses): the caller adds the fragments of one capture point.
//
// # Overlaps
//
// Fragments may arrive in any order. A byte received twice keeps its first
// value: later fragments only fill the bytes still missing. A duplicate
// fragment (the same bytes again) is absorbed silently. When overlapping
// bytes differ the datagram still completes, with the first bytes, and an
// "ip.fragment-overlap" problem names the frames: overlapping fragments with
// different data are an evasion technique (an inspector and the host may
// see different data), and auditors want to see them. Hosts behave
// differently: RFC 5722 tells IPv6 hosts to drop a datagram with
// overlapping fragments, and Linux drops IPv4 ones too; an inspector shows
// the datagram and flags it instead. Wireshark keeps the first data too, but
// orders the fragments by offset first, so when a fragment at a lower offset
// arrives after one it overlaps, Wireshark keeps the lower fragment's bytes
// where mqtap keeps the earlier arrival's; both flag the conflict.
//
// A datagram that completes, or that is discarded or dropped, is
// forgotten, as in Linux: a fragment of it that arrives later starts a new
// datagram, which is reported incomplete when it expires (Wireshark
// instead remembers completed datagrams for the whole capture and marks
// such fragments as overlaps).
//
// # Atomic fragments
//
// A fragment at offset 0 with no more fragments (an IPv6 fragment header on
// a packet that was not fragmented, RFC 6946) is a whole datagram: it comes
// back at once and does not touch the datagrams being reassembled.
//
// # Limits
//
// Memory is capped per datagram (DefragOptions.MaxSize) and in total
// (DefragOptions.MaxBytes, DefragOptions.MaxDatagrams). A datagram is reassembled in a
// buffer as long as its farthest byte received so far: that length, not
// only the bytes received, counts toward MaxBytes, so sparse fragments
// cannot hold more memory than the cap says. When a new datagram or new
// bytes would pass MaxDatagrams or MaxBytes, the oldest datagrams are
// dropped, each an "ip.fragment-incomplete" problem naming the cap; when
// the new fragment's own datagram alone would pass MaxBytes, that datagram
// is dropped with the fragment. A fragment past MaxSize is malformed.
// Datagrams expire by capture time (Fragment.Time, Expire), never by wall
// time.
type Defragmenter struct {
	opts       DefragOptions
	table      map[fragKey]*fragEntry
	head, tail *fragEntry // datagrams being reassembled, by start time, oldest first
	bytes      int        // sum of len(buf) over the table
	free       []*fragEntry
	done       *fragEntry // the entry of the datagram last returned, reused at the next call
	out        Datagram
	whole      []byte // payload of the last atomic fragment
	frames     []int
	problems   []FragmentProblem
}

// NewDefragmenter returns a Defragmenter with opts (zero fields take their
// defaults).
func NewDefragmenter(opts DefragOptions) *Defragmenter {
	return &Defragmenter{
		opts:  opts.withDefaults(),
		table: make(map[fragKey]*fragEntry),
		free:  make([]*fragEntry, 0, maxFreeEntries),
	}
}

// Add adds a fragment and returns the datagram it completes, if it does.
// The datagram and its slices are valid until the next Add, Expire or
// Flush. Datagrams that started more than Timeout before f.Time are
// expired first. A malformed fragment discards its datagram; problems are
// collected for Problems.
func (d *Defragmenter) Add(f Fragment) (*Datagram, bool) {
	d.recycle()
	d.expire(f.Time)
	k := fragKeyOf(f)
	if why := d.check(f); why != "" {
		e := d.table[k]
		if f.Offset == 0 && !f.More {
			e = nil // a whole datagram of its own: others are not touched
		}
		d.discard(e, f, why)
		return nil, false
	}
	if f.Offset == 0 && !f.More {
		return d.atomic(f), true
	}
	e := d.table[k]
	if e != nil {
		if why := e.checkEnd(f); why != "" {
			d.discard(e, f, why)
			return nil, false
		}
	} else {
		e = d.open(k, f)
	}
	if !d.reserve(e, f) {
		return nil, false
	}
	e.add(f, d)
	if !e.complete() {
		return nil, false
	}
	return d.finish(e), true
}

// Expire drops, as "ip.fragment-incomplete" problems, the datagrams that
// started more than Timeout before now (capture time).
func (d *Defragmenter) Expire(now time.Time) {
	d.recycle()
	d.expire(now)
}

// Flush ends the capture: every datagram still incomplete becomes an
// "ip.fragment-incomplete" problem and is dropped.
func (d *Defragmenter) Flush() {
	d.recycle()
	for d.head != nil {
		e := d.head
		d.report(IPFragmentIncomplete, e.last, e.frameList(),
			"%s is incomplete at the end of the capture: %s", e.key, e.got())
		d.drop(e)
	}
}

// Problems returns the problems found since the last call and forgets them.
func (d *Defragmenter) Problems() []FragmentProblem {
	p := d.problems
	d.problems = nil
	return p
}

// Held returns how many datagrams are being reassembled and the bytes they
// hold (for each, the length up to its farthest byte received).
func (d *Defragmenter) Held() (datagrams, bytes int) {
	return len(d.table), d.bytes
}

// check returns why f cannot be part of any datagram, or "".
func (d *Defragmenter) check(f Fragment) string {
	n := len(f.Payload)
	switch {
	case f.Offset < 0 || f.Offset%8 != 0:
		return fmt.Sprintf("frame %d has offset %d, not a non-negative multiple of 8", f.Frame, f.Offset)
	case f.More && n == 0:
		return fmt.Sprintf("frame %d is an empty fragment with more fragments to follow", f.Frame)
	case f.More && n%8 != 0:
		return fmt.Sprintf("frame %d is not the last fragment but carries %d bytes, not a multiple of 8", f.Frame, n)
	case n > d.opts.MaxSize || f.Offset > d.opts.MaxSize-n:
		return fmt.Sprintf("frame %d reaches byte %d, past MaxSize (%d bytes)", f.Frame, f.Offset+n, d.opts.MaxSize)
	}
	return ""
}

// atomic returns the datagram of a fragment that is a whole datagram.
func (d *Defragmenter) atomic(f Fragment) *Datagram {
	d.whole = append(d.whole[:0], f.Payload...)
	d.frames = append(d.frames[:0], f.Frame)
	d.out = Datagram{V6: f.V6, Src: f.Src, Dst: f.Dst, Proto: f.Proto, Payload: d.whole, Frames: d.frames}
	return &d.out
}

// finish removes the completed e from the table and returns its datagram;
// e's buffer stays the datagram's payload until the next call.
func (d *Defragmenter) finish(e *fragEntry) *Datagram {
	d.unlink(e)
	d.done = e
	d.frames = e.offsetFrames(d.frames[:0])
	k := e.key
	d.out = Datagram{V6: k.v6, Src: k.src, Dst: k.dst, Proto: e.proto, Payload: e.buf[:e.end], Frames: d.frames}
	return &d.out
}

// recycle gives the entry of the datagram last returned back to the pool.
func (d *Defragmenter) recycle() {
	if d.done != nil {
		d.release(d.done)
		d.done = nil
	}
}

// expire drops the datagrams that started more than Timeout before now.
func (d *Defragmenter) expire(now time.Time) {
	for d.head != nil && now.Sub(d.head.start) > d.opts.Timeout {
		e := d.head
		d.report(IPFragmentIncomplete, now, e.frameList(),
			"%s timed out incomplete after Timeout (%v of capture time): %s", e.key, d.opts.Timeout, e.got())
		d.drop(e)
	}
}

// discard drops e (nil when f starts no datagram) because f is malformed.
func (d *Defragmenter) discard(e *fragEntry, f Fragment, why string) {
	k := fragKeyOf(f)
	frames := []int{f.Frame}
	if e != nil {
		frames = e.frameList(f.Frame)
		d.drop(e)
	}
	d.report(IPFragmentMalformed, f.Time, frames, "%s is discarded: %s", k, why)
}

// open starts a datagram for f, first dropping the oldest one when
// MaxDatagrams are being reassembled.
func (d *Defragmenter) open(k fragKey, f Fragment) *fragEntry {
	for len(d.table) >= d.opts.MaxDatagrams && d.head != nil {
		old := d.head
		d.report(IPFragmentIncomplete, f.Time, old.frameList(),
			"%s is dropped incomplete (%s): it was the oldest when frame %d started a datagram past MaxDatagrams (%d)",
			old.key, old.got(), f.Frame, d.opts.MaxDatagrams)
		d.drop(old)
	}
	e := d.alloc()
	e.key, e.start, e.last, e.end = k, f.Time, f.Time, -1
	if !k.v6 {
		e.proto = k.proto
	}
	d.table[k] = e
	d.link(e)
	return e
}

// reserve makes room for f's bytes in e under MaxBytes, dropping the
// oldest other datagrams first; when that is not enough, e itself is
// dropped with f and reserve returns false.
func (d *Defragmenter) reserve(e *fragEntry, f Fragment) bool {
	grow := f.Offset + len(f.Payload) - len(e.buf)
	if grow <= 0 {
		return true
	}
	for d.bytes+grow > d.opts.MaxBytes {
		old := d.head
		if old == e {
			old = e.next
		}
		if old == nil {
			frames := e.frameList(f.Frame)
			d.report(IPFragmentIncomplete, f.Time, frames,
				"%s is dropped incomplete (%s) with the new fragment of frame %d: it would hold %d bytes, past MaxBytes (%d bytes held at most)",
				e.key, e.got(), f.Frame, len(e.buf)+grow, d.opts.MaxBytes)
			d.drop(e)
			return false
		}
		d.report(IPFragmentIncomplete, f.Time, old.frameList(),
			"%s is dropped incomplete (%s): it was the oldest when frame %d reached MaxBytes (%d bytes held at most)",
			old.key, old.got(), f.Frame, d.opts.MaxBytes)
		d.drop(old)
	}
	d.bytes += grow
	e.grow(f.Offset + len(f.Payload))
	return true
}

// overlap reports that f's bytes in [lo, hi) differ from those e holds.
func (d *Defragmenter) overlap(e *fragEntry, f Fragment, lo, hi int) {
	frames := e.framesIn(lo, hi, f.Frame)
	d.report(IPFragmentOverlap, f.Time, frames,
		"%s: frame %d overlaps bytes %d to %d with data different from %s; the first data received is kept",
		e.key, f.Frame, lo, hi-1, framesText(framesWithout(frames, f.Frame)))
}

// drop removes e from the table and returns it to the pool.
func (d *Defragmenter) drop(e *fragEntry) {
	d.unlink(e)
	d.release(e)
}

// unlink removes e from the table and the age list.
func (d *Defragmenter) unlink(e *fragEntry) {
	delete(d.table, e.key)
	d.bytes -= len(e.buf)
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		d.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		d.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// link inserts e in the age list by start time (captures are not always in
// time order, so it walks back from the newest).
func (d *Defragmenter) link(e *fragEntry) {
	p := d.tail
	for p != nil && p.start.After(e.start) {
		p = p.prev
	}
	e.prev = p
	if p != nil {
		e.next = p.next
		p.next = e
	} else {
		e.next = d.head
		d.head = e
	}
	if e.next != nil {
		e.next.prev = e
	} else {
		d.tail = e
	}
}

// alloc returns an entry from the pool, or a new one.
func (d *Defragmenter) alloc() *fragEntry {
	if n := len(d.free); n > 0 {
		e := d.free[n-1]
		d.free = d.free[:n-1]
		return e
	}
	return &fragEntry{}
}

// release clears e and keeps it for reuse while the pool has room.
func (d *Defragmenter) release(e *fragEntry) {
	e.reset()
	if len(d.free) < cap(d.free) {
		d.free = append(d.free, e)
	}
}

// report records a problem.
func (d *Defragmenter) report(code FindingCode, t time.Time, frames []int, format string, args ...any) {
	f := Finding{Code: code, Text: fmt.Sprintf(format, args...)}
	d.problems = append(d.problems, FragmentProblem{Finding: f, Frames: frames, Time: t})
}
