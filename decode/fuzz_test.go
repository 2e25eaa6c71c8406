package decode

import (
	"errors"
	"testing"
)

// FuzzDecode decodes a stream of packets on one connection: data holds the
// packets back to back, bit i of dirs says whether packet i comes from the
// client, and version (when 3, 4 or 5) is forced with SetVersion. The
// corpus in testdata/fuzz/FuzzDecode holds the conversations of the
// conformance captures; the synthetic connections of TestAgainstTshark are
// added as seeds.
func FuzzDecode(f *testing.F) {
	for _, sc := range synthetic() {
		var data []byte
		var dirs uint64
		for i, fr := range sc {
			data = append(data, fr.data...)
			if fr.dir == 'I' && i < 64 {
				dirs |= 1 << i
			}
		}
		f.Add(data, dirs, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, dirs uint64, version uint8) {
		var c Conn
		var p Packet
		if version >= V31 && version <= V5 {
			c.SetVersion(version)
		}
		for i := 0; len(data) > 0; i++ {
			n := len(data)
			if h, err := ParseHeader(data); err == nil && h.Total() < n {
				n = h.Total()
			}
			pk := data[:n]
			data = data[n:]
			fromClient := dirs>>(i%64)&1 == 1
			c.Decode(pk, fromClient, &p)
			checkInvariants(t, &p)
			// A packet Plausible accepts decodes without a malformation
			// under that version (any version: under 3.1.1 or 5.0).
			clean := func(v uint8) bool {
				var fresh Conn
				var q Packet
				fresh.SetVersion(v)
				fresh.Decode(pk, true, &q)
				return q.Malformed() == ""
			}
			if h, err := ParseHeader(pk); err != nil || h.Total() != len(pk) {
				continue // Plausible judges an incomplete packet by its header
			}
			for _, v := range []uint8{V31, V311, V5} {
				if Plausible(pk, v, 1<<28) && !clean(v) {
					t.Fatalf("Plausible(% x, %d) but malformed", pk, v)
				}
			}
			if Plausible(pk, 0, 1<<28) && !clean(V311) && !clean(V5) {
				t.Fatalf("Plausible(% x, 0) but malformed in 3.1.1 and 5.0", pk)
			}
		}
	})
}

// FuzzParseHeader checks ParseHeader and Plausible on any input.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x30, 0x05, 0, 1, 'a', 'b', 'c'})
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x82, 0x80})
	f.Add(connect50)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		switch {
		case err == nil:
			if h.HeaderLen < 2 || h.HeaderLen > 5 || h.HeaderLen > len(b) || h.Remaining < 0 || h.Remaining > 268435455 ||
				h.Total() != h.HeaderLen+h.Remaining || h.Type != Type(b[0]>>4) || h.Flags != b[0]&0x0f {
				t.Fatalf("ParseHeader(% x) = %+v", b, h)
			}
			if minimalVBI(b[1:h.HeaderLen]) && string(enc(h.Remaining)) != string(b[1:h.HeaderLen]) {
				t.Fatalf("ParseHeader(% x): remaining %d does not re-encode", b, h.Remaining)
			}
		case errors.Is(err, ErrShort):
			if len(b) >= 5 {
				t.Fatalf("ErrShort with %d bytes", len(b))
			}
		case errors.Is(err, ErrRemainingLength):
			if len(b) < 5 {
				t.Fatalf("ErrRemainingLength with %d bytes", len(b))
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
		for _, v := range []uint8{0, V31, V311, V5} {
			if Plausible(b, v, 1<<28) && err != nil {
				t.Fatalf("Plausible(% x, %d) without a fixed header", b, v)
			}
		}
	})
}
