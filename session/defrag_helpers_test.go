package session_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session"
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
func v4(id uint32) session.Fragment {
	return session.Fragment{IPFragment: session.IPFragment{ID: id, Proto: 6}, Src: srcA, Dst: dst4}
}

func v6(id uint32) session.Fragment {
	return session.Fragment{IPFragment: session.IPFragment{V6: true, ID: id, Proto: 17}, Src: src6, Dst: dst6}
}

// cut splits payload at the offsets in cuts (ascending, multiples of 8)
// into fragments of tmpl, numbered from frame and 1 ms apart from t0.
func cut(tmpl session.Fragment, payload []byte, frame int, cuts ...int) []session.Fragment {
	bounds := append(append([]int{0}, cuts...), len(payload))
	var out []session.Fragment
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
func frag(tmpl session.Fragment, off int, more bool, payload []byte, frame int) session.Fragment {
	f := tmpl
	f.Offset, f.More, f.Payload, f.Frame = off, more, payload, frame
	f.Time = t0.Add(time.Duration(frame) * time.Millisecond)
	return f
}

// got is a datagram copied out of the Defragmenter, with the index of the
// fragment that completed it.
type got struct {
	at int
	session.Datagram
}

// feed adds frags in order and returns the datagrams they complete,
// checking the invariants after every call.
func feed(t *testing.T, d *session.Defragmenter, frags []session.Fragment) []got {
	t.Helper()
	var out []got
	for i, f := range frags {
		dg, ok := d.Add(f)
		d.CheckInvariants(t)
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

// wantProblems checks that the problems are exactly those with the codes,
// each a sentence on one line naming the datagram, and returns them.
func wantProblems(t *testing.T, d *session.Defragmenter, codes ...session.FindingCode) []session.FragmentProblem {
	t.Helper()
	ps := d.Problems()
	var have []session.FindingCode
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

func texts(ps []session.FragmentProblem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Code.String() + ": " + p.Text + "\n")
	}
	return b.String()
}

// reversed returns frags in reverse order.
func reversed(frags []session.Fragment) []session.Fragment {
	r := slices.Clone(frags)
	slices.Reverse(r)
	return r
}
