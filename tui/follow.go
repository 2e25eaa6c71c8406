// The follow view (c, :follow): the packets of the selected packet's
// connection, as a conversation.

package tui

import (
	"strconv"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

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
