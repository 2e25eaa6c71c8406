package tui

import (
	"slices"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// gotoFrame selects a frame with :goto.
func (u *ui) gotoFrame(frame string) {
	u.t.Helper()
	u.typeText(":goto " + frame)
	u.key(tcell.KeyEnter)
}

func TestLetterMarks(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.gotoFrame("47")
	u.waitSelected(47)
	u.typeText("ma")
	u.waitText("mark a: frame 47")
	u.gotoFrame("258")
	u.waitSelected(258)
	u.typeText("mb")
	u.waitText("mark b: frame 258")

	u.typeText("'a")
	u.waitText("mark a: frame 47")
	u.waitSelected(47)
	u.typeText("'b")
	u.waitText("mark b: frame 258")
	u.waitSelected(258)

	// Unknown letters, a key that is no letter, Esc.
	u.typeText("'c")
	u.waitText("mark c is not set")
	u.waitSelected(258)
	u.typeText("m1")
	u.waitText("mark: a mark is a letter a to z, not 1")
	u.typeText("m")
	u.waitText("mark: type a letter")
	u.key(tcell.KeyEscape)
	u.waitText("mark cancelled")
	// The key after the prefix is taken: q is a mark letter, not quit.
	u.typeText("'q")
	u.waitText("mark q is not set (mq sets it)")
	u.typeText(":marks")
	u.key(tcell.KeyEnter)
	u.waitText("marks a: frame 47, b: frame 258")

	// A mark the filter hides: ' clears the filter.
	u.typeText("/")
	u.typeText("mqtt.msgtype == 4")
	u.key(tcell.KeyEnter)
	u.waitText("filter: mqtt.msgtype == 4")
	u.typeText("'a")
	u.waitText("mark a: frame 47 (display filter cleared to show it)")
	u.waitSelected(47)
	u.waitGone("filter: mqtt.msgtype")
}

func TestToggledMarks(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	for _, f := range []string{"13", "47", "258"} {
		u.gotoFrame(f)
		u.waitSelected(frameOf(" " + f))
		u.typeText("M")
		u.waitText("marked frame " + f)
	}
	u.waitText("(3 marked;")
	// M again unmarks.
	u.typeText("M")
	u.waitText("unmarked frame 258 (2 marked;")
	u.typeText("M")
	u.waitText("marked frame 258 (3 marked;")
	var idx []int
	u.do(func() { idx = u.app.markedRecords() })
	if len(idx) != 3 {
		t.Fatalf("markedRecords %v", idx)
	}
	for _, i := range idx {
		var marked bool
		u.do(func() { marked = u.app.isMarked(i) })
		if !marked {
			t.Errorf("record %d is not marked", i)
		}
	}

	// :marked shows exactly those, as a filter; marks survive filters.
	u.typeText(":marked")
	u.key(tcell.KeyEnter)
	u.waitText("3/115 packets")
	u.waitText("filter: marked (3)")
	u.settle()
	if got := u.listedFrames(); !slices.Equal(got, []int{13, 47, 258}) {
		t.Errorf(":marked lists frames %v", got)
	}
	u.typeText(":clear")
	u.key(tcell.KeyEnter)
	u.waitText("115 packets")
	u.waitGone("marked (3)")
	u.typeText("/")
	u.typeText("mqtt.msgtype == 3")
	u.key(tcell.KeyEnter)
	u.waitText("filter: mqtt.msgtype == 3")
	u.typeText(":marked")
	u.key(tcell.KeyEnter)
	u.waitText("filter: marked (3)")
	// Esc in the filter bar keeps it (and leaves the bar empty); an empty
	// display filter leaves it.
	u.typeText("/")
	u.key(tcell.KeyEscape)
	u.settle()
	u.waitText("filter: marked (3)")
	var barText string
	u.do(func() { barText = u.app.filter.GetText() })
	if barText != "" {
		t.Errorf("the filter bar shows %q with the marked packets", barText)
	}
	u.typeText("/")
	u.key(tcell.KeyEnter)
	u.waitGone("filter: marked")
	u.waitText("115 packets")

	u.typeText(":unmark-all")
	u.key(tcell.KeyEnter)
	u.waitText("unmarked 3 packets")
	u.typeText(":marked")
	u.key(tcell.KeyEnter)
	u.waitText("no marked packets")
}

// TestSearchAndMarksEmpty: with no packets, searching and marking say so
// on the status line.
func TestSearchAndMarksEmpty(t *testing.T) {
	c := newCapture(t, "empty.pcap", "")
	c.Finish(nil)
	u := start(t, c, 100, 24, Options{})
	u.waitText("0 packets")
	u.search("string", "x")
	u.waitText(`not found: "x" (no packets shown)`)
	u.typeText("n")
	u.waitText(`not found: "x"`)
	u.typeText("M")
	u.waitText("mark: no packet selected")
	u.typeText("ma")
	u.waitText("mark: no packet selected")
	u.typeText("'a")
	u.waitText("mark a is not set")
	u.typeText(":marked")
	u.key(tcell.KeyEnter)
	u.waitText("no marked packets")
}
