// The status line: what the capture and the list are showing, and the
// latest message or error.

package tui

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// setMessage shows an informational message on the status line.
func (a *App) setMessage(msg string) {
	a.msg, a.msgErr = msg, false
}

// setError shows an error on the status line.
func (a *App) setError(msg string) {
	a.msg, a.msgErr = msg, true
}

// drawStatus draws the status line: capture, records shown/total, filter,
// state, message.
func (a *App) drawStatus(screen tcell.Screen, x, y, width, height int) {
	if width <= 0 || height <= 0 {
		return
	}
	var parts []string
	name := a.cap.Name()
	if len(name) > 30 {
		name = "…" + filepath.Base(name)
	}
	parts = append(parts, "[::b]"+tview.Escape(name)+"[::-]")
	if a.flt.sel != nil { // a display filter's selection, or the marked packets (:marked)
		parts = append(parts, fmt.Sprintf("%d/%d packets", len(a.flt.sel), a.total))
	} else {
		parts = append(parts, fmt.Sprintf("%d packets", a.total))
	}
	switch {
	case a.flt.running:
		parts = append(parts, fmt.Sprintf("[::b]filtering %d%%[::-]", a.flt.percent))
	case a.flt.f != nil || a.flt.sel != nil:
		parts = append(parts, "filter: "+tview.Escape(a.filterLabel()))
	}
	switch {
	case a.state.Err != nil:
		parts = append(parts, "[red::b]error: "+tview.Escape(oneLine(a.state.Err.Error()))+"[-::-]")
	case a.state.Done:
		parts = append(parts, "done")
	case a.opts.Live:
		parts = append(parts, "live")
	default:
		parts = append(parts, "indexing…")
	}
	if a.tail {
		parts = append(parts, "tail")
	}
	if m := a.state.Message; m != "" {
		parts = append(parts, tview.Escape(oneLine(m)))
	}
	if a.rowErr != nil {
		parts = append(parts, "[red]"+tview.Escape(oneLine(a.rowErr.Error()))+"[-]")
	}
	if a.msg != "" {
		if a.msgErr {
			parts = append(parts, "[red::b]"+tview.Escape(oneLine(a.msg))+"[-::-]")
		} else {
			parts = append(parts, tview.Escape(oneLine(a.msg)))
		}
	}
	text := strings.Join(parts, " │ ")
	if a.page == pageMain {
		text += " │ ? help"
	} else {
		text += " │ Esc back, ? help"
	}
	tview.Print(screen, text, x, y, width, tview.AlignLeft, tcell.ColorDefault)
}

// oneLine replaces line breaks so that a message fits on the status line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
