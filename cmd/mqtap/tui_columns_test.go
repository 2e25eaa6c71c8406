package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMain keeps the tests (and the mqtap tui they start in tmux) away
// from the developer's configuration: XDG_CONFIG_HOME points to an empty
// temporary directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mqtap-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestTuiColumnsInTmux adds a Topic column with :columns in a real
// terminal: the header and the topics show, the column is written to the
// configuration file, and the next mqtap tui shows it again.
func TestTuiColumnsInTmux(t *testing.T) {
	bin := mqtapBinary(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	config := filepath.Join(home, "mqtap", "config.toml")
	sample, _ := filepath.Abs("../../pcaps/samples/lab-session.pcapng")
	run := bin + " tui " + sample
	tm := startTmux(t, 200, 45, run+"; "+run)
	tm.waitFor("the packet list", func(s string) bool {
		return strings.Contains(s, "115 packets") && strings.Contains(s, "done")
	})
	tm.text(":columns add mqtt.topic Topic")
	tm.keys("Enter")
	header := regexp.MustCompile(`Length +Topic +Info`)
	// Frame 8 subscribes: its topic filter is the Topic column's value.
	row := regexp.MustCompile(`\b8 +0\.000551 .* SUBSCRIBE +91 +le0nh4rt/\+/request +Subscribe Request`)
	s := tm.waitFor("the Topic column", func(s string) bool {
		return header.MatchString(s) && row.MatchString(s)
	})
	if !strings.Contains(s, "added column 7 Topic=mqtt.topic; saved to "+config) {
		t.Errorf("the status line does not say where the column was saved:\n%s", s)
	}
	b, err := os.ReadFile(config)
	if err != nil || !strings.Contains(string(b), `field = "mqtt.topic"`) {
		t.Fatalf("config file: %v\n%s", err, b)
	}
	// The next start reads the column back.
	tm.keys("q")
	tm.waitFor("the second mqtap tui with the Topic column", func(s string) bool {
		return header.MatchString(s) && row.MatchString(s) && !strings.Contains(s, "added column")
	})
	tm.keys("q")
	tm.waitFor("mqtap to exit", func(s string) bool { return strings.Contains(s, "EXITED 0") })
}
