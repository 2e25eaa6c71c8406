package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/keys/tlskeys"
	"github.com/mqtap/mqtap/pcaps"
)

// Attach prepares the pipeline for the frames of a capture file or
// stream: every interface the capture declares is declared to the pipeline
// with its own link type (an interface mqtap cannot decode is a warning
// naming it, and its frames are skipped), the TLS key logs the capture
// embeds (pcapng Decryption Secrets Blocks, even in its middle) decrypt
// what follows them as if given with --keys, and the reader's warnings
// (malformed blocks, with their offsets) go to warn. Call it before the
// first r.Next. A pcap file, which has one interface, whose link type mqtap
// cannot decode is an error.
func (p *Pipeline) Attach(r *pcaps.Reader, warn func(string)) error {
	if r.Format == pcaps.FormatPcap {
		if _, err := NewLayerDecoder(r.LinkType()); err != nil {
			return fmt.Errorf("%s: %w", r.Path, err)
		}
	}
	r.SetHooks(pcaps.Hooks{
		Interface: func(f pcaps.Interface) {
			err := p.AddInterface(Interface{Index: f.Index, ID: f.ID, Name: f.Name, Link: f.LinkType, Described: f.Described})
			if err != nil {
				warn(fmt.Sprintf("%s: %v", r.Path, err))
			}
		},
		Secrets: func(s pcaps.Secret) {
			if err := p.AddSecrets(s); err != nil {
				warn(fmt.Sprintf("%s: %v", r.Path, err))
			}
		},
		Warning: warn,
	})
	return nil
}

// AddSecrets uses the secrets of a pcapng Decryption Secrets Block: a TLS
// key log decrypts the TLS connections whose handshakes come after it.
// Other kinds of secrets (SSH, WireGuard, ...) are not used by mqtap and
// are ignored.
func (p *Pipeline) AddSecrets(s pcaps.Secret) error {
	if s.Type != pcaps.SecretsTLSKeyLog {
		return nil
	}
	log, err := tlskeys.ParseKeyLog(bytes.NewReader(s.Data), "the capture's TLS key log")
	if err != nil {
		return fmt.Errorf("embedded TLS key log: %w", err)
	}
	if p.opts.Keys == nil {
		if p.opts.Keys, err = keys.Load(); err != nil {
			return err
		}
	}
	p.opts.Keys.TLSKeyLog().Merge(log)
	return nil
}

// ReadResult is what ReadCapture read.
type ReadResult struct {
	Stats
	// Truncated is set when the capture ended inside a frame: what was
	// read before it was processed.
	Truncated bool
}

// ReadCapture runs every frame of r through p, then closes p. It stops
// early with the handler's error (returned), and at the end of a capture
// cut short (Truncated, not an error).
func (p *Pipeline) ReadCapture(r *pcaps.Reader) (ReadResult, error) {
	var res ReadResult
	var readErr error
	for {
		data, ci, err := r.Next()
		if err != nil {
			readErr = err
			break
		}
		if err := p.Frame(data, ci); err != nil {
			break
		}
	}
	closeErr := p.Close()
	res.Stats = p.Stats()
	switch {
	case closeErr != nil:
		return res, closeErr
	case errors.Is(readErr, io.EOF):
	case errors.Is(readErr, pcaps.ErrTruncated):
		res.Truncated = true
	case readErr != nil:
		return res, readErr
	}
	return res, nil
}
