package session_test

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mqtap/mqtap/session"
)

// model is the reference reassembler of the property test: one datagram,
// a byte coverage map, no overlaps that differ.
type model struct {
	payload []byte
	covered []bool
	ends    bool
	pieces  []modelPiece
}

// modelPiece is a fragment that brought bytes to the model's datagram.
type modelPiece struct{ lo, hi, frame int }

// modelKey names the datagram of f, keyed as the Defragmenter keys it:
// IPv4 by addresses, identification and protocol, IPv6 without the
// protocol.
func modelKey(f session.Fragment) string {
	if f.V6 {
		return fmt.Sprintf("IPv6 datagram %s -> %s id 0x%08x", f.Src, f.Dst, f.ID)
	}
	return fmt.Sprintf("IPv4 datagram %s -> %s id 0x%04x proto %d", f.Src, f.Dst, f.ID, f.Proto)
}

// add adds f and returns the frames of the datagram f completes, if it
// does.
func (m *model) add(f session.Fragment) ([]int, bool) {
	if f.Offset == 0 && !f.More {
		return []int{f.Frame}, true // atomic: a datagram of its own
	}
	fresh := false
	for i := f.Offset; i < f.Offset+len(f.Payload); i++ {
		if !m.covered[i] {
			m.covered[i], fresh = true, true
		}
	}
	ends := !f.More && !m.ends
	m.ends = m.ends || !f.More
	if fresh || ends {
		m.pieces = append(m.pieces, modelPiece{f.Offset, f.Offset + len(f.Payload), f.Frame})
	}
	if !m.ends || slices.Contains(m.covered, false) {
		return nil, false
	}
	slices.SortFunc(m.pieces, func(a, b modelPiece) int { return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(a.frame, b.frame)) })
	var frames []int
	for _, p := range m.pieces {
		frames = append(frames, p.frame)
	}
	m.reset()
	return frames, true
}

func (m *model) reset() {
	clear(m.covered)
	m.ends, m.pieces = false, nil
}

func (m *model) pending() bool { return len(m.pieces) > 0 }

// randomFragments cuts payload at random 8-byte boundaries and adds
// duplicates and overlapping fragments that carry the same bytes.
func randomFragments(r *rand.Rand, tmpl session.Fragment, payload []byte) []session.Fragment {
	n := len(payload)
	var cuts []int
	for off := 8 * (1 + r.IntN(64)); off < n; off += 8 * (1 + r.IntN(200)) {
		cuts = append(cuts, off)
	}
	frags := cut(tmpl, payload, 0, cuts...)
	for range r.IntN(4) {
		frags = append(frags, frags[r.IntN(len(frags))]) // duplicate
	}
	for range r.IntN(4) { // consistent overlap
		lo := 8 * r.IntN((n+7)/8)
		hi := min(n, lo+8*(1+r.IntN(300)))
		frags = append(frags, frag(tmpl, lo, hi < n, payload[lo:hi], 0))
	}
	return frags
}

func TestDefragRandomPermutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	completed, pending := 0, 0
	for round := range 2000 {
		// Three datagrams interleaved: two IPv4 ones with the same id
		// from different sources, and an IPv6 one with that id.
		var (
			frags   []session.Fragment
			models  = map[string]*model{}
			payload = map[string][]byte{}
		)
		tmpls := []session.Fragment{v4(uint32(round)), v4(uint32(round)), v6(uint32(round))}
		tmpls[1].Src = srcB
		for i, tmpl := range tmpls {
			p := pattern(1+r.IntN(4000), byte(i))
			k := modelKey(tmpl)
			payload[k] = p
			models[k] = &model{payload: p, covered: make([]bool, len(p))}
			frags = append(frags, randomFragments(r, tmpl, p)...)
		}
		r.Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
		for i := range frags {
			frags[i].Frame = i + 1
		}

		d := session.NewDefragmenter(session.DefragOptions{})
		for _, f := range frags {
			k := modelKey(f)
			frames, want := models[k].add(f)
			dg, ok := d.Add(f)
			d.CheckInvariants(t)
			if ok != want {
				t.Fatalf("round %d: frame %d of %s: completed=%v, the model says %v", round, f.Frame, k, ok, want)
			}
			if !ok {
				continue
			}
			completed++
			if !bytes.Equal(dg.Payload, payload[k]) || !slices.Equal(dg.Frames, frames) || dg.Src != f.Src || dg.V6 != f.V6 {
				t.Fatalf("round %d: %s completed by frame %d: frames %v (model %v), payload equal=%v",
					round, k, f.Frame, dg.Frames, frames, bytes.Equal(dg.Payload, payload[k]))
			}
		}
		wantProblems(t, d)
		var codes []session.FindingCode
		for _, m := range models {
			if m.pending() {
				codes = append(codes, session.IPFragmentIncomplete)
				pending++
			}
		}
		d.Flush()
		wantProblems(t, d, codes...)
	}
	t.Logf("%d datagrams completed, %d fragment sets left pending by late duplicates", completed, pending)
	if completed < 6000 || pending == 0 {
		t.Errorf("the rounds did not exercise both cases (%d completed, %d pending)", completed, pending)
	}
}
