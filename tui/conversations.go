// The conversations view (C, :conversations): one row per MQTT connection,
// as Wireshark's Statistics → Conversations, sortable by any column.

package tui

import (
	"slices"
	"strconv"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session/sink/connections"
	"github.com/mqtap/mqtap/tui/model"
)

// convState is the conversations view (App.conv). The model keeps the
// table; the view holds only the order of its rows, sorted in the
// background from a copy of one column, and reads the rows on screen as
// they are drawn (a virtual table), so that a million connections cost
// what ten do.
type convState struct {
	table   *tview.Table
	content *convContent

	cap     *model.Capture // the capture order was made from
	order   []int32        // the model's row indexes, in display order
	omitted int            // connections past the model's cap
	gen     uint64         // the model table's generation order was made at
	done    bool           // the capture had ended then
	loaded  bool           // an order was installed at least once
	sortCol int            // connections.Col*: the column asked for
	desc    bool           // descending order asked for
	byCol   int            // the column order is sorted by
	byDesc  bool
	busy    bool // a sort runs in the background
	again   bool // another one was asked for meanwhile

	// One-row memo: tview asks for each column of a row in turn.
	memoIdx int32
	memo    connections.Conn
	memoOK  bool
}

// convTitle is the view's title.
const convTitle = "Conversations (MQTT connections) │ Enter: filter to the connection │ < >: sort column, r: reverse, click a header: sort │ Esc: back"

// buildConversations builds the view's page.
func (a *App) buildConversations() {
	v := &a.conv
	v.content = &convContent{a: a}
	v.memoIdx = -1
	v.table = newViewTable(convTitle)
	v.table.SetContent(v.content)
	v.table.SetDrawFunc(func(_ tcell.Screen, x, y, w, h int) (int, int, int, int) {
		// Clear tview's follow-the-end mode, which it turns on while every
		// row fits (the "loading…" row): it would show the end once the
		// rows come.
		row, col := v.table.GetOffset()
		v.table.SetOffset(row, col)
		return x + 1, y + 1, max(0, w-2), max(0, h-2)
	})
	v.table.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if action != tview.MouseLeftDoubleClick || !v.table.InRect(ev.Position()) {
			return action, ev
		}
		if row, col := v.table.CellAt(ev.Position()); row == 0 {
			a.sortConversations(col) // a second click on a header: reverse
		} else {
			a.conversationSelected()
		}
		return tview.MouseConsumed, nil
	})
	a.pages.AddPage(pageConversations, v.table, true, false)
}

// openConversations opens the conversations view (C, :conversations).
func (a *App) openConversations() {
	a.showPage(pageConversations, a.conv.table)
	a.loadConversations()
}

// loadConversations sorts the model's connections again, in the
// background, when they changed (or the capture was switched or ended, or
// another order was asked for); the order is installed on the UI
// goroutine. The rows on screen are read again in any case.
func (a *App) loadConversations() {
	v := &a.conv
	v.memoOK = false
	if v.busy {
		v.again = true
		return
	}
	c := a.cap
	_, omitted, gen := c.ConnectionsInfo()
	done := c.State().Done
	col, desc := v.sortCol, v.desc
	if v.loaded && v.cap == c && v.gen == gen && v.done == done && v.byCol == col && v.byDesc == desc {
		v.omitted = omitted
		return
	}
	v.busy = true
	ok := a.spawn(func() {
		keys, gen := c.ConnectionKeys(col)
		order := keys.Order(desc)
		a.post(func() { a.installConversations(c, order, omitted, gen, done, col, desc) })
	})
	if !ok {
		v.busy = false
	}
}

// installConversations shows the rows in order: from the top after a
// new sort, else keeping the selected connection selected.
func (a *App) installConversations(c *model.Capture, order []int32, omitted int, gen uint64, done bool, col int, desc bool) {
	v := &a.conv
	v.busy = false
	sel := int32(-1)
	if i, ok := v.selected(); ok && v.cap == c && v.byCol == col && v.byDesc == desc {
		sel = int32(i)
	}
	v.cap, v.order, v.omitted, v.gen, v.done, v.loaded, v.byCol, v.byDesc = c, order, omitted, gen, done, true, col, desc
	v.memoOK = false
	title := convTitle
	if omitted > 0 {
		title = "Conversations: the first " + strconv.Itoa(len(order)) + " MQTT connections (" + strconv.Itoa(omitted) +
			" more not listed) │ Enter: filter │ < >: sort column, r: reverse │ Esc: back"
	}
	setPaneTitle(v.table.Box, title)
	row := 1
	if sel >= 0 {
		if pos := slices.Index(order, sel); pos >= 0 {
			row = pos + 1
		}
	}
	if len(order) > 0 {
		v.table.Select(row, 0)
	}
	if v.again {
		v.again = false
		a.loadConversations()
	}
}

// selected returns the model's index of the selected connection.
func (v *convState) selected() (int, bool) {
	if v.table == nil {
		return 0, false
	}
	row, _ := v.table.GetSelection()
	if row < 1 || row > len(v.order) {
		return 0, false
	}
	return int(v.order[row-1]), true
}

// row returns the model's connection idx, read once per draw of its row.
func (v *convState) row(idx int32) (*connections.Conn, bool) {
	if !v.memoOK || v.memoIdx != idx {
		v.memo, v.memoOK = v.cap.Connection(int(idx))
		v.memoIdx = idx
	}
	return &v.memo, v.memoOK
}

// conversationSelected filters the packet list to the selected connection
// (Enter).
func (a *App) conversationSelected() {
	v := &a.conv
	i, ok := v.selected()
	if !ok {
		return
	}
	c, ok := v.row(int32(i))
	if !ok {
		return
	}
	if c.Transport == connections.TransportTap {
		a.setError("packets received by mqtap tap have no tcp.stream to filter on")
		return
	}
	a.closeView()
	a.applyFilter("tcp.stream == " + strconv.Itoa(c.Stream))
}

// sortConversations sorts by column col; the same column again reverses
// the order (a click on a header).
func (a *App) sortConversations(col int) {
	v := &a.conv
	if col < 0 || col >= connections.NumCols {
		return
	}
	if col == v.sortCol {
		v.desc = !v.desc
	} else {
		v.sortCol, v.desc = col, false
	}
	a.resortConversations()
}

// moveConversationSort moves the sort column left (-1) or right (+1),
// scrolling the table back when the column went out of view on the left.
func (a *App) moveConversationSort(step int) {
	v := &a.conv
	col := max(0, min(connections.NumCols-1, v.sortCol+step))
	if col == v.sortCol {
		return
	}
	v.sortCol, v.desc = col, false
	if row, off := v.table.GetOffset(); col < off {
		v.table.SetOffset(row, col)
	}
	a.resortConversations()
}

// reverseConversations reverses the sort order (r).
func (a *App) reverseConversations() {
	a.conv.desc = !a.conv.desc
	a.resortConversations()
}

// resortConversations sorts the rows shown again and names the order on
// the status line.
func (a *App) resortConversations() {
	v := &a.conv
	dir := "ascending"
	if v.desc {
		dir = "descending"
	}
	a.setMessage("connections sorted by " + connections.Columns[v.sortCol] + ", " + dir)
	a.loadConversations()
}

// convContent is the view's virtual table: row 0 the header, row i+1 the
// connection at position i of the order.
type convContent struct {
	tview.TableContentReadOnly
	a *App
}

// GetRowCount returns the header plus the connections (or a message).
func (t *convContent) GetRowCount() int { return 1 + max(1, len(t.a.conv.order)) }

// GetColumnCount returns the number of columns.
func (t *convContent) GetColumnCount() int { return connections.NumCols }

// GetCell returns one cell.
func (t *convContent) GetCell(row, col int) *tview.TableCell {
	v := &t.a.conv
	if col < 0 || col >= connections.NumCols || row < 0 {
		return nil
	}
	if row == 0 {
		title := connections.Columns[col]
		switch {
		case col == v.sortCol && v.desc:
			title += " ▼"
		case col == v.sortCol:
			title += " ▲"
		}
		c := cell(title)
		c.Attributes = tcell.AttrBold | tcell.AttrUnderline
		c.NotSelectable = true
		c.Clicked = func() bool {
			t.a.sortConversations(col)
			return true
		}
		return c
	}
	if len(v.order) == 0 {
		if row != 1 || col != 0 {
			return nil
		}
		msg := "no MQTT connections"
		if !v.loaded {
			msg = "loading…"
		}
		c := cell(msg)
		c.NotSelectable = true
		c.Attributes = tcell.AttrDim
		return c
	}
	if row-1 >= len(v.order) {
		return nil
	}
	conn, ok := v.row(v.order[row-1])
	if !ok {
		return &tview.TableCell{}
	}
	c := cell(conn.Cell(col))
	if connections.Numeric(col) {
		c.Align = tview.AlignRight
	}
	switch {
	case col == connections.ColFindings && len(conn.Findings) > 0:
		c.Color = tcell.ColorRed
	case col == connections.ColEnd && (conn.End == connections.EndKeepAlive || conn.Reset):
		c.Color = tcell.ColorRed
	}
	return c
}
