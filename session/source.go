package session

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/keys/tlskeys"
	"github.com/mqtap/mqtap/pcaps"
)

// A Source feeds a Pipeline: the frames of a capture file or pipe
// (source/file), of a live interface (source/live), or the MQTT packets a
// broker sends to a subscriber (source/tap). Each has its own run loop;
// commands and the terminal UI open any of them and run it the same way.
type Source interface {
	// Name names the source in messages: a file, an interface or a broker
	// URL.
	Name() string
	// Run declares what the source knows (interfaces, link types,
	// embedded secrets) to p, feeds p until the source ends, ctx is done
	// or p's handler returns an error, and closes p. It returns the first
	// error; the end of the input is not one.
	Run(ctx context.Context, p *Pipeline) error
	// Close releases what the source holds (a file, a capture ring).
	Close() error
}

// Idle tells p that its source has handed over everything that has arrived
// and waits for more: it calls Options.Idle.
func (p *Pipeline) Idle() error {
	if p.opts.Idle == nil {
		return nil
	}
	return p.opts.Idle()
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
