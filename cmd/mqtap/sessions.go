package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/analysis/kex"
	"github.com/mqtap/mqtap/session/sink/report"
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
			chain, err := analysis.New(store)
			if err != nil {
				return err
			}
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
				return report.WriteTLS(stdout, format, st.TLS)
			case showWS:
				return report.WriteWebSocket(stdout, format, st.WebSocket)
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
			return report.WriteExchanges(stdout, format, exchanges)
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
