package tui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// listCell returns the style and text of the packet list cell where the
// first occurrence of text starts in the row of frame (read from the
// screen); ok is false when the row is not on the screen.
func (u *ui) listCell(frame int, text string) (style tcell.Style, ok bool) {
	cells, w, h := u.contents()
	lines := linesOf(cells, w, h)
	for y := 0; y < h; y++ {
		if strings.Contains(lines[y], " Details ") {
			break
		}
		if frameOf(lines[y]) != frame {
			continue
		}
		runes := []rune(lines[y])
		x := strings.Index(lines[y], text)
		if x < 0 {
			continue
		}
		x = len([]rune(lines[y][:x]))
		if x < len(runes) {
			return cells[y*w+x].Style, true
		}
	}
	return tcell.StyleDefault, false
}

// waitCell waits until the cell of listCell satisfies ok, and returns its
// style.
func (u *ui) waitCell(frame int, text string, what string, ok func(fg, bg tcell.Color, attr tcell.AttrMask) bool) tcell.Style {
	u.t.Helper()
	var st tcell.Style
	u.waitFor("frame "+strconv.Itoa(frame)+" "+what, func(string) bool {
		s, found := u.listCell(frame, text)
		st = s
		fg, bg, attr := s.Decompose()
		return found && ok(fg, bg, attr)
	})
	return st
}

// fgOf returns a style's foreground.
func fgOf(s tcell.Style) tcell.Color {
	fg, _, _ := s.Decompose()
	return fg
}

// fgIs returns a check of the foreground colour.
func fgIs(want tcell.Color) func(fg, bg tcell.Color, attr tcell.AttrMask) bool {
	return func(fg, _ tcell.Color, _ tcell.AttrMask) bool { return fg == want }
}

// TestRowColors checks the default colour rules on real captures, in the
// dark theme: a decrypted message is green, a key exchange answered twice
// (kex.mitm, high) red and bold, malformed packets red and the other
// packets of a WebSocket connection cyan; the header takes the accent
// colour.
func TestRowColors(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 160, 50, Options{})
	u.waitText("115 packets")
	u.typeText(":goto 47")
	u.key(tcell.KeyEnter)
	u.waitSelected(47)
	// Selected, the row keeps its colour, reversed.
	u.waitCell(47, "127.0.0.1", "green and reversed", func(fg, _ tcell.Color, attr tcell.AttrMask) bool {
		return fg == tcell.ColorLime && attr&tcell.AttrReverse != 0
	})
	u.typeText("j")
	u.waitSelected(49)
	u.waitCell(47, "Networking is the best", "green", fgIs(tcell.ColorLime))
	if st, _ := u.listCell(49, "127.0.0.1"); fgOf(st) != tcell.ColorDefault {
		t.Errorf("an acknowledgement has colour %v, want none", fgOf(st))
	}
	hdr := u.headerStyle()
	if fg, _, attr := hdr.Decompose(); fg != tcell.ColorAqua || attr&tcell.AttrBold == 0 {
		t.Errorf("header style %v, want the dark accent, bold", hdr)
	}

	mitm := load(t, "../pcaps/samples/lab-mitm.pcapng", "")
	u = start(t, mitm, 160, 50, Options{})
	u.waitText("done")
	u.typeText(":goto 57")
	u.key(tcell.KeyEnter)
	u.waitSelected(57)
	u.typeText("k")
	u.waitCell(57, "127.0.0.1", "red and bold (kex.mitm)", func(fg, _ tcell.Color, attr tcell.AttrMask) bool {
		return fg == tcell.ColorRed && attr&tcell.AttrBold != 0
	})

	ws := load(t, "../pcaps/samples/ws-plain.pcapng", "")
	u = start(t, ws, 160, 50, Options{})
	u.waitText("done")
	u.typeText(":goto 120")
	u.key(tcell.KeyEnter)
	u.waitSelected(120)
	u.typeText("j")
	u.waitCell(120, "127.0.0.1", "red (malformed)", fgIs(tcell.ColorRed))
	u.typeText("g")
	u.settle()
	first := rows(t, ws)[1].Frame
	u.waitCell(first, "127.0.0.1", "cyan (WebSocket)", fgIs(tcell.ColorAqua))
}

// headerStyle returns the style of the packet list header's "No." cell.
func (u *ui) headerStyle() tcell.Style {
	cells, w, h := u.contents()
	lines := linesOf(cells, w, h)
	for y := 0; y < h; y++ {
		if i := strings.Index(lines[y], "No."); i >= 0 && strings.Contains(lines[y], "Destination") {
			return cells[y*w+len([]rune(lines[y][:i]))].Style
		}
	}
	u.t.Fatal("no packet list header on the screen")
	return tcell.StyleDefault
}

// TestNoColor sets NO_COLOR: no row has a colour, rows with a high
// finding are bold with the "!" mark, and an M mark shows reversed with
// its glyph.
func TestNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	c := load(t, "../pcaps/samples/lab-mitm.pcapng", "")
	u := start(t, c, 160, 50, Options{})
	u.waitText("done")
	u.typeText(":goto 57")
	u.key(tcell.KeyEnter)
	u.waitSelected(57)
	u.typeText("k")
	st := u.waitCell(57, "127.0.0.1", "bold", func(_, _ tcell.Color, attr tcell.AttrMask) bool { return attr&tcell.AttrBold != 0 })
	if fg, bg, _ := st.Decompose(); fg != tcell.ColorDefault || bg != tcell.ColorDefault {
		t.Errorf("NO_COLOR: frame 57 has colours %v on %v", fg, bg)
	}
	if !strings.Contains(u.text(), "║!") {
		t.Errorf("no \"!\" mark in the list:\n%s", u.text())
	}
	if fg, _, _ := u.headerStyle().Decompose(); fg != tcell.ColorDefault {
		t.Errorf("NO_COLOR: header colour %v", fg)
	}
	// An M mark: reversed, with its glyph, and no colour.
	u.typeText(":goto 60")
	u.key(tcell.KeyEnter)
	u.waitSelected(60)
	u.typeText("M")
	u.typeText("k")
	st = u.waitCell(60, "127.0.0.1", "reversed (marked)", func(_, _ tcell.Color, attr tcell.AttrMask) bool { return attr&tcell.AttrReverse != 0 })
	if fg, bg, _ := st.Decompose(); fg != tcell.ColorDefault || bg != tcell.ColorDefault {
		t.Errorf("NO_COLOR: marked frame 60 has colours %v on %v", fg, bg)
	}
	u.waitFor("the M glyph", func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if frameOf(l) == 60 && strings.Contains(l, "║M") {
				return true
			}
		}
		return false
	})
}

// TestLightTheme reads theme = "light" from the configuration file: a
// decrypted row takes the light theme's green, the header its accent;
// :theme dark switches to the dark colours.
func TestLightTheme(t *testing.T) {
	path := configHome(t)
	writeConfig(t, path, "theme = \"light\"\n")
	c := load(t, labSession, labKeys)
	u := start(t, c, 160, 50, Options{})
	u.waitText("115 packets")
	u.typeText(":goto 49")
	u.key(tcell.KeyEnter)
	u.waitSelected(49)
	u.waitCell(47, "127.0.0.1", "green of the light theme", fgIs(tcell.ColorGreen))
	if fg := fgOf(u.headerStyle()); fg != tcell.ColorNavy {
		t.Errorf("light header colour %v, want navy", fg)
	}
	u.typeText(":theme dark")
	u.key(tcell.KeyEnter)
	u.waitText("theme: dark")
	u.waitCell(47, "127.0.0.1", "green of the dark theme", fgIs(tcell.ColorLime))
	u.typeText(":theme blue")
	u.key(tcell.KeyEnter)
	u.waitText(`unknown theme "blue"`)
}

// TestMarkedRowBackground: a row marked with M gets the theme's mark
// background and the M glyph, keeping its rule's colour.
func TestMarkedRowBackground(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 160, 50, Options{})
	u.waitText("115 packets")
	u.typeText(":goto 47")
	u.key(tcell.KeyEnter)
	u.waitSelected(47)
	u.typeText("M")
	u.typeText("j")
	u.waitSelected(49)
	u.waitCell(47, "127.0.0.1", "green on the mark background", func(fg, bg tcell.Color, _ tcell.AttrMask) bool {
		return fg == tcell.ColorLime && bg == themeByName("dark").markBg
	})
}

func TestThemeColors(t *testing.T) {
	dark, light := themeByName("dark"), themeByName("light")
	if themeByName("") != dark || themeByName("sepia") != nil {
		t.Fatal("themeByName")
	}
	for _, name := range []string{"red", "green", "yellow", "blue", "magenta", "cyan"} {
		d, err1 := dark.color(name)
		l, err2 := light.color(name)
		if err1 != nil || err2 != nil || d == l {
			t.Errorf("%s: dark %v, light %v (%v, %v): the themes should differ", name, d, l, err1, err2)
		}
	}
	if c, err := light.color("Yellow"); err != nil || c != tcell.ColorOlive {
		t.Errorf("light yellow = %v, %v; want olive (bright yellow cannot be read on white)", c, err)
	}
	if c, err := dark.color("#ff8800"); err != nil || c != tcell.NewHexColor(0xff8800) {
		t.Errorf("#ff8800 = %v, %v", c, err)
	}
	if c, err := dark.color("darkorange"); err != nil || c != tcell.ColorDarkOrange {
		t.Errorf("darkorange = %v, %v", c, err)
	}
	for _, bad := range []string{"reddish", "#12345", "#zzzzzz"} {
		if _, err := dark.color(bad); err == nil {
			t.Errorf("colour %q accepted", bad)
		}
	}
	// Every default rule compiles, in both themes.
	for _, th := range themes {
		if n := len(compileRules(defaultColorRules(), th)); n != len(defaultColorRules()) {
			t.Errorf("%s: %d of %d default rules compile", th.name, n, len(defaultColorRules()))
		}
	}
}
