package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/analysis/audit"
	"github.com/mqtap/mqtap/session/sink/report"
)

func newFindingsCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		format      string
		keyPaths    []string
		decodeAs    []string
		aclFile     string
		passwdFile  string
		showSecrets bool
		expr        string
	)
	cmd := &cobra.Command{
		Use:   "findings FILE",
		Short: "Report every security finding in a capture",
		Long: `Turn everything mqtap notices in a capture into one security report: each
finding with its severity, the frames and clients involved, one sentence of
explanation and one of advice, and a count per code.

It includes the key-exchange findings (kex.*, payload.not-encrypted), the
keyring schemes' (hmac.bad, sig.bad, sig.replay, payload.replay), the
decoder's (mqtt.malformed, mqtt.protocol-violation, tcp.gap, mqtt.resync),
and a broker audit: credentials sent in clear text
(auth.cleartext-credentials; with --passwd, whether the leaked password is
valid on the broker), anonymous clients subscribing to # or $SYS/#
(auth.anonymous-subscription), traffic the broker carried although the ACL
given with --acl forbids it (acl.violation), and QoS 1/2 flows that never
completed (qos.unacknowledged). The exit code is 0 whatever is found.`,
		Example: `  mqtap findings pcaps/samples/lab-mitm.pcapng
  mqtap findings capture.pcapng --keys keyring.toml --acl /etc/mosquitto/acl --passwd /etc/mosquitto/passwd
  mqtap findings capture.pcapng -T json | jq '.summary'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("findings takes one capture file: mqtap findings FILE (see 'mqtap findings --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, flt, store, err := analysisSetup("findings", format, decodeAs, expr, keyPaths)
			if err != nil {
				return err
			}
			aopts := audit.Options{ShowSecrets: showSecrets}
			if aclFile != "" {
				if aopts.ACL, err = audit.ParseACL(aclFile); err != nil {
					return err
				}
			}
			if passwdFile != "" {
				if aopts.Passwords, err = audit.ParsePasswd(passwdFile); err != nil {
					return err
				}
			}
			rep := report.New()
			chain := analysis.New(store)
			aud := chain.EnableAudit(aopts)
			handle := func(r *session.Record) error {
				chain.Observe(r)
				if flt == nil || flt.Match(r) {
					chain.Audit(r)
					rep.Observe(r, aud.Client(r))
				}
				return nil
			}
			opts.OnFinding = func(f session.Finding, frame int) {
				if flt == nil {
					rep.Add(f, []int{frame}, nil)
				}
			}
			if _, err := readFile(args[0], opts, handle, stderr); err != nil {
				return err
			}
			if flt == nil {
				// Exchanges never answered are known only at the end; with
				// a filter, the packets it selects are the whole report.
				for _, f := range chain.Close() {
					rep.Add(f, nil, nil)
				}
			}
			for _, u := range aud.Close() {
				rep.Add(u.Finding, []int{u.Frame}, u.Clients)
			}
			if format == "json" {
				return writeFindingsJSON(stdout, args[0], rep)
			}
			return writeFindingsText(stdout, args[0], rep)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "T", "text", "output format: text or json")
	f.StringArrayVarP(&decodeAs, "decode-as", "d", nil, decodeAsHelp)
	f.StringVar(&aclFile, "acl", "", "mosquitto acl_file: report traffic the broker carried that it forbids")
	f.StringVar(&passwdFile, "passwd", "", "mosquitto password_file: say whether leaked credentials are valid")
	f.BoolVar(&showSecrets, "show-secrets", false, "print captured passwords instead of masking them")
	registerKeys(cmd, &keyPaths)
	registerFilter(cmd, &expr)
	return cmd
}

func writeFindingsJSON(w io.Writer, file string, rep *report.Report) error {
	entries := rep.Entries()
	if entries == nil {
		entries = []*report.Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		File     string          `json:"file"`
		Summary  map[string]int  `json:"summary"`
		Findings []*report.Entry `json:"findings"`
	}{file, rep.Summary(), entries})
}

func writeFindingsText(w io.Writer, file string, rep *report.Report) error {
	entries := rep.Entries()
	bySev := map[string]int{}
	for _, e := range entries {
		bySev[e.Severity] += e.Count
	}
	total := 0
	for _, n := range bySev {
		total += n
	}
	fmt.Fprintf(w, "%s: %d findings (%d high, %d medium, %d low, %d info)\n", file, total, bySev["high"], bySev["medium"], bySev["low"], bySev["info"])
	for _, e := range entries {
		fmt.Fprintf(w, "\n%-6s %s: %s\n", strings.ToUpper(e.Severity), e.Code, e.Title)
		var where []string
		if len(e.Frames) > 0 {
			fr := make([]string, len(e.Frames))
			for i, n := range e.Frames {
				fr[i] = strconv.Itoa(n)
			}
			s := "frames " + strings.Join(fr, ",")
			if e.Count > len(e.Frames) {
				s += fmt.Sprintf(" (%d times in all)", e.Count)
			}
			where = append(where, s)
		}
		if len(e.Clients) > 0 {
			where = append(where, "client "+strings.Join(e.Clients, ", "))
		}
		if len(where) > 0 {
			fmt.Fprintf(w, "       %s\n", strings.Join(where, "; "))
		}
		text := e.Text
		if e.Rule != "" {
			text += " (" + e.Rule + ")"
		}
		fmt.Fprintf(w, "       %s\n       advice: %s\n", text, e.Advice)
	}
	sum := rep.Summary()
	if len(sum) == 0 {
		_, err := fmt.Fprintln(w, "\nno findings")
		return err
	}
	codes := make([]string, 0, len(sum))
	for c := range sum {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	fmt.Fprintln(w, "\nSummary")
	for _, c := range codes {
		fmt.Fprintf(w, "  %-36s %d\n", c, sum[c])
	}
	return nil
}
