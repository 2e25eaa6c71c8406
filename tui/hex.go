package tui

import (
	"strconv"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// hexView is the packet bytes pane: offset, hex bytes and ASCII of the raw
// MQTT packet and, when there is one, a second block under its heading: the
// plaintext of a decrypted payload, or the WebSocket frame as on the wire;
// beside the raw bytes when the pane is wide enough, else below them. The
// bytes of the selected detail tree field are shown in reverse video.
type hexView struct {
	*tview.Box
	raw, dec []byte
	heading  string // of dec

	hiOff, hiLen int  // highlighted range
	hiDec        bool // the range is in dec
	offset       int  // first line shown
	follow       bool // scroll the highlighted range into view at the next draw
	lastHeight   int  // inner height at the last draw, for paging

	// onClick is called with the offset of a clicked byte.
	onClick func(off int, decrypted bool)
}

func newHexView() *hexView {
	return &hexView{Box: tview.NewBox()}
}

// setData shows new bytes, scrolled to the top: the packet's, and a second
// block under heading (nil for none).
func (h *hexView) setData(raw, dec []byte, heading string) {
	h.raw, h.dec, h.heading = raw, dec, heading
	h.hiOff, h.hiLen, h.hiDec = 0, 0, false
	h.offset = 0
}

// highlight marks n bytes from off (in the decrypted block when dec) and
// scrolls them into view.
func (h *hexView) highlight(off, n int, dec bool) {
	h.hiOff, h.hiLen, h.hiDec = off, n, dec
	h.follow = n > 0
}

// offsetWidth returns the number of hex digits of the offsets (at least 4).
func offsetWidth(size int) int {
	return max(4, len(strconv.FormatInt(int64(max(size-1, 0)), 16)))
}

// perLine returns how many bytes a line shows in width columns.
func perLine(width, ow int) int {
	switch {
	case width >= hexLineWidth(16, ow):
		return 16
	case width >= hexLineWidth(8, ow):
		return 8
	}
	return 4
}

// hexLineWidth returns the width of a line of n bytes: an offset of ow
// digits, two spaces, n hex bytes separated by spaces (with one more space
// after each group of 8), two spaces, n ASCII characters.
func hexLineWidth(n, ow int) int {
	return ow + 2 + n*3 - 1 + (n-1)/8 + 2 + n
}

// hexCellX returns the column of byte i of a line of n bytes (its first hex
// digit) and the column of its ASCII character, relative to the line's
// start.
func hexCellX(i, n, ow int) (hexX, asciiX int) {
	hexX = ow + 2 + i*3 + i/8
	asciiX = ow + 2 + n*3 - 1 + (n-1)/8 + 2 + i
	return hexX, asciiX
}

// hexSeg is what one screen line shows of one block: a heading, or the
// bytes from start.
type hexSeg struct {
	x       int // column of the segment within the line
	heading string
	block   []byte
	dec     bool
	start   int
	n       int // bytes per line
	ow      int // offset digits
}

// gap is the space between the raw and the decrypted columns.
const gap = 3

// layout returns the pane's lines for a width: each line has one segment,
// or two when the decrypted bytes are shown beside the raw ones.
func (h *hexView) layout(width int) [][]hexSeg {
	rawOW, decOW := offsetWidth(len(h.raw)), offsetWidth(len(h.dec))
	dump := func(b []byte, dec bool, x, n, ow int) []hexSeg {
		var segs []hexSeg
		for off := 0; off < len(b); off += n {
			segs = append(segs, hexSeg{x: x, block: b, dec: dec, start: off, n: n, ow: ow})
		}
		return segs
	}
	heading := h.heading
	rawW := hexLineWidth(16, rawOW)
	if h.dec != nil && width >= rawW+gap+hexLineWidth(8, decOW) {
		// Side by side.
		left := dump(h.raw, false, 0, 16, rawOW)
		rightN := 8
		if width >= rawW+gap+hexLineWidth(16, decOW) {
			rightN = 16
		}
		right := append([]hexSeg{{x: rawW + gap, heading: heading}}, dump(h.dec, true, rawW+gap, rightN, decOW)...)
		lines := make([][]hexSeg, max(len(left), len(right)))
		for i := range lines {
			if i < len(left) {
				lines[i] = append(lines[i], left[i])
			}
			if i < len(right) {
				lines[i] = append(lines[i], right[i])
			}
		}
		return lines
	}
	var lines [][]hexSeg
	for _, s := range dump(h.raw, false, 0, perLine(width, rawOW), rawOW) {
		lines = append(lines, []hexSeg{s})
	}
	if h.dec != nil {
		lines = append(lines, nil, []hexSeg{{heading: heading}})
		for _, s := range dump(h.dec, true, 0, perLine(width, decOW), decOW) {
			lines = append(lines, []hexSeg{s})
		}
	}
	return lines
}

// lineCount returns the number of lines at the current width.
func (h *hexView) lineCount() int {
	_, _, w, _ := h.GetInnerRect()
	return len(h.layout(w))
}

// page returns the number of lines a page down scrolls.
func (h *hexView) page() int {
	return max(1, h.lastHeight-1)
}

// scroll scrolls by delta lines.
func (h *hexView) scroll(delta int) {
	h.follow = false
	h.offset = max(0, min(h.lineCount()-1, h.offset+delta))
}

// scrollTo scrolls to the top (0) or the bottom (-1).
func (h *hexView) scrollTo(line int) {
	h.follow = false
	if line < 0 {
		line = max(0, h.lineCount()-h.lastHeight)
	}
	h.offset = line
}

// Draw draws the pane.
func (h *hexView) Draw(screen tcell.Screen) {
	h.DrawForSubclass(screen, h)
	x, y, width, height := h.GetInnerRect()
	if width <= 0 || height <= 0 {
		return
	}
	h.lastHeight = height
	lines := h.layout(width)
	if h.follow {
		h.follow = false
	find:
		for i, segs := range lines {
			for _, s := range segs {
				if s.block != nil && s.dec == h.hiDec && h.hiOff < s.start+s.n && h.hiOff+h.hiLen > s.start {
					// Show the range's first line; scroll only when it is out of view.
					if i < h.offset || i >= h.offset+height {
						h.offset = max(0, i-1)
					}
					break find
				}
			}
		}
	}
	h.offset = max(0, min(h.offset, len(lines)-1))
	for row := 0; row < height && h.offset+row < len(lines); row++ {
		for _, s := range lines[h.offset+row] {
			h.drawSeg(screen, s, x, y+row, width)
		}
	}
}

// drawSeg draws one segment of a line at screen row ly.
func (h *hexView) drawSeg(screen tcell.Screen, s hexSeg, x, ly, width int) {
	if s.block == nil {
		if s.heading != "" && s.x < width {
			tview.Print(screen, "[::b]"+s.heading+"[::-]", x+s.x, ly, width-s.x, tview.AlignLeft, tcell.ColorDefault)
		}
		return
	}
	plain := tcell.StyleDefault
	hi := tcell.StyleDefault.Reverse(true)
	put := func(cx int, c rune, style tcell.Style) {
		if cx >= 0 && s.x+cx < width {
			screen.SetContent(x+s.x+cx, ly, c, nil, style)
		}
	}
	label := strconv.FormatInt(int64(s.start), 16)
	for len(label) < s.ow {
		label = "0" + label
	}
	for i, c := range label {
		put(i, c, plain)
	}
	count := min(s.n, len(s.block)-s.start)
	for i := 0; i < count; i++ {
		off := s.start + i
		b := s.block[off]
		marked := s.dec == h.hiDec && off >= h.hiOff && off < h.hiOff+h.hiLen
		style := plain
		if marked {
			style = hi
		}
		hx, ax := hexCellX(i, s.n, s.ow)
		put(hx, rune(hexDigits[b>>4]), style)
		put(hx+1, rune(hexDigits[b&15]), style)
		// The gap to the next byte is marked too when both bytes are.
		if marked && i+1 < count && off+1 < h.hiOff+h.hiLen {
			put(hx+2, ' ', hi)
			if (i+1)%8 == 0 {
				put(hx+3, ' ', hi)
			}
		}
		c := rune(b)
		if b < 0x20 || b >= 0x7f {
			c = '.'
		}
		put(ax, c, style)
	}
}

// InputHandler consumes nothing: the key table handles the pane's keys.
func (h *hexView) InputHandler() func(event *tcell.EventKey, setFocus func(p tview.Primitive)) {
	return h.WrapInputHandler(func(*tcell.EventKey, func(tview.Primitive)) {})
}

// MouseHandler scrolls with the wheel and selects the field of a clicked
// byte.
func (h *hexView) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return h.WrapMouseHandler(func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
		mx, my := event.Position()
		if !h.InRect(mx, my) {
			return false, nil
		}
		switch action {
		case tview.MouseScrollUp:
			h.scroll(-1)
			return true, nil
		case tview.MouseScrollDown:
			h.scroll(1)
			return true, nil
		case tview.MouseLeftClick:
			setFocus(h)
			h.click(mx, my)
			return true, nil
		case tview.MouseLeftDown:
			setFocus(h)
			return true, nil
		}
		return false, nil
	})
}

// click reports the byte under a click to onClick.
func (h *hexView) click(mx, my int) {
	x, y, width, _ := h.GetInnerRect()
	lines := h.layout(width)
	line := h.offset + my - y
	if line < 0 || line >= len(lines) || h.onClick == nil {
		return
	}
	for _, s := range lines[line] {
		if s.block == nil {
			continue
		}
		cx := mx - x - s.x
		for i := 0; i < s.n && s.start+i < len(s.block); i++ {
			hx, ax := hexCellX(i, s.n, s.ow)
			if cx == hx || cx == hx+1 || cx == ax {
				h.onClick(s.start+i, s.dec)
				return
			}
		}
	}
}
