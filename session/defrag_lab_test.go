package session_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// The lab is three private network namespaces:
//
//	A (10.201.1.1, fd00:201::1) -- MTU 1500 -- R (router) -- MTU 576 -- B (10.201.2.2)
//	A ----------------------------- MTU 1280 (IPv6) ------------------- B (fd00:201::2)
//
// A sends without the DF bit (net.ipv4.ip_no_pmtu_disc=1), so R fragments
// A's IPv4 packets onto the MTU-576 link (B's end of that link keeps MTU
// 1500, so B advertises a TCP MSS of 1460 and TCP segments get fragmented
// too). Over IPv6, A fragments its UDP datagrams itself.

// Lab addresses and ports.
const (
	labB4   = "10.201.2.2"
	labB6   = "fd00:201::2"
	tcpPort = 45000
	udpPort = 45001
)

var labCount atomic.Int32

// dropped finds tcpdump's count of frames the kernel dropped.
var dropped = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// lab is a running set of namespaces.
type lab struct {
	t      *testing.T
	prefix string // of namespaces and interfaces
}

// ns returns the name of namespace n ("a", "r" or "b").
func (l *lab) ns(n string) string { return "mqtap-" + l.prefix + "-" + n }

// needTools fails the test when something the lab needs is missing.
func needTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fragment lab needs root (network namespaces, tcpdump): run the tests as root, as CI does")
	}
	for tool, pkg := range map[string]string{"ip": "iproute2", "tcpdump": "tcpdump", "tshark": "tshark", "python3": "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt-get install %s, or scripts/install-deps.sh): the fragment lab needs it", tool, pkg)
		}
	}
}

// newLab builds the namespaces; they are deleted when the test ends.
func newLab(t *testing.T) *lab {
	needTools(t)
	l := &lab{t: t, prefix: fmt.Sprintf("df%d%d", os.Getpid()%100000, labCount.Add(1))}
	a, r, b := l.ns("a"), l.ns("r"), l.ns("b")
	ifc := func(n string) string { return l.prefix + n } // at most 15 bytes
	for _, n := range []string{a, r, b} {
		l.run("ip", "netns", "add", n)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n).Run() })
		l.run("ip", "-n", n, "link", "set", "lo", "up")
	}
	for _, c := range [][]string{
		{"link", "add", ifc("a0"), "netns", a, "type", "veth", "peer", "name", ifc("r0"), "netns", r},
		{"link", "add", ifc("r1"), "netns", r, "type", "veth", "peer", "name", ifc("b0"), "netns", b},
		{"link", "add", ifc("a6"), "netns", a, "type", "veth", "peer", "name", ifc("b6"), "netns", b},
		{"-n", a, "addr", "add", "10.201.1.1/24", "dev", ifc("a0")},
		{"-n", r, "addr", "add", "10.201.1.2/24", "dev", ifc("r0")},
		{"-n", r, "addr", "add", "10.201.2.1/24", "dev", ifc("r1")},
		{"-n", b, "addr", "add", labB4 + "/24", "dev", ifc("b0")},
		{"-n", a, "addr", "add", "fd00:201::1/64", "dev", ifc("a6"), "nodad"},
		{"-n", b, "addr", "add", labB6 + "/64", "dev", ifc("b6"), "nodad"},
		{"-n", r, "link", "set", ifc("r1"), "mtu", "576"},
		{"-n", a, "link", "set", ifc("a6"), "mtu", "1280"},
		{"-n", b, "link", "set", ifc("b6"), "mtu", "1280"},
		{"-n", a, "link", "set", ifc("a0"), "up"},
		{"-n", a, "link", "set", ifc("a6"), "up"},
		{"-n", r, "link", "set", ifc("r0"), "up"},
		{"-n", r, "link", "set", ifc("r1"), "up"},
		{"-n", b, "link", "set", ifc("b0"), "up"},
		{"-n", b, "link", "set", ifc("b6"), "up"},
		{"-n", a, "route", "add", "default", "via", "10.201.1.2"},
		{"-n", b, "route", "add", "default", "via", "10.201.2.1"},
	} {
		l.run("ip", c...)
	}
	l.run("ip", "netns", "exec", a, "sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1")
	l.run("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return l
}

// run runs a command to completion.
func (l *lab) run(name string, args ...string) {
	l.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// proc is a command started by lab.start.
type proc struct {
	what string
	cmd  *exec.Cmd
	log  brokertest.Buffer // the output that is not scanned
	done chan struct{}     // closed when the command ended; err is then set
	err  error
}

// start starts a command in namespace ns and waits until a line of its
// output (stdout, or stderr when fromStderr) contains ready. The command
// is killed at the end of the test if it is still running.
func (l *lab) start(ns, ready string, fromStderr bool, args ...string) *proc {
	l.t.Helper()
	p := &proc{what: program(args), cmd: exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...), done: make(chan struct{})}
	pr, pw := io.Pipe()
	if fromStderr {
		p.cmd.Stderr, p.cmd.Stdout = pw, &p.log
	} else {
		p.cmd.Stdout, p.cmd.Stderr = pw, &p.log
	}
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("%s: %v", p.what, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	l.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		ok := false
		for sc.Scan() {
			p.log.Write(append(sc.Bytes(), '\n'))
			if !ok && strings.Contains(sc.Text(), ready) {
				ok = true
				found <- true
			}
		}
		if !ok {
			found <- false
		}
	}()
	select {
	case ok := <-found:
		if !ok {
			l.t.Fatalf("%s ended without saying %q: %s", p.what, ready, p.log.String())
		}
	case <-time.After(20 * time.Second):
		l.t.Fatalf("%s did not say %q within 20 s: %s", p.what, ready, p.log.String())
	}
	return p
}

// program names the program that args run (after env and its variables).
func program(args []string) string {
	for _, a := range args {
		if a != "env" && !strings.Contains(a, "=") {
			return a
		}
	}
	return args[0]
}

// wait waits for p to end by itself, successfully.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not end within 30 s: %s", p.what, p.log.String())
	}
	if p.err != nil {
		t.Fatalf("%s failed: %v: %s", p.what, p.err, p.log.String())
	}
}

// receiver is B's side: it takes nudp UDP datagrams then, when tcp, one
// TCP connection, and writes what it received into its directory.
const receiver = `
import os, socket, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host = "::" if sys.argv[1] == "6" else "0.0.0.0"
nudp, tcp, out = int(sys.argv[2]), sys.argv[3] == "tcp", sys.argv[4]
u = socket.socket(fam, socket.SOCK_DGRAM)
u.bind((host, int(os.environ["UDP_PORT"])))
u.settimeout(20)
t = socket.socket(fam, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((host, int(os.environ["TCP_PORT"])))
t.listen(1)
t.settimeout(20)
print("ready", flush=True)
for i in range(nudp):
    open(os.path.join(out, "udp-%d" % i), "wb").write(u.recv(65536))
if tcp:
    c, _ = t.accept()
    c.settimeout(20)
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    open(os.path.join(out, "tcp"), "wb").write(data)
    c.close()
`

// sender is A's side: it sends the UDP datagrams in the files named, then
// the TCP file's bytes over one connection.
const sender = `
import os, socket, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
dst = sys.argv[2]
u = socket.socket(fam, socket.SOCK_DGRAM)
for name in sys.argv[3:]:
    data = open(name, "rb").read()
    if os.path.basename(name) == "tcp":
        s = socket.create_connection((dst, int(os.environ["TCP_PORT"])), timeout=20)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        s.close()
    else:
        u.sendto(data, (dst, int(os.environ["UDP_PORT"])))
`

// exchange captures on B's interface while A sends the UDP datagrams and
// the TCP data (nil: none) to B, checks that B received them, and returns
// the capture file.
func (l *lab) exchange(v6 bool, udp [][]byte, tcp []byte) string {
	t := l.t
	dir := t.TempDir()
	pcap := filepath.Join(dir, "fragments.pcap")
	iface, dst, fam := l.prefix+"b0", labB4, "4"
	if v6 {
		iface, dst, fam = l.prefix+"b6", labB6, "6"
	}
	dump := l.start(l.ns("b"), "listening on", true,
		"tcpdump", "-Z", "root", "-i", iface, "--immediate-mode", "-U", "-s", "2048", "-B", "16384", "-w", pcap, "ip or ip6")
	recvDir, sendDir := filepath.Join(dir, "received"), filepath.Join(dir, "sent")
	for _, d := range []string{recvDir, sendDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mode := "none"
	if tcp != nil {
		mode = "tcp"
	}
	ports := []string{"env", fmt.Sprintf("TCP_PORT=%d", tcpPort), fmt.Sprintf("UDP_PORT=%d", udpPort), "python3", "-c"}
	recv := l.start(l.ns("b"), "ready", false, append(ports, receiver, fam, fmt.Sprint(len(udp)), mode, recvDir)...)
	var files []string
	for i, p := range udp {
		files = append(files, writeFile(t, filepath.Join(sendDir, fmt.Sprintf("udp-%d", i)), p))
	}
	if tcp != nil {
		files = append(files, writeFile(t, filepath.Join(sendDir, "tcp"), tcp))
	}
	l.run("ip", append([]string{"netns", "exec", l.ns("a")}, append(ports, append([]string{sender, fam, dst}, files...)...)...)...)
	recv.wait(t)
	for i, p := range udp {
		checkReceived(t, filepath.Join(recvDir, fmt.Sprintf("udp-%d", i)), p)
	}
	if tcp != nil {
		checkReceived(t, filepath.Join(recvDir, "tcp"), tcp)
	}
	time.Sleep(100 * time.Millisecond) // the last frames reach the capture
	if err := dump.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("stopping tcpdump: %v", err)
	}
	dump.wait(t)
	if m := dropped.FindStringSubmatch(dump.log.String()); m == nil || m[1] != "0" {
		t.Fatalf("tcpdump lost frames, the capture is not the traffic: %s", dump.log.String())
	}
	return pcap
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// checkReceived checks that B received what A sent.
func checkReceived(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("B did not receive %s: %v", filepath.Base(name), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("B received %d bytes in %s, A sent %d different ones", len(got), filepath.Base(name), len(want))
	}
}
