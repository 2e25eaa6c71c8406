package session

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// fuzzLinks are the link types FuzzLayers decodes with, by index.
var fuzzLinks = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull,
	layers.LinkTypeLoop, layers.LinkTypeRaw, LinkTypeNFLOG, layers.LinkTypeIEEE802_11, layers.LinkTypeIEEE80211Radio,
}

// FuzzLayers decodes mutated frames of every link sample with every link
// type, and their bytes as reassembled IP payloads: never a panic, and
// what Decode reports holds together.
func FuzzLayers(f *testing.F) {
	index := map[layers.LinkType]uint8{}
	for i, l := range fuzzLinks {
		index[l] = uint8(i)
	}
	for _, name := range linkSamples {
		link, frames := readFrames(f, samplePath(name))
		for i, data := range frames {
			if i%3 == 0 { // a third of each sample: every shape, a corpus that loads fast
				f.Add(index[link], data)
			}
		}
	}
	decoders := make([]*LayerDecoder, len(fuzzLinks))
	for i, l := range fuzzLinks {
		decoders[i], _ = NewLayerDecoder(l)
	}
	v4a, v4b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6a, v6b := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	f.Fuzz(func(t *testing.T, link uint8, data []byte) {
		d := decoders[int(link)%len(decoders)]
		checkFuzzed(t, d, d.Decode(data), data)
		for _, proto := range []uint8{protoTCP, protoUDP, protoGRE, protoIPv4, protoIPv6, protoFragment, protoHopByHop, protoAH} {
			checkFuzzed(t, d, d.DecodePayload(false, v4a, v4b, proto, data), data)
			checkFuzzed(t, d, d.DecodePayload(true, v6a, v6b, proto, data), data)
		}
	})
}

// checkFuzzed checks that a segment holds together: one of TCP, Fragment
// and Broken at most, payloads within the frame and within what the IP
// header announces, addresses of the flow's family.
func checkFuzzed(t *testing.T, d *LayerDecoder, s Segment, data []byte) {
	t.Helper()
	inside := func(b []byte) bool {
		return len(b) == 0 || (cap(b) <= cap(data) && &b[:1][0] == &data[cap(data)-cap(b)])
	}
	switch {
	case s.TCP:
		if s.Broken || s.Fragment || len(d.TCP.Payload) > s.PayloadLen || !inside(d.TCP.Payload) {
			t.Fatalf("TCP segment %+v, %d payload bytes", s, len(d.TCP.Payload))
		}
		if !s.Src.IsValid() || s.Src.Is4() != (s.NetFlow.EndpointType() == layers.EndpointIPv4) {
			t.Fatalf("TCP segment between %v and %v, flow %v", s.Src, s.Dst, s.NetFlow)
		}
	case s.Fragment:
		if s.Broken || len(s.Frag.Payload) > s.PayloadLen || s.Frag.Offset%8 != 0 || !inside(s.Frag.Payload) || !s.Src.IsValid() {
			t.Fatalf("fragment %+v", s)
		}
	}
}

// benchShapes are one frame of each link shape, for BenchmarkDecode: a
// segment with MQTT payload (TCP options cost too: a SYN is slower).
var benchShapes = []struct {
	name, sample string
	pick         func(data []byte, s Segment) bool
}{
	{"ethernet-ipv4", "mqtt5.pcapng", nil}, // frame 8, as before the decoder was rewritten
	{"sll-ipv6", "cooked-sll.pcap", nil},   // frame 8
	{"vlan", "link-vlan.pcapng", isIPv4},
	{"qinq", "link-qinq.pcapng", isIPv4},
	{"vxlan", "link-vxlan.pcapng", isIPv4},
	{"gre-key-seq", "link-gre.pcapng", func(data []byte, s Segment) bool { return isIPv4(data, s) && data[34] == 0x30 && data[34+3] == 0x00 }},
	{"gretap", "link-gre.pcapng", func(data []byte, s Segment) bool { return isIPv4(data, s) && data[34+2] == 0x65 }},
	{"ipip", "link-ipip.pcapng", isIPv4},
	{"ipv6-in-ipv4", "link-ipip.pcapng", func(data []byte, s Segment) bool { return s.TCP && s.Src.Is6() && s.PayloadLen > 0 }},
	{"nflog", "link-nflog.pcapng", isIPv4},
	{"ipv6-ext", "link-ipv6-ext.pcapng", func(data []byte, s Segment) bool {
		return s.TCP && s.PayloadLen > 0 && data[14+6] == protoHopByHop && data[14+40] == protoRouting
	}},
	{"ipv6-ah", "link-ipv6-ext.pcapng", func(data []byte, s Segment) bool { return s.TCP && s.PayloadLen > 0 && data[14+6] == protoAH }},
	{"radiotap", "link-radiotap.pcapng", isIPv4},
	{"80211", "link-80211.pcapng", isIPv4},
	{"fragment-ipv4", "frag-ipv4.pcapng", func(data []byte, s Segment) bool { return s.Fragment }},
	{"fragment-ipv6", "frag-ipv6.pcapng", func(data []byte, s Segment) bool { return s.Fragment }},
}

func isIPv4(data []byte, s Segment) bool { return s.TCP && s.Src.Is4() && s.PayloadLen > 0 }

// BenchmarkDecode decodes one frame of each link shape.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchShapes {
		b.Run(c.name, func(b *testing.B) {
			link, frames := readFrames(b, samplePath(c.sample))
			d, _ := NewLayerDecoder(link)
			var data []byte
			for i, f := range frames {
				if s := d.Decode(f); (c.pick == nil && i == 7) || (c.pick != nil && c.pick(f, s)) {
					data = f
					break
				}
			}
			if s := d.Decode(data); data == nil || (!s.TCP && !s.Fragment) {
				b.Fatalf("%s: no frame", c.sample)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				d.Decode(data)
			}
		})
	}
}

// BenchmarkDecodePayload decodes a reassembled datagram: VXLAN in UDP, as
// when the outer IP of the tunnel was fragmented.
func BenchmarkDecodePayload(b *testing.B) {
	link, frames := readFrames(b, samplePath("link-vxlan.pcapng"))
	d, _ := NewLayerDecoder(link)
	for _, data := range frames {
		if s := d.Decode(data); !isIPv4(data, s) {
			continue
		}
		src, dst := netip.AddrFrom4([4]byte(data[26:30])), netip.AddrFrom4([4]byte(data[30:34]))
		payload := data[34:]
		if s := d.DecodePayload(false, src, dst, protoUDP, payload); !s.TCP {
			b.Fatalf("%+v", s)
		}
		b.ReportAllocs()
		for b.Loop() {
			d.DecodePayload(false, src, dst, protoUDP, payload)
		}
		return
	}
}

// TestDecodeDoesNotAllocate decodes every frame of every link sample
// without a single allocation.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, name := range linkSamples {
		link, frames := readFrames(t, samplePath(name))
		d, _ := NewLayerDecoder(link)
		for i, data := range frames {
			if n := testing.AllocsPerRun(5, func() { d.Decode(data) }); n != 0 {
				t.Errorf("%s frame %d: %v allocations", name, i+1, n)
			}
		}
	}
}
