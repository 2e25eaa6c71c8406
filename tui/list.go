package tui

import (
	"strconv"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/tui/model"
)

// Packet list columns.
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
// Row 0 is the header; row i+1 is list position i.
type listContent struct {
	tview.TableContentReadOnly
	a *App

	// One-row memo: tview asks for each column of a row in turn.
	memoIdx int
	memo    model.Row
	memoErr error
}

// GetRowCount returns the header plus the rows of the list.
func (l *listContent) GetRowCount() int { return 1 + l.a.shown() }

// GetColumnCount returns the number of columns.
func (l *listContent) GetColumnCount() int { return numCols }

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
	if col < 0 || col >= numCols || row < 0 {
		return nil
	}
	if row == 0 {
		c := &tview.TableCell{Text: columnTitles()[col], NotSelectable: true, Attributes: tcell.AttrBold | tcell.AttrUnderline}
		if col == colInfo && l.a.infoShift > 0 {
			c.Text += " (from character " + strconv.Itoa(l.a.infoShift+1) + ", h ← to go back)"
		}
		if col == colInfo {
			c.Expansion = 1
		}
		alignCell(c, col)
		return c
	}
	pos := row - 1
	if pos >= l.a.shown() {
		return nil
	}
	r, err := l.row(l.a.recordAt(pos))
	if err != nil {
		if col == colInfo {
			return &tview.TableCell{Text: tview.Escape("[error: " + err.Error() + "]"), Color: tcell.ColorRed}
		}
		return &tview.TableCell{Text: ""}
	}
	text := rowText(&r, col)
	if col == colTime {
		text = l.timeText(&r)
	}
	if col == colInfo && l.a.infoShift > 0 {
		text = tview.Escape(shiftText(sanitize(r.Info), l.a.infoShift))
	}
	c := &tview.TableCell{Text: text}
	alignCell(c, col)
	if col == colInfo {
		c.Expansion = 1
	}
	level := rowLevel(&r)
	switch {
	case level == levelHigh:
		c.Attributes = tcell.AttrBold
		if col == colMark {
			c.Color = tcell.ColorRed
		}
	case level == levelMedium:
		c.Attributes = tcell.AttrBold
	case col == colInfo && (r.Decrypt == "ok" || r.Decrypt == "" && r.Verify == "ok"):
		c.Color = tcell.ColorGreen
	}
	return c
}

// alignCell right-aligns the numeric columns.
func alignCell(c *tview.TableCell, col int) {
	switch col {
	case colNo, colTime, colLen:
		c.Align = tview.AlignRight
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
