package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gopacket/gopacket/layers"
	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/live"
	"github.com/mqtap/mqtap/session/source/tap"
	"github.com/mqtap/mqtap/tui"
	"github.com/mqtap/mqtap/tui/model"
)

func newTuiCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		keyPaths []string
		expr     string
		decodeAs []string
		file     string
		sf       sniffFlags
		tcfg     tap.Config
		password string
	)
	cmd := &cobra.Command{
		Use:   "tui [FILE | -i IFACE | mqtt://HOST:PORT]",
		Short: "Browse a capture, a live interface or a broker in a terminal UI",
		Long: `Open the terminal UI, termshark style: the packet list, the detail tree of the
selected packet and its bytes with the selected field highlighted (and the
decrypted bytes beside them), a display filter bar that turns green or red as
you type, and mqtap's own views: key-exchange sessions, the topic tree,
findings, a connection as a conversation, statistics and payload viewers.
Press ? inside for every key.

The source is a capture file (indexed in the background into temporary
files, so a capture of millions of packets opens at once and memory stays
small), a live interface (-i, with the capture flags of mqtap sniff: the list
grows while you browse) or a broker (mqtt://HOST:PORT, as mqtap tap).`,
		Example: `  mqtap tui pcaps/samples/lab-session.pcapng --keys pcaps/samples/keys/lab-session/requester
  mqtap tui capture.pcapng -Y 'mqtt.msgtype == 3'
  sudo mqtap tui -i lo --keys lab-keys/
  mqtap tui mqtt://localhost:1884 --keys lab-keys/`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("tui takes one capture file or broker URL, got %d arguments", len(args))
			case len(args) == 1 && (file != "" || sf.iface != ""):
				return usagef("tui: give a capture file, -i IFACE or a broker URL, not several")
			case len(args) == 1:
				file = args[0]
			case file == "" && sf.iface == "":
				return usagef("tui needs a source: mqtap tui FILE, mqtap tui -i IFACE or mqtap tui mqtt://HOST:PORT")
			case file != "" && sf.iface != "":
				return usagef("tui: give a capture file or -i IFACE, not both")
			}
			if sf.write != "" && sf.iface == "" {
				return usagef("tui: -w saves a live capture; it needs -i IFACE")
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"pcap", "pcapng", "gz", "cap"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("password") {
				tcfg.Password = []byte(password)
			}
			return runTui(cmd.Context(), tuiSource{file: file, sniff: &sf, tap: tcfg}, keyPaths, expr, decodeAs)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "read-file", "r", "", "capture file to open (same as the FILE argument)")
	registerKeys(cmd, &keyPaths)
	registerFilter(cmd, &expr)
	f.StringArrayVarP(&decodeAs, "decode-as", "d", nil, decodeAsHelp)
	f.StringVarP(&sf.iface, "interface", "i", "", "capture live on this interface (as mqtap sniff)")
	f.StringVarP(&sf.filter, "capture-filter", "f", "", `live: kernel capture filter, a port list or tcpdump syntax`)
	f.BoolVar(&sf.anyPort, "any-port", false, "live: capture all TCP and detect MQTT on any port")
	f.BoolVarP(&sf.noPromisc, "no-promiscuous-mode", "p", false, "live: do not put the interface in promiscuous mode")
	f.IntVarP(&sf.bufferMB, "buffer-size", "B", 32, "live: kernel capture buffer, in MiB")
	f.Uint32VarP(&sf.snaplen, "snapshot-length", "s", 262144, "live: bytes kept of each frame")
	f.StringVarP(&sf.write, "write", "w", "", "live: also write every captured frame to this pcapng file, to open later")
	f.StringArrayVarP(&tcfg.Topics, "topic", "t", nil, `broker: topic filter to subscribe to (repeatable; default "#")`)
	f.StringVarP(&tcfg.Username, "username", "u", "", "broker: user name")
	f.StringVarP(&password, "password", "P", "", "broker: password")
	f.StringVar(&tcfg.CAFile, "cafile", "", "broker: CA certificates for mqtts://")
	return cmd
}

// tuiSource is what the UI shows: a file, an interface or a broker.
type tuiSource struct {
	file  string // a capture file, or a broker URL
	sniff *sniffFlags
	tap   tap.Config
}

func (s tuiSource) isBroker() bool {
	return strings.Contains(s.file, "://")
}

// noteWriter passes the lines a source writes for stderr to the status
// line.
type noteWriter struct{ c *model.Capture }

func (w noteWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(strings.TrimPrefix(string(p), "mqtap: "))
	if msg != "" {
		w.c.Note(msg)
	}
	return len(p), nil
}

func runTui(ctx context.Context, src tuiSource, keyPaths []string, expr string, decodeAs []string) error {
	if _, err := compileFilter(expr); err != nil {
		return err
	}
	of := outputFlags{decodeAs: decodeAs}
	opts, err := of.pipelineOptions()
	if err != nil {
		return err
	}
	store, err := loadKeys(keyPaths)
	if err != nil {
		return err
	}
	isLive := src.sniff.iface != "" || src.isBroker()
	opts.Keys, opts.ReloadKeys = store, isLive
	name := src.file
	if src.sniff.iface != "" {
		if name, err = resolveInterface(src.sniff.iface); err != nil {
			return err
		}
	}
	var c *model.Capture
	c, err = model.New(name, model.Options{Keys: store, ReloadKeys: isLive,
		OnKeyError: func(err error) { c.Note("reloading keys: " + err.Error()) }})
	if err != nil {
		return err
	}
	defer c.Close()
	opts.OnFinding = c.AddFinding

	// Open the source before the UI starts, so that an unreadable file or
	// missing capture rights are a plain one-line error.
	var produce func(ctx context.Context) error
	switch {
	case src.sniff.iface != "":
		capExpr, err := captureFilter(src.sniff, &opts)
		if err != nil {
			return err
		}
		opts.FlushAfter = liveFlushAfter
		cs, err := live.Open(live.Options{Interface: name, Filter: capExpr, SnapLen: src.sniff.snaplen, Promiscuous: !src.sniff.noPromisc, BufferMB: src.sniff.bufferMB})
		if err != nil {
			return err
		}
		defer cs.Close()
		p, err := livePipeline(cs, name, opts, c.Handler())
		if err != nil {
			return err
		}
		var spool *liveFile
		if src.sniff.write != "" {
			if spool, err = createLiveFile(src.sniff.write, cs.LinkType(), name); err != nil {
				return err
			}
		}
		produce = func(ctx context.Context) error {
			_, err := captureLive(ctx, cs, p, spool, 0, func() error {
				if spool != nil {
					if err := spool.flush(); err != nil {
						return err
					}
				}
				return c.Flush()
			})
			if spool != nil {
				if cerr := spool.close(); err == nil {
					err = cerr
				}
			}
			return err
		}
	case src.isBroker():
		cfg := src.tap
		cfg.URL = src.file
		cfg.Log = func(format string, a ...any) { c.Note(fmt.Sprintf(format, a...)) }
		p, err := session.NewPipeline(layers.LinkTypeRaw, opts, c.Handler())
		if err != nil {
			return err
		}
		produce = func(ctx context.Context) error { return tapLive(ctx, cfg, p, c.Flush) }
	default:
		var r *pcaps.Reader
		if src.file == "-" {
			// A pipe: what arrived is shown before waiting for more.
			r, err = pcaps.NewReader(newIdleReader(os.Stdin, func() { c.Flush() }), "standard input")
		} else {
			r, err = pcaps.Open(src.file)
		}
		if err != nil {
			return err
		}
		defer r.Close()
		produce = func(ctx context.Context) error {
			h := c.Handler()
			_, err := readCapture(r, opts, func(r *session.Record) error {
				if err := ctx.Err(); err != nil {
					return err // the user quit before the file was read
				}
				return h(r)
			}, noteWriter{c})
			return err
		}
	}

	app, err := tui.New(c, nil, tui.Options{Filter: expr, Live: isLive})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := produce(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		c.Finish(err)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			app.Stop()
		case <-ctx.Done():
		}
	}()
	runErr := app.Run()
	cancel()
	<-done
	return runErr
}
