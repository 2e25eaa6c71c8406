package topics

import (
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// Row is one message of a History: its frame, capture time and the values
// of its numeric members by column (NaN where it has none).
type Row struct {
	Frame  int
	Time   time.Time
	Values map[string]float64
}

// History keeps one row per message of one topic, published to the
// broker when the capture holds any, else delivered (as Table counts). It
// is not safe for concurrent use.
type History struct {
	Topic     string
	published historyRows
	delivered historyRows
}

type historyRows struct {
	rows    []Row
	paths   []string // in the order first seen
	known   map[string]bool
	dropped int
}

// NewHistory returns the history of topic.
func NewHistory(topic string) *History { return &History{Topic: topic} }

// Observe adds a record: a PUBLISH on the history's topic.
func (h *History) Observe(r *session.Record) {
	if r.Packet.Type != decode.PUBLISH || string(r.Packet.Topic) != h.Topic {
		return
	}
	rs := &h.delivered
	if r.Packet.FromClient {
		rs = &h.published
	}
	if len(rs.rows) >= MaxRows {
		rs.dropped++
		return
	}
	row := Row{Frame: r.Frame, Time: r.Time}
	if _, js, err := r.DecodedValue(); err == nil && js != nil {
		payload.Numbers(js, func(path string, v float64) {
			if row.Values == nil {
				row.Values = map[string]float64{}
			}
			if !rs.known[path] {
				if len(rs.paths) >= MaxMembers {
					return
				}
				if rs.known == nil {
					rs.known = map[string]bool{}
				}
				rs.known[path] = true
				rs.paths = append(rs.paths, path)
			}
			row.Values[path] = v
		})
	}
	rs.rows = append(rs.rows, row)
}

func (h *History) chosen() *historyRows {
	if len(h.published.rows) > 0 || h.published.dropped > 0 {
		return &h.published
	}
	return &h.delivered
}

// Rows returns the rows, in capture order.
func (h *History) Rows() []Row { return h.chosen().rows }

// Members returns the member paths, the columns after frame, time and
// topic, in the order first seen.
func (h *History) Members() []string { return h.chosen().paths }

// Dropped returns the messages left out past MaxRows.
func (h *History) Dropped() int { return h.chosen().dropped }
