package connections

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// Keys are the values of one column of every row, copied out of the
// table so that they can be sorted while the table goes on growing (the
// terminal UI copies them under its lock and sorts them without it).
type Keys struct {
	stream []int32
	num    []int64          // numeric columns
	text   []string         // text columns, as shown
	addr   []netip.AddrPort // the address columns
}

// SortKeys copies the values of column col of every row (as Rows with
// final would show them).
func (t *Table) SortKeys(col int, final bool) *Keys {
	n := t.n
	k := &Keys{stream: make([]int32, n)}
	switch col {
	case ColClient, ColBroker:
		k.addr = make([]netip.AddrPort, n)
	case ColClientID, ColUser, ColVersion, ColTransport, ColEnd:
		k.text = make([]string, n)
	default:
		k.num = make([]int64, n)
	}
	for i := range t.n {
		c := t.at(i)
		k.stream[i] = c.stream
		switch col {
		case ColClientID:
			k.text[i] = c.clientID
		case ColUser:
			k.text[i] = c.userName
		case ColPktsToBroker, ColPktsToClient:
			k.num[i] = int64(c.packets[col-ColPktsToBroker])
		case ColStream:
			k.num[i] = int64(c.stream)
		default: // the columns that need the row as Rows makes it
			r := t.row(i, final)
			k.set(i, col, &r)
		}
	}
	return k
}

// set sets key i from the row.
func (k *Keys) set(i, col int, r *Conn) {
	switch col {
	case ColClient:
		k.addr[i] = r.Client
	case ColBroker:
		k.addr[i] = r.Broker
	case ColFramesToBroker, ColFramesToClient:
		k.num[i] = int64(r.Frames[(col-ColFramesToBroker)/2])
	case ColBytesToBroker, ColBytesToClient:
		k.num[i] = r.Bytes[(col-ColBytesToBroker)/2]
	case ColStart:
		k.num[i] = int64(r.Relative)
	case ColDuration:
		k.num[i] = int64(r.Duration)
	case ColFindings:
		for _, f := range r.Findings {
			k.num[i] += int64(f.Count)
		}
	default:
		k.text[i] = r.Cell(col)
	}
}

// Len is the number of rows the keys were copied from.
func (k *Keys) Len() int { return len(k.stream) }

// Order returns the row indexes sorted by the keys, ascending or
// descending, ties by tcp.stream (ascending). Numbers sort as numbers,
// addresses as addresses (IPv4 before IPv6), findings by their count.
func (k *Keys) Order(desc bool) []int32 {
	order := make([]int32, len(k.stream))
	for i := range order {
		order[i] = int32(i)
	}
	by := func(i, j int32) int { return cmp.Compare(k.num[i], k.num[j]) }
	switch {
	case k.text != nil:
		by = func(i, j int32) int { return strings.Compare(k.text[i], k.text[j]) }
	case k.addr != nil:
		by = func(i, j int32) int { return k.addr[i].Compare(k.addr[j]) }
	}
	slices.SortFunc(order, func(i, j int32) int {
		c := by(i, j)
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(k.stream[i], k.stream[j])
		}
		return c
	})
	return order
}
