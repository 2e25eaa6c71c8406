package decode

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"testing"
)

// deflateMessages compresses msgs as a permessage-deflate sender does with
// Go's compress/flate: a sync flush after each message, its 4-byte tail
// removed; a new context per message unless takeover.
func deflateMessages(t testing.TB, msgs [][]byte, takeover bool) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		if !takeover {
			w.Reset(&buf)
		}
		buf.Reset()
		w.Write(m)
		w.Flush()
		b := buf.Bytes()
		if !bytes.HasSuffix(b, deflateTail[:]) {
			t.Fatalf("a sync flush does not end in 00 00 ff ff: % x", b[max(0, len(b)-8):])
		}
		out = append(out, bytes.Clone(b[:len(b)-4]))
	}
	return out
}

func TestInflaterRoundTrip(t *testing.T) {
	var msgs [][]byte
	for i := range 40 {
		msgs = append(msgs, fmt.Appendf(nil, `{"sensor":"salle-%d","t":%d.5,"unit":"°C","seq":%d}`, i%3, 20+i%4, i))
	}
	msgs = append(msgs, nil, bytes.Repeat([]byte("abcdefgh"), 10000), []byte("end"))
	for _, takeover := range []bool{true, false} {
		comp := deflateMessages(t, msgs, takeover)
		in := NewInflater(15, takeover, 1<<20)
		var dst []byte
		total := 0
		for i, c := range comp {
			var err error
			prev := len(dst)
			dst, err = in.Message(c, dst)
			if err != nil || !bytes.Equal(dst[prev:], msgs[i]) {
				t.Fatalf("takeover %v, message %d: %q, %v", takeover, i, dst[prev:], err)
			}
			total += len(c)
		}
		if takeover && total >= len(bytes.Join(msgs, nil))/4 {
			t.Errorf("context takeover compressed to %d bytes: the messages did not refer to each other", total)
		}
	}
	// With takeover the later messages refer to earlier ones: inflating
	// them without the context must fail.
	comp := deflateMessages(t, msgs[:3], true)
	in := NewInflater(15, false, 1<<20)
	in.Message(comp[0], nil)
	if out, err := in.Message(comp[1], nil); err == nil && bytes.Equal(out, msgs[1]) {
		t.Error("a message that needs the previous one's context inflated without it")
	}
}

// TestInflaterWindows inflates messages that python3's zlib compressed with
// every window size it has (9 to 15 bits), with and without context takeover, whose later
// messages repeat data from just inside the window.
func TestInflaterWindows(t *testing.T) {
	const script = `
import json, random, sys, zlib
out = []
for bits in range(9, 16):  # zlib refuses a raw window of 8 bits
    for takeover in (True, False):
        win = 1 << max(bits, 9)
        rnd = random.Random(bits)
        block = bytes(rnd.getrandbits(8) for _ in range(win - 300))
        msgs = [block, b"x" + block[:200], block + block[:50], b"tail " * 20]
        comp, c = [], None
        for m in msgs:
            if c is None or not takeover:
                c = zlib.compressobj(9, zlib.DEFLATED, -bits)
            d = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
            assert d.endswith(b"\x00\x00\xff\xff")
            comp.append(d[:-4].hex())
        out.append({"bits": bits, "takeover": takeover, "msgs": [m.hex() for m in msgs], "comp": comp})
json.dump(out, sys.stdout)
`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 (apt-get install python3): %v\n%s", err, stderr.Bytes())
	}
	var cases []struct {
		Bits     int
		Takeover bool
		Msgs     []string
		Comp     []string
	}
	if err := json.Unmarshal(raw, &cases); err != nil || len(cases) != 14 {
		t.Fatalf("%d cases: %v", len(cases), err)
	}
	for _, c := range cases {
		in := NewInflater(c.Bits, c.Takeover, 1<<20)
		for i := range c.Msgs {
			want, _ := hex.DecodeString(c.Msgs[i])
			comp, _ := hex.DecodeString(c.Comp[i])
			got, err := in.Message(comp, nil)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("window bits %d, takeover %v, message %d: %d bytes, %v", c.Bits, c.Takeover, i, len(got), err)
			}
		}
	}
}

func TestInflaterEdges(t *testing.T) {
	in := NewInflater(15, true, 100)
	for _, c := range [][]byte{nil, {0x00}, {0x02, 0x00}} { // empty messages: no data, an empty stored block, an empty fixed block
		if out, err := in.Message(c, []byte("keep")); err != nil || string(out) != "keep" {
			t.Errorf("Message(% x) = %q, %v", c, out, err)
		}
	}
	// A message ending in a final block (BFINAL set) instead of a flush.
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write([]byte("final block"))
	w.Close()
	if out, err := in.Message(buf.Bytes(), nil); err != nil || string(out) != "final block" {
		t.Errorf("a final block: %q, %v", out, err)
	}
	// Exactly the cap, then one byte more.
	exact := deflateMessages(t, [][]byte{bytes.Repeat([]byte{'a'}, 100), bytes.Repeat([]byte{'b'}, 101)}, false)
	if out, err := NewInflater(15, false, 100).Message(exact[0], nil); err != nil || len(out) != 100 {
		t.Errorf("a message of exactly the cap: %d, %v", len(out), err)
	}
	if out, err := NewInflater(15, false, 100).Message(exact[1], nil); !errors.Is(err, ErrTooLarge) || len(out) != 100 {
		t.Errorf("a message one byte over the cap: %d, %v", len(out), err)
	}
	// Out-of-range parameters fall back to a 32 KiB window and the default cap.
	if in := NewInflater(3, true, 0); in.window != 1<<15 || in.max != DefaultMaxMessage {
		t.Errorf("NewInflater(3, true, 0): window %d, cap %d", in.window, in.max)
	}
	if in := NewInflater(8, true, 1); in.window != 1<<9 {
		t.Errorf("NewInflater(8, ...): window %d, want 512 (zlib's 8 is 9)", in.window)
	}
}

func TestInflaterCorrupt(t *testing.T) {
	var cerr flate.CorruptInputError
	in := NewInflater(15, true, 1<<20)
	if _, err := in.Message([]byte{0x07}, nil); !errors.As(err, &cerr) { // block type 3
		t.Errorf("block type 3: %v", err)
	}
	if _, err := in.Message(deflateMessages(t, [][]byte{[]byte("ok")}, false)[0], nil); !errors.Is(err, ErrInflaterBroken) {
		t.Errorf("after an error with context takeover: %v", err)
	}
	// A reference before the start of the output, with no context.
	var buf bytes.Buffer
	w, _ := flate.NewWriterDict(&buf, flate.BestCompression, []byte("a shared dictionary of words"))
	w.Write([]byte("a shared dictionary of words, again"))
	w.Flush()
	if _, err := NewInflater(15, false, 1<<20).Message(buf.Bytes()[:buf.Len()-4], nil); !errors.As(err, &cerr) {
		t.Errorf("a reference to missing history: %v", err)
	}
	// Every single-byte corruption of a real message: an error or other
	// bytes, never a panic or more than the cap; without context takeover
	// the Inflater keeps working.
	msg := bytes.Repeat([]byte(`{"t":20.5,"unit":"°C"} `), 50)
	good := deflateMessages(t, [][]byte{msg}, false)[0]
	nt := NewInflater(15, false, 4096)
	for i := range good {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(good)
			bad[i] ^= x
			if out, _ := nt.Message(bad, nil); len(out) > 4096 {
				t.Fatalf("corrupted byte %d: %d bytes past the cap", i, len(out))
			}
		}
	}
	if out, err := nt.Message(good, nil); err != nil || !bytes.Equal(out, msg) {
		t.Errorf("after corrupt messages without context takeover: %v", err)
	}
}

// bombStream is a DEFLATE block that inflates to about n bytes: a literal
// zero, then references of length 258 at distance 1 (13 bits each in the
// fixed Huffman code), about 1:1000.
func bombStream(n int) []byte {
	var out []byte
	var acc uint64
	var nbits uint
	put := func(v uint64, bits uint) { // LSB first
		acc |= v << nbits
		nbits += bits
		for nbits >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			nbits -= 8
		}
	}
	putCode := func(code uint64, bits uint) { // Huffman codes go MSB first
		var r uint64
		for i := range bits {
			r |= (code >> i & 1) << (bits - 1 - i)
		}
		put(r, bits)
	}
	put(0, 1)        // BFINAL 0
	put(1, 2)        // BTYPE 01: fixed Huffman codes
	putCode(0x30, 8) // literal 0
	for range (n - 1) / 258 {
		putCode(0xc5, 8) // length code 285: 258 bytes
		putCode(0, 5)    // distance code 0: 1 byte back
	}
	put(0, 7) // end of block (code 256, 7 zero bits)
	if nbits > 0 {
		put(0, 8-nbits)
	}
	return out
}

// TestInflaterBomb inflates compression bombs: 6.5 MiB that would give
// 1 GiB, and 32 KiB from compress/flate that would give 32 MiB. Each stops
// at the 1 MiB cap with ErrTooLarge, having allocated a few MiB at most.
func TestInflaterBomb(t *testing.T) {
	crafted := bombStream(1 << 30)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 32 {
		w.Write(zeros)
	}
	w.Flush()
	flateBomb := buf.Bytes()[:buf.Len()-4]
	if len(crafted) > 7<<20 || len(flateBomb) > 64<<10 {
		t.Fatalf("bombs of %d and %d bytes", len(crafted), len(flateBomb))
	}
	const limit = 1 << 20
	for name, bomb := range map[string][]byte{"crafted": crafted, "compress/flate": flateBomb} {
		in := NewInflater(15, true, limit)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err := in.Message(bomb, nil)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) || len(out) != limit {
			t.Errorf("%s: %d bytes, %v", name, len(out), err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*limit {
			t.Errorf("%s: %d bytes allocated", name, alloc)
		}
		if _, err := in.Message([]byte{0x00}, nil); !errors.Is(err, ErrInflaterBroken) || errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: after ErrTooLarge with context takeover: %v", name, err)
		}
	}
}

func TestInflaterAllocs(t *testing.T) {
	msgs := [][]byte{[]byte(`{"t":20.5}`), []byte(`{"t":20.6}`), []byte(`{"t":20.7}`)}
	comp := deflateMessages(t, msgs, false)
	for _, takeover := range []bool{true, false} {
		in := NewInflater(15, takeover, 1<<20)
		dst := make([]byte, 0, 1024)
		in.Message(comp[0], dst)
		a := testing.AllocsPerRun(100, func() {
			if _, err := in.Message(comp[1], dst); err != nil {
				t.Fatal(err)
			}
		})
		if a != 0 {
			t.Errorf("takeover %v: Message allocates %.1f times per call", takeover, a)
		}
	}
}
