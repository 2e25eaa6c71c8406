package model

import (
	"context"
	"testing"
)

// BenchmarkSearch1M searches the 1,000,000 records (or
// MQTAP_BENCH_CAPTURE's) from the first for what no record holds, so that
// every record is searched, once per kind: the time a search that finds
// nothing takes.
func BenchmarkSearch1M(b *testing.B) {
	path := millionCapture(b)
	c, err := New("bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := readAll(path, c); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		kind SearchKind
		text string
	}{
		{"string", SearchString, "no such text"},
		{"hex", SearchHex, "de:ad:be:ef:01"},
		{"filter", SearchFilter, `mqtt.topic contains "no such topic"`},
		{"details", SearchDetails, "no such text"},
	} {
		s, err := NewSearch(bc.kind, bc.text)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				idx, _, err := c.Find(context.Background(), s, nil, 0, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				if idx >= 0 {
					b.Fatalf("found record %d", idx)
				}
			}
		})
	}
}

// TestLowerInPlace checks the eight-bytes-at-a-time lowering against the
// byte at a time one, on every byte value at every position of a word.
func TestLowerInPlace(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 11; pos++ {
			b := []byte("xY@[`{Z\x80\xffAz")
			b[pos] = byte(c)
			want := make([]byte, len(b))
			for i, x := range b {
				if 'A' <= x && x <= 'Z' {
					x += 'a' - 'A'
				}
				want[i] = x
			}
			lowerInPlace(b)
			if string(b) != string(want) {
				t.Fatalf("byte %#x at %d: got %q, want %q", c, pos, b, want)
			}
		}
	}
}
