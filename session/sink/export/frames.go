package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
)

// Options configure the second pass of an export.
type Options struct {
	// Pipeline are the options of the first pass (the -d ports): the second
	// pass runs the pipeline again with them where it needs connections or
	// records.
	Pipeline session.Options
	// WithContext keeps every frame of each selected connection: the TCP
	// handshake and teardown, acknowledgements, other MQTT packets
	// (Frames only).
	WithContext bool
	// Secrets are TLS key logs (NSS key log format) written as one
	// Decryption Secrets Block before the frames (Frames only).
	Secrets [][]byte
	// Analysis returns a fresh chain of the analysis stages that the first
	// pass ran (Decrypted needs the plaintexts again); nil: none.
	Analysis func() func(*session.Record)
	// Info goes into the section header.
	Info pcaps.WriterInfo
	// Context, when set, stops Frames once it is cancelled, with its
	// error (the terminal UI's :w when the UI quits); nil: never.
	Context context.Context
}

// Stats sums up what an export wrote.
type Stats struct {
	Frames      int  // frames written
	Commented   int  // frames with a comment
	Connections int  // connections written (Decrypted)
	Decrypted   int  // PUBLISH payloads replaced by their plaintext (Decrypted)
	Truncated   bool // the capture file ends inside a frame: the export stops there
	// ChainCut counts the frames left out of the frames a packet depends
	// on because it spanned more than maxChain (4,096) frames, and
	// HolesLost the out-of-order gaps not tracked past maxHoles (64) per
	// direction: the file may then lack frames Wireshark needs to follow
	// the MQTT framing of those connections.
	ChainCut, HolesLost int
}

// Analysis returns the analysis chain of mqtap read for the keys of store
// (session/analysis), fresh for each pass; the error is that of
// analysis.New, checked once here.
func Analysis(store *keys.Store) (func() func(*session.Record), error) {
	if _, err := analysis.New(store); err != nil {
		return nil, err
	}
	return func() func(*session.Record) {
		chain, _ := analysis.New(store) // checked above: the rules are the same
		return chain.Observe
	}, nil
}

// TLSKeylogs reads the TLS key log files of store (Store.TLSKeylogs), for
// Options.Secrets; files that hold nothing are left out.
func TLSKeylogs(store *keys.Store) ([][]byte, error) {
	var out [][]byte
	for _, path := range store.TLSKeylogs() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading TLS key log for the export: %w", err)
		}
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out, nil
}

// errDone ends the copy of frames after the last one needed.
var errDone = errors.New("export: every frame needed was written")

// joinSecrets concatenates key logs into one, each ending with a newline.
func joinSecrets(logs [][]byte) []byte {
	var all []byte
	for _, l := range logs {
		all = append(all, l...)
		if len(l) > 0 && l[len(l)-1] != '\n' {
			all = append(all, '\n')
		}
	}
	return all
}

// Frames writes a plain export: it re-reads the capture at path and writes
// to w, as pcapng, the frames c selected, the earlier frames that hold bytes
// of the packets they complete (see plan; with opts.WithContext, every frame
// of each selected connection), byte for byte with their original
// timestamps and interfaces, each with the comments of its MQTT packets,
// after a Decryption Secrets Block holding opts.Secrets. It reads the file
// twice more: once through the pipeline to find the frames, once to copy
// them (the first only up to the last selected packet that did not come
// whole in a frame starting on a packet boundary, Record.InFrame: none
// other needs an earlier frame; not at all when there is none). Frame
// numbers are counted as the first pass counted them, so the
// capture must be the one the first pass read.
func Frames(path string, w io.Writer, c *Collector, opts Options) (Stats, error) {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	need, st, err := plan(ctx, path, c, opts.WithContext, opts.Pipeline)
	if err != nil {
		return st, err
	}
	comments, err := c.comments.reader()
	if err != nil {
		return st, err
	}
	r, err := pcaps.Open(path)
	if err != nil {
		return st, err
	}
	defer r.Close()
	out, err := pcaps.NewWriter(w, r, opts.Info)
	if err != nil {
		return st, err
	}
	if secrets := joinSecrets(opts.Secrets); len(secrets) > 0 {
		if err := out.WriteSecrets(pcaps.SecretsTLSKeyLog, secrets); err != nil {
			return st, err
		}
	}
	var secretErr error
	r.SetHooks(pcaps.Hooks{
		// The capture's own secrets go along, where they were.
		Secrets: func(s pcaps.Secret) {
			if err := out.WriteSecrets(s.Type, s.Data); err != nil && secretErr == nil {
				secretErr = err
			}
		},
		Warning: ignore,
	})
	end := len(need) * 64
	n := 0
	err = r.Each(func(data []byte, ci gopacket.CaptureInfo) error {
		n++
		switch {
		case secretErr != nil:
			return secretErr
		case n >= end:
			return errDone
		case n%4096 == 0 && ctx.Err() != nil:
			return ctx.Err()
		case !need.has(n):
			return nil
		}
		cms, err := comments.comments(n)
		if err != nil {
			return err
		}
		if err := out.WriteFrame(data, ci, cms); err != nil {
			return err
		}
		st.Frames++
		if len(cms) > 0 {
			st.Commented++
		}
		return nil
	})
	st.Truncated = st.Truncated || r.Truncated()
	switch {
	case errors.Is(err, errDone):
	case err != nil:
		return st, err
	case secretErr != nil:
		return st, secretErr
	}
	return st, out.Flush()
}
