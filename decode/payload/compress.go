package payload

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
)

// Inflate appends data decompressed with c. It stops with an *Error (Limit
// set) once the output passes lim.MaxSize or lim.MaxRatio times the input,
// a decompression bomb, and with an *Error for corrupt input and for bytes
// after the compressed stream; Offset is then the count of compressed
// bytes read. A gzip payload may hold several members, as gzip files do:
// their contents are concatenated.
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
			r = &gzipMembers{z: g, in: in, data: data}
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
	if n := max1(len(data)); lim.MaxRatio > 0 && n <= math.MaxInt/lim.MaxRatio && lim.MaxRatio*n < max {
		max = lim.MaxRatio * n
	}
	buf := bytes.NewBuffer(dst)
	n, err := io.Copy(buf, io.LimitReader(r, int64(max)+1))
	switch {
	case n > int64(max):
		e := limitf(None, in.n, "%s: decompresses past %d bytes (from %d): a compression bomb", c, max, len(data))
		return dst, e
	case err != nil:
		return dst, errorf(None, in.n, "%s: %s", c, err)
	case in.n < len(data):
		return dst, errorf(None, in.n, "%s: %d bytes after the compressed stream", c, len(data)-in.n)
	}
	return buf.Bytes(), nil
}

// gzipMembers reads the members of a gzip stream one after the other, as
// long as what follows a member starts like one: the rest is left unread.
type gzipMembers struct {
	z    *gzip.Reader
	in   *countingReader
	data []byte
}

func (m *gzipMembers) Read(p []byte) (int, error) {
	n, err := m.z.Read(p)
	if rest := m.data[m.in.n:]; err == io.EOF && len(rest) >= 2 && rest[0] == 0x1f && rest[1] == 0x8b {
		if err = m.z.Reset(m.in); err == nil {
			m.z.Multistream(false)
		}
	}
	return n, err
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
