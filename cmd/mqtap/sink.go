package main

import (
	"io"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
)

// sink is what read, sniff and tap do with every record: rebuild key
// exchanges and check protected payloads, apply -Y, print, and stop after
// -c packets.
type sink struct {
	out     *output.Writer
	filter  *filter.Filter
	chain   *analysis.Chain
	store   *keys.Store
	count   int                   // -c: stop after this many printed packets (0: never)
	observe func(*session.Record) // also called for every printed record, when set
}

// newSink checks the output flags, compiles -Y and loads --keys.
func newSink(of *outputFlags, stdout io.Writer, count int) (*sink, error) {
	flt, err := compileFilter(of.filter)
	if err != nil {
		return nil, err
	}
	out, err := of.writer(stdout)
	if err != nil {
		return nil, err
	}
	store, err := loadKeys(of.keys)
	if err != nil {
		return nil, err
	}
	chain, err := analysis.New(store)
	if err != nil {
		return nil, err
	}
	return &sink{out: out, filter: flt, chain: chain, store: store, count: count}, nil
}

// flush writes out the records printed so far.
func (s *sink) flush() error { return s.out.Flush() }

// handle is the pipeline's handler.
func (s *sink) handle(rec *session.Record) error {
	s.chain.Observe(rec)
	if s.filter != nil && !s.filter.Match(rec) {
		return nil
	}
	if err := s.out.Write(rec); err != nil {
		return err
	}
	if s.observe != nil {
		s.observe(rec)
	}
	if s.count > 0 && s.out.Count() >= s.count {
		return errStop
	}
	return nil
}
