package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// helpText returns the help view's text, generated from the key table and
// the command table.
func (a *App) helpText() string {
	var b strings.Builder
	b.WriteString("[::b]mqtap: keys and commands[::-]\n")
	b.WriteString("Keys apply in the scope they are listed under; a key of a pane or view comes before the same key of a wider scope.\n")
	width := 0
	for i := range a.keys {
		width = max(width, utf8.RuneCountInString(a.keys[i].keyText()))
	}
	last := scope(255)
	for i := range a.keys {
		k := &a.keys[i]
		if k.Scope != last {
			last = k.Scope
			fmt.Fprintf(&b, "\n[::b]%s[::-]\n", k.Scope.title())
		}
		keys := k.keyText()
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(keys))
		fmt.Fprintf(&b, "  %s%s  %s\n", tview.Escape(keys), pad, tview.Escape(k.Desc))
	}

	b.WriteString("\n[::b]Commands[::-] (type : and the command, Enter runs it, Esc cancels, ↑ ↓ recall)\n")
	cmds := make([]string, len(a.commands))
	cw := 0
	for i, c := range a.commands {
		s := ":" + c.Names[0]
		if c.Args != "" {
			s += " " + c.Args
		}
		if len(c.Names) > 1 {
			s += " (:" + strings.Join(c.Names[1:], " :") + ")"
		}
		cmds[i] = s
		cw = max(cw, utf8.RuneCountInString(s))
	}
	for i, c := range a.commands {
		pad := strings.Repeat(" ", cw-utf8.RuneCountInString(cmds[i]))
		fmt.Fprintf(&b, "  %s%s  %s\n", tview.Escape(cmds[i]), pad, tview.Escape(c.Desc))
	}

	b.WriteString("\n[::b]Packet list[::-]\n")
	b.WriteString("  " + tview.Escape("A \"!\" in the first column marks a high or medium severity finding, a failed decryption, a bad signature or a malformed packet; \"M\" a packet marked with M.") + "\n")
	b.WriteString("  The Info of a decrypted or verified message ends with its plaintext.\n")
	b.WriteString("  Rows are coloured by rules, the first that matches wins: malformed or protocol violation red, bad signature or failed\n")
	b.WriteString("  decryption and high-severity findings red and bold, medium ones yellow and bold, decrypted or verified green, TLS or\n")
	b.WriteString("  WebSocket cyan. NO_COLOR turns colours off (bold rows and the marks stay). :theme dark|light picks colours for the\n")
	b.WriteString("  terminal; the columns, the rules ([[color]] filter fg bg bold) and the theme are kept in the configuration file\n")
	b.WriteString("  (" + tview.Escape(a.configHint()) + ", written by :columns and :save-config).\n")
	b.WriteString("  The mouse selects rows and panes and scrolls; a click on a byte selects its field.\n")
	return b.String()
}

// openHelp opens the help view (?, :help).
func (a *App) openHelp() {
	a.views.help.ScrollToBeginning()
	a.showPage(pageHelp, a.views.help)
}

// newCommandLine builds the ":" command line, which replaces the status
// line while it is open.
func (a *App) newCommandLine() *tview.InputField {
	in := tview.NewInputField().
		SetLabel(":").
		SetLabelStyle(tcell.StyleDefault.Bold(true)).
		SetFieldStyle(tcell.StyleDefault).
		SetPlaceholderStyle(tcell.StyleDefault.Dim(true)).
		SetPlaceholder("command (help lists them)")
	plainBox(in.Box)
	in.SetDoneFunc(func(k tcell.Key) {
		switch k {
		case tcell.KeyEnter:
			line := strings.TrimSpace(in.GetText())
			a.closeCommandLine()
			if line != "" {
				a.cmdHistory = append(a.cmdHistory, line)
				if len(a.cmdHistory) > 100 {
					a.cmdHistory = a.cmdHistory[1:]
				}
				a.runCommand(line)
			}
		case tcell.KeyEscape:
			a.closeCommandLine()
		}
	})
	in.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		switch ev.Key() {
		case tcell.KeyUp:
			a.recallCommand(-1)
			return nil
		case tcell.KeyDown:
			a.recallCommand(1)
			return nil
		case tcell.KeyBackspace, tcell.KeyBackspace2:
			if in.GetText() == "" {
				a.closeCommandLine()
				return nil
			}
		}
		return ev
	})
	return in
}

// openCommandLine opens the command line (:).
func (a *App) openCommandLine() {
	a.prevFocus = a.app.GetFocus()
	a.cmdHistPos = len(a.cmdHistory)
	a.cmdline.SetText("")
	a.bottom.SwitchToPage("cmd")
	a.app.SetFocus(a.cmdline)
}

// closeCommandLine goes back to the status line and the previous focus.
func (a *App) closeCommandLine() {
	a.bottom.SwitchToPage("status")
	if a.prevFocus != nil {
		a.app.SetFocus(a.prevFocus)
	} else {
		a.focusPane(0)
	}
	a.prevFocus = nil
}

// recallCommand steps through the command history.
func (a *App) recallCommand(step int) {
	if len(a.cmdHistory) == 0 {
		return
	}
	a.cmdHistPos = max(0, min(len(a.cmdHistory), a.cmdHistPos+step))
	if a.cmdHistPos == len(a.cmdHistory) {
		a.cmdline.SetText("")
		return
	}
	a.cmdline.SetText(a.cmdHistory[a.cmdHistPos])
}
