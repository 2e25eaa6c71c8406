package tui

import (
	"testing"

	"github.com/gdamore/tcell/v2"
)

// TestMovingInEmptyViews opens each view on a capture without packets and
// moves in it: the UI goroutine keeps answering (a table whose selection is
// past its rows once made tview look for a selectable cell forever).
func TestMovingInEmptyViews(t *testing.T) {
	c := load(t, emptyCapture(t), "")
	u := start(t, c, 80, 24, Options{})
	u.waitText("0 packets")
	for _, view := range []string{"S", "T", "!", "c", "C", "s", "p"} {
		u.typeText(view)
		u.settle()
		for _, k := range []tcell.Key{tcell.KeyDown, tcell.KeyUp, tcell.KeyEnd, tcell.KeyHome, tcell.KeyPgDn, tcell.KeyPgUp} {
			u.key(k)
		}
		u.typeText("jkGg")
		u.do(func() {}) // the UI goroutine answers
		u.key(tcell.KeyEscape)
		u.waitText("0 packets")
	}
}
