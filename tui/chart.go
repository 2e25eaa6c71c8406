// The chart of the topics view: for the selected topic, its messages,
// rate, bytes and format, and each numeric member of its values plotted
// over capture time as a braille line chart with its min, max and last,
// several members side by side when the view is wide.

package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/tui/model"
)

// chartView renders a topic's plot for the size it is drawn at.
type chartView struct {
	*tview.TextView
	plot    *model.TopicPlot
	status  string // what is being done, or went wrong
	w, h    int    // size the text was rendered for
	stale   bool
	members int // members shown at the last render
}

func newChartView() *chartView {
	c := &chartView{TextView: newTextView(true)}
	c.SetWrap(false)
	paneBox(c.Box, "Values")
	return c
}

// set shows a plot (nil: none) and a status line.
func (c *chartView) set(plot *model.TopicPlot, status string) {
	c.plot, c.status, c.stale = plot, status, true
}

// Draw renders the text again when the size or the plot changed.
func (c *chartView) Draw(screen tcell.Screen) {
	_, _, w, h := c.GetInnerRect()
	if w != c.w || h != c.h || c.stale {
		c.w, c.h, c.stale = w, h, false
		c.SetText(c.render(w, h))
	}
	c.TextView.Draw(screen)
}

// chartWidth is the width one member's chart takes at least.
const chartWidth = 44

// render lays the plot out in w×h cells.
func (c *chartView) render(w, h int) string {
	p := c.plot
	var b strings.Builder
	if p == nil {
		b.WriteString(c.status)
		return b.String()
	}
	fmt.Fprintf(&b, "[::b]%s[::-]\n", tview.Escape(truncate(sanitize(p.Topic), max(w, 10))))
	fmt.Fprintf(&b, "%d messages  %.2f/s  %d bytes", p.Messages, p.Rate(), p.Bytes)
	if p.Format != "" {
		fmt.Fprintf(&b, "  %s", p.Format)
	}
	if p.Delivered {
		b.WriteString("  (delivered by the broker)")
	}
	if c.status != "" {
		b.WriteString("  " + c.status)
	}
	b.WriteString("\n")
	if len(p.Members) == 0 {
		b.WriteString("\nno numeric values")
		return b.String()
	}
	fmt.Fprintf(&b, "%s → %s\n", p.First.UTC().Format("15:04:05.000"), p.Last.UTC().Format("15:04:05.000 MST"))
	cols := max(1, min(len(p.Members), w/chartWidth))
	colW := max(w/cols-1, 20)
	rowsOfCharts := (len(p.Members) + cols - 1) / cols
	blockH := max(4, min(12, (h-3)/max(rowsOfCharts, 1)))
	fit := max(1, (h-3)/blockH) * cols
	shown := p.Members[:min(len(p.Members), fit)]
	for start := 0; start < len(shown); start += cols {
		row := shown[start:min(start+cols, len(shown))]
		blocks := make([][]string, len(row))
		for i := range row {
			blocks[i] = memberChart(&row[i], p.First, p.Last, colW, blockH)
		}
		for line := 0; line < blockH; line++ {
			for i := range blocks {
				if i > 0 {
					b.WriteString(" ")
				}
				b.WriteString(blocks[i][line])
			}
			b.WriteString("\n")
		}
	}
	if more := len(p.Members) - len(shown); more > 0 {
		fmt.Fprintf(&b, "… %d more member(s): widen or heighten the view", more)
	}
	c.members = len(shown)
	return b.String()
}

// memberChart returns the lines of one member's chart, each padded to
// width cells: a title line (member, min, max, last) and the plot, its
// max labelled on the first line and its min on the last.
func memberChart(s *model.Series, t0, t1 time.Time, width, height int) []string {
	name := s.Path
	if name == "" {
		name = "(value)"
	}
	title := fmt.Sprintf("[::b]%s[::-] min %s max %s last %s", tview.Escape(truncate(sanitize(name), 24)), label(s.Min), label(s.Max), label(s.Last))
	lines := []string{pad(title, width)}
	lw := max(len(label(s.Max)), len(label(s.Min)))
	plotW := max(width-lw-1, 4)
	plot := braille(s.Times, s.Values, t0, t1, s.Min, s.Max, plotW, height-1)
	for i, l := range plot {
		lab := strings.Repeat(" ", lw)
		switch i {
		case 0:
			lab = fmt.Sprintf("%*s", lw, label(s.Max))
		case len(plot) - 1:
			lab = fmt.Sprintf("%*s", lw, label(s.Min))
		}
		lines = append(lines, pad(lab+"│"+l, width))
	}
	return lines
}

// label formats a value for a chart label.
func label(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// pad pads a line with tags to width visible cells.
func pad(s string, width int) string {
	visible := tview.TaggedStringWidth(s)
	if visible >= width {
		return s
	}
	return s + strings.Repeat(" ", width-visible)
}

// braille plots values over times in a w×h grid of braille cells (2×4
// dots each): x from t0 to t1, y from lo to hi. Each column of dots shows
// the range of the values that fall in it, joined to the column before,
// so the points draw a line.
func braille(times []time.Time, values []float64, t0, t1 time.Time, lo, hi float64, w, h int) []string {
	if h < 1 {
		return nil
	}
	dw, dh := 2*w, 4*h
	grid := make([]byte, w*h) // dot bits per cell
	span := t1.Sub(t0).Seconds()
	xOf := func(t time.Time) int {
		if span <= 0 {
			return dw - 1
		}
		return min(dw-1, max(0, int(t.Sub(t0).Seconds()/span*float64(dw-1)+0.5)))
	}
	yOf := func(v float64) int {
		if hi <= lo || math.IsNaN(v) {
			return dh / 2
		}
		return min(dh-1, max(0, dh-1-int((v-lo)/(hi-lo)*float64(dh-1)+0.5)))
	}
	set := func(x, y int) {
		bits := [4][2]byte{{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}}
		grid[(y/4)*w+x/2] |= bits[y%4][x%2]
	}
	prevX, prevY := -1, 0
	for i, t := range times {
		x, y := xOf(t), yOf(values[i])
		if prevX >= 0 && x > prevX { // join to the previous column
			for xx := prevX + 1; xx <= x; xx++ {
				yy := prevY + (y-prevY)*(xx-prevX)/(x-prevX)
				from, to := min(prevY, yy), max(prevY, yy)
				for k := from; k <= to; k++ {
					set(xx, k)
				}
				prevY = yy
			}
		}
		set(x, y)
		if prevX == x { // several points in one column: their range
			for k := min(prevY, y); k <= max(prevY, y); k++ {
				set(x, k)
			}
		}
		prevX, prevY = x, y
	}
	lines := make([]string, h)
	for row := 0; row < h; row++ {
		var sb strings.Builder
		for col := 0; col < w; col++ {
			sb.WriteRune(rune(0x2800 + int(grid[row*w+col])))
		}
		lines[row] = sb.String()
	}
	return lines
}
