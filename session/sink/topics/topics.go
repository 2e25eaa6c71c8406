// Package topics is the sink that sums up the values of a capture per
// topic (mqtap topics).
//
// A Table observes the records after the analysis chain and keeps, per
// topic, the PUBLISH messages and payload bytes, the first and last
// capture time, the payload format and, for every numeric member of the
// decoded value (booleans count as 0 and 1), its minimum, maximum, mean
// and last value. A History keeps one row per message of one topic, with
// its members as columns.
//
// A message crosses a capture twice when the capture holds both the
// publisher's connection and a subscriber's: once published to the broker
// and once delivered. A topic is summed up from the messages published to
// the broker when the capture holds any, else from those delivered (a
// capture of subscribers only, or mqtap tap), so no message counts twice.
//
// The table holds at most MaxTopics topics and MaxMembers members per
// topic, a history MaxRows rows; what is left out past them is counted and
// reported (Table.Dropped, History.Dropped).
package topics

import (
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// Bounds of what a Table and a History keep.
const (
	MaxTopics  = 100_000
	MaxMembers = 256
	MaxRows    = 1_000_000
)

// Member is one numeric member of a topic's values: its dotted path
// within the value ("" for a value that is itself a number), and its
// statistics.
type Member struct {
	Path          string
	Count         int
	Min, Max, Sum float64
	Last          float64
}

// Mean is the member's mean value.
func (m *Member) Mean() float64 {
	if m.Count == 0 {
		return 0
	}
	return m.Sum / float64(m.Count)
}

// Stats is what a topic's messages in one direction add up to.
type Stats struct {
	Messages    int
	Bytes       int
	First, Last time.Time
	Format      payload.Format // of the last message with a value
	Members     []*Member      // in the order first seen
	byPath      map[string]*Member
	droppedMem  int
}

// Topic is one topic of the table.
type Topic struct {
	Name      string
	published Stats // PUBLISH sent to the broker
	delivered Stats // PUBLISH sent by the broker
}

// Stats returns the statistics of the topic: those of the messages
// published to the broker when the capture holds any, else those of the
// messages delivered.
func (t *Topic) Stats() *Stats {
	if t.published.Messages > 0 {
		return &t.published
	}
	return &t.delivered
}

// Published reports whether Stats are those of the messages published to
// the broker (else those delivered by it).
func (t *Topic) Published() bool { return t.published.Messages > 0 }

// Table sums up a capture's values per topic. It is not safe for
// concurrent use.
type Table struct {
	topics  map[string]*Topic
	order   []*Topic
	dropped int // messages of topics past MaxTopics
	members int // members past MaxMembers, over all topics
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{topics: map[string]*Topic{}} }

// Observe adds a record to the table: PUBLISH only.
func (t *Table) Observe(r *session.Record) {
	if r.Packet.Type != decode.PUBLISH || r.Packet.Topic == nil {
		return
	}
	tp := t.topics[string(r.Packet.Topic)]
	if tp == nil {
		if len(t.order) >= MaxTopics {
			t.dropped++
			return
		}
		tp = &Topic{Name: string(r.Packet.Topic)}
		t.topics[tp.Name] = tp
		t.order = append(t.order, tp)
	}
	s := &tp.delivered
	if r.Packet.FromClient {
		s = &tp.published
	}
	before := s.droppedMem
	s.add(r)
	t.members += s.droppedMem - before
}

// add adds a PUBLISH to the statistics.
func (s *Stats) add(r *session.Record) {
	if s.Messages == 0 {
		s.First = r.Time
	}
	s.Messages++
	s.Bytes += len(r.Packet.Payload)
	s.Last = r.Time
	f, js, err := r.DecodedValue()
	if err != nil || js == nil {
		return
	}
	s.Format = f
	payload.Numbers(js, func(path string, v float64) {
		m := s.byPath[path]
		if m == nil {
			if len(s.Members) >= MaxMembers {
				s.droppedMem++
				return
			}
			if s.byPath == nil {
				s.byPath = map[string]*Member{}
			}
			m = &Member{Path: path, Min: v, Max: v}
			s.byPath[path] = m
			s.Members = append(s.Members, m)
		}
		m.Count++
		m.Sum += v
		m.Min, m.Max, m.Last = min(m.Min, v), max(m.Max, v), v
	})
}

// Topics returns the topics in the order first seen.
func (t *Table) Topics() []*Topic { return t.order }

// Dropped returns the messages of topics left out past MaxTopics and the
// member values left out past MaxMembers.
func (t *Table) Dropped() (messages, members int) { return t.dropped, t.members }
