// Package file is the source of capture files and pipes.
//
// It reads pcap and pcapng files, gzip-compressed or not, and standard input
// ("-": tcpdump -U -w - | mqtap read -) into a pipeline. Every interface the
// capture declares is declared to the pipeline with its own link type, the
// TLS key logs it embeds (pcapng Decryption Secrets Blocks) decrypt what
// follows them, and its problems (malformed blocks, a truncated end) are
// reported, never fatal while frames can still be read. The capture is
// read on a goroutine of its own, a few batches of frames ahead of the
// pipeline (ahead.go).
//
// # Reading standard input twice
//
// Commands that read their capture more than once (export, read -w) open
// standard input with Options.Keep: a copy is kept in a temporary file, at
// most SpoolLimit bytes, that Path names and Close removes.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

// Stdin is the name that opens standard input, as in tshark -r -.
const Stdin = "-"

// Options adjust a file source. The zero value reads the whole capture and
// drops warnings.
type Options struct {
	// Warn receives the capture's problems, one line each: malformed
	// blocks with their offsets, interfaces whose link type mqtap does not
	// decode, embedded key logs that cannot be read.
	Warn func(msg string)
	// Keep keeps a copy of standard input in a temporary file as it is
	// read (Path names it), for a second pass.
	Keep bool
	// Frames stops the read after this many frames (0: all).
	Frames int
	// Stdin is read instead of os.Stdin for "-" (tests).
	Stdin io.Reader
}

// Source reads one capture file or standard input.
type Source struct {
	r     *pcaps.Reader
	opts  Options
	path  string // the capture on disk: the file, or the spool of standard input
	spool *spool
	ahead *ahead // while Run reads
}

// Open opens the capture at path, or standard input for "-". Nothing is
// read from a pipe until Run.
func Open(path string, opts Options) (*Source, error) {
	s := &Source{opts: opts, path: path}
	if path != Stdin {
		r, err := pcaps.Open(path)
		if err != nil {
			return nil, err
		}
		s.r = r
		return s, nil
	}
	var in io.Reader = os.Stdin
	if opts.Stdin != nil {
		in = opts.Stdin
	}
	if opts.Keep {
		sp, err := newSpool()
		if err != nil {
			return nil, err
		}
		s.spool, s.path = sp, sp.path()
		in = io.TeeReader(in, sp)
	}
	// A pipe: what arrived is decoded and shown before waiting for more.
	r, err := pcaps.NewReader(newIdleReader(in, s.waiting), "standard input")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.r = r
	return s, nil
}

// waiting is called, on the reading goroutine, when standard input has
// nothing more for now: what was read goes to the pipeline, which then
// delivers what it holds (Pipeline.Idle).
func (s *Source) waiting() {
	if a := s.ahead; a != nil && a.add(event{kind: evIdle}) {
		a.send()
	}
}

// Name is how messages name the capture: its path, or "standard input".
func (s *Source) Name() string { return s.r.Path }

// Path is a file holding the capture, to read it again: the file itself,
// or the copy of standard input kept with Options.Keep ("-" without it).
func (s *Source) Path() string { return s.path }

// Reader is the open capture (its format, its size and how far Run got).
func (s *Source) Reader() *pcaps.Reader { return s.r }

// Truncated reports whether the capture ended inside a frame: Run
// processed what came before it.
func (s *Source) Truncated() bool { return s.r.Truncated() }

// Run declares the capture's interfaces and embedded secrets to p, runs
// every frame through it and closes it. It stops early with the handler's
// error or when ctx is done (returned); a capture cut short ends the run
// without an error (Truncated). A pcap file whose link type mqtap cannot
// decode is an error.
func (s *Source) Run(ctx context.Context, p *session.Pipeline) error {
	if s.r.Format == pcaps.FormatPcap {
		if _, err := session.NewLayerDecoder(s.r.LinkType()); err != nil {
			return fmt.Errorf("%s: %w", s.r.Path, err)
		}
	}
	warn := s.opts.Warn
	if warn == nil {
		warn = func(string) {}
	}
	a := newAhead()
	s.ahead = a
	s.r.SetHooks(pcaps.Hooks{
		Interface: a.addInterface,
		Secrets: func(sec pcaps.Secret) {
			sec.Data = append([]byte(nil), sec.Data...)
			a.add(event{kind: evSecrets, more: &eventMore{sec: sec}})
		},
		Warning: func(msg string) { a.add(event{kind: evWarning, more: &eventMore{text: msg}}) },
	})
	go a.read(ctx, s.r, s.opts.Frames)
	err := a.feed(p, s.r.Path, warn)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return err
}

// errEnough ends a read at Options.Frames.
var errEnough = errors.New("frame limit reached")

// Close closes the capture and removes the copy of standard input.
func (s *Source) Close() error {
	var err error
	if s.r != nil {
		err = s.r.Close()
	}
	if s.spool != nil {
		s.spool.remove()
	}
	return err
}
