// This file holds the compiled form of a filter: its nodes, tests and operands.

package filter

import (
	"regexp"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// nodeOp is the operation of an expression node.
type nodeOp uint8

const (
	nTest nodeOp = iota // a field test
	nNot
	nAnd
	nOr
	nXor
)

// node is one node of a compiled filter: a test, or a logical operation on
// its kids (one for nNot; two or more for the others, which are n-ary so a
// long chain of "and" or "or" does not nest).
type node struct {
	op   nodeOp
	kids []*node
	t    *test
}

// rel is the relation a test checks between a field and a value.
type rel uint8

const (
	relExists rel = iota
	relEq
	relNe
	relGt
	relGe
	relLt
	relLe
	relContains
	relMatches
	relIn
)

// fnKind is a function applied to a field.
type fnKind uint8

const (
	fnNone  fnKind = iota
	fnLen          // len(f): byte length of each occurrence
	fnCount        // count(f): number of occurrences
)

// sliceKind is the form of a slice: [i:j], [i-j], [i:].
type sliceKind uint8

const (
	sliceLen   sliceKind = iota + 1 // start and length
	sliceEnd                        // start and inclusive end
	sliceToEnd                      // start to the end of the field
)

// slice selects bytes of a string or byte field.
type slice struct {
	kind       sliceKind
	start, arg int // arg: length (sliceLen) or end offset (sliceEnd)
}

// apply returns the selected bytes of b, or false when b is too short.
func (s *slice) apply(b []byte) ([]byte, bool) {
	n := len(b)
	start := s.start
	if start < 0 {
		start += n
	}
	if start < 0 || start >= n {
		return nil, false
	}
	switch s.kind {
	case sliceLen:
		if s.arg > n-start {
			return nil, false
		}
		return b[start : start+s.arg], true
	case sliceEnd:
		end := s.arg
		if end < 0 {
			end += n
		}
		if end < start || end >= n {
			return nil, false
		}
		return b[start : end+1], true
	}
	return b[start:], true
}

// operand is a field as a test reads it: possibly sliced, masked or passed
// to a function.
type operand struct {
	def    *fieldDef
	sl     *slice
	fn     fnKind
	masked bool
	mask   uint64
	off    int    // where it starts in the filter
	text   string // as written
}

// typ returns the type of the operand's values.
func (o *operand) typ() decode.FieldType {
	switch {
	case o.fn != fnNone || o.masked:
		return decode.TypeUint
	case o.sl != nil:
		return decode.TypeBytes
	case o.def.src == session.FromMQTT:
		return decode.TypeBytes
	}
	return o.def.Type
}

// lit is a literal value, in one form per kind it can be compared as (one
// form for a typed field, several for typeAny).
type lit struct {
	forms []val
	bits  int // prefix length of an address literal written in CIDR notation, else -1
}

// form returns the literal's form for values of kind k.
func (l *lit) form(k vkind) (*val, bool) {
	for i := range l.forms {
		if l.forms[i].k == k {
			return &l.forms[i], true
		}
	}
	return nil, false
}

// setElem is one member of an "in" set: a value or a range.
type setElem struct {
	lo, hi  lit
	isRange bool
}

// test is a field test: presence, comparison, search, match or membership.
type test struct {
	lhs operand
	rel rel
	all bool     // every occurrence (pair) must satisfy rel, rather than one
	rhs *operand // a field on the right side, or nil
	lit lit
	set []setElem
	re  *regexp.Regexp
	// textAddr: the field is untyped (typeAny) and a literal is an address, so
	// text values are read as addresses (record fields Head shows as text).
	textAddr bool
}
