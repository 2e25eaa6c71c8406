package decode

import (
	"fmt"
	"testing"
)

// BenchmarkWSFrameUnmask parses the header of a masked 256-byte client frame
// and unmasks its payload in place (twice a round, so it stays the same).
func BenchmarkWSFrameUnmask(b *testing.B) {
	f := WSFrame{Fin: true, Opcode: WSBinary, Masked: true, MaskKey: [4]byte{0x12, 0x34, 0x56, 0x78}, PayloadLen: 256}
	frame := append(AppendWSFrame(nil, f), make([]byte, 256)...)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		fr, err := ParseWSFrame(frame)
		if err != nil || WSFrameProblem(fr, true, 4, true) != "" {
			b.Fatal(err)
		}
		p := frame[fr.HeaderLen:]
		UnmaskWS(p, p, fr.MaskKey, 0)
	}
}

// BenchmarkUnmask64K unmasks a 64 KiB payload in place.
func BenchmarkUnmask64K(b *testing.B) {
	p := make([]byte, 64<<10)
	key := [4]byte{1, 2, 3, 4}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		UnmaskWS(p, p, key, 3)
	}
}

// benchInflate inflates a stream of small MQTT PUBLISH messages (JSON
// readings) compressed as permessage-deflate senders do, one message per
// iteration, into a reused buffer.
func benchInflate(b *testing.B, takeover bool) {
	var msgs [][]byte
	for i := range 64 {
		payload := fmt.Appendf(nil, `{"sensor":"salle-%d","t":%d.%d,"unit":"°C"}`, i%4, 19+i%3, i%10)
		msgs = append(msgs, pkt(0x30, s("capteurs/température/salle-1"), payload))
	}
	comp := deflateMessages(b, msgs, takeover)
	size := 0
	for _, c := range comp {
		size += len(c)
	}
	dst := make([]byte, 0, 4096)
	var in *Inflater
	i := len(comp)
	b.SetBytes(int64(size / len(comp)))
	b.ReportAllocs()
	for b.Loop() {
		if i == len(comp) {
			// Start the stream again with a fresh Inflater, as on a new
			// connection; its allocations and first message are not counted.
			b.StopTimer()
			in = NewInflater(15, takeover, 1<<20)
			if _, err := in.Message(comp[0], dst); err != nil {
				b.Fatal(err)
			}
			i = 1
			b.StartTimer()
		}
		out, err := in.Message(comp[i], dst)
		if err != nil || len(out) != len(msgs[i]) {
			b.Fatalf("message %d: %v", i, err)
		}
		i++
	}
}

// BenchmarkInflateTakeover inflates messages with context takeover.
func BenchmarkInflateTakeover(b *testing.B) { benchInflate(b, true) }

// BenchmarkInflateNoContext inflates messages without context takeover.
func BenchmarkInflateNoContext(b *testing.B) { benchInflate(b, false) }

// BenchmarkParseHTTPHead parses a WebSocket upgrade request and reads it as
// an upgrade (once per connection, not on the per-packet path).
func BenchmarkParseHTTPHead(b *testing.B) {
	req := []byte(wsRequest)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseHTTPHead(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseWSUpgrade(&h, nil); err != nil {
			b.Fatal(err)
		}
	}
}
