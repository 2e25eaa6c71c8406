package tui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/output"
	"github.com/mqtap/mqtap/tui/model"
)

// views holds the widgets and data of the pages other than the packet list.
type views struct {
	sessions    *tview.Table
	sessionData []model.SessionInfo

	topics    *tview.TreeView
	topicOpen map[string]bool // topic paths the user expanded (true) or collapsed (false)

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
		AddPage(pageTopics, v.topics, true, false).
		AddPage(pageFindings, v.findings, true, false).
		AddPage(pageFollow, v.follow, true, false).
		AddPage(pageStats, v.stats, true, false).
		AddPage(pagePayload, v.payload, true, false).
		AddPage(pageHelp, v.help, true, false)
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
	case pageFindings:
		a.fillFindings()
	case pageStats:
		a.loadStats()
	}
}

// ---- Sessions ----

// openSessions opens the sessions view (S, :sessions).
func (a *App) openSessions() {
	a.fillSessions()
	a.showPage(pageSessions, a.views.sessions)
}

func (a *App) fillSessions() {
	t := a.views.sessions
	row, _ := t.GetSelection()
	t.Clear()
	a.views.sessionData = a.cap.Sessions()
	if len(a.views.sessionData) == 0 {
		emptyRow(t, "no key exchanges in this capture")
		return
	}
	header(t, "Session", "NetID", "Requester", "Responders", "Status", "KDF", "Key", "Decrypted", "Failed", "No key", "Findings", "Frame")
	for i, s := range a.views.sessionData {
		status := cell(s.Status)
		switch s.Status {
		case "ok":
			status.Color = tcell.ColorGreen
		case "failed", "unanswered":
			status.Color = tcell.ColorRed
		}
		key := s.KeySide
		if s.GroupBits > 0 {
			key = strings.TrimSpace(key + " " + strconv.Itoa(s.GroupBits) + "-bit")
		}
		findings := cell(strings.Join(s.Findings, ", "))
		if len(s.Findings) > 0 {
			findings.Color = tcell.ColorRed
		}
		cells := []*tview.TableCell{
			cell(s.ID), cell(s.NetID), cell(s.Requester), cell(strings.Join(s.Responders, ", ")), status,
			cell(s.KDF), cell(key), num(s.Decrypted), num(s.Failed), num(s.NoKey), findings, num(s.Frame),
		}
		for j, c := range cells {
			t.SetCell(i+1, j, c)
		}
	}
	t.Select(max(1, min(row, len(a.views.sessionData))), 0)
}

// num returns a right-aligned number cell.
func num(n int) *tview.TableCell {
	c := cell(strconv.Itoa(n))
	c.Align = tview.AlignRight
	return c
}

// sessionSelected filters the packet list on the selected session (Enter).
func (a *App) sessionSelected() {
	row, _ := a.views.sessions.GetSelection()
	if row < 1 || row > len(a.views.sessionData) {
		return
	}
	a.closeView()
	a.applyFilter("mqtap.session == " + quote(a.views.sessionData[row-1].ID))
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

// ---- Topics ----

// openTopics opens the topics view (T, :topics).
func (a *App) openTopics() {
	a.fillTopics()
	a.showPage(pageTopics, a.views.topics)
}

func (a *App) fillTopics() {
	t := a.views.topics
	current := ""
	if n := t.GetCurrentNode(); n != nil {
		if tn, ok := n.GetReference().(*model.TopicNode); ok {
			current = tn.Path
		}
	}
	top := a.cap.Topics()
	if top == nil {
		top = &model.TopicNode{LastRecord: -1}
	}
	var sel *tview.TreeNode
	var openLevels int
	var build func(tn *model.TopicNode, level int) *tview.TreeNode
	build = func(tn *model.TopicNode, level int) *tview.TreeNode {
		n := tview.NewTreeNode("").
			SetReference(tn).
			SetTextStyle(tcell.StyleDefault).
			SetSelectedTextStyle(tcell.StyleDefault.Reverse(true))
		if level == 0 {
			n.SetTextStyle(tcell.StyleDefault.Bold(true))
		}
		open, ok := a.views.topicOpen[tn.Path]
		if !ok {
			open = level < openLevels
		}
		n.SetExpanded(open || level == 0)
		if tn.Path == current && sel == nil {
			sel = n
		}
		for _, c := range tn.Children {
			n.AddChild(build(c, level+1))
		}
		markTopic(n)
		return n
	}
	count := 0
	var countNodes func(tn *model.TopicNode)
	countNodes = func(tn *model.TopicNode) {
		count++
		for _, c := range tn.Children {
			countNodes(c)
		}
	}
	countNodes(top)
	openLevels = 2
	if count <= 200 {
		openLevels = 1 << 30 // a small tree opens fully
	}
	root := build(top, 0)
	t.SetRoot(root)
	if sel == nil {
		sel = root
	}
	t.SetCurrentNode(sel)
}

// topicText returns a topic tree line: name, PUBLISH counts (this topic /
// with the topics below), retained flag and the last value.
func topicText(tn *model.TopicNode) string {
	if tn.Path == "" {
		return fmt.Sprintf("All topics  %d messages", tn.Total)
	}
	name := tn.Name
	if name == "" {
		name = `""`
	}
	s := fmt.Sprintf("%s  %d/%d", sanitize(name), tn.Messages, tn.Total)
	if tn.Retained {
		s += " R"
	}
	if tn.Messages > 0 {
		last := tn.Last
		if tn.LastHex {
			last = "0x" + last
		}
		s += "  = " + strconv.Quote(truncate(last, 40))
	}
	return s
}

// truncate cuts s to at most n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// currentTopic returns the selected topic tree node.
func (a *App) currentTopic() (*tview.TreeNode, *model.TopicNode) {
	n := a.views.topics.GetCurrentNode()
	if n == nil {
		return nil, nil
	}
	tn, _ := n.GetReference().(*model.TopicNode)
	return n, tn
}

// topicSelected jumps to the last message on the selected topic, or
// expands or collapses a topic without messages of its own (Enter).
func (a *App) topicSelected() {
	n, tn := a.currentTopic()
	if tn == nil {
		return
	}
	if tn.LastRecord >= 0 && tn.Messages > 0 {
		a.jumpToRecord(tn.LastRecord)
		return
	}
	if len(n.GetChildren()) > 0 {
		a.setTopicOpen(n, tn, !n.IsExpanded())
	}
}

// topicToggle expands or collapses the selected topic (Space).
func (a *App) topicToggle() {
	n, tn := a.currentTopic()
	if tn != nil && len(n.GetChildren()) > 0 {
		a.setTopicOpen(n, tn, !n.IsExpanded())
	}
}

// topicExpand expands (→) or collapses (←) the selected topic; ← on a
// collapsed topic goes to its parent.
func (a *App) topicExpand(open bool) {
	n, tn := a.currentTopic()
	if tn == nil {
		return
	}
	if len(n.GetChildren()) > 0 && n.IsExpanded() != open {
		a.setTopicOpen(n, tn, open)
		return
	}
	if !open {
		if path := a.views.topics.GetPath(n); len(path) >= 2 {
			a.views.topics.SetCurrentNode(path[len(path)-2])
		}
	}
}

func (a *App) setTopicOpen(n *tview.TreeNode, tn *model.TopicNode, open bool) {
	n.SetExpanded(open)
	markTopic(n)
	a.views.topicOpen[tn.Path] = open
}

// markTopic sets a topic tree node's text, with its expansion marker.
func markTopic(n *tview.TreeNode) {
	if tn, ok := n.GetReference().(*model.TopicNode); ok {
		n.SetText(expansionMarker(n) + tview.Escape(topicText(tn)))
	}
}

// topicFilter shows the packets of the selected topic (f): the exact topic,
// and for a topic with subtopics every topic below it too.
func (a *App) topicFilter() {
	_, tn := a.currentTopic()
	if tn == nil {
		return
	}
	a.closeView()
	if tn.Path == "" {
		a.clearFilter()
		return
	}
	if len(tn.Children) == 0 {
		a.applyFilter("mqtt.topic == " + quote(tn.Path))
		return
	}
	re := quote("^" + regexp.QuoteMeta(tn.Path) + "/")
	if tn.Messages > 0 {
		a.applyFilter("mqtt.topic == " + quote(tn.Path) + " or mqtt.topic matches " + re)
		return
	}
	a.applyFilter("mqtt.topic matches " + re)
}

// ---- Findings ----

// openFindings opens the findings view (!, :findings).
func (a *App) openFindings() {
	a.fillFindings()
	a.showPage(pageFindings, a.views.findings)
}

func (a *App) fillFindings() {
	t := a.views.findings
	row, _ := t.GetSelection()
	a.views.findingData = a.cap.Findings()
	if n := a.cap.FindingsOmitted(); n > 0 {
		setPaneTitle(t.Box, fmt.Sprintf("Findings (%d more not kept) │ Enter: go to the packet │ Esc: back", n))
	}
	t.SetContent(&funcContent{rows: 1 + max(1, len(a.views.findingData)), cols: 4, cell: a.findingCell})
	t.Select(max(1, min(row, len(a.views.findingData))), 0)
}

// findingCell returns a cell of the findings table, which can hold 100,000
// rows: it is made when drawn.
func (a *App) findingCell(row, col int) *tview.TableCell {
	if row == 0 {
		c := cell([...]string{"Severity", "Code", "Frame", "Text"}[col])
		c.Attributes = tcell.AttrBold | tcell.AttrUnderline
		c.NotSelectable = true
		return c
	}
	data := a.views.findingData
	if len(data) == 0 {
		if col != 3 {
			return &tview.TableCell{NotSelectable: true}
		}
		c := cell("no findings")
		c.NotSelectable = true
		return c
	}
	f := &data[row-1]
	switch col {
	case 0:
		sev := cell(f.Severity().String())
		switch {
		case f.Severity() >= session.SevHigh:
			sev.Color = tcell.ColorRed
			sev.Attributes = tcell.AttrBold
		case f.Severity() >= session.SevMedium:
			sev.Attributes = tcell.AttrBold
		}
		return sev
	case 1:
		return cell(f.Code.String())
	case 2:
		if f.Frame <= 0 {
			return cell("")
		}
		return num(f.Frame)
	}
	text := cell(f.Text)
	text.Expansion = 1
	return text
}

// funcContent is a read-only virtual table whose cells are made when drawn.
type funcContent struct {
	tview.TableContentReadOnly
	rows, cols int
	cell       func(row, col int) *tview.TableCell
}

// GetCell returns the cell at row, col, or nil outside the table.
func (f *funcContent) GetCell(row, col int) *tview.TableCell {
	if row < 0 || row >= f.rows || col < 0 || col >= f.cols {
		return nil
	}
	return f.cell(row, col)
}

// GetRowCount returns the number of rows, the header included.
func (f *funcContent) GetRowCount() int { return f.rows }

// GetColumnCount returns the number of columns.
func (f *funcContent) GetColumnCount() int { return f.cols }

// findingSelected jumps to the selected finding's packet (Enter).
func (a *App) findingSelected() {
	row, _ := a.views.findings.GetSelection()
	if row < 1 || row > len(a.views.findingData) {
		return
	}
	f := a.views.findingData[row-1]
	idx := f.Record
	if idx < 0 && f.Frame > 0 {
		var ok bool
		if idx, ok = a.cap.FindFrame(f.Frame); !ok {
			idx = -1
		}
	}
	if idx < 0 {
		a.setMessage(f.Code.String() + " is about the whole capture, not one packet")
		return
	}
	a.jumpToRecord(idx)
}

// ---- Follow ----

// followContent is the follow view's table: one row per packet of one
// connection, read from the model as it is drawn.
type followContent struct {
	tview.TableContentReadOnly
	a       *App
	idx     []int
	loading bool
	err     error
}

// GetRowCount returns the header plus one row per packet.
func (f *followContent) GetRowCount() int {
	if len(f.idx) == 0 {
		return 2
	}
	return 1 + len(f.idx)
}

// GetColumnCount returns the number of columns.
func (f *followContent) GetColumnCount() int { return 5 }

// GetCell returns one cell: client packets in blue, broker packets in red.
func (f *followContent) GetCell(row, col int) *tview.TableCell {
	if row == 0 {
		titles := [...]string{"No.", "Time", "Direction", "Type", "Info"}
		if col < 0 || col >= len(titles) {
			return nil
		}
		c := cell(titles[col])
		c.Attributes = tcell.AttrBold | tcell.AttrUnderline
		c.NotSelectable = true
		return c
	}
	if len(f.idx) == 0 {
		if col != 0 {
			return nil
		}
		msg := "no packets"
		switch {
		case f.loading:
			msg = "loading…"
		case f.err != nil:
			msg = "error: " + f.err.Error()
		}
		c := cell(msg)
		c.NotSelectable = true
		return c
	}
	if row-1 >= len(f.idx) || col < 0 || col >= 5 {
		return nil
	}
	r, err := f.a.cap.Row(f.idx[row-1])
	if err != nil {
		if col == 4 {
			return &tview.TableCell{Text: tview.Escape("[error: " + err.Error() + "]"), Color: tcell.ColorRed}
		}
		return &tview.TableCell{}
	}
	var c *tview.TableCell
	switch col {
	case 0:
		c = num(r.Frame)
	case 1:
		c = cell(formatSeconds(r.Relative))
		c.Align = tview.AlignRight
	case 2:
		if r.FromClient {
			c = cell("client → broker")
		} else {
			c = cell("broker → client")
		}
	case 3:
		c = cell(r.Type.String())
	case 4:
		c = cell(r.Info)
		c.Expansion = 1
	}
	if r.FromClient {
		c.Color = tcell.ColorBlue
	} else {
		c.Color = tcell.ColorRed
	}
	return c
}

// openFollow shows the selected packet's connection as a conversation (c,
// :follow).
func (a *App) openFollow() {
	if a.cur == nil {
		a.setError("no packet selected")
		return
	}
	v := &a.views
	row, err := a.cap.Row(a.curIdx)
	if err != nil {
		a.setError(err.Error())
		return
	}
	stream, idx := row.Stream, a.curIdx
	client, broker := row.Src, row.Dst
	if !row.FromClient {
		client, broker = broker, client
	}
	kind := "TCP stream "
	if row.Direct {
		kind = "connection "
	}
	title := "Follow " + kind + strconv.Itoa(stream) + ": client " + client + " (blue) ↔ broker " + broker + " (red) │ Enter: go to the packet │ Esc: back"
	setPaneTitle(v.follow.Box, tview.Escape(title))
	v.followGen++
	gen := v.followGen
	v.followContent.idx, v.followContent.loading, v.followContent.err = nil, true, nil
	v.follow.Select(1, 0)
	v.follow.ScrollToBeginning()
	a.showPage(pageFollow, v.follow)
	a.spawn(func() {
		conv, err := a.cap.Conversation(stream)
		a.post(func() {
			if v.followGen != gen {
				return
			}
			fc := v.followContent
			fc.idx, fc.loading, fc.err = conv, false, err
			if err != nil {
				a.setError("follow: " + err.Error())
			}
			for i, ri := range conv {
				if ri == idx {
					v.follow.Select(i+1, 0)
					return
				}
			}
		})
	})
}

// followSelected jumps to the selected packet of the conversation (Enter).
func (a *App) followSelected() {
	row, _ := a.views.follow.GetSelection()
	fc := a.views.followContent
	if row < 1 || row > len(fc.idx) {
		return
	}
	a.jumpToRecord(fc.idx[row-1])
}

// ---- Statistics ----

// statsView renders the statistics for the width it is drawn at.
type statsView struct {
	*tview.TextView
	stats   *model.Stats
	loading bool
	width   int // width the text was rendered for
}

// Draw renders the text again when the width changed, then draws it.
func (s *statsView) Draw(screen tcell.Screen) {
	_, _, w, _ := s.GetInnerRect()
	if w != s.width {
		s.width = w
		s.render()
	}
	s.TextView.Draw(screen)
}

// openStats opens the statistics view (s, :stats).
func (a *App) openStats() {
	a.loadStats()
	a.showPage(pageStats, a.views.stats)
}

// loadStats computes the statistics in the background.
func (a *App) loadStats() {
	v := &a.views
	v.statsGen++
	gen := v.statsGen
	v.stats.loading = true
	v.stats.render()
	a.spawn(func() {
		st := a.cap.Stats()
		a.post(func() {
			if v.statsGen != gen {
				return
			}
			v.stats.stats, v.stats.loading = &st, false
			v.stats.render()
		})
	})
}

// render sets the text of the statistics for the current width.
func (s *statsView) render() {
	if s.stats == nil {
		if s.loading {
			s.SetText("computing the statistics…")
		}
		return
	}
	width := max(s.width, 20)
	st := s.stats
	var b strings.Builder
	secs := len(st.PerSecond)
	peak := 0
	for _, n := range st.PerSecond {
		peak = max(peak, n)
	}
	fmt.Fprintf(&b, "[::b]Packets[::-] %d   [::b]MQTT connections[::-] %d   [::b]Bytes[::-] %d\n[::b]Duration[::-] %d s", st.Packets, st.Streams, st.Bytes, secs)
	if secs > 0 {
		fmt.Fprintf(&b, "   [::b]Rate[::-] %.1f/s average, %d/s peak", float64(st.Packets)/float64(secs), peak)
	}
	if s.loading {
		b.WriteString("   (updating…)")
	}
	b.WriteString("\n\n[::b]Packets per type[::-]\n")
	maxType := 0
	for _, n := range st.ByType {
		maxType = max(maxType, n)
	}
	for t, n := range st.ByType {
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %-12s %8d  %s\n", decode.Type(t).String(), n, bar(n, maxType, width-26))
	}
	counts := func(title string, cs []model.Count) {
		fmt.Fprintf(&b, "\n[::b]%s[::-]\n", title)
		if len(cs) == 0 {
			b.WriteString("  none\n")
			return
		}
		nameW := 10
		for _, c := range cs[:min(len(cs), 10)] {
			nameW = max(nameW, min(utf8.RuneCountInString(c.Name), 40))
		}
		for _, c := range cs[:min(len(cs), 10)] {
			name := truncate(sanitize(c.Name), 40)
			pad := strings.Repeat(" ", max(0, nameW-utf8.RuneCountInString(name)))
			fmt.Fprintf(&b, "  %s%s %8d  %s\n", tview.Escape(name), pad, c.Count, bar(c.Count, cs[0].Count, width-nameW-14))
		}
		if len(cs) > 10 {
			fmt.Fprintf(&b, "  … %d more\n", len(cs)-10)
		}
	}
	counts("Top topics (PUBLISH)", st.Topics)
	counts("Top clients (packets)", st.Clients)
	b.WriteString("\n[::b]Packets over time[::-]\n")
	for _, line := range rateChart(st.PerSecond, width-2, 8) {
		b.WriteString("  " + line + "\n")
	}
	s.SetText(b.String())
}

// bar returns a horizontal bar of n out of most, at most width cells.
func bar(n, most, width int) string {
	if most <= 0 || width <= 0 {
		return ""
	}
	w := n * width / most
	if w == 0 && n > 0 {
		w = 1
	}
	return strings.Repeat("█", w)
}

// rateChart draws packets per second as a bar chart of height rows that
// fits width columns (axis labels included): each bar sums as many seconds
// as needed, and is several columns wide when there are few seconds.
func rateChart(perSecond []int, width, height int) []string {
	if len(perSecond) == 0 {
		return []string{"no packets"}
	}
	const axis = 9 // "   1234 ┤"
	cols := width - axis
	if cols < 1 || height < 1 {
		return nil
	}
	per := (len(perSecond) + cols - 1) / cols
	var sums []int
	for i := 0; i < len(perSecond); i += per {
		n := 0
		for _, v := range perSecond[i:min(i+per, len(perSecond))] {
			n += v
		}
		sums = append(sums, n)
	}
	barW := max(1, min(8, cols/len(sums)))
	top := 0
	for _, n := range sums {
		top = max(top, n)
	}
	if top == 0 {
		top = 1
	}
	levels := []rune(" ▁▂▃▄▅▆▇█")
	lines := make([]string, 0, height+2)
	for row := 0; row < height; row++ {
		var b strings.Builder
		if row == 0 {
			fmt.Fprintf(&b, "%7d ┤", top)
		} else {
			b.WriteString("        │")
		}
		base := (height - 1 - row) * 8
		for _, n := range sums {
			fill := n*height*8/top - base
			if n > 0 && row == height-1 && fill <= 0 {
				fill = 1 // show every bar with traffic
			}
			b.WriteString(strings.Repeat(string(levels[max(0, min(8, fill))]), barW))
		}
		lines = append(lines, b.String())
	}
	span := "second"
	if per > 1 {
		span = strconv.Itoa(per) + " seconds"
	}
	lines = append(lines, fmt.Sprintf("%7d └%s", 0, strings.Repeat("─", len(sums)*barW)),
		fmt.Sprintf("         0 s … %d s, one bar per %s (packets per bar)", len(perSecond), span))
	return lines
}

// ---- Payload ----

// Payload view modes.
const (
	modeText = iota
	modeHex
	modeJSON
	modeBase64
	numModes
)

// modeName names a payload view mode.
func modeName(m int) string {
	switch m {
	case modeHex:
		return "hex"
	case modeJSON:
		return "JSON"
	case modeBase64:
		return "base64"
	}
	return "text"
}

// openPayload shows the selected packet's payload (p, :payload).
func (a *App) openPayload() {
	if a.cur == nil {
		a.setError("no packet selected")
		return
	}
	a.views.payloadRec = a.cur
	a.renderPayload()
	a.views.payloadBody.ScrollToBeginning()
	a.showPage(pagePayload, a.views.payloadBody)
}

// setPayloadMode switches the payload view's mode (1 2 3 4).
func (a *App) setPayloadMode(m int) {
	a.views.payloadMode = m
	a.renderPayload()
	a.views.payloadBody.ScrollToBeginning()
}

// cyclePayloadMode moves to the next (+1) or previous (-1) mode (Tab).
func (a *App) cyclePayloadMode(step int) {
	a.setPayloadMode(((a.views.payloadMode+step)%numModes + numModes) % numModes)
}

// payloadPart is one block of bytes the payload view shows.
type payloadPart struct {
	title string
	data  []byte
}

// payloadParts returns what the payload view shows of a record: a
// PUBLISH's payload and its plaintext, a CONNECT's will message.
func payloadParts(r *session.Record) []payloadPart {
	var parts []payloadPart
	switch r.Packet.Type {
	case decode.PUBLISH:
		parts = append(parts, payloadPart{"Payload", r.Packet.Payload})
	case decode.CONNECT:
		if f := r.Packet.Field("mqtt.willmsg"); f != nil {
			parts = append(parts, payloadPart{"Will message", f.Bytes})
		}
	}
	if pt := plaintextOf(r); pt != nil {
		title := "Decrypted plaintext"
		if r.Crypto.Decrypt == "" {
			title = "Verified message"
		}
		parts = append(parts, payloadPart{title, pt})
	}
	return parts
}

// renderPayload fills the payload view for the current mode.
func (a *App) renderPayload() {
	v := &a.views
	var head strings.Builder
	for m := 0; m < numModes; m++ {
		label := fmt.Sprintf(" %d %s ", m+1, modeName(m))
		if m == v.payloadMode {
			head.WriteString("[::r]" + label + "[::-]")
		} else {
			head.WriteString(label)
		}
		head.WriteString(" ")
	}
	head.WriteString(" (1-4 or Tab: mode, Esc: back)")
	v.payloadHead.SetText(head.String())

	r := v.payloadRec
	if r == nil {
		v.payloadBody.SetText("")
		return
	}
	title := "Payload of frame " + strconv.Itoa(r.Frame) + ", " + r.Packet.Type.String()
	if r.Packet.Topic != nil {
		title += " on " + sanitize(string(r.Packet.Topic))
	}
	setPaneTitle(v.payloadBody.Box, tview.Escape(title))
	v.payloadBody.SetWrap(v.payloadMode != modeHex)
	parts := payloadParts(r)
	if len(parts) == 0 {
		v.payloadBody.SetText("A " + r.Packet.Type.String() + " packet carries no payload.")
		return
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "── %s (%d bytes) ──\n", p.title, len(p.data))
		b.WriteString(renderMode(p.data, v.payloadMode))
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	v.payloadBody.SetText(b.String())
}

// renderMode renders bytes as text, a hex dump, indented JSON or decoded
// base64.
func renderMode(data []byte, mode int) string {
	if len(data) == 0 {
		return "(empty)\n"
	}
	switch mode {
	case modeHex:
		return hexDump(data)
	case modeJSON:
		var out bytes.Buffer
		if err := json.Indent(&out, bytes.TrimSpace(data), "", "  "); err != nil {
			return "not JSON: " + err.Error() + "\n"
		}
		return sanitizeText(out.Bytes()) + "\n"
	case modeBase64:
		dec, err := decodeBase64(data)
		if err != nil {
			return "not base64: " + err.Error() + "\n"
		}
		if output.Printable(dec) || utf8.Valid(dec) && !bytes.ContainsFunc(dec, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != '\r' }) {
			return fmt.Sprintf("decoded, %d bytes of text:\n%s\n", len(dec), sanitizeText(dec))
		}
		return fmt.Sprintf("decoded, %d bytes:\n%s", len(dec), hexDump(dec))
	}
	return sanitizeText(data) + "\n"
}

// decodeBase64 decodes standard or URL-safe base64, padded or not,
// ignoring white space.
func decodeBase64(data []byte) ([]byte, error) {
	s := strings.Join(strings.Fields(string(data)), "")
	var first error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		dec, err := enc.DecodeString(s)
		if err == nil {
			return dec, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// sanitizeText returns bytes as text, keeping line breaks and tabs and
// escaping other control characters and invalid UTF-8 as \xHH.
func sanitizeText(data []byte) string {
	var b strings.Builder
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "\\x%02x", data[0])
			size = 1
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			// dropped: CR LF line ends
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
		data = data[size:]
	}
	return b.String()
}

// hexDump returns a hex dump: offset, 16 bytes in hex, ASCII.
func hexDump(data []byte) string {
	var b strings.Builder
	ow := max(4, len(strconv.FormatInt(int64(max(len(data)-1, 0)), 16)))
	for off := 0; off < len(data); off += 16 {
		line := []byte(strings.Repeat(" ", hexLineWidth(16, ow)))
		label := strconv.FormatInt(int64(off), 16)
		copy(line[ow-len(label):], label)
		for i := range ow - len(label) {
			line[i] = '0'
		}
		end := min(off+16, len(data))
		for i, c := range data[off:end] {
			hx, ax := hexCellX(i, 16, ow)
			line[hx], line[hx+1] = hexDigits[c>>4], hexDigits[c&15]
			if c < 0x20 || c >= 0x7f {
				c = '.'
			}
			line[ax] = c
		}
		b.Write(bytes.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}
