// The findings view (!, :findings): what mqtap found, highest severity
// first, each leading to its packet.

package tui

import (
	"fmt"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session"
)

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
