// Subscribing to the topic filters on each connection that comes up.

package tap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// subscribe subscribes to the topic filters on the connection that just
// came up.
func (t *tapper) subscribe(cm *autopaho.ConnectionManager, first bool) {
	defer t.workers.Done()
	s := &paho.Subscribe{Subscriptions: make([]paho.SubscribeOptions, len(t.cfg.Topics))}
	for i, f := range t.cfg.Topics {
		s.Subscriptions[i] = paho.SubscribeOptions{Topic: f, QoS: t.cfg.QoS}
	}
	sa, err := cm.Subscribe(t.runCtx, s)
	if t.runCtx.Err() != nil {
		return
	}
	if sa != nil {
		for i, code := range sa.Reasons {
			if code < 0x80 {
				continue
			}
			topic := "?"
			if i < len(t.cfg.Topics) {
				topic = t.cfg.Topics[i]
			}
			reason := ""
			if sa.Properties != nil {
				reason = sa.Properties.ReasonString
			}
			t.fail(&subRefusedError{server: t.display, topic: topic, code: code, reason: reason, err: err})
			return
		}
	}
	if err != nil {
		if errors.Is(err, paho.ErrConnectionLost) || errors.Is(err, autopaho.ConnectionDownError) {
			return // the next connection subscribes again
		}
		err = fmt.Errorf("%s: subscribing to %s: %w", t.display, quoteList(t.cfg.Topics), err)
		if first {
			t.fail(err)
		} else {
			t.logf("%v", err)
		}
		return
	}
	if first {
		var granted []string
		for i, f := range t.cfg.Topics {
			g := fmt.Sprintf("%q", f)
			if i < len(sa.Reasons) && sa.Reasons[i] != t.cfg.QoS {
				g += fmt.Sprintf(" (QoS %d granted)", sa.Reasons[i])
			}
			granted = append(granted, g)
		}
		t.logf("subscribed to %s with QoS %d", strings.Join(granted, ", "), t.cfg.QoS)
	}
}

// quoteList is `"a/#", "b"`.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
