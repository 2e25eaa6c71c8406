//go:build !linux

package live

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ring is a live capture; it is only available on Linux.
type ring struct{}

// openRing fails: live capture uses Linux's AF_PACKET sockets.
func openRing(opts Options) (*ring, error) {
	return nil, errors.New("live capture needs Linux (AF_PACKET); read a capture file with mqtap read instead")
}

// LinkType is never called: openRing always fails.
func (s *ring) LinkType() layers.LinkType { return layers.LinkTypeNull }

// Name is never called: openRing always fails.
func (s *ring) Name() string { return "" }

// Next is never called: openRing always fails.
func (s *ring) Next() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, ErrClosed
}

// Stats is never called: openRing always fails.
func (s *ring) Stats() (Stats, error) { return Stats{}, ErrClosed }

// Close does nothing.
func (s *ring) Close() {}
