// The MQTT connections of the capture (the conversations view): a
// connections.Table fed the records as they are indexed and the
// pipeline's TCP frames as they are read, both under mu.

package model

import (
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/connections"
)

// hookFrames returns opts with an OnTCPFrame that also counts the frames
// in the connections table (frames and bytes each way, how connections
// closed); any OnTCPFrame opts had is still called.
func (c *Capture) hookFrames(opts session.Options) session.Options {
	return opts.AlsoOnTCPFrame(func(f session.TCPFrame) {
		c.mu.Lock()
		c.conns.Frame(f)
		c.mu.Unlock()
	})
}

// ConnectionsInfo returns the number of connections listed, the number
// past the table's cap (not listed) and the table's generation, which
// changes whenever the table does.
func (c *Capture) ConnectionsInfo() (n, omitted int, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns.Len(), c.conns.Omitted(), c.conns.Gen()
}

// Connection returns connection i (0 ≤ i < n of ConnectionsInfo), in the
// order their first packet was indexed. A connection still open ends with
// the capture once the source is done, and is "open" before.
func (c *Capture) Connection(i int) (connections.Conn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= c.conns.Len() {
		return connections.Conn{}, false
	}
	return c.conns.Row(i, c.state.Done), true
}

// ConnectionKeys copies column col of every connection, to be sorted
// (connections.Keys.Order) without holding the capture, and returns the
// table's generation.
func (c *Capture) ConnectionKeys(col int) (*connections.Keys, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns.SortKeys(col, c.state.Done), c.conns.Gen()
}
