// What the views besides the packet list show: the aggregates kept while
// records are indexed (statistics, topic tree, clients, findings) and the
// key exchanges of the analysis chain.

package model

import (
	"net/netip"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// topicStat is what the topic tree knows of one exact topic.
type topicStat struct {
	messages int
	retained bool
	last     string
	lastHex  bool
	record   int
}

// aggregate updates the statistics, topics and findings; called with mu
// held.
func (c *Capture) aggregate(idx int, r *session.Record) {
	st := &c.stats
	st.Packets++
	st.ByType[r.Packet.Type&15]++
	c.conns.Record(r)
	st.Bytes += int64(r.FrameLen)
	if r.FirstSeen {
		st.Streams++
	}
	if sec := int(r.Relative / time.Second); sec >= 0 {
		if sec >= maxSeconds {
			st.LatePackets++
			sec = maxSeconds - 1
		}
		for len(st.PerSecond) <= sec {
			st.PerSecond = append(st.PerSecond, 0)
		}
		st.PerSecond[sec]++
	}
	if r.Packet.Type == decode.CONNECT {
		if f := r.Packet.Field("mqtt.clientid"); f != nil && len(f.Bytes) > 0 {
			c.streamID[r.Stream] = string(f.Bytes)
		}
	}
	client, ok := c.streamID[r.Stream]
	if !ok {
		a, p := r.Src, r.SrcPort
		if !r.Packet.FromClient {
			a, p = r.Dst, r.DstPort
		}
		client = netip.AddrPortFrom(a.Unmap(), p).String()
	}
	if _, ok := c.clients[client]; ok || len(c.clients) < maxNames {
		c.clients[client]++
	} else {
		st.ClientsUncounted++
	}
	if r.Packet.Type == decode.PUBLISH && r.Packet.Topic != nil {
		t := c.topics[string(r.Packet.Topic)]
		if t == nil && len(c.topics) < maxNames {
			t = &topicStat{}
			c.topics[string(r.Packet.Topic)] = t
		}
		if t == nil {
			st.topicsUncounted++
		}
		if t != nil {
			t.messages++
			t.retained = r.Packet.Retain
			t.record = idx
			v := r.Packet.Payload
			if c := &r.Crypto; c.Decrypt == "ok" || c.Decrypt == "" && c.Verify == "ok" && len(c.Plaintext) > 0 {
				v = c.Plaintext
			}
			if r.Value.Claimed { // a named format, decoded already: its value
				if _, js, err := r.DecodedValue(); err == nil && js != nil {
					v = js
				}
			}
			t.last, t.lastHex = valueText(v)
		}
	}
	for _, f := range r.Findings {
		if len(c.findings) >= maxFindings {
			c.omitted++
			continue
		}
		c.findings = append(c.findings, FindingRef{Record: idx, Frame: r.Frame, Finding: f})
	}
}

// valueText is a payload as text for the topic tree: UTF-8 as is, anything
// else in hex, cut to lastValueMax bytes.
func valueText(v []byte) (string, bool) {
	if utf8.Valid(v) {
		if len(v) > lastValueMax {
			v = v[:lastValueMax]
			for len(v) > 0 && !utf8.Valid(v) {
				v = v[:len(v)-1]
			}
		}
		return string(v), false
	}
	const hexdigits = "0123456789abcdef"
	n := min(len(v), lastValueMax/2)
	b := make([]byte, 0, 2*n)
	for _, x := range v[:n] {
		b = append(b, hexdigits[x>>4], hexdigits[x&15])
	}
	return string(b), true
}

// Sessions returns the key exchanges seen so far.
func (c *Capture) Sessions() []SessionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []SessionInfo
	for _, ex := range c.chain.Exchanges() {
		s := SessionInfo{ID: ex.ID, NetID: ex.NetID, Requester: ex.Requester.String(), Status: ex.Status(),
			KDF: ex.KDF, KeySide: ex.KeySide, KeyFile: ex.KeyFile, GroupBits: ex.GroupBits,
			Decrypted: ex.Decrypted, Failed: ex.Failed, NoKey: ex.NoKey, Frame: ex.Requester.Frame,
			Findings: append([]string(nil), ex.Findings...)}
		for _, p := range ex.Responses {
			s.Responders = append(s.Responders, p.String())
		}
		out = append(out, s)
	}
	return out
}

// Topics returns the topic tree of the PUBLISH packets seen so far.
func (c *Capture) Topics() *TopicNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	root := &TopicNode{LastRecord: -1, Uncounted: c.stats.topicsUncounted}
	nodes := make(map[string]*TopicNode, len(c.topics)) // by path
	for topic, st := range c.topics {
		n := root
		n.Total += st.messages
		for end := 0; end <= len(topic); end++ {
			if end < len(topic) && topic[end] != '/' {
				continue
			}
			path := topic[:end]
			child := nodes[path]
			if child == nil {
				child = &TopicNode{Name: path[strings.LastIndexByte(path, '/')+1:], Path: path, LastRecord: -1}
				nodes[path] = child
				n.Children = append(n.Children, child)
			}
			child.Total += st.messages
			n = child
		}
		n.Messages, n.Retained, n.Last, n.LastHex, n.LastRecord = st.messages, st.retained, st.last, st.lastHex, st.record
	}
	sortTopics(root)
	return root
}

func sortTopics(n *TopicNode) {
	sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
	for _, ch := range n.Children {
		sortTopics(ch)
	}
}

// Findings returns the findings, highest severity first, then in record
// order; findings about the whole capture (Record -1) come with their
// severity. Beyond 100,000 findings only the count grows (FindingsOmitted).
func (c *Capture) Findings() []FindingRef {
	c.mu.Lock()
	out := make([]FindingRef, 0, len(c.findings)+len(c.final))
	out = append(out, c.findings...)
	out = append(out, c.final...)
	c.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity() > out[j].Severity() })
	return out
}

// FindingsOmitted is the number of findings not kept (beyond 100,000).
func (c *Capture) FindingsOmitted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.omitted
}

// Stats returns the statistics so far.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.PerSecond = append([]int(nil), c.stats.PerSecond...)
	st.Topics = topCounts(len(c.topics), func(yield func(string, int)) {
		for t, s := range c.topics {
			yield(t, s.messages)
		}
	})
	st.Clients = topCounts(len(c.clients), func(yield func(string, int)) {
		for n, k := range c.clients {
			yield(n, k)
		}
	})
	return st
}

// topCounts returns the 50 largest counts, largest first, ties by name.
func topCounts(n int, each func(func(string, int))) []Count {
	out := make([]Count, 0, n)
	each(func(name string, k int) { out = append(out, Count{name, k}) })
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out[:min(len(out), 50)]
}
