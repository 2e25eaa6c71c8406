package tui

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/pcaps"
)

// viewKeys returns the keys of the packet list screen (scopeMain and the
// list pane), taken from the key table so that a key added later is
// exercised too, without the ones that quit.
func viewKeys(a *App) []key {
	var out []key
	for _, b := range a.keys {
		if b.Scope != scopeMain && b.Scope != scopeList {
			continue
		}
		for _, kk := range b.Keys {
			if kk == r('q') || kk == k(tcell.KeyCtrlC) {
				continue
			}
			out = append(out, kk)
		}
	}
	return out
}

// pressEverything presses every key of the packet list screen in turn at
// the screen's current size, then runs every command without an argument,
// going back to the packet list after each, and checks that the UI is still
// running and drawing its status line.
func (u *ui) pressEverything(status string) {
	u.t.Helper()
	for _, kk := range viewKeys(u.app) {
		u.screen.InjectKey(kk.Key, kk.Rune, tcell.ModNone)
		// A key may open a view, a bar or wait for a letter (marks):
		// Esc leaves each of them.
		u.key(tcell.KeyEscape)
		u.key(tcell.KeyEscape)
	}
	// The keys are handled before the commands run (both reach the UI
	// goroutine, through different queues).
	u.settle()
	// And every command that opens something without an argument (:info,
	// :marked, :conversations…), but those that quit or write files.
	for _, c := range u.app.commands {
		name := c.Names[0]
		if c.Args != "" || name == "quit" || name == "save-config" {
			continue
		}
		u.do(func() { u.app.runCommand(name) })
		u.key(tcell.KeyEscape)
		u.key(tcell.KeyEscape)
	}
	u.settle()
	select {
	case err := <-u.done:
		u.t.Fatalf("Run ended after the keys: %v", err)
	default:
	}
	u.do(func() {
		if u.app.page != pageMain {
			u.app.closeView()
		}
		if u.app.searching() {
			u.app.closeSearchBar()
		}
		if u.app.typing() {
			u.app.focusPane(0)
		}
	})
	_, _, h := u.contents()
	if h >= 3 {
		u.waitText(status)
	}
}

// TestEveryViewAtEverySize opens every view the packet list screen's keys
// reach on an empty capture and on a 1,000,000-packet capture, at 80x24,
// 120x40 and 250x80: nothing panics, the status line stays, and the views
// show what there is (or say there is nothing).
func TestEveryViewAtEverySize(t *testing.T) {
	sizes := [][2]int{{80, 24}, {120, 40}, {250, 80}}
	t.Run("empty", func(t *testing.T) {
		path := emptyCapture(t)
		c := load(t, path, "")
		u := start(t, c, 80, 24, Options{})
		u.waitText("0 packets")
		for _, size := range sizes {
			u.resize(size[0], size[1])
			u.pressEverything("0 packets")
		}
		// The views say that there is nothing rather than draw nothing.
		for _, k := range []string{"S", "T", "!"} {
			u.typeText(k)
			u.waitFor("an empty "+k+" view", func(s string) bool { return strings.Contains(s, "no ") })
			u.key(tcell.KeyEscape)
			u.waitText("0 packets")
		}
	})
	t.Run("1M", func(t *testing.T) {
		if testing.Short() {
			t.Skip("indexes a million packets")
		}
		path, err := pcaps.SyntheticFile(os.TempDir(), 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		c := load(t, path, "")
		u := start(t, c, 80, 24, Options{})
		u.waitText("1000000 packets")
		for _, size := range sizes {
			u.resize(size[0], size[1])
			u.pressEverything("1000000 packets")
		}
		// G reaches the last packet, whatever the size.
		u.do(func() { u.app.focusPane(0) })
		u.typeText("G")
		want := lastFrame(t, path)
		u.waitFor("the last frame in the details", func(string) bool {
			got := -1
			u.do(func() {
				if u.app.cur != nil {
					got = u.app.cur.Frame
				}
			})
			return got == want
		})
		u.waitText(" " + strconv.Itoa(want) + " ")
	})
}

// resize gives the simulation screen a new size and waits for the redraw.
func (u *ui) resize(w, h int) {
	u.screen.SetSize(w, h)
	u.screen.PostEvent(tcell.NewEventResize(w, h))
	u.settle()
	_, gotW, gotH := u.contents()
	if gotW != w || gotH != h {
		u.t.Fatalf("screen is %dx%d, want %dx%d", gotW, gotH, w, h)
	}
}

// emptyCapture writes a capture file with no frame at all.
func emptyCapture(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/empty.pcap"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pcaps.Synthesize(f, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// lastFrame is the frame number of the synthetic capture's last MQTT
// packet: Synthesize writes one frame per packet.
func lastFrame(t *testing.T, path string) int {
	t.Helper()
	n := strings.TrimSuffix(path[strings.LastIndex(path, "-")+1:], ".pcap")
	frames, err := strconv.Atoi(n)
	if err != nil {
		t.Fatalf("synthetic capture name %s: %v", path, err)
	}
	return frames
}
