package session

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/mqtap/mqtap/decode"
)

// MQTT over WebSocket (RFC 6455; MQTT 3.1.1 and 5.0 section 6): the layer
// between TCP (or TLS) and the MQTT framing. A connection carries it when
// its client opens with an HTTP Upgrade to WebSocket (on any port), when
// its port is forced with -d tcp.port==N,websocket, or, mid-stream, when
// both directions carry frames whose payloads are MQTT. The payloads of the
// data frames (unmasked, and inflated with permessage-deflate) go to the
// MQTT framing as if they were the TCP payload; each record says which
// frame completed its packet.

// Caps of the WebSocket layer.
const (
	wsMaxMessage = decode.DefaultMaxMessage // a compressed message inflated, or held to inflate
	wsResyncMax  = 1 << 20                  // largest frame accepted as a resynchronisation point
	wsMaxFrame   = 1 << 30                  // larger frames are taken for garbage: the direction is given up
)

// WSInfo describes one WebSocket connection: its handshake as captured,
// what was negotiated and what it carried (mqtap sessions --ws).
type WSInfo struct {
	Stream     int            `json:"tcp_stream"`
	Frame      int            `json:"frame"` // of the upgrade request, or of the first frame seen
	Client     netip.AddrPort `json:"client"`
	Server     netip.AddrPort `json:"server"`
	TLS        bool           `json:"tls"`
	Handshake  bool           `json:"handshake_captured"`
	Path       string         `json:"path,omitempty"`
	Host       string         `json:"host,omitempty"`
	Offered    []string       `json:"subprotocols_offered,omitempty"`
	Chosen     []string       `json:"subprotocol_chosen,omitempty"`
	Extensions string         `json:"extensions,omitempty"` // as the server accepted them
	Status     int            `json:"status,omitempty"`
	Compressed bool           `json:"permessage_deflate"`
	// ContextTakeover is set when a compressed direction keeps its context
	// from message to message: a message lost from the capture then makes
	// the next ones of that direction impossible to inflate.
	ContextTakeover bool   `json:"context_takeover,omitempty"`
	Frames          int    `json:"frames"`
	Packets         int    `json:"mqtt_packets"`
	CloseCode       uint16 `json:"close_code,omitempty"`
	Close           string `json:"close_reason,omitempty"`
	// NotMQTT says why the connection turned out not to be MQTT over
	// WebSocket, when it did.
	NotMQTT string `json:"not_mqtt,omitempty"`
}

// WSFrameInfo is the WebSocket frame that completed a record's MQTT packet
// (Wireshark's websocket.* fields).
type WSFrameInfo struct {
	Fin        bool
	RSV        uint8
	Opcode     decode.WSOpcode
	Masked     bool
	MaskKey    [4]byte
	PayloadLen uint64
	Header     [14]byte // the frame's header as on the wire
	HeaderLen  int
}

// wsConn is the WebSocket layer of a connection.
type wsConn struct {
	info    *WSInfo
	req     decode.HTTPHead // the client's upgrade request
	rsv     uint8           // RSV bits an extension defines (4: permessage-deflate)
	confirm bool            // MQTT was not negotiated: a CONNECT must show it
	said    map[string]bool // problems reported once per connection
	halves  [2]wsHalf
}

// wsHalf is one direction of a WebSocket connection.
type wsHalf struct {
	head      bool   // reading this direction's HTTP head
	probe     bool   // the first bytes tell whether a head or frames come
	lost      bool   // the next frame boundary is unknown (mid-stream, lost bytes)
	broken    bool   // nothing more of this direction is decoded
	buf       []byte // an incomplete head, frame header or control payload
	starts    []int  // resynchronising: where in buf segments began
	frame     decode.WSFrame
	left      uint64 // payload bytes of the frame still to come
	pos       uint64 // payload bytes of the frame read
	inMsg     bool   // a fragmented data message is in progress
	deflated  bool   // the message in progress is compressed
	skipMsg   bool   // the message in progress is not decoded (too large, lost bytes)
	msg       []byte // the compressed message so far
	plain     []byte // scratch: unmasked payload, inflated message
	inflater  *decode.Inflater
	takeover  bool        // the sender keeps its compression context from message to message
	noContext bool        // bytes were lost: its compressed messages cannot be inflated any more
	cur       WSFrameInfo // the frame whose payload is being delivered
}

// startWS turns c into a WebSocket connection (or, under TLS, makes
// WebSocket its inner layer). The first bytes of each direction tell
// whether its part of the handshake comes; otherwise it starts at a frame
// boundary, or resynchronises on one when it was first seen mid-stream.
func (p *Pipeline) startWS(c *conn, ctx *frameCtx) {
	cl, sv := c.endpoints(int(max(c.client, 0)))
	w := &wsConn{info: &WSInfo{Stream: int(c.stream), Frame: ctx.frame, Client: cl, Server: sv, TLS: c.tls != nil}}
	for i := range w.halves {
		w.halves[i].probe = true
	}
	c.ws = w
	if c.tls != nil {
		c.inner = kindWS
	} else {
		c.kind = kindWS
	}
	if len(p.wsInfos) < maxTLSInfos {
		p.wsInfos = append(p.wsInfos, w.info)
	} else {
		p.unlisted(c, ctx, "WebSocket")
	}
}

// wsFeed takes the next in-order bytes of direction i of a WebSocket
// connection.
func (p *Pipeline) wsFeed(c *conn, i int, data []byte, ctx *frameCtx) {
	h := &c.ws.halves[i]
	for len(data) > 0 && !h.broken && c.ws != nil && p.err == nil {
		switch {
		case h.probe:
			h.probe = false
			h.head = decode.LooksLikeHTTPRequest(data) || hasPrefix(data, "HTTP/")
			h.lost = !h.head && c.halves[i].midflow
		case h.head:
			data = p.wsHead(c, i, data, ctx)
		case h.lost:
			data = p.wsResync(c, i, data)
		case h.left == 0:
			data = p.wsHeader(c, i, data, ctx)
		default:
			data = p.wsPayload(c, i, data, ctx)
		}
	}
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// wsHead reads this direction's HTTP head (the upgrade request, or the
// server's answer) and returns the bytes after it.
func (p *Pipeline) wsHead(c *conn, i int, data []byte, ctx *frameCtx) []byte {
	w, h := c.ws, &c.ws.halves[i]
	h.buf = append(h.buf, data...)
	head, err := decode.ParseHTTPHead(h.buf)
	if errors.Is(err, decode.ErrHTTPShort) {
		return nil
	}
	if err != nil {
		p.wsNotWebSocket(c, "its HTTP head cannot be read: "+err.Error())
		return nil
	}
	rest := append([]byte(nil), h.buf[head.Len:]...)
	h.buf, h.head = h.buf[:0], false
	if head.Request {
		w.req = head
		w.info.Frame = ctx.frame
		return rest
	}
	if !w.req.Request {
		// The request was not captured: the answer tells what was agreed.
		w.req = decode.HTTPHead{Request: true, Method: "GET", Headers: []decode.HTTPHeader{
			{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"},
			{Name: "Sec-WebSocket-Protocol", Value: head.Get("Sec-WebSocket-Protocol")},
			{Name: "Sec-WebSocket-Extensions", Value: head.Get("Sec-WebSocket-Extensions")}}}
	}
	up, err := decode.ParseWSUpgrade(&w.req, &head)
	if err != nil && !errors.Is(err, decode.ErrWSExtension) {
		p.wsNotWebSocket(c, err.Error())
		return nil
	}
	p.wsUpgraded(c, up, err, ctx)
	if up.Status != 101 {
		p.wsNotWebSocket(c, fmt.Sprintf("the server answered the upgrade with status %d", up.Status))
		return nil
	}
	return rest
}

// wsUpgraded takes the handshake: what was negotiated, and the findings
// about a subprotocol that is not MQTT's.
func (p *Pipeline) wsUpgraded(c *conn, up decode.WSUpgrade, extErr error, ctx *frameCtx) {
	w := c.ws
	inf := w.info
	inf.Handshake, inf.Path, inf.Host = true, up.Path, up.Host
	inf.Offered, inf.Chosen, inf.Extensions, inf.Status = up.Offered, up.Chosen, up.ExtensionsAccepted, up.Status
	if extErr != nil {
		p.wsProblem(c, ctx, "the server accepted permessage-deflate with parameters RFC 7692 does not allow: "+extErr.Error())
	}
	if d := up.Deflate; d != nil && c.client >= 0 {
		inf.Compressed, inf.ContextTakeover, w.rsv = true, !d.ClientNoContextTakeover || !d.ServerNoContextTakeover, 4
		w.halves[c.client].inflater = d.Inflater(true, wsMaxMessage)
		w.halves[1-c.client].inflater = d.Inflater(false, wsMaxMessage)
		w.halves[c.client].takeover = !d.ClientNoContextTakeover
		w.halves[1-c.client].takeover = !d.ServerNoContextTakeover
	}
	switch {
	case decode.OffersMQTT(up.Chosen):
	case len(up.Chosen) > 0:
		w.confirm = true
		c.report(ctx, Finding{Code: WebSocketNotMQTT,
			Text: fmt.Sprintf("the WebSocket upgrade of %s negotiated the subprotocol %q, not mqtt, but MQTT flows on it (MQTT-6.0.0-3 requires mqtt)", c.describe(), up.Chosen[0])})
	default:
		w.confirm = true
		c.report(ctx, Finding{Code: WebSocketNoSubprotocol,
			Text: fmt.Sprintf("the WebSocket upgrade of %s negotiated no subprotocol (the client offered %s); MQTT flows on it without mqtt being agreed (MQTT-6.0.0-3)", c.describe(), offered(up.Offered))})
	}
}

// wsDeflate makes inflaters for a connection whose handshake is not known.
func (p *Pipeline) wsDeflate(c *conn) {
	w := c.ws
	w.info.Compressed, w.info.ContextTakeover, w.rsv = true, true, 4
	for i := range w.halves {
		if w.halves[i].inflater == nil {
			w.halves[i].inflater = decode.NewInflater(15, true, wsMaxMessage)
			w.halves[i].takeover = true
		}
	}
}

// wsNotWebSocket gives up on a connection that turned out not to be MQTT
// over WebSocket.
func (p *Pipeline) wsNotWebSocket(c *conn, why string) {
	c.ws.info.NotMQTT = why
	if c.tls != nil {
		c.inner = kindOther
	} else {
		c.kind = kindOther
	}
	c.ws.halves[0].broken, c.ws.halves[1].broken = true, true
	c.takeWaiting()
	c.release()
}

// wsProblem reports a WebSocket problem of a connection, each text once.
func (p *Pipeline) wsProblem(c *conn, ctx *frameCtx, text string) {
	w := c.ws
	if w.said == nil {
		w.said = make(map[string]bool)
	}
	if w.said[text] {
		return
	}
	w.said[text] = true
	c.report(ctx, Finding{Code: WebSocketMalformed, Text: fmt.Sprintf("WebSocket connection %s: %s", c.describe(), text)})
}

// wsHeader reads the next frame's header and returns the bytes after it.
func (p *Pipeline) wsHeader(c *conn, i int, data []byte, ctx *frameCtx) []byte {
	w, h := c.ws, &c.ws.halves[i]
	b, had := data, len(h.buf)
	if had > 0 {
		// The header began in an earlier segment; 14 bytes always hold it.
		h.buf = append(h.buf, data[:min(len(data), 14-had)]...)
		b = h.buf
	}
	f, err := decode.ParseWSFrame(b)
	switch {
	case errors.Is(err, decode.ErrWSShort):
		if had == 0 {
			h.buf = append(h.buf, data...)
		}
		return nil // every byte of data is in h.buf now
	case err != nil:
		p.wsProblem(c, ctx, "a frame declares a payload length with its most significant bit set (RFC 6455 5.2); the rest of this direction is skipped")
		h.broken = true
		return nil
	}
	used := f.HeaderLen - had
	h.buf = h.buf[:0]
	if f.PayloadLen > wsMaxFrame {
		p.wsProblem(c, ctx, fmt.Sprintf("a frame declares %d bytes of payload, more than the %s mqtap follows; the rest of this direction is skipped", f.PayloadLen, byteSize(wsMaxFrame)))
		h.broken = true
		return nil
	}
	fromClient := c.client == int8(i)
	if f.RSV&4 != 0 && h.inflater == nil && !w.info.Handshake && !f.Opcode.Control() {
		// Compressed messages, the handshake not captured: inflating as if
		// the context were kept and the window full is right either way.
		p.wsDeflate(c)
	}
	if pr := decode.WSFrameProblem(f, fromClient, w.rsv, !h.inMsg); pr != "" {
		p.wsProblem(c, ctx, pr)
	}
	w.info.Frames++
	h.frame, h.left, h.pos = f, f.PayloadLen, 0
	h.cur = WSFrameInfo{Fin: f.Fin, RSV: f.RSV, Opcode: f.Opcode, Masked: f.Masked, MaskKey: f.MaskKey, PayloadLen: f.PayloadLen, HeaderLen: f.HeaderLen}
	copy(h.cur.Header[:], b[:f.HeaderLen])
	switch f.Opcode {
	case decode.WSText, decode.WSBinary:
		if f.Opcode == decode.WSText {
			p.wsProblem(c, ctx, "MQTT is sent in a text frame; MQTT-6.0.0-1 requires binary frames")
		}
		h.inMsg, h.deflated, h.skipMsg = !f.Fin, f.RSV&4 != 0 && h.inflater != nil, false
		h.msg = h.msg[:0]
	case decode.WSContinuation:
		if f.Fin {
			h.inMsg = false
		}
	}
	if h.deflated && uint64(len(h.msg))+f.PayloadLen > wsMaxMessage && !h.skipMsg {
		h.skipMsg = true
		p.wsProblem(c, ctx, fmt.Sprintf("a compressed message is over the cap of %s; it is skipped", byteSize(wsMaxMessage)))
	}
	if h.left == 0 {
		p.wsFrameEnd(c, i, ctx)
	}
	return data[used:]
}

// wsPayload takes payload bytes of the current frame and returns the bytes
// after it.
func (p *Pipeline) wsPayload(c *conn, i int, data []byte, ctx *frameCtx) []byte {
	h := &c.ws.halves[i]
	n := len(data)
	if uint64(n) > h.left {
		n = int(h.left)
	}
	chunk, rest := data[:n], data[n:]
	if h.frame.Masked {
		h.plain = append(h.plain[:0], chunk...)
		decode.UnmaskWS(h.plain, h.plain, h.frame.MaskKey, h.pos)
		chunk = h.plain
	}
	h.left -= uint64(n)
	h.pos += uint64(n)
	switch {
	case h.frame.Opcode.Control():
		if len(h.buf) < 125 {
			h.buf = append(h.buf, chunk[:min(len(chunk), 125-len(h.buf))]...)
		}
	case h.skipMsg:
	case h.deflated:
		h.msg = append(h.msg, chunk...)
	default:
		p.wsMQTT(c, i, chunk, ctx)
	}
	if h.left == 0 {
		p.wsFrameEnd(c, i, ctx)
	}
	return rest
}

// wsFrameEnd ends the current frame: a control frame is read, a compressed
// message that ends here is inflated.
func (p *Pipeline) wsFrameEnd(c *conn, i int, ctx *frameCtx) {
	h := &c.ws.halves[i]
	f := h.frame
	switch {
	case f.Opcode == decode.WSClose:
		code, reason, problem := decode.ParseWSClose(h.buf)
		c.ws.info.CloseCode, c.ws.info.Close = code, string(reason)
		if problem != "" {
			p.wsProblem(c, ctx, problem)
		}
	case f.Opcode.Control():
	case h.deflated && f.Fin && !h.skipMsg && h.noContext:
		p.wsProblem(c, ctx, "compressed messages sent after bytes lost from the capture cannot be inflated: the sender keeps its compression context from message to message (permessage-deflate context takeover); they are skipped")
	case h.deflated && f.Fin && !h.skipMsg:
		out, err := h.inflater.Message(h.msg, h.plain[:0])
		h.plain = out
		if err != nil {
			p.wsProblem(c, ctx, "a compressed message cannot be inflated: "+err.Error())
		} else {
			p.wsMQTT(c, i, out, ctx)
		}
	}
	if f.Opcode.Control() {
		h.buf = h.buf[:0]
	}
	if f.Fin && !f.Opcode.Control() {
		h.deflated, h.skipMsg = false, false
		h.msg = h.msg[:0]
	}
}

// wsMQTT hands the payload of data frames to the MQTT framing. When MQTT
// was not negotiated, the client's first message must start with a CONNECT
// (or the start of one) for the connection to be decoded as MQTT.
func (p *Pipeline) wsMQTT(c *conn, i int, payload []byte, ctx *frameCtx) {
	if len(payload) == 0 {
		return
	}
	w := c.ws
	if w.confirm && !p.wsConfirm(c, i, payload) {
		return
	}
	h := &w.halves[i]
	c.halves[i].msgStart = h.pos == uint64(len(payload)) && (h.frame.Opcode == decode.WSBinary || h.frame.Opcode == decode.WSText) || h.deflated
	p.parse(c, i, payload, ctx)
}

// wsConfirm decides, from the first data message of direction i, whether a
// WebSocket connection that did not negotiate mqtt carries MQTT: a CONNECT
// from the client, a CONNACK from the broker, or, when the client's start
// was lost, a plausible packet. It reports whether the payload is to be
// decoded.
func (p *Pipeline) wsConfirm(c *conn, i int, payload []byte) bool {
	typ := decode.Type(payload[0] >> 4)
	switch {
	case !plausible(payload, 0, detectLimit):
	case c.client == int8(i) && (typ == decode.CONNECT || c.halves[i].midflow):
		c.ws.confirm = false
		return true
	case c.client != int8(i) && typ == decode.CONNACK:
		c.ws.confirm = false
		return true
	}
	if c.client != int8(i) {
		return false // what the client sends tells
	}
	p.wsNotWebSocket(c, "no MQTT on it")
	return false
}

// wsLost goes on after n bytes of direction i were lost: within a frame's
// payload the framing goes on (the MQTT framing learns of the lost bytes);
// otherwise the next frame boundary is found again.
func (p *Pipeline) wsLost(c *conn, i, n int, ctx *frameCtx) {
	h := &c.ws.halves[i]
	if h.broken {
		return
	}
	if h.head || h.probe {
		h.head, h.probe, h.lost = false, false, true
		h.buf = h.buf[:0]
		return
	}
	data := !h.frame.Opcode.Control() && !h.deflated && !h.skipMsg
	if h.left > 0 && uint64(n) <= h.left {
		h.left -= uint64(n)
		h.pos += uint64(n)
		if h.deflated {
			h.skipMsg = true
			h.noContext = h.takeover // the next messages may refer to the lost bytes
		}
		if data {
			p.mqttLost(c, i, n, ctx)
		}
		if h.left == 0 {
			p.wsFrameEnd(c, i, ctx)
		}
		return
	}
	h.noContext = h.takeover // lost frames may have been compressed history
	h.lost, h.left, h.inMsg, h.deflated, h.skipMsg = true, 0, false, false, false
	h.buf, h.msg = h.buf[:0], h.msg[:0]
	p.mqttLost(c, i, math.MaxInt32, ctx)
}

// Title is the WebSocket line of a record's detail tree, as Wireshark's.
func (f *WSFrameInfo) Title() string {
	return fmt.Sprintf("WebSocket, Fin: %s, Opcode: %s, Mask: %s, Payload length: %d", trueFalse(f.Fin), f.Opcode, trueFalse(f.Masked), f.PayloadLen)
}

// Lines are the fields of the frame and of its connection, one a line, for
// detail trees.
func (f *WSFrameInfo) Lines(w *WSInfo) []string {
	lines := []string{
		"Fin: " + trueFalse(f.Fin),
		fmt.Sprintf("Reserved: 0x%x", f.RSV),
		fmt.Sprintf("Opcode: %s (%d)", f.Opcode, f.Opcode),
		"Mask: " + trueFalse(f.Masked),
		fmt.Sprintf("Payload length: %d", f.PayloadLen),
	}
	if f.RSV&4 != 0 {
		lines[1] += " (Per-Message Compressed)"
	}
	if f.Masked {
		lines = append(lines, fmt.Sprintf("Masking-Key: %x", f.MaskKey))
	}
	if w != nil {
		lines = append(lines, "[Connection: "+w.Describe()+"]")
	}
	return lines
}

// Describe says in one line how the connection was opened: its handshake,
// or that the capture does not hold it.
func (w *WSInfo) Describe() string {
	if !w.Handshake {
		return "the handshake was not captured"
	}
	s := fmt.Sprintf("GET %s, Host %s, status %d", w.Path, w.Host, w.Status)
	if len(w.Chosen) > 0 {
		s += ", subprotocol " + w.Chosen[0]
	} else {
		s += ", no subprotocol"
	}
	if len(w.Offered) > 0 {
		s += fmt.Sprintf(" (offered %s)", strings.Join(w.Offered, ", "))
	}
	if w.Extensions != "" {
		s += ", extensions " + w.Extensions
	}
	return s
}

func trueFalse(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// offered names the subprotocols a client offered.
func offered(protos []string) string {
	if len(protos) == 0 {
		return "none"
	}
	return strings.Join(protos, ", ")
}
