package session

import "testing"

// CheckInvariants checks the Defragmenter's bookkeeping. The tests of the
// Defragmenter (package session_test) call it after every step.
func (d *Defragmenter) CheckInvariants(t testing.TB) {
	t.Helper()
	n, sum := 0, 0
	var prev *fragEntry
	for e := d.head; e != nil; e = e.next {
		n++
		sum += len(e.buf)
		if e.prev != prev {
			t.Fatalf("age list: %s has a wrong prev link", e.key)
		}
		if prev != nil && prev.start.After(e.start) {
			t.Fatalf("age list out of order: %s starts after %s", prev.key, e.key)
		}
		if d.table[e.key] != e {
			t.Fatalf("%s is in the age list but not in the table", e.key)
		}
		for i, s := range e.spans {
			if s.lo >= s.hi || s.hi > len(e.buf) || (i > 0 && e.spans[i-1].hi >= s.lo) {
				t.Fatalf("%s: bad spans %v (buf %d bytes)", e.key, e.spans, len(e.buf))
			}
		}
		if e.end >= 0 && len(e.buf) > e.end {
			t.Fatalf("%s: holds %d bytes past its end %d", e.key, len(e.buf), e.end)
		}
		prev = e
	}
	if prev != d.tail {
		t.Fatal("age list: tail is not the last entry")
	}
	if held, bytes := d.Held(); held != n || bytes != sum {
		t.Fatalf("Held() = %d, %d; the list has %d datagrams holding %d bytes", held, bytes, n, sum)
	}
	if n > d.opts.MaxDatagrams || sum > d.opts.MaxBytes {
		t.Fatalf("held %d datagrams, %d bytes: past the caps (%d, %d)", n, sum, d.opts.MaxDatagrams, d.opts.MaxBytes)
	}
}
