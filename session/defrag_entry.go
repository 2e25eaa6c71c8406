package session

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// fragKey identifies a datagram: see Defragmenter.
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8 // IPv4 only: IPv6 datagrams are keyed without it
	v6       bool
}

func fragKeyOf(f Fragment) fragKey {
	k := fragKey{src: f.Src, dst: f.Dst, id: f.ID, v6: f.V6}
	if !f.V6 {
		k.proto = f.Proto
	}
	return k
}

// String names the datagram in problems.
func (k fragKey) String() string {
	if k.v6 {
		return fmt.Sprintf("IPv6 datagram %s -> %s id 0x%08x", k.src, k.dst, k.id)
	}
	return fmt.Sprintf("IPv4 datagram %s -> %s id 0x%04x proto %d", k.src, k.dst, k.id, k.proto)
}

// fragSpan is a received byte range [lo, hi) of a datagram's payload.
type fragSpan struct{ lo, hi int }

// fragPiece is a fragment that brought bytes to a datagram (or its end).
type fragPiece struct{ lo, hi, frame int }

// Pooled entries keep their slices while they are at most this large.
const (
	keepEntryBuf    = 16 << 10
	keepEntryPieces = 64
)

// fragEntry is a datagram being reassembled.
type fragEntry struct {
	key         fragKey
	proto       uint8 // IPv4: the key's; IPv6: from the fragment at offset 0
	first       bool  // the fragment at offset 0 was received
	start, last time.Time
	end         int         // payload length once a last fragment came, else -1
	buf         []byte      // the payload so far, up to the farthest byte received
	spans       []fragSpan  // received ranges of buf: sorted, disjoint, not adjacent
	pieces      []fragPiece // fragments that brought bytes, in arrival order
	prev, next  *fragEntry  // the age list
}

// reset clears e for reuse, keeping its slices unless they grew large.
func (e *fragEntry) reset() {
	buf, spans, pieces := e.buf[:0], e.spans[:0], e.pieces[:0]
	if cap(buf) > keepEntryBuf {
		buf = nil
	}
	if cap(pieces) > keepEntryPieces {
		spans, pieces = nil, nil
	}
	*e = fragEntry{buf: buf, spans: spans, pieces: pieces}
}

// checkEnd returns why f contradicts the end of the datagram known so far,
// or "".
func (e *fragEntry) checkEnd(f Fragment) string {
	hi := f.Offset + len(f.Payload)
	switch {
	case f.More && e.end >= 0 && hi > e.end:
		return fmt.Sprintf("frame %d carries bytes up to %d, past the end (%d) set by an earlier last fragment", f.Frame, hi, e.end)
	case f.More:
		return ""
	case e.end >= 0 && e.end != hi:
		return fmt.Sprintf("frame %d is a last fragment ending at byte %d, but an earlier last fragment ended at %d", f.Frame, hi, e.end)
	case len(e.buf) > hi:
		return fmt.Sprintf("frame %d is a last fragment ending at byte %d, but earlier fragments carried bytes up to %d", f.Frame, hi, len(e.buf))
	}
	return ""
}

// grow extends buf to n bytes (the caller accounts for them).
func (e *fragEntry) grow(n int) {
	if n > len(e.buf) {
		e.buf = slices.Grow(e.buf, n-len(e.buf))[:n]
	}
}

// add merges f (checked, with room reserved) into e.
func (e *fragEntry) add(f Fragment, d *Defragmenter) {
	lo, hi := f.Offset, f.Offset+len(f.Payload)
	if f.Time.After(e.last) {
		e.last = f.Time
	}
	ends := !f.More && e.end < 0
	if ends {
		e.end = hi
	}
	if lo == 0 && !e.first {
		e.first = true
		if e.key.v6 {
			e.proto = f.Proto
		}
	}
	fresh, clo, chi := e.merge(lo, f.Payload)
	if clo < chi {
		d.overlap(e, f, clo, chi)
	}
	if fresh || ends {
		e.pieces = append(e.pieces, fragPiece{lo, hi, f.Frame})
	}
}

// merge copies the bytes of p (at offset lo) that e lacks and records them
// as received. It returns whether any byte was new and the range [clo, chi)
// where p differs from bytes received before (empty when it does not).
func (e *fragEntry) merge(lo int, p []byte) (fresh bool, clo, chi int) {
	hi := lo + len(p)
	clo, chi = hi, lo
	i := e.after(lo)
	first := i
	for pos := lo; pos < hi; {
		if i < len(e.spans) && e.spans[i].lo <= pos {
			end := min(e.spans[i].hi, hi)
			if a, b, ok := differ(e.buf[pos:end], p[pos-lo:end-lo]); ok {
				clo, chi = min(clo, pos+a), max(chi, pos+b)
			}
			pos = end
			i++
			continue
		}
		end := hi
		if i < len(e.spans) && e.spans[i].lo < hi {
			end = e.spans[i].lo
		}
		copy(e.buf[pos:end], p[pos-lo:end-lo])
		fresh = true
		pos = end
	}
	if fresh {
		e.insert(lo, hi, first)
	}
	return fresh, clo, chi
}

// after returns the index of the first span that ends after lo.
func (e *fragEntry) after(lo int) int {
	i, j := 0, len(e.spans)
	for i < j {
		h := int(uint(i+j) >> 1)
		if e.spans[h].hi > lo {
			j = h
		} else {
			i = h + 1
		}
	}
	return i
}

// insert records [lo, hi) as received, merging the spans it overlaps or
// touches; i is the index of the first span that ends after lo.
func (e *fragEntry) insert(lo, hi, i int) {
	j := i
	if j > 0 && e.spans[j-1].hi == lo {
		j--
	}
	k := j
	for k < len(e.spans) && e.spans[k].lo <= hi {
		k++
	}
	s := fragSpan{lo, hi}
	if k > j {
		s.lo = min(lo, e.spans[j].lo)
		s.hi = max(hi, e.spans[k-1].hi)
	}
	e.spans = slices.Replace(e.spans, j, k, s)
}

// differ returns the first and one past the last index where a and b (of
// equal length) differ, and whether they do.
func differ(a, b []byte) (first, end int, ok bool) {
	if bytes.Equal(a, b) {
		return 0, 0, false
	}
	for first = 0; a[first] == b[first]; first++ {
	}
	for end = len(a); a[end-1] == b[end-1]; end-- {
	}
	return first, end, true
}

// complete reports whether every byte up to the end was received.
func (e *fragEntry) complete() bool {
	return e.end >= 0 && len(e.spans) == 1 && e.spans[0].lo == 0 && e.spans[0].hi == e.end
}

// offsetFrames appends to dst the frames of e's fragments in offset order,
// each once (at its lowest offset). It reorders e.pieces.
func (e *fragEntry) offsetFrames(dst []int) []int {
	p := e.pieces
	slices.SortFunc(p, piecesByFrame)
	p = slices.CompactFunc(p, samePieceFrame)
	slices.SortFunc(p, piecesByOffset)
	for _, x := range p {
		dst = append(dst, x.frame)
	}
	return dst
}

func piecesByFrame(a, b fragPiece) int {
	if c := cmp.Compare(a.frame, b.frame); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func piecesByOffset(a, b fragPiece) int {
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	return cmp.Compare(a.frame, b.frame)
}

func samePieceFrame(a, b fragPiece) bool { return a.frame == b.frame }

// frameList returns the frames of e's fragments and extra, ascending, each
// once.
func (e *fragEntry) frameList(extra ...int) []int {
	f := make([]int, 0, len(e.pieces)+len(extra))
	for _, p := range e.pieces {
		f = append(f, p.frame)
	}
	f = append(f, extra...)
	slices.Sort(f)
	return slices.Compact(f)
}

// framesIn returns the frames of e's fragments that overlap [lo, hi), and
// extra, ascending, each once.
func (e *fragEntry) framesIn(lo, hi, extra int) []int {
	f := []int{extra}
	for _, p := range e.pieces {
		if p.lo < hi && lo < p.hi {
			f = append(f, p.frame)
		}
	}
	slices.Sort(f)
	return slices.Compact(f)
}

// got says what e received, for problems.
func (e *fragEntry) got() string {
	n := 0
	for _, s := range e.spans {
		n += s.hi - s.lo
	}
	if len(e.pieces) == 0 {
		return "nothing received before"
	}
	from := framesText(e.frameList())
	if e.end >= 0 {
		return fmt.Sprintf("%d of %d bytes received, from %s", n, e.end, from)
	}
	return fmt.Sprintf("%d bytes received, the last fragment missing, from %s", n, from)
}
