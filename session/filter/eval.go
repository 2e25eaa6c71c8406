package filter

import (
	"bytes"
	"net/netip"

	"github.com/mqtap/mqtap/session"
)

// eval evaluates the expression over the records rs (one record for Match,
// a frame's records for MatchFrame).
func (n *node) eval(rs []*session.Record) bool {
	switch n.op {
	case nTest:
		return n.t.eval(rs)
	case nNot:
		return !n.kids[0].eval(rs)
	case nAnd:
		for _, k := range n.kids {
			if !k.eval(rs) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range n.kids {
			if k.eval(rs) {
				return true
			}
		}
		return false
	case nXor:
		odd := false
		for _, k := range n.kids {
			odd = odd != k.eval(rs)
		}
		return odd
	}
	return false
}

// next stores in v the operand's next value and advances c.
func (o *operand) next(rs []*session.Record, c *cursor, v *val) bool {
	if o.fn == fnCount {
		if c.ri > 0 || c.pos < 0 {
			return false
		}
		var cc cursor
		var w val
		n := uint64(0)
		for o.nextValue(rs, &cc, &w) {
			n++
		}
		c.pos = -1
		*v = val{k: vUint, u: n}
		return n > 0
	}
	return o.nextValue(rs, c, v)
}

// nextValue is next for every operand but count().
func (o *operand) nextValue(rs []*session.Record, c *cursor, v *val) bool {
	for o.def.next(rs, c, v) {
		if o.sl != nil {
			if v.k != vBytes {
				continue
			}
			b, ok := o.sl.apply(v.b)
			if !ok {
				continue
			}
			v.b = b
		}
		switch {
		case o.fn == fnLen:
			if v.k != vBytes {
				continue
			}
			*v = val{k: vUint, u: uint64(len(v.b))}
		case o.masked:
			if v.k != vUint {
				continue
			}
			v.u &= o.mask
		}
		return true
	}
	return false
}

// eval evaluates one test with tshark's quantifiers: with t.all every
// occurrence (every pair, against a field) must satisfy the relation and
// there must be at least one; otherwise one occurrence is enough.
func (t *test) eval(rs []*session.Record) bool {
	var c cursor
	var v val
	if t.rel == relExists {
		for t.lhs.next(rs, &c, &v) {
			if !t.lhs.masked || v.u != 0 {
				return true
			}
		}
		return false
	}
	seen := false
	for t.lhs.next(rs, &c, &v) {
		if t.rhs != nil {
			var c2 cursor
			var w val
			for t.rhs.next(rs, &c2, &w) {
				seen = true
				ok := compare(t.rel, &v, &w, -1)
				if ok != t.all {
					return ok
				}
			}
			continue
		}
		seen = true
		ok := t.match(&v)
		if ok != t.all {
			return ok
		}
	}
	return t.all && seen
}

// match tests one value against the literal, set or regular expression.
func (t *test) match(v *val) bool {
	if t.textAddr && v.k == vBytes {
		a, err := netip.ParseAddr(string(v.b))
		if err != nil {
			return t.rel == relNe
		}
		v = &val{k: vAddr, a: a.Unmap()}
	}
	switch t.rel {
	case relMatches:
		return v.k == vBytes && t.re.Match(v.b)
	case relIn:
		for i := range t.set {
			e := &t.set[i]
			lo, ok := e.lo.form(v.k)
			if !ok {
				continue
			}
			if !e.isRange {
				if equal(v, lo, e.lo.bits) {
					return true
				}
				continue
			}
			hi, ok := e.hi.form(v.k)
			if !ok {
				continue
			}
			c1, ok1 := order(v, lo)
			c2, ok2 := order(v, hi)
			if ok1 && ok2 && c1 >= 0 && c2 <= 0 {
				return true
			}
		}
		return false
	}
	w, ok := t.lit.form(v.k)
	if !ok {
		return t.rel == relNe
	}
	return compare(t.rel, v, w, t.lit.bits)
}

// compare applies relation r to v and w. bits is the prefix length of an
// address w written in CIDR notation, -1 for none.
func compare(r rel, v, w *val, bits int) bool {
	switch r {
	case relEq:
		return equal(v, w, bits)
	case relNe:
		return !equal(v, w, bits)
	case relContains:
		return v.k == vBytes && w.k == vBytes && bytes.Contains(v.b, w.b)
	}
	c, ok := order(v, w)
	if !ok {
		return false
	}
	switch r {
	case relGt:
		return c > 0
	case relGe:
		return c >= 0
	case relLt:
		return c < 0
	case relLe:
		return c <= 0
	}
	return false
}

// equal reports whether v equals w (or lies in the network w/bits).
func equal(v, w *val, bits int) bool {
	if v.k != w.k {
		return false
	}
	switch v.k {
	case vUint:
		return v.u == w.u
	case vTime:
		return v.t == w.t
	case vFloat:
		return v.f == w.f
	case vBytes:
		return bytes.Equal(v.b, w.b)
	case vAddr:
		if bits >= 0 {
			return netip.PrefixFrom(w.a, bits).Contains(v.a)
		}
		return v.a == w.a
	}
	return true
}

// order compares v with w: -1, 0 or +1, and false when they do not compare.
func order(v, w *val) (int, bool) {
	if v.k != w.k {
		return 0, false
	}
	switch v.k {
	case vUint:
		switch {
		case v.u < w.u:
			return -1, true
		case v.u > w.u:
			return 1, true
		}
		return 0, true
	case vTime:
		switch {
		case v.t < w.t:
			return -1, true
		case v.t > w.t:
			return 1, true
		}
		return 0, true
	case vFloat:
		switch {
		case v.f < w.f:
			return -1, true
		case v.f > w.f:
			return 1, true
		case v.f == w.f:
			return 0, true
		}
		return 0, false // NaN
	case vBytes:
		return bytes.Compare(v.b, w.b), true
	case vAddr:
		return v.a.Compare(w.a), true
	}
	return 0, false
}
