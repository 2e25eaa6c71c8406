// Row colours: rules, each a display filter with a colour, evaluated on the
// record of each visible row of the packet list (the first rule that
// matches wins), and the dark and light themes that choose the colours.
// NO_COLOR (no-color.org) turns colours off: rules then show by their
// attributes only.

package tui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
)

// theme chooses the colours that read on a terminal's background: those
// the rules name (red, green, ...) and the UI's accents.
type theme struct {
	name    string
	palette map[string]tcell.Color // the colour names that follow the theme
	accent  tcell.Color            // the packet list's header
	markBg  tcell.Color            // the background of rows marked with M
}

// themes are the themes :theme and the configuration's theme name. Dark
// terminals get the bright ANSI colours, light ones the normal ones (bright
// yellow, for one, cannot be read on white); both come from the terminal's
// own palette.
var themes = []*theme{
	{
		name: "dark",
		palette: map[string]tcell.Color{
			"red": tcell.ColorRed, "green": tcell.ColorLime, "yellow": tcell.ColorYellow,
			"blue": tcell.ColorBlue, "magenta": tcell.ColorFuchsia, "cyan": tcell.ColorAqua,
			"white": tcell.ColorWhite, "black": tcell.ColorBlack, "gray": tcell.ColorGray, "grey": tcell.ColorGray,
		},
		accent: tcell.ColorAqua,
		markBg: tcell.PaletteColor(238),
	},
	{
		name: "light",
		palette: map[string]tcell.Color{
			"red": tcell.ColorMaroon, "green": tcell.ColorGreen, "yellow": tcell.ColorOlive,
			"blue": tcell.ColorNavy, "magenta": tcell.ColorPurple, "cyan": tcell.ColorTeal,
			"white": tcell.ColorSilver, "black": tcell.ColorBlack, "gray": tcell.ColorGray, "grey": tcell.ColorGray,
		},
		accent: tcell.ColorNavy,
		markBg: tcell.PaletteColor(252),
	},
}

// themeByName returns a theme, nil when there is none of that name ("":
// the dark one).
func themeByName(name string) *theme {
	if name == "" {
		name = "dark"
	}
	for _, t := range themes {
		if t.name == name {
			return t
		}
	}
	return nil
}

// color resolves a colour name of a rule: "" and "default" are the
// terminal's colour, the names of the palette follow the theme, and any
// other tcell colour name or #rrggbb is taken as it is.
func (t *theme) color(name string) (tcell.Color, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch {
	case name == "" || name == "default":
		return tcell.ColorDefault, nil
	case t.palette[name] != 0:
		return t.palette[name], nil
	}
	if _, ok := tcell.ColorNames[name]; ok || strings.HasPrefix(name, "#") && len(name) == 7 {
		if c := tcell.GetColor(name); c != tcell.ColorDefault {
			return c, nil
		}
	}
	return tcell.ColorDefault, fmt.Errorf("unknown colour %q (red, green, yellow, blue, magenta, cyan, white, black, gray, another tcell colour name, or #rrggbb)", name)
}

// colorRule is a compiled colour rule.
type colorRule struct {
	f     *filter.Filter
	style tcell.Style // the colours and bold
	bold  bool
}

// rule compiles a rule for a theme. On error, key names the key at fault
// (".filter", ".fg", ".bg").
func (c *ColorConfig) rule(t *theme) (colorRule, string, error) {
	if strings.TrimSpace(c.Filter) == "" {
		return colorRule{}, "", errors.New("no filter (filter = \"DISPLAY FILTER\")")
	}
	f, err := filter.Compile(c.Filter)
	if err != nil {
		return colorRule{}, ".filter", fmt.Errorf("filter %q: %w", c.Filter, err)
	}
	fg, err := t.color(c.Fg)
	if err != nil {
		return colorRule{}, ".fg", fmt.Errorf("fg: %w", err)
	}
	bg, err := t.color(c.Bg)
	if err != nil {
		return colorRule{}, ".bg", fmt.Errorf("bg: %w", err)
	}
	return colorRule{f: f, style: tcell.StyleDefault.Foreground(fg).Background(bg).Bold(c.Bold), bold: c.Bold}, "", nil
}

// compileRules compiles checked rules for a theme (a rule that does not
// compile is left out).
func compileRules(specs []ColorConfig, t *theme) []colorRule {
	rules := make([]colorRule, 0, len(specs))
	for i := range specs {
		if r, _, err := specs[i].rule(t); err == nil {
			rules = append(rules, r)
		}
	}
	return rules
}

// defaultColorRules returns the default colour rules: malformed packets
// and protocol violations, bad signatures and failed decryptions, findings
// by severity (high, medium), decrypted or verified messages, and TLS or
// WebSocket connections.
func defaultColorRules() []ColorConfig {
	return []ColorConfig{
		{Filter: `mqtap.malformed or mqtap.findings in {"mqtt.malformed" "mqtt.protocol-violation" "websocket.malformed"}`, Fg: "red"},
		{Filter: `mqtap.verify == "bad" or mqtap.decrypt == "failed"`, Fg: "red", Bold: true},
		{Filter: findingsOf(session.SevHigh), Fg: "red", Bold: true},
		{Filter: findingsOf(session.SevMedium), Fg: "yellow", Bold: true},
		{Filter: `mqtap.decrypt == "ok" or mqtap.verify == "ok"`, Fg: "green"},
		{Filter: `tls or websocket`, Fg: "cyan"},
	}
}

// findingsOf returns a filter matching the records with a finding whose
// code has severity sev (from the catalog).
func findingsOf(sev session.Severity) string {
	var codes []string
	for _, c := range session.FindingCodes() {
		if c.Severity() == sev {
			codes = append(codes, quote(c.String()))
		}
	}
	return "mqtap.findings in {" + strings.Join(codes, " ") + "}"
}

// match returns the first rule that matches a record, nil when none does.
func matchRule(rules []colorRule, r *session.Record) *colorRule {
	for i := range rules {
		if rules[i].f.Match(r) {
			return &rules[i]
		}
	}
	return nil
}

// rowStyles returns the style of a packet list row and its style when
// selected: the colours of the rule that matched (nil: none), the
// background of an M mark; with NO_COLOR only attributes (the rule's bold,
// bold for the rows marked "!", reverse for M marks).
func (cs *configState) rowStyles(rule *colorRule, level int, marked bool) (style, selected tcell.Style) {
	style = tcell.StyleDefault
	if cs.noColor {
		if rule != nil && rule.bold || level != levelNone {
			style = style.Bold(true)
		}
		if marked {
			return style.Reverse(true), style.Underline(true)
		}
		return style, style.Reverse(true)
	}
	if rule != nil {
		style = rule.style
	}
	if marked {
		style = style.Background(cs.theme.markBg)
	}
	return style, style.Reverse(true)
}

// headerStyle is the style of the packet list's header.
func (cs *configState) headerStyle() tcell.Style {
	s := tcell.StyleDefault.Bold(true).Underline(true)
	if !cs.noColor {
		s = s.Foreground(cs.theme.accent)
	}
	return s
}

// setTheme switches the theme (:theme dark|light).
func (a *App) setTheme(arg string) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		a.setMessage("theme: " + a.cfg.theme.name + " (:theme dark or :theme light; :save-config keeps it)")
		return
	}
	t := themeByName(arg)
	if t == nil {
		a.setError("unknown theme " + quote(arg) + ": use :theme dark or :theme light")
		return
	}
	a.cfg.theme = t
	a.cfg.rules = compileRules(a.cfg.ruleSpecs(), t)
	a.content.forgetAll()
	msg := "theme: " + t.name + " (:save-config keeps it)"
	if a.cfg.noColor {
		msg += "; NO_COLOR is set: no colours"
	}
	a.setMessage(msg)
}
