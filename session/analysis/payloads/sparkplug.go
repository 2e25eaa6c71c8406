package payloads

import (
	"fmt"

	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// maxEdgeNodes bounds the edge nodes whose aliases and sequence numbers
// the stage keeps; past it, new ones are an mqtap.limit finding.
const maxEdgeNodes = 100_000

// sparkplug is the state of the Sparkplug B edge nodes seen: their metric
// aliases, and the last sequence number of each on each connection.
type sparkplug struct {
	nodes map[string]*edgeNode // by "group/edge"
	full  bool                 // maxEdgeNodes reached (reported once)
}

// edgeNode is one edge node: the names of its metric aliases, from its
// NBIRTH and its devices' DBIRTHs (aliases are unique across a node and
// its devices), and its last seq per connection (tcp.stream).
type edgeNode struct {
	names map[uint64]string
	seq   map[int]uint64
}

func newSparkplug() *sparkplug { return &sparkplug{nodes: map[string]*edgeNode{}} }

// observe decodes a Sparkplug B PUBLISH, resolves its aliases, checks its
// sequence number and follows births and deaths.
func (s *sparkplug) observe(r *session.Record) {
	t, _ := payload.ParseSparkplugTopic(r.Packet.Topic)
	p, err := payload.DecodeSparkplug(r.ValueInput(), payload.DefaultLimits)
	if err != nil {
		r.Value.SetFailed(payload.SparkplugB, err)
		if e := r.ValueError(); e != nil {
			addDecodeFinding(r, e)
		}
		return
	}
	node := s.node(r, t.Group+"/"+t.Edge, t.Type == "NBIRTH")
	if node != nil {
		s.track(r, node, t, p)
	}
	r.Value.Sparkplug = p
	r.Value.SetDecoded(payload.SparkplugB, p.AppendJSON(nil))
}

// node returns the state of an edge node, created for a birth (or any
// message of a node not seen before); nil past maxEdgeNodes.
func (s *sparkplug) node(r *session.Record, key string, birth bool) *edgeNode {
	n := s.nodes[key]
	if n == nil || birth {
		if n == nil && len(s.nodes) >= maxEdgeNodes {
			if !s.full {
				s.full = true
				r.Findings = append(r.Findings, session.Finding{Code: session.LimitReached,
					Text: fmt.Sprintf("Sparkplug B: more than %d edge nodes; the aliases and sequence numbers of further ones are not followed", maxEdgeNodes)})
			}
			return nil
		}
		seq := map[int]uint64{}
		if n != nil {
			seq = n.seq
		}
		n = &edgeNode{names: map[uint64]string{}, seq: seq}
		s.nodes[key] = n
	}
	return n
}

// track learns aliases from births, resolves them in other messages,
// forgets a dead node's, and checks the sequence number.
func (s *sparkplug) track(r *session.Record, n *edgeNode, t payload.SparkplugTopic, p *payload.SparkplugPayload) {
	switch t.Type {
	case "NBIRTH", "DBIRTH":
		for i := range p.Metrics {
			if m := &p.Metrics[i]; m.HasName && m.HasAlias {
				n.names[m.Alias] = m.Name
			}
		}
	case "NDEATH":
		delete(s.nodes, t.Group+"/"+t.Edge)
		return // no seq: its payload is the broker's will
	default:
		for i := range p.Metrics {
			if m := &p.Metrics[i]; !m.HasName && m.HasAlias {
				if name, ok := n.names[m.Alias]; ok {
					m.Name, m.HasName = name, true
				}
			}
		}
	}
	if t.Type == "NCMD" || t.Type == "DCMD" || !p.HasSeq {
		return // commands come from host applications, which number nothing
	}
	last, seen := n.seq[r.Stream]
	n.seq[r.Stream] = p.Seq
	if t.Type == "NBIRTH" || !seen {
		return
	}
	if want := (last + 1) % 256; p.Seq != want {
		r.Findings = append(r.Findings, session.Finding{Code: session.SparkplugSeqGap,
			Text: fmt.Sprintf("Sparkplug B %s of %s/%s has seq %d, expected %d after %d", t.Type, t.Group, t.Edge, p.Seq, want, last)})
	}
}
