// Marks (m, ', M, :marked): letter marks to jump back to a packet, as in
// termshark and vi, and Wireshark-style marks toggled on packets, which
// the list shows and :marked filters to. Both are on record indices, so
// they survive filtering.

package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gdamore/tcell/v2"
)

// markState holds the user's marks on packets: letter marks ('a'..'z', set
// with m and jumped to with ') and Wireshark-style toggled marks (M). Both
// are on record indices, so they survive filtering.
type markState struct {
	letters map[rune]int // letter -> record index
	toggled map[int]bool // record indices marked with M
	// pending, when set, receives the next key press instead of the key
	// table: the letter after m or '.
	pending func(a *App, ev *tcell.EventKey)
	// shown is the selection :marked gave the list (a.flt.sel, without a
	// display filter), to name it on the status line while it is shown.
	shown []int
}

// reset forgets every mark (another capture was opened).
func (m *markState) reset() {
	clear(m.letters)
	clear(m.toggled)
	m.shown, m.pending = nil, nil
}

// isMarked reports whether record idx carries a Wireshark-style mark (M).
func (a *App) isMarked(idx int) bool {
	return a.marks.toggled[idx]
}

// markedRecords returns the sorted record indices of the M-marked packets.
func (a *App) markedRecords() []int {
	out := make([]int, 0, len(a.marks.toggled))
	for idx := range a.marks.toggled {
		out = append(out, idx)
	}
	sort.Ints(out)
	return out
}

// takePending hands a key press to the pending prefix (the letter after m
// or '), and reports whether there was one.
func (a *App) takePending(ev *tcell.EventKey) bool {
	fn := a.marks.pending
	if fn == nil {
		return false
	}
	a.marks.pending = nil
	fn(a, ev)
	return true
}

// markLetter returns the mark letter a key press types, or an error for
// the status line (Esc: cancelled).
func markLetter(ev *tcell.EventKey, what string) (rune, error) {
	if ev.Key() == tcell.KeyEscape {
		return 0, fmt.Errorf("%s cancelled", what)
	}
	if ev.Key() != tcell.KeyRune || ev.Rune() < 'a' || ev.Rune() > 'z' {
		return 0, fmt.Errorf("%s: a mark is a letter a to z, not %s", what, key{ev.Key(), ev.Rune()})
	}
	return ev.Rune(), nil
}

// beginMark waits for the letter of m: the selected packet gets that mark.
func (a *App) beginMark() {
	if a.curIdx < 0 || a.cur == nil {
		a.setError("mark: no packet selected")
		return
	}
	a.setMessage("mark: type a letter a-z (Esc cancels)")
	idx := a.curIdx
	a.marks.pending = func(a *App, ev *tcell.EventKey) {
		l, err := markLetter(ev, "mark")
		if err != nil {
			a.setError(err.Error())
			return
		}
		if a.marks.letters == nil {
			a.marks.letters = map[rune]int{}
		}
		a.marks.letters[l] = idx
		a.setMessage(fmt.Sprintf("mark %c: %s", l, a.frameName(idx)))
	}
}

// beginJump waits for the letter of ': the list goes to that mark's
// packet, clearing the filter if it hides it.
func (a *App) beginJump() {
	a.setMessage("go to mark: type its letter (Esc cancels)")
	a.marks.pending = func(a *App, ev *tcell.EventKey) {
		l, err := markLetter(ev, "go to mark")
		if err != nil {
			a.setError(err.Error())
			return
		}
		idx, ok := a.marks.letters[l]
		if !ok {
			a.setError(fmt.Sprintf("mark %c is not set (m%c sets it)", l, l))
			return
		}
		_, shown := a.posOf(idx)
		a.jumpToRecord(idx)
		if a.msgErr {
			return
		}
		msg := fmt.Sprintf("mark %c: %s", l, a.frameName(idx))
		if !shown {
			msg += " (display filter cleared to show it)"
		}
		a.setMessage(msg)
	}
}

// frameName returns "frame N" for record idx.
func (a *App) frameName(idx int) string {
	row, err := a.cap.Row(idx)
	if err != nil {
		return fmt.Sprintf("record %d", idx)
	}
	return fmt.Sprintf("frame %d", row.Frame)
}

// toggleMark toggles the Wireshark-style mark of the selected packet (M).
func (a *App) toggleMark() {
	idx := a.curIdx
	if idx < 0 || a.cur == nil {
		a.setError("mark: no packet selected")
		return
	}
	verb := "marked"
	if a.marks.toggled[idx] {
		delete(a.marks.toggled, idx)
		verb = "unmarked"
	} else {
		if a.marks.toggled == nil {
			a.marks.toggled = map[int]bool{}
		}
		a.marks.toggled[idx] = true
	}
	a.content.forget()
	a.setMessage(fmt.Sprintf("%s %s (%d marked; :marked shows them)", verb, a.frameName(idx), len(a.marks.toggled)))
}

// showMarked filters the list to the M-marked packets (:marked); :clear or
// an empty display filter shows every packet again.
func (a *App) showMarked() {
	sel := a.markedRecords()
	if len(sel) == 0 {
		a.setError("no marked packets (M marks the selected one)")
		return
	}
	a.closeView()
	a.stopFilterWork()
	a.flt.expr, a.flt.f, a.flt.sel, a.flt.covered = "", nil, sel, a.cap.Len()
	a.marks.shown = sel
	a.filter.SetText("")
	a.content.forget()
	a.afterSelectionChange()
	a.setMessage(fmt.Sprintf("showing the %d marked packets (:clear shows all)", len(sel)))
}

// filterLabel names what the list shows on the status line: the display
// filter, or the marked packets (:marked).
func (a *App) filterLabel() string {
	if sel, shown := a.flt.sel, a.marks.shown; a.flt.f == nil && len(sel) > 0 && len(shown) > 0 && &sel[0] == &shown[0] {
		return fmt.Sprintf("marked (%d)", len(sel))
	}
	return a.flt.expr
}

// unmarkAll removes every M mark (:unmark-all).
func (a *App) unmarkAll() {
	n := len(a.marks.toggled)
	a.marks.toggled = nil
	a.content.forget()
	a.setMessage(fmt.Sprintf("unmarked %d packets", n))
}

// listMarks shows the letter marks on the status line (:marks).
func (a *App) listMarks() {
	if len(a.marks.letters) == 0 {
		a.setMessage(fmt.Sprintf("no letter marks (m and a letter set one); %d packets marked with M", len(a.marks.toggled)))
		return
	}
	letters := make([]rune, 0, len(a.marks.letters))
	for l := range a.marks.letters {
		letters = append(letters, l)
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	parts := make([]string, len(letters))
	for i, l := range letters {
		parts[i] = fmt.Sprintf("%c: %s", l, a.frameName(a.marks.letters[l]))
	}
	a.setMessage(fmt.Sprintf("marks %s; %d packets marked with M", strings.Join(parts, ", "), len(a.marks.toggled)))
}
