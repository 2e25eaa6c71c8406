package session

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/mqtap/mqtap/decode"
)

// flowKey names a TCP connection independently of direction: a is the
// lower endpoint.
type flowKey struct{ a, b netip.AddrPort }

func makeKey(src, dst netip.AddrPort) (k flowKey, fromA bool) {
	if c := src.Addr().Compare(dst.Addr()); c < 0 || c == 0 && src.Port() <= dst.Port() {
		return flowKey{src, dst}, true
	}
	return flowKey{dst, src}, false
}

// kind is what a connection was found to carry.
type kind uint8

const (
	kindUnknown kind = iota // not on an MQTT port: still looking at the first bytes
	kindMQTT                // MQTT, by port or detected
	kindTLS                 // TLS: MQTT inside when the key log has the connection's secrets
	kindOther               // something else
)

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
	client  int8 // index of the client half, -1 while unknown
	ended   bool // FIN or RST seen
	counted bool // counted in Stats.MQTTStreams
	last    time.Time
	gpAtoB  bool // gopacket's client-to-server direction is a -> b
	direct  bool // fed through Received, not captured
	tls     *tlsConn
	inner   kind // what a TLS connection carries inside (kindUnknown until its first data)

	halves  [2]half
	pending []chunk // data held while detecting, replayed once MQTT is found
	mq      decode.Conn
}

// half is the state of one direction of a connection.
type half struct {
	buf      []byte // bytes of an MQTT packet not complete yet (or held for detection)
	resync   bool   // the next packet boundary is unknown: capture started mid-stream or lost data
	midflow  bool   // the direction was first seen without its SYN
	gap      int    // bytes lost since the last record, to report
	skipped  int    // bytes skipped resynchronising since the last record, to report
	lastSeen int    // frame of the last record, for Record.Index
	index    int
}

// chunk is data held while a connection's protocol is being detected.
type chunk struct {
	half int
	data []byte
	ctx  *frameCtx
}

// lookup finds or creates the connection of a TCP segment and updates what
// the segment tells about it.
func (p *Pipeline) lookup(src, dst netip.Addr, tcp *layers.TCP, ts time.Time) *conn {
	sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
	k, fromA := makeKey(netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp))
	syn := tcp.SYN && !tcp.ACK
	c := p.flows[k]
	if c == nil || syn && c.ended {
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
	return c
}

// bindDirections records which of the connection's halves gopacket calls
// client-to-server.
func (c *conn) bindDirections(netFlow, tcpFlow gopacket.Flow) {
	src, _ := netip.AddrFromSlice(netFlow.Src().Raw())
	port := tcpFlow.Src().Raw()
	sp := uint16(0)
	if len(port) == 2 {
		sp = uint16(port[0])<<8 | uint16(port[1])
	}
	c.gpAtoB = netip.AddrPortFrom(src, sp) == c.key.a
}

// halfIndex maps gopacket's direction to the index into halves.
func (c *conn) halfIndex(dir reassembly.TCPFlowDirection) int {
	if (dir == reassembly.TCPDirClientToServer) == c.gpAtoB {
		return 0
	}
	return 1
}

// endpoints returns the source and destination of the data of half i.
func (c *conn) endpoints(i int) (src, dst netip.AddrPort) {
	if i == 0 {
		return c.key.a, c.key.b
	}
	return c.key.b, c.key.a
}

// release frees the buffers of a connection that carries no more data.
func (c *conn) release() {
	for i := range c.halves {
		c.halves[i].buf = nil
	}
	c.pending = nil
	if c.tls != nil {
		for i := range c.tls.halves {
			c.tls.halves[i] = tlsHalf{protected: c.tls.halves[i].protected}
		}
	}
}

// stream is the reassembler's view of a connection.
type stream struct {
	p *Pipeline
	c *conn
}

// Accept implements reassembly.Stream: every segment is accepted, and a
// direction first seen without its SYN starts where the capture starts.
func (s *stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if nextSeq == -1 && !tcp.SYN && !*start {
		*start = true
		h := &s.c.halves[s.c.halfIndex(dir)]
		h.midflow, h.resync = true, true
	}
	return true
}

// ReassembledSG implements reassembly.Stream.
func (s *stream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	dir, _, _, skip := sg.Info()
	i := s.c.halfIndex(dir)
	if skip > 0 {
		h := &s.c.halves[i]
		h.gap += skip
		h.resync = true
		h.buf = h.buf[:0]
		s.p.stats.GapBytes += skip
	}
	n, _ := sg.Lengths()
	if n == 0 || s.c.kind == kindOther {
		return
	}
	ctx, _ := ac.(*frameCtx)
	if ctx == nil {
		ctx = s.p.newCtx(sg.CaptureInfo(0))
	}
	s.p.feed(s.c, i, sg.Fetch(n), ctx)
}

// ReassemblyComplete implements reassembly.Stream: the connection is done.
func (s *stream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	s.c.flushDetection(s.p)
	s.p.flushPending(s.c)
	for i := range s.c.halves {
		if len(s.c.halves[i].buf) > 0 && (s.c.kind == kindMQTT || s.c.kind == kindTLS) {
			s.p.stats.Incomplete++
		}
	}
	s.c.release()
	return true
}

// flushDetection gives up on a connection whose protocol was never found.
func (c *conn) flushDetection(p *Pipeline) {
	if c.kind == kindUnknown {
		c.kind = kindOther
		c.release()
	}
}
