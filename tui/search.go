// Searching packets (ctrl-f, n, N, :search): a search bar apart from the
// filter bar finds the next packet of the list whose text holds a string,
// whose bytes hold a hex byte string, or that matches a display filter, as
// Wireshark's Find Packet does. It moves the selection and leaves the
// displayed set alone. The search runs in the background (model.Find).

package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/tui/model"
)

// searchState is the search bar and the last search.
type searchState struct {
	bar       *tview.InputField // built on the first ctrl-f
	kind      model.SearchKind  // of the text in the bar, cycled with Tab
	last      *model.Search     // what n and N repeat
	prevFocus tview.Primitive   // focus before the bar opened

	gen     int                // bumped by every search; results of older ones are dropped
	cancel  context.CancelFunc // cancels the running search, nil when none
	running bool
}

// searchKinds is the order Tab cycles the kinds in.
var searchKinds = []model.SearchKind{model.SearchString, model.SearchHex, model.SearchFilter, model.SearchDetails}

// searchLabel returns the bar's label for a kind.
func searchLabel(k model.SearchKind) string {
	return "Search " + k.String() + " (Tab: kind): "
}

// searchPlaceholder returns what an empty bar shows for a kind.
func searchPlaceholder(k model.SearchKind) string {
	switch k {
	case model.SearchHex:
		return "bytes of the packet or of its plaintext, e.g. 7b:22 or 7b22"
	case model.SearchFilter:
		return `a display filter, e.g. mqtt.qos == 2`
	case model.SearchDetails:
		return "text of the whole detail tree too (titles, values, times: slower), e.g. keep alive: 60"
	}
	return "text of the list's columns, the bytes, the plaintext, the decoded value (any case), e.g. salle-1"
}

// newSearchBar builds the search bar, which replaces the status line while
// it is open.
func (a *App) newSearchBar() *tview.InputField {
	in := tview.NewInputField().
		SetLabelStyle(tcell.StyleDefault.Bold(true)).
		SetFieldStyle(styleNeutral()).
		SetPlaceholderStyle(tcell.StyleDefault.Dim(true))
	plainBox(in.Box)
	in.SetChangedFunc(func(string) { a.checkSearch() })
	in.SetDoneFunc(func(k tcell.Key) {
		switch k {
		case tcell.KeyEnter:
			text := in.GetText()
			a.closeSearchBar()
			a.startSearch(a.search.kind, text, false)
		case tcell.KeyEscape:
			a.closeSearchBar()
		}
	})
	in.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		switch ev.Key() {
		case tcell.KeyTab:
			a.cycleSearchKind(1)
			return nil
		case tcell.KeyBacktab:
			a.cycleSearchKind(-1)
			return nil
		}
		return ev
	})
	return in
}

// openSearchBar opens the search bar (ctrl-f) with the last search's text.
func (a *App) openSearchBar() {
	s := &a.search
	if s.bar == nil {
		s.bar = a.newSearchBar()
		a.bottom.AddPage("search", s.bar, true, false)
	}
	if a.app.GetFocus() != s.bar {
		s.prevFocus = a.app.GetFocus()
	}
	if s.last != nil {
		s.kind = s.last.Kind
		s.bar.SetText(s.last.Text)
	}
	a.showSearchKind()
	a.bottom.SwitchToPage("search")
	a.app.SetFocus(s.bar)
}

// closeSearchBar goes back to the status line and the previous focus.
func (a *App) closeSearchBar() {
	a.bottom.SwitchToPage("status")
	if p := a.search.prevFocus; p != nil {
		a.app.SetFocus(p)
	} else {
		a.focusPane(0)
	}
	a.search.prevFocus = nil
}

// searching reports whether the search bar has the focus.
func (a *App) searching() bool {
	return a.search.bar != nil && a.app.GetFocus() == a.search.bar
}

// cycleSearchKind switches the bar to the next (+1) or previous (-1) kind.
func (a *App) cycleSearchKind(step int) {
	i := 0
	for j, k := range searchKinds {
		if k == a.search.kind {
			i = j
		}
	}
	n := len(searchKinds)
	a.search.kind = searchKinds[((i+step)%n+n)%n]
	a.showSearchKind()
}

// showSearchKind labels the bar with its kind.
func (a *App) showSearchKind() {
	k := a.search.kind
	a.search.bar.SetLabel(searchLabel(k)).SetPlaceholder(searchPlaceholder(k))
	a.checkSearch()
}

// checkSearch colours the bar: green when the text compiles as its kind,
// red when not (a display filter's or hex bytes' syntax).
func (a *App) checkSearch() {
	bar := a.search.bar
	text := bar.GetText()
	switch {
	case strings.TrimSpace(text) == "" || a.search.kind == model.SearchString || a.search.kind == model.SearchDetails:
		bar.SetFieldStyle(styleNeutral())
	case a.search.kind == model.SearchHex:
		if _, err := model.ParseHex(text); err != nil {
			bar.SetFieldStyle(styleInvalid())
		} else {
			bar.SetFieldStyle(styleValid())
		}
	default:
		if _, err := filter.Compile(text); err != nil {
			bar.SetFieldStyle(styleInvalid())
		} else {
			bar.SetFieldStyle(styleValid())
		}
	}
}

// searchString runs :search TEXT.
func (a *App) searchString(arg string) { a.searchCommand(model.SearchString, arg) }

// searchHex runs :search-hex BYTES.
func (a *App) searchHex(arg string) { a.searchCommand(model.SearchHex, arg) }

// searchFilter runs :search-filter EXPR.
func (a *App) searchFilter(arg string) { a.searchCommand(model.SearchFilter, arg) }

// searchDetails runs :search-details TEXT.
func (a *App) searchDetails(arg string) { a.searchCommand(model.SearchDetails, arg) }

// searchCommand runs a search command from the selected packet.
func (a *App) searchCommand(kind model.SearchKind, arg string) {
	if strings.TrimSpace(arg) == "" {
		a.setError("nothing to search for: e.g. :search salle-1, :search-hex 7b:22, :search-filter mqtt.qos == 2")
		return
	}
	a.closeView()
	a.startSearch(kind, arg, false)
}

// startSearch compiles and runs a new search from the selected packet.
func (a *App) startSearch(kind model.SearchKind, text string, backward bool) {
	s, err := model.NewSearch(kind, text)
	if err != nil {
		a.setError("search: " + err.Error())
		return
	}
	a.search.last = s
	a.search.kind = kind
	a.runSearch(s, backward)
}

// searchAgain repeats the last search forward (n) or backward (N).
func (a *App) searchAgain(backward bool) {
	if a.search.last == nil {
		a.setError("no search to repeat: ctrl-f searches")
		return
	}
	a.runSearch(a.search.last, backward)
}

// describe names a search for the status line.
func describe(s *model.Search) string {
	switch s.Kind {
	case model.SearchHex:
		return "bytes " + strings.TrimSpace(s.Text)
	case model.SearchFilter:
		return "filter " + strings.TrimSpace(s.Text)
	case model.SearchDetails:
		return strconv.Quote(s.Text) + " (details)"
	}
	return strconv.Quote(s.Text)
}

// runSearch searches the displayed packets from the selected one on, in
// the background; a later search, or Esc, cancels it. The answer selects
// the packet found and names its frame on the status line.
func (a *App) runSearch(s *model.Search, backward bool) {
	a.cancelSearch()
	if a.shown() == 0 {
		a.setError("not found: " + describe(s) + " (no packets shown)")
		return
	}
	gen := a.search.gen
	ctx, cancel := context.WithCancel(a.ctx)
	a.search.cancel, a.search.running = cancel, true
	sel, after, c := a.flt.sel, a.curIdx, a.cap
	a.setMessage("searching for " + describe(s) + "…")
	ok := a.spawn(func() {
		defer cancel()
		last := time.Now()
		progress := func(done, total int) {
			if total <= 0 || time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			msg := fmt.Sprintf("searching for %s… %d%% (Esc cancels)", describe(s), done*100/total)
			a.post(func() {
				if a.search.gen == gen {
					a.setMessage(msg)
				}
			})
		}
		idx, wrapped, err := c.Find(ctx, s, sel, after, backward, progress)
		frame := 0
		if err == nil && idx >= 0 {
			var row model.Row
			if row, err = c.Row(idx); err == nil {
				frame = row.Frame
			}
		}
		a.post(func() {
			if a.search.gen != gen {
				return
			}
			a.search.cancel, a.search.running = nil, false
			a.searchDone(s, idx, frame, wrapped, after, err, ctx.Err() != nil)
		})
	})
	if !ok {
		cancel()
		a.search.cancel, a.search.running = nil, false
	}
}

// searchDone shows a search's answer.
func (a *App) searchDone(s *model.Search, idx, frame int, wrapped bool, after int, err error, cancelled bool) {
	switch {
	case cancelled:
		a.setMessage("search cancelled")
		return
	case err != nil:
		a.setError("search: " + err.Error())
		return
	case idx < 0:
		a.setError("not found: " + describe(s))
		return
	}
	pos, ok := a.posOf(idx)
	if !ok {
		a.setError(fmt.Sprintf("found %s in frame %d, which the list no longer shows", describe(s), frame))
		return
	}
	if pos != a.shown()-1 {
		a.setTail(false)
	}
	a.selectPos(pos)
	msg := fmt.Sprintf("found %s in frame %d", describe(s), frame)
	switch {
	case idx == after:
		msg += " again (the only match)"
	case wrapped:
		msg += " (search wrapped around)"
	}
	a.setMessage(msg)
}

// cancelSearch stops a running search; its answer is dropped.
func (a *App) cancelSearch() {
	a.search.gen++
	if a.search.cancel != nil {
		a.search.cancel()
		a.search.cancel = nil
		if a.search.running {
			a.setMessage("search cancelled")
		}
	}
	a.search.running = false
}
