package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
	"github.com/mqtap/mqtap/session/source/live"
	"github.com/mqtap/mqtap/session/source/tap"
)

// sourceSpec is what a command reads: a capture file ("-" for standard
// input), a live interface (sniff.iface) or a broker (a URL as file, with
// tap's settings).
type sourceSpec struct {
	file   string
	sniff  *sniffFlags
	tap    tap.Config
	frames int  // live: stop after this many captured frames (-a packets:N)
	keep   bool // standard input: keep a copy to read it again (read -w)
}

// isBroker reports whether the spec names a broker URL.
func (s sourceSpec) isBroker() bool { return strings.Contains(s.file, "://") }

// isLive reports whether the source is a live interface or a broker, whose
// keys may be written while mqtap runs.
func (s sourceSpec) isLive() bool { return s.sniff != nil && s.sniff.iface != "" || s.isBroker() }

// openSource opens the source of spec the same way for every command and
// the terminal UI, and sets in opts what it needs: a live capture adds the
// ports of -f and waits less for missing segments. Problems of a capture
// file go to warn, one line each.
func openSource(spec sourceSpec, opts *session.Options, warn func(string)) (session.Source, error) {
	switch {
	case spec.sniff != nil && spec.sniff.iface != "":
		return openLive(spec.sniff, spec.frames, opts)
	case spec.isBroker():
		cfg := spec.tap
		cfg.URL = spec.file
		return tap.New(cfg), nil
	}
	return file.Open(spec.file, file.Options{Warn: warn, Keep: spec.keep})
}

// openLive starts the capture -i and the capture flags ask for.
func openLive(sf *sniffFlags, frames int, opts *session.Options) (*live.Source, error) {
	name, err := resolveInterface(sf.iface)
	if err != nil {
		return nil, err
	}
	expr, err := captureFilter(sf, opts)
	if err != nil {
		return nil, err
	}
	if sf.write == "-" {
		return nil, usagef("-w -: the packets are printed on stdout; write the capture to a file")
	}
	opts.FlushAfter = live.FlushAfter
	return live.Open(live.Options{Interface: name, Filter: expr, SnapLen: sf.snaplen, Promiscuous: !sf.noPromisc,
		BufferMB: sf.bufferMB, Frames: frames, Write: sf.write,
		WriterInfo: pcaps.WriterInfo{Application: "mqtap " + version, Comment: "mqtap sniff -i " + name}})
}

// warnTo returns the warning function that prints to stderr.
func warnTo(stderr io.Writer) func(string) {
	return func(msg string) { fmt.Fprintln(stderr, "mqtap: "+msg) }
}

// readFile runs a capture file (or standard input, "-") through a new
// pipeline into handle. Problems of the input (malformed blocks, link
// types mqtap does not decode, caps reached) are one line each on stderr.
func readFile(path string, opts session.Options, handle session.Handler, stderr io.Writer) (session.Stats, error) {
	src, err := file.Open(path, file.Options{Warn: warnTo(stderr)})
	if err != nil {
		return session.Stats{}, err
	}
	defer src.Close()
	return readCapture(context.Background(), src, opts, handle, stderr)
}

// readCapture runs an open capture through a new pipeline into handle,
// with a progress bar on a terminal, and says on stderr what the records
// cannot show. A capture none of whose frames could be decoded is an
// error; one cut short is a warning.
func readCapture(ctx context.Context, src *file.Source, opts session.Options, handle session.Handler, stderr io.Writer) (session.Stats, error) {
	p := session.New(opts, handle)
	stopProgress := startProgress(src.Reader(), stderr)
	err := src.Run(ctx, p)
	stopProgress()
	st := p.Stats()
	if err != nil && !errors.Is(err, errStop) {
		return st, err
	}
	name := src.Name()
	noteStats(stderr, name, st)
	if src.Truncated() {
		if st.Frames == 0 {
			return st, fmt.Errorf("%s: the file is truncated before its first frame; nothing could be read", name)
		}
		fmt.Fprintf(stderr, "mqtap: %s: the file is truncated after frame %d; showing what was read\n", name, st.Frames)
	}
	if st.Frames > 0 && st.Unsupported == st.Frames {
		return st, fmt.Errorf("%s: no frame could be decoded: mqtap does not read the link type of any of its interfaces", name)
	}
	return st, nil
}

// noteStats says on stderr what a read could not show in full: packets cut
// off by the end, bytes the snap length cut, holes given up at a cap,
// limits reached.
func noteStats(stderr io.Writer, path string, st session.Stats) {
	if st.Incomplete > 0 {
		fmt.Fprintf(stderr, "mqtap: %s: %d MQTT packet(s) were cut off by the end of their connection or of the capture and are not shown\n", path, st.Incomplete)
	}
	if st.SnapCut > 0 {
		fmt.Fprintf(stderr, "mqtap: %s: the capture's snap length cut %d bytes of TCP data off its frames; %d MQTT packet(s) are shown with the bytes captured (\"Packet size limited during capture\")\n", path, st.SnapCut, st.Truncated)
	}
	if st.Encrypted > 0 {
		fmt.Fprintf(stderr, "mqtap: %s: %d 802.11 frame(s) are encrypted (WEP/WPA): mqtap does not decrypt 802.11; capture on an open network, or on the wired side of the access point\n", path, st.Encrypted)
	}
	if st.CapsReached > 0 {
		fmt.Fprintf(stderr, "mqtap: %s: %d hole(s) in TCP streams were given up early because the out-of-order data held behind them reached its cap (see their tcp.gap findings)\n", path, st.CapsReached)
	}
	if st.Limits > 0 {
		fmt.Fprintf(stderr, "mqtap: %s: %d limit(s) of mqtap were reached: packets over %d MiB cut, or connections past the lists of TLS and WebSocket connections (see the mqtap.limit findings)\n", path, st.Limits, session.DefaultMaxPacket>>20)
	}
}

// startProgress shows a progress bar on stderr while a large file is read,
// only when stderr is a terminal. It returns a function that removes it.
func startProgress(r *pcaps.Reader, stderr io.Writer) func() {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || r.Size() < 16<<20 {
		return func() {}
	}
	bar := progressbar.NewOptions64(r.Size(),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("reading "+r.Path),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				bar.Set64(r.Offset())
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		bar.Finish()
		bar.Clear()
	}
}

// runLive runs a live source (an interface or a broker) into sk until it
// ends, -c packets were printed, SIGINT or SIGTERM arrives, or duration (when
// not 0) has passed. Reaching -c is not an error.
func runLive(ctx context.Context, src session.Source, opts session.Options, sk *sink, duration time.Duration) (*session.Pipeline, error) {
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, duration)
		defer c()
	}
	p := session.New(opts, sk.handle)
	err := src.Run(ctx, p)
	if errors.Is(err, errStop) {
		err = nil
	}
	return p, err
}
