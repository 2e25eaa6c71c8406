package tui

import (
	"context"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session/filter"
)

// filterState is the display filter: the one applied and the one being
// computed.
type filterState struct {
	// The applied filter and the record indices it selects (sel is nil when
	// no filter is applied: the list is the whole capture).
	expr    string
	f       *filter.Filter
	sel     []int
	covered int // records sel covers: the model's Len when Select started

	gen     int                // bumped by every apply and clear; results of older generations are dropped
	cancel  context.CancelFunc // cancels the running Select, nil when none
	running bool               // a Select for a new filter is running
	percent int                // its progress

	extending   bool // a Select extends sel to new records of a live capture
	extendAgain bool // more records arrived while it ran
}

// Filter bar field styles: underlined when empty, green when the text
// compiles, red when not; explicit foregrounds keep them readable on dark
// and light terminals.
func styleNeutral() tcell.Style { return tcell.StyleDefault.Underline(true) }
func styleValid() tcell.Style {
	return tcell.StyleDefault.Background(tcell.ColorGreen).Foreground(tcell.ColorBlack)
}
func styleInvalid() tcell.Style {
	return tcell.StyleDefault.Background(tcell.ColorRed).Foreground(tcell.ColorWhite)
}

// newFilterBar builds the display filter bar.
func (a *App) newFilterBar() *tview.InputField {
	in := tview.NewInputField().
		SetLabel("Filter: ").
		SetLabelStyle(tcell.StyleDefault.Bold(true)).
		SetPlaceholder(`press / to type a display filter, e.g. mqtt.topic contains "salle"`).
		SetPlaceholderStyle(tcell.StyleDefault.Dim(true)).
		SetFieldStyle(styleNeutral())
	plainBox(in.Box)
	in.SetChangedFunc(func(text string) { a.checkFilter(text) })
	in.SetDoneFunc(func(k tcell.Key) {
		switch k {
		case tcell.KeyEnter:
			a.applyFilter(in.GetText())
			a.focusPane(0)
		case tcell.KeyEscape:
			in.SetText(a.flt.expr)
			a.focusPane(0)
		case tcell.KeyTab, tcell.KeyBacktab:
			a.focusPane(0)
		}
	})
	in.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		switch ev.Key() {
		case tcell.KeyUp:
			a.recallFilter(-1)
			return nil
		case tcell.KeyDown:
			a.recallFilter(1)
			return nil
		}
		return ev
	})
	in.SetFocusFunc(func() {
		a.histPos = len(a.history)
		a.histDraft = in.GetText()
		a.checkFilter(in.GetText())
	})
	return in
}

// checkFilter compiles the text being typed and colours the field; a
// syntax error goes to the status line.
func (a *App) checkFilter(text string) {
	if strings.TrimSpace(text) == "" {
		a.filter.SetFieldStyle(styleNeutral())
		if a.msgErr {
			a.setMessage("")
		}
		return
	}
	if _, err := filter.Compile(text); err != nil {
		a.filter.SetFieldStyle(styleInvalid())
		a.setError("filter: " + err.Error())
		return
	}
	a.filter.SetFieldStyle(styleValid())
	if a.msgErr {
		a.setMessage("")
	}
}

// focusFilter puts the cursor in the filter bar (/).
func (a *App) focusFilter() {
	a.app.SetFocus(a.filter)
}

// recallFilter steps through the history of applied filters.
func (a *App) recallFilter(step int) {
	if len(a.history) == 0 {
		return
	}
	if a.histPos == len(a.history) {
		a.histDraft = a.filter.GetText()
	}
	a.histPos = max(0, min(len(a.history), a.histPos+step))
	if a.histPos == len(a.history) {
		a.filter.SetText(a.histDraft)
		return
	}
	a.filter.SetText(a.history[a.histPos])
}

// pushHistory adds an applied filter to the history (once, as the newest).
func (a *App) pushHistory(expr string) {
	for i, h := range a.history {
		if h == expr {
			a.history = append(a.history[:i], a.history[i+1:]...)
			break
		}
	}
	a.history = append(a.history, expr)
	if len(a.history) > 100 {
		a.history = a.history[len(a.history)-100:]
	}
	a.histPos = len(a.history)
}

// applyFilter applies a display filter: Select runs in the background and
// the list keeps showing the previous selection until it is done. An empty
// filter clears it.
func (a *App) applyFilter(expr string) {
	expr = strings.TrimSpace(expr)
	if a.filter.GetText() != expr {
		a.filter.SetText(expr)
	}
	if expr == "" {
		a.clearFilter()
		return
	}
	f, err := filter.Compile(expr)
	if err != nil {
		a.filter.SetFieldStyle(styleInvalid())
		a.setError("filter: " + err.Error())
		return
	}
	a.pushHistory(expr)
	a.stopFilterWork()
	gen := a.flt.gen
	ctx, cancel := context.WithCancel(a.ctx)
	a.flt.cancel = cancel
	a.flt.running = true
	a.flt.percent = 0
	covered := a.cap.Len()
	if a.msgErr {
		a.setMessage("")
	}
	ok := a.spawn(func() {
		defer cancel()
		var last time.Time
		lastPct := -1
		progress := func(done, total int) {
			if total <= 0 {
				return
			}
			pct := done * 100 / total
			if pct == lastPct || time.Since(last) < 100*time.Millisecond {
				return
			}
			lastPct, last = pct, time.Now()
			a.post(func() {
				if a.flt.gen == gen {
					a.flt.percent = pct
				}
			})
		}
		sel, err := a.cap.Select(ctx, f, 0, progress)
		a.post(func() {
			if a.flt.gen != gen {
				return
			}
			a.flt.running = false
			a.flt.cancel = nil
			if err != nil {
				if ctx.Err() == nil {
					a.setError("filter: " + err.Error())
				}
				return
			}
			if sel == nil {
				sel = []int{}
			}
			a.flt.expr, a.flt.f, a.flt.sel, a.flt.covered = expr, f, sel, covered
			a.content.forget()
			a.afterSelectionChange()
			if covered < a.total {
				a.extendSelection()
			}
		})
	})
	if !ok {
		cancel()
		a.flt.running = false
	}
}

// clearFilter removes the display filter and keeps the selected packet.
func (a *App) clearFilter() {
	a.stopFilterWork()
	a.flt.expr, a.flt.f, a.flt.sel, a.flt.covered = "", nil, nil, 0
	a.filter.SetText("")
	a.content.forget()
	a.afterSelectionChange()
}

// stopFilterWork cancels a running Select and makes every result still on
// its way stale.
func (a *App) stopFilterWork() {
	a.flt.gen++
	if a.flt.cancel != nil {
		a.flt.cancel()
		a.flt.cancel = nil
	}
	a.flt.running = false
	a.flt.extending = false
	a.flt.extendAgain = false
}

// afterSelectionChange selects a row after the list changed: the same
// packet when it is still shown, else the first (or, following the tail,
// the last) row.
func (a *App) afterSelectionChange() {
	n := a.shown()
	if n == 0 {
		a.list.Select(0, 0)
		a.clearRecord()
		return
	}
	if a.tail {
		a.selectPos(n - 1)
		return
	}
	if a.curIdx >= 0 {
		if pos, ok := a.posOf(a.curIdx); ok {
			a.list.Select(pos+1, 0)
			return
		}
	}
	a.curIdx = -1
	a.selectPos(0)
}

// extendSelection runs the applied filter over the records that arrived
// since its selection was computed.
func (a *App) extendSelection() {
	if a.flt.f == nil || a.flt.running {
		return
	}
	if a.flt.extending {
		a.flt.extendAgain = true
		return
	}
	gen, f, from := a.flt.gen, a.flt.f, a.flt.covered
	covered := a.cap.Len()
	if covered <= from {
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	a.flt.extending = true
	a.flt.cancel = cancel
	ok := a.spawn(func() {
		defer cancel()
		more, err := a.cap.Select(ctx, f, from, nil)
		a.post(func() {
			if a.flt.gen != gen {
				return
			}
			a.flt.extending = false
			a.flt.cancel = nil
			if err != nil {
				if ctx.Err() == nil {
					a.setError("filter: " + err.Error())
				}
				return
			}
			last := -1
			if n := len(a.flt.sel); n > 0 {
				last = a.flt.sel[n-1]
			}
			grew := false
			for _, idx := range more {
				if idx > last {
					a.flt.sel = append(a.flt.sel, idx)
					last = idx
					grew = true
				}
			}
			a.flt.covered = covered
			a.content.forget()
			if grew {
				a.afterGrow()
			}
			if a.flt.extendAgain {
				a.flt.extendAgain = false
				a.extendSelection()
			}
		})
	})
	if !ok {
		cancel()
		a.flt.extending = false
		a.flt.cancel = nil
	}
}
