package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/live"
)

func TestDecodeAsWebSocket(t *testing.T) {
	for _, c := range []struct {
		in   string
		port uint16
		ws   bool
		err  string
	}{
		{"tcp.port==1885,mqtt", 1885, false, ""},
		{"tcp.port==443,websocket", 443, true, ""},
		{"tcp.port:8443,WebSocket", 8443, true, ""},
		{"tcp.port==443,http", 0, false, "expected tcp.port==PORT,mqtt or tcp.port==PORT,websocket"},
		{"udp.port==443,websocket", 0, false, "only tcp.port==PORT,mqtt and tcp.port==PORT,websocket"},
		{"tcp.port==0,websocket", 0, false, "is not a TCP port"},
	} {
		port, ws, err := parseDecodeAs(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || port != c.port || ws != c.ws {
			t.Errorf("%q: %d %v %v", c.in, port, ws, err)
		}
	}
	of := outputFlags{decodeAs: []string{"tcp.port==443,websocket", "tcp.port==1885,mqtt", "tcp.port==8443,websocket"}}
	opts, err := of.pipelineOptions()
	if err != nil || !slices.Equal(opts.WSPorts, []uint16{443, 8443}) || !slices.Equal(opts.Ports, []uint16{1885}) {
		t.Errorf("options: WSPorts %v, Ports %v, %v", opts.WSPorts, opts.Ports, err)
	}
}

// TestCaptureFilterWebSocketPorts checks the expressions of sniff's kernel
// filter and that each compiles.
func TestCaptureFilterWebSocketPorts(t *testing.T) {
	def := "tcp port 1883 or tcp port 1884 or tcp port 8883 or tcp port 8000 or tcp port 8080 or tcp port 8083 or tcp port 8084 or tcp port 9001"
	for _, c := range []struct {
		sf   sniffFlags
		opts session.Options
		want string
	}{
		{sniffFlags{}, session.Options{}, def},
		{sniffFlags{}, session.Options{WSPorts: []uint16{443}}, def + " or tcp port 443"},
		{sniffFlags{}, session.Options{Ports: []uint16{7000}, WSPorts: []uint16{8443, 8080}}, def + " or tcp port 7000 or tcp port 8443"},
		{sniffFlags{anyPort: true}, session.Options{WSPorts: []uint16{443}}, "tcp"},
		{sniffFlags{filter: "1883,9001"}, session.Options{}, "tcp port 1883 or tcp port 9001"},
	} {
		got, err := captureFilter(&c.sf, &c.opts)
		if err != nil || got != c.want {
			t.Errorf("%+v %+v: %q %v\nwant %q", c.sf, c.opts, got, err, c.want)
			continue
		}
		for _, link := range []live.Link{live.LinkEthernet, live.LinkRaw} {
			if _, err := live.CompileFilter(got, link, 65535); err != nil {
				t.Errorf("%q does not compile: %v", got, err)
			}
		}
	}
}

// wsNetns makes a private network namespace (mqtap-ws-PID-N) whose
// loopback is up, deleted when the test ends.
func wsNetns(t *testing.T, n int) string {
	t.Helper()
	ns := fmt.Sprintf("mqtap-ws-%d-%d", os.Getpid(), n)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", ns, err, out)
	}
	return ns
}

// startInNetns starts the mqtap binary inside namespace ns and waits until
// it says want on stderr.
func startInNetns(t *testing.T, ns, want string, args ...string) *liveRun {
	t.Helper()
	return startCommand(t, want, exec.Command("ip", append([]string{"netns", "exec", ns, mqtapBinary(t)}, args...)...), args)
}

// knock opens a TCP connection (refused: nothing listens) to each port of
// 127.0.0.1 inside ns: one SYN to each.
func knock(t *testing.T, ns string, ports []int) {
	t.Helper()
	var script strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&script, "(exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null || true\n", p)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "bash", "-c", script.String()).CombinedOutput(); err != nil {
		t.Fatalf("knocking: %v: %s", err, out)
	}
}

// synPorts are the destination ports of the SYNs in a capture (tshark).
func synPorts(t *testing.T, file string) []int {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-e", "tcp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", file, err)
	}
	var ports []int
	for _, f := range strings.Fields(string(out)) {
		p, _ := strconv.Atoi(f)
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return ports
}

// TestSniffWebSocketPorts captures SYNs to the MQTT, MQTT-over-WebSocket and
// other ports in a private namespace: the default kernel filter lets the
// broker ports through (1883, 1884, 8883, 8000, 8080, 8083, 8084, 9001) and
// no other; -d tcp.port==N,websocket adds N; --any-port takes everything.
func TestSniffWebSocketPorts(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is required for this test (make deps installs it)")
	}
	all := []int{443, 1883, 1884, 7000, 8000, 8080, 8083, 8084, 8443, 8883, 9001}
	def := []int{1883, 1884, 8000, 8080, 8083, 8084, 8883, 9001}
	for i, c := range []struct {
		args []string
		want []int
	}{
		{nil, def},
		{[]string{"-d", "tcp.port==443,websocket"}, append([]int{443}, def...)},
		{[]string{"-d", "tcp.port==8443,websocket", "-d", "tcp.port==7000,mqtt"}, []int{1883, 1884, 7000, 8000, 8080, 8083, 8084, 8443, 8883, 9001}},
		{[]string{"--any-port"}, all},
	} {
		ns := wsNetns(t, i)
		file := filepath.Join(t.TempDir(), "sniff.pcapng")
		run := startInNetns(t, ns, "Capturing on", append([]string{"sniff", "-i", "lo", "-q", "-w", file}, c.args...)...)
		knock(t, ns, all)
		time.Sleep(300 * time.Millisecond)
		if code := run.interrupt(t); code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, run.stderr.String())
		}
		if got := synPorts(t, file); !slices.Equal(got, c.want) {
			t.Errorf("%v: SYNs captured to %v, want %v", c.args, got, c.want)
		}
	}
}
