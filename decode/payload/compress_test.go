package payload

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"strings"
	"testing"
)

// compress compresses data with Go's writer for c.
func compress(t testing.TB, c Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case Zlib:
		w = zlib.NewWriter(&buf)
	case Gzip:
		w = gzip.NewWriter(&buf)
	case Deflate:
		w, _ = flate.NewWriter(&buf, flate.BestCompression)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var compressions = []Compression{Zlib, Gzip, Deflate}

// compressible is text of some size that compresses well, not too well.
var compressible = []byte(strings.Repeat(`{"seq":1,"src":"p311q0","capteur":"salle-1","t":16.1}`+"\n", 40))

func TestInflateRoundTrip(t *testing.T) {
	for _, c := range compressions {
		for _, data := range [][]byte{nil, []byte("x"), compressible, bytes.Repeat([]byte{0}, 100)} {
			z := compress(t, c, data)
			out, err := Inflate([]byte("dst"), c, z, DefaultLimits)
			if err != nil || string(out) != "dst"+string(data) {
				t.Errorf("%s of %d bytes: %d bytes, %v", c, len(data), len(out)-3, err)
			}
		}
	}
	out, err := Inflate([]byte("dst"), NoCompression, []byte{0xff, 0}, Limits{})
	if err != nil || string(out) != "dst\xff\x00" {
		t.Errorf("NoCompression: %q, %v", out, err)
	}
}

func TestInflatePython(t *testing.T) {
	values := []string{`b""`, `b"hello"`, `b'{"t": 21.5, "h": [1, 2]}' * 20`, `bytes(range(256)) * 4`}
	for _, tt := range []struct {
		c      Compression
		encode string
	}{
		{Zlib, "zlib.compress(v)"},
		{Zlib, "zlib.compress(v, 0)"},
		{Gzip, "gzip.compress(v, mtime=0)"},
		{Gzip, "gzip.compress(v, 1)"},
		{Deflate, "(lambda z: z.compress(v) + z.flush())(zlib.compressobj(9, zlib.DEFLATED, -15))"},
	} {
		encs := python(t, "import zlib, gzip", tt.encode, values)
		plain := python(t, "", "v", values)
		for i, z := range encs {
			out, err := Inflate(nil, tt.c, z, DefaultLimits)
			if err != nil || !bytes.Equal(out, plain[i]) {
				t.Errorf("%s of %s: %q, %v; want %q", tt.encode, values[i], out, err, plain[i])
			}
		}
	}
	// A gzip payload of several members is their concatenation.
	two := python(t, "import gzip", "gzip.compress(b'{\"a\":') + gzip.compress(b'1}')", []string{"0"})[0]
	out, f, err := Decode(nil, two, Spec{Compression: Gzip}, DefaultLimits)
	if err != nil || f != JSON || string(out) != `{"a":1}` {
		t.Errorf("two gzip members: %s, %s, %v", out, f, err)
	}
}

func TestInflateBombs(t *testing.T) {
	zeros := bytes.Repeat([]byte{0}, 1<<20)
	for _, c := range compressions {
		z := compress(t, c, zeros) // about 1000 times smaller
		_, err := Inflate([]byte("dst"), c, z, DefaultLimits)
		t.Run(c.String()+" ratio", func(t *testing.T) {
			wantErrRange(t, err, None, len(z), true, "a compression bomb")
		})
		_, err = Inflate(nil, c, z, Limits{MaxSize: 1000, MaxRatio: 0})
		t.Run(c.String()+" size", func(t *testing.T) {
			wantErrRange(t, err, None, len(z), true, "decompresses past 1000 bytes")
		})
		// Exactly the limit passes.
		small := compress(t, c, zeros[:1000])
		if out, err := Inflate(nil, c, small, Limits{MaxSize: 1000}); err != nil || len(out) != 1000 {
			t.Errorf("%s: 1000 bytes within 1000: %d, %v", c, len(out), err)
		}
		if _, err := Inflate(nil, c, small, Limits{MaxSize: 999}); err == nil {
			t.Errorf("%s: 1000 bytes within 999", c)
		}
		// A ratio so large that it overflows is no bound.
		if out, err := Inflate(nil, c, small, Limits{MaxSize: 1 << 20, MaxRatio: math.MaxInt}); err != nil || len(out) != 1000 {
			t.Errorf("%s: MaxRatio MaxInt: %d, %v", c, len(out), err)
		}
	}
}

// wantErrRange is wantErr with an offset anywhere in 0..max.
func wantErrRange(t *testing.T, err error, f Format, max int, limit bool, msg string) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %v, want an *Error", err, err)
	}
	if e.Offset < 0 || e.Offset > max {
		t.Fatalf("error %+v: offset outside 0..%d", *e, max)
	}
	wantErr(t, err, f, e.Offset, limit, msg)
}

func TestInflateCorrupt(t *testing.T) {
	for _, c := range compressions {
		z := compress(t, c, compressible)
		flipped := append([]byte(nil), z...)
		flipped[len(z)-2] ^= 0xff // in the checksum, or the last block
		for name, data := range map[string][]byte{
			"empty":     {},
			"garbage":   []byte("not compressed at all"),
			"truncated": z[:len(z)/2],
			"cut":       z[:len(z)-1],
			"flipped":   flipped,
		} {
			if c == Deflate && name == "garbage" {
				continue // deflate has no header: may read as a stored block
			}
			out, err := Inflate([]byte("dst"), c, data, DefaultLimits)
			if string(out) != "dst" {
				t.Errorf("%s %s: dst changed", c, name)
			}
			t.Run(c.String()+" "+name, func(t *testing.T) { wantErrRange(t, err, None, len(data), false, c.String()+": ") })
		}
		// Bytes after the stream are an error, at the end of the stream.
		_, err := Inflate(nil, c, append(z[:len(z):len(z)], "tail"...), DefaultLimits)
		wantErr(t, err, None, len(z), false, c.String()+": 4 bytes after the compressed stream")
	}
	// What follows a gzip member and starts like one must be one.
	z := compress(t, Gzip, compressible)
	bad := append(z[:len(z):len(z)], "\x1f\x8b\x09\x00\x00\x00\x00\x00\x00\xff"...)
	_, err := Inflate(nil, Gzip, bad, DefaultLimits)
	wantErrRange(t, err, None, len(bad), false, "gzip: invalid header")
	_, err = Inflate(nil, Compression(9), []byte{1}, DefaultLimits)
	wantErr(t, err, None, 0, false, "unknown compression 9")
}
