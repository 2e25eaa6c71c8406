package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTuiSearchAndMarksInTmux drives ctrl-f, n, m/', M and :marked in a
// real terminal on the lab sample: the search names the frame it found on
// the status line, and :marked leaves only the marked rows in the list.
func TestTuiSearchAndMarksInTmux(t *testing.T) {
	bin := mqtapBinary(t)
	sample, _ := filepath.Abs("../../pcaps/samples/lab-session.pcapng")
	keyDir, _ := filepath.Abs("../../pcaps/samples/keys/lab-session/requester")
	tm := startTmux(t, 160, 45, "sleep 0.5; "+bin+" tui "+sample+" --keys "+keyDir)
	tm.waitFor("the packet list, read to the end", func(s string) bool {
		return strings.Contains(s, "115 packets") && strings.Contains(s, "done")
	})

	// ctrl-f, a string only the decrypted plaintext holds, Enter.
	tm.keys("C-f")
	tm.waitFor("the search bar", func(s string) bool { return strings.Contains(s, "Search string (Tab: kind):") })
	tm.text("24csoom")
	tm.keys("Enter")
	tm.waitFor("the frame found on the status line", func(s string) bool {
		return strings.Contains(s, `found "24csoom" in frame 258`)
	})
	tm.keys("n")
	tm.waitFor("the next match", func(s string) bool { return strings.Contains(s, `found "24csoom" in frame 267`) })
	tm.keys("n")
	tm.waitFor("the search wrapping round", func(s string) bool {
		return strings.Contains(s, `found "24csoom" in frame 258 (search wrapped around)`)
	})

	// M on frames 258 and 13 (found with a hex search: CONNECT's protocol
	// name, from the start), a letter mark on 258, then :marked.
	tm.keys("M")
	tm.waitFor("the mark", func(s string) bool { return strings.Contains(s, "marked frame 258 (1 marked") })
	tm.keys("m", "a")
	tm.waitFor("the letter mark", func(s string) bool { return strings.Contains(s, "mark a: frame 258") })
	tm.keys("g")
	tm.keys("C-f")
	tm.waitFor("the search bar", func(s string) bool { return strings.Contains(s, "Search string (Tab: kind):") })
	tm.keys("Tab")
	tm.waitFor("the hex kind", func(s string) bool { return strings.Contains(s, "Search hex (Tab: kind):") })
	tm.keys("C-u")
	tm.text("00:04:4d:51:54:54")
	tm.keys("Enter")
	tm.waitFor("the next CONNECT", func(s string) bool {
		return strings.Contains(s, "found bytes 00:04:4d:51:54:54 in frame 13")
	})
	tm.keys("M")
	tm.waitFor("the second mark", func(s string) bool { return strings.Contains(s, "marked frame 13 (2 marked") })
	tm.keys(":")
	tm.text("marked")
	tm.keys("Enter")
	s := tm.waitFor("only the marked rows", func(s string) bool {
		return strings.Contains(s, "2/115 packets") && strings.Contains(s, "filter: marked (2)")
	})
	frames := regexp.MustCompile(`(?m)^\S*\s+(\d+)\s+\d+\.\d+\s+127\.0\.0\.1`).FindAllStringSubmatch(s, -1)
	var got []string
	for _, m := range frames {
		got = append(got, m[1])
	}
	if strings.Join(got, " ") != "13 258" {
		t.Errorf(":marked lists frames %v:\n%s", got, s)
	}
	// ' a goes to the letter mark; :clear shows every packet again.
	tm.keys("'", "a")
	tm.waitFor("the jump to mark a", func(s string) bool { return strings.Contains(s, "mark a: frame 258") })
	tm.keys(":")
	tm.text("clear")
	tm.keys("Enter")
	tm.waitFor("every packet again", func(s string) bool {
		return strings.Contains(s, "115 packets") && !strings.Contains(s, "marked (2)")
	})
	time.Sleep(100 * time.Millisecond)
	tm.keys("q")
	tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED 0") })
}
