// The values of one topic over capture time, for the topics view's charts:
// scanned from the index when the view asks, and again for the records
// added since (live captures).

package model

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/topics"
)

// maxPoints bounds the points a member's series keeps: past it, every
// other point is dropped (the series keeps its shape at half the
// resolution).
const maxPoints = 1 << 16

// Series is one numeric member of a topic's values over time.
type Series struct {
	Path                 string // within the value; "" for a value that is a number
	Min, Max, Mean, Last float64
	Count                int
	Times                []time.Time // capture times of the points, in order
	Values               []float64
}

// TopicPlot is what the topics view shows of one topic: its messages,
// bytes, rate, format and the series of its numeric members. It is a
// snapshot: the caller owns it.
type TopicPlot struct {
	Topic       string
	Messages    int
	Bytes       int
	First, Last time.Time
	Format      string
	Members     []Series
	Delivered   bool // counted from the broker's deliveries (no publisher in the capture)
}

// Rate is the topic's messages per second between its first and last
// message (0 for fewer than two).
func (p *TopicPlot) Rate() float64 {
	d := p.Last.Sub(p.First).Seconds()
	if p.Messages < 2 || d <= 0 {
		return 0
	}
	return float64(p.Messages-1) / d
}

// Plotter collects the values of one topic from the index, continuing
// where it stopped. It is used by one goroutine at a time.
type Plotter struct {
	topic string
	flt   *filter.Filter
	next  int // records below it are scanned
	table *topics.Table
	// series by direction: published to the broker, delivered by it
	series [2]map[string]*Series
	order  [2][]string
}

// NewPlotter returns the plotter of topic.
func NewPlotter(topic string) (*Plotter, error) {
	f, err := filter.Compile("mqtt.topic == " + strconv.Quote(topic))
	if err != nil {
		return nil, fmt.Errorf("topic %q: %w", topic, err)
	}
	p := &Plotter{topic: topic, flt: f, table: topics.NewTable()}
	p.series[0], p.series[1] = map[string]*Series{}, map[string]*Series{}
	return p, nil
}

// Topic is the plotter's topic.
func (p *Plotter) Topic() string { return p.topic }

// Update scans the records indexed since the last call and returns the
// topic's plot.
func (p *Plotter) Update(ctx context.Context, c *Capture) (*TopicPlot, error) {
	n := c.Len()
	idx, err := c.Select(ctx, p.flt, p.next, nil)
	if err != nil {
		return nil, err
	}
	r := &session.Record{}
	var buf []byte
	for _, i := range idx {
		if i >= n {
			break
		}
		if buf, err = c.recordInto(i, r, buf); err != nil {
			return nil, err
		}
		p.add(r)
	}
	p.next = n
	return p.snapshot(), nil
}

// add adds one record of the topic.
func (p *Plotter) add(r *session.Record) {
	if r.Packet.Type != decode.PUBLISH {
		return
	}
	p.table.Observe(r)
	dir := 1
	if r.Packet.FromClient {
		dir = 0
	}
	_, js, err := r.DecodedValue()
	if err != nil || js == nil {
		return
	}
	payload.Numbers(js, func(path string, v float64) {
		s := p.series[dir][path]
		if s == nil {
			if len(p.order[dir]) >= topics.MaxMembers {
				return
			}
			s = &Series{Path: path}
			p.series[dir][path] = s
			p.order[dir] = append(p.order[dir], path)
		}
		if len(s.Times) >= maxPoints {
			s.Times, s.Values = halve(s.Times), halve(s.Values)
		}
		s.Times = append(s.Times, r.Time)
		s.Values = append(s.Values, v)
	})
}

// halve keeps every other element.
func halve[T any](s []T) []T {
	k := 0
	for i := 1; i < len(s); i += 2 {
		s[k] = s[i]
		k++
	}
	return s[:k]
}

// snapshot copies the plot out.
func (p *Plotter) snapshot() *TopicPlot {
	plot := &TopicPlot{Topic: p.topic}
	ts := p.table.Topics()
	if len(ts) == 0 {
		return plot
	}
	st := ts[0].Stats()
	dir := 0
	if !ts[0].Published() {
		dir = 1
	}
	plot.Delivered = dir == 1
	plot.Messages, plot.Bytes, plot.First, plot.Last, plot.Format = st.Messages, st.Bytes, st.First, st.Last, st.Format.String()
	for _, m := range st.Members {
		s := p.series[dir][m.Path]
		if s == nil {
			continue
		}
		plot.Members = append(plot.Members, Series{Path: m.Path, Min: m.Min, Max: m.Max, Mean: m.Mean(), Last: m.Last, Count: m.Count,
			Times: append([]time.Time(nil), s.Times...), Values: append([]float64(nil), s.Values...)})
	}
	return plot
}
