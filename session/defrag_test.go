package session_test

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session"
)

// defaultTimeout is DefragOptions.Timeout's default, as Linux ipfrag_time.
const defaultTimeout = 30 * time.Second

func TestDefragOrders(t *testing.T) {
	payload := pattern(3000, 1)
	for _, c := range []struct {
		name   string
		tmpl   session.Fragment
		order  func([]session.Fragment) []session.Fragment
		last   int   // index of the completing fragment
		frames []int // Datagram.Frames
	}{
		{"ipv4 in order", v4(7), slices.Clone[[]session.Fragment], 2, []int{10, 11, 12}},
		{"ipv4 reversed", v4(7), reversed, 2, []int{10, 11, 12}},
		{"ipv6 in order", v6(7), slices.Clone[[]session.Fragment], 2, []int{10, 11, 12}},
		{"ipv6 reversed", v6(7), reversed, 2, []int{10, 11, 12}},
		{"ipv4 middle last", v4(7), func(f []session.Fragment) []session.Fragment { return []session.Fragment{f[2], f[0], f[1]} }, 2, []int{10, 11, 12}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := session.NewDefragmenter(session.DefragOptions{})
			frags := c.order(cut(c.tmpl, payload, 10, 1480, 2960))
			out := feed(t, d, frags)
			wantProblems(t, d)
			if len(out) != 1 || out[0].at != c.last {
				t.Fatalf("datagrams %d (completed by fragment %v), want 1 by fragment %d", len(out), out, c.last)
			}
			g := out[0]
			if !bytes.Equal(g.Payload, payload) {
				t.Errorf("payload differs from what was cut")
			}
			if !slices.Equal(g.Frames, c.frames) {
				t.Errorf("frames %v, want %v", g.Frames, c.frames)
			}
			if g.V6 != c.tmpl.V6 || g.Src != c.tmpl.Src || g.Dst != c.tmpl.Dst || g.Proto != c.tmpl.Proto {
				t.Errorf("datagram %v %s -> %s proto %d, want %v %s -> %s proto %d",
					g.V6, g.Src, g.Dst, g.Proto, c.tmpl.V6, c.tmpl.Src, c.tmpl.Dst, c.tmpl.Proto)
			}
			if n, b := d.Held(); n != 0 || b != 0 {
				t.Errorf("held %d datagrams, %d bytes after completion", n, b)
			}
		})
	}
}

func TestDefragPayloadIsCopied(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	payload := pattern(40, 3)
	frags := cut(v4(1), slices.Clone(payload), 1, 16)
	if _, ok := d.Add(frags[0]); ok {
		t.Fatal("the first fragment completed the datagram")
	}
	for i := range frags[0].Payload {
		frags[0].Payload[i] = 0xee // the caller reuses its buffer
	}
	dg, ok := d.Add(frags[1])
	if !ok || !bytes.Equal(dg.Payload, payload) {
		t.Fatalf("the datagram changed with the caller's buffer: % x", dg.Payload)
	}
}

func TestDefragDuplicatesAbsorbed(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	payload := pattern(100, 4)
	f := cut(v4(1), payload, 1, 24, 48)
	dup := f[0]
	dup.Frame = 9
	// A fragment that only repeats bytes already received is not a
	// fragment of the datagram: frame 9 is not listed.
	sub := frag(v4(1), 8, true, payload[8:16], 8)
	out := feed(t, d, []session.Fragment{f[0], dup, sub, f[2], f[1]})
	wantProblems(t, d)
	if len(out) != 1 || !bytes.Equal(out[0].Payload, payload) || !slices.Equal(out[0].Frames, []int{1, 2, 3}) {
		t.Fatalf("got %+v", out)
	}
}

func TestDefragConflictingOverlap(t *testing.T) {
	payload := pattern(30, 5)
	other := slices.Clone(payload[8:24])
	other[2] ^= 0xff // byte 10
	other[5] ^= 0xff // byte 13
	a := frag(v4(9), 0, true, payload[0:16], 1)
	b := frag(v4(9), 8, true, other, 2) // bytes 8-23, 10 and 13 differ
	c := frag(v4(9), 24, false, payload[24:], 3)
	for _, tc := range []struct {
		name   string
		frags  []session.Fragment
		want   []byte // the payload: first bytes received win
		frames []int
	}{
		{"lower first", []session.Fragment{a, b, c}, payload, []int{1, 2, 3}},
		{"higher first", []session.Fragment{b, a, c}, append(append(slices.Clone(payload[:8]), other...), payload[24:]...), []int{1, 2, 3}},
		{"last first", []session.Fragment{c, a, b}, payload, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := session.NewDefragmenter(session.DefragOptions{})
			out := feed(t, d, tc.frags)
			if len(out) != 1 || !bytes.Equal(out[0].Payload, tc.want) || !slices.Equal(out[0].Frames, tc.frames) {
				t.Fatalf("got %+v, want payload % x frames %v", out, tc.want, tc.frames)
			}
			p := wantProblems(t, d, session.IPFragmentOverlap)[0]
			if !slices.Equal(p.Frames, []int{1, 2}) || !strings.Contains(p.Text, "bytes 10 to 13") ||
				!strings.Contains(p.Text, "10.0.0.1 -> 10.0.0.2 id 0x0009") {
				t.Errorf("problem %q frames %v: want frames [1 2], bytes 10 to 13, the datagram named", p.Text, p.Frames)
			}
		})
	}
}

func TestDefragConflictOnlyFragment(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	payload := pattern(24, 6)
	bad := slices.Clone(payload[8:16])
	bad[0] ^= 1
	out := feed(t, d, []session.Fragment{
		frag(v6(3), 0, true, payload[:16], 1),
		frag(v6(3), 8, true, bad, 2),
		frag(v6(3), 16, false, payload[16:], 3),
	})
	if len(out) != 1 || !bytes.Equal(out[0].Payload, payload) {
		t.Fatalf("got %+v", out)
	}
	// Frame 2 brought no byte of the datagram.
	if !slices.Equal(out[0].Frames, []int{1, 3}) {
		t.Errorf("frames %v, want [1 3]", out[0].Frames)
	}
	p := wantProblems(t, d, session.IPFragmentOverlap)[0]
	if !slices.Equal(p.Frames, []int{1, 2}) || !strings.Contains(p.Text, "IPv6 datagram fd00::1 -> fd00::2 id 0x00000003") {
		t.Errorf("problem %q frames %v", p.Text, p.Frames)
	}
}

func TestDefragMalformed(t *testing.T) {
	p := pattern(200, 7)
	for _, c := range []struct {
		name  string
		opts  session.DefragOptions
		frags []session.Fragment
		why   string
	}{
		{"past MaxSize", session.DefragOptions{MaxSize: 100}, []session.Fragment{frag(v4(1), 0, true, p[:64], 1), frag(v4(1), 64, true, p[64:104], 2)}, "past MaxSize (100 bytes)"},
		{"past default MaxSize", session.DefragOptions{}, []session.Fragment{frag(v4(1), 65528, false, p[:16], 2)}, "reaches byte 65544, past MaxSize (65535 bytes)"},
		{"non-last length", session.DefragOptions{}, []session.Fragment{frag(v4(1), 0, true, p[:20], 2)}, "carries 20 bytes, not a multiple of 8"},
		{"two ends", session.DefragOptions{}, []session.Fragment{frag(v4(1), 16, false, p[16:40], 1), frag(v4(1), 16, false, p[16:48], 2)}, "ending at byte 48, but an earlier last fragment ended at 40"},
		{"data past end", session.DefragOptions{}, []session.Fragment{frag(v4(1), 16, false, p[16:40], 1), frag(v4(1), 32, true, p[32:48], 2)}, "up to 48, past the end (40)"},
		{"end before data", session.DefragOptions{}, []session.Fragment{frag(v4(1), 32, true, p[32:48], 1), frag(v4(1), 16, false, p[16:40], 2)}, "earlier fragments carried bytes up to 48"},
		{"empty with more", session.DefragOptions{}, []session.Fragment{frag(v6(1), 8, true, nil, 2)}, "empty fragment with more fragments"},
		{"unaligned offset", session.DefragOptions{}, []session.Fragment{frag(v4(1), 12, false, p[:8], 2)}, "offset 12, not a non-negative multiple of 8"},
		{"negative offset", session.DefragOptions{}, []session.Fragment{frag(v4(1), -8, false, p[:8], 2)}, "offset -8"},
		{"huge offset", session.DefragOptions{}, []session.Fragment{frag(v4(1), math.MaxInt-7, true, p[:16], 2)}, "past MaxSize (65535 bytes)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := session.NewDefragmenter(c.opts)
			if out := feed(t, d, c.frags); len(out) != 0 {
				t.Fatalf("a datagram came out: %+v", out)
			}
			ps := wantProblems(t, d, session.IPFragmentMalformed)
			want := []int{2}
			if len(c.frags) == 2 {
				want = []int{1, 2}
			}
			if !slices.Equal(ps[0].Frames, want) || !strings.Contains(ps[0].Text, c.why) || !strings.Contains(ps[0].Text, "discarded") {
				t.Errorf("problem %q frames %v: want frames %v and %q", ps[0].Text, ps[0].Frames, want, c.why)
			}
			if n, b := d.Held(); n != 0 || b != 0 {
				t.Errorf("the malformed datagram is still held (%d, %d bytes)", n, b)
			}
		})
	}
}

func TestDefragMalformedWholeDatagram(t *testing.T) {
	// A whole datagram of its own past MaxSize is malformed, and the
	// datagram with its key being reassembled is not touched.
	d := session.NewDefragmenter(session.DefragOptions{MaxSize: 64})
	p := pattern(100, 17)
	feed(t, d, []session.Fragment{frag(v6(1), 0, true, p[:32], 1), frag(v6(1), 0, false, p, 2)})
	ps := wantProblems(t, d, session.IPFragmentMalformed)
	if !slices.Equal(ps[0].Frames, []int{2}) {
		t.Errorf("problem %q frames %v, want [2]", ps[0].Text, ps[0].Frames)
	}
	if out := feed(t, d, []session.Fragment{frag(v6(1), 32, false, p[32:64], 3)}); len(out) != 1 || !bytes.Equal(out[0].Payload, p[:64]) {
		t.Fatalf("the datagram being reassembled was touched: %+v", out)
	}
}

func TestDefragZeroLengthLast(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	p := pattern(16, 8)
	out := feed(t, d, []session.Fragment{frag(v4(1), 16, false, nil, 1), frag(v4(1), 0, true, p, 2)})
	wantProblems(t, d)
	if len(out) != 1 || !bytes.Equal(out[0].Payload, p) || !slices.Equal(out[0].Frames, []int{2, 1}) {
		t.Fatalf("got %+v", out)
	}
}

func TestDefragAtomic(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	p := pattern(64, 9)
	// A datagram with the same key is being reassembled: the atomic
	// fragment does not touch it (RFC 6946).
	half := frag(v6(5), 0, true, p[:32], 1)
	if _, ok := d.Add(half); ok {
		t.Fatal("half a datagram completed")
	}
	atom := frag(v6(5), 0, false, p, 2)
	atom.Proto = 6
	dg, ok := d.Add(atom)
	if !ok || !bytes.Equal(dg.Payload, p) || !slices.Equal(dg.Frames, []int{2}) || dg.Proto != 6 || !dg.V6 {
		t.Fatalf("atomic fragment: %+v, %v", dg, ok)
	}
	if n, b := d.Held(); n != 1 || b != 32 {
		t.Fatalf("held %d datagrams, %d bytes; want the first datagram untouched (1, 32)", n, b)
	}
	dg, ok = d.Add(frag(v6(5), 32, false, p[32:], 3))
	if !ok || !bytes.Equal(dg.Payload, p) || !slices.Equal(dg.Frames, []int{1, 3}) {
		t.Fatalf("the first datagram: %+v, %v", dg, ok)
	}
	wantProblems(t, d)
}

func TestDefragKeys(t *testing.T) {
	p, q := pattern(48, 10), pattern(48, 11)
	t.Run("sources", func(t *testing.T) {
		d := session.NewDefragmenter(session.DefragOptions{})
		other := v4(1)
		other.Src = srcB
		out := feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:24], 1), frag(other, 24, false, q[24:], 2),
			frag(other, 0, true, q[:24], 3), frag(v4(1), 24, false, p[24:], 4)})
		if len(out) != 2 || !bytes.Equal(out[0].Payload, q) || out[0].Src != srcB || !bytes.Equal(out[1].Payload, p) || out[1].Src != srcA {
			t.Fatalf("datagrams of two sources mixed: %+v", out)
		}
		wantProblems(t, d)
	})
	t.Run("ipv4 protocol", func(t *testing.T) {
		d := session.NewDefragmenter(session.DefragOptions{})
		udp := v4(1)
		udp.Proto = 17
		out := feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:24], 1), frag(udp, 24, false, q[24:], 2)})
		if len(out) != 0 {
			t.Fatalf("IPv4 fragments of TCP and UDP mixed: %+v", out)
		}
		if n, _ := d.Held(); n != 2 {
			t.Fatalf("held %d datagrams, want 2", n)
		}
	})
	t.Run("ipv6 next header", func(t *testing.T) {
		// RFC 8200 4.5: the next header of the fragment at offset 0 is the
		// datagram's; other fragments may carry another.
		d := session.NewDefragmenter(session.DefragOptions{})
		later := v6(1)
		later.Proto = 44
		out := feed(t, d, []session.Fragment{frag(later, 24, false, p[24:], 1), frag(v6(1), 0, true, p[:24], 2)})
		if len(out) != 1 || out[0].Proto != 17 || !bytes.Equal(out[0].Payload, p) {
			t.Fatalf("got %+v, want one datagram of protocol 17", out)
		}
	})
	t.Run("ipv6 ids", func(t *testing.T) {
		d := session.NewDefragmenter(session.DefragOptions{})
		out := feed(t, d, []session.Fragment{frag(v6(1), 0, true, p[:24], 1), frag(v6(2), 24, false, q[24:], 2)})
		if len(out) != 0 {
			t.Fatalf("two ids mixed: %+v", out)
		}
	})
}

func TestDefragMaxDatagrams(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{MaxDatagrams: 2})
	p := pattern(64, 12)
	feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:32], 1), frag(v4(2), 0, true, p[:32], 2), frag(v4(1), 32, true, p[32:40], 3)})
	wantProblems(t, d)
	feed(t, d, []session.Fragment{frag(v4(3), 0, true, p[:32], 4)})
	ps := wantProblems(t, d, session.IPFragmentIncomplete)
	if !slices.Equal(ps[0].Frames, []int{1, 3}) || !strings.Contains(ps[0].Text, "MaxDatagrams (2)") ||
		!strings.Contains(ps[0].Text, "id 0x0001") || !strings.Contains(ps[0].Text, "frame 4") || !strings.Contains(ps[0].Text, "40 bytes received") {
		t.Errorf("problem %q frames %v", ps[0].Text, ps[0].Frames)
	}
	if ps[0].Time != t0.Add(4*time.Millisecond) {
		t.Errorf("problem time %v, want frame 4's", ps[0].Time)
	}
	// Datagram 2 survived.
	if out := feed(t, d, []session.Fragment{frag(v4(2), 32, false, p[32:], 5)}); len(out) != 1 || !bytes.Equal(out[0].Payload, p) {
		t.Fatalf("datagram 2: %+v", out)
	}
}

func TestDefragMaxBytes(t *testing.T) {
	p := pattern(200, 13)
	t.Run("oldest dropped", func(t *testing.T) {
		d := session.NewDefragmenter(session.DefragOptions{MaxBytes: 100})
		feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:48], 1), frag(v4(2), 0, true, p[:48], 2)})
		wantProblems(t, d)
		feed(t, d, []session.Fragment{frag(v4(2), 48, true, p[48:64], 3)})
		ps := wantProblems(t, d, session.IPFragmentIncomplete)
		if !slices.Equal(ps[0].Frames, []int{1}) || !strings.Contains(ps[0].Text, "oldest when frame 3 reached MaxBytes (100 bytes") {
			t.Errorf("problem %q frames %v", ps[0].Text, ps[0].Frames)
		}
		if n, b := d.Held(); n != 1 || b != 64 {
			t.Errorf("held %d, %d bytes, want 1, 64", n, b)
		}
	})
	t.Run("new fragment dropped", func(t *testing.T) {
		d := session.NewDefragmenter(session.DefragOptions{MaxBytes: 100})
		feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:48], 1), frag(v4(1), 96, false, p[96:120], 2)})
		ps := wantProblems(t, d, session.IPFragmentIncomplete)
		if !slices.Equal(ps[0].Frames, []int{1, 2}) || !strings.Contains(ps[0].Text, "with the new fragment of frame 2: it would hold 120 bytes, past MaxBytes (100") {
			t.Errorf("problem %q frames %v", ps[0].Text, ps[0].Frames)
		}
		if n, b := d.Held(); n != 0 || b != 0 {
			t.Errorf("held %d, %d bytes after the drop", n, b)
		}
	})
	t.Run("sparse fragment counts its span", func(t *testing.T) {
		d := session.NewDefragmenter(session.DefragOptions{MaxBytes: 1000})
		feed(t, d, []session.Fragment{frag(v4(1), 800, true, p[:8], 1)})
		if _, b := d.Held(); b != 808 {
			t.Errorf("held %d bytes, want 808: the buffer up to the farthest byte", b)
		}
	})
}

func TestDefragTimeout(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	p := pattern(64, 14)
	feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:32], 1)})
	start := t0.Add(time.Millisecond)
	d.Expire(start.Add(defaultTimeout))
	wantProblems(t, d)
	d.Expire(start.Add(defaultTimeout + time.Nanosecond))
	ps := wantProblems(t, d, session.IPFragmentIncomplete)
	if !strings.Contains(ps[0].Text, "Timeout (30s") || !slices.Equal(ps[0].Frames, []int{1}) ||
		ps[0].Time != start.Add(defaultTimeout+time.Nanosecond) {
		t.Errorf("problem %q frames %v at %v", ps[0].Text, ps[0].Frames, ps[0].Time)
	}

	// Capture time, not wall time: a late fragment of a capture expires the
	// datagrams that started long before it.
	d = session.NewDefragmenter(session.DefragOptions{Timeout: 2 * time.Second})
	old := frag(v4(1), 0, true, p[:32], 1)
	mid := frag(v4(2), 0, true, p[:32], 2)
	mid.Time = old.Time.Add(1500 * time.Millisecond)
	late := frag(v4(1), 32, false, p[32:], 3)
	late.Time = old.Time.Add(3 * time.Second)
	if out := feed(t, d, []session.Fragment{old, mid, late}); len(out) != 0 {
		t.Fatalf("a datagram completed across the timeout: %+v", out)
	}
	ps = wantProblems(t, d, session.IPFragmentIncomplete)
	if !slices.Equal(ps[0].Frames, []int{1}) {
		t.Errorf("expired frames %v, want [1]", ps[0].Frames)
	}
	if n, _ := d.Held(); n != 2 {
		t.Errorf("held %d datagrams, want 2 (2, and 1 started again by frame 3)", n)
	}
}

func TestDefragTimeoutOutOfOrderTimes(t *testing.T) {
	// Captures are not always in time order: the datagram that started
	// first expires first, whatever the order it was added in.
	d := session.NewDefragmenter(session.DefragOptions{Timeout: time.Second})
	p := pattern(32, 15)
	a := frag(v4(1), 0, true, p[:16], 1)
	a.Time = t0.Add(time.Second)
	b := frag(v4(2), 0, true, p[:16], 2)
	b.Time = t0
	c := frag(v4(3), 0, true, p[:16], 3)
	c.Time = t0.Add(500 * time.Millisecond)
	feed(t, d, []session.Fragment{a, b, c})
	d.Expire(t0.Add(1600 * time.Millisecond))
	ps := wantProblems(t, d, session.IPFragmentIncomplete, session.IPFragmentIncomplete)
	if !slices.Equal(ps[0].Frames, []int{2}) || !slices.Equal(ps[1].Frames, []int{3}) {
		t.Errorf("expired %v then %v, want [2] then [3]", ps[0].Frames, ps[1].Frames)
	}
	if n, _ := d.Held(); n != 1 {
		t.Errorf("held %d, want 1", n)
	}
}

func TestDefragFlush(t *testing.T) {
	d := session.NewDefragmenter(session.DefragOptions{})
	p := pattern(64, 16)
	feed(t, d, []session.Fragment{frag(v4(1), 0, true, p[:32], 1), frag(v6(1), 32, false, p[32:], 2), frag(v4(1), 40, true, p[40:48], 3)})
	d.Flush()
	ps := wantProblems(t, d, session.IPFragmentIncomplete, session.IPFragmentIncomplete)
	if !strings.Contains(ps[0].Text, "40 bytes received, the last fragment missing, from frames 1 and 3") ||
		!strings.Contains(ps[1].Text, "32 of 64 bytes received, from frame 2") {
		t.Errorf("problems:\n%s", texts(ps))
	}
	if ps[0].Time != t0.Add(3*time.Millisecond) {
		t.Errorf("problem time %v, want the last fragment's", ps[0].Time)
	}
	if n, b := d.Held(); n != 0 || b != 0 {
		t.Errorf("held %d, %d after Flush", n, b)
	}
}
