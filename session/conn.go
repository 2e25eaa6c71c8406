package session

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

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
	stream  int
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
	last                time.Time
	tls                 *tlsConn
	ws                  *wsConn // the WebSocket layer (over TCP, or inside TLS)

	halves  [2]half
	pending []chunk // data held while detecting, replayed once MQTT is found
	// waiting are findings about the connection that go with its next
	// MQTT record.
	waiting []pendingFinding
	mq      decode.Conn

	// older and newer link the connection into Pipeline.idle while listed.
	older, newer *conn
}

// half is the state of one direction of a connection.
type half struct {
	tcp      tcpDir
	buf      []byte   // bytes of an MQTT packet not complete yet (or held for detection)
	lastCtx  frameCtx // frame of the last packet delivered
	resync   bool     // the next packet boundary is unknown: capture started mid-stream or lost data
	midflow  bool     // the direction was first seen without its SYN, or lost data while being detected
	msgStart bool     // the bytes parse gets next start a WebSocket data message
	unsure   bool     // framing resumed after a resynchronisation and no well-formed packet confirmed it yet
	skip     int      // bytes still to come of a packet cut by a gap (already reported)
	losses   losses   // what the direction lost or skipped since its previous packet
	lastSeen int      // frame of the last record, for Record.Index
	index    int
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
func (p *Pipeline) lookup(src, dst netip.Addr, tcp *layers.TCP, ts time.Time) *conn {
	sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
	k, fromA := makeKey(netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp))
	syn := tcp.SYN && !tcp.ACK
	c := p.flows[k]
	if c == nil || syn && c.ended {
		if c != nil {
			p.finish(c)
			p.idle.remove(c)
		}
		c = &conn{key: k, stream: p.stats.Streams, client: -1}
		p.stats.Streams++
		switch a, b := p.IsMQTTPort(k.a.Port()), p.IsMQTTPort(k.b.Port()); {
		case a && (!b || k.a.Port() <= k.b.Port()):
			c.kind, c.client = kindMQTT, 1
		case b:
			c.kind, c.client = kindMQTT, 0
		}
		p.flows[k] = c
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
	c.last = ts
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
	c.pending = nil
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
