package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis/kex"
)

// exchangeJSON is an exchange with its status, as -T json prints it.
type exchangeJSON struct {
	*kex.Exchange
	Status string `json:"status"`
}

// WriteTLS lists TLS connections (sessions --tls) as a table (format
// "text") or JSON ("json").
func WriteTLS(w io.Writer, format string, conns []session.TLSInfo) error {
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

// WriteWebSocket lists WebSocket connections (sessions --ws) as a table
// (format "text") or JSON ("json").
func WriteWebSocket(w io.Writer, format string, conns []session.WSInfo) error {
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

// WriteExchanges lists key exchanges (sessions) as a table (format "text")
// or JSON ("json").
func WriteExchanges(w io.Writer, format string, exs []*kex.Exchange) error {
	if format == "json" {
		return writeExchangesJSON(w, exs)
	}
	return writeExchangesText(w, exs)
}

func writeExchangesJSON(w io.Writer, exs []*kex.Exchange) error {
	out := make([]exchangeJSON, 0, len(exs))
	for _, e := range exs {
		if e.Findings == nil {
			e.Findings = []string{}
		}
		out = append(out, exchangeJSON{e, e.Status()})
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

func writeExchangesText(w io.Writer, exs []*kex.Exchange) error {
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
