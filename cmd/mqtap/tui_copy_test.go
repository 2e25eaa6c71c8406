package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTuiCopyAndTimeInTmux drives y, Y and t in a real terminal. The pane's
// raw output is piped to a file (tmux pipe-pane -O), where the OSC 52
// sequence that carries the copied text must appear; tmux itself, with
// set-clipboard on, keeps what was copied in its paste buffer.
func TestTuiCopyAndTimeInTmux(t *testing.T) {
	bin := mqtapBinary(t)
	sample, _ := filepath.Abs("../../pcaps/samples/lab-session.pcapng")
	keyDir, _ := filepath.Abs("../../pcaps/samples/keys/lab-session/requester")
	tm := startTmux(t, 160, 45, "sleep 0.5; "+bin+" tui "+sample+" --keys "+keyDir)
	raw := filepath.Join(t.TempDir(), "pane.out")
	tm.run("set-option", "-g", "set-clipboard", "on")
	tm.run("pipe-pane", "-O", "-t", "mqtap", "cat >> "+raw)
	tm.waitFor("the packet list, read to the end", func(s string) bool {
		return strings.Contains(s, "115 packets") && strings.Contains(s, "done")
	})

	// t cycles the Time column: relative (as mqtap read prints it),
	// absolute (a time of day), delta.
	tm.waitFor("relative times", func(s string) bool { return strings.Contains(s, " 0.000317 ") })
	tm.keys("t")
	tm.waitFor("absolute times", func(s string) bool {
		return strings.Contains(s, "Time: absolute") && regexp.MustCompile(`\d\d:\d\d:\d\d\.\d{6}`).MatchString(s)
	})
	tm.keys("t")
	tm.waitFor("delta times", func(s string) bool {
		// CONNACK came 46 µs after the CONNECT.
		return strings.Contains(s, "Time: delta") && strings.Contains(s, " 0.000046 ")
	})
	tm.keys("t")
	tm.waitFor("relative times again", func(s string) bool { return strings.Contains(s, "Time: relative") })

	// y on the details pane's first line copies its value.
	tm.keys("Enter")
	s := tm.waitFor("the details pane focused", func(s string) bool { return strings.Contains(s, "▸ Frame 4:") })
	tm.keys("y")
	s = tm.waitFor("the copy on the status line", func(s string) bool { return strings.Contains(s, "copied the value") })
	m := regexp.MustCompile(`copied the value \((\d+) bytes\): ([^│]*)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("status line:\n%s", s)
	}
	value := strings.TrimSpace(m[2])
	wantOSC := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(value))
	waitFile(t, raw, wantOSC)
	if buf := strings.TrimSpace(tm.run("show-buffer")); buf != value {
		t.Errorf("tmux paste buffer %q, want %q", buf, value)
	}

	// Y copies the whole packet as text.
	tm.keys("Y")
	tm.waitFor("the packet copied", func(s string) bool { return strings.Contains(s, "copied frame 4 ") })
	buf := tm.run("show-buffer")
	if !strings.HasPrefix(buf, "    4 ") || !strings.Contains(buf, "MQ Telemetry Transport Protocol") {
		t.Errorf("tmux paste buffer after Y:\n%s", buf)
	}
}

// waitFile waits until the file at path contains want.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %q; it holds %d bytes", path, want, len(b))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
