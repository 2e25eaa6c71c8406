// Reading ahead: the capture is read on a goroutine of its own, a few
// batches of frames ahead of the pipeline, so that reading and parsing the
// file's blocks, and decoding each frame's link, IP and TCP headers
// (session.LayerDecoder, one per link type), cost the pipeline's
// goroutine nothing. What the reader meets between frames (interfaces,
// embedded secrets, warnings, a pipe that has nothing more for now)
// travels in the same batches, so the pipeline sees everything in file
// order.

package file

import (
	"context"
	"errors"

	"github.com/gopacket/gopacket"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

// A batch holds up to aheadFrames frames, fewer when their bytes reach
// aheadBytes; aheadBatches of them bound the memory read ahead.
const (
	aheadFrames  = 256
	aheadBytes   = 1 << 20
	aheadBatches = 4
)

// eventKind is what the reader met.
type eventKind uint8

const (
	evFrame     eventKind = iota // a frame: ci, and its bytes data[start:end]
	evInterface                  // an interface declared: more.ifc
	evSecrets                    // embedded secrets: more.sec
	evWarning                    // a problem of the capture: more.text
	evIdle                       // a pipe has nothing more for now
)

type event struct {
	kind       eventKind
	ci         gopacket.CaptureInfo
	start, end int
	decoded    bool            // a frame whose headers dec holds
	dec        session.Decoded // of a TCP segment, not a fragment
	more       *eventMore      // what the other kinds carry
}

type eventMore struct {
	ifc  pcaps.Interface
	sec  pcaps.Secret
	text string
}

// aheadBatch is a run of events and the bytes of their frames.
type aheadBatch struct {
	events []event
	data   []byte
}

// ahead hands batches from the reading goroutine to the pipeline's.
type ahead struct {
	full chan *aheadBatch // to the pipeline's goroutine; closed after the last
	free chan *aheadBatch
	quit chan struct{} // closed when the pipeline's goroutine stops early
	done chan error    // the reading goroutine's result
	cur  *aheadBatch   // being filled, by the reading goroutine
	// decs decodes the headers of the frames of each interface (by
	// index), on the reading goroutine; nil for a link type the pipeline
	// does not decode, whose frames go to it undecoded.
	decs []*session.LayerDecoder
}

// addInterface adds an interface's event, and a decoder for its frames.
func (a *ahead) addInterface(f pcaps.Interface) {
	if f.Index >= 0 && f.Index <= 1<<20 {
		for len(a.decs) <= f.Index {
			a.decs = append(a.decs, nil)
		}
		a.decs[f.Index] = nil
		for _, d := range a.decs {
			if d != nil && d.Link() == f.LinkType {
				a.decs[f.Index] = d // one per link type, as the pipeline's
				break
			}
		}
		if a.decs[f.Index] == nil {
			a.decs[f.Index], _ = session.NewLayerDecoder(f.LinkType)
		}
	}
	a.add(event{kind: evInterface, more: &eventMore{ifc: f}})
}

var errQuit = errors.New("the pipeline stopped")

func newAhead() *ahead {
	a := &ahead{full: make(chan *aheadBatch, aheadBatches), free: make(chan *aheadBatch, aheadBatches),
		quit: make(chan struct{}), done: make(chan error, 1)}
	for range aheadBatches {
		a.free <- &aheadBatch{}
	}
	return a
}

// add appends an event to the batch being filled; false when the pipeline
// stopped.
func (a *ahead) add(ev event) bool {
	if a.cur == nil {
		select {
		case a.cur = <-a.free:
		case <-a.quit:
			return false
		}
	}
	a.cur.events = append(a.cur.events, ev)
	return true
}

// frame adds a frame, and sends the batch when it is full. A batch's
// bytes never move once a frame is in them, since its decoded headers
// point into them: a frame that does not fit goes in the next batch.
func (a *ahead) frame(data []byte, ci gopacket.CaptureInfo) bool {
	if b := a.cur; b != nil && len(b.data) > 0 && cap(b.data)-len(b.data) < len(data) && !a.send() {
		return false
	}
	if !a.add(event{kind: evFrame}) {
		return false
	}
	b := a.cur
	if len(b.data) == 0 && cap(b.data) < len(data) {
		b.data = make([]byte, 0, max(aheadBytes, len(data)))
	}
	ev := &b.events[len(b.events)-1]
	ci.AncillaryData = nil
	ev.ci, ev.start = ci, len(b.data)
	b.data = append(b.data, data...)
	ev.end = len(b.data)
	if i := ci.InterfaceIndex; i >= 0 && i < len(a.decs) && a.decs[i] != nil {
		d := a.decs[i]
		if seg := d.Decode(b.data[ev.start:ev.end:ev.end]); seg.TCP && !seg.Fragment {
			ev.decoded, ev.dec = true, session.Decoded{Seg: seg, TCP: d.Header()}
		}
	}
	if len(b.events) >= aheadFrames || len(b.data) >= aheadBytes {
		return a.send()
	}
	return true
}

// send sends the batch being filled, if it holds anything.
func (a *ahead) send() bool {
	if a.cur == nil || len(a.cur.events) == 0 {
		return true
	}
	select {
	case a.full <- a.cur:
		a.cur = nil
		return true
	case <-a.quit:
		return false
	}
}

// read reads the capture into batches until its end, an error, frames
// frames (0: all), ctx is done or the pipeline stops.
func (a *ahead) read(ctx context.Context, r *pcaps.Reader, frames int) {
	n := 0
	err := r.Each(func(data []byte, ci gopacket.CaptureInfo) error {
		n++
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !a.frame(data, ci) {
			return errQuit
		}
		if n == frames {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errQuit) {
		a.send() // the frames read before the end or the error
	}
	a.done <- err
	close(a.full)
}

// feed runs the batches through p until the reader is done, and returns
// the first error: the pipeline's, or the reader's after every frame
// before it went through.
func (a *ahead) feed(p *session.Pipeline, path string, warn func(string)) error {
	var err error
	for b := range a.full {
		if err == nil {
			if err = a.run(b, p, path, warn); err != nil {
				close(a.quit)
			}
		}
		b.events = b.events[:0]
		if cap(b.data) > 4*aheadBytes {
			b.data = nil // do not keep a huge frame's buffer
		}
		b.data = b.data[:0]
		a.free <- b
	}
	rerr := <-a.done
	switch {
	case err != nil:
		return err
	case errors.Is(rerr, errEnough):
		return nil
	}
	return rerr
}

// run runs one batch through p.
func (a *ahead) run(b *aheadBatch, p *session.Pipeline, path string, warn func(string)) error {
	for i := range b.events {
		ev := &b.events[i]
		switch ev.kind {
		case evFrame:
			data := b.data[ev.start:ev.end:ev.end]
			var err error
			if ev.decoded {
				err = p.FrameDecoded(data, ev.ci, &ev.dec)
			} else {
				err = p.Frame(data, ev.ci)
			}
			if err != nil {
				return err
			}
		case evInterface:
			f := &ev.more.ifc
			if err := p.AddInterface(session.Interface{Index: f.Index, ID: f.ID, Name: f.Name, Link: f.LinkType, Described: f.Described}); err != nil {
				warn(path + ": " + err.Error())
			}
		case evSecrets:
			if err := p.AddSecrets(ev.more.sec); err != nil {
				warn(path + ": " + err.Error())
			}
		case evWarning:
			warn(ev.more.text)
		case evIdle:
			p.Idle()
		}
	}
	return nil
}
