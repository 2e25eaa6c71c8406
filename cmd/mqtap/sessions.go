package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/analysis/kex"
	"github.com/mqtap/mqtap/session/sink/connections"
	"github.com/mqtap/mqtap/session/sink/report"
)

// sessionsFlags are the flags of mqtap sessions.
type sessionsFlags struct {
	format   string
	keyPaths []string
	decodeAs []string
	expr     string
	showTLS  bool
	showWS   bool
	showConn bool
}

func newSessionsCmd(stdout, stderr io.Writer) *cobra.Command {
	var fl sessionsFlags
	cmd := &cobra.Command{
		Use:   "sessions FILE",
		Short: "List the key exchanges of a capture and how each was decrypted",
		Long: `List every end-to-end key exchange run over MQTT in a capture (the secure
MQTT lab's Diffie-Hellman exchange on <netid>/key-exchange/request|response):
its netid, the requester and the responder(s) (client id and address), the
frames of the request and the response, the group size, whose private key
decrypted it and with which HKDF variant, how many messages were decrypted,
failed or had no key, and the findings (kex.mitm, kex.unanswered,
kex.key-reuse, kex.weak-group, kex.invalid-public-key, payload.not-encrypted).`,
		Example: `  mqtap sessions pcaps/samples/lab-session.pcapng --keys pcaps/samples/keys/lab-session/requester
  mqtap sessions capture.pcapng --keys keys/ -T json
  mqtap sessions --connections capture.pcapng -T csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("sessions takes one capture file: mqtap sessions FILE (see 'mqtap sessions --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSessions(stdout, stderr, args[0], &fl)
		},
	}
	cmd.Flags().StringVarP(&fl.format, "format", "T", "text", "output format: text or json (and csv with --connections)")
	cmd.Flags().BoolVar(&fl.showTLS, "tls", false, "list the TLS connections instead: handshake (version, cipher suite, SNI, ALPN, resumption), the broker's certificate and whether mqtap decrypted them")
	cmd.Flags().BoolVar(&fl.showWS, "ws", false, "list the WebSocket connections instead: their upgrade (path, host, subprotocols offered and chosen, extensions, status), frames, MQTT packets and close")
	cmd.Flags().BoolVar(&fl.showConn, "connections", false, "list the MQTT connections instead (Wireshark's conversations): client id, user name, version, addresses, transport, "+
		"MQTT packets, TCP frames and bytes each way (as tshark -z conv,tcp counts them), start, duration, how it ended (DISCONNECT, broker or client closed, keep-alive timeout, capture end) and findings; "+
		"with -Y, the connections that have a selected packet")
	cmd.Flags().StringArrayVarP(&fl.decodeAs, "decode-as", "d", nil, decodeAsHelp)
	registerKeys(cmd, &fl.keyPaths)
	registerFilter(cmd, &fl.expr)
	return cmd
}

// runSessions reads the capture at path and prints its key exchanges, or
// its TLS, WebSocket or MQTT connections.
func runSessions(stdout, stderr io.Writer, path string, fl *sessionsFlags) error {
	if fl.showTLS && fl.showWS || fl.showConn && (fl.showTLS || fl.showWS) {
		return usagef("--tls, --ws and --connections list different connections: give one")
	}
	setupFormat := fl.format
	if fl.showConn {
		if fl.format != "text" && fl.format != "json" && fl.format != "csv" {
			return usagef("unknown output format %q for sessions --connections: use text, json or csv", fl.format)
		}
		setupFormat = "text" // analysisSetup knows text and json
	}
	opts, flt, store, err := analysisSetup("sessions", setupFormat, fl.decodeAs, fl.expr, fl.keyPaths)
	if err != nil {
		return err
	}
	chain, err := analysis.New(store)
	if err != nil {
		return err
	}
	var table *connections.Table
	if fl.showConn {
		table = &connections.Table{}
		opts = table.Hook(opts)
	}
	matched := map[string]bool{} // sessions with a packet the filter selects
	streams := map[int]bool{}    // connections with a packet the filter selects
	handle := func(r *session.Record) error {
		chain.Observe(r)
		if table != nil {
			table.Record(r)
			if flt != nil && flt.Match(r) {
				streams[r.Stream] = true
			}
			return nil
		}
		if r.Crypto.Session != "" && (flt == nil || flt.Match(r)) {
			matched[r.Crypto.Session] = true
		}
		return nil
	}
	st, err := readFile(path, opts, handle, stderr)
	if err != nil {
		return err
	}
	switch {
	case fl.showConn:
		return writeConnections(stdout, stderr, fl.format, table, flt != nil, streams)
	case fl.showTLS:
		return report.WriteTLS(stdout, fl.format, st.TLS)
	case fl.showWS:
		return report.WriteWebSocket(stdout, fl.format, st.WebSocket)
	}
	chain.Close()
	exchanges := chain.Exchanges()
	if flt != nil {
		var sel []*kex.Exchange
		for _, e := range exchanges {
			if matched[e.ID] {
				sel = append(sel, e)
			}
		}
		exchanges = sel
	}
	return report.WriteExchanges(stdout, fl.format, exchanges)
}

// writeConnections prints the connections table (sessions --connections):
// those with a packet the display filter selected when there is one. The
// connections past the table's cap are mentioned (on stderr for json and
// csv).
func writeConnections(stdout, stderr io.Writer, format string, table *connections.Table, filtered bool, streams map[int]bool) error {
	var keep func(*connections.Conn) bool
	if filtered {
		keep = func(c *connections.Conn) bool { return streams[c.Stream] }
	}
	if n := table.Omitted(); n > 0 && format != "text" {
		fmt.Fprintf(stderr, "mqtap: %d more MQTT connections past the first %d are not listed\n", n, table.Len())
	}
	return connections.WriteSeq(stdout, format, table.All(true, keep), table.Omitted())
}
