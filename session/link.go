package session

import (
	"hash/fnv"
	"time"
)

// linkWindow is how long, in capture time, a forwarded copy can trail the
// message it copies.
const linkWindow = time.Minute

// Linker links the copies of one application message — the publisher's
// PUBLISH and the broker's forwarded copies to each subscriber — so that
// they share one logical message number and one analysis. V is what the
// caller keeps per logical message.
//
// A copy the broker forwards (or a DUP retransmission) of a topic and
// payload seen within the last minute joins that message; a client
// publishing the same bytes again without DUP starts a new one.
type Linker[V any] struct {
	m         map[uint64]*linked[V]
	next      int
	lastPrune time.Time
}

type linked[V any] struct {
	id   int
	seen time.Time
	val  V
}

// Link returns the logical message of a PUBLISH record, its number, and
// whether this is its first copy.
func (l *Linker[V]) Link(r *Record) (id int, val *V, first bool) {
	if l.m == nil {
		l.m = make(map[uint64]*linked[V])
	}
	l.prune(r.Time)
	h := fnv.New64a()
	h.Write(r.Packet.Topic)
	h.Write([]byte{0})
	h.Write(r.Packet.Payload)
	k := h.Sum64()
	if e, ok := l.m[k]; ok && r.Time.Sub(e.seen) < linkWindow && (!r.Packet.FromClient || r.Packet.Dup) {
		e.seen = r.Time
		return e.id, &e.val, false
	}
	l.next++
	e := &linked[V]{id: l.next, seen: r.Time}
	l.m[k] = e
	return e.id, &e.val, true
}

// prune forgets messages not seen for a link window of capture time.
func (l *Linker[V]) prune(now time.Time) {
	if now.Sub(l.lastPrune) < linkWindow/6 {
		return
	}
	l.lastPrune = now
	for k, e := range l.m {
		if now.Sub(e.seen) > linkWindow {
			delete(l.m, k)
		}
	}
}
