package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/cmd/mqtap/internal/labpeer"
)

// labFlags are the flags both lab commands share.
type labFlags struct {
	host     string
	port     int
	dhparams string
	saveKeys string
	clientID string
	hkdfInfo string

	// MQTT over TLS
	tls        bool
	cafile     string
	insecure   bool
	keylog     string
	tlsVersion string
	ciphers    string

	// MQTT over WebSocket
	url string
	cmd *cobra.Command // to see which flags were given
}

// register adds the shared flags; idDefault describes the default client id.
func (l *labFlags) register(cmd *cobra.Command, idDefault string) {
	f := cmd.Flags()
	l.cmd = cmd
	f.StringVar(&l.host, "host", labpeer.DefaultHost, "MQTT broker host")
	f.IntVar(&l.port, "port", labpeer.DefaultPort, "MQTT broker port")
	f.StringVar(&l.dhparams, "dhparams", "", "DH parameters PEM file (default: the lab's dhparam4096.pem, built in)")
	f.StringVar(&l.saveKeys, "save-keys", "", "write every generated DH private key to `DIR` as PKCS#8 PEM, before publishing its public key")
	f.StringVar(&l.clientID, "client-id", "", "MQTT client identifier (default: "+idDefault+")")
	f.StringVar(&l.hkdfInfo, "hkdf-info", "zero", "HKDF info: zero (0x00, the lab spec) or none (info=None, the lab's earlier template)")
	cmd.RegisterFlagCompletionFunc("hkdf-info", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"zero", "none"}, cobra.ShellCompDirectiveNoFileComp
	})
	f.BoolVar(&l.tls, "tls", false, "MQTT over TLS (the port stays 1884 unless --port says otherwise, e.g. --port 8883)")
	f.StringVar(&l.cafile, "cafile", "", "with --tls: trust the CA certificates in this PEM `FILE` instead of the system's (for a self-signed broker: its certificate)")
	f.BoolVar(&l.insecure, "insecure", false, "with --tls: do not verify the broker's certificate at all, neither its chain nor its name (mosquitto_pub's --insecure only skips the name)")
	f.StringVar(&l.keylog, "keylog", "", "with --tls: append the TLS secrets to `FILE` in the NSS key log format (SSLKEYLOGFILE), for mqtap --keys or Wireshark")
	f.StringVar(&l.tlsVersion, "tls-version", "", "with --tls: only this TLS version, 1.2 or 1.3 (default: either)")
	f.StringVar(&l.ciphers, "ciphers", "", "with --tls: TLS 1.2 cipher `SUITES` to offer, comma-separated IANA names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (Go cannot choose TLS 1.3 suites)")
	f.StringVar(&l.url, "url", "", "MQTT over WebSocket to this `URL`: ws://HOST:PORT/PATH, or wss://HOST:PORT/PATH with the TLS flags (instead of --host, --port and --tls)")
	cmd.RegisterFlagCompletionFunc("tls-version", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"1.2", "1.3"}, cobra.ShellCompDirectiveNoFileComp
	})
}

// tlsOptions checks the TLS flags; nil without --tls.
func (l *labFlags) tlsOptions() (*labpeer.TLSOptions, error) {
	if !l.tls {
		for _, f := range []struct {
			name string
			set  bool
		}{{"--cafile", l.cafile != ""}, {"--insecure", l.insecure}, {"--keylog", l.keylog != ""},
			{"--tls-version", l.tlsVersion != ""}, {"--ciphers", l.ciphers != ""}} {
			if f.set {
				return nil, usagef("%s needs --tls (MQTT over TLS) or a wss:// --url", f.name)
			}
		}
		return nil, nil
	}
	o := &labpeer.TLSOptions{CAFile: l.cafile, Insecure: l.insecure, KeyLog: l.keylog}
	if l.tlsVersion != "" {
		v, err := labpeer.ParseTLSVersion(l.tlsVersion)
		if err != nil {
			return nil, usagef("--tls-version: %w", err)
		}
		o.MinVersion, o.MaxVersion = v, v
	}
	if l.ciphers != "" {
		cs, err := labpeer.ParseCipherSuites(l.ciphers)
		if err != nil {
			return nil, usagef("--ciphers: %w", err)
		}
		if o.MinVersion == tls.VersionTLS13 {
			return nil, usagef("--ciphers chooses TLS 1.2 suites and --tls-version 1.3 rules TLS 1.2 out; Go cannot choose TLS 1.3 suites (mosquitto can: ciphers_tls1.3)")
		}
		o.CipherSuites = cs
	}
	if err := o.Check(); err != nil {
		return nil, fmt.Errorf("--cafile: %w", err)
	}
	return o, nil
}

// config checks the flags and builds the peers' configuration.
func (l *labFlags) config(log io.Writer) (labpeer.Config, error) {
	if l.port <= 0 || l.port > 65535 {
		return labpeer.Config{}, usagef("--port %d is not a TCP port (1-65535)", l.port)
	}
	if l.host == "" {
		return labpeer.Config{}, usagef("--host must not be empty")
	}
	ws, err := l.webSocket()
	if err != nil {
		return labpeer.Config{}, err
	}
	variant, err := labpeer.ParseVariant(l.hkdfInfo)
	if err != nil {
		return labpeer.Config{}, usagef("--hkdf-info: %w", err)
	}
	tlsOpts, err := l.tlsOptions()
	if err != nil {
		return labpeer.Config{}, err
	}
	group, err := labpeer.LoadGroup(l.dhparams)
	if err != nil {
		return labpeer.Config{}, fmt.Errorf("--dhparams: %w", err)
	}
	return labpeer.Config{
		Host: l.host, Port: l.port, Group: group, SaveKeys: l.saveKeys,
		Variant: variant, ClientID: l.clientID, Log: log, TLS: tlsOpts, WebSocket: ws,
	}, nil
}

// webSocket reads --url into the host, port and TLS flags; nil without it.
func (l *labFlags) webSocket() (*labpeer.WSOptions, error) {
	if l.url == "" {
		return nil, nil
	}
	for _, name := range []string{"host", "port", "tls"} {
		if l.cmd != nil && l.cmd.Flags().Changed(name) {
			return nil, usagef("--url names the broker and its transport: drop --%s (wss:// is WebSocket over TLS)", name)
		}
	}
	host, port, ws, secure, err := labpeer.ParseURL(l.url)
	if err != nil {
		return nil, usagef("--url: %w", err)
	}
	l.host, l.port, l.tls = host, port, secure
	return ws, nil
}

func newLabCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the secure MQTT lab's peers: a requester (secure_mqtt_client) and a responder",
		Long: `The secure MQTT client lab's two peers, to produce key-exchange traffic and
the private keys that decrypt it. Both speak MQTT 5, QoS 1, to the broker at
localhost:1884 by default, use the lab's built-in 4096-bit DH parameters
(dhparam4096.pem) unless --dhparams says otherwise, derive the Fernet key with
HKDF-SHA256 (length 32, salt 0x00, info 0x00; --hkdf-info none for the earlier
template's info=None), and with --save-keys DIR write every private key they
generate as PKCS#8 PEM (<netid>-request-<unix-ns>.pem,
<netid>-response-<unix-ns>.pem) so that 'mqtap read --keys DIR' decrypts a
capture of their traffic.

With --url ws://HOST:PORT/PATH both speak MQTT over WebSocket (the HTTP
upgrade offers the subprotocol "mqtt", each MQTT packet goes in a binary
message), and wss://HOST:PORT/PATH over WebSocket in TLS, with the TLS flags
below (--cafile, --insecure, --keylog, --tls-version, --ciphers) and no
--tls. --url replaces --host and --port (80 and 443 when the URL has no
port).

With --tls both speak MQTT over TLS (crypto/tls, TLS 1.2 or 1.3) to the same
port (1884 unless --port says otherwise; mosquitto's TLS listeners are usually
on 8883). The broker's certificate is verified against the system's roots,
or the CA certificates of --cafile (a self-signed certificate is its own
CA), and must be valid for --host; --insecure skips every check (a client
that accepts any certificate, which is what TLS is there to prevent). --keylog
FILE appends each connection's TLS secrets to FILE in the NSS key log format
(CLIENT_RANDOM lines for TLS 1.2, CLIENT_TRAFFIC_SECRET_0 and the other
*_SECRET lines for TLS 1.3), which 'mqtap read --keys FILE' and Wireshark
(tls.keylog_file) use to decrypt a capture. --tls-version 1.2|1.3 pins the
version; --ciphers takes IANA names of TLS 1.2 suites (Go offers all three
TLS 1.3 suites; the broker picks, see mosquitto's ciphers_tls1.3). A
certificate that does not verify is a one-line error saying why.

Actions: ` + strings.Join(labpeer.Actions, ", ") + `.`,
		Example: `  mqtap lab respond &
  mqtap lab request le0nh4rt uppercase "Networking is the best!" --save-keys keys/
  mqtap lab respond --tls --port 8883 --cafile ca.pem --keylog tls.keylog &
  mqtap lab request le0nh4rt reverse hello --tls --port 8883 --cafile ca.pem --keylog tls.keylog --tls-version 1.2
  mqtap lab respond --url ws://localhost:8080/mqtt &
  mqtap lab request le0nh4rt uppercase hi --url wss://broker.lab:8084/mqtt --cafile ca.pem --keylog tls.keylog`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("lab needs a subcommand: request or respond (see 'mqtap lab --help')")
			}
			return usagef("unknown lab subcommand %q: use request or respond", args[0])
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	cmd.AddCommand(newLabRequestCmd(stdout, stderr), newLabRespondCmd(stdout, stderr))
	return cmd
}

func newLabRequestCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		lf      labFlags
		timeout time.Duration
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "request NETID ACTION MESSAGE...",
		Short: "Send one encrypted request, as the lab's secure_mqtt_client, and print the response",
		Long: `Run the lab's secure_mqtt_client once: generate a DH key, publish its public key
(PEM) on NETID/key-exchange/request, derive the Fernet key from the first
answer on NETID/key-exchange/response, publish the encrypted MESSAGE on
NETID/ACTION/request and print the decrypted answer from NETID/ACTION/response
on stdout. Several MESSAGE arguments are joined with spaces.

ACTION is one of ` + strings.Join(labpeer.Actions, ", ") + `.
It fails (exit 1, one line on stderr) when the broker is unreachable, when no
responder answers within --timeout, or when the response does not decrypt.`,
		Example: `  mqtap lab request le0nh4rt uppercase "Networking is the best!"
  mqtap lab request le0nh4rt reverse hello world --port 1884 --save-keys keys/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return usagef("request needs NETID ACTION MESSAGE...: mqtap lab request le0nh4rt uppercase \"Networking is the best!\" (see 'mqtap lab request --help')")
			}
			if args[0] == "" || strings.ContainsAny(args[0], "/+#") {
				return usagef("NETID %q must be a single MQTT topic level (no '/', '+' or '#')", args[0])
			}
			if !labpeer.IsAction(args[1]) {
				return usagef("unknown action %q: use one of %s", args[1], strings.Join(labpeer.Actions, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usagef("--timeout must be positive, e.g. 10s")
			}
			cfg, err := lf.config(warnWriter{w: stderr, all: verbose})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out, err := labpeer.Request{
				Config: cfg, NetID: args[0], Action: args[1],
				Message: strings.Join(args[2:], " "), Timeout: timeout,
			}.Run(ctx)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, out)
			return err
		},
	}
	lf.register(cmd, "mqtap-request-NETID-PID")
	cmd.Flags().DurationVar(&timeout, "timeout", labpeer.DefaultTimeout, "how long to wait for each answer (key exchange, then response)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "report progress on stderr (saved key, fingerprints, topics)")
	return cmd
}

// warnWriter passes on the requester's log lines: all of them with
// --verbose, otherwise only warnings.
type warnWriter struct {
	w   io.Writer
	all bool
}

func (w warnWriter) Write(p []byte) (int, error) {
	if w.all || strings.HasPrefix(string(p), "warning:") || strings.HasPrefix(string(p), "ignoring") {
		return w.w.Write(p)
	}
	return len(p), nil
}

func newLabRespondCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		lf    labFlags
		count int
	)
	cmd := &cobra.Command{
		Use:   "respond [NETID...]",
		Short: "Answer the lab's key exchanges and encrypted requests for some or any netid",
		Long: `A lab responder. It subscribes to NETID/+/request for each NETID given, or to
+/+/request (any netid); on NETID/key-exchange/request it generates its own DH
key, answers with its public key on NETID/key-exchange/response and keeps the
derived Fernet key as that netid's latest; on NETID/ACTION/request it decrypts
the text, transforms it (uppercase, lowercase and title-case exactly as
Python's str.upper, str.lower and str.title; reverse; shuffle = a random
permutation of the characters), encrypts the result and publishes it on
NETID/ACTION/response. One line on stderr per handled message, the first
("ready: ...") once subscribed. It runs until SIGINT or SIGTERM, or until
--count action requests have been answered.`,
		Example: `  mqtap lab respond
  mqtap lab respond le0nh4rt cosmo42 --save-keys keys/ --count 3`,
		Args: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if n == "" || strings.ContainsAny(n, "/+#") {
					return usagef("NETID %q must be a single MQTT topic level (no '/', '+' or '#')", n)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 {
				return usagef("--count must not be negative")
			}
			cfg, err := lf.config(stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return labpeer.Responder{Config: cfg, NetIDs: args, Count: count}.Run(ctx)
		},
	}
	lf.register(cmd, "mqtap-respond-PID")
	cmd.Flags().IntVar(&count, "count", 0, "exit after answering N action requests (0: run until interrupted)")
	return cmd
}
