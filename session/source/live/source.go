package live

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

// FlushAfter is how long, in capture time, a live pipeline waits for a
// missing segment before giving the hole up (session.Options.FlushAfter):
// on a quiet network the data behind it is shown soon.
const FlushAfter = 2 * time.Second

// tickEvery is how often a quiet capture lets the pipeline expire held data
// and idle connections.
const tickEvery = 500 * time.Millisecond

// Source is a live capture as a pipeline source: the frames of one
// interface (or all of them, "any") as the kernel captures them, through a
// ring read in its own goroutine, and, with Options.Write, a copy of every
// frame in a pcapng file written as it arrives.
type Source struct {
	ring     *ring
	opts     Options
	save     *saveFile
	captured int
}

// Open starts capturing on opts.Interface with the kernel filter
// opts.Filter, and creates the opts.Write file. Errors are one line: a
// missing interface names the interfaces that exist, and missing
// privileges say how to grant them.
func Open(opts Options) (*Source, error) {
	r, err := openRing(opts)
	if err != nil {
		return nil, err
	}
	s := &Source{ring: r, opts: opts}
	if opts.Write != "" {
		if s.save, err = createSave(opts.Write, r.LinkType(), r.Name(), opts.WriterInfo); err != nil {
			r.Close()
			return nil, err
		}
	}
	return s, nil
}

// Name is the interface's name.
func (s *Source) Name() string { return s.ring.Name() }

// Captured is how many frames Run took from the kernel.
func (s *Source) Captured() int { return s.captured }

// Stats are the kernel's counters: frames received and dropped.
func (s *Source) Stats() (Stats, error) { return s.ring.Stats() }

// Close stops the capture and closes the Options.Write file.
func (s *Source) Close() error {
	s.ring.Close()
	if s.save == nil {
		return nil
	}
	err := s.save.close()
	s.save = nil
	return err
}

// Run declares the interface to p (frame.interface_id 0 with the
// interface's name, as tshark's records and the Options.Write file have)
// and feeds it the frames captured until ctx is done, Options.Frames frames
// were captured, the handler stops it or the capture fails. Whenever the
// decoder has caught up with the capture p.Idle is called (and the
// Options.Write file flushed). At the end the frames the kernel already
// captured are decoded (unless the run failed or is complete) and p is
// closed.
func (s *Source) Run(ctx context.Context, p *session.Pipeline) error {
	name := s.ring.Name()
	if err := p.AddInterface(session.Interface{Name: name, Link: s.ring.LinkType(), Described: true}); err != nil {
		return fmt.Errorf("capture on %s: %w", name, err)
	}
	rd := s.ring.start()
	frames := rd.Frames()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var runErr error
	for running := true; running; {
		select {
		case f, ok := <-frames:
			if !ok {
				running, runErr = false, rd.Err()
				break
			}
			if runErr = s.take(p, f); runErr != nil || s.complete() {
				running = false
				break
			}
			if len(frames) == 0 {
				if runErr = s.idle(p); runErr != nil {
					running = false
				}
			}
		case now := <-tick.C:
			if runErr = p.Tick(now); runErr != nil {
				running = false
			}
		case <-ctx.Done():
			running = false
		}
	}
	rd.Stop()
	for f := range frames { // frames already captured: decoded unless the run failed or is complete
		if runErr == nil && !s.complete() {
			runErr = s.take(p, f)
		}
	}
	if err := p.Close(); runErr == nil {
		runErr = err
	}
	if err := s.idle(p); runErr == nil {
		runErr = err
	}
	return runErr
}

// complete reports whether Options.Frames frames were captured.
func (s *Source) complete() bool { return s.opts.Frames > 0 && s.captured >= s.opts.Frames }

// take runs one captured frame through p, after saving it.
func (s *Source) take(p *session.Pipeline, f Frame) error {
	s.captured++
	if s.save != nil {
		if err := s.save.write(f); err != nil {
			return err
		}
	}
	return p.Frame(f.Data, f.Info)
}

// idle writes out what is buffered once the decoder has caught up.
func (s *Source) idle(p *session.Pipeline) error {
	if err := p.Idle(); err != nil {
		return err
	}
	if s.save != nil {
		return s.save.flush()
	}
	return nil
}

// saveFile is Options.Write: every captured frame, written as it arrives.
type saveFile struct {
	f    *os.File
	w    *pcaps.Writer
	path string
}

func createSave(path string, link layers.LinkType, iface string, info pcaps.WriterInfo) (*saveFile, error) {
	f, err := os.Create(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	w, err := pcaps.NewLinkWriter(f, link, iface, info)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &saveFile{f: f, w: w, path: path}, nil
}

func (l *saveFile) write(f Frame) error {
	f.Info.InterfaceIndex = 0
	if err := l.w.WriteFrame(f.Data, f.Info, nil); err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	return nil
}

func (l *saveFile) flush() error {
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	return nil
}

func (l *saveFile) close() error {
	err := l.flush()
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: %w", l.path, cerr)
	}
	return err
}
