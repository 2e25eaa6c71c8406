package payload

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
)

// Inflate appends data decompressed with c. It stops with an *Error (Limit
// set) once the output passes lim.MaxSize or lim.MaxRatio times the input,
// a decompression bomb, and with an *Error for corrupt input; Offset is
// then the count of compressed bytes read.
func Inflate(dst []byte, c Compression, data []byte, lim Limits) ([]byte, error) {
	if c == NoCompression {
		return append(dst, data...), nil
	}
	in := &countingReader{r: bytes.NewReader(data)}
	var r io.Reader
	var err error
	switch c {
	case Zlib:
		r, err = zlib.NewReader(in)
	case Gzip:
		var g *gzip.Reader
		if g, err = gzip.NewReader(in); err == nil {
			g.Multistream(false)
			r = g
		}
	case Deflate:
		r = flate.NewReader(in)
	default:
		return dst, errorf(None, 0, "unknown compression %d", c)
	}
	if err != nil {
		return dst, errorf(None, in.n, "%s: %s", c, err)
	}
	max := lim.MaxSize
	if ratio := lim.MaxRatio * max1(len(data)); lim.MaxRatio > 0 && ratio < max {
		max = ratio
	}
	buf := bytes.NewBuffer(dst)
	n, err := io.Copy(buf, io.LimitReader(r, int64(max)+1))
	switch {
	case n > int64(max):
		e := limitf(None, in.n, "%s: decompresses past %d bytes (from %d): a compression bomb", c, max, len(data))
		return dst, e
	case err != nil && !errors.Is(err, io.EOF):
		return dst, errorf(None, in.n, "%s: %s", c, err)
	}
	return buf.Bytes(), nil
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// ReadByte lets flate read byte by byte without buffering past the stream.
func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
