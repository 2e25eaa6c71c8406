package session

import (
	"testing"
)

// FuzzPipeline feeds arbitrary bytes as the two directions of an MQTT
// connection, split into segments at fuzzed points, in and out of order. The
// pipeline must never panic, must account for every byte it was given, and
// must hand records over in frame order.
func FuzzPipeline(f *testing.F) {
	f.Add(connect311, connack, uint8(3), false)
	f.Add(append(connect311, publish("a/b", 1, []byte("hello"))...), append(connack, puback(1)...), uint8(7), true)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x30, 0x00}, []byte{0xd0, 0x00}, uint8(1), false)
	f.Add(publish("x", 9, make([]byte, 3000)), disconnect, uint8(200), true)
	f.Fuzz(func(t *testing.T, client, server []byte, cut uint8, shuffle bool) {
		c := &conversation{t: t, clientPort: 41000, serverPort: 1883, isn: [2]uint32{1, 1}}
		segs := handshake()
		step := int(cut)%64 + 1
		add := func(fromClient bool, b []byte) {
			var part []segment
			for off := 0; off < len(b); off += step {
				end := min(off+step, len(b))
				part = append(part, segment{fromClient, "A", 1 + uint32(off), b[off:end]})
			}
			if shuffle && len(part) > 1 {
				part[0], part[len(part)-1] = part[len(part)-1], part[0]
			}
			segs = append(segs, part...)
		}
		add(true, client)
		add(false, server)
		got, st := c.run(Options{}, segs...)
		if st.Packets != len(got) {
			t.Fatalf("%d packets counted, %d delivered", st.Packets, len(got))
		}
		for k, r := range got {
			if r.Frame < 1 || r.Frame > len(segs) {
				t.Fatalf("record in frame %d of %d", r.Frame, len(segs))
			}
			if k > 0 && r.Frame < got[k-1].Frame {
				t.Fatalf("record in frame %d after one in frame %d: not in frame order", r.Frame, got[k-1].Frame)
			}
		}
	})
}

// BenchmarkPipelinePublish measures the per-frame cost of in-order QoS 1
// PUBLISH traffic: link, IP and TCP decoding, reassembly and MQTT decoding.
func BenchmarkPipelinePublish(b *testing.B) {
	c := &conversation{t: b, clientPort: 42000, serverPort: 1883, isn: [2]uint32{1, 1}}
	pub := publish("sensors/room-1/temperature", 1, []byte(`{"t":21.5,"unit":"C"}`))
	var frames [][]byte
	for _, s := range handshake() {
		frames = append(frames, c.frame(s))
	}
	frames = append(frames, c.frame(segment{true, "A", 1, connect311}))
	seq := uint32(1 + len(connect311))
	const n = 1024
	for i := 0; i < n; i++ {
		frames = append(frames, c.frame(segment{true, "A", seq, pub}))
		seq += uint32(len(pub))
	}
	p, err := NewPipeline(1, Options{}, func(r *Record) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range frames[:4] {
		p.Frame(f, captureInfo(len(f)))
	}
	data := frames[4:]
	// Replaying the same segments would be retransmissions; give each
	// round its own sequence numbers by rebuilding when they run out.
	b.ReportAllocs()
	b.SetBytes(int64(len(data[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%n == 0 {
			b.StopTimer()
			data = data[:0]
			for j := 0; j < n; j++ {
				data = append(data, c.frame(segment{true, "A", seq, pub}))
				seq += uint32(len(pub))
			}
			b.StartTimer()
		}
		f := data[i%n]
		p.Frame(f, captureInfo(len(f)))
	}
}
