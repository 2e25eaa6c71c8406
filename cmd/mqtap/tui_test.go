package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// tmux drives a real terminal: mqtap tui runs in a detached tmux session,
// the test reads the screen with capture-pane and types with send-keys.
type tmux struct {
	t    *testing.T
	sock string
}

func startTmux(t *testing.T, width, height int, command string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (make deps installs it)")
	}
	tm := &tmux{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	tm.run("new-session", "-d", "-s", "mqtap", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), command+`; echo "EXITED $?"; sleep 60`)
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what a person sees now.
func (tm *tmux) screen() string { return tm.run("capture-pane", "-p", "-t", "mqtap") }

// keys types keys (tmux key names or literal text with -l).
func (tm *tmux) keys(keys ...string) {
	tm.run(append([]string{"send-keys", "-t", "mqtap"}, keys...)...)
}
func (tm *tmux) text(s string) { tm.run("send-keys", "-t", "mqtap", "-l", s) }

// waitFor waits until the screen satisfies ok.
func (tm *tmux) waitFor(what string, ok func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := tm.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %s; it shows:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTuiInTmux opens the lab sample with its keys in a real terminal and
// checks what a person would see: the decrypted plaintext in the packet
// list, a display filter narrowing it, the help screen, and q quitting with
// the terminal restored.
func TestTuiInTmux(t *testing.T) {
	bin := mqtapBinary(t)
	sample, _ := filepath.Abs("../../pcaps/samples/lab-session.pcapng")
	keyDir, _ := filepath.Abs("../../pcaps/samples/keys/lab-session/requester")
	tm := startTmux(t, 160, 45, bin+" tui "+sample+" --keys "+keyDir)
	tm.waitFor("the packet list, read to the end", func(s string) bool {
		return strings.Contains(s, "PUBLISH") && strings.Contains(s, "115 packets") && strings.Contains(s, "done")
	})
	tm.keys("G")
	tm.waitFor("the decrypted plaintext in the list", func(s string) bool {
		return strings.Contains(s, `[cosmo42/shuffle/response] [cosmo42#2] "24csoom"`)
	})

	tm.keys("/")
	tm.text(`mqtt.topic contains "reverse"`)
	tm.keys("Enter")
	s := tm.waitFor("the filtered list", func(s string) bool {
		return strings.Contains(s, "reverse/request") && !strings.Contains(s, "shuffle/")
	})
	if strings.Contains(s, "CONNECT ") {
		t.Errorf("the filter left CONNECT packets in the list:\n%s", s)
	}

	// (A key typed right after Escape would reach the terminal as Alt+key.)
	tm.keys("?")
	tm.waitFor("the help screen", func(s string) bool {
		return strings.Contains(s, "edit the display filter") && strings.Contains(s, "quit")
	})
	tm.keys("Escape")
	time.Sleep(300 * time.Millisecond)
	tm.keys("q")
	s = tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED ") })
	if !strings.Contains(s, "EXITED 0") {
		t.Errorf("mqtap tui did not exit 0:\n%s", s)
	}
	if strings.Contains(s, "PUBLISH") {
		t.Errorf("the terminal was not restored after q:\n%s", s)
	}
}

// TestTuiErrorsBeforeStart: a source that cannot be opened is a one-line
// error before the UI starts, never a garbled screen.
func TestTuiErrorsBeforeStart(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tui"}, 2, "tui needs a source"},
		{[]string{"tui", "/nonexistent.pcap"}, 1, "/nonexistent.pcap"},
		{[]string{"tui", "../../pcaps/samples/mqtt5.pcapng", "-Y", "mqtt.topic =="}, 2, "-Y"},
		{[]string{"tui", "../../pcaps/samples/mqtt5.pcapng", "--keys", "/nonexistent-keys"}, 1, "/nonexistent-keys"},
		{[]string{"tui", "-i", "nope0"}, 1, `no interface "nope0"`},
		{[]string{"tui", "a.pcap", "b.pcap"}, 2, "one capture file"},
	}
	for _, c := range cases {
		code, stdout, stderr := mqtap(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and %q", c.args, code, stderr, stdout, c.code, c.msg)
		}
	}
}

// TestTuiBrokerTapInTmux: mqtap tui mqtt://HOST:PORT shows messages
// published while it runs, and the status line says it is connected.
func TestTuiBrokerTapInTmux(t *testing.T) {
	bin := mqtapBinary(t)
	b := brokertest.StartBroker(t)
	tm := startTmux(t, 140, 40, bin+" tui mqtt://"+b.Addr())
	tm.waitFor("the subscription", func(s string) bool { return strings.Contains(s, "SUBACK") })
	for i := 0; i < 3; i++ {
		out, err := exec.Command("mosquitto_pub", "-h", b.Host, "-p", strconv.Itoa(b.Port), "-t", "tui/live/"+strconv.Itoa(i), "-m", "hello tui").CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	tm.waitFor("the published messages in the list", func(s string) bool {
		return strings.Contains(s, "[tui/live/0]") && strings.Contains(s, "[tui/live/2]")
	})
	tm.keys("q")
	s := tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED ") })
	if !strings.Contains(s, "EXITED 0") {
		t.Errorf("mqtap tui did not exit 0:\n%s", s)
	}
}

// TestTuiLiveInTmux: mqtap tui -i lo grows the list while traffic flows,
// following the tail.
func TestTuiLiveInTmux(t *testing.T) {
	needRoot(t)
	bin := mqtapBinary(t)
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	tm := startTmux(t, 140, 40, bin+" tui -i lo -f "+port)
	tm.waitFor("the live status", func(s string) bool { return strings.Contains(s, "live") })
	for i := range 30 {
		sendConnect(t, addr, "tui-live-"+strconv.Itoa(i))
	}
	tm.waitFor("30 packets, the last one selected", func(s string) bool {
		return strings.Contains(s, "30 packets") && strings.Contains(s, "Client ID: tui-live-29")
	})
	tm.keys("q")
	s := tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED ") })
	if !strings.Contains(s, "EXITED 0") {
		t.Errorf("mqtap tui did not exit 0:\n%s", s)
	}
}
