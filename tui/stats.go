// The statistics view (s, :stats): counts by packet type, the busiest topics and
// clients, and packets per second as a chart.

package tui

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/tui/model"
)

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
	if st.ClientsUncounted > 0 {
		fmt.Fprintf(&b, "  (%d packets of clients past the first 100,000 are not counted)\n", st.ClientsUncounted)
	}
	b.WriteString("\n[::b]Packets over time[::-]\n")
	for _, line := range rateChart(st.PerSecond, width-2, 8) {
		b.WriteString("  " + line + "\n")
	}
	if st.LatePackets > 0 {
		fmt.Fprintf(&b, "  (%d packets after the first 100,000 seconds are counted in the last one)\n", st.LatePackets)
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
