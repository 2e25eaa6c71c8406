// Package tui is mqtap's terminal user interface.
//
// It is a Wireshark (termshark) style browser of MQTT captures: a packet
// list, the selected packet's detail tree and its bytes, a display filter
// bar, and views of the key-exchange sessions, the topic tree, the findings,
// one connection's conversation, statistics and a payload viewer.
//
// The UI reads a model.Capture, which another goroutine fills; it never
// holds the whole capture: the packet list is a virtual table that asks the
// model for the rows on screen, and the detail of a packet is decoded again
// when it is selected. Work that may take a while (display filters over a
// large capture, a connection's packets, statistics) runs in goroutines that
// hand their results to the UI goroutine.
//
// Keys are defined once, in a table (keys.go) that drives both the input
// handling and the help view.
package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/tui/model"
)

// Options configure the UI.
type Options struct {
	Filter string // initial display filter (-Y)
	Live   bool   // the capture grows: follow-tail mode on by default, toggled with F (or :tail)
	Status string // an initial status-line message (e.g. a warning)
	// ConfigPath is the configuration file (columns, colours, theme); "":
	// $XDG_CONFIG_HOME/mqtap/config.toml (DefaultConfigPath).
	ConfigPath string
	// Save is what :w needs to write the packets shown (save.go).
	Save SaveConfig
	// Open opens another capture file for :e, with the same keys and
	// decode-as options (open.go); nil: :e is not available.
	Open func(path string) (Opened, error)
	// Kernel returns a live capture's kernel counters, frames received and
	// dropped, for :info; nil: none.
	Kernel func() (received, dropped uint64, err error)
}

// Page names.
const (
	pageMain     = "main"
	pageSessions = "sessions"
	pageTopics   = "topics"
	pageFindings = "findings"
	pageFollow   = "follow"
	pageStats    = "stats"
	pagePayload  = "payload"
	pageHelp     = "help"

	pageConversations = "conversations"
)

// App is the terminal UI of one capture.
type App struct {
	app    *tview.Application
	cap    *model.Capture
	opts   Options
	screen tcell.Screen

	keys     []binding
	commands []command

	// Background work: every goroutine the UI starts is counted in wg and
	// ends when ctx is cancelled, so that Stop can wait for them before it
	// stops the event loop they report to.
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex // guards stopping
	stopping bool
	stopOnce sync.Once

	// Widgets.
	root     *tview.Flex
	pages    *tview.Pages
	bottom   *tview.Pages
	status   *tview.Box
	cmdline  *tview.InputField
	filter   *tview.InputField
	list     *tview.Table
	content  *listContent
	tree     *tview.TreeView
	hex      *hexView
	panes    []tview.Primitive // list, tree, hex: Tab order
	lastPane int               // the main screen pane that had the focus last

	views views

	// State; read and written on the UI goroutine only.
	page       string
	total      int          // records the list knows of (the model's Len at the last refresh)
	state      model.State  // the model's state at the last refresh
	tail       bool         // follow-tail mode
	infoShift  int          // characters of the Info column scrolled out to the left
	timeFormat int          // of the Time column: timeRelative, timeAbsolute or timeDelta (t)
	drawn      tcell.Screen // the screen last drawn on, whose clipboard y and Y set
	msg        string       // status-line message
	msgErr     bool         // msg is an error
	rowErr     error        // the last error reading a row, shown on the status line
	curIdx     int          // record index of the selected packet, -1 when none
	cur        *session.Record
	treeKey    string          // key of the selected detail tree node, kept from packet to packet
	expanded   map[string]bool // detail tree subtrees the user expanded (true) or collapsed (false)

	marks markState // letter marks (m, ') and toggled marks (M)

	conv convState // the conversations view (conversations.go)

	search searchState // the search bar and the last search (ctrl-f, n, N)

	files fileState // :w, :e and :info (save.go, open.go, info.go)

	cfg configState // the packet list's columns, colour rules and theme (config.go)

	flt         filterState
	history     []string // applied display filters, oldest first
	histPos     int      // position while recalling with ↑ ↓ (len(history): the text being typed)
	histDraft   string   // the text being typed before recalling
	cmdHistory  []string
	cmdHistPos  int
	prevFocus   tview.Primitive // focus before the command line opened
	lastRefresh time.Time       // last refresh of an open view by live updates
	// refreshPending: a refresh of the open view is due a second after
	// lastRefresh (refreshViewSoon).
	refreshPending bool
}

// New builds the application on screen (nil: the real terminal, set up by
// Run). A screen given here is initialised by New; Run finalises it.
func New(c *model.Capture, screen tcell.Screen, opts Options) (*App, error) {
	if c == nil {
		return nil, errors.New("tui: no capture")
	}
	initial := strings.TrimSpace(opts.Filter)
	if initial != "" {
		if _, err := filter.Compile(initial); err != nil {
			return nil, fmt.Errorf("display filter %q: %w", initial, err)
		}
	}
	a := &App{
		app:      tview.NewApplication(),
		cap:      c,
		opts:     opts,
		screen:   screen,
		keys:     keyTable(),
		commands: commandTable(),
		page:     pageMain,
		tail:     opts.Live,
		curIdx:   -1,
		expanded: map[string]bool{},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.msg = opts.Status
	if err := a.loadConfig(); err != nil {
		a.msg, a.msgErr = strings.TrimPrefix(opts.Status+" │ ", " │ ")+err.Error(), true
	}

	a.buildMain()
	a.buildViews()

	a.status = tview.NewBox()
	plainBox(a.status)
	a.cmdline = a.newCommandLine()
	a.bottom = tview.NewPages().
		AddPage("status", a.status, true, true).
		AddPage("cmd", a.cmdline, true, false)
	plainBox(a.bottom.Box)

	a.root = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(a.pages, 0, 1, true).
		AddItem(a.bottom, 1, 0, false)
	plainBox(a.root.Box)

	a.app.SetRoot(a.root, true).
		SetInputCapture(a.onKey).
		SetAfterDrawFunc(func(screen tcell.Screen) {
			a.drawn = screen
			// The status line is drawn last: tview draws the focused pane
			// after the other primitives, and reading its rows may fail.
			if name, _ := a.bottom.GetFrontPage(); name == "status" {
				x, y, w, h := a.status.GetInnerRect()
				a.drawStatus(screen, x, y, w, h)
			}
		}).
		EnableMouse(true)
	a.app.SetFocus(a.list)
	if screen != nil {
		// SetScreen initialises the screen, which resets a simulation
		// screen's size: keep the size a test gave it.
		w, h := screen.Size()
		a.app.SetScreen(screen)
		if sim, ok := screen.(tcell.SimulationScreen); ok && w > 0 && h > 0 {
			sim.SetSize(w, h)
		}
		screen.EnableMouse()
	}

	a.refresh()
	if initial != "" {
		a.applyFilter(initial)
	}
	return a, nil
}

// Run runs until the user quits (q, :q, Ctrl-C) or Stop is called. The
// terminal is always restored, also on panic: the panic is returned as an
// error.
func (a *App) Run() (err error) {
	started := false
	defer func() {
		if p := recover(); p != nil {
			if !started && a.screen != nil {
				a.screen.Fini()
			}
			err = fmt.Errorf("tui: panic: %v\n%s", p, debug.Stack())
		}
		a.shutdown()
		a.endFills()
	}()
	a.spawn(a.watch)
	started = true
	return a.app.Run()
}

// RunWhile runs the UI while fill feeds the App's capture in the
// background, then marks the capture finished with fill's error (a
// cancellation is not one). SIGTERM and SIGHUP close the UI; quitting the
// UI cancels fill's context and waits for fill to return.
func (a *App) RunWhile(ctx context.Context, fill func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.files.open.mu.Lock()
	a.files.open.parent = ctx // captures opened by :e are filled under it too
	a.files.open.mu.Unlock()
	a.startFill(ctx, a.cap, fill, false)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			a.Stop()
		case <-ctx.Done():
		}
	}()
	runErr := a.Run() // its end stops and waits for the fills (endFills)
	cancel()
	return runErr
}

// Stop ends Run (for tests and signals). It may be called from any
// goroutine, any number of times.
func (a *App) Stop() {
	a.stopOnce.Do(func() {
		a.shutdown()
		go func() {
			a.wg.Wait()
			a.app.QueueUpdate(a.app.Stop)
		}()
	})
}

// shutdown cancels the background work and keeps new work from starting.
func (a *App) shutdown() {
	a.mu.Lock()
	a.stopping = true
	cancel := a.cancel // replaced by a switch of capture (:e)
	a.mu.Unlock()
	cancel()
}

// spawn runs fn in a goroutine counted in a.wg, unless the UI is stopping.
func (a *App) spawn(fn func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping || a.files.open.paused {
		return false
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
	return true
}

// post runs fn on the UI goroutine and redraws; it is called from
// background goroutines and returns false, without running fn, once the UI
// is stopping. (While :e switches captures, a.ctx is cancelled but the
// results of the old capture's work are still posted: they run before the
// switch and settle the state they belong to.)
func (a *App) post(fn func()) bool {
	a.mu.Lock()
	stopping := a.stopping
	a.mu.Unlock()
	if stopping {
		return false
	}
	a.app.QueueUpdateDraw(fn)
	return true
}

// watch waits for the model's updates and refreshes the UI, at most 20
// times a second.
func (a *App) watch() {
	updates := a.cap.Updates()
	for {
		select {
		case <-a.ctx.Done():
			return
		case _, ok := <-updates:
			if !a.post(a.refresh) || !ok {
				return
			}
		}
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// refresh reads the model's state and record count.
func (a *App) refresh() {
	a.state = a.cap.State()
	n := a.cap.Len()
	grew := n > a.total
	a.total = n
	a.content.forget()
	if grew {
		if a.flt.f != nil && a.flt.sel != nil {
			a.extendSelection()
		}
		a.afterGrow()
	}
	if a.page != pageMain {
		a.refreshViewSoon()
	}
}

// afterGrow selects what a grown list should show: the last row in
// follow-tail mode, else the first row when nothing was selected yet.
func (a *App) afterGrow() {
	n := a.shown()
	if n == 0 {
		return
	}
	if a.tail {
		a.selectPos(n - 1)
		return
	}
	if a.curIdx < 0 {
		a.selectPos(0)
	}
}

// buildMain builds the packet list screen: filter bar, packet list, detail
// tree, hex pane.
func (a *App) buildMain() {
	a.filter = a.newFilterBar()

	a.content = &listContent{a: a, memoIdx: -1}
	a.list = tview.NewTable().
		SetContent(a.content).
		SetSelectable(true, false).
		SetFixed(1, 0).
		SetSelectedStyle(tcell.StyleDefault.Reverse(true))
	a.list.SetSelectionChangedFunc(func(row, _ int) { a.onListSelect(row) })
	a.list.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if !a.list.InRect(ev.Position()) {
			return action, ev
		}
		switch action {
		case tview.MouseLeftClick, tview.MouseScrollUp:
			a.setTail(false)
		case tview.MouseLeftDoubleClick:
			a.focusPane(1)
			return tview.MouseConsumed, nil
		}
		return action, ev
	})
	paneBox(a.list.Box, "Packets")
	a.list.SetDrawFunc(func(_ tcell.Screen, x, y, w, h int) (int, int, int, int) {
		// Clear tview's follow-the-end mode, which it turns on whenever
		// every row fits: when the virtual content then grows or changes,
		// it would scroll the selected row out of view.
		row, col := a.list.GetOffset()
		a.list.SetOffset(row, col)
		a.rowErr = nil // set again by the rows that fail to read
		return x + 1, y + 1, max(0, w-2), max(0, h-2)
	})

	a.tree = tview.NewTreeView().SetGraphicsColor(tcell.ColorDefault).SetTopLevel(1)
	a.tree.SetChangedFunc(a.onTreeSelect)
	var clickPrev *tview.TreeNode
	a.tree.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if !a.tree.InRect(ev.Position()) {
			return action, ev
		}
		switch action {
		case tview.MouseLeftClick:
			clickPrev = a.tree.GetCurrentNode()
		case tview.MouseLeftDoubleClick:
			a.toggleTreeNode()
			return tview.MouseConsumed, nil
		}
		return action, ev
	})
	a.tree.SetSelectedFunc(func(n *tview.TreeNode) { a.onTreeClick(clickPrev, n) })
	paneBox(a.tree.Box, "Details")

	a.hex = newHexView()
	a.hex.onClick = a.onHexClick
	paneBox(a.hex.Box, "Bytes")

	a.panes = []tview.Primitive{a.list, a.tree, a.hex}

	main := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(a.filter, 1, 0, false).
		AddItem(a.list, 0, 5, true).
		AddItem(a.tree, 0, 4, false).
		AddItem(a.hex, 0, 3, false)
	plainBox(main.Box)
	a.pages = tview.NewPages().AddPage(pageMain, main, true, true)
	plainBox(a.pages.Box)
}

// plainBox gives a box the terminal's own colours, so that the UI reads on
// dark and light terminals alike.
func plainBox(b *tview.Box) {
	b.SetBackgroundColor(tcell.ColorDefault).
		SetBorderStyle(tcell.StyleDefault).
		SetTitleColor(tcell.ColorDefault)
}

// paneBox gives a pane a border and a title (tview tags allowed: escape
// text from the capture).
func paneBox(b *tview.Box, title string) {
	plainBox(b)
	b.SetBorder(true).SetTitleAlign(tview.AlignLeft)
	setPaneTitle(b, title)
}

// setPaneTitle sets a pane's title. The focused pane's border is bold (and
// double-lined) and its title reversed, which reads on any terminal.
func setPaneTitle(b *tview.Box, title string) {
	focused := func() {
		b.SetBorderStyle(tcell.StyleDefault.Bold(true))
		b.SetTitle("[::r] " + title + " [::-]")
	}
	blurred := func() {
		b.SetBorderStyle(tcell.StyleDefault)
		b.SetTitle(" " + title + " ")
	}
	b.SetFocusFunc(focused).SetBlurFunc(blurred)
	if b.HasFocus() {
		focused()
	} else {
		blurred()
	}
}

// typing reports whether a text field has the focus.
func (a *App) typing() bool {
	f := a.app.GetFocus()
	return f == a.filter || f == a.cmdline || a.searching()
}

// focusPane focuses pane i of the main screen (0 list, 1 tree, 2 hex).
func (a *App) focusPane(i int) {
	if i < 0 || i >= len(a.panes) {
		return
	}
	a.lastPane = i
	a.app.SetFocus(a.panes[i])
}

// cyclePane moves the focus to the next (+1) or previous (-1) pane.
func (a *App) cyclePane(step int) {
	cur := a.lastPane
	for i, p := range a.panes {
		if a.app.GetFocus() == p {
			cur = i
		}
	}
	n := len(a.panes)
	a.focusPane(((cur+step)%n + n) % n)
}

// showPage switches to a page and focuses p.
func (a *App) showPage(name string, p tview.Primitive) {
	if a.page == pageMain {
		for i, pane := range a.panes {
			if a.app.GetFocus() == pane {
				a.lastPane = i
			}
		}
	}
	a.page = name
	a.pages.SwitchToPage(name)
	a.lastRefresh = time.Now()
	if p != nil {
		a.app.SetFocus(p)
	}
}

// closeView goes back to the packet list screen.
func (a *App) closeView() {
	if a.page == pageMain {
		return
	}
	a.page = pageMain
	a.pages.SwitchToPage(pageMain)
	a.focusPane(a.lastPane)
}

// redraw clears and redraws the whole screen (Ctrl-L).
func (a *App) redraw() {
	a.app.Sync()
}

// setTail turns follow-tail mode on or off.
func (a *App) setTail(on bool) {
	a.tail = on
}

// toggleTail toggles follow-tail mode (F, :tail).
func (a *App) toggleTail() {
	a.tail = !a.tail
	if a.tail {
		a.setMessage("following the tail")
		if n := a.shown(); n > 0 {
			a.selectPos(n - 1)
		}
	} else {
		a.setMessage("not following the tail")
	}
}

// shown returns the number of rows of the packet list.
func (a *App) shown() int {
	if a.flt.sel != nil {
		return len(a.flt.sel)
	}
	return a.total
}

// recordAt returns the record index of list position pos.
func (a *App) recordAt(pos int) int {
	if a.flt.sel != nil {
		return a.flt.sel[pos]
	}
	return pos
}

// posOf returns the list position of record idx.
func (a *App) posOf(idx int) (int, bool) {
	if a.flt.sel == nil {
		return idx, idx >= 0 && idx < a.total
	}
	pos := sort.SearchInts(a.flt.sel, idx)
	return pos, pos < len(a.flt.sel) && a.flt.sel[pos] == idx
}

// selectPos selects list position pos (the table's row pos+1).
func (a *App) selectPos(pos int) {
	a.list.Select(pos+1, 0)
}

// listPos returns the selected list position, -1 when none.
func (a *App) listPos() int {
	row, _ := a.list.GetSelection()
	if row < 1 || row > a.shown() {
		return -1
	}
	return row - 1
}

// listPage returns the number of rows a page down moves.
func (a *App) listPage() int {
	_, _, _, h := a.list.GetInnerRect()
	if h -= 2; h < 1 {
		h = 1
	}
	return h
}

// moveList moves the list selection by delta rows; moving up leaves
// follow-tail mode.
func (a *App) moveList(delta int) {
	n := a.shown()
	if n == 0 {
		return
	}
	if delta < 0 {
		a.setTail(false)
	}
	pos := a.listPos()
	if pos < 0 {
		pos = 0
	} else {
		pos += delta
	}
	a.selectPos(max(0, min(n-1, pos)))
}

// moveListTo selects the first (0) or last (-1) row.
func (a *App) moveListTo(pos int) {
	n := a.shown()
	if n == 0 {
		return
	}
	if pos < 0 {
		a.selectPos(n - 1)
		return
	}
	a.setTail(false)
	a.selectPos(0)
}

// onListSelect shows the packet of the selected row in the detail and hex
// panes.
func (a *App) onListSelect(row int) {
	pos := row - 1
	if pos < 0 || pos >= a.shown() {
		return
	}
	idx := a.recordAt(pos)
	if idx == a.curIdx && a.cur != nil {
		return
	}
	a.showRecord(idx)
}

// showRecord decodes record idx again and fills the detail and hex panes.
func (a *App) showRecord(idx int) {
	rec, err := a.cap.Record(idx)
	if err != nil {
		a.curIdx, a.cur = idx, nil
		a.tree.SetRoot(tview.NewTreeNode(""))
		a.hex.setData(nil, nil, "")
		a.setError("record " + strconv.Itoa(idx) + ": " + err.Error())
		return
	}
	a.curIdx, a.cur = idx, rec
	a.showDetail(rec)
}

// clearRecord empties the detail and hex panes.
func (a *App) clearRecord() {
	a.curIdx, a.cur = -1, nil
	a.tree.SetRoot(tview.NewTreeNode(""))
	a.hex.setData(nil, nil, "")
}

// jumpToRecord selects record idx in the packet list, clearing the display
// filter when it hides the record, and goes back to the list.
func (a *App) jumpToRecord(idx int) {
	pos, ok := a.posOf(idx)
	if !ok && a.flt.sel != nil {
		a.clearFilter()
		a.setMessage("display filter cleared to show the packet")
		pos, ok = a.posOf(idx)
	}
	if !ok {
		a.setError("record " + strconv.Itoa(idx) + " is not in the list yet")
		return
	}
	a.closeView()
	if pos != a.shown()-1 {
		a.setTail(false)
	}
	a.selectPos(pos)
	a.focusPane(0)
}
