package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/analysis/audit"
	"github.com/mqtap/mqtap/session/sink/report"
)

// findingsLong is the help text of mqtap findings.
const findingsLong = `Turn everything mqtap notices in a capture into one security report: each
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
completed (qos.unacknowledged). The exit code is 0 whatever is found.`

// findingsFlags are the flags of mqtap findings.
type findingsFlags struct {
	format      string
	keyPaths    []string
	decodeAs    []string
	aclFile     string
	passwdFile  string
	showSecrets bool
	expr        string
}

func newFindingsCmd(stdout, stderr io.Writer) *cobra.Command {
	var ff findingsFlags
	cmd := &cobra.Command{
		Use:   "findings FILE",
		Short: "Report every security finding in a capture",
		Long:  findingsLong,
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
			return ff.run(args[0], stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&ff.format, "format", "T", "text", "output format: text or json")
	f.StringArrayVarP(&ff.decodeAs, "decode-as", "d", nil, decodeAsHelp)
	f.StringVar(&ff.aclFile, "acl", "", "mosquitto acl_file: report traffic the broker carried that it forbids")
	f.StringVar(&ff.passwdFile, "passwd", "", "mosquitto password_file: say whether leaked credentials are valid")
	f.BoolVar(&ff.showSecrets, "show-secrets", false, "print captured passwords instead of masking them")
	registerKeys(cmd, &ff.keyPaths)
	registerFilter(cmd, &ff.expr)
	return cmd
}

// run reports the findings of the capture at path: the pipeline's, the
// analysis chain's and the broker audit's, merged by the report.
func (ff *findingsFlags) run(path string, stdout, stderr io.Writer) error {
	opts, flt, store, err := analysisSetup("findings", ff.format, ff.decodeAs, ff.expr, ff.keyPaths)
	if err != nil {
		return err
	}
	aopts := audit.Options{ShowSecrets: ff.showSecrets}
	if ff.aclFile != "" {
		if aopts.ACL, err = audit.ParseACL(ff.aclFile); err != nil {
			return err
		}
	}
	if ff.passwdFile != "" {
		if aopts.Passwords, err = audit.ParsePasswd(ff.passwdFile); err != nil {
			return err
		}
	}
	rep := report.New()
	chain, err := analysis.New(store)
	if err != nil {
		return err
	}
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
	if _, err := readFile(path, opts, handle, stderr); err != nil {
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
	if ff.format == "json" {
		return rep.WriteJSON(stdout, path)
	}
	return rep.WriteText(stdout, path)
}
