// Command mqtap-wsbridge runs the tests' WebSocket-to-TCP bridge for the
// sample scripts.
//
// The bridge (brokertest.WSBridge) stands in front of a plain MQTT listener
// until SIGINT or SIGTERM, then writes the MQTT packet counts of every
// connection it relayed.
//
//	mqtap-wsbridge --broker 127.0.0.1:1883 --listen 127.0.0.1:8080 [--path /mqtt]
//	    [--subprotocols mqtt,mqttv3.1 | --no-subprotocol | --force-subprotocol P]
//	    [--compression none|context-takeover|no-context-takeover]
//	    [--cert server.pem --key server-key.pem [--keylog FILE]]
//	    [--split CONNACK,PUBLISH [--cuts 1,2] [--ping]] [--join] [--counts FILE]
//
// It logs one line per event on stderr, the first "listening on URL" once it
// accepts connections. --counts FILE gets one tab-separated line per
// connection: number, client address, client ID, subprotocol, extensions,
// what the client sent, what it received ("CONNECT 1, PUBLISH 2").
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mqtap/mqtap/session/brokertest"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "mqtap-wsbridge: %v\n", err)
		os.Exit(1)
	}
}

// flags are the command line.
type flags struct {
	broker, listen            string
	opts                      brokertest.WSBridgeOptions
	subprotocols, compression string
	keylog                    string
	split, cuts, counts       string
}

func parse(args []string, stderr io.Writer) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("mqtap-wsbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.broker, "broker", "", "host:port of the plain MQTT listener (required)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&f.opts.Path, "path", brokertest.DefaultWSPath, "the WebSocket endpoint")
	fs.StringVar(&f.subprotocols, "subprotocols", "mqtt,mqttv3.1", "subprotocols chosen from the client's offer, by preference")
	fs.BoolVar(&f.opts.NoSubprotocol, "no-subprotocol", false, "choose no subprotocol")
	fs.StringVar(&f.opts.ForceSubprotocol, "force-subprotocol", "", "answer with this subprotocol, offered or not")
	fs.StringVar(&f.compression, "compression", "none", "permessage-deflate: none, context-takeover or no-context-takeover")
	fs.StringVar(&f.opts.CertFile, "cert", "", "server certificate (PEM): wss://")
	fs.StringVar(&f.opts.KeyFile, "key", "", "its private key (PEM)")
	fs.StringVar(&f.keylog, "keylog", "", "append the TLS secrets to this NSS key log file")
	fs.StringVar(&f.split, "split", "", "MQTT packet types the broker sends to cut into fragments (CONNACK,PUBLISH)")
	fs.StringVar(&f.cuts, "cuts", "1", "sizes of the first fragments of a split packet (1,2)")
	fs.BoolVar(&f.opts.Framing.Ping, "ping", false, "a Ping frame between the first two fragments")
	fs.BoolVar(&f.opts.Framing.Join, "join", false, "join the packets the broker sends together in one frame")
	fs.StringVar(&f.counts, "counts", "", "write each connection's packet counts to this file at the end")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.broker == "" {
		return nil, errors.New("--broker HOST:PORT is required")
	}
	var err error
	if f.opts.Compression, err = brokertest.ParseCompression(f.compression); err != nil {
		return nil, err
	}
	for _, p := range strings.Split(f.subprotocols, ",") {
		if p = strings.TrimSpace(p); p != "" {
			f.opts.Subprotocols = append(f.opts.Subprotocols, p)
		}
	}
	if f.opts.Subprotocols == nil {
		f.opts.Subprotocols = []string{}
	}
	for _, n := range strings.Split(f.split, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		typ, ok := brokertest.PacketType(n)
		if !ok {
			return nil, fmt.Errorf("--split: unknown MQTT packet type %q", n)
		}
		f.opts.Framing.SplitTypes = append(f.opts.Framing.SplitTypes, typ)
	}
	for _, c := range strings.Split(f.cuts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--cuts: %q is not a fragment size", c)
		}
		f.opts.Framing.Cuts = append(f.opts.Framing.Cuts, n)
	}
	if (f.opts.CertFile == "") != (f.opts.KeyFile == "") || (f.keylog != "" && f.opts.CertFile == "") {
		return nil, errors.New("--cert and --key go together, and --keylog needs them")
	}
	f.opts.TLS = f.opts.CertFile != ""
	return &f, nil
}

func run(args []string, stderr io.Writer) error {
	f, err := parse(args, stderr)
	if err != nil {
		return err
	}
	f.opts.Log = func(format string, a ...any) { fmt.Fprintf(stderr, "mqtap-wsbridge: "+format+"\n", a...) }
	if f.keylog != "" {
		kl, err := os.OpenFile(f.keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--keylog: %w", err)
		}
		defer kl.Close()
		f.opts.KeyLogWriter = kl
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	b, err := brokertest.ListenWSBridge(f.broker, f.listen, f.opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "mqtap-wsbridge: listening on %s, relaying to %s\n", b.URL, f.broker)
	<-sig
	b.Stop()
	if f.counts == "" {
		return nil
	}
	var out strings.Builder
	for _, c := range b.Conns() {
		fmt.Fprintf(&out, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.N, c.Client, c.ClientID, c.Subprotocol, c.Extensions, c.Sent, c.Received)
	}
	if err := os.WriteFile(f.counts, []byte(out.String()), 0o644); err != nil {
		return fmt.Errorf("--counts: %w", err)
	}
	return nil
}
