package session

import (
	"net/netip"
	"time"

	"github.com/mqtap/mqtap/decode"
)

// flowKey names a TCP connection independently of direction: a is the
// lower endpoint. It holds no pointers (netip.Addr does), so that the flow
// table of a capture with many connections costs the garbage collector
// nothing to scan and hashes as plain bytes.
type flowKey struct{ a, b endpoint }

// endpoint is one end of a TCP connection.
type endpoint struct {
	ip   [16]byte // the address in its 16-byte form
	port uint16
	v6   bool // an IPv6 address (ip of an IPv4 one is IPv4-mapped)
}

func endpointOf(ap netip.AddrPort) endpoint {
	a := ap.Addr()
	return endpoint{ip: a.As16(), port: ap.Port(), v6: a.Is6()}
}

// Port returns the endpoint's port.
func (e endpoint) Port() uint16 { return e.port }

// AddrPort returns the endpoint as a netip.AddrPort.
func (e endpoint) AddrPort() netip.AddrPort {
	if e.v6 {
		return netip.AddrPortFrom(netip.AddrFrom16(e.ip), e.port)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(e.ip[12:])), e.port)
}

func makeKey(src, dst netip.AddrPort) (k flowKey, fromA bool) {
	if c := src.Addr().Compare(dst.Addr()); c < 0 || c == 0 && src.Port() <= dst.Port() {
		return flowKey{endpointOf(src), endpointOf(dst)}, true
	}
	return flowKey{endpointOf(dst), endpointOf(src)}, false
}

// kind is what a connection was found to carry.
type kind uint8

const (
	kindUnknown kind = iota // not on an MQTT port: still looking at the first bytes
	kindMQTT                // MQTT, by port or detected
	kindTLS                 // TLS: MQTT inside when the key log has the connection's secrets
	kindWS                  // MQTT over WebSocket
	kindOther               // something else
)

// decodes reports whether MQTT is being decoded on the connection.
func (c *conn) decodes() bool {
	return c.kind == kindMQTT || c.kind == kindTLS || c.kind == kindWS
}

// Limits of detection and resynchronisation.
const (
	detectLimit   = 64 << 10  // bytes per direction examined before giving up on MQTT
	resyncMax     = 256 << 10 // largest packet accepted as a resynchronisation point
	maxPacketSize = 268435455 + 5
)

// conn is one TCP connection: its stream number, what it carries, and the
// MQTT state of both directions. halves[0] is the data sent by key.a.
type conn struct {
	key     flowKey
	stream  int32
	kind    kind
	inner   kind // what a TLS connection carries inside (kindUnknown until its first data)
	client  int8 // index of the client half, -1 while unknown
	ended   bool // FIN or RST seen
	done    bool // finished: everything it held was delivered or dropped
	counted bool // counted in Stats.MQTTStreams
	direct  bool // fed through Received, not captured
	listed  bool // in Pipeline.idle
	// pendingHolder is set while pending is registered in
	// Pipeline.holders; late once it waited so long that it no longer
	// holds the output back (its data is then replayed in the frame that
	// decides).
	pendingHolder, late bool
	last                int64 // capture time of the last segment, in Unix nanoseconds
	tls                 *tlsConn
	ws                  *wsConn // the WebSocket layer (over TCP, or inside TLS)

	halves [2]half
	aside  *aside // what few connections set aside (nil: nothing)
	mq     decode.Conn

	// older and newer link the connection into Pipeline.idle while listed.
	older, newer *conn
}

// aside is what a connection sets aside for later, allocated when there
// is something: most connections never do.
type aside struct {
	pending []chunk // data held while detecting, replayed once MQTT is found
	// waiting are findings about the connection that go with its next
	// MQTT record.
	waiting []pendingFinding
}

// pending is the data held while detecting.
func (c *conn) pending() []chunk {
	if c.aside == nil {
		return nil
	}
	return c.aside.pending
}

// takePending returns the data held while detecting and forgets it.
func (c *conn) takePending() []chunk {
	held := c.pending()
	if held != nil {
		c.aside.pending = nil
	}
	return held
}

// takeWaiting returns the findings waiting for the next record and forgets
// them.
func (c *conn) takeWaiting() []pendingFinding {
	if c.aside == nil {
		return nil
	}
	w := c.aside.waiting
	c.aside.waiting = nil
	return w
}

// setAside returns the connection's aside, allocating it.
func (c *conn) setAside() *aside {
	if c.aside == nil {
		c.aside = new(aside)
	}
	return c.aside
}

// half is the state of one direction of a connection. Connections are
// many (a fleet of devices), so it is kept small: what only some
// directions need (losses, reordering) is allocated when needed.
type half struct {
	tcp       tcpDir
	buf       []byte  // bytes of an MQTT packet not complete yet (or held for detection)
	loss      *losses // what the direction lost or skipped since its previous packet (nil: nothing)
	skip      int     // bytes still to come of a packet cut by a gap (already reported)
	lastFrame int32   // frame of the last packet delivered
	lastSeen  int32   // frame of the last record, for Record.Index
	index     int32
	resync    bool // the next packet boundary is unknown: capture started mid-stream or lost data
	midflow   bool // the direction was first seen without its SYN, or lost data while being detected
	msgStart  bool // the bytes parse gets next start a WebSocket data message
	unsure    bool // framing resumed after a resynchronisation and no well-formed packet confirmed it yet
}

// losses returns what the direction lost since its previous packet, to
// add to.
func (h *half) losses() *losses {
	if h.loss == nil {
		h.loss = new(losses)
	}
	return h.loss
}

// skipped notes n bytes skipped while resynchronising.
func (h *half) skipped(n int) {
	if n > 0 {
		h.losses().skipped += n
	}
}

// chunk is data (or a loss) held while a connection's protocol is being
// detected.
type chunk struct {
	half int
	data []byte
	lost int      // bytes lost here instead of data
	from uint32   // relative sequence number of the first lost byte
	kind lossKind // why they were lost
	ctx  frameCtx
}

// lookup finds or creates the connection of a TCP segment and updates what
// the segment tells about it.
func (p *Pipeline) lookup(src, dst netip.Addr, tcp *TCPHeader, ts time.Time) *conn {
	sp, dp := tcp.SrcPort, tcp.DstPort
	k, fromA := makeKey(netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp))
	syn := tcp.SYN && !tcp.ACK
	c := p.flows.get(k)
	if c == nil || syn && c.ended {
		if c != nil {
			p.finish(c)
			p.idle.remove(c)
		}
		c = &conn{key: k, stream: int32(p.stats.Streams), client: -1}
		p.stats.Streams++
		switch a, b := p.IsMQTTPort(k.a.Port()), p.IsMQTTPort(k.b.Port()); {
		case a && (!b || k.a.Port() <= k.b.Port()):
			c.kind, c.client = kindMQTT, 1
		case b:
			c.kind, c.client = kindMQTT, 0
		}
		p.flows.put(c)
	}
	sender := int8(1)
	if fromA {
		sender = 0
	}
	switch {
	case syn:
		c.client = sender
	case tcp.SYN && tcp.ACK && c.client < 0:
		c.client = 1 - sender
	}
	if tcp.FIN || tcp.RST {
		c.ended = true
	}
	c.last = ts.UnixNano()
	p.idle.touch(c)
	return c
}

// missed tells the MQTT state that bytes of direction i were not captured
// (its start, or a gap): the topic aliases they may have set are unknown.
func (c *conn) missed(i int) {
	if c.client < 0 {
		c.mq.Lost(true)
		c.mq.Lost(false)
		return
	}
	c.mq.Lost(c.client == int8(i))
}

// sender returns the index of the half whose data a segment from src
// carries.
func (c *conn) sender(src netip.AddrPort) int {
	if endpointOf(src) == c.key.a {
		return 0
	}
	return 1
}

// endpoints returns the source and destination of the data of half i.
func (c *conn) endpoints(i int) (src, dst netip.AddrPort) {
	if i == 0 {
		return c.key.a.AddrPort(), c.key.b.AddrPort()
	}
	return c.key.b.AddrPort(), c.key.a.AddrPort()
}

// release frees the buffers of a connection that carries no more data.
func (c *conn) release() {
	for i := range c.halves {
		c.halves[i].buf = nil // the TCP state stays: it keeps following the sequence numbers
	}
	c.takePending()
	if c.tls != nil {
		for i := range c.tls.halves {
			c.tls.halves[i] = tlsHalf{protected: c.tls.halves[i].protected}
		}
	}
}

// finish ends a connection: held data is delivered, undecided detection is
// given up, findings no record carried are handed over, and a packet cut
// off by the end is counted.
func (p *Pipeline) finish(c *conn) {
	if c.done {
		return
	}
	for i := range c.halves {
		p.giveUpAll(c, i, "")
	}
	c.done = true
	c.flushDetection(p)
	p.flushPending(c)
	for i := range c.halves {
		if len(c.halves[i].buf) > 0 && c.decodes() {
			p.stats.Incomplete++
		}
	}
	c.release()
}

// flushDetection decides about a connection whose protocol was not found
// before it ended.
func (c *conn) flushDetection(p *Pipeline) {
	if c.kind == kindUnknown {
		p.decide(c, c.lastVerdict())
	}
}
