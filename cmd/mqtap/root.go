package main

import (
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mqtap",
		Short: "Inspect MQTT traffic: decode, follow and audit MQTT 3.1, 3.1.1 and 5.0",
		Long: `mqtap is a Wireshark-style inspector for MQTT traffic. It reads pcap and
pcapng captures (plain or gzip-compressed), reassembles TCP, finds MQTT on any
port, decodes every control packet of MQTT 3.1, 3.1.1 and 5.0 with every field
and property, checks each against the specification, and prints it as tshark
does: one line per packet, a detail tree, JSON, NDJSON or selected fields.

Given test keys (--keys), it decrypts MQTT over TLS with the clients' key log,
rebuilds the Diffie-Hellman key exchanges of the secure MQTT lab and decrypts
their Fernet messages, verifies and decrypts HMAC, RSA-OAEP and ECDSA payloads
configured in a keyring, audits brokers' certificates, reports security
findings, filters with Wireshark's display filters (-Y) and exports annotated
or decrypted pcapng files. It captures live (sniff), subscribes to a broker
(tap) and shows everything in a terminal UI (tui).`,
		Example: `  mqtap read pcaps/samples/lab-session.pcapng --keys pcaps/samples/keys/lab-session/requester
  mqtap read pcaps/samples/mqtt5.pcapng
  mqtap read capture.pcap -V
  mqtap sessions capture.pcapng --keys keys/
  mqtap findings capture.pcapng --keys keyring.toml --acl acl --passwd passwd
  mqtap read capture.pcapng -T ndjson | jq .
  mqtap read capture.pcap -T fields -e frame.number -e mqtt.topic -e mqtt.msg
  mqtap read tls.pcapng --keys sslkeylog.txt
  sudo mqtap sniff -i eth0 --keys lab-keys/
  mqtap tui capture.pcapng --keys keys/`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%w (see '%s --help')", err, c.CommandPath())
	})
	var cpuProfile, memProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (for developers)")
	root.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write a Go profile of the allocations to this file at the end (for developers)")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().MarkHidden("memprofile")
	var stopProfile func()
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.PersistentPostRunE = func(*cobra.Command, []string) error {
		if stopProfile != nil {
			stopProfile()
		}
		if memProfile == "" {
			return nil
		}
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
	root.AddCommand(newReadCmd(stdout, stderr))
	root.AddCommand(newSniffCmd(stdout, stderr))
	root.AddCommand(newTapCmd(stdout, stderr))
	root.AddCommand(newTuiCmd(stdout, stderr))
	root.AddCommand(newSessionsCmd(stdout, stderr))
	root.AddCommand(newFindingsCmd(stdout, stderr))
	root.AddCommand(newExportCmd(stdout, stderr))
	root.AddCommand(newTopicsCmd(stdout, stderr))
	root.AddCommand(newLabCmd(stdout, stderr))
	return root
}
