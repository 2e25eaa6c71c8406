package main

import (
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
)

// outputFlags are the flags every command that prints records shares.
type outputFlags struct {
	format      string
	fields      []string
	verbose     bool
	showSecrets bool
	decodeAs    []string
	keys        []string
	filter      string
}

func (o *outputFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "T", "text", "output format: text, json, ndjson or fields")
	f.StringArrayVarP(&o.fields, "field", "e", nil, "field to print with -T fields (repeatable), e.g. -e frame.number -e mqtt.topic")
	f.BoolVarP(&o.verbose, "verbose", "V", false, "print the detail tree of every packet")
	f.BoolVar(&o.showSecrets, "show-secrets", false, "print passwords from CONNECT instead of masking them")
	f.StringArrayVarP(&o.decodeAs, "decode-as", "d", nil, decodeAsHelp)
	registerKeys(cmd, &o.keys)
	registerFilter(cmd, &o.filter)
	cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json", "ndjson", "fields"}, cobra.ShellCompDirectiveNoFileComp
	})
}

// pipelineOptions turns the -d flags into pipeline options.
func (o *outputFlags) pipelineOptions() (session.Options, error) {
	var opts session.Options
	for _, d := range o.decodeAs {
		port, ws, err := parseDecodeAs(d)
		if err != nil {
			return opts, err
		}
		if ws {
			opts.WSPorts = append(opts.WSPorts, port)
		} else {
			opts.Ports = append(opts.Ports, port)
		}
	}
	return opts, nil
}

// parseDecodeAs parses tshark's "tcp.port==N,mqtt" and
// "tcp.port==N,websocket" (MQTT over WebSocket: ws is set).
func parseDecodeAs(s string) (port uint16, ws bool, err error) {
	sel, proto, ok := strings.Cut(s, ",")
	proto = strings.ToLower(strings.TrimSpace(proto))
	if !ok || (proto != "mqtt" && proto != "websocket") {
		return 0, false, usagef("-d %q: expected tcp.port==PORT,mqtt or tcp.port==PORT,websocket", s)
	}
	field, val, ok := strings.Cut(sel, "==")
	if !ok {
		field, val, ok = strings.Cut(sel, ":")
	}
	if !ok || strings.TrimSpace(field) != "tcp.port" {
		return 0, false, usagef("-d %q: only tcp.port==PORT,mqtt and tcp.port==PORT,websocket are supported", s)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 16)
	if err != nil || n == 0 {
		return 0, false, usagef("-d %q: %q is not a TCP port (1-65535)", s, val)
	}
	return uint16(n), proto == "websocket", nil
}

// registerFilter adds -Y, tshark's display filter.
func registerFilter(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "display-filter", "Y", "", `Wireshark display filter, evaluated per MQTT control packet (e.g. -Y 'mqtt.topic contains "sensors" && mqtt.qos > 0')`)
}

// compileFilter compiles -Y; an empty filter selects everything (nil).
func compileFilter(expr string) (*filter.Filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	f, err := filter.Compile(expr)
	if err != nil {
		return nil, usagef("-Y %q: %w", expr, err)
	}
	return f, nil
}

// analysisSetup checks and loads what the report commands (sessions,
// findings) share: -T text|json, -d, -Y and --keys.
func analysisSetup(command, format string, decodeAs []string, expr string, keyPaths []string) (session.Options, *filter.Filter, *keys.Store, error) {
	if format != "text" && format != "json" {
		return session.Options{}, nil, nil, usagef("unknown output format %q for %s: use text or json", format, command)
	}
	of := outputFlags{decodeAs: decodeAs}
	opts, err := of.pipelineOptions()
	if err != nil {
		return opts, nil, nil, err
	}
	flt, err := compileFilter(expr)
	if err != nil {
		return opts, nil, nil, err
	}
	store, err := loadKeys(keyPaths)
	opts.Keys = store
	return opts, flt, store, err
}

// registerKeys adds the --keys flag.
func registerKeys(cmd *cobra.Command, dst *[]string) {
	cmd.Flags().StringArrayVarP(dst, "keys", "k", nil, "key material (repeatable): a directory (read recursively), a PEM file (DH private keys of either side of a key exchange), or a keyring *.toml with per-topic HMAC, RSA-OAEP and ECDSA rules")
}

// loadKeys reads the --keys paths; nil when there are none.
func loadKeys(paths []string) (*keys.Store, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	return keys.Load(paths...)
}

func (o *outputFlags) writer(w io.Writer) (*output.Writer, error) {
	var unknown []string
	for _, name := range o.fields {
		if !session.KnownField(name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		return nil, usagef("unknown field(s) for -e: %s (see the field names in 'mqtap read -T json' output)", strings.Join(unknown, ", "))
	}
	out, err := output.New(w, output.Options{
		Format:      output.Format(o.format),
		Verbose:     o.verbose,
		FieldNames:  o.fields,
		ShowSecrets: o.showSecrets,
		Workers:     runtime.GOMAXPROCS(0), // formatting beside the pipeline, in order
	})
	if err != nil {
		return nil, usageError{err}
	}
	return out, nil
}

// decodeAsHelp is the help of -d, the same in every command.
const decodeAsHelp = "decode a TCP port as MQTT, as in tshark: -d tcp.port==N,mqtt, or as MQTT over WebSocket: -d tcp.port==N,websocket (repeatable)"
