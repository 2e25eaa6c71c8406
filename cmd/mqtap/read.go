package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
)

func newReadCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		of    outputFlags
		path  string
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
			case len(args) == 1 && path == "":
				path = args[0]
			case len(args) == 0 && path != "":
			case len(args) == 0:
				return usagef("read needs a capture file: mqtap read FILE (see 'mqtap read --help')")
			default:
				return usagef("read takes one capture file, got %d arguments", len(args)+btoi(path != ""))
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"pcap", "pcapng", "gz", "cap"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRead(cmd.Context(), &of, &wf, path, count, stdout, stderr)
		},
	}
	cmd.Flags().StringVarP(&path, "read-file", "r", "", "capture file to read (same as the FILE argument); - is standard input")
	cmd.Flags().IntVarP(&count, "count", "c", 0, "stop after this many MQTT control packets")
	of.register(cmd)
	wf.register(cmd)
	return cmd
}

// runRead is mqtap read: every record of the capture at path through the
// analysis chain, -Y and the output, then -w.
func runRead(ctx context.Context, of *outputFlags, wf *writeFlag, path string, count int, stdout, stderr io.Writer) error {
	opts, err := of.pipelineOptions()
	if err != nil {
		return err
	}
	sk, err := newSink(of, stdout, count)
	if err != nil {
		return err
	}
	sk.observe = wf.observe
	opts = sk.chain.Options(opts)
	opts.Idle = sk.flush // standard input: print what arrived before waiting
	var unattached []session.Finding
	opts.OnFinding = func(f session.Finding, frame int) { unattached = append(unattached, f) }
	src, err := file.Open(path, file.Options{Warn: warnTo(stderr), Keep: wf.path != ""})
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := readCapture(ctx, src, opts, sk.handle, stderr)
	noteUnshown(stderr, path, st.TLS, unattached)
	err = wf.finish(err, src.Path(), opts, sk.chain.Keys())
	if cerr := sk.out.Close(); err == nil {
		err = cerr
	}
	return err
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

// errStop ends a read early once -c packets were printed.
var errStop = errors.New("count reached")
