package tui

import (
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// scope is where a key binding applies.
type scope uint8

// Scopes, from the widest. A key is looked up in the focused pane's or the
// open view's scope first, then in scopeMain or scopeView, then in
// scopeAll. Nothing is looked up while the filter bar or the command line
// has the focus (they take every key but Ctrl-C).
const (
	scopeAll      scope = iota // every page
	scopeMain                  // the packet list screen, whichever pane has the focus
	scopeList                  // the packet list pane
	scopeTree                  // the packet details pane
	scopeHex                   // the packet bytes pane
	scopeView                  // every view (sessions, topics, ...)
	scopeSessions              // the sessions view
	scopeTopics                // the topics view
	scopeFindings              // the findings view
	scopeFollow                // the follow view
	scopeConv                  // the conversations view
	scopeStats                 // the statistics view
	scopePayload               // the payload view
	scopeHelp                  // the help view
)

// title names the scope in the help view.
func (s scope) title() string {
	switch s {
	case scopeMain:
		return "Packet list screen"
	case scopeList:
		return "Packet list pane"
	case scopeTree:
		return "Packet details pane"
	case scopeHex:
		return "Packet bytes pane"
	case scopeView:
		return "Every view"
	case scopeSessions:
		return "Sessions view"
	case scopeTopics:
		return "Topics view"
	case scopeFindings:
		return "Findings view"
	case scopeFollow:
		return "Follow view"
	case scopeConv:
		return "Conversations view"
	case scopeStats:
		return "Statistics view"
	case scopePayload:
		return "Payload view"
	case scopeHelp:
		return "Help view"
	}
	return "Everywhere"
}

// key is one key press: a special key, or a rune when Key is tcell.KeyRune.
type key struct {
	Key  tcell.Key
	Rune rune
}

// r returns the key that types rune c.
func r(c rune) key { return key{Key: tcell.KeyRune, Rune: c} }

// k returns a special key.
func k(code tcell.Key) key { return key{Key: code} }

// matches reports whether ev is this key press.
func (k key) matches(ev *tcell.EventKey) bool {
	if ev.Modifiers()&tcell.ModAlt != 0 {
		return false
	}
	if k.Key == tcell.KeyRune {
		return ev.Key() == tcell.KeyRune && ev.Rune() == k.Rune
	}
	return ev.Key() == k.Key
}

// String returns the key as the help view shows it.
func (k key) String() string {
	if k.Key == tcell.KeyRune {
		if k.Rune == ' ' {
			return "Space"
		}
		return string(k.Rune)
	}
	switch k.Key {
	case tcell.KeyUp:
		return "↑"
	case tcell.KeyDown:
		return "↓"
	case tcell.KeyLeft:
		return "←"
	case tcell.KeyRight:
		return "→"
	case tcell.KeyPgUp:
		return "PgUp"
	case tcell.KeyPgDn:
		return "PgDn"
	case tcell.KeyHome:
		return "Home"
	case tcell.KeyEnd:
		return "End"
	case tcell.KeyEnter:
		return "Enter"
	case tcell.KeyEscape:
		return "Esc"
	case tcell.KeyTab:
		return "Tab"
	case tcell.KeyBacktab:
		return "Shift-Tab"
	case tcell.KeyF1:
		return "F1"
	}
	if k.Key >= tcell.KeyCtrlA && k.Key <= tcell.KeyCtrlZ {
		return "Ctrl-" + string(rune('A'+k.Key-tcell.KeyCtrlA))
	}
	return tcell.KeyNames[k.Key]
}

// action handles a key press. It returns the event to hand on to the
// focused widget (possibly another one), or nil when it handled it.
type action func(a *App, ev *tcell.EventKey) *tcell.EventKey

// binding is one row of the key table: the keys, where they apply, what they
// do. The same table drives the input handling and the help view.
type binding struct {
	Keys  []key
	Scope scope
	Desc  string
	Run   action
}

// keyText returns a binding's keys as the help view shows them.
func (b *binding) keyText() string {
	names := make([]string, len(b.Keys))
	for i, k := range b.Keys {
		names[i] = k.String()
	}
	return strings.Join(names, " ")
}

// do wraps fn as an action that consumes the key.
func do(fn func(a *App)) action {
	return func(a *App, _ *tcell.EventKey) *tcell.EventKey {
		fn(a)
		return nil
	}
}

// pass returns an action that hands the widget the special key code instead
// of the one pressed (j becomes ↓ for a tree, a table or a text view).
func pass(code tcell.Key) action {
	return func(_ *App, ev *tcell.EventKey) *tcell.EventKey {
		return tcell.NewEventKey(code, 0, ev.Modifiers())
	}
}

// moveView is pass for the movement keys of a view: a table's selection
// is first brought back within its rows. (tview's Table looks for a
// selectable cell until it comes back to the selection it started from,
// forever when that selection is past the last row, as it is after the
// rows of a view shrank, e.g. to the one line that says it is empty.)
func moveView(code tcell.Key) action {
	return func(a *App, ev *tcell.EventKey) *tcell.EventKey {
		if t, ok := a.app.GetFocus().(*tview.Table); ok {
			row, col := t.GetSelection()
			if rows := t.GetRowCount(); row >= rows {
				t.Select(max(0, rows-1), col)
			}
		}
		return tcell.NewEventKey(code, 0, ev.Modifiers())
	}
}

// keyTable returns the key bindings, in the order the help view lists them.
func keyTable() []binding {
	return []binding{
		{[]key{r('?'), k(tcell.KeyF1)}, scopeAll, "help: this list of keys and commands", do((*App).openHelp)},
		{[]key{r(':')}, scopeAll, "command line (see the commands below)", do((*App).openCommandLine)},
		{[]key{k(tcell.KeyCtrlC)}, scopeAll, "quit", do((*App).Stop)},
		{[]key{k(tcell.KeyCtrlL)}, scopeAll, "redraw the screen", do((*App).redraw)},

		{[]key{r('q')}, scopeMain, "quit", do((*App).Stop)},
		{[]key{r('/')}, scopeMain, "edit the display filter (Enter applies, Esc leaves, ↑ ↓ recall)", do((*App).focusFilter)},
		{[]key{k(tcell.KeyTab)}, scopeMain, "next pane (list, details, bytes)", do(func(a *App) { a.cyclePane(1) })},
		{[]key{k(tcell.KeyBacktab)}, scopeMain, "previous pane", do(func(a *App) { a.cyclePane(-1) })},
		{[]key{k(tcell.KeyEscape)}, scopeMain, "back to the packet list pane (and cancel a running search)", do(func(a *App) {
			a.cancelSearch()
			a.focusPane(0)
		})},
		{[]key{r('S')}, scopeMain, "sessions (key exchanges)", do((*App).openSessions)},
		{[]key{r('T')}, scopeMain, "topics", do((*App).openTopics)},
		{[]key{r('!')}, scopeMain, "findings", do((*App).openFindings)},
		{[]key{r('c')}, scopeMain, "follow the selected packet's connection", do((*App).openFollow)},
		{[]key{r('C')}, scopeMain, "conversations: each MQTT connection, its MQTT packets, TCP frames and their bytes each way, its end", do((*App).openConversations)},
		{[]key{r('s')}, scopeMain, "statistics", do((*App).openStats)},
		{[]key{r('p')}, scopeMain, "payload of the selected packet", do((*App).openPayload)},
		{[]key{r('F')}, scopeMain, "follow the tail of a growing capture (on/off; in the details pane F prepares a filter)", do((*App).toggleTail)},
		{[]key{r('t')}, scopeMain, "time format: relative, absolute, delta (tshark -t r|a|d)", do((*App).cycleTimeFormat)},
		{[]key{r('y')}, scopeMain, "copy the selected detail line's value to the clipboard (OSC 52: works over SSH and tmux)", do((*App).copyLine)},
		{[]key{r('Y')}, scopeMain, "copy the whole packet as text (its detail tree, as mqtap read -V)", do((*App).copyPacket)},
		{[]key{k(tcell.KeyCtrlF)}, scopeMain, "search the packets shown: string, hex bytes, display filter or details (Tab: kind, Enter: find)", do((*App).openSearchBar)},
		{[]key{r('n')}, scopeMain, "next packet the last search finds (wraps around)", do(func(a *App) { a.searchAgain(false) })},
		{[]key{r('N')}, scopeMain, "previous packet the last search finds (wraps around)", do(func(a *App) { a.searchAgain(true) })},
		{[]key{r('m')}, scopeMain, "then a letter a-z: mark the selected packet with the letter", do((*App).beginMark)},
		{[]key{r('\'')}, scopeMain, "then a letter a-z: go to the packet of that mark (clears the filter if it hides it)", do((*App).beginJump)},
		{[]key{r('M')}, scopeMain, "mark or unmark the selected packet (Wireshark's Ctrl-M; :marked shows the marked ones)", do((*App).toggleMark)},

		{[]key{r('j'), k(tcell.KeyDown)}, scopeList, "next packet", do(func(a *App) { a.moveList(1) })},
		{[]key{r('k'), k(tcell.KeyUp)}, scopeList, "previous packet (stops following the tail)", do(func(a *App) { a.moveList(-1) })},
		{[]key{r('g'), k(tcell.KeyHome)}, scopeList, "first packet", do(func(a *App) { a.moveListTo(0) })},
		{[]key{r('G'), k(tcell.KeyEnd)}, scopeList, "last packet", do(func(a *App) { a.moveListTo(-1) })},
		{[]key{k(tcell.KeyPgDn), k(tcell.KeyCtrlD)}, scopeList, "page down", do(func(a *App) { a.moveList(a.listPage()) })},
		{[]key{k(tcell.KeyPgUp), k(tcell.KeyCtrlB)}, scopeList, "page up", do(func(a *App) { a.moveList(-a.listPage()) })},
		{[]key{r('l'), k(tcell.KeyRight)}, scopeList, "scroll the Info column right", do(func(a *App) { a.shiftInfo(1) })},
		{[]key{r('h'), k(tcell.KeyLeft)}, scopeList, "scroll the Info column left", do(func(a *App) { a.shiftInfo(-1) })},
		{[]key{k(tcell.KeyEnter)}, scopeList, "go to the packet details", do(func(a *App) { a.focusPane(1) })},

		{[]key{r('j'), k(tcell.KeyDown)}, scopeTree, "next line", pass(tcell.KeyDown)},
		{[]key{r('k'), k(tcell.KeyUp)}, scopeTree, "previous line", pass(tcell.KeyUp)},
		{[]key{r('g'), k(tcell.KeyHome)}, scopeTree, "first line", do(func(a *App) { a.treeEdge(a.tree, 1, false) })},
		{[]key{r('G'), k(tcell.KeyEnd)}, scopeTree, "last line", do(func(a *App) { a.treeEdge(a.tree, 1, true) })},
		{[]key{k(tcell.KeyPgDn), k(tcell.KeyCtrlD)}, scopeTree, "page down", pass(tcell.KeyPgDn)},
		{[]key{k(tcell.KeyPgUp), k(tcell.KeyCtrlB)}, scopeTree, "page up", pass(tcell.KeyPgUp)},
		{[]key{k(tcell.KeyEnter), r(' ')}, scopeTree, "expand or collapse the subtree", do((*App).toggleTreeNode)},
		{[]key{r('l'), k(tcell.KeyRight)}, scopeTree, "expand the subtree", do(func(a *App) { a.expandTreeNode(true) })},
		{[]key{r('h'), k(tcell.KeyLeft)}, scopeTree, "collapse the subtree, or go to its parent", do(func(a *App) { a.expandTreeNode(false) })},
		{[]key{r('e')}, scopeTree, "expand every subtree", do(func(a *App) { a.expandAll(true) })},
		{[]key{r('E')}, scopeTree, "collapse every subtree", do(func(a *App) { a.expandAll(false) })},
		{[]key{r('a')}, scopeTree, "add the selected line's field as a packet list column", do((*App).treeAddColumn)},
		{[]key{r('f')}, scopeTree, "apply FIELD == value of the selected line as the display filter", do((*App).treeApplyFilter)},
		{[]key{r('F')}, scopeTree, "put FIELD == value of the selected line in the filter bar to edit (F elsewhere follows the tail)", do((*App).treePrepareFilter)},

		{[]key{r('j'), k(tcell.KeyDown)}, scopeHex, "scroll down", do(func(a *App) { a.hex.scroll(1) })},
		{[]key{r('k'), k(tcell.KeyUp)}, scopeHex, "scroll up", do(func(a *App) { a.hex.scroll(-1) })},
		{[]key{r('g'), k(tcell.KeyHome)}, scopeHex, "top", do(func(a *App) { a.hex.scrollTo(0) })},
		{[]key{r('G'), k(tcell.KeyEnd)}, scopeHex, "bottom", do(func(a *App) { a.hex.scrollTo(-1) })},
		{[]key{k(tcell.KeyPgDn), k(tcell.KeyCtrlD)}, scopeHex, "page down", do(func(a *App) { a.hex.scroll(a.hex.page()) })},
		{[]key{k(tcell.KeyPgUp), k(tcell.KeyCtrlB)}, scopeHex, "page up", do(func(a *App) { a.hex.scroll(-a.hex.page()) })},

		{[]key{r('q'), k(tcell.KeyEscape)}, scopeView, "back to the packet list", do((*App).closeView)},
		{[]key{r('j'), k(tcell.KeyDown)}, scopeView, "down", moveView(tcell.KeyDown)},
		{[]key{r('k'), k(tcell.KeyUp)}, scopeView, "up", moveView(tcell.KeyUp)},
		{[]key{r('g'), k(tcell.KeyHome)}, scopeView, "top", moveView(tcell.KeyHome)},
		{[]key{r('G'), k(tcell.KeyEnd)}, scopeView, "bottom", moveView(tcell.KeyEnd)},
		{[]key{k(tcell.KeyPgDn), k(tcell.KeyCtrlD)}, scopeView, "page down", moveView(tcell.KeyPgDn)},
		{[]key{k(tcell.KeyPgUp), k(tcell.KeyCtrlB)}, scopeView, "page up", moveView(tcell.KeyPgUp)},

		{[]key{k(tcell.KeyEnter)}, scopeSessions, `show the session's packets (filter mqtap.session == "ID")`, do((*App).sessionSelected)},
		{[]key{k(tcell.KeyEnter)}, scopeTopics, "go to the last message on the topic (inner topics: expand or collapse)", do((*App).topicSelected)},
		{[]key{r(' ')}, scopeTopics, "expand or collapse", do((*App).topicToggle)},
		{[]key{r('g'), k(tcell.KeyHome)}, scopeTopics, "first topic", do(func(a *App) { a.treeEdge(a.views.topics, 0, false) })},
		{[]key{r('G'), k(tcell.KeyEnd)}, scopeTopics, "last topic", do(func(a *App) { a.treeEdge(a.views.topics, 0, true) })},
		{[]key{r('l'), k(tcell.KeyRight)}, scopeTopics, "expand", do(func(a *App) { a.topicExpand(true) })},
		{[]key{r('h'), k(tcell.KeyLeft)}, scopeTopics, "collapse, or go to the parent", do(func(a *App) { a.topicExpand(false) })},
		{[]key{r('f')}, scopeTopics, "show the topic's packets (filter on mqtt.topic)", do((*App).topicFilter)},
		{[]key{k(tcell.KeyEnter)}, scopeFindings, "go to the finding's packet (clears the filter if it hides it)", do((*App).findingSelected)},
		{[]key{k(tcell.KeyEnter)}, scopeFollow, "go to the packet", do((*App).followSelected)},
		{[]key{k(tcell.KeyEnter)}, scopeConv, "show the connection's packets (filter tcp.stream == N)", do((*App).conversationSelected)},
		{[]key{r('<')}, scopeConv, "sort by the column to the left (a click on a header sorts by it, again reverses)", do(func(a *App) { a.moveConversationSort(-1) })},
		{[]key{r('>')}, scopeConv, "sort by the column to the right", do(func(a *App) { a.moveConversationSort(1) })},
		{[]key{r('r')}, scopeConv, "reverse the sort order", do((*App).reverseConversations)},
		{[]key{r('1')}, scopePayload, "show as text", do(func(a *App) { a.setPayloadMode(modeText) })},
		{[]key{r('2')}, scopePayload, "show as a hex dump", do(func(a *App) { a.setPayloadMode(modeHex) })},
		{[]key{r('3')}, scopePayload, "show as pretty-printed JSON", do(func(a *App) { a.setPayloadMode(modeJSON) })},
		{[]key{r('4')}, scopePayload, "show base64-decoded", do(func(a *App) { a.setPayloadMode(modeBase64) })},
		{[]key{r('5')}, scopePayload, "show the decoded value (JSON, CBOR, MessagePack, protobuf, Sparkplug B, text) as a tree", do(func(a *App) { a.setPayloadMode(modeValue) })},
		{[]key{k(tcell.KeyTab)}, scopePayload, "next mode", do(func(a *App) { a.cyclePayloadMode(1) })},
		{[]key{k(tcell.KeyBacktab)}, scopePayload, "previous mode", do(func(a *App) { a.cyclePayloadMode(-1) })},
	}
}

// command is one ":" command.
type command struct {
	Names []string // the first is the one the help view shows
	Args  string   // "" when it takes none
	Desc  string
	Run   func(a *App, arg string)
}

// commandTable returns the ":" commands, in the order the help view lists
// them.
func commandTable() []command {
	noArg := func(fn func(a *App)) func(*App, string) { return func(a *App, _ string) { fn(a) } }
	return []command{
		{[]string{"quit", "q", "q!", "exit"}, "", "quit", noArg((*App).Stop)},
		{[]string{"goto", "go", "g"}, "N", "go to frame N (also :N)", (*App).gotoCommand},
		{[]string{"filter", "f"}, "EXPR", "apply a display filter (empty: clear it)", func(a *App, arg string) {
			a.closeView()
			a.applyFilter(arg)
		}},
		{[]string{"clear"}, "", "clear the display filter", noArg((*App).clearFilter)},
		{[]string{"sessions"}, "", "sessions view", noArg((*App).openSessions)},
		{[]string{"topics"}, "", "topics view", noArg((*App).openTopics)},
		{[]string{"findings"}, "", "findings view", noArg((*App).openFindings)},
		{[]string{"follow"}, "", "follow the selected packet's connection", noArg((*App).openFollow)},
		{[]string{"conversations", "connections", "conv"}, "", "conversations view: the MQTT connections", noArg((*App).openConversations)},
		{[]string{"stats", "statistics"}, "", "statistics view", noArg((*App).openStats)},
		{[]string{"payload"}, "", "payload of the selected packet", noArg((*App).openPayload)},
		{[]string{"tail"}, "", "follow the tail of a growing capture (on/off)", noArg((*App).toggleTail)},
		{[]string{"search", "find"}, "TEXT", "find the next packet whose list columns, bytes, plaintext or decoded value hold TEXT (any case); n and N repeat it", (*App).searchString},
		{[]string{"search-hex"}, "BYTES", "find the next packet whose bytes or plaintext hold BYTES (7b:22 or 7b22)", (*App).searchHex},
		{[]string{"search-filter"}, "EXPR", "find the next packet that matches the display filter EXPR", (*App).searchFilter},
		{[]string{"search-details"}, "TEXT", "find the next packet whose detail tree (as mqtap read -V prints it) or bytes hold TEXT (any case; slower)", (*App).searchDetails},
		{[]string{"marked"}, "", "show only the packets marked with M (:clear shows all)", noArg((*App).showMarked)},
		{[]string{"unmark-all"}, "", "remove every M mark", noArg((*App).unmarkAll)},
		{[]string{"marks"}, "", "list the letter marks (m and a letter) on the status line", noArg((*App).listMarks)},
		{[]string{"w", "write"}, "[marked] FILE", "write the packets shown (marked: the M-marked ones) as pcapng, with mqtap export's comments and TLS key logs; keeps an existing FILE", func(a *App, arg string) { a.writeCommand(arg, false) }},
		{[]string{"w!", "write!"}, "[marked] FILE", "as :w, overwriting FILE", func(a *App, arg string) { a.writeCommand(arg, true) }},
		{[]string{"e", "edit", "open"}, "FILE", "open another capture file with the same keys and decode-as options (the display filter is kept)", (*App).openCommand},
		{[]string{"info", "capinfos"}, "", "capture information (capinfos): format, interfaces, link types, times, frames, bytes, drops, MQTT packets", noArg((*App).openInfo)},
		{[]string{"columns"}, "[add|remove|reset]", "list the packet list's columns, numbered; add FIELD [TITLE] (any field of mqtap read -e), remove N, reset to the defaults; saved to the configuration file", (*App).columnsCommand},
		{[]string{"theme"}, "dark|light", "colours for a dark or a light terminal", (*App).setTheme},
		{[]string{"save-config"}, "", "write the columns, colour rules and theme to the configuration file (~/.config/mqtap/config.toml)", noArg((*App).saveConfig)},
		{[]string{"help", "h"}, "", "help", noArg((*App).openHelp)},
	}
}

// onKey is the application's input capture: it looks the key up in the key
// table for the current page and focused pane.
func (a *App) onKey(ev *tcell.EventKey) *tcell.EventKey {
	if ev.Key() == tcell.KeyCtrlC {
		a.Stop()
		return nil
	}
	if a.typing() {
		return ev
	}
	if a.takePending(ev) { // the letter after m or '
		return nil
	}
	for _, s := range a.scopes() {
		for i := range a.keys {
			b := &a.keys[i]
			if b.Scope != s {
				continue
			}
			for _, k := range b.Keys {
				if k.matches(ev) {
					return b.Run(a, ev)
				}
			}
		}
	}
	return ev
}

// scopes returns the scopes that apply now, the most specific first.
func (a *App) scopes() []scope {
	switch a.page {
	case pageMain:
		pane := scopeList
		switch a.app.GetFocus() {
		case a.tree:
			pane = scopeTree
		case a.hex:
			pane = scopeHex
		}
		return []scope{pane, scopeMain, scopeAll}
	case pageSessions:
		return []scope{scopeSessions, scopeView, scopeAll}
	case pageTopics:
		return []scope{scopeTopics, scopeView, scopeAll}
	case pageFindings:
		return []scope{scopeFindings, scopeView, scopeAll}
	case pageFollow:
		return []scope{scopeFollow, scopeView, scopeAll}
	case pageStats:
		return []scope{scopeStats, scopeView, scopeAll}
	case pagePayload:
		return []scope{scopePayload, scopeView, scopeAll}
	case pageInfo:
		return []scope{scopeView, scopeAll}
	case pageHelp:
		return []scope{scopeHelp, scopeView, scopeAll}
	case pageConversations:
		return []scope{scopeConv, scopeView, scopeAll}
	}
	return []scope{scopeAll}
}

// runCommand runs one command line (without the colon).
func (a *App) runCommand(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	if _, err := strconv.Atoi(name); err == nil && arg == "" {
		a.gotoCommand(name)
		return
	}
	for _, c := range a.commands {
		for _, n := range c.Names {
			if n == name {
				if c.Args == "" && arg != "" {
					a.setError(":" + name + " takes no argument")
					return
				}
				c.Run(a, arg)
				return
			}
		}
	}
	a.setError("unknown command :" + name + " (:help lists them)")
}

// gotoCommand runs :goto N.
func (a *App) gotoCommand(arg string) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 0 {
		a.setError(":goto needs a frame number, e.g. :goto 42")
		return
	}
	idx, ok := a.cap.FindFrame(n)
	if !ok {
		a.setError("no MQTT packet in frame " + strconv.Itoa(n))
		return
	}
	a.jumpToRecord(idx)
}
