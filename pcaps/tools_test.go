package pcaps

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lab is a private pair of network namespaces joined by a veth pair, with
// mosquitto listening in the first one on the veth and on loopback: real
// traffic for real capture tools, without touching the host's network.
type lab struct {
	t    *testing.T
	dir  string
	a, b string // namespaces: the broker's and the client's
}

// Addresses of the lab's veth pair.
const (
	brokerIP = "10.77.0.1"
	clientIP = "10.77.0.2"
)

// labs counts the labs of this process: each has its own namespaces.
var labs atomic.Int64

// newLab sets up a lab; it fails the test when it cannot (the tests need
// root and scripts/install-deps.sh's tools).
func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the capture tests need root (network namespaces, capture rights)")
	}
	for _, tool := range []string{"ip", "mosquitto", "mosquitto_pub", "dumpcap", "tcpdump", "tshark", "editcap", "mergecap", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run scripts/install-deps.sh", tool)
		}
	}
	n := labs.Add(1)
	l := &lab{t: t, dir: t.TempDir(), a: fmt.Sprintf("mqtap-pcaps-%d-%d-a", os.Getpid(), n), b: fmt.Sprintf("mqtap-pcaps-%d-%d-b", os.Getpid(), n)}
	for _, ns := range []string{l.a, l.b} {
		l.run("ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	l.run("ip", "link", "add", "vA", "netns", l.a, "type", "veth", "peer", "name", "vB", "netns", l.b)
	l.run("ip", "-n", l.a, "addr", "add", brokerIP+"/24", "dev", "vA")
	l.run("ip", "-n", l.b, "addr", "add", clientIP+"/24", "dev", "vB")
	for _, c := range [][]string{{l.a, "vA"}, {l.b, "vB"}, {l.a, "lo"}, {l.b, "lo"}} {
		l.run("ip", "-n", c[0], "link", "set", c[1], "up")
	}
	conf := filepath.Join(l.dir, "mosquitto.conf")
	os.WriteFile(conf, []byte("listener 1883 "+brokerIP+"\nlistener 1883 127.0.0.1\nallow_anonymous true\n"), 0o644)
	l.start(l.a, "", "mosquitto", "-c", conf)
	for i := 0; ; i++ {
		err := exec.Command("ip", "netns", "exec", l.b, "mosquitto_pub", "-h", brokerIP, "-t", "ready", "-m", "?").Run()
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("mosquitto does not answer in the lab: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return l
}

// run runs a command to its end and fails the test when it fails.
func (l *lab) run(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// syncBuffer is a buffer written by a command and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a command running in the lab.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// start starts a command in namespace ns and, when ready is not empty,
// waits until its standard error says ready. The command is stopped at
// the end of the test.
func (l *lab) start(ns, ready string, args ...string) *proc {
	l.t.Helper()
	p := l.command(ns, args...)
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("%s: %v", args[0], err)
	}
	l.t.Cleanup(func() { p.stop() })
	for i := 0; ready != "" && !strings.Contains(p.stderr.String(), ready); i++ {
		if i == 300 {
			l.t.Fatalf("%s did not start: %s", args[0], p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// command prepares a command in namespace ns.
func (l *lab) command(ns string, args ...string) *proc {
	p := &proc{cmd: exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...), stderr: &syncBuffer{}}
	p.cmd.Stderr = p.stderr
	return p
}

// stop interrupts the command (capture tools then write what they hold)
// and waits for it.
func (p *proc) stop() {
	if p.cmd.ProcessState != nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
}

// running reports whether the command has not exited.
func (p *proc) running() bool {
	return p.cmd.Process.Signal(syscall.Signal(0)) == nil
}

// traffic publishes MQTT messages over the veth and over loopback.
func (l *lab) traffic(n int) {
	l.t.Helper()
	for i := range n {
		l.run("ip", "netns", "exec", l.b, "mosquitto_pub", "-h", brokerIP, "-q", "1", "-t", "pcaps/veth", "-m", fmt.Sprint("veth message ", i))
		l.run("ip", "netns", "exec", l.a, "mosquitto_pub", "-h", "127.0.0.1", "-q", "1", "-t", "pcaps/lo", "-m", fmt.Sprint("loopback message ", i))
	}
}

// path is a file of the lab's directory.
func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

// captureFiles captures the lab's traffic with dumpcap and tcpdump at once,
// and derives files from the captures with mergecap, editcap and cat. It
// returns the key log injected into secrets.pcapng and the parts of
// cat.pcapng.
func (l *lab) captureFiles() (keylog string, parts []string) {
	l.t.Helper()
	caps := []*proc{
		l.start(l.a, "Capturing on", "dumpcap", "-i", "vA", "-i", "lo", "-i", "any", "-y", "LINUX_SLL2", "-w", l.path("multi.pcapng")),
		l.start(l.a, "Capturing on", "dumpcap", "-i", "vA", "-w", l.path("a.pcapng")),
		l.start(l.a, "Capturing on", "dumpcap", "-i", "lo", "-w", l.path("b.pcapng")),
		l.start(l.a, "listening on", "tcpdump", "-i", "any", "-y", "LINUX_SLL2", "-w", l.path("sll2.pcap")),
		l.start(l.a, "listening on", "tcpdump", "-i", "vA", "-w", l.path("eth.pcap")),
	}
	l.traffic(3)
	time.Sleep(500 * time.Millisecond) // let the tools read their last packets before the interrupt
	for _, c := range caps {
		c.stop()
	}
	l.run("mergecap", "-F", "pcapng", "-w", l.path("merged.pcapng"), l.path("sll2.pcap"), l.path("eth.pcap"))
	l.run("editcap", "-F", "nsecpcap", l.path("eth.pcap"), l.path("nsec.pcap"))
	keylog = "CLIENT_RANDOM " + strings.Repeat("ab", 32) + " " + strings.Repeat("cd", 48) + "\n"
	os.WriteFile(l.path("keylog"), []byte(keylog), 0o644)
	l.run("editcap", "--inject-secrets", "tls,"+l.path("keylog"), l.path("multi.pcapng"), l.path("secrets.pcapng"))
	parts = []string{l.path("a.pcapng"), l.path("b.pcapng"), l.path("merged.pcapng")}
	var cat []byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			l.t.Fatal(err)
		}
		cat = append(cat, b...)
	}
	os.WriteFile(l.path("cat.pcapng"), cat, 0o644)
	return keylog, parts
}

// TestCaptureTools: captures written by dumpcap (three interfaces of two
// link types), mergecap (an SLL2 and an Ethernet capture), cat (three
// sections), editcap (nanosecond pcap, injected secrets) and gzip read
// frame for frame as tshark reads them.
func TestCaptureTools(t *testing.T) {
	l := newLab(t)
	keylog, parts := l.captureFiles()
	files := []string{"multi.pcapng", "merged.pcapng", "sll2.pcap", "eth.pcap", "nsec.pcap", "secrets.pcapng", "a.pcapng", "b.pcapng", "cat.pcapng"}
	var paths []string
	for _, f := range files {
		paths = append(paths, l.path(f))
	}
	tshark := tsharkAll(t, paths...)
	var perPart []string
	for _, p := range parts {
		perPart = append(perPart, tshark[p]...)
	}

	for _, name := range files[:7] {
		got := readPath(t, l.path(name))
		if got.err != nil || len(got.warnings) != 0 || len(got.lines) < 10 {
			t.Fatalf("%s: %d frames, %v, warnings %q", name, len(got.lines), got.err, got.warnings)
		}
		sameLines(t, name, got.lines, tshark[l.path(name)])
	}
	checkLinkTypes(t, l.path("multi.pcapng"), "vA", 1, "lo", 1, "any", 276)
	checkLinkTypes(t, l.path("merged.pcapng"), "", 276, "", 1)

	// Three sections: IDs restart in each section as in tshark; the names
	// are those of each part, which tshark 4.0 gets wrong on the whole file.
	got := readPath(t, l.path("cat.pcapng"))
	if got.err != nil || len(got.warnings) != 0 {
		t.Fatalf("cat: %v, warnings %q", got.err, got.warnings)
	}
	sameLines(t, "cat vs tshark on each part", got.lines, renumber(perPart))
	first := len(tshark[parts[0]])
	blank := func(lines []string) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			f := strings.Split(l, "\t")
			if i >= first {
				f[2] = ""
			}
			out[i] = strings.Join(f, "\t")
		}
		return out
	}
	sameLines(t, "cat vs tshark without names", blank(got.lines), blank(tshark[l.path("cat.pcapng")]))

	// Secrets come before the first frame, and ReadSecrets finds them.
	// (editcap writes the block right after the section header.)
	sec := readPath(t, l.path("secrets.pcapng"))
	if len(sec.secrets) != 1 || string(sec.secrets[0].Data) != keylog || !slices.Equal(sec.log[:5], []string{fmt.Sprintf("secret %q", keylog), "interface 0/0 vA 1", "interface 0/1 lo 1", "interface 0/2 any 276", "frame 1"}) {
		t.Errorf("secrets %+v, log %q", sec.secrets, sec.log[:min(5, len(sec.log))])
	}
	if s, err := ReadSecrets(l.path("secrets.pcapng")); err != nil || len(s) != 1 || string(s[0].Data) != keylog {
		t.Errorf("ReadSecrets: %+v, %v", s, err)
	}

	// gzip through a pipe.
	gz := exec.Command("gzip", "-c", l.path("cat.pcapng"))
	out, err := gz.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := gz.Start(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(out, "gzip pipe")
	if err != nil {
		t.Fatal(err)
	}
	piped := readReader(r)
	gz.Wait()
	if !r.Compressed || piped.err != nil {
		t.Fatalf("gzip pipe: compressed %v, %v", r.Compressed, piped.err)
	}
	sameLines(t, "gzip pipe", piped.lines, got.lines)
}

// checkLinkTypes checks the name and link type of each interface of a
// capture (a name of "" is not checked).
func checkLinkTypes(t *testing.T, path string, want ...any) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readReader(r)
	for i := 0; i < len(want); i += 2 {
		f, ok := r.Interface(i / 2)
		if !ok || (want[i] != "" && f.Name != want[i]) || int(f.LinkType) != want[i+1] {
			t.Errorf("%s: interface %d is %+v, want %v with link type %v (%v)", path, i/2, f, want[i], want[i+1], got.err)
		}
	}
}

// TestCaptureStream: frames captured by tcpdump -U -w - (pcap) and by
// dumpcap -w - (pcapng, two interfaces) come out of the pipe while the
// tool still runs, and the whole stream reads as tshark reads it.
func TestCaptureStream(t *testing.T) {
	l := newLab(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"tcpdump", []string{"tcpdump", "-U", "-i", "vA", "-w", "-"}},
		{"dumpcap", []string{"dumpcap", "-q", "-i", "vA", "-i", "any", "-w", "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := l.command(l.a, c.args...)
			out, err := p.cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.stop)
			var stream bytes.Buffer
			r, err := NewReader(io.TeeReader(out, &stream), c.name)
			if err != nil {
				t.Fatalf("%v: %s", err, p.stderr.String())
			}
			// Publish until the reader has a frame: Next must return it
			// while the capture is still going on.
			got := make(chan error, 1)
			go func() {
				_, _, err := r.Next()
				got <- err
			}()
			deadline := time.After(time.Minute)
		wait:
			for {
				select {
				case err := <-got:
					if err != nil {
						t.Fatal(err)
					}
					break wait
				case <-deadline:
					t.Fatalf("no frame from %s after a minute: %s", c.name, p.stderr.String())
				default:
					l.traffic(1)
				}
			}
			if !p.running() {
				t.Fatalf("%s stopped before the first frame was read", c.name)
			}
			l.traffic(2)
			time.Sleep(300 * time.Millisecond) // let the tool read its last packets before the interrupt
			p.cmd.Process.Signal(os.Interrupt)
			rest := readReader(r) // to the end of the pipe, before Wait closes it
			p.stop()
			if rest.err != nil || len(rest.warnings) != 0 {
				t.Fatalf("%v, warnings %q", rest.err, rest.warnings)
			}
			// What went through the pipe, saved to a file, is what tshark
			// reads; the stream reader read it all.
			path := filepath.Join(l.dir, c.name+".stream")
			os.WriteFile(path, stream.Bytes(), 0o644)
			file := readPath(t, path)
			want := tsharkFrames(t, path)
			sameLines(t, "stream file", file.lines, want)
			if len(want) < 10 || r.Size() != 0 {
				t.Fatalf("%d frames, size %d", len(want), r.Size())
			}
			sameLines(t, "stream after its first frame", rest.lines, renumber(want[1:]))
		})
	}
}
