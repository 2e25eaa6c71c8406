package session

import (
	"net/netip"
	"time"
)

// Received feeds bytes that mqtap read itself from a broker connection it
// holds (mqtap tap) rather than captured: data the client at local received
// from the broker, in order, at time t. version is the MQTT protocol version
// the client connected with (its CONNECT is not fed). The first call for a
// pair of endpoints opens a new connection (a new tcp.stream); Disconnected
// ends it.
//
// Records of such a connection have Direct set: there is no frame and no
// TCP segment, so Frame numbers the MQTT packets received and FrameLen is
// the packet's length. It returns the handler's error, if any.
func (p *Pipeline) Received(local, broker netip.AddrPort, version uint8, data []byte, t time.Time) error {
	if p.err != nil {
		return p.err
	}
	if p.first.IsZero() {
		p.first = t
	}
	p.now = t
	k, localIsA := makeKey(local, broker)
	c := p.flows.get(k)
	if c == nil {
		c = &conn{key: k, stream: int32(p.stats.Streams), kind: kindMQTT, client: 1, direct: true}
		if localIsA {
			c.client = 0
		}
		c.mq.SetVersion(version)
		p.stats.Streams++
		p.flows.put(c)
	}
	c.last = t.UnixNano()
	p.idle.touch(c)
	p.cur = frameCtx{at: t, length: uint32(len(data)), direct: true}
	p.parse(c, int(1-c.client), data, &p.cur)
	return p.err
}

// Disconnected ends a connection fed through Received; a packet it cut off
// is counted in Stats.Incomplete.
func (p *Pipeline) Disconnected(local, broker netip.AddrPort) {
	k, _ := makeKey(local, broker)
	c := p.flows.get(k)
	if c == nil {
		return
	}
	for i := range c.halves {
		if len(c.halves[i].buf) > 0 {
			p.stats.Incomplete++
		}
	}
	c.release()
	p.idle.remove(c)
	p.flows.remove(c)
}
