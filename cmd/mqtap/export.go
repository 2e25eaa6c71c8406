package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/export"
	"github.com/mqtap/mqtap/session/source/file"
)

// spoolNote is what the help of the commands that read standard input
// twice says about it.
const spoolNote = "it is kept in a temporary file (at most 4 GiB), since an export reads the capture more than once"

// exportLong is the help text of mqtap export.
const exportLong = `Write a pcapng file that Wireshark and tshark open as intended.

By default the export holds the frames that carry MQTT control packets (with
a display filter, the packets it selects: a frame is exported when any packet
it completes is selected, as Wireshark's "Export Specified Packets" does),
byte for byte, with their original timestamps and link type. Every frame
whose payload mqtap decrypted or verified with the --keys given carries a
packet comment, shown by Wireshark as frame.comment, e.g.
  mqtap: le0nh4rt#1 dh-fernet ok: "Networking is the best!"
and so do key exchanges and payloads that failed to decrypt or verify (with
the reason and the finding codes).
TLS key logs named by a keyring ([tls] keylog) are embedded as a Decryption
Secrets Block, so Wireshark decrypts TLS in the export without the file; the
capture's own Decryption Secrets Blocks are kept where they were.

FILE may be - for standard input: ` + spoolNote + `.

--with-context also keeps every other frame of each connection with a
selected packet: the TCP handshake and teardown, acknowledgements and the
packets the filter left out.

--decrypted writes a new capture instead: each connection with a selected
packet is rebuilt from all its MQTT control packets, with a TCP handshake,
one segment per control packet (split at 1448 bytes) at the original time,
addresses and ports, and every decrypted PUBLISH payload replaced by its
plaintext (remaining length re-encoded; topic, packet identifier and MQTT 5
properties unchanged). TCP sequence numbers, IP lengths and checksums are
consistent, so tshark decodes the plaintext as MQTT; the link type is
Ethernet. Connections are always whole, so --with-context changes nothing.
A connection that was MQTT over TLS (decrypted with a key log) is written as
plain MQTT on its original ports: on 8883, which Wireshark expects to carry
TLS, decode it as MQTT (tshark -d tcp.port==8883,mqtt).

A frame that completes an MQTT packet split over several TCP segments is
exported with the earlier segments of that packet, as Wireshark's "Export
Specified Packets" keeps depended upon frames: without them Wireshark would
lose the MQTT framing of the connection. For the same reason a packet of an
MQTT 5 connection brings the frame of the connection's CONNECT: Wireshark
decodes MQTT 5 properties only after it.

The capture is read three times (twice with --decrypted); memory stays small
whatever its size. OUT is written to a temporary file renamed at the end;
-o - writes to stdout.`

func newExportCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		run      exportRun
		keyPaths []string
		decodeAs []string
		expr     string
	)
	cmd := &cobra.Command{
		Use:   "export FILE -o OUT.pcapng [-Y FILTER]",
		Short: "Write the frames of the MQTT packets of a capture, annotated or decrypted, as pcapng",
		Long:  exportLong,
		Example: `  mqtap export pcaps/samples/lab-session.pcapng -o annotated.pcapng --keys pcaps/samples/keys/lab-session/requester
  tshark -r annotated.pcapng -Y frame.comment -T fields -e frame.number -e frame.comment
  mqtap export capture.pcapng -o plain.pcapng --keys keys/ --decrypted
  mqtap export capture.pcapng -o uppercase.pcapng --keys keys/ -Y 'mqtt.topic contains "uppercase"' --with-context
  mqtap export capture.pcapng -o session.pcapng --with-context -d tcp.port==9001,mqtt`,
		Args: run.args,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"pcap", "pcapng", "gz", "cap"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			of := outputFlags{decodeAs: decodeAs}
			opts, err := of.pipelineOptions()
			if err != nil {
				return err
			}
			run.opts = opts
			flt, err := compileFilter(expr)
			if err != nil {
				return err
			}
			if flt != nil {
				run.sel = flt.Match
			}
			if run.store, err = loadKeys(keyPaths); err != nil {
				return err
			}
			run.opts.Keys = run.store
			return run.run(stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&run.in, "read-file", "r", "", "capture file to read (same as the FILE argument); - is standard input, kept in a temporary file of at most 4 GiB")
	f.StringVarP(&run.out, "output", "o", "", "pcapng file to write (- for stdout)")
	f.BoolVar(&run.withContext, "with-context", false, "also keep every other frame of each connection with a selected packet (handshake, teardown, acknowledgements)")
	f.BoolVar(&run.decrypted, "decrypted", false, "write a re-synthesised capture of the selected connections with every decrypted payload in plaintext")
	f.StringArrayVarP(&decodeAs, "decode-as", "d", nil, decodeAsHelp)
	registerKeys(cmd, &keyPaths)
	registerFilter(cmd, &expr)
	return cmd
}

// exportRun is one mqtap export.
type exportRun struct {
	in, out     string
	name        string // how messages name the input, when it is not in
	opts        session.Options
	store       *keys.Store
	sel         func(*session.Record) bool // the MQTT packets to export; nil: all
	withContext bool
	decrypted   bool
}

// run makes the export: the first pass through readFile with the analysis
// stages, the others by the export package, into a temporary file renamed
// at the end.
func (e *exportRun) run(stdout, stderr io.Writer) error {
	// The export reads the capture two or three times: standard input is
	// kept in a temporary file as the first pass reads it.
	src, err := file.Open(e.in, file.Options{Warn: warnTo(stderr), Keep: true})
	if err != nil {
		return err
	}
	defer src.Close()
	if e.in == file.Stdin {
		e.name = "standard input"
	}
	dst, err := createOutput(e.out, e.in, stdout)
	if err != nil {
		return err
	}
	analysis, err := export.Analysis(e.store)
	if err != nil {
		dst.Abort()
		return err
	}
	collector := export.NewCollector(e.sel)
	defer collector.Close()
	collector.NoComments = e.decrypted
	analyze := func(*session.Record) {}
	if !e.decrypted || e.sel != nil {
		// A --decrypted export of every connection needs the plaintexts
		// only once, in its second pass.
		analyze = analysis()
	}
	_, err = readCapture(context.Background(), src, collector.Hook(e.opts), func(r *session.Record) error {
		analyze(r)
		collector.Observe(r)
		return nil
	}, stderr)
	if err != nil {
		dst.Abort()
		return err
	}
	e.in = src.Path()
	xopts := export.Options{Pipeline: e.opts, WithContext: e.withContext, Analysis: analysis,
		Info: pcaps.WriterInfo{Application: "mqtap " + version, Comment: e.comment()}}
	st, err := export.Write(e.in, dst, collector, xopts, e.store, e.decrypted)
	if err != nil {
		return err
	}
	switch {
	case collector.Selected() == 0:
		fmt.Fprintf(stderr, "mqtap: no MQTT packet selected in %s: %s holds no frames\n", e.inName(), e.out)
	case e.decrypted:
		fmt.Fprintf(stderr, "mqtap: exported %d connection(s) in %d synthesised frames, %d payload(s) decrypted, to %s\n", st.Connections, st.Frames, st.Decrypted, e.out)
	default:
		fmt.Fprintf(stderr, "mqtap: exported %d frames (%d with comments) to %s\n", st.Frames, st.Commented, e.out)
	}
	if st.ChainCut > 0 || st.HolesLost > 0 {
		fmt.Fprintf(stderr, "mqtap: limit reached: %d frame(s) of packets spanning more than 4,096 frames and %d out-of-order gap(s) past 64 per direction were not followed; %s may lack frames Wireshark needs to follow the MQTT framing\n", st.ChainCut, st.HolesLost, e.out)
	}
	return nil
}

// inName is how messages name the input.
func (e *exportRun) inName() string {
	if e.name != "" {
		return e.name
	}
	return e.in
}

// comment is the section comment of the export.
func (e *exportRun) comment() string {
	s := "mqtap export of " + filepath.Base(e.inName())
	switch {
	case e.decrypted:
		s += ", decrypted (re-synthesised connections)"
	case e.withContext:
		s += ", with context"
	}
	return s
}

// writeFlag is read's -w OUT.pcapng: the frames of the printed packets,
// annotated as by mqtap export, written by a second pass once the capture
// has been printed.
type writeFlag struct {
	path      string
	collector *export.Collector
}

// register adds -w to cmd; the output path is checked before the capture is
// read.
func (w *writeFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&w.path, "write", "w", "", "also write the frames of the printed MQTT packets, with comments on what was decrypted, to this pcapng file (as mqtap export; from standard input, a copy of at most 4 GiB is kept to read it again)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if prev != nil {
			if err := prev(cmd, args); err != nil {
				return err
			}
		}
		if w.path == "" {
			return nil
		}
		if w.path == "-" {
			return usagef("-w -: the packets are printed on stdout; write the capture to a file")
		}
		w.collector = export.NewCollector(nil)
		return nil
	}
}

// observe takes a printed record.
func (w *writeFlag) observe(r *session.Record) {
	if w.collector != nil {
		w.collector.Observe(r)
	}
}

// finish writes the -w file once the capture has been read without error
// (readErr) and returns the first error.
func (w *writeFlag) finish(readErr error, in string, opts session.Options, store *keys.Store) error {
	if w.collector == nil {
		return readErr
	}
	defer w.collector.Close()
	if readErr != nil {
		return readErr
	}
	dst, err := createOutput(w.path, in, nil)
	if err != nil {
		return err
	}
	xopts := export.Options{Pipeline: opts, Info: pcaps.WriterInfo{Application: "mqtap " + version, Comment: "mqtap read -w of " + filepath.Base(in)}}
	_, err = export.Write(in, dst, w.collector, xopts, store, false)
	return err
}

// createOutput opens the export's destination (see export.Create); writing
// over the capture being read is a usage error.
func createOutput(path, in string, stdout io.Writer) (*export.File, error) {
	f, err := export.Create(path, in, stdout)
	if errors.Is(err, export.ErrSameFile) {
		return nil, usageError{err}
	}
	return f, err
}

// args takes the capture file from the argument or -r and requires -o.
func (run *exportRun) args(_ *cobra.Command, args []string) error {
	switch {
	case len(args) == 1 && run.in == "":
		run.in = args[0]
	case len(args) == 0 && run.in != "":
	case len(args) == 0:
		return usagef("export needs a capture file: mqtap export FILE -o OUT.pcapng (see 'mqtap export --help')")
	default:
		return usagef("export takes one capture file, got %d arguments", len(args)+btoi(run.in != ""))
	}
	if run.out == "" {
		return usagef("export needs an output file: -o OUT.pcapng (or -o - for stdout)")
	}
	return nil
}
