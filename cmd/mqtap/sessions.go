package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/analysis/kex"
)

func newSessionsCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		format   string
		keyPaths []string
		decodeAs []string
		expr     string
		showTLS  bool
		showWS   bool
	)
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
  mqtap sessions capture.pcapng --keys keys/ -T json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("sessions takes one capture file: mqtap sessions FILE (see 'mqtap sessions --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, flt, store, err := analysisSetup("sessions", format, decodeAs, expr, keyPaths)
			if err != nil {
				return err
			}
			chain := analysis.New(store)
			matched := map[string]bool{} // sessions with a packet the filter selects
			handle := func(r *session.Record) error {
				chain.Observe(r)
				if r.Crypto.Session != "" && (flt == nil || flt.Match(r)) {
					matched[r.Crypto.Session] = true
				}
				return nil
			}
			st, err := readFile(args[0], opts, handle, stderr)
			if err != nil {
				return err
			}
			switch {
			case showTLS && showWS:
				return usagef("--tls and --ws list different connections: give one")
			case showTLS:
				return writeTLS(stdout, format, st.TLS)
			case showWS:
				return writeWS(stdout, format, st.WebSocket)
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
			if format == "json" {
				return writeSessionsJSON(stdout, exchanges)
			}
			return writeSessionsText(stdout, exchanges)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "T", "text", "output format: text or json")
	cmd.Flags().BoolVar(&showTLS, "tls", false, "list the TLS connections instead: handshake (version, cipher suite, SNI, ALPN, resumption), the broker's certificate and whether mqtap decrypted them")
	cmd.Flags().BoolVar(&showWS, "ws", false, "list the WebSocket connections instead: their upgrade (path, host, subprotocols offered and chosen, extensions, status), frames, MQTT packets and close")
	cmd.Flags().StringArrayVarP(&decodeAs, "decode-as", "d", nil, decodeAsHelp)
	registerKeys(cmd, &keyPaths)
	registerFilter(cmd, &expr)
	return cmd
}

// sessionJSON is an exchange with its status, as -T json prints it.
type sessionJSON struct {
	*kex.Exchange
	Status string `json:"status"`
}

// writeTLS lists TLS connections.
func writeTLS(w io.Writer, format string, conns []session.TLSInfo) error {
	if format == "json" {
		return writeJSONList(w, conns)
	}
	if len(conns) == 0 {
		_, err := fmt.Fprintln(w, "no TLS connections found")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tFRAME\tCLIENT\tSERVER\tSNI\tVERSION\tCIPHER SUITE\tRESUMED\tCERTIFICATE\tDECRYPTED\tMQTT")
	for _, c := range conns {
		cert := dash(c.Certificate)
		if c.CertProblem != "" {
			cert += " (untrusted)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\t%d\n", c.Stream, c.Frame, c.Client, c.Server, dash(c.SNI),
			dash(c.Version), dash(c.Cipher), c.Resumed, cert, c.Decrypted, c.Records)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range conns {
		if c.Reason != "" {
			fmt.Fprintf(w, "stream %d: %s: %s\n", c.Stream, c.Decrypted, c.Reason)
		}
		if c.CertProblem != "" {
			fmt.Fprintf(w, "stream %d: untrusted certificate: %s\n", c.Stream, c.CertProblem)
		}
	}
	return nil
}

// writeWS lists WebSocket connections.
func writeWS(w io.Writer, format string, conns []session.WSInfo) error {
	if format == "json" {
		return writeJSONList(w, conns)
	}
	if len(conns) == 0 {
		_, err := fmt.Fprintln(w, "no WebSocket connections found")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tFRAME\tCLIENT\tSERVER\tTLS\tPATH\tHOST\tOFFERED\tCHOSEN\tDEFLATE\tSTATUS\tFRAMES\tMQTT\tCLOSE")
	for _, c := range conns {
		status, closed := "-", "-"
		if c.Handshake {
			status = strconv.Itoa(c.Status)
		}
		if c.CloseCode != 0 {
			closed = strconv.Itoa(int(c.CloseCode)) + " " + c.Close
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%v\t%s\t%s\t%s\t%s\t%v\t%s\t%d\t%d\t%s\n", c.Stream, c.Frame, c.Client, c.Server, c.TLS,
			dash(c.Path), dash(c.Host), dash(strings.Join(c.Offered, ",")), dash(strings.Join(c.Chosen, ",")), c.Compressed, status, c.Frames, c.Packets, closed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range conns {
		switch {
		case c.NotMQTT != "":
			fmt.Fprintf(w, "stream %d: not MQTT over WebSocket: %s\n", c.Stream, c.NotMQTT)
		case !c.Handshake:
			fmt.Fprintf(w, "stream %d: the handshake was not captured; found from frames carrying MQTT\n", c.Stream)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeSessionsJSON(w io.Writer, exs []*kex.Exchange) error {
	out := make([]sessionJSON, 0, len(exs))
	for _, e := range exs {
		if e.Findings == nil {
			e.Findings = []string{}
		}
		out = append(out, sessionJSON{e, e.Status()})
	}
	return writeJSONList(w, out)
}

// writeJSONList writes list as an indented JSON array ([] when empty).
func writeJSONList[T any](w io.Writer, list []T) error {
	if list == nil {
		list = []T{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

func writeSessionsText(w io.Writer, exs []*kex.Exchange) error {
	if len(exs) == 0 {
		_, err := fmt.Fprintln(w, "no key exchanges found (topics <netid>/key-exchange/request and .../response)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tSTATUS\tREQUESTER\tRESPONDER\tFRAMES\tGROUP\tKEY\tKDF\tOK\tFAILED\tNO-KEY\tFINDINGS")
	for _, e := range exs {
		var resp, frames []string
		frames = append(frames, strconv.Itoa(e.Requester.Frame))
		for _, p := range e.Responses {
			resp = append(resp, p.String())
			frames = append(frames, strconv.Itoa(p.Frame))
		}
		if len(resp) == 0 {
			resp = []string{"-"}
		}
		key := "-"
		if e.KeySide != "" {
			key = e.KeySide
		}
		kdf := "-"
		if e.KDF != "" {
			kdf = strings.TrimPrefix(e.KDF, "hkdf-sha256 ")
		}
		findings := strings.Join(e.Findings, ",")
		if findings == "" {
			findings = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", e.ID, e.Status(), e.Requester.String(),
			strings.Join(resp, ","), strings.Join(frames, ","), e.GroupBits, key, kdf, e.Decrypted, e.Failed, e.NoKey, findings)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range exs {
		if e.KeyFile != "" {
			fmt.Fprintf(w, "%s: decrypted with the %s's key %s (%s)\n", e.ID, e.KeySide, e.KeyFile, e.KDF)
		}
	}
	return nil
}
