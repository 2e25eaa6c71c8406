package decode

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsScenario is one recorded conversation: who talks to whom, and what the
// handshake must have negotiated.
type wsScenario struct {
	name    string
	run     func(t *testing.T, relay func(target string) string, msgs []wsSent)
	deflate *DeflateParams // expected, nil: no compression
}

func wsScenarios() []wsScenario {
	coder := func(mode websocket.CompressionMode) func(*testing.T, func(string) string, []wsSent) {
		return func(t *testing.T, relay func(string) string, msgs []wsSent) {
			runCoderClient(t, relay(startCoderServer(t, mode)), mode, msgs)
		}
	}
	py := func(client, server string) func(*testing.T, func(string) string, []wsSent) {
		return func(t *testing.T, relay func(string) string, msgs []wsSent) {
			var target string
			if server == "" {
				target = startCoderServer(t, websocket.CompressionContextTakeover)
			} else {
				target = startPythonServer(t, server)
			}
			runPythonClient(t, relay(target), client, msgs)
		}
	}
	takeover := &DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	return []wsScenario{
		{"coder-plain", coder(websocket.CompressionDisabled), nil},
		{"coder-nocontext", coder(websocket.CompressionNoContextTakeover),
			&DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"coder-context", coder(websocket.CompressionContextTakeover), takeover},
		{"python-coder", py("window", ""), takeover},
		{"python-window", py("window", "window"), &DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 9}},
		{"python-nocontext", py("nocontext", "nocontext"),
			&DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"python-plain", py("none", "window"), nil},
	}
}

// wsGot is a message decoded from a recording.
type wsGot struct {
	op         WSOpcode
	data       []byte
	frames     int
	compressed bool
	raw        []byte // the compressed payload, when compressed
}

// wsDir is what one direction of a recording decodes to.
type wsDir struct {
	frames       []WSFrame
	msgs         []wsGot
	pings, pongs [][]byte
	closes       [][]byte // Close payloads
}

// wsConv is a decoded recording.
type wsConv struct {
	req, resp        HTTPHead
	up               WSUpgrade
	client, server   wsDir
	clientB, serverB []byte // the frames of each direction, after the heads
	reqB, respB      []byte // the first 1 KiB of each direction
}

// TestWSRealTraffic records real WebSocket conversations (github.com/coder/websocket
// and python3-websockets, with and without permessage-deflate, with and
// without context takeover, with negotiated window bits), decodes every
// byte with ParseHTTPHead, ParseWSUpgrade, ParseWSFrame, UnmaskWS,
// WSFrameProblem, ParseWSClose and Inflater, and checks the result against
// what was sent: the handshake, every message in both directions, the
// pings, pongs and closes. The same recordings are compared with tshark.
func TestWSRealTraffic(t *testing.T) {
	msgs := wsMessages()
	for i, sc := range wsScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var tapes <-chan *wsTape
			relay := func(target string) string {
				addr, ch := startRelay(t, target)
				tapes = ch
				return addr
			}
			sc.run(t, relay, msgs)
			var tape *wsTape
			select {
			case tape = <-tapes:
			case <-time.After(30 * time.Second):
				t.Fatal("the recorded connection did not close")
			}
			conv := decodeTape(t, tape, rand.New(rand.NewPCG(uint64(i), 1)))
			checkHandshake(t, conv, sc.deflate)
			checkConversation(t, conv, msgs, sc.deflate)
			compareTshark(t, tape, conv, 52000+i)
			saveSeeds(t, sc.name, conv)
		})
	}
}

// decodeTape decodes a recording with the package's decoders.
func decodeTape(t *testing.T, tape *wsTape, rng *rand.Rand) *wsConv {
	t.Helper()
	cs, ss := tape.stream(true), tape.stream(false)
	conv := &wsConv{}
	conv.req = parseHeadChecked(t, cs)
	conv.resp = parseHeadChecked(t, ss)
	up, err := ParseWSUpgrade(&conv.req, &conv.resp)
	if err != nil {
		t.Fatalf("ParseWSUpgrade: %v", err)
	}
	conv.up = up
	conv.clientB, conv.serverB = cs[conv.req.Len:], ss[conv.resp.Len:]
	conv.reqB, conv.respB = cs[:min(len(cs), 1024)], ss[:min(len(ss), 1024)]
	conv.client = decodeWSDir(t, conv.clientB, true, up.Deflate, rng)
	conv.server = decodeWSDir(t, conv.serverB, false, up.Deflate, rng)
	return conv
}

// parseHeadChecked parses the head at the start of b, and checks that every
// shorter prefix of it is ErrHTTPShort.
func parseHeadChecked(t *testing.T, b []byte) HTTPHead {
	t.Helper()
	h, err := ParseHTTPHead(b)
	if err != nil {
		t.Fatalf("ParseHTTPHead(%q): %v", b[:min(len(b), 300)], err)
	}
	for k := range h.Len {
		if _, err := ParseHTTPHead(b[:k]); !errors.Is(err, ErrHTTPShort) {
			t.Fatalf("ParseHTTPHead of the first %d of %d bytes: %v, want ErrHTTPShort", k, h.Len, err)
		}
	}
	return h
}

// decodeWSDir decodes the frames of one direction, unmasking each payload
// in random pieces and inflating compressed messages.
func decodeWSDir(t *testing.T, b []byte, fromClient bool, d *DeflateParams, rng *rand.Rand) wsDir {
	t.Helper()
	var out wsDir
	var rsv uint8
	var inf *Inflater
	if d != nil {
		rsv = 4
		inf = d.Inflater(fromClient, 8<<20)
	}
	first := true
	var cur wsGot
	for off := 0; off < len(b); {
		f, err := ParseWSFrame(b[off:])
		if err != nil {
			t.Fatalf("frame at %d: %v", off, err)
		}
		for k := range f.HeaderLen {
			if _, err := ParseWSFrame(b[off : off+k]); err != ErrWSShort {
				t.Fatalf("frame at %d: the first %d header bytes give %v, want ErrWSShort", off, k, err)
			}
		}
		if h := AppendWSFrame(nil, f); !bytes.Equal(h, b[off:off+f.HeaderLen]) {
			t.Errorf("frame at %d: header % x re-encodes as % x", off, b[off:off+f.HeaderLen], h)
		}
		total, ok := f.Total()
		if !ok || off+total > len(b) {
			t.Fatalf("frame at %d (%+v) runs past the %d recorded bytes", off, f, len(b))
		}
		if p := WSFrameProblem(f, fromClient, rsv, first); p != "" {
			t.Errorf("frame at %d (%+v): %s", off, f, p)
		}
		out.frames = append(out.frames, f)
		payload := unmaskPieces(t, b[off+f.HeaderLen:off+total], f, rng)
		off += total
		switch f.Opcode {
		case WSPing:
			out.pings = append(out.pings, payload)
		case WSPong:
			out.pongs = append(out.pongs, payload)
		case WSClose:
			out.closes = append(out.closes, payload)
		default:
			if first {
				cur = wsGot{op: f.Opcode, compressed: f.RSV&4 != 0}
			}
			cur.frames++
			cur.data = append(cur.data, payload...)
			first = f.Fin
			if f.Fin {
				out.msgs = append(out.msgs, finishMessage(t, cur, inf))
			}
		}
	}
	return out
}

// finishMessage inflates a compressed message.
func finishMessage(t *testing.T, m wsGot, inf *Inflater) wsGot {
	t.Helper()
	if !m.compressed {
		return m
	}
	out, err := inf.Message(m.data, nil)
	if err != nil {
		t.Fatalf("inflating a %d-byte message: %v", len(m.data), err)
	}
	m.raw, m.data = m.data, out
	return m
}

// unmaskPieces unmasks a payload in random pieces and checks the result
// against a byte-by-byte XOR.
func unmaskPieces(t *testing.T, src []byte, f WSFrame, rng *rand.Rand) []byte {
	t.Helper()
	out := slices.Clone(src)
	if !f.Masked {
		return out
	}
	for pos := 0; pos < len(out); {
		n := min(len(out)-pos, 1+rng.IntN(5000))
		if rng.IntN(2) == 0 {
			UnmaskWS(out[pos:pos+n], out[pos:pos+n], f.MaskKey, uint64(pos))
		} else {
			UnmaskWS(out[pos:pos+n], src[pos:pos+n], f.MaskKey, uint64(pos))
		}
		pos += n
	}
	for i := range src {
		if out[i] != src[i]^f.MaskKey[i%4] {
			t.Fatalf("UnmaskWS: byte %d of %d is %#x, want %#x", i, len(src), out[i], src[i]^f.MaskKey[i%4])
		}
	}
	return out
}

// checkHandshake checks the heads and the negotiated upgrade.
func checkHandshake(t *testing.T, c *wsConv, want *DeflateParams) {
	t.Helper()
	up := c.up
	if !c.req.Request || c.req.Method != "GET" || c.req.Version != "HTTP/1.1" || c.resp.Request || c.resp.Status != 101 {
		t.Errorf("heads: %+v / %+v", c.req, c.resp)
	}
	if up.Status != 101 || up.Path != "/mqtt" || up.Host == "" || !OffersMQTT(up.Offered) ||
		!slices.Equal(up.Chosen, []string{"mqtt"}) {
		t.Errorf("upgrade: %+v", up)
	}
	if got, want := c.resp.Get("Sec-WebSocket-Accept"), WSAcceptKey(c.req.Get("Sec-WebSocket-Key")); got != want {
		t.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	switch {
	case want == nil && up.Deflate != nil:
		t.Errorf("permessage-deflate %+v negotiated, want none (%q)", *up.Deflate, up.ExtensionsAccepted)
	case want != nil && (up.Deflate == nil || *up.Deflate != *want):
		t.Errorf("permessage-deflate %+v (%q), want %+v", up.Deflate, up.ExtensionsAccepted, *want)
	}
}

// checkConversation checks the decoded frames against what was sent.
func checkConversation(t *testing.T, c *wsConv, sent []wsSent, d *DeflateParams) {
	t.Helper()
	for _, dir := range []struct {
		name string
		d    wsDir
	}{{"client", c.client}, {"server", c.server}} {
		if len(dir.d.msgs) != len(sent) {
			t.Fatalf("%s: %d messages decoded, %d sent", dir.name, len(dir.d.msgs), len(sent))
		}
		compressed := 0
		for i, m := range dir.d.msgs {
			if m.op != sent[i].op || !bytes.Equal(m.data, sent[i].data) {
				t.Errorf("%s: message %d: %v %d bytes, sent %v %d bytes", dir.name, i, m.op, len(m.data), sent[i].op, len(sent[i].data))
			}
			if m.compressed {
				compressed++
			}
			if dir.name == "client" && sent[i].parts > 1 && !m.compressed && m.frames < sent[i].parts {
				t.Errorf("client: fragmented message %d came in %d frames, sent in %d parts", i, m.frames, sent[i].parts)
			}
		}
		if (d != nil) != (compressed > 0) {
			t.Errorf("%s: %d compressed messages with permessage-deflate %v", dir.name, compressed, d != nil)
		}
		checkCloses(t, dir.name, dir.d.closes)
	}
	checkPings(t, c.client.pings, c.server.pongs, "client")
	checkPings(t, c.server.pings, c.client.pongs, "server")
	if len(c.client.pings) == 0 {
		t.Error("the client's ping was not found")
	}
	code, reason, _ := ParseWSClose(c.client.closes[0])
	if code != 1000 || (string(reason) != "bye from the client" && string(reason) != "client done ✓") {
		t.Errorf("client close: %d %q", code, reason)
	}
	var conn Conn
	var p Packet
	for i, m := range c.client.msgs {
		if m.op == WSBinary {
			if conn.Decode(m.data, true, &p); p.Malformed() != "" {
				t.Errorf("client message %d is not a well-formed MQTT packet: %s", i, p.Malformed())
			}
		}
	}
	if !slices.ContainsFunc(c.client.msgs, func(m wsGot) bool { return m.frames > 1 }) {
		t.Error("no fragmented client message")
	}
	if d == nil {
		checkLengths(t, c.client.frames)
	}
}

// checkCloses checks that a direction sent one well-formed Close frame.
func checkCloses(t *testing.T, dir string, closes [][]byte) {
	t.Helper()
	if len(closes) != 1 {
		t.Fatalf("%s: %d Close frames", dir, len(closes))
	}
	if code, reason, p := ParseWSClose(closes[0]); p != "" || WSCloseCodeName(code) == "" {
		t.Errorf("%s: close %d %q: %s", dir, code, reason, p)
	}
}

// checkPings checks that every ping has a pong with its payload.
func checkPings(t *testing.T, pings, pongs [][]byte, who string) {
	t.Helper()
	for _, p := range pings {
		if !slices.ContainsFunc(pongs, func(q []byte) bool { return bytes.Equal(p, q) }) {
			t.Errorf("the %s's ping %q has no pong", who, p)
		}
	}
}

// checkLengths checks that the uncompressed client frames crossed the
// payload length encoding boundaries.
func checkLengths(t *testing.T, frames []WSFrame) {
	t.Helper()
	want := map[uint64]int{125: 6, 126: 8, 65535: 8, 65536: 14}
	for _, f := range frames {
		if hl, ok := want[f.PayloadLen]; ok && f.HeaderLen == hl {
			delete(want, f.PayloadLen)
		}
	}
	if len(want) > 0 {
		t.Errorf("no client frame with these payload lengths and header lengths: %v", want)
	}
}
