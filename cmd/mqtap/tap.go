package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session/source/tap"
)

// tapVersion is the MQTT version of the tap's connection: paho.golang
// speaks MQTT 5.
func newTapCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		of       outputFlags
		cfg      tap.Config
		password string
		count    int
		autostop []string
	)
	cmd := &cobra.Command{
		Use:   "tap mqtt://HOST:PORT | mqtts://HOST:PORT | ws://HOST:PORT/PATH | wss://HOST:PORT/PATH",
		Short: "Subscribe to a broker and decode what it sends, when capturing is not possible",
		Long: `Connect to a broker as an MQTT 5 client (clean session), subscribe to topic
filters (--topic, default "#") and run every packet the broker sends through
the same pipeline as a capture: the same output formats and fields, -Y display
filters, key exchanges, decryption, verification and findings. Use it where
you cannot sniff but may subscribe.

Records have no frame number, frame length nor TCP fields: the source is the
broker (ip.src), the destination mqtap's own end of the connection, and the
first column of the text output numbers the packets received.

mqtts:// connects over TLS (--cafile for a private CA, --insecure to skip
verification). ws://HOST:PORT/PATH connects over WebSocket (the HTTP upgrade
offers the subprotocol "mqtt"; brokers usually serve it at /mqtt on 8080,
8083 or 9001), wss:// over WebSocket in TLS with the same options. An
endpoint that is not there, a path answered with 404 or a server that
chooses another subprotocol is a one-line error. When the broker goes
away, mqtap says so on stderr and reconnects with a growing delay; a broker
that refuses the first connection, bad credentials or a refused subscription
end the tap with a one-line error. It stops after -c packets, after
-a duration:SECONDS or on Ctrl-C.`,
		Example: `  mqtap tap mqtt://localhost:1884 --keys lab-keys/
  mqtap tap mqtt://broker.lab:1883 -t 'sensors/#' -t 'alerts/+' -T ndjson
  mqtap tap mqtts://broker.lab:8883 --cafile ca.pem -u alice -P secret
  mqtap tap ws://broker.lab:8080/mqtt -t 'sensors/#'
  mqtap tap wss://broker.lab:8084/mqtt --cafile ca.pem
  mqtap tap mqtt://localhost:1883 -Y 'mqtap.decrypt == "ok"' -T fields -e mqtt.topic -e mqtap.plaintext`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("tap needs one broker URL: mqtap tap mqtt://HOST:PORT or ws://HOST:PORT/PATH (see 'mqtap tap --help')")
			}
			cfg.URL = args[0]
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("password") {
				cfg.Password = []byte(password)
			}
			stop, err := parseAutostop(autostop)
			if err != nil {
				return err
			}
			if stop.frames > 0 {
				return usagef("-a packets:N counts captured frames; a tap has none: use -c N")
			}
			return runTap(cmd.Context(), &of, cfg, count, stop.duration, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Topics, "topic", "t", nil, `topic filter to subscribe to (repeatable; default "#")`)
	f.Uint8Var(&cfg.QoS, "qos", 0, "QoS of the subscriptions (0, 1 or 2)")
	f.StringVarP(&cfg.Username, "username", "u", "", "user name for the broker")
	f.StringVarP(&password, "password", "P", "", "password for the broker")
	f.StringVar(&cfg.CAFile, "cafile", "", "PEM file of the CA certificates that sign the broker's certificate (mqtts://, wss://)")
	f.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the broker's certificate (mqtts://, wss://)")
	f.StringVar(&cfg.ClientID, "id", "", "client identifier (default: mqtap- and random hex)")
	f.IntVarP(&count, "count", "c", 0, "stop after this many MQTT control packets")
	f.StringArrayVarP(&autostop, "autostop", "a", nil, "stop after duration:SECONDS")
	of.register(cmd)
	return cmd
}

// tapLive runs what the broker of cfg sends through p until ctx is done,
// the handler stops it or the tap fails; idle is called whenever the
// decoder has caught up. The pipeline is closed at the end.
func runTap(ctx context.Context, of *outputFlags, cfg tap.Config, count int, duration time.Duration, stdout, stderr io.Writer) error {
	if cfg.QoS > 2 {
		return usagef("--qos %d: QoS is 0, 1 or 2", cfg.QoS)
	}
	opts, err := of.pipelineOptions()
	if err != nil {
		return err
	}
	sk, err := newSink(of, stdout, count)
	if err != nil {
		return err
	}
	sk.chain.ReloadKeys(func(err error) { fmt.Fprintf(stderr, "mqtap: reloading keys: %v\n", err) })
	opts = sk.chain.Options(opts)
	opts.Idle = sk.flush
	cfg.Log = func(format string, a ...any) { fmt.Fprintf(stderr, "mqtap: "+format+"\n", a...) }
	src, err := openSource(sourceSpec{file: cfg.URL, tap: cfg}, &opts, nil)
	if err != nil {
		return err
	}
	defer src.Close()

	p, runErr := runLive(ctx, src, opts, sk, duration)
	if err := sk.out.Close(); runErr == nil {
		runErr = err
	}
	st := p.Stats()
	if runErr == nil || st.Packets > 0 {
		fmt.Fprintf(stderr, "mqtap: %d MQTT packets received from %s over %d connection(s)\n", st.Packets, cfg.URL, st.Streams)
	}
	return runErr
}
