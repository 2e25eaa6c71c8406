package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
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
			return runTui(cmd.Context(), sourceSpec{file: file, sniff: &sf, tap: tcfg}, keyPaths, expr, decodeAs)
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

// runTui opens the source before the UI starts, so that an unreadable file
// or missing capture rights are a plain one-line error, then shows the
// records as the source delivers them.
func runTui(ctx context.Context, spec sourceSpec, keyPaths []string, expr string, decodeAs []string) error {
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
	fileOpts := opts // what :e reads other capture files with
	isLive := spec.isLive()
	opts.ReloadKeys = isLive
	var c *model.Capture
	note := func(msg string) { c.Note(msg) }
	src, err := openSource(spec, &opts, note)
	if err != nil {
		return err
	}
	defer src.Close()
	name := spec.file
	if !spec.isBroker() && isLive {
		name = src.Name() // the interface -i named by its number
	}
	c, err = model.New(name, model.Options{Keys: store, ReloadKeys: isLive,
		OnKeyError: func(err error) { c.Note("reloading keys: " + err.Error()) }})
	if err != nil {
		return err
	}
	defer c.Close()
	opts = c.Options(opts)
	opts.OnFinding = c.AddFinding
	opts.Idle = c.Flush
	app, err := tui.New(c, nil, tui.Options{Filter: expr, Live: isLive,
		Save: tuiSave(spec, opts, store), Open: tuiOpener(fileOpts, store), Kernel: kernelCounters(src)})
	if err != nil {
		return err
	}
	return app.RunWhile(ctx, func(ctx context.Context) error {
		if fs, ok := src.(*file.Source); ok {
			_, err := readCapture(ctx, fs, opts, c.Handler(), noteWriter{c})
			return err
		}
		return src.Run(ctx, session.New(opts, c.Handler()))
	})
}

// tuiSave is what the UI's :w needs: the capture file the records came
// from (a live capture's -w file; none for standard input or a broker) and
// the pipeline options they were made with.
func tuiSave(spec sourceSpec, opts session.Options, store *keys.Store) tui.SaveConfig {
	cfg := tui.SaveConfig{Pipeline: opts, Keys: store, Application: "mqtap " + version}
	cfg.Pipeline.Keys, cfg.Pipeline.ReloadKeys = store, false
	// The export runs its own passes: none of the model's hooks.
	cfg.Pipeline.OnFinding, cfg.Pipeline.Idle, cfg.Pipeline.OnTCPFrame = nil, nil, nil
	switch {
	case spec.sniff != nil && spec.sniff.iface != "":
		cfg.File = spec.sniff.write
	case !spec.isBroker() && spec.file != file.Stdin:
		cfg.File = spec.file
	}
	return cfg
}

// tuiOpener returns the UI's :e: it opens a capture file with the keys and
// decode-as options of the command line and returns a new capture with the
// function that fills it.
func tuiOpener(opts session.Options, store *keys.Store) func(string) (tui.Opened, error) {
	return func(path string) (tui.Opened, error) {
		var c *model.Capture
		src, err := file.Open(path, file.Options{Warn: func(msg string) {
			if c != nil {
				c.Note(msg)
			}
		}})
		if err != nil {
			return tui.Opened{}, err
		}
		c, err = model.New(path, model.Options{Keys: store})
		if err != nil {
			src.Close()
			return tui.Opened{}, err
		}
		popts := c.Options(opts)
		popts.OnFinding = c.AddFinding
		popts.Idle = c.Flush
		fill := func(ctx context.Context) error {
			defer src.Close()
			_, err := readCapture(ctx, src, popts, c.Handler(), noteWriter{c})
			return err
		}
		save := tui.SaveConfig{File: path, Pipeline: opts, Keys: store, Application: "mqtap " + version}
		save.Pipeline.Keys = store
		return tui.Opened{Capture: c, Fill: fill, Save: save}, nil
	}
}

// kernelCounters returns the kernel's counters of a live capture for the
// UI's :info, nil for other sources.
func kernelCounters(src session.Source) func() (uint64, uint64, error) {
	ls, ok := src.(*live.Source)
	if !ok {
		return nil
	}
	return func() (uint64, uint64, error) {
		st, err := ls.Stats()
		return st.Received, st.Dropped, err
	}
}
