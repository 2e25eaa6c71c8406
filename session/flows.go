package session

import (
	"hash/maphash"
	"slices"
)

// flowTable finds connections by their flow key. A fleet capture holds
// hundreds of thousands of connections at once, so the table is kept
// small: it maps the key's 64-bit hash to the connection, and the rare
// connections whose keys share a hash are chained through conn.sameHash.
type flowTable struct {
	m    map[uint64]*conn
	seed maphash.Seed
	n    int
}

func newFlowTable() flowTable {
	return flowTable{m: make(map[uint64]*conn), seed: maphash.MakeSeed()}
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
	for c := t.m[h]; c != nil; c = c.sameHash {
		if c.key == k {
			return c
		}
	}
	return nil
}

func (t *flowTable) putAt(c *conn, h uint64) {
	if old := t.getAt(c.key, h); old != nil {
		t.removeAt(old, h)
	}
	c.sameHash = t.m[h]
	t.m[h] = c
	t.n++
}

func (t *flowTable) removeAt(c *conn, h uint64) {
	for p, at := (**conn)(nil), t.m[h]; at != nil; p, at = &at.sameHash, at.sameHash {
		if at != c {
			continue
		}
		switch {
		case p != nil:
			*p = c.sameHash
		case c.sameHash != nil:
			t.m[h] = c.sameHash
		default:
			delete(t.m, h)
		}
		c.sameHash = nil
		t.n--
		return
	}
}

// len is the number of connections in the table.
func (t *flowTable) len() int { return t.n }

// all returns every connection, in no particular order.
func (t *flowTable) all() []*conn {
	conns := make([]*conn, 0, t.n)
	for _, c := range t.m {
		for ; c != nil; c = c.sameHash {
			conns = append(conns, c)
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
