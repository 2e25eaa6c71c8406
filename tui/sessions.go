// The sessions view (S, :sessions): the key exchanges mqtap rebuilt, and
// the packets of one of them.

package tui

import (
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// openSessions opens the sessions view (S, :sessions).
func (a *App) openSessions() {
	a.fillSessions()
	a.showPage(pageSessions, a.views.sessions)
}

func (a *App) fillSessions() {
	t := a.views.sessions
	row, _ := t.GetSelection()
	t.Clear()
	a.views.sessionData = a.cap.Sessions()
	if len(a.views.sessionData) == 0 {
		emptyRow(t, "no key exchanges in this capture")
		return
	}
	header(t, "Session", "NetID", "Requester", "Responders", "Status", "KDF", "Key", "Decrypted", "Failed", "No key", "Findings", "Frame")
	for i, s := range a.views.sessionData {
		status := cell(s.Status)
		switch s.Status {
		case "ok":
			status.Color = tcell.ColorGreen
		case "failed", "unanswered":
			status.Color = tcell.ColorRed
		}
		key := s.KeySide
		if s.GroupBits > 0 {
			key = strings.TrimSpace(key + " " + strconv.Itoa(s.GroupBits) + "-bit")
		}
		findings := cell(strings.Join(s.Findings, ", "))
		if len(s.Findings) > 0 {
			findings.Color = tcell.ColorRed
		}
		cells := []*tview.TableCell{
			cell(s.ID), cell(s.NetID), cell(s.Requester), cell(strings.Join(s.Responders, ", ")), status,
			cell(s.KDF), cell(key), num(s.Decrypted), num(s.Failed), num(s.NoKey), findings, num(s.Frame),
		}
		for j, c := range cells {
			t.SetCell(i+1, j, c)
		}
	}
	t.Select(max(1, min(row, len(a.views.sessionData))), 0)
}

// sessionSelected filters the packet list on the selected session (Enter).
func (a *App) sessionSelected() {
	row, _ := a.views.sessions.GetSelection()
	if row < 1 || row > len(a.views.sessionData) {
		return
	}
	a.closeView()
	a.applyFilter("mqtap.session == " + quote(a.views.sessionData[row-1].ID))
}
