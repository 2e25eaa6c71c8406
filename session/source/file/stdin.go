package file

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// SpoolLimit is how much of standard input Options.Keep keeps in a
// temporary file.
const SpoolLimit = 4 << 30

// errSpoolFull stops a read whose standard input outgrew SpoolLimit.
var errSpoolFull = errors.New("standard input is over the 4 GiB this command keeps of it to read it twice; save the capture to a file and give its name")

// spool is a copy of standard input in a temporary file, written as the
// input is read.
type spool struct {
	f *os.File
	n int64
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "mqtap-stdin-*.capture")
	if err != nil {
		return nil, fmt.Errorf("keeping a copy of standard input: %w", err)
	}
	return &spool{f: f}, nil
}

// Write implements io.Writer, up to SpoolLimit bytes.
func (s *spool) Write(p []byte) (int, error) {
	if s.n+int64(len(p)) > SpoolLimit {
		return 0, errSpoolFull
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("keeping a copy of standard input: %w", err)
	}
	return n, nil
}

// path is the spool's file, to read the capture from again.
func (s *spool) path() string { return s.f.Name() }

// remove deletes the spool.
func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// idleReader reads a stream (a pipe from tcpdump -U -w -) in its own
// goroutine and calls idle whenever the reader is about to wait for more:
// what was decoded so far is printed before mqtap waits on a quiet pipe,
// while a fast stream is not flushed at every record.
type idleReader struct {
	chunks chan []byte // data read, in order
	free   chan []byte // buffers to read into again
	cur    []byte      // the rest of the chunk being consumed
	last   []byte      // the buffer cur is part of
	err    error       // why the stream ended, once chunks is closed
	idle   func()
}

func newIdleReader(r io.Reader, idle func()) *idleReader {
	const buffers, size = 4, 64 << 10
	ir := &idleReader{chunks: make(chan []byte, buffers), free: make(chan []byte, buffers), idle: idle}
	for range buffers {
		ir.free <- make([]byte, size)
	}
	go func() {
		for {
			buf := <-ir.free
			n, err := r.Read(buf[:cap(buf)])
			if n > 0 {
				ir.chunks <- buf[:n]
			} else {
				ir.free <- buf
			}
			if err != nil {
				ir.err = err
				close(ir.chunks)
				return
			}
		}
	}()
	return ir
}

// Read implements io.Reader.
func (ir *idleReader) Read(p []byte) (int, error) {
	if len(ir.cur) == 0 {
		if ir.last != nil {
			ir.free <- ir.last
			ir.last = nil
		}
		var ok bool
		select {
		case ir.cur, ok = <-ir.chunks:
		default:
			ir.idle()
			ir.cur, ok = <-ir.chunks
		}
		if !ok {
			return 0, ir.err
		}
		ir.last = ir.cur
	}
	n := copy(p, ir.cur)
	ir.cur = ir.cur[n:]
	return n, nil
}
