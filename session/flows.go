package session

import (
	"hash/maphash"
	"slices"
)

// flowTable finds connections by their flow key. A fleet capture holds
// hundreds of thousands of connections at once, so lookups must cost one
// or two cache misses: the table is an open-addressing array of the keys'
// 64-bit hashes and their connections, probed linearly, at most half full.
// Connections whose keys share a hash simply take further slots.
type flowTable struct {
	slots []flowSlot // a power of two of them; c == nil when free
	seed  maphash.Seed
	n     int
}

type flowSlot struct {
	h uint64
	c *conn
}

func newFlowTable() flowTable {
	return flowTable{slots: make([]flowSlot, 64), seed: maphash.MakeSeed()}
}

func (t *flowTable) hash(k flowKey) uint64 { return maphash.Comparable(t.seed, k) }

// get returns the connection of k, or nil.
func (t *flowTable) get(k flowKey) *conn { return t.getAt(k, t.hash(k)) }

// put adds c, in place of the connection of the same key if there is one.
func (t *flowTable) put(c *conn) { t.putAt(c, t.hash(c.key)) }

// remove removes c, if it is in the table.
func (t *flowTable) remove(c *conn) { t.removeAt(c, t.hash(c.key)) }

// getAt, putAt and removeAt are get, put and remove with the key's hash.
func (t *flowTable) getAt(k flowKey, h uint64) *conn {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.c == nil {
			return nil
		}
		if s.h == h && s.c.key == k {
			return s.c
		}
	}
}

func (t *flowTable) putAt(c *conn, h uint64) {
	if old := t.getAt(c.key, h); old != nil {
		t.removeAt(old, h)
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.place(flowSlot{h, c})
	t.n++
}

// place puts s in the first free slot from its hash's.
func (t *flowTable) place(s flowSlot) {
	mask := uint64(len(t.slots) - 1)
	i := s.h & mask
	for t.slots[i].c != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

func (t *flowTable) grow() {
	old := t.slots
	t.slots = make([]flowSlot, 2*len(old))
	for _, s := range old {
		if s.c != nil {
			t.place(s)
		}
	}
}

// removeAt frees c's slot and moves back the slots after it that probing
// would no longer reach (deletion without tombstones).
func (t *flowTable) removeAt(c *conn, h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i].c != c {
		if t.slots[i].c == nil {
			return // not in the table
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.slots[j].c != nil; j = (j + 1) & mask {
		// The slot at j may move back to i unless its home lies
		// cyclically within (i, j].
		if home := t.slots[j].h & mask; (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = flowSlot{}
	t.n--
}

// len is the number of connections in the table.
func (t *flowTable) len() int { return t.n }

// all returns every connection, in no particular order.
func (t *flowTable) all() []*conn {
	conns := make([]*conn, 0, t.n)
	for _, s := range t.slots {
		if s.c != nil {
			conns = append(conns, s.c)
		}
	}
	return conns
}

// inStreamOrder returns every connection by tcp.stream. When the table
// holds most of the streams ever numbered (a fleet that never closes),
// they are placed by number instead of sorted.
func (t *flowTable) inStreamOrder() []*conn {
	conns := t.all()
	top := int32(-1)
	for _, c := range conns {
		top = max(top, c.stream)
	}
	if int(top) >= 2*len(conns)+1024 {
		slices.SortFunc(conns, func(a, b *conn) int { return int(a.stream - b.stream) })
		return conns
	}
	byStream := make([]*conn, top+1)
	for _, c := range conns {
		byStream[c.stream] = c
	}
	return slices.DeleteFunc(byStream, func(c *conn) bool { return c == nil })
}
