package capture

import (
	"errors"
	"sync/atomic"

	"github.com/gopacket/gopacket"
)

// Frame is a captured frame. Its data belongs to the receiver.
type Frame struct {
	Data []byte
	Info gopacket.CaptureInfo
}

// Reader reads a Source in its own goroutine, so that decoding runs beside
// the capture: frames are copied out of the kernel's ring as soon as they
// arrive and queued for the decoder.
type Reader struct {
	src    *Source
	frames chan Frame
	stop   atomic.Bool
	err    error
}

// queueLen is how many frames wait for the decoder before the reader waits
// too (the kernel's ring then holds the next ones).
const queueLen = 8192

// slabSize is the size of the blocks frames are copied into.
const slabSize = 1 << 20

// Start starts reading src.
func (s *Source) Start() *Reader {
	r := &Reader{src: s, frames: make(chan Frame, queueLen)}
	go r.run()
	return r
}

func (r *Reader) run() {
	defer close(r.frames)
	var slab []byte
	for !r.stop.Load() {
		data, ci, err := r.src.Next()
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			if !r.stop.Load() {
				r.err = err
			}
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
func (r *Reader) Frames() <-chan Frame { return r.frames }

// Stop ends reading within the poll interval; frames already queued are
// still delivered. The caller keeps receiving until Frames is closed.
func (r *Reader) Stop() { r.stop.Store(true) }

// Err is why reading ended, once Frames is closed: nil after Stop.
func (r *Reader) Err() error { return r.err }
