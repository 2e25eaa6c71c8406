// The topics view (T, :topics): the tree of the topics published, with
// each topic's last message, and a display filter for a subtree.

package tui

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/tui/model"
)

// openTopics opens the topics view (T, :topics).
func (a *App) openTopics() {
	a.fillTopics()
	a.showPage(pageTopics, a.views.topicsPage)
	a.app.SetFocus(a.views.topics)
	a.plotTopic()
}

// plotTopic plots the values of the selected topic in the background,
// continuing the current plot when the topic is the same (a live capture
// grew), else starting anew.
func (a *App) plotTopic() {
	v := &a.views
	_, tn := a.currentTopic()
	if tn == nil || tn.Messages == 0 {
		v.plotter = nil
		v.plotGen++
		v.chart.set(nil, "Select a topic with messages to plot its values.")
		return
	}
	if v.plotter == nil || v.plotter.Topic() != tn.Path {
		p, err := model.NewPlotter(tn.Path)
		if err != nil {
			v.chart.set(nil, err.Error())
			return
		}
		v.plotter, v.plotBusy = p, false
		v.plotGen++
		v.chart.set(nil, "reading the values of "+sanitize(tn.Path)+"…")
	}
	if v.plotBusy {
		return // the next refresh continues
	}
	v.plotBusy = true
	p, gen := v.plotter, v.plotGen
	a.spawn(func() {
		plot, err := p.Update(a.ctx, a.cap)
		a.post(func() {
			if v.plotGen != gen {
				return
			}
			v.plotBusy = false
			if err != nil {
				v.chart.set(nil, "reading the values: "+err.Error())
				return
			}
			v.chart.set(plot, "")
		})
	})
}

func (a *App) fillTopics() {
	t := a.views.topics
	current := ""
	if n := t.GetCurrentNode(); n != nil {
		if tn, ok := n.GetReference().(*model.TopicNode); ok {
			current = tn.Path
		}
	}
	top := a.cap.Topics()
	if top == nil {
		top = &model.TopicNode{LastRecord: -1}
	}
	var sel *tview.TreeNode
	var openLevels int
	var build func(tn *model.TopicNode, level int) *tview.TreeNode
	build = func(tn *model.TopicNode, level int) *tview.TreeNode {
		n := tview.NewTreeNode("").
			SetReference(tn).
			SetTextStyle(tcell.StyleDefault).
			SetSelectedTextStyle(tcell.StyleDefault.Reverse(true))
		if level == 0 {
			n.SetTextStyle(tcell.StyleDefault.Bold(true))
		}
		open, ok := a.views.topicOpen[tn.Path]
		if !ok {
			open = level < openLevels
		}
		n.SetExpanded(open || level == 0)
		if tn.Path == current && sel == nil {
			sel = n
		}
		for _, c := range tn.Children {
			n.AddChild(build(c, level+1))
		}
		markTopic(n)
		return n
	}
	count := 0
	var countNodes func(tn *model.TopicNode)
	countNodes = func(tn *model.TopicNode) {
		count++
		for _, c := range tn.Children {
			countNodes(c)
		}
	}
	countNodes(top)
	openLevels = 2
	if count <= 200 {
		openLevels = 1 << 30 // a small tree opens fully
	}
	root := build(top, 0)
	t.SetRoot(root)
	if sel == nil {
		sel = root
	}
	t.SetCurrentNode(sel)
}

// topicText returns a topic tree line: name, PUBLISH counts (this topic /
// with the topics below), retained flag and the last value.
func topicText(tn *model.TopicNode) string {
	if tn.Path == "" && tn.Name == "" && tn.Uncounted > 0 {
		return fmt.Sprintf("All topics  %d messages (and %d on topics past the first 100,000, not counted here)", tn.Total, tn.Uncounted)
	}
	if tn.Path == "" {
		return fmt.Sprintf("All topics  %d messages", tn.Total)
	}
	name := tn.Name
	if name == "" {
		name = `""`
	}
	s := fmt.Sprintf("%s  %d/%d", sanitize(name), tn.Messages, tn.Total)
	if tn.Retained {
		s += " R"
	}
	if tn.Messages > 0 {
		last := tn.Last
		if tn.LastHex {
			last = "0x" + last
		}
		s += "  = " + strconv.Quote(truncate(last, 40))
	}
	return s
}

// currentTopic returns the selected topic tree node.
func (a *App) currentTopic() (*tview.TreeNode, *model.TopicNode) {
	n := a.views.topics.GetCurrentNode()
	if n == nil {
		return nil, nil
	}
	tn, _ := n.GetReference().(*model.TopicNode)
	return n, tn
}

// topicSelected jumps to the last message on the selected topic, or
// expands or collapses a topic without messages of its own (Enter).
func (a *App) topicSelected() {
	n, tn := a.currentTopic()
	if tn == nil {
		return
	}
	if tn.LastRecord >= 0 && tn.Messages > 0 {
		a.jumpToRecord(tn.LastRecord)
		return
	}
	if len(n.GetChildren()) > 0 {
		a.setTopicOpen(n, tn, !n.IsExpanded())
	}
}

// topicToggle expands or collapses the selected topic (Space).
func (a *App) topicToggle() {
	n, tn := a.currentTopic()
	if tn != nil && len(n.GetChildren()) > 0 {
		a.setTopicOpen(n, tn, !n.IsExpanded())
	}
}

// topicExpand expands (→) or collapses (←) the selected topic; ← on a
// collapsed topic goes to its parent.
func (a *App) topicExpand(open bool) {
	n, tn := a.currentTopic()
	if tn == nil {
		return
	}
	if len(n.GetChildren()) > 0 && n.IsExpanded() != open {
		a.setTopicOpen(n, tn, open)
		return
	}
	if !open {
		if path := a.views.topics.GetPath(n); len(path) >= 2 {
			a.views.topics.SetCurrentNode(path[len(path)-2])
		}
	}
}

func (a *App) setTopicOpen(n *tview.TreeNode, tn *model.TopicNode, open bool) {
	n.SetExpanded(open)
	markTopic(n)
	a.views.topicOpen[tn.Path] = open
}

// markTopic sets a topic tree node's text, with its expansion marker.
func markTopic(n *tview.TreeNode) {
	if tn, ok := n.GetReference().(*model.TopicNode); ok {
		n.SetText(expansionMarker(n) + tview.Escape(topicText(tn)))
	}
}

// topicFilter shows the packets of the selected topic (f): the exact topic,
// and for a topic with subtopics every topic below it too.
func (a *App) topicFilter() {
	_, tn := a.currentTopic()
	if tn == nil {
		return
	}
	a.closeView()
	if tn.Path == "" {
		a.clearFilter()
		return
	}
	if len(tn.Children) == 0 {
		a.applyFilter("mqtt.topic == " + quote(tn.Path))
		return
	}
	re := quote("^" + regexp.QuoteMeta(tn.Path) + "/")
	if tn.Messages > 0 {
		a.applyFilter("mqtt.topic == " + quote(tn.Path) + " or mqtt.topic matches " + re)
		return
	}
	a.applyFilter("mqtt.topic matches " + re)
}
