package defrag

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	srcA = netip.MustParseAddr("10.0.0.1")
	srcB = netip.MustParseAddr("10.0.0.3")
	dst4 = netip.MustParseAddr("10.0.0.2")
	src6 = netip.MustParseAddr("fd00::1")
	dst6 = netip.MustParseAddr("fd00::2")
	t0   = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
)

// pattern returns n bytes that differ for every seed and position.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed ^ byte(i*7) ^ byte(i>>8)
	}
	return b
}

// v4 and v6 are fragment templates.
func v4(id uint32) Fragment {
	return Fragment{Src: srcA, Dst: dst4, ID: id, Proto: 6}
}

func v6(id uint32) Fragment {
	return Fragment{V6: true, Src: src6, Dst: dst6, ID: id, Proto: 17}
}

// cut splits payload at the offsets in cuts (ascending, multiples of 8)
// into fragments of tmpl, numbered from frame and 1 ms apart from t0.
func cut(tmpl Fragment, payload []byte, frame int, cuts ...int) []Fragment {
	bounds := append(append([]int{0}, cuts...), len(payload))
	var out []Fragment
	for i := 0; i+1 < len(bounds); i++ {
		f := tmpl
		f.Offset = bounds[i]
		f.Payload = payload[bounds[i]:bounds[i+1]]
		f.More = i+2 < len(bounds)
		f.Frame = frame + i
		f.Time = t0.Add(time.Duration(f.Frame) * time.Millisecond)
		out = append(out, f)
	}
	return out
}

// frag is one fragment of tmpl.
func frag(tmpl Fragment, off int, more bool, payload []byte, frame int) Fragment {
	f := tmpl
	f.Offset, f.More, f.Payload, f.Frame = off, more, payload, frame
	f.Time = t0.Add(time.Duration(frame) * time.Millisecond)
	return f
}

// got is a datagram copied out of the Defragmenter, with the index of the
// fragment that completed it.
type got struct {
	at int
	Datagram
}

// feed adds frags in order and returns the datagrams they complete,
// checking the invariants after every call.
func feed(t *testing.T, d *Defragmenter, frags []Fragment) []got {
	t.Helper()
	var out []got
	for i, f := range frags {
		dg, ok := d.Add(f)
		checkInvariants(t, d)
		if ok != (dg != nil) {
			t.Fatalf("fragment %d: Add returned %v with ok=%v", i, dg, ok)
		}
		if ok {
			c := *dg
			c.Payload = slices.Clone(dg.Payload)
			c.Frames = slices.Clone(dg.Frames)
			out = append(out, got{i, c})
		}
	}
	return out
}

// checkInvariants checks the Defragmenter's bookkeeping.
func checkInvariants(t testing.TB, d *Defragmenter) {
	t.Helper()
	n, sum := 0, 0
	var prev *entry
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

// wantProblems checks that the problems are exactly those with the codes,
// each a sentence on one line naming the datagram, and returns them.
func wantProblems(t *testing.T, d *Defragmenter, codes ...string) []Problem {
	t.Helper()
	ps := d.Problems()
	var have []string
	for _, p := range ps {
		have = append(have, p.Code)
		if strings.Contains(p.Text, "\n") || !strings.Contains(p.Text, "datagram") || len(p.Frames) == 0 {
			t.Errorf("problem %q: want one line naming the datagram, with frames (have %v)", p.Text, p.Frames)
		}
		if !slices.IsSorted(p.Frames) {
			t.Errorf("problem %q: frames %v not ascending", p.Text, p.Frames)
		}
	}
	if !slices.Equal(have, codes) {
		t.Fatalf("problems %v, want %v:\n%s", have, codes, texts(ps))
	}
	return ps
}

func texts(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Code + ": " + p.Text + "\n")
	}
	return b.String()
}

// reversed returns frags in reverse order.
func reversed(frags []Fragment) []Fragment {
	r := slices.Clone(frags)
	slices.Reverse(r)
	return r
}
