package pcaps

import (
	"errors"
	"io"
	"sync/atomic"
)

// Buffer sizes of input: it starts at minBuffer and grows, by doubling and
// only as data arrives, up to the size of the largest block it must hold.
const minBuffer = 256 << 10

// input is a read buffer over a stream. The bytes of the block or record
// being parsed stay contiguous in it, so a frame is a slice of the buffer
// (no copy), and it holds no more than the current block needs: on a pipe,
// fill returns as soon as the bytes asked for have arrived.
type input struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread bytes are buf[r:w]
	pos  int64 // stream offset of buf[r]
	err  error // sticky error of src
}

// fill makes at least n bytes available at avail. It returns io.EOF when the
// stream ended with no byte left, io.ErrUnexpectedEOF when it ended with
// fewer than n, or the error of the stream.
func (in *input) fill(n int) error {
	empty := 0
	for in.w-in.r < n {
		if in.err != nil {
			if in.err == io.EOF {
				if in.w == in.r {
					return io.EOF
				}
				return io.ErrUnexpectedEOF
			}
			return in.err
		}
		if in.w == len(in.buf) {
			in.makeRoom(n)
		}
		m, err := in.src.Read(in.buf[in.w:])
		in.w += m
		if err != nil {
			in.err = err
		}
		if m == 0 && err == nil {
			if empty++; empty > 100 {
				in.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// makeRoom frees space at the end of a full buffer: it moves the unread
// bytes to the front, or doubles the buffer (never beyond what n needs)
// when they fill it.
func (in *input) makeRoom(n int) {
	if in.r > 0 {
		in.w = copy(in.buf, in.buf[in.r:in.w])
		in.r = 0
		return
	}
	size := max(2*len(in.buf), minBuffer)
	if n > minBuffer && n < size {
		size = n
	}
	buf := make([]byte, size)
	in.w = copy(buf, in.buf[in.r:in.w])
	in.r = 0
	in.buf = buf
}

// avail is the unread part of the buffer.
func (in *input) avail() []byte { return in.buf[in.r:in.w] }

// skip consumes n bytes that fill made available.
func (in *input) skip(n int) {
	in.r += n
	in.pos += int64(n)
}

// ended reports whether the stream is over and every byte of it consumed.
func (in *input) ended() bool {
	return in.r == in.w && in.err != nil && errors.Is(in.err, io.EOF)
}

// counter counts the bytes read through it. Offset may be called from
// another goroutine (a progress bar).
type counter struct {
	r io.Reader
	n atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
