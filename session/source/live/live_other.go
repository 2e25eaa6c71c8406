//go:build !linux

package live

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Source is a live capture; it is only available on Linux.
type Source struct{}

// Open fails: live capture uses Linux's AF_PACKET sockets.
func Open(opts Options) (*Source, error) {
	return nil, errors.New("live capture needs Linux (AF_PACKET); read a capture file with mqtap read instead")
}

// LinkType is never called: Open always fails.
func (s *Source) LinkType() layers.LinkType { return layers.LinkTypeNull }

// Name is never called: Open always fails.
func (s *Source) Name() string { return "" }

// Next is never called: Open always fails.
func (s *Source) Next() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, ErrClosed
}

// Stats is never called: Open always fails.
func (s *Source) Stats() (Stats, error) { return Stats{}, ErrClosed }

// Close does nothing.
func (s *Source) Close() {}
