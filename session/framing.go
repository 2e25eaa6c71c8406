package session

import (
	"errors"
	"fmt"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/tlswire"
)

// feed takes the next in-order bytes of direction i of a connection.
func (p *Pipeline) feed(c *conn, i int, data []byte, ctx *frameCtx) {
	switch c.kind {
	case kindMQTT:
		p.parse(c, i, data, ctx)
	case kindTLS:
		p.tlsFeed(c, i, data, ctx)
	case kindWS:
		p.wsFeed(c, i, data, ctx)
	case kindUnknown:
		h := &c.halves[i]
		h.buf = append(h.buf, data...)
		p.pend(c, chunk{half: i, data: append([]byte(nil), data...), ctx: *ctx})
		p.detect(c)
	}
}

// parse splits a direction's byte stream into MQTT control packets and
// delivers each complete one. Incomplete bytes wait in the half's buffer.
func (p *Pipeline) parse(c *conn, i int, data []byte, ctx *frameCtx) {
	h := &c.halves[i]
	// The packets of this call start in this frame, on a boundary, when
	// nothing of an earlier frame waits and the bytes are the frame's own.
	fresh := p.own && c.kind == kindMQTT && len(h.buf) == 0 && h.skip == 0 && !h.resync && !h.unsure
	if h.skip > 0 {
		// The rest of a packet cut by a gap: already reported.
		if data = h.skipCut(data); len(data) == 0 {
			return
		}
	}
	start := h.msgStart
	h.msgStart = false
	if len(h.buf) > 0 && (h.resync || h.unsure) && (exactRun(data, c.mq.Version()) || start && plausible(data, c.mq.Version(), resyncMax)) {
		// Resynchronising after lost bytes, the candidate boundary held so
		// far (or the first packet found since) waits for a packet longer
		// than what came since; this segment is a run of whole packets by
		// itself (as tshark assumes of the segment after a gap), or starts
		// a WebSocket message with what looks like a packet: it is the
		// boundary.
		h.skipped(len(h.buf))
		p.stats.Skipped += len(h.buf)
		h.buf = h.buf[:0]
		h.resync = true
	}
	b := data
	if len(h.buf) > 0 {
		h.buf = append(h.buf, data...)
		b = h.buf
	} else if c.kind == kindMQTT && c.startsTLS(i, b) {
		p.startTLS(c, ctx) // MQTT over TLS: decrypted with the key log, never decoded as garbage
		p.tlsFeed(c, i, b, ctx)
		return
	}
	p.inFrame = fresh
	b = p.packets(c, i, b, ctx)
	p.inFrame = false
	if len(b) > p.opts.MaxPacket && !h.resync && c.decodes() {
		b = p.capPacket(c, i, b, ctx)
	}
	if c.decodes() {
		h.keep(b)
	}
}

// capPacket delivers a packet longer than Options.MaxPacket from its first
// MaxPacket bytes, which b starts with, and skips the rest of it: what
// remains of b now, and what is still to come.
func (p *Pipeline) capPacket(c *conn, i int, b []byte, ctx *frameCtx) []byte {
	h := &c.halves[i]
	hdr, err := decode.ParseHeader(b)
	if err != nil || hdr.Total() <= len(b) {
		return b // packets() delivers what cannot be delimited, and whole packets (left when the handler failed)
	}
	p.stats.Limits++
	p.hand(c, i, b[:p.opts.MaxPacket], ctx, "", cutLimit)
	h.skip = hdr.Total() - len(b)
	return nil
}

// skipCut drops from data what is left of a packet cut by a gap and
// returns the rest.
func (h *half) skipCut(data []byte) []byte {
	n := min(h.skip, len(data))
	h.skip -= n
	return data[n:]
}

// packets delivers the packets at the start of b, looking for a packet
// boundary first when resynchronising, and returns the bytes after the
// last whole packet.
func (p *Pipeline) packets(c *conn, i int, b []byte, ctx *frameCtx) []byte {
	h := &c.halves[i]
	for len(b) > 0 && p.err == nil && c.decodes() {
		if h.resync {
			n, ok := resync(b, c.mq.Version())
			h.skipped(n)
			p.stats.Skipped += n
			b = b[n:]
			if !ok {
				break
			}
			h.resync, h.unsure = false, true
		}
		hdr, err := decode.ParseHeader(b)
		if errors.Is(err, decode.ErrShort) {
			break
		}
		if err != nil {
			// The packet cannot be delimited: report its first byte and
			// look for the next packet boundary.
			p.deliver(c, i, b[:min(len(b), 5)], ctx, err.Error())
			b = b[1:]
			h.resync = true
			continue
		}
		total := hdr.Total()
		if total > len(b) {
			break
		}
		if h.unsure && decode.Plausible(b[:total], c.mq.Version(), maxPacketSize) {
			h.unsure = false // a whole, well-formed packet: the boundary was right
		}
		p.deliver(c, i, b[:total], ctx, "")
		b = b[total:]
	}
	return b
}

// keep holds b, the start of a packet not complete yet, in the buffer,
// which b may already be the end of.
func (h *half) keep(b []byte) {
	switch {
	case len(b) == 0:
		h.buf = h.buf[:0]
		if cap(h.buf) > 1<<20 {
			h.buf = nil // do not keep a large packet's buffer for the life of the connection
		}
	case len(h.buf) > 0 && &b[0] == &h.buf[len(h.buf)-len(b)]:
		h.buf = h.buf[:copy(h.buf, b)]
	default:
		h.buf = append(h.buf[:0], b...)
	}
}

// startsTLS reports whether b, the next bytes of direction i of an MQTT
// connection, show that the connection is TLS: the client's ClientHello, or,
// before any MQTT packet (the handshake was not captured), a TLS record.
func (c *conn) startsTLS(i int, b []byte) bool {
	h := &c.halves[i]
	if !h.resync && c.client == int8(i) && tlswire.LooksLikeClientHello(b) {
		return true
	}
	return !c.counted && tlswire.LooksLikeRecord(b)
}

// lossKind tells why bytes are missing.
type lossKind uint8

const (
	lostHole lossKind = iota // the capture does not hold them
	lostSnap                 // the snap length cut them off the frame
)

// lost takes n bytes of direction i that the capture does not hold,
// starting at the direction's next sequence number. why names a cap that
// made mqtap give them up, if one did.
func (p *Pipeline) lost(c *conn, i, n int, ctx *frameCtx, kind lossKind, why string) {
	p.lostAt(c, i, n, c.halves[i].tcp.relative(c.halves[i].tcp.next), ctx, kind, why)
}

// lostAt is lost with the relative sequence number of the first lost byte.
func (p *Pipeline) lostAt(c *conn, i, n int, from uint32, ctx *frameCtx, kind lossKind, why string) {
	h := &c.halves[i]
	if c.kind == kindUnknown {
		p.pend(c, chunk{half: i, lost: n, from: from, kind: kind, ctx: *ctx})
		h.buf, h.midflow = h.buf[:0], true // detect from after the gap
		p.detect(c)
		return
	}
	if kind == lostSnap {
		p.stats.SnapCut += n
	} else {
		p.stats.GapBytes += n
		h.losses().addGap(from, n, why)
	}
	c.missed(i)
	switch c.kind {
	case kindTLS:
		p.tlsLost(c, i, n)
	case kindWS:
		p.wsLost(c, i, n, ctx)
	case kindMQTT:
		p.mqttLost(c, i, n, ctx)
	}
}

// mqttLost goes on framing after n lost bytes. A packet whose fixed header
// was captured is reported with the bytes captured, marked truncated; when
// the lost bytes end inside it, framing goes on right after it. Otherwise
// the next packet boundary is unknown and the stream is resynchronised.
func (p *Pipeline) mqttLost(c *conn, i, n int, ctx *frameCtx) {
	h := &c.halves[i]
	if h.skip > 0 {
		k := min(n, h.skip)
		h.skip -= k
		if n -= k; n == 0 {
			return
		}
	}
	if h.resync || len(h.buf) == 0 {
		h.buf = h.buf[:0]
		h.resync = true
		return
	}
	hdr, err := decode.ParseHeader(h.buf)
	if err != nil {
		// Not even the fixed header was captured.
		h.skipped(len(h.buf))
		p.stats.Skipped += len(h.buf)
		h.buf = h.buf[:0]
		h.resync = true
		return
	}
	rest := hdr.Total() - len(h.buf)
	p.stats.Truncated++
	p.deliverCut(c, i, h.buf, ctx) // in the frame that shows the bytes are lost
	h.buf = h.buf[:0]
	switch {
	case n < rest:
		h.skip = rest - n
	case n > rest:
		h.resync = true
	}
}

// resync finds the first offset in b where a plausible MQTT control packet
// starts and is followed by another plausible one or by the end of the data.
// It returns ok=false with the offset of a candidate whose packet is not
// complete yet, or of the bytes too short to judge.
func resync(b []byte, version uint8) (int, bool) {
	for i := 0; i < len(b); i++ {
		hdr, err := decode.ParseHeader(b[i:])
		if errors.Is(err, decode.ErrShort) {
			if decode.PlausiblePrefix(b[i:], version, resyncMax) {
				return i, false
			}
			continue
		}
		if err != nil || hdr.Remaining > resyncMax || !decode.Plausible(b[i:], version, resyncMax) {
			continue
		}
		end := i + hdr.Total()
		if end > len(b) {
			return i, false
		}
		if end == len(b) || decode.Plausible(b[end:], version, maxPacketSize) {
			return i, true
		}
	}
	return len(b), false
}

// losses are what a direction lost or skipped since its previous packet:
// the half keeps them until the next packet takes them.
type losses struct {
	gap     int    // bytes not captured since the previous packet
	gapFrom uint32 // relative sequence number of the first of them
	gapTo   uint32 // and of the last
	gapWhy  string // the cap that made mqtap give them up, if one did
	skipped int    // bytes skipped while resynchronising
}

// notes are what is said about the stream before a packet, carried by
// its record as findings: the losses before it, and what the packet
// itself brings.
type notes struct {
	losses
	cut   cutKind          // the packet holds only its start, and why
	conn  []pendingFinding // findings about the connection (its TLS or WebSocket layer)
	ws    WSFrameInfo      // the WebSocket frame that completed the packet, when hasWS
	hasWS bool
	// inFrame: the packet came whole in its frame (Record.InFrame).
	inFrame bool
}

// addGap notes n bytes lost from relative sequence number from.
func (n *losses) addGap(from uint32, count int, why string) {
	if n.gap == 0 {
		n.gapFrom = from
	}
	n.gap += count
	n.gapTo = from + uint32(count) - 1
	if why != "" {
		n.gapWhy = why
	}
}

// deliver hands one complete control packet of direction i to the handler,
// or to the queue when records of earlier frames may still come. A
// non-empty malformed says why the packet could not even be delimited.
func (p *Pipeline) deliver(c *conn, i int, raw []byte, ctx *frameCtx, malformed string) {
	p.hand(c, i, raw, ctx, malformed, cutNone)
}

// deliverCut hands over a packet of which the capture holds only raw.
func (p *Pipeline) deliverCut(c *conn, i int, raw []byte, ctx *frameCtx) {
	p.hand(c, i, raw, ctx, "", cutCapture)
}

// cutKind tells whether a packet is handed over whole, and if not why.
type cutKind uint8

const (
	cutNone    cutKind = iota
	cutCapture         // the capture holds only its start (snap length, lost segments)
	cutLimit           // longer than Options.MaxPacket: the rest is skipped
)

func (p *Pipeline) hand(c *conn, i int, raw []byte, ctx *frameCtx, malformed string, cut cutKind) {
	h := &c.halves[i]
	if ctx.frame < int(h.lastFrame) && !ctx.direct {
		// Data given up after a hole that a later frame partly filled:
		// the direction's packets stay in stream order, in the frame
		// being read (the one that gave the data up).
		ctx = &p.cur
	}
	h.lastFrame = int32(ctx.frame)
	n := notes{}
	if h.loss != nil {
		n.losses, h.loss = *h.loss, nil
	}
	n.cut = cut
	n.inFrame = p.inFrame && cut == cutNone && malformed == "" && ctx == &p.cur
	n.conn = c.takeWaiting()
	if w := c.ws; w != nil {
		n.ws, n.hasWS = w.halves[i].cur, true
		w.info.Packets++
	}
	if p.inOrder(ctx.frame) {
		p.emit(c, i, raw, ctx, malformed, &n)
		return
	}
	p.enqueue(c, i, raw, ctx, malformed, n)
}

// emit decodes one control packet of direction i into the record and hands
// it to the handler.
func (p *Pipeline) emit(c *conn, i int, raw []byte, ctx *frameCtx, malformed string, n *notes) {
	r := &p.rec
	h := &c.halves[i]
	r.Frame = ctx.frame
	r.Time = ctx.at
	r.Relative = ctx.at.Sub(p.first)
	r.FrameLen = int(ctx.length)
	r.Direct = ctx.direct
	r.Interface = p.iface(int(ctx.iface))
	r.Protocols = ctx.protos
	if ctx.direct {
		r.Frame, r.FrameLen = p.stats.Packets+1, len(raw)
	}
	src, dst := c.endpoints(i)
	r.Src, r.Dst = src.Addr(), dst.Addr()
	r.SrcPort, r.DstPort = src.Port(), dst.Port()
	r.Stream = int(c.stream)
	if int(h.lastSeen) == ctx.frame {
		h.index++
	} else {
		h.lastSeen, h.index = int32(ctx.frame), 0
	}
	r.Index = int(h.index)
	r.FirstSeen = !c.counted
	r.InFrame = n.inFrame
	if !c.counted {
		c.counted = true
		p.stats.MQTTStreams++
	}
	if c.client < 0 && len(raw) > 0 && decode.Type(raw[0]>>4) == decode.CONNECT {
		c.client = int8(i)
	}
	fromClient := c.client == int8(i)
	if c.client < 0 {
		fromClient = src.Port() > dst.Port() // brokers listen on the lower, well-known port
	}
	r.Findings = r.Findings[:0]
	r.Crypto = Crypto{Plaintext: r.Crypto.Plaintext[:0]}
	r.Value.reset()
	switch {
	case malformed != "":
		r.Packet = decode.Packet{Raw: raw, Type: decode.Type(raw[0] >> 4), Flags: raw[0] & 15, FromClient: fromClient,
			Fields: r.Packet.Fields[:0], Problems: append(r.Packet.Problems[:0], decode.Problem{Severity: decode.Malformed, Text: malformed, Len: len(raw)})}
	case n.cut != cutNone:
		c.mq.DecodeTruncated(raw, fromClient, &r.Packet)
	default:
		c.mq.Decode(raw, fromClient, &r.Packet)
	}
	r.WebSocket, r.WSFrame = nil, WSFrameInfo{}
	if n.hasWS {
		r.WebSocket, r.WSFrame = c.ws.info, n.ws
	}
	r.TLSVersion, r.TLSSuite = 0, 0
	if t := c.tls; t != nil {
		r.TLSVersion, r.TLSSuite = t.version, t.suiteID
		t.info.Records++
	}
	p.noteFindings(r, n)
	p.stats.Packets++
	if r.Packet.Malformed() != "" {
		p.stats.Malformed++
	}
	if err := p.handler(r); err != nil && p.err == nil {
		p.err = err
	}
}

// noteFindings turns the notes before a packet into its first findings.
func (p *Pipeline) noteFindings(r *Record, n *notes) {
	for _, pf := range n.conn {
		r.Findings = append(r.Findings, pf.f)
	}
	if n.gap > 0 {
		text := fmt.Sprintf("%d bytes of this direction (relative sequence numbers %d to %d) were not captured before this packet", n.gap, n.gapFrom, n.gapTo)
		if n.gapWhy != "" {
			text += "; mqtap gave them up because " + n.gapWhy
		}
		r.Findings = append(r.Findings, Finding{Code: TCPGap, Text: text})
	}
	if n.cut == cutLimit {
		r.Findings = append(r.Findings, Finding{Code: LimitReached, Text: fmt.Sprintf("this %s is %d bytes long, over mqtap's limit of %s per packet: it is decoded from its first %s and the rest of it is skipped",
			r.Packet.Type, r.Packet.HeaderLen+r.Packet.Remaining, byteSize(p.opts.MaxPacket), byteSize(len(r.Packet.Raw)))})
	}
	if n.skipped > 0 {
		r.Findings = append(r.Findings, Finding{Code: MQTTResync, Text: fmt.Sprintf("%d bytes before this packet were not at an MQTT packet boundary and were skipped", n.skipped)})
	}
	for _, pr := range r.Packet.Problems {
		code := MQTTProtocolViolation
		if pr.Severity == decode.Malformed {
			code = MQTTMalformed
		}
		r.Findings = append(r.Findings, Finding{Code: code, Rule: pr.Rule, Text: pr.Text})
	}
}

// detect decides whether a connection on a port that is not an MQTT port
// carries MQTT: its client opens with a CONNECT, or, when the capture started
// mid-stream, both directions begin with a run of well-formed packets. Once
// decided, the held data is replayed in capture order.
func (p *Pipeline) detect(c *conn) { p.decide(c, c.verdict()) }

// decide acts on a verdict about a connection: MQTT (or TLS) replays the
// data held meanwhile, in capture order; anything else drops it.
func (p *Pipeline) decide(c *conn, verdict kind) {
	switch verdict {
	case kindOther:
		c.kind = kindOther
		c.release()
	case kindMQTT, kindTLS, kindWS:
		held := c.takePending()
		for i := range c.halves {
			c.halves[i].buf = c.halves[i].buf[:0]
		}
		switch {
		case verdict == kindTLS && len(held) > 0:
			p.startTLS(c, &held[0].ctx)
		case verdict == kindWS && len(held) > 0:
			p.startWS(c, &held[0].ctx)
		default:
			c.kind = kindMQTT
		}
		p.own = false // the held chunks came in earlier frames too: no packet of theirs is known whole in one
		for k := range held {
			ch := &held[k]
			ctx := &ch.ctx
			if c.late {
				ctx = &p.cur // held too long to keep its frames: the frame that decided takes them
			}
			if ch.lost > 0 {
				p.lostAt(c, ch.half, ch.lost, ch.from, ctx, ch.kind, "")
				continue
			}
			p.feed(c, ch.half, ch.data, ctx)
		}
	}
}

// pend holds a chunk of a connection whose protocol is not known yet.
func (p *Pipeline) pend(c *conn, ch chunk) {
	a := c.setAside()
	a.pending = append(a.pending, ch)
	if !c.pendingHolder {
		c.pendingHolder = true
		p.holders = append(p.holders, holder{c: c, i: -1})
	}
}

// plausible reports whether b starts like a plausible control packet: a
// whole fixed header that decode.Plausible accepts, or the start of one.
func plausible(b []byte, version uint8, maxRemaining int) bool {
	if _, err := decode.ParseHeader(b); errors.Is(err, decode.ErrShort) {
		return decode.PlausiblePrefix(b, version, maxRemaining)
	}
	return decode.Plausible(b, version, maxRemaining)
}

// lastVerdict decides about a connection that ended while still
// undecided: it carried MQTT when every direction that sent data sent
// whole, well-formed packets and nothing else, at least two in all (a short
// connection whose CONNECT was not captured); otherwise it was something
// else.
func (c *conn) lastVerdict() kind {
	n := 0
	for i := range c.halves {
		b := c.halves[i].buf
		if len(b) == 0 {
			continue
		}
		if !exactRun(b, 0) {
			return kindOther
		}
		k, _ := wellFormedRun(b)
		n += k
	}
	if n < 2 {
		return kindOther
	}
	return kindMQTT
}

// clientHello reads the ClientHello at the start of b: whole is false while
// it is incomplete, ok whether it parses.
func clientHello(b []byte) (whole, ok bool) {
	rec, _, ok, err := tlswire.NextRecord(b)
	if err != nil {
		return true, false
	}
	if !ok {
		return false, false
	}
	var hr tlswire.HandshakeReader
	hr.Add(rec.Body)
	typ, msg, ok, err := hr.Next()
	if err != nil || ok && typ != tlswire.ClientHello {
		return true, false
	}
	if !ok {
		return false, false // a ClientHello over several records: rare; wait
	}
	_, err = tlswire.ParseClientHello(msg)
	return true, err == nil
}

// exactRun reports whether b is a run of whole, plausible control packets
// that ends exactly at the end of b.
func exactRun(b []byte, version uint8) bool {
	for len(b) > 0 {
		hdr, err := decode.ParseHeader(b)
		if err != nil || hdr.Total() > len(b) || hdr.Remaining > resyncMax || !decode.Plausible(b, version, resyncMax) {
			return false
		}
		b = b[hdr.Total():]
	}
	return true
}

// wellFormedRun counts the complete, well-formed control packets at the
// start of b. ok is false when b does not start with MQTT.
func wellFormedRun(b []byte) (n int, ok bool) {
	for len(b) > 0 {
		hdr, err := decode.ParseHeader(b)
		if errors.Is(err, decode.ErrShort) {
			return n, plausible(b, 0, detectLimit)
		}
		if err != nil || !decode.Plausible(b, 0, detectLimit) {
			return n, false
		}
		if hdr.Total() > len(b) {
			return n, true
		}
		n++
		b = b[hdr.Total():]
	}
	return n, true
}
