package tap

import (
	"context"

	"github.com/mqtap/mqtap/session"
)

// Version is the MQTT protocol version the tap speaks (paho.golang
// implements MQTT 5 only): the version its records are decoded with.
const Version = 5

// Source is a broker subscription as a pipeline source: every packet the
// broker sends to the tap's client, fed as direct records
// (session.Pipeline.Received), one tcp.stream per network connection.
type Source struct {
	cfg Config
}

// New returns the source that subscribes as cfg says. Nothing is dialled
// until Run.
func New(cfg Config) *Source { return &Source{cfg: cfg} }

// Name is the broker's URL.
func (s *Source) Name() string { return s.cfg.URL }

// Close does nothing: Run disconnects when it returns.
func (s *Source) Close() error { return nil }

// Run connects, subscribes and feeds p what the broker sends until ctx is
// done, the handler stops it or the tap fails (see Run's errors), then
// closes p. p.Idle is called whenever the decoder has caught up.
func (s *Source) Run(ctx context.Context, p *session.Pipeline) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan Chunk, 1024)
	tapErr := make(chan error, 1)
	go func() {
		tapErr <- Run(ctx, s.cfg, chunks)
		close(chunks)
	}()
	var runErr error
	for ch := range chunks {
		if runErr != nil {
			continue // drain until the tap has disconnected
		}
		if ch.Closed {
			p.Disconnected(ch.Local, ch.Broker)
		} else if runErr = p.Received(ch.Local, ch.Broker, Version, ch.Data, ch.Time); runErr != nil {
			cancel()
			continue
		}
		if len(chunks) == 0 {
			if runErr = p.Idle(); runErr != nil {
				cancel()
			}
		}
	}
	if err := <-tapErr; runErr == nil {
		runErr = err
	}
	if err := p.Close(); runErr == nil {
		runErr = err
	}
	return runErr
}
