package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/sink/topics"
	"github.com/mqtap/mqtap/session/source/file"
	"github.com/mqtap/mqtap/session/source/tap"
)

func newTopicsCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		keyPaths []string
		expr     string
		format   string
		history  string
		decodeAs []string
		sf       sniffFlags
		tcfg     tap.Config
		autostop []string
	)
	cmd := &cobra.Command{
		Use:   "topics [FILE | -i IFACE | mqtt://HOST:PORT]",
		Short: "Sum up the messages and values of each topic",
		Long: `List every topic with its PUBLISH messages, payload bytes, first and last
capture time and payload format, and for each numeric member of the decoded
values (mqtap.value.<member>, booleans as 0 and 1) its minimum, maximum,
mean and last value: one row per topic and member, a topic without numeric
members on one row. A value that is itself a number is the member "" (shown
as "(value)"). Messages are those published to the broker, or those it
delivered when the capture holds no publisher's side, so none counts twice.
Payloads are decoded as everywhere in mqtap: after decryption with --keys,
by the keyring's payload rules, the MQTT 5 content type, the Sparkplug B
topic, or JSON recognised by its content.

--history TOPIC prints one row per message of that topic instead: frame,
time, topic, then each numeric member.

The source is a capture file, a live interface (-i, as mqtap sniff; stop it
with Ctrl-C or -a duration:SECONDS) or a broker (mqtt://HOST:PORT, as mqtap
tap); a live source is summed up when it stops.`,
		Example: `  mqtap topics capture.pcapng
  mqtap topics capture.pcapng -T csv > topics.csv
  mqtap topics capture.pcapng --history factory/line1/reading -T csv
  mqtap topics mqtt://localhost:1883 -a duration:60`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("topics takes one capture file or broker URL, got %d arguments", len(args))
			case len(args) == 0 && sf.iface == "":
				return usagef("topics needs a source: mqtap topics FILE, mqtap topics -i IFACE or mqtap topics mqtt://HOST:PORT")
			case len(args) == 1 && sf.iface != "":
				return usagef("topics: give a capture file, -i IFACE or a broker URL, not several")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := sourceSpec{sniff: &sf, tap: tcfg}
			if len(args) == 1 {
				spec.file = args[0]
			}
			return runTopics(cmd.Context(), spec, topicsFlags{keys: keyPaths, expr: expr, format: format, history: history, decodeAs: decodeAs, autostop: autostop}, stdout, stderr)
		},
	}
	f := cmd.Flags()
	registerKeys(cmd, &keyPaths)
	registerFilter(cmd, &expr)
	f.StringVarP(&format, "format", "T", "text", "output format: text, json or csv")
	f.StringVar(&history, "history", "", "print one row per message of this topic instead of the summary")
	f.StringArrayVarP(&decodeAs, "decode-as", "d", nil, decodeAsHelp)
	f.StringVarP(&sf.iface, "interface", "i", "", "capture live on this interface (as mqtap sniff)")
	f.StringVarP(&sf.filter, "capture-filter", "f", "", `live: kernel capture filter, a port list or tcpdump syntax`)
	f.BoolVar(&sf.anyPort, "any-port", false, "live: capture all TCP and detect MQTT on any port")
	f.StringArrayVarP(&autostop, "autostop", "a", nil, "live: stop after duration:SECONDS or packets:N")
	f.StringArrayVarP(&tcfg.Topics, "topic", "t", nil, `broker: topic filter to subscribe to (repeatable; default "#")`)
	return cmd
}

// topicsFlags are the options of mqtap topics.
type topicsFlags struct {
	keys            []string
	expr            string
	format, history string
	decodeAs        []string
	autostop        []string
}

// runTopics reads the source through the analysis chain into a table (or
// a history) and writes it when the source ends.
func runTopics(ctx context.Context, spec sourceSpec, tf topicsFlags, stdout, stderr io.Writer) error {
	if tf.format != topics.Text && tf.format != topics.JSON && tf.format != topics.CSV {
		return usagef("unknown output format %q for topics: use text, json or csv", tf.format)
	}
	stop, err := parseAutostop(tf.autostop)
	if err != nil {
		return err
	}
	spec.frames = stop.frames
	of := outputFlags{decodeAs: tf.decodeAs}
	opts, err := of.pipelineOptions()
	if err != nil {
		return err
	}
	flt, err := compileFilter(tf.expr)
	if err != nil {
		return err
	}
	store, err := loadKeys(tf.keys)
	if err != nil {
		return err
	}
	chain, err := analysis.New(store)
	if err != nil {
		return err
	}
	opts = chain.Options(opts)
	table, hist := topics.NewTable(), topics.NewHistory(tf.history)
	handle := func(r *session.Record) error {
		chain.Observe(r)
		if flt != nil && !flt.Match(r) {
			return nil
		}
		if tf.history != "" {
			hist.Observe(r)
		} else {
			table.Observe(r)
		}
		return nil
	}
	if err := readSource(ctx, spec, opts, handle, stop.duration, stderr); err != nil {
		return err
	}
	if tf.history != "" {
		if n := hist.Dropped(); n > 0 {
			fmt.Fprintf(stderr, "mqtap: %s: %d message(s) past the %d rows a history keeps are left out\n", tf.history, n, topics.MaxRows)
		}
		return topics.WriteHistory(stdout, tf.format, hist)
	}
	if msgs, members := table.Dropped(); msgs > 0 || members > 0 {
		fmt.Fprintf(stderr, "mqtap: %d message(s) of topics past the first %d and %d value(s) of members past %d per topic are left out\n", msgs, topics.MaxTopics, members, topics.MaxMembers)
	}
	return topics.WriteTable(stdout, tf.format, table)
}

// readSource runs any source into handle until it ends: a capture file
// as mqtap read does, a live interface or a broker until SIGINT, SIGTERM
// or duration (when not 0).
func readSource(ctx context.Context, spec sourceSpec, opts session.Options, handle session.Handler, duration time.Duration, stderr io.Writer) error {
	if spec.isBroker() {
		spec.tap.Log = func(format string, a ...any) { fmt.Fprintf(stderr, "mqtap: "+format+"\n", a...) }
	}
	src, err := openSource(spec, &opts, warnTo(stderr))
	if err != nil {
		return err
	}
	defer src.Close()
	if fs, ok := src.(*file.Source); ok {
		_, err := readCapture(ctx, fs, opts, handle, stderr)
		return err
	}
	if !spec.isBroker() {
		fmt.Fprintf(stderr, "Capturing on '%s'\n", src.Name())
	}
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, duration)
		defer c()
	}
	p := session.New(opts, handle)
	if err := src.Run(ctx, p); err != nil && ctx.Err() == nil {
		return err
	}
	fmt.Fprintf(stderr, "mqtap: %d MQTT packets from %s\n", p.Stats().Packets, src.Name())
	return nil
}
