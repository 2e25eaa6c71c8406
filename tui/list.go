package tui

import (
	"strconv"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/tui/model"
)

// Kinds of packet list columns: the mark column, then the built-in ones
// (see columns.go for the columns of fields).
const (
	colMark = iota
	colNo
	colTime
	colSrc
	colDst
	colType
	colLen
	colInfo
	numCols
)

// columnTitles returns the packet list's header.
func columnTitles() [numCols]string {
	return [numCols]string{" ", "No.", "Time", "Source", "Destination", "Type", "Length", "Info"}
}

// listContent is the packet list as a virtual table: it asks the model for
// the rows tview draws (the visible ones), never for the whole capture.
// Row 0 is the header; row i+1 is list position i. Column 0 is the mark
// column, then the configured columns (App.cfg.cols), Info last.
type listContent struct {
	tview.TableContentReadOnly
	a *App

	// One-row memo: tview asks for each column of a row in turn.
	memoIdx int
	memo    model.Row
	memoErr error

	// The colour rule and field column values of the rows' records.
	extras extraMemo
}

// GetRowCount returns the header plus the rows of the list.
func (l *listContent) GetRowCount() int { return 1 + l.a.shown() }

// GetColumnCount returns the number of columns.
func (l *listContent) GetColumnCount() int { return 1 + len(l.a.cfg.cols) }

// forget drops the memo (the list changed).
func (l *listContent) forget() { l.memoIdx = -1 }

// row returns the model's row of record idx.
func (l *listContent) row(idx int) (model.Row, error) {
	if idx != l.memoIdx {
		l.memo, l.memoErr = l.a.cap.Row(idx)
		l.memoIdx = idx
	}
	if l.memoErr != nil {
		l.a.rowErr = l.memoErr
	}
	return l.memo, l.memoErr
}

// GetCell returns the cell of one column of one row.
func (l *listContent) GetCell(row, col int) *tview.TableCell {
	cols := l.a.cfg.cols
	if col < 0 || col > len(cols) || row < 0 {
		return nil
	}
	c := column{kind: colMark, title: " "}
	if col > 0 {
		c = cols[col-1]
	}
	if row == 0 {
		return l.headerCell(c)
	}
	pos := row - 1
	if pos >= l.a.shown() {
		return nil
	}
	idx := l.a.recordAt(pos)
	r, err := l.row(idx)
	if err != nil {
		if c.kind == colInfo {
			return &tview.TableCell{Text: tview.Escape("[error: " + err.Error() + "]"), Color: tcell.ColorRed}
		}
		return &tview.TableCell{Text: ""}
	}
	ex := l.extra(idx)
	if ex.err != nil {
		l.a.rowErr = ex.err
	}
	marked := l.a.isMarked(idx)
	var text string
	switch {
	case c.kind == colMark && marked:
		text = "M"
	case c.kind == colCustom:
		if col-1 < len(ex.values) {
			text = ex.values[col-1]
		}
	case c.kind == colTime:
		text = l.timeText(&r)
	case c.kind == colInfo && l.a.infoShift > 0:
		text = tview.Escape(shiftText(sanitize(r.Info), l.a.infoShift))
	default:
		text = rowText(&r, c.kind)
	}
	style, selected := l.a.cfg.rowStyles(ex.rule, rowLevel(&r), marked)
	cell := &tview.TableCell{Text: text, Style: style, SelectedStyle: selected}
	layoutCell(cell, c.kind)
	return cell
}

// headerCell returns the header cell of a column.
func (l *listContent) headerCell(c column) *tview.TableCell {
	cell := &tview.TableCell{Text: tview.Escape(c.header()), NotSelectable: true, Style: l.a.cfg.headerStyle()}
	if c.kind == colInfo && l.a.infoShift > 0 {
		cell.Text += " (from character " + strconv.Itoa(l.a.infoShift+1) + ", h ← to go back)"
	}
	layoutCell(cell, c.kind)
	return cell
}

// layoutCell aligns a cell of a column of that kind, right for the
// numeric columns, and sizes it: Info takes the width left, a field column
// is at most customWidth wide.
func layoutCell(c *tview.TableCell, kind int) {
	switch kind {
	case colNo, colTime, colLen:
		c.Align = tview.AlignRight
	case colInfo:
		c.Expansion = 1
	case colCustom:
		c.MaxWidth = customWidth
	}
}

// Row marks.
const (
	levelNone = iota
	levelMedium
	levelHigh
)

// rowLevel says how a row is marked: high for a high-severity finding, a
// failed decryption, a bad signature or a malformed packet; medium for a
// medium-severity finding.
func rowLevel(r *model.Row) int {
	switch {
	case r.Findings > 0 && r.Severity >= session.SevHigh, r.Decrypt == "failed", r.Verify == "bad", r.Malformed:
		return levelHigh
	case r.Findings > 0 && r.Severity >= session.SevMedium:
		return levelMedium
	}
	return levelNone
}

// rowText returns the text of one column of a row, escaped for tview.
func rowText(r *model.Row, col int) string {
	switch col {
	case colMark:
		if rowLevel(r) != levelNone {
			return "!"
		}
		return " "
	case colNo:
		return strconv.Itoa(r.Frame)
	case colTime:
		return formatSeconds(r.Relative)
	case colSrc:
		return tview.Escape(r.Src)
	case colDst:
		return tview.Escape(r.Dst)
	case colType:
		return r.Type.String()
	case colLen:
		return strconv.Itoa(r.Length)
	case colInfo:
		return tview.Escape(sanitize(r.Info))
	}
	return ""
}

// Time formats of the Time column (t cycles them), as tshark's -t.
const (
	timeRelative = iota // -t r: seconds since the first packet
	timeAbsolute        // -t a: the time of day
	timeDelta           // -t d: seconds since the previous packet captured
	numTimeFormats
)

// timeFormatNames name the time formats on the status line.
var timeFormatNames = [numTimeFormats]string{"relative (seconds since the first packet)", "absolute (time of day, UTC)", "delta (seconds since the previous packet)"}

// timeText is the Time column of a row in the App's time format.
func (l *listContent) timeText(r *model.Row) string {
	switch l.a.timeFormat {
	case timeAbsolute:
		return r.Time.UTC().Format("15:04:05.000000")
	case timeDelta:
		if r.Index == 0 {
			return formatSeconds(0)
		}
		prev, err := l.a.cap.Row(r.Index - 1)
		if err != nil {
			return "?"
		}
		return formatSeconds(r.Time.Sub(prev.Time))
	}
	return formatSeconds(r.Relative)
}

// cycleTimeFormat moves the Time column to the next format (t).
func (a *App) cycleTimeFormat() {
	a.timeFormat = (a.timeFormat + 1) % numTimeFormats
	a.content.forget()
	a.setMessage("Time: " + timeFormatNames[a.timeFormat])
}

// formatSeconds formats a duration as seconds with six decimals, as the
// Time column of tshark.
func formatSeconds(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	us := (int64(d) + 500) / 1000
	frac := strconv.FormatInt(us%1e6, 10)
	for len(frac) < 6 {
		frac = "0" + frac
	}
	s := strconv.FormatInt(us/1e6, 10) + "." + frac
	if neg {
		s = "-" + s
	}
	return s
}

// sanitize replaces control characters so that text cannot drive the
// terminal or break a line.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

const hexDigits = "0123456789abcdef"

// infoStep is how many characters h and l scroll the Info column.
const infoStep = 16

// shiftInfo scrolls the Info column by infoStep characters right (+1) or
// left (-1), so that long Info texts (plaintexts) can be read in the list.
func (a *App) shiftInfo(dir int) {
	a.infoShift = max(0, a.infoShift+dir*infoStep)
	a.content.forget()
}

// shiftText drops the first n characters of s, marking the cut with "…".
func shiftText(s string, n int) string {
	if n <= 0 {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return "…" + s[k:]
		}
		i++
	}
	return "…"
}
