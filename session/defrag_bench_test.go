package session_test

import (
	"testing"
	"time"

	"github.com/mqtap/mqtap/session"
)

// BenchmarkDefrag reassembles TCP segments cut into 2 and 3 fragments, in
// order and reversed: one datagram per iteration, a new id each time.
func BenchmarkDefrag(b *testing.B) {
	for _, c := range []struct {
		name    string
		tmpl    session.Fragment
		size    int
		cuts    []int
		reverse bool
	}{
		{"ipv4-2-in-order", v4(0), 2000, []int{1480}, false},
		{"ipv4-2-reversed", v4(0), 2000, []int{1480}, true},
		{"ipv4-3-in-order", v4(0), 1480, []int{552, 1104}, false},
		{"ipv4-3-reversed", v4(0), 1480, []int{552, 1104}, true},
		{"ipv6-3-in-order", v6(0), 3000, []int{1232, 2464}, false},
		{"ipv6-3-reversed", v6(0), 3000, []int{1232, 2464}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			frags := cut(c.tmpl, pattern(c.size, 1), 1, c.cuts...)
			if c.reverse {
				frags = reversed(frags)
			}
			d := session.NewDefragmenter(session.DefragOptions{})
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			now := t0
			for i := 0; b.Loop(); i++ {
				now = now.Add(time.Microsecond)
				for j, f := range frags {
					f.ID, f.Time = uint32(i), now
					if _, ok := d.Add(f); ok != (j == len(frags)-1) {
						b.Fatalf("fragment %d: completed=%v", j, ok)
					}
				}
			}
		})
	}
}
