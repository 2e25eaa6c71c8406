package decode

import "testing"

// benchDecode decodes pk into a reused Packet on a connection already set up
// by setup.
func benchDecode(b *testing.B, setup [][]byte, pk []byte, fromClient bool) {
	var c Conn
	var p Packet
	for _, s := range setup {
		c.Decode(s, true, &p)
	}
	c.Decode(pk, fromClient, &p)
	if m := p.Malformed() + p.Violation(); m != "" {
		b.Fatalf("benchmark packet has a problem: %s", m)
	}
	b.SetBytes(int64(len(pk)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Decode(pk, fromClient, &p)
	}
}

// BenchmarkDecodePublish decodes an MQTT 3.1.1 QoS 1 PUBLISH.
func BenchmarkDecodePublish(b *testing.B) {
	pk := pkt(0x32, s("le0nh4rt/key-exchange/request"), u16(7), make([]byte, 256))
	benchDecode(b, [][]byte{connect311}, pk, true)
}

// BenchmarkDecodePublishV5 decodes an MQTT 5 QoS 1 PUBLISH with a topic
// alias, content type, message expiry and a user property.
func BenchmarkDecodePublishV5(b *testing.B) {
	conn := connect5(props(prop(0x22, u16(10))))
	connack := pkt(0x20, []byte{0, 0}, props(prop(0x22, u16(10))))
	pk := pkt(0x32, s("le0nh4rt/key-exchange/request"), u16(7),
		props(prop(0x02, u32(60)), prop(0x03, s("application/json")), prop(0x23, u16(3)), userProp("trace", "abc")),
		make([]byte, 256))
	var c Conn
	var p Packet
	c.Decode(conn, true, &p)
	c.Decode(connack, false, &p)
	c.Decode(pk, true, &p)
	if m := p.Malformed() + p.Violation(); m != "" {
		b.Fatalf("benchmark packet has a problem: %s", m)
	}
	b.SetBytes(int64(len(pk)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Decode(pk, true, &p)
	}
}

// BenchmarkDecodePublishAlias decodes an MQTT 5 PUBLISH that uses a topic
// alias with an empty topic.
func BenchmarkDecodePublishAlias(b *testing.B) {
	reg := pkt(0x30, s("a/b/c"), props(prop(0x23, u16(2))), []byte("x"))
	pk := pkt(0x30, s(""), props(prop(0x23, u16(2))), make([]byte, 64))
	benchDecode(b, [][]byte{connect50, reg}, pk, true)
}

// BenchmarkDecodePuback decodes an MQTT 3.1.1 PUBACK.
func BenchmarkDecodePuback(b *testing.B) {
	benchDecode(b, [][]byte{connect311}, pkt(0x40, u16(7)), false)
}

// BenchmarkDecodeConnect decodes an MQTT 5 CONNECT with properties, will
// and credentials.
func BenchmarkDecodeConnect(b *testing.B) {
	pk := pkt(0x10, s("MQTT"), []byte{5, 0xce}, u16(60), props(prop(0x11, u32(10)), prop(0x21, u16(20)), userProp("a", "b")),
		s("client"), props(prop(0x18, u32(5))), s("will"), s("msg"), s("user"), s("pass"))
	benchDecode(b, nil, pk, true)
}

// BenchmarkDecodeSubscribe decodes an MQTT 3.1.1 SUBSCRIBE with three
// topic filters.
func BenchmarkDecodeSubscribe(b *testing.B) {
	pk := pkt(0x82, u16(1), s("a/+/c"), []byte{1}, s("d/#"), []byte{2}, s("e"), []byte{0})
	benchDecode(b, [][]byte{connect311}, pk, true)
}

// BenchmarkDecodeInfer decodes an MQTT 3.1.1 PUBLISH on a connection whose
// version is unknown and stays ambiguous (two dry runs per packet).
func BenchmarkDecodeInfer(b *testing.B) {
	pk := pkt(0x30, s("a/b"), []byte{0}, []byte("binary"))
	var c Conn
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		c.SetVersion(0)
		c.Decode(pk, true, &p)
	}
	if c.Version() != 0 || p.Version != V311 {
		b.Fatalf("packet was not ambiguous: version %d, decoded as %d", c.Version(), p.Version)
	}
}

// BenchmarkPlausible checks a complete MQTT 5 PUBLISH.
func BenchmarkPlausible(b *testing.B) {
	pk := pkt(0x32, s("a/b"), u16(7), props(prop(0x23, u16(3))), make([]byte, 64))
	b.ReportAllocs()
	for b.Loop() {
		if !Plausible(pk, 0, 1<<20) {
			b.Fatal("not plausible")
		}
	}
}
