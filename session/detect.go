package session

import (
	"errors"
	"slices"
	"strings"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/tlswire"
)

// verdict says what a connection carries, from the bytes each direction
// sent so far (kindUnknown while they do not tell). A direction whose start
// was captured opens with CONNECT (a client: MQTT), with CONNACK (a broker
// whose client's CONNECT was not captured), with a ClientHello (TLS,
// whatever it carries) or with an HTTP request upgrading to WebSocket (MQTT
// over WebSocket, checked once data flows); anything else is not MQTT.
// Otherwise both directions must begin with a run of well-formed packets,
// four in all, either bare or in WebSocket frames.
func (c *conn) verdict() kind {
	var mqtt, ws [2]int
	mqttOK, wsOK := true, true
	for i := range c.halves {
		h := &c.halves[i]
		if len(h.buf) == 0 {
			continue
		}
		if !h.midflow {
			switch k, decided := c.opening(i); {
			case decided:
				return k
			case k == kindUnknown:
				continue // the opening is not whole yet
			}
		}
		var ok bool
		mqtt[i], ok = wellFormedRun(h.buf)
		mqttOK = mqttOK && ok
		ws[i], ok = wsRun(h.buf)
		wsOK = wsOK && ok
	}
	switch {
	case mqttOK && mqtt[0] > 0 && mqtt[1] > 0 && mqtt[0]+mqtt[1] >= 4:
		return kindMQTT
	case wsOK && ws[0] > 0 && ws[1] > 0 && ws[0]+ws[1] >= 4:
		return kindWS
	case !mqttOK && !wsOK:
		return kindOther
	case len(c.halves[0].buf) > detectLimit || len(c.halves[1].buf) > detectLimit:
		return kindOther
	}
	return kindUnknown
}

// opening judges how direction i, whose start was captured, opens:
// decided with the connection's kind, or kindUnknown while the opening is
// not whole, or kindMQTT undecided when it opens like a broker (a CONNACK:
// the run of packets decides).
func (c *conn) opening(i int) (k kind, decided bool) {
	b := c.halves[i].buf
	switch {
	case tlswire.LooksLikeClientHello(b):
		// TLS on any port: what it carries is known once decrypted.
		switch whole, ok := clientHello(b); {
		case whole && ok:
			c.client = int8(i)
			return kindTLS, true
		case whole || len(b) > detectLimit:
			return kindOther, true
		}
		return kindUnknown, false
	case decode.LooksLikeHTTPRequest(b):
		head, err := decode.ParseHTTPHead(b)
		if errors.Is(err, decode.ErrHTTPShort) {
			return kindUnknown, false
		}
		if err != nil {
			return kindOther, true
		}
		if _, err := decode.ParseWSUpgrade(&head, nil); err != nil {
			return kindOther, true // HTTP, but no WebSocket
		}
		c.client = int8(i)
		return kindWS, true
	case hasPrefix(b, "HTTP/1."):
		// The server's answer to an upgrade whose request was not captured.
		head, err := decode.ParseHTTPHead(b)
		if errors.Is(err, decode.ErrHTTPShort) {
			return kindUnknown, false
		}
		if err != nil || head.Status != 101 || !strings.EqualFold(head.Get("Upgrade"), "websocket") {
			return kindOther, true
		}
		c.client = int8(1 - i)
		return kindWS, true
	}
	switch decode.Type(b[0] >> 4) {
	case decode.CONNECT:
		if !plausible(b, 0, detectLimit) {
			return kindOther, true
		}
		if hdr, err := decode.ParseHeader(b); err == nil && hdr.Total() <= len(b) {
			c.client = int8(i)
			return kindMQTT, true
		}
		return kindUnknown, false
	case decode.CONNACK:
		return kindMQTT, false
	}
	return kindOther, true
}

// wsRun counts the well-formed MQTT packets at the start of the payloads of
// the WebSocket frames at the start of b (uncompressed binary data; control
// frames are skipped). ok is false when b does not start with such frames
// carrying MQTT.
func wsRun(b []byte) (n int, ok bool) {
	var payload []byte
	masked := -1
	for len(b) > 0 {
		f, err := decode.ParseWSFrame(b)
		if errors.Is(err, decode.ErrWSShort) {
			break
		}
		if err != nil || f.Opcode.Reserved() || f.RSV != 0 || (f.Opcode.Control() && (!f.Fin || f.PayloadLen > 125)) ||
			f.Opcode == decode.WSText || masked >= 0 && b2i(f.Masked) != masked {
			return 0, false
		}
		masked = b2i(f.Masked)
		end := uint64(f.HeaderLen) + f.PayloadLen
		if end > uint64(len(b)) {
			if !f.Opcode.Control() {
				payload = appendUnmasked(payload, f, b[f.HeaderLen:], 0)
			}
			break
		}
		if !f.Opcode.Control() {
			payload = appendUnmasked(payload, f, b[f.HeaderLen:end], 0)
		}
		b = b[end:]
	}
	if len(payload) == 0 {
		return 0, masked >= 0
	}
	return wellFormedRun(payload)
}

// appendUnmasked appends a frame's payload bytes from position pos, unmasked.
func appendUnmasked(dst []byte, f decode.WSFrame, payload []byte, pos uint64) []byte {
	start := len(dst)
	dst = append(dst, payload...)
	if f.Masked {
		decode.UnmaskWS(dst[start:], dst[start:], f.MaskKey, pos)
	}
	return dst
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wsResync finds the next frame boundary in the bytes of a direction that
// lost it (the capture started mid-stream, or bytes were lost): see
// wsBoundary. It holds the bytes it cannot judge yet and returns those from
// the boundary on.
func (p *Pipeline) wsResync(c *conn, i int, data []byte) []byte {
	h := &c.ws.halves[i]
	if len(h.starts) < 64 {
		h.starts = append(h.starts, len(h.buf))
	}
	h.buf = append(h.buf, data...)
	masked := -1
	if c.client >= 0 {
		masked = b2i(c.client == int8(i)) // a client masks its frames
	}
	off, ok := wsBoundary(h.buf, h.starts, masked)
	if off > 0 {
		c.halves[i].skipped(off)
		p.stats.Skipped += off
	}
	if !ok {
		h.buf = append(h.buf[:0], h.buf[off:]...)
		kept := h.starts[:0]
		for _, s := range h.starts {
			if s >= off {
				kept = append(kept, s-off)
			}
		}
		h.starts = kept
		if len(h.buf) > wsResyncMax {
			h.buf, h.starts = h.buf[:0], h.starts[:0] // nothing plausible in a whole frame's worth
		}
		return nil
	}
	rest := append([]byte(nil), h.buf[off:]...)
	h.buf, h.starts, h.lost = h.buf[:0], h.starts[:0], false
	c.halves[i].resync = true // the MQTT packet boundary is unknown too
	return rest
}

// wsBoundary returns the offset in b of the frame boundary to go on from,
// and whether it is known; else the offset from which to keep bytes for
// later (len(b): none). A candidate is a plausible frame header (masked as
// the direction's frames are: masked, -1 when unknown); it is confirmed
// when another one, or the end of b, follows it. A candidate at the start
// of a segment (starts: offsets in b where segments began) is taken first,
// even when its frame needs more bytes: senders start segments with frames,
// while the bytes before a boundary hold false candidates of any length.
// Otherwise the first confirmed candidate is taken, else the bytes from the
// first possible one are kept.
func wsBoundary(b []byte, starts []int, masked int) (int, bool) {
	pending, confirmed := len(b), -1
	for i := 0; i < len(b); i++ {
		done, ok := wsCandidate(b, i, masked)
		if !ok {
			continue
		}
		if slices.Contains(starts, i) {
			return i, done
		}
		switch {
		case done && confirmed < 0:
			confirmed = i
		case !done:
			pending = min(pending, i)
		}
	}
	if confirmed >= 0 {
		return confirmed, true
	}
	return pending, false
}

// wsCandidate judges offset i of b as a frame boundary: ok when a plausible
// frame header starts there, done when it is confirmed (followed by another
// plausible header or by the end of b).
func wsCandidate(b []byte, i, masked int) (done, ok bool) {
	f, err := decode.ParseWSFrame(b[i:])
	if errors.Is(err, decode.ErrWSShort) {
		return false, plausibleWSStart(b[i])
	}
	if err != nil || !plausibleWSStart(b[i]) || f.PayloadLen > wsResyncMax || (f.Opcode.Control() && (!f.Fin || f.PayloadLen > 125)) ||
		masked >= 0 && b2i(f.Masked) != masked {
		return false, false
	}
	end := i + f.HeaderLen + int(f.PayloadLen)
	switch {
	case end > len(b):
		return false, true
	case end == len(b):
		return true, true
	}
	_, err = decode.ParseWSFrame(b[end:])
	return (err == nil || errors.Is(err, decode.ErrWSShort)) && plausibleWSStart(b[end]), true
}

// plausibleWSStart reports whether a byte can start a frame of an MQTT
// connection: a defined opcode, no RSV bit but RSV1 (permessage-deflate).
func plausibleWSStart(c byte) bool {
	op := decode.WSOpcode(c & 0x0f)
	return !op.Reserved() && op != decode.WSText && c&0x30 == 0
}
