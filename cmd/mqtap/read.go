package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
)

// outputFlags are the flags every command that prints records shares.
type outputFlags struct {
	format      string
	fields      []string
	verbose     bool
	showSecrets bool
	decodeAs    []string
	keys        []string
	filter      string
}

func (o *outputFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "T", "text", "output format: text, json, ndjson or fields")
	f.StringArrayVarP(&o.fields, "field", "e", nil, "field to print with -T fields (repeatable), e.g. -e frame.number -e mqtt.topic")
	f.BoolVarP(&o.verbose, "verbose", "V", false, "print the detail tree of every packet")
	f.BoolVar(&o.showSecrets, "show-secrets", false, "print passwords from CONNECT instead of masking them")
	f.StringArrayVarP(&o.decodeAs, "decode-as", "d", nil, decodeAsHelp)
	registerKeys(cmd, &o.keys)
	registerFilter(cmd, &o.filter)
	cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json", "ndjson", "fields"}, cobra.ShellCompDirectiveNoFileComp
	})
}

// pipelineOptions turns the -d flags into pipeline options.
func (o *outputFlags) pipelineOptions() (session.Options, error) {
	var opts session.Options
	for _, d := range o.decodeAs {
		port, ws, err := parseDecodeAs(d)
		if err != nil {
			return opts, err
		}
		if ws {
			opts.WSPorts = append(opts.WSPorts, port)
		} else {
			opts.Ports = append(opts.Ports, port)
		}
	}
	return opts, nil
}

// parseDecodeAs parses tshark's "tcp.port==N,mqtt" and
// "tcp.port==N,websocket" (MQTT over WebSocket: ws is set).
func parseDecodeAs(s string) (port uint16, ws bool, err error) {
	sel, proto, ok := strings.Cut(s, ",")
	proto = strings.ToLower(strings.TrimSpace(proto))
	if !ok || (proto != "mqtt" && proto != "websocket") {
		return 0, false, usagef("-d %q: expected tcp.port==PORT,mqtt or tcp.port==PORT,websocket", s)
	}
	field, val, ok := strings.Cut(sel, "==")
	if !ok {
		field, val, ok = strings.Cut(sel, ":")
	}
	if !ok || strings.TrimSpace(field) != "tcp.port" {
		return 0, false, usagef("-d %q: only tcp.port==PORT,mqtt and tcp.port==PORT,websocket are supported", s)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 16)
	if err != nil || n == 0 {
		return 0, false, usagef("-d %q: %q is not a TCP port (1-65535)", s, val)
	}
	return uint16(n), proto == "websocket", nil
}

// registerFilter adds -Y, tshark's display filter.
func registerFilter(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "display-filter", "Y", "", `Wireshark display filter, evaluated per MQTT control packet (e.g. -Y 'mqtt.topic contains "sensors" && mqtt.qos > 0')`)
}

// compileFilter compiles -Y; an empty filter selects everything (nil).
func compileFilter(expr string) (*filter.Filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	f, err := filter.Compile(expr)
	if err != nil {
		return nil, usagef("-Y %q: %v", expr, err)
	}
	return f, nil
}

// analysisSetup checks and loads what the report commands (sessions,
// findings) share: -T text|json, -d, -Y and --keys.
func analysisSetup(command, format string, decodeAs []string, expr string, keyPaths []string) (session.Options, *filter.Filter, *keys.Store, error) {
	if format != "text" && format != "json" {
		return session.Options{}, nil, nil, usagef("unknown output format %q for %s: use text or json", format, command)
	}
	of := outputFlags{decodeAs: decodeAs}
	opts, err := of.pipelineOptions()
	if err != nil {
		return opts, nil, nil, err
	}
	flt, err := compileFilter(expr)
	if err != nil {
		return opts, nil, nil, err
	}
	store, err := loadKeys(keyPaths)
	opts.Keys = store
	return opts, flt, store, err
}

// registerKeys adds the --keys flag.
func registerKeys(cmd *cobra.Command, dst *[]string) {
	cmd.Flags().StringArrayVarP(dst, "keys", "k", nil, "key material (repeatable): a directory (read recursively), a PEM file (DH private keys of either side of a key exchange), or a keyring *.toml with per-topic HMAC, RSA-OAEP and ECDSA rules")
}

// loadKeys reads the --keys paths; nil when there are none.
func loadKeys(paths []string) (*keys.Store, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	return keys.Load(paths...)
}

func (o *outputFlags) writer(w io.Writer) (*output.Writer, error) {
	var unknown []string
	for _, name := range o.fields {
		if !session.KnownField(name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		return nil, usagef("unknown field(s) for -e: %s (see the field names in 'mqtap read -T json' output)", strings.Join(unknown, ", "))
	}
	out, err := output.New(w, output.Options{
		Format:      output.Format(o.format),
		Verbose:     o.verbose,
		FieldNames:  o.fields,
		ShowSecrets: o.showSecrets,
	})
	if err != nil {
		return nil, usageError{err}
	}
	return out, nil
}

func newReadCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		of    outputFlags
		file  string
		count int
	)
	var wf writeFlag // -w OUT.pcapng, see export.go
	cmd := &cobra.Command{
		Use:   "read FILE",
		Short: "Decode every MQTT control packet of a capture file",
		Long: `Read a pcap or pcapng capture (gzip-compressed too), reassemble its TCP
connections and print every MQTT control packet: one line each by default,
the full detail tree with -V, or JSON (-T json, -T ndjson) and selected fields
(-T fields -e NAME) under Wireshark's field names.

MQTT is decoded on ports 1883, 1884 and 8883 and detected on any other port
from a connection's CONNECT, or from a run of well-formed packets in both
directions when the capture started mid-connection. -d tcp.port==N,mqtt forces
a port. A packet split over several TCP segments is reported in the frame that
completes it, as Wireshark does.

A truncated capture prints what could be read and a warning; the exit code is
0 when at least one frame was read, 1 when none could be.`,
		Example: `  mqtap read pcaps/samples/mqtt5.pcapng
  mqtap read -r capture.pcap -V
  mqtap read capture.pcapng.gz -T ndjson
  mqtap read capture.pcap -T fields -e frame.number -e mqtt.topic -e mqtt.msg
  mqtap read capture.pcap -d tcp.port==9001,mqtt
  mqtap read capture.pcapng -Y 'mqtt.msgtype == 3 && mqtt.topic matches "^sensors/"'`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && file == "":
				file = args[0]
			case len(args) == 0 && file != "":
			case len(args) == 0:
				return usagef("read needs a capture file: mqtap read FILE (see 'mqtap read --help')")
			default:
				return usagef("read takes one capture file, got %d arguments", len(args)+btoi(file != ""))
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"pcap", "pcapng", "gz", "cap"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := of.pipelineOptions()
			if err != nil {
				return err
			}
			sk, err := newSink(&of, stdout, count)
			if err != nil {
				return err
			}
			sk.observe = wf.observe
			opts.Keys = sk.store
			var unattached []session.Finding
			opts.OnFinding = func(f session.Finding, frame int) { unattached = append(unattached, f) }
			in := file
			var st session.Stats
			if file == "-" && wf.path != "" {
				// -w reads the capture again: keep a copy of standard
				// input as it is read.
				spool, err := newStdinSpool()
				if err != nil {
					return err
				}
				defer spool.remove()
				st, err = readStream(io.TeeReader(os.Stdin, spool), opts, sk.handle, sk.flush, stderr)
				in = spool.path()
			} else if file == "-" {
				st, err = readStream(os.Stdin, opts, sk.handle, sk.flush, stderr)
			} else {
				st, err = readFile(file, opts, sk.handle, stderr)
			}
			noteUnshown(stderr, file, st.TLS, unattached)
			err = wf.finish(err, in, opts, sk.store)
			if cerr := sk.out.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "read-file", "r", "", "capture file to read (same as the FILE argument); - is standard input")
	cmd.Flags().IntVarP(&count, "count", "c", 0, "stop after this many MQTT control packets")
	of.register(cmd)
	wf.register(cmd)
	return cmd
}

// noteUnshown says on stderr what the records do not show: the TLS
// connections that could not be decrypted (their MQTT packets are missing)
// and the findings no record carries (about those connections, and about IP
// fragments), by code.
func noteUnshown(stderr io.Writer, file string, conns []session.TLSInfo, fs []session.Finding) {
	hidden := 0
	for _, c := range conns {
		if c.Decrypted != "ok" {
			hidden++
		}
	}
	if hidden > 0 {
		fmt.Fprintf(stderr, "mqtap: %d of %d TLS connection(s) could not be decrypted (pass the clients' key log, SSLKEYLOGFILE, with --keys); mqtap sessions --tls %s lists their handshakes\n", hidden, len(conns), file)
	}
	if len(fs) == 0 {
		return
	}
	codes := map[session.FindingCode]int{}
	var order []session.FindingCode
	for _, f := range fs {
		if codes[f.Code] == 0 {
			order = append(order, f.Code)
		}
		codes[f.Code]++
	}
	var parts []string
	for _, c := range order {
		parts = append(parts, fmt.Sprintf("%d %s", codes[c], c))
	}
	fmt.Fprintf(stderr, "mqtap: findings no MQTT packet carries: %s (mqtap findings %s)\n", strings.Join(parts, ", "), file)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodeAsHelp is the help of -d, the same in every command.
const decodeAsHelp = "decode a TCP port as MQTT, as in tshark: -d tcp.port==N,mqtt, or as MQTT over WebSocket: -d tcp.port==N,websocket (repeatable)"

// errStop ends a read early once -c packets were printed.
var errStop = errors.New("count reached")

// readFile runs one capture file (or standard input, "-") through the
// pipeline into handle. Problems of the input (malformed blocks, link types
// mqtap does not decode, caps reached) are one line each on stderr.
func readFile(path string, opts session.Options, handle session.Handler, stderr io.Writer) (session.Stats, error) {
	r, err := pcaps.Open(path)
	if err != nil {
		return session.Stats{}, err
	}
	defer r.Close()
	return readCapture(r, opts, handle, stderr)
}

// readStream is readFile on standard input (or a copy of it being made):
// idle is called whenever mqtap has decoded everything that arrived so far
// and waits for more, to print it.
func readStream(in io.Reader, opts session.Options, handle session.Handler, idle func(), stderr io.Writer) (session.Stats, error) {
	r, err := pcaps.NewReader(newIdleReader(in, idle), "standard input")
	if err != nil {
		return session.Stats{}, err
	}
	defer r.Close()
	return readCapture(r, opts, handle, stderr)
}

// readCapture is readFile on an open capture.
func readCapture(r *pcaps.Reader, opts session.Options, handle session.Handler, stderr io.Writer) (session.Stats, error) {
	p := session.New(opts, handle)
	if err := p.Attach(r, func(msg string) { fmt.Fprintln(stderr, "mqtap: "+msg) }); err != nil {
		return session.Stats{}, err
	}
	stopProgress := startProgress(r, stderr)
	res, err := p.ReadCapture(r)
	stopProgress()
	st := res.Stats
	if err != nil && !errors.Is(err, errStop) {
		return st, err
	}
	noteStats(stderr, r.Path, st)
	if res.Truncated {
		if st.Frames == 0 {
			return st, fmt.Errorf("%s: the file is truncated before its first frame; nothing could be read", r.Path)
		}
		fmt.Fprintf(stderr, "mqtap: %s: the file is truncated after frame %d; showing what was read\n", r.Path, st.Frames)
	}
	if st.Frames > 0 && st.Unsupported == st.Frames {
		return st, fmt.Errorf("%s: no frame could be decoded: mqtap does not read the link type of any of its interfaces", r.Path)
	}
	return st, nil
}

// noteStats says on stderr what a read could not show in full: packets cut
// off by the end, bytes the snap length cut, holes given up at a cap.
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
