package decode

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
)

// permessage-deflate (RFC 7692): the messages of a direction are raw
// DEFLATE data, each ending in a sync flush whose last 4 bytes (0x00 0x00
// 0xff 0xff) the sender removes. With context takeover a message may refer
// back into the previous messages' output, within the sender's window.

// DefaultMaxMessage is the cap NewInflater uses when given none: 16 MiB.
const DefaultMaxMessage = 16 << 20

// ErrTooLarge reports a message that inflates past the Inflater's cap (a
// compression bomb, or a message larger than the caller accepts).
var ErrTooLarge = errors.New("decode: permessage-deflate message inflates past the cap")

// ErrInflaterBroken reports a message that follows a failed one with
// context takeover: its back-references may point into output that was
// never produced, so it is not inflated.
var ErrInflaterBroken = errors.New("decode: an earlier permessage-deflate message of this direction failed")

// deflateTail is the end of the sync flush the sender removed.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// Inflater decompresses the messages of one direction of a
// permessage-deflate connection. It reuses its DEFLATE reader and its
// history across messages: once warm, Message allocates nothing but the
// growth of dst. It is not safe for concurrent use.
type Inflater struct {
	fr       io.ReadCloser // the DEFLATE reader, created by the first message
	src      msgSource
	window   int // bytes of history a message may refer back to
	takeover bool
	max      int
	hist     []byte // the last window bytes of output (context takeover), capacity 2*window
	one      [1]byte
	broken   error
}

// NewInflater returns an Inflater for a direction whose sender uses a
// window of 2^windowBits bytes (8..15; any other value means 15; 8 is kept
// as 9 since zlib, which most senders use, turns 8 into 9) and keeps its
// compression context between messages when contextTakeover is true. Each
// message may inflate to at most maxMessage bytes (DefaultMaxMessage when
// maxMessage <= 0).
func NewInflater(windowBits int, contextTakeover bool, maxMessage int) *Inflater {
	if windowBits < 8 || windowBits > 15 {
		windowBits = 15
	}
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	in := &Inflater{window: 1 << max(windowBits, 9), takeover: contextTakeover, max: maxMessage}
	if contextTakeover {
		in.hist = make([]byte, 0, 2*in.window)
	}
	return in
}

// Message inflates one whole compressed message (the payloads of its frames
// joined, without the 0x00 0x00 0xff 0xff tail the sender removed) and
// appends the output to dst. It stops with ErrTooLarge once the message
// would exceed the cap, dst then holding the first maxMessage bytes; dst
// grows by at most the cap in one call. Corrupt data is an error wrapping
// flate.CorruptInputError; a message cut short inflates as far as it goes.
// After an error an Inflater with context takeover is broken: every later
// call returns ErrInflaterBroken, since the history it needs is lost.
// Without context takeover it keeps working.
func (in *Inflater) Message(compressed, dst []byte) ([]byte, error) {
	if in.broken != nil {
		return dst, in.broken
	}
	in.src = msgSource{b: compressed}
	var dict []byte
	if in.takeover {
		dict = in.hist[max(0, len(in.hist)-in.window):]
	}
	if in.fr == nil {
		in.fr = flate.NewReaderDict(&in.src, dict)
	} else if err := in.fr.(flate.Resetter).Reset(&in.src, dict); err != nil {
		return dst, fmt.Errorf("decode: resetting the DEFLATE reader: %w", err)
	}
	start := len(dst)
	dst, err := in.inflate(dst)
	if err != nil {
		if in.takeover {
			// Only ErrInflaterBroken is wrapped (the cause is text): the later messages are
			// not themselves too large or corrupt.
			in.broken = fmt.Errorf("%w (%v)", ErrInflaterBroken, err)
		}
		return dst, err
	}
	in.remember(dst[start:])
	return dst, nil
}

// inflate reads the message's output into dst, growing it as needed up to
// the cap.
func (in *Inflater) inflate(dst []byte) ([]byte, error) {
	limit := len(dst) + in.max
	for {
		var n int
		var err error
		if len(dst) == limit {
			// At the cap: one more byte of output means too large.
			n, err = in.fr.Read(in.one[:])
			if n > 0 {
				return dst, ErrTooLarge
			}
		} else {
			if len(dst) == cap(dst) {
				dst = grow(dst, limit)
			}
			n, err = in.fr.Read(dst[len(dst):min(cap(dst), limit)])
			dst = dst[:len(dst)+n]
		}
		switch {
		case err == nil:
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			// A final block (EOF), or the end of the sync flush: the
			// message is over.
			return dst, nil
		default:
			return dst, fmt.Errorf("decode: inflating a permessage-deflate message: %w", err)
		}
	}
}

// grow returns dst with room for more bytes: double its capacity (at least
// 1 KiB more), never past limit.
func grow(dst []byte, limit int) []byte {
	c := min(max(2*cap(dst), cap(dst)+1024), limit)
	out := make([]byte, len(dst), c)
	copy(out, dst)
	return out
}

// remember keeps the last window bytes of output as the dictionary of the
// next message, sliding the history down only when its buffer is full.
func (in *Inflater) remember(out []byte) {
	if !in.takeover {
		return
	}
	if len(out) >= in.window {
		in.hist = append(in.hist[:0], out[len(out)-in.window:]...)
		return
	}
	if len(in.hist)+len(out) > cap(in.hist) {
		keep := min(in.window-len(out), len(in.hist))
		in.hist = in.hist[:copy(in.hist, in.hist[len(in.hist)-keep:])]
	}
	in.hist = append(in.hist, out...)
}

// msgSource reads a compressed message followed by the sync flush tail.
// It implements flate.Reader so that the DEFLATE reader does not wrap it
// in a bufio.Reader.
type msgSource struct {
	b    []byte
	tail int // tail bytes already read
}

func (s *msgSource) ReadByte() (byte, error) {
	if len(s.b) > 0 {
		c := s.b[0]
		s.b = s.b[1:]
		return c, nil
	}
	if s.tail < len(deflateTail) {
		s.tail++
		return deflateTail[s.tail-1], nil
	}
	return 0, io.EOF
}

func (s *msgSource) Read(p []byte) (int, error) {
	if len(s.b) > 0 {
		n := copy(p, s.b)
		s.b = s.b[n:]
		return n, nil
	}
	if s.tail < len(deflateTail) {
		n := copy(p, deflateTail[s.tail:])
		s.tail += n
		return n, nil
	}
	return 0, io.EOF
}
