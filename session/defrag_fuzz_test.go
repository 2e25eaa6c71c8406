package session_test

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session"
)

// The fuzzer reads its input as fragments, each a 7-byte header and its
// data:
//
//	0     flags: bit 0 IPv6, bit 1 more fragments, bits 2-3 source,
//	      bit 4 another protocol, bits 5-7 operation (7: Expire at the
//	      current time, 6 with an id of 0: Flush, else Add)
//	1     identification (its low 3 bits, so that datagrams collide)
//	2-3   offset: bit 15 clear: bits 0-12 in units of 8 bytes; bit 15
//	      set: bits 0-14 minus 8, in bytes (unaligned or negative)
//	4-5   data length, modulo 2048: taken from the input, then padded
//	6     capture time since the previous fragment, in units of 10 ms
const fuzzHeader = 7

var fuzzSources = [4]netip.Addr{srcA, srcB, src6, netip.MustParseAddr("fd00::3")}

// fuzzOptions are small caps, so that the fuzzer reaches them.
var fuzzOptions = session.DefragOptions{MaxBytes: 6000, MaxDatagrams: 3, MaxSize: 5000, Timeout: time.Second}

// encodeFragment appends f in the fuzzer's encoding (for the seeds).
func encodeFragment(b []byte, f session.Fragment, dt time.Duration) []byte {
	flags := byte(0)
	if f.V6 {
		flags |= 1
	}
	if f.More {
		flags |= 2
	}
	off := uint16(f.Offset / 8)
	if f.Offset < 0 || f.Offset%8 != 0 {
		off = 0x8000 | uint16(f.Offset+8)&0x7fff
	}
	b = append(b, flags, byte(f.ID))
	b = binary.BigEndian.AppendUint16(b, off)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Payload)))
	b = append(b, byte(dt/(10*time.Millisecond)))
	return append(b, f.Payload...)
}

// fuzzStep decodes one fragment off in; op is 'A' (Add), 'E' (Expire) or
// 'F' (Flush).
func fuzzStep(in []byte, frame int, now time.Time, scratch []byte) (f session.Fragment, op byte, rest []byte) {
	h := in[:fuzzHeader]
	rest = in[fuzzHeader:]
	n := int(binary.BigEndian.Uint16(h[4:6])) % 2048
	take := min(n, len(rest))
	scratch = append(scratch[:0], rest[:take]...)
	for len(scratch) < n {
		scratch = append(scratch, byte(len(scratch)*13))
	}
	rest = rest[take:]
	off := binary.BigEndian.Uint16(h[2:4])
	offset := int(off&0x1fff) * 8
	if off&0x8000 != 0 {
		offset = int(off&0x7fff) - 8
	}
	v6 := h[0]&1 != 0
	src := fuzzSources[h[0]>>2&3]
	dst := dst4
	if v6 {
		dst = dst6
	}
	proto := uint8(6)
	if h[0]&0x10 != 0 {
		proto = 17
	}
	f = session.Fragment{IPFragment: session.IPFragment{V6: v6, ID: uint32(h[1] & 7), Proto: proto, Offset: offset,
		More: h[0]&2 != 0, Payload: scratch}, Src: src, Dst: dst, Frame: frame, Time: now}
	switch op := h[0] >> 5; {
	case op == 7:
		return f, 'E', rest
	case op == 6 && h[1] == 0:
		return f, 'F', rest
	}
	return f, 'A', rest
}

func FuzzDefrag(f *testing.F) {
	p := pattern(3000, 1)
	seed := func(frags ...session.Fragment) []byte {
		var b []byte
		for _, x := range frags {
			b = encodeFragment(b, x, time.Millisecond)
		}
		return b
	}
	three := cut(v4(1), p[:1480], 1, 552, 1104)
	f.Add(seed(three...))
	f.Add(seed(reversed(three)...))
	f.Add(seed(cut(v6(2), p[:3000], 1, 1232, 2464)...))
	f.Add(seed(frag(v4(1), 0, true, p[:16], 1), frag(v4(1), 8, true, p[100:116], 2), frag(v4(1), 24, false, p[24:30], 3)))
	f.Add(seed(frag(v4(1), 0, true, p[:20], 1), frag(v4(1), 12, false, p[:8], 2), frag(v6(1), 8, true, nil, 3)))
	f.Add(seed(frag(v4(1), 0, true, p[:2000], 1), frag(v4(2), 0, true, p[:1600], 2), frag(v4(3), 0, false, p[:100], 3)))

	f.Fuzz(func(t *testing.T, in []byte) {
		d := session.NewDefragmenter(fuzzOptions)
		now := t0
		var scratch []byte
		for frame := 1; len(in) >= fuzzHeader; frame++ {
			now = now.Add(time.Duration(in[6]) * 10 * time.Millisecond)
			var fr session.Fragment
			var op byte
			fr, op, in = fuzzStep(in, frame, now, scratch)
			scratch = fr.Payload
			switch op {
			case 'E':
				d.Expire(now)
			case 'F':
				d.Flush()
				if n, b := d.Held(); n != 0 || b != 0 {
					t.Fatalf("held %d datagrams, %d bytes after Flush", n, b)
				}
			default:
				dg, ok := d.Add(fr)
				if ok {
					checkDatagram(t, dg, fr)
				}
			}
			d.CheckInvariants(t)
			checkProblems(t, d.Problems())
		}
	})
}

// checkDatagram checks a datagram that fragment f completed.
func checkDatagram(t *testing.T, dg *session.Datagram, f session.Fragment) {
	t.Helper()
	if len(dg.Payload) > fuzzOptions.MaxSize || len(dg.Payload) < f.Offset+len(f.Payload) {
		t.Fatalf("frame %d completed a datagram of %d bytes (fragment at %d, %d bytes)", f.Frame, len(dg.Payload), f.Offset, len(f.Payload))
	}
	if !slices.Contains(dg.Frames, f.Frame) && len(f.Payload) > 0 {
		t.Fatalf("frame %d completed a datagram made of frames %v", f.Frame, dg.Frames)
	}
	if dg.Src != f.Src || dg.Dst != f.Dst || dg.V6 != f.V6 {
		t.Fatalf("frame %d completed a datagram of another flow", f.Frame)
	}
}

// checkProblems checks that problems are well formed.
func checkProblems(t *testing.T, ps []session.FragmentProblem) {
	t.Helper()
	for _, p := range ps {
		switch p.Code {
		case session.IPFragmentOverlap, session.IPFragmentMalformed, session.IPFragmentIncomplete:
		default:
			t.Fatalf("problem code %s", p.Code)
		}
		if p.Text == "" || strings.Contains(p.Text, "\n") || len(p.Frames) == 0 || !slices.IsSorted(p.Frames) {
			t.Fatalf("problem %q with frames %v", p.Text, p.Frames)
		}
	}
}
