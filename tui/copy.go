// Copying (y, Y): the selected detail line's value, or the whole packet as
// text, to the terminal's clipboard. tcell writes it as an OSC 52
// sequence, which reaches the clipboard of the terminal the user sits at,
// over SSH and through tmux (set-clipboard on).

package tui

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mqtap/mqtap/session/sink/output"
)

// copyLine copies the value of the selected detail line (y): the text
// after "Title: ", or the whole line when it has no title.
func (a *App) copyLine() {
	n := a.tree.GetCurrentNode()
	if n == nil {
		a.setError("no detail line selected")
		return
	}
	ref, ok := n.GetReference().(*nodeRef)
	if !ok {
		a.setError("no detail line selected")
		return
	}
	value := ref.text
	if _, v, found := strings.Cut(value, ": "); found {
		value = v
	}
	a.toClipboard(value, "the value")
}

// copyPacket copies the selected packet as text (Y): its summary line and
// detail tree, as mqtap read -V prints them.
func (a *App) copyPacket() {
	if a.cur == nil {
		a.setError("no packet selected")
		return
	}
	var buf bytes.Buffer
	w, err := output.New(&buf, output.Options{Format: output.Text, Verbose: true})
	if err == nil {
		err = w.Write(a.cur)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		a.setError("copying the packet: " + err.Error())
		return
	}
	a.toClipboard(buf.String(), fmt.Sprintf("frame %d", a.cur.Frame))
}

// toClipboard sets the terminal's clipboard and says what was copied.
func (a *App) toClipboard(s, what string) {
	if a.drawn == nil {
		a.setError("no terminal to copy to")
		return
	}
	a.drawn.SetClipboard([]byte(s))
	first, _, more := strings.Cut(s, "\n")
	if more {
		first += " …"
	}
	a.setMessage(fmt.Sprintf("copied %s (%d bytes): %s", what, len(s), truncate(first, 60)))
}
