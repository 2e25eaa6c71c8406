// The pages besides the packet list share their widgets and helpers here:
// building the pages, table cells and text views, and refreshing the open
// view. Each view has its own file: sessions.go, topics.go, findings.go,
// follow.go, stats.go, payload.go (help.go for the help page).

package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/tui/model"
)

// views holds the widgets and data of the pages other than the packet list.
type views struct {
	sessions    *tview.Table
	sessionData []model.SessionInfo

	topics     *tview.TreeView
	topicOpen  map[string]bool // topic paths the user expanded (true) or collapsed (false)
	topicsPage *tview.Flex     // the tree and the chart of the selected topic
	chart      *chartView
	plotter    *model.Plotter // of the topic the chart shows
	plotGen    int            // counts the plots asked for; a late answer is dropped
	plotBusy   bool           // a plot is being computed

	findings    *tview.Table
	findingData []model.FindingRef

	follow        *tview.Table
	followContent *followContent
	followGen     int

	stats    *statsView
	statsGen int

	payload     *tview.Flex
	payloadHead *tview.TextView
	payloadBody *tview.TextView
	payloadMode int
	payloadRec  *session.Record

	help *tview.TextView
}

// buildViews builds the pages of the views.
func (a *App) buildViews() {
	v := &a.views
	v.topicOpen = map[string]bool{}

	v.sessions = newViewTable("Sessions (key exchanges) │ Enter: show the session's packets │ Esc: back")
	v.topics = tview.NewTreeView().SetGraphicsColor(tcell.ColorDefault)
	paneBox(v.topics.Box, "Topics │ Enter: last message │ f: filter │ Space: expand │ Esc: back")
	v.topics.SetChangedFunc(func(*tview.TreeNode) { a.plotTopic() })
	v.chart = newChartView()
	v.topicsPage = tview.NewFlex().AddItem(v.topics, 0, 1, true).AddItem(v.chart, 0, 1, false)
	v.findings = newViewTable("Findings │ Enter: go to the packet │ Esc: back")
	v.followContent = &followContent{a: a}
	v.follow = newViewTable("Follow")
	v.follow.SetContent(v.followContent)
	v.stats = &statsView{TextView: newTextView(true)}
	paneBox(v.stats.Box, "Statistics │ Esc: back")

	v.payloadHead = newTextView(true)
	v.payloadBody = newTextView(false)
	paneBox(v.payloadBody.Box, "Payload")
	v.payload = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(v.payloadHead, 1, 0, false).
		AddItem(v.payloadBody, 0, 1, true)
	plainBox(v.payload.Box)

	v.help = newTextView(true)
	v.help.SetText(a.helpText())
	paneBox(v.help.Box, "Help │ Esc: back")

	onDoubleClick(v.sessions.Box, a.sessionSelected)
	onDoubleClick(v.topics.Box, a.topicSelected)
	onDoubleClick(v.findings.Box, a.findingSelected)
	onDoubleClick(v.follow.Box, a.followSelected)

	a.pages.AddPage(pageSessions, v.sessions, true, false).
		AddPage(pageTopics, v.topicsPage, true, false).
		AddPage(pageFindings, v.findings, true, false).
		AddPage(pageFollow, v.follow, true, false).
		AddPage(pageStats, v.stats, true, false).
		AddPage(pagePayload, v.payload, true, false).
		AddPage(pageHelp, v.help, true, false)
	a.buildConversations()
}

// newViewTable returns a selectable table with a fixed header row.
func newViewTable(title string) *tview.Table {
	t := tview.NewTable().
		SetSelectable(true, false).
		SetFixed(1, 0).
		SetSelectedStyle(tcell.StyleDefault.Reverse(true))
	paneBox(t.Box, title)
	return t
}

// newTextView returns a scrollable text view in the terminal's colours.
func newTextView(tags bool) *tview.TextView {
	t := tview.NewTextView().
		SetDynamicColors(tags).
		SetScrollable(true).
		SetWrap(true).
		SetTextStyle(tcell.StyleDefault)
	plainBox(t.Box)
	return t
}

// cell returns a table cell of plain (escaped) text.
func cell(text string) *tview.TableCell {
	return &tview.TableCell{Text: tview.Escape(sanitize(text))}
}

// header fills row 0 of a table with column titles.
func header(t *tview.Table, titles ...string) {
	for i, s := range titles {
		c := cell(s)
		c.Attributes = tcell.AttrBold | tcell.AttrUnderline
		c.NotSelectable = true
		t.SetCell(0, i, c)
	}
}

// emptyRow shows a message in a table without data.
func emptyRow(t *tview.Table, msg string) {
	c := cell(msg)
	c.NotSelectable = true
	c.Attributes = tcell.AttrDim
	t.SetCell(0, 0, c)
}

// num returns a right-aligned number cell.
func num(n int) *tview.TableCell {
	c := cell(strconv.Itoa(n))
	c.Align = tview.AlignRight
	return c
}

// quote returns s as a display filter string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// truncate cuts s to at most n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// onDoubleClick runs fn when the box is double-clicked (the first click
// selected the row or node).
func onDoubleClick(b *tview.Box, fn func()) {
	b.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if action == tview.MouseLeftDoubleClick && b.InRect(ev.Position()) {
			fn()
			return tview.MouseConsumed, nil
		}
		return action, ev
	})
}

// refreshView rebuilds the open view with the model's current data (live
// captures).
func (a *App) refreshView() {
	switch a.page {
	case pageSessions:
		a.fillSessions()
	case pageTopics:
		a.fillTopics()
		a.plotTopic()
	case pageFindings:
		a.fillFindings()
	case pageStats:
		a.loadStats()
	case pageConversations:
		a.loadConversations()
	case pageInfo:
		if a.opts.Live {
			a.loadInfo(false)
		}
	}
}

// refreshViewSoon refreshes the open view with the model's latest state, at
// most once a second: now, or a second after the last refresh, so that the
// last change of a capture that stops growing is shown too.
func (a *App) refreshViewSoon() {
	wait := time.Second - time.Since(a.lastRefresh)
	if wait <= 0 {
		a.lastRefresh = time.Now()
		a.refreshView()
		return
	}
	if a.refreshPending {
		return
	}
	ctx := a.ctx
	a.refreshPending = a.spawn(func() {
		select {
		case <-ctx.Done():
			// Stopping, or :e switching captures (whose new capture
			// refreshes the view anew).
			a.post(func() { a.refreshPending = false })
			return
		case <-time.After(wait):
		}
		a.post(func() {
			a.refreshPending = false
			if a.page != pageMain {
				a.lastRefresh = time.Now()
				a.refreshView()
			}
		})
	})
}
