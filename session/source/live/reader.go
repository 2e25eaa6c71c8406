package live

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
)

// Frame is a captured frame. Its data belongs to the receiver.
type Frame struct {
	Data []byte
	Info gopacket.CaptureInfo
}

// reader reads a ring in its own goroutine, so that decoding runs beside
// the capture: frames are copied out of the kernel's ring as soon as they
// arrive and queued for the decoder.
type reader struct {
	src    *ring
	frames chan Frame
	stopAt atomic.Int64 // when Stop was called (unix ns), 0 while running
	err    error
}

// queueLen is how many frames wait for the decoder before the reader waits
// too (the kernel's ring then holds the next ones).
const queueLen = 8192

// slabSize is the size of the blocks frames are copied into.
const slabSize = 1 << 20

// start starts reading the ring.
func (s *ring) start() *reader {
	r := &reader{src: s, frames: make(chan Frame, queueLen)}
	go r.run()
	return r
}

func (r *reader) run() {
	defer close(r.frames)
	var slab []byte
	for {
		data, ci, err := r.src.Next()
		stopAt := r.stopAt.Load()
		switch {
		case stopAt != 0 && (err != nil || ci.Timestamp.UnixNano() > stopAt || time.Now().UnixNano()-stopAt > int64(maxDrain)):
			return // drained: the ring has nothing older than the stop
		case errors.Is(err, ErrTimeout):
			continue
		case err != nil:
			r.err = err
			return
		}
		if len(slab)+len(data) > cap(slab) {
			slab = make([]byte, 0, max(slabSize, len(data)))
		}
		start := len(slab)
		slab = append(slab, data...)
		ci.AncillaryData = nil
		r.frames <- Frame{Data: slab[start:len(slab):len(slab)], Info: ci}
	}
}

// Frames delivers the frames in capture order. It is closed when reading
// ends: after Stop, or on an error (Err).
func (r *reader) Frames() <-chan Frame { return r.frames }

// maxDrain bounds how long Stop keeps reading frames captured before it.
const maxDrain = time.Second

// Stop ends reading. Frames the kernel captured before the call are still
// delivered: the ring is read until it has been empty for a poll interval
// (the kernel hands over a partly filled block after its 50 ms timeout) or
// holds only later frames, at most for a second. The caller keeps receiving
// until Frames is closed.
func (r *reader) Stop() { r.stopAt.CompareAndSwap(0, time.Now().UnixNano()) }

// Err is why reading ended, once Frames is closed: nil after Stop.
func (r *reader) Err() error { return r.err }
