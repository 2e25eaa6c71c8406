package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/live"
)

// sniffFlags are the flags of mqtap sniff beyond the output flags.
type sniffFlags struct {
	iface     string
	list      bool
	filter    string
	anyPort   bool
	count     int
	autostop  []string
	snaplen   uint32
	noPromisc bool
	bufferMB  int
	write     string
	quiet     bool
}

func newSniffCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		of outputFlags
		sf sniffFlags
	)
	cmd := &cobra.Command{
		Use:   "sniff -i IFACE",
		Short: "Capture live on a network interface and decode MQTT as it flows",
		Long: `Capture on a network interface (Linux AF_PACKET, no libpcap needed) and
print every MQTT control packet as soon as it is decoded, exactly as mqtap read
prints a capture file: the same formats, fields, -Y display filters, key
exchanges, decryption and findings.

A kernel (BPF) filter keeps only TCP on the MQTT ports (1883, 1884, 8883),
the ports brokers serve MQTT over WebSocket on (8000, 8080, 8083, 8084, 9001)
and every -d port (-d tcp.port==443,websocket adds 443), so other traffic
never reaches mqtap. -f replaces it: a port
list ("1883,9001", whose ports are also decoded as MQTT) or a capture filter in
tcpdump syntax ("tcp port 1883 and host 10.0.0.5"; the common primitives are
compiled by mqtap itself, anything else through tcpdump -ddd when tcpdump is
installed). --any-port captures all TCP, so MQTT is found on any port.

Capture stops after -c MQTT packets, after -a duration:SECONDS, or on Ctrl-C;
then every output is flushed and a summary goes to stderr: frames captured,
frames the kernel dropped (its buffer was full: raise -B), MQTT packets
decoded. -w also writes every captured frame to a pcapng file, as tshark -w.

--keys directories and files are read again whenever a key exchange has no
matching private key, so a lab session whose peers write their keys while
mqtap runs (mqtap lab --save-keys, crypto.py) is decrypted live.

Capturing needs root or the CAP_NET_RAW capability: grant it once with
  sudo setcap cap_net_raw,cap_net_admin+ep $(command -v mqtap)`,
		Example: `  mqtap sniff -D
  sudo mqtap sniff -i lo
  sudo mqtap sniff -i eth0 --keys lab-keys/ -Y 'mqtap.decrypt == "ok"'
  sudo mqtap sniff -i any -f 1883,9001 -T ndjson
  sudo mqtap sniff -i eth0 -f 'tcp port 1883 and host 192.168.1.20' -a duration:60 -w lab.pcapng
  sudo mqtap sniff -i eth0 --any-port -c 100 -T fields -e ip.src -e mqtt.topic`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("sniff takes no arguments (got %q): name the interface with -i", args[0])
			}
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sf.list {
				return listInterfaces(stdout)
			}
			return runSniff(cmd.Context(), &of, &sf, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&sf.iface, "interface", "i", "", "interface to capture on (a name or a number from -D; any: all interfaces)")
	f.BoolVarP(&sf.list, "list-interfaces", "D", false, "list the interfaces and exit")
	f.StringVarP(&sf.filter, "capture-filter", "f", "", `kernel capture filter: a port list ("1883,9001") or tcpdump syntax (default: TCP on the MQTT and MQTT-over-WebSocket ports)`)
	f.BoolVar(&sf.anyPort, "any-port", false, "capture all TCP and detect MQTT on any port")
	f.IntVarP(&sf.count, "count", "c", 0, "stop after this many MQTT control packets")
	f.StringArrayVarP(&sf.autostop, "autostop", "a", nil, "stop after duration:SECONDS, or packets:N frames captured")
	f.Uint32VarP(&sf.snaplen, "snapshot-length", "s", 262144, "bytes kept of each frame")
	f.BoolVarP(&sf.noPromisc, "no-promiscuous-mode", "p", false, "do not put the interface in promiscuous mode")
	f.IntVarP(&sf.bufferMB, "buffer-size", "B", 32, "kernel capture buffer, in MiB")
	f.StringVarP(&sf.write, "write", "w", "", "also write every captured frame to this pcapng file")
	f.BoolVarP(&sf.quiet, "quiet", "q", false, "print no packets, only the summary at the end")
	of.register(cmd)
	cmd.RegisterFlagCompletionFunc("interface", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		ifs, _ := live.Interfaces()
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// listInterfaces prints the interfaces as tshark -D does.
func listInterfaces(stdout io.Writer) error {
	ifs, err := live.Interfaces()
	if err != nil {
		return err
	}
	for i, it := range ifs {
		fmt.Fprintf(stdout, "%d. %s\n", i+1, it)
	}
	return nil
}

// resolveInterface accepts a name or a number from the -D list.
func resolveInterface(name string) (string, error) {
	if name == "" {
		return "", usagef("sniff needs an interface: mqtap sniff -i IFACE (mqtap sniff -D lists them)")
	}
	n, err := strconv.Atoi(name)
	if err != nil {
		return name, nil
	}
	ifs, err := live.Interfaces()
	if err != nil {
		return "", err
	}
	if n < 1 || n > len(ifs) {
		return "", usagef("-i %d: there are %d interfaces (mqtap sniff -D lists them)", n, len(ifs))
	}
	return ifs[n-1].Name, nil
}

// autostop is what -a asks for.
type autostop struct {
	duration time.Duration
	frames   int
}

func parseAutostop(list []string) (autostop, error) {
	var a autostop
	for _, s := range list {
		key, val, ok := strings.Cut(s, ":")
		n, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || n <= 0 {
			return a, usagef("-a %q: expected duration:SECONDS or packets:N", s)
		}
		switch key {
		case "duration":
			a.duration = time.Duration(n * float64(time.Second))
		case "packets":
			a.frames = int(n)
		default:
			return a, usagef("-a %q: mqtap stops on duration:SECONDS or packets:N", s)
		}
	}
	return a, nil
}

// captureFilter is the kernel filter sniff asks for, and the ports -f
// adds to the ports decoded as MQTT.
func captureFilter(sf *sniffFlags, opts *session.Options) (string, error) {
	if sf.anyPort {
		if sf.filter != "" {
			return "", usagef("--any-port and -f both choose the capture filter: use one")
		}
		return "tcp", nil
	}
	if sf.filter == "" {
		return live.PortsExpr(slices.Concat(session.DefaultPorts(), live.WebSocketPorts(), opts.Ports, opts.WSPorts)), nil
	}
	ports, ok, err := live.ParsePortList(sf.filter)
	if err != nil {
		return "", usagef("-f %q: %w", sf.filter, err)
	}
	if ok {
		opts.Ports = append(opts.Ports, ports...)
		return live.PortsExpr(ports), nil
	}
	return sf.filter, nil
}

func runSniff(ctx context.Context, of *outputFlags, sf *sniffFlags, stdout, stderr io.Writer) error {
	stop, err := parseAutostop(sf.autostop)
	if err != nil {
		return err
	}
	opts, err := of.pipelineOptions()
	if err != nil {
		return err
	}
	if sf.quiet {
		stdout = io.Discard
	}
	sk, err := newSink(of, stdout, sf.count)
	if err != nil {
		return err
	}
	sk.chain.ReloadKeys(func(err error) { fmt.Fprintf(stderr, "mqtap: reloading keys: %v\n", err) })
	opts = sk.chain.Options(opts)
	opts.ReloadKeys = true
	opts.Idle = sk.flush
	opts.OnFinding = func(f session.Finding, frame int) {
		fmt.Fprintf(stderr, "mqtap: frame %d: %s: %s\n", frame, f.Code, f.Text)
	}
	src, err := openLive(sf, stop.frames, &opts)
	if err != nil {
		return err
	}
	defer src.Close()
	fmt.Fprintf(stderr, "Capturing on '%s'\n", src.Name())

	p, runErr := runLive(ctx, src, opts, sk, stop.duration)
	st, statErr := src.Stats()
	if err := src.Close(); runErr == nil {
		runErr = err
	}
	if err := sk.out.Close(); runErr == nil {
		runErr = err
	}
	summary := fmt.Sprintf("mqtap: %d packets captured, %d dropped by the kernel, %d MQTT packets decoded", src.Captured(), st.Dropped, p.Stats().Packets)
	if statErr != nil {
		summary = fmt.Sprintf("mqtap: %d packets captured, ? dropped by the kernel (%v), %d MQTT packets decoded", src.Captured(), statErr, p.Stats().Packets)
	}
	fmt.Fprintln(stderr, summary)
	return runErr
}
