package session

import (
	"bytes"
	"compress/flate"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/decode"
)

// wsFrame builds a frame: masked (as a client sends it) with key, or not.
func wsFrame(op decode.WSOpcode, fin bool, rsv uint8, masked bool, payload []byte) []byte {
	f := decode.WSFrame{Fin: fin, RSV: rsv, Opcode: op, Masked: masked, MaskKey: [4]byte{0x12, 0x34, 0x56, 0x78}, PayloadLen: uint64(len(payload))}
	b := decode.AppendWSFrame(nil, f)
	start := len(b)
	b = append(b, payload...)
	if masked {
		decode.UnmaskWS(b[start:], b[start:], f.MaskKey, 0)
	}
	return b
}

const (
	wsRequest = "GET /mqtt HTTP/1.1\r\nHost: broker:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n%s\r\n"
	wsResponse = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzhZRbK+xOo=\r\nSec-WebSocket-Protocol: %s\r\n%s\r\n"
)

// wsHandshake is an upgrade offering mqtt, the server choosing proto, with
// extension headers reqExt and respExt ("" for none).
func wsHandshake(proto, reqExt, respExt string) (req, resp []byte) {
	return []byte(strings.Replace(wsRequest, "%s", reqExt, 1)), []byte(strings.Replace(strings.Replace(wsResponse, "%s", proto, 1), "%s", respExt, 1))
}

// wsConversation lays out a WebSocket connection on port 8080: the
// handshake, then the client's and the server's frames in turn (one
// segment each).
func wsConversation(t testing.TB, port uint16, req, resp []byte, frames ...[]byte) []segment {
	segs := handshake()
	seq := [2]uint32{1, 1}
	add := func(client bool, b []byte) {
		i := 1
		if client {
			i = 0
		}
		segs = append(segs, segment{client, "A", seq[i], b})
		seq[i] += uint32(len(b))
	}
	if req != nil {
		add(true, req)
		add(false, resp)
	}
	for k, f := range frames {
		add(k%2 == 0, f)
	}
	return segs
}

// TestWebSocketFraming decodes MQTT over WebSocket on a port that is not an
// MQTT port: the upgrade is seen, packets are split across frames (even the
// fixed header), several share one frame, pings come between fragments, and
// each record names the frame that completed its packet.
func TestWebSocketFraming(t *testing.T) {
	pub := publish("ws/topic", 1, bytes.Repeat([]byte("w"), 300))
	twoAcks := append(puback(1), puback(2)...)
	req, resp := wsHandshake("mqtt", "", "")
	segs := wsConversation(t, 8080, req, resp,
		wsFrame(decode.WSBinary, true, 0, true, connect311),
		wsFrame(decode.WSBinary, true, 0, false, connack),
		// PUBLISH in three fragments, the first holding one byte, a ping between
		append(append(wsFrame(decode.WSBinary, false, 0, true, pub[:1]), wsFrame(decode.WSPing, true, 0, true, []byte("hi"))...),
			append(wsFrame(decode.WSContinuation, false, 0, true, pub[1:100]), wsFrame(decode.WSContinuation, true, 0, true, pub[100:])...)...),
		wsFrame(decode.WSBinary, true, 0, false, twoAcks),
		wsFrame(decode.WSClose, true, 0, true, []byte{0x03, 0xe8, 'b', 'y', 'e'}),
	)
	c := &conversation{t: t, clientPort: 43000, serverPort: 8080, isn: [2]uint32{1, 1}}
	got, st := c.run(Options{}, segs...)
	if want := "CONNECT@006 CONNACK@007 PUBLISH@008 PUBACK@009 PUBACK@009"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if got[2].Topic != "ws/topic" || len(got[2].Payload) != 300 {
		t.Errorf("PUBLISH over three fragments: %+v", got[2])
	}
	last := fmt.Sprintf("0 true true %d", len(pub)-100) // the continuation that completed the PUBLISH
	for k, want := range []string{"2 true true 20", "2 true false 4", last, "2 true false 8", "2 true false 8"} {
		if got[k].WS != want {
			t.Errorf("record %d: WebSocket frame %q, want %q", k, got[k].WS, want)
		}
	}
	if len(st.WebSocket) != 1 {
		t.Fatalf("WebSocket connections %+v", st.WebSocket)
	}
	w := st.WebSocket[0]
	if !w.Handshake || w.Path != "/mqtt" || w.Host != "broker:8080" || !slices.Equal(w.Chosen, []string{"mqtt"}) || w.Status != 101 || w.CloseCode != 1000 || w.Close != "bye" || w.Packets != 5 {
		t.Errorf("WebSocket info %+v", w)
	}
}

// deflater compresses messages as permessage-deflate does: one stream,
// each message flushed and its 0x00 0x00 0xff 0xff tail removed; with
// takeover false, a new stream for each message.
type deflater struct {
	buf      bytes.Buffer
	w        *flate.Writer
	takeover bool
}

func (d *deflater) message(t testing.TB, b []byte) []byte {
	t.Helper()
	if d.w == nil || !d.takeover {
		d.buf.Reset()
		var err error
		if d.w, err = flate.NewWriter(&d.buf, flate.BestSpeed); err != nil {
			t.Fatal(err)
		}
	}
	start := d.buf.Len()
	d.w.Write(b)
	d.w.Flush()
	out := append([]byte(nil), d.buf.Bytes()[start:]...)
	return bytes.TrimSuffix(out, []byte{0, 0, 0xff, 0xff})
}

// TestWebSocketDeflate inflates permessage-deflate messages, with and
// without context takeover (the second message of each direction refers to
// the first one when the context is kept).
func TestWebSocketDeflate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ext      string
		takeover bool
	}{
		{"context takeover", "Sec-WebSocket-Extensions: permessage-deflate\r\n", true},
		{"no context takeover", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := &deflater{takeover: tc.takeover}, &deflater{takeover: tc.takeover}
			pub := publish("sensors/deflate", 1, bytes.Repeat([]byte("abc"), 100))
			req, resp := wsHandshake("mqtt", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", tc.ext)
			segs := wsConversation(t, 9001, req, resp,
				wsFrame(decode.WSBinary, true, 4, true, cli.message(t, connect311)),
				wsFrame(decode.WSBinary, true, 4, false, srv.message(t, connack)),
				wsFrame(decode.WSBinary, true, 4, true, cli.message(t, pub)),
				wsFrame(decode.WSBinary, true, 4, false, srv.message(t, pub)),
				wsFrame(decode.WSBinary, true, 4, true, cli.message(t, puback(1))),
			)
			c := &conversation{t: t, clientPort: 43001, serverPort: 9001, isn: [2]uint32{1, 1}}
			got, st := c.run(Options{}, segs...)
			if want := "CONNECT@006 CONNACK@007 PUBLISH@008 PUBLISH@009 PUBACK@010"; describe(got) != want {
				t.Fatalf("records %s, want %s", describe(got), want)
			}
			for _, r := range got[2:4] {
				if r.Topic != "sensors/deflate" || len(r.Payload) != 300 || len(r.Findings) != 0 {
					t.Errorf("inflated PUBLISH %+v", r)
				}
			}
			if !st.WebSocket[0].Compressed {
				t.Errorf("permessage-deflate not noticed: %+v", st.WebSocket[0])
			}
		})
	}
}

// TestWebSocketMidStream finds MQTT in WebSocket frames of a connection
// whose handshake (and first frames) the capture does not hold.
func TestWebSocketMidStream(t *testing.T) {
	pub := publish("mid/stream", 7, []byte("payload"))
	var segs []segment
	seq := [2]uint32{500, 900}
	add := func(client bool, b []byte) {
		i := 1
		if client {
			i = 0
		}
		segs = append(segs, segment{client, "A", seq[i], b})
		seq[i] += uint32(len(b))
	}
	for k := range 3 {
		add(false, wsFrame(decode.WSBinary, true, 0, false, pub))
		add(true, wsFrame(decode.WSBinary, true, 0, true, puback(uint16(7+k))))
	}
	add(true, wsFrame(decode.WSBinary, true, 0, true, []byte{0xc0, 0}))
	add(false, wsFrame(decode.WSBinary, true, 0, false, []byte{0xd0, 0}))
	c := &conversation{t: t, clientPort: 43002, serverPort: 8080, isn: [2]uint32{0, 0}}
	got, st := c.run(Options{}, segs...)
	if want := "PUBLISH PUBACK PUBLISH PUBACK PUBLISH PUBACK PINGREQ PINGRESP"; types(got) != want {
		t.Fatalf("records %s, want %s", types(got), want)
	}
	if len(st.WebSocket) != 1 || st.WebSocket[0].Handshake {
		t.Errorf("WebSocket %+v", st.WebSocket)
	}
	// Forced with -d tcp.port==8080,websocket, a capture that starts in the
	// middle of a frame: the frame boundary is found again.
	segs[0].payload = segs[0].payload[5:]
	segs[0].seq += 5
	got, _ = c.run(Options{WSPorts: []uint16{8080}}, segs...)
	if want := "PUBACK PUBLISH PUBACK PUBLISH PUBACK PINGREQ PINGRESP"; types(got) != want {
		t.Errorf("forced, from the middle of a frame: records %s, want %s", types(got), want)
	}
}

// TestWebSocketFindings: a subprotocol other than mqtt, or none, with MQTT
// flowing, and frames that break RFC 6455, are findings; a WebSocket
// connection that carries something else is not decoded.
func TestWebSocketFindings(t *testing.T) {
	run := func(proto string, frames ...[]byte) ([]recordCopy, []string) {
		req, resp := wsHandshake(proto, "", "")
		if proto == "" {
			resp = []byte(strings.Replace(string(resp), "Sec-WebSocket-Protocol: \r\n", "", 1))
		}
		c := &conversation{t: t, clientPort: 43003, serverPort: 8080, isn: [2]uint32{1, 1}}
		got, _ := c.run(Options{}, wsConversation(t, 8080, req, resp, frames...)...)
		var fs []string
		for _, r := range got {
			fs = append(fs, r.Findings...)
		}
		return got, fs
	}
	got, fs := run("chat", wsFrame(decode.WSBinary, true, 0, true, connect311), wsFrame(decode.WSBinary, true, 0, false, connack))
	if len(got) != 2 || !slices.Contains(fs, "websocket.not-mqtt") {
		t.Errorf("chat carrying MQTT: %s, findings %v", describe(got), fs)
	}
	got, fs = run("", wsFrame(decode.WSBinary, true, 0, true, connect311))
	if len(got) != 1 || !slices.Contains(fs, "websocket.no-subprotocol") {
		t.Errorf("no subprotocol: %s, findings %v", describe(got), fs)
	}
	got, _ = run("chat", wsFrame(decode.WSBinary, true, 0, true, []byte("hello, this is chat")), wsFrame(decode.WSBinary, true, 0, false, connack))
	if len(got) != 0 {
		t.Errorf("chat: %s", describe(got))
	}
	// An unmasked client frame, then a server frame declaring 2^63-1 bytes:
	// reported, and nothing after it on that side is decoded.
	huge := []byte{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	got, fs = run("mqtt", wsFrame(decode.WSBinary, true, 0, false, connect311), append(huge, connack...))
	if len(got) != 1 || !slices.Contains(fs, "websocket.malformed") {
		t.Errorf("malformed frames: %s, findings %v", describe(got), fs)
	}
}

// FuzzWebSocket feeds arbitrary bytes as the two directions of a WebSocket
// connection after its upgrade (with permessage-deflate or without), cut
// into segments at fuzzed points: never a panic, records in frame order.
func FuzzWebSocket(f *testing.F) {
	cli := &deflater{takeover: true}
	f.Add(wsFrame(decode.WSBinary, true, 0, true, connect311), wsFrame(decode.WSBinary, true, 0, false, connack), uint8(7), false)
	f.Add(wsFrame(decode.WSBinary, true, 4, true, cli.message(f, connect311)), wsFrame(decode.WSBinary, true, 0, false, connack), uint8(3), true)
	f.Add(append(wsFrame(decode.WSBinary, false, 0, true, connect311[:3]), wsFrame(decode.WSContinuation, true, 0, true, connect311[3:])...), []byte{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(1), false)
	f.Fuzz(func(t *testing.T, client, server []byte, cut uint8, deflate bool) {
		ext := ""
		if deflate {
			ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		}
		req, resp := wsHandshake("mqtt", ext, ext)
		segs := wsConversation(t, 8080, req, resp)
		step := int(cut)%64 + 1
		seq := [2]uint32{1 + uint32(len(req)), 1 + uint32(len(resp))}
		for k, b := range [][]byte{client, server} {
			for off := 0; off < len(b); off += step {
				end := min(off+step, len(b))
				segs = append(segs, segment{k == 0, "A", seq[k] + uint32(off), b[off:end]})
			}
		}
		c := &conversation{t: t, clientPort: 43100, serverPort: 8080, isn: [2]uint32{1, 1}}
		got, st := c.run(Options{}, segs...)
		if st.Packets != len(got) {
			t.Fatalf("%d packets counted, %d delivered", st.Packets, len(got))
		}
		for k := 1; k < len(got); k++ {
			if got[k].Frame < got[k-1].Frame {
				t.Fatalf("not in frame order: %s", describe(got))
			}
		}
	})
}

// BenchmarkPipelineWebSocket is BenchmarkPipelinePublish over WebSocket:
// the same PUBLISH packets, each in a masked binary frame from the client.
func BenchmarkPipelineWebSocket(b *testing.B) {
	c := &conversation{t: b, clientPort: 42001, serverPort: 8080, isn: [2]uint32{1, 1}}
	pub := publish("sensors/room-1/temperature", 1, []byte(`{"t":21.5,"unit":"C"}`))
	req, resp := wsHandshake("mqtt", "", "")
	var frames [][]byte
	for _, s := range wsConversation(b, 8080, req, resp, wsFrame(decode.WSBinary, true, 0, true, connect311), wsFrame(decode.WSBinary, true, 0, false, connack)) {
		frames = append(frames, c.frame(s))
	}
	seq := uint32(1 + len(req) + len(wsFrame(decode.WSBinary, true, 0, true, connect311)))
	framed := wsFrame(decode.WSBinary, true, 0, true, pub)
	const n = 1024
	next := func() [][]byte {
		var out [][]byte
		for range n {
			out = append(out, c.frame(segment{true, "A", seq, framed}))
			seq += uint32(len(framed))
		}
		return out
	}
	p, err := NewPipeline(1, Options{}, func(r *Record) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range frames {
		p.Frame(f, captureInfo(len(f)))
	}
	data := next()
	b.ReportAllocs()
	b.SetBytes(int64(len(data[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%n == 0 {
			b.StopTimer()
			data = next()
			b.StartTimer()
		}
		f := data[i%n]
		p.Frame(f, captureInfo(len(f)))
	}
	if st := p.Stats(); st.Packets < b.N {
		b.Fatalf("%d MQTT packets for %d frames", st.Packets, b.N)
	}
}
