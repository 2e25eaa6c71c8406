package session

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// tcpFrames returns a sample's TCP frames and what Decode finds in them.
func tcpFrames(t *testing.T, name string) ([][]byte, []Segment) {
	t.Helper()
	link, frames := readFrames(t, samplePath(name))
	d, _ := NewLayerDecoder(link)
	var out [][]byte
	var segs []Segment
	for _, data := range frames {
		if s := d.Decode(data); s.TCP {
			out = append(out, data)
			segs = append(segs, s)
		}
	}
	if len(out) < 20 {
		t.Fatalf("%s: %d TCP frames", name, len(out))
	}
	return out, segs
}

// TestOtherLinks rewraps the IP packets of real Ethernet and Linux cooked
// frames as BSD null (host byte order), loop (network order), raw IP,
// LINKTYPE_IPV4/IPV6 and 802.3 with LLC/SNAP (frames short enough for
// it): the same segments.
func TestOtherLinks(t *testing.T) {
	type shape struct {
		link layers.LinkType
		wrap func(ip []byte, v6 bool) []byte
	}
	family := func(v6 bool, linux bool) uint32 {
		switch {
		case !v6:
			return 2
		case linux:
			return 10
		}
		return 30 // Darwin
	}
	shapes := map[string]shape{
		"null": {layers.LinkTypeNull, func(ip []byte, v6 bool) []byte {
			return append(binary.LittleEndian.AppendUint32(nil, family(v6, false)), ip...)
		}},
		"loop": {layers.LinkTypeLoop, func(ip []byte, v6 bool) []byte {
			return append(binary.BigEndian.AppendUint32(nil, family(v6, true)), ip...)
		}},
		"raw":       {layers.LinkTypeRaw, func(ip []byte, v6 bool) []byte { return ip }},
		"ipv4/ipv6": {layers.LinkTypeIPv4, func(ip []byte, v6 bool) []byte { return ip }},
		"802.3": {layers.LinkTypeEthernet, func(ip []byte, v6 bool) []byte {
			if len(ip)+8 > 1500 {
				return nil // longer than 802.3 frames can be
			}
			t := byte(0x00)
			if v6 {
				t = 0xdd
			}
			llc := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, map[bool]byte{false: 0x08, true: 0x86}[v6], t}
			eth := append(make([]byte, 12), byte((len(ip)+8)>>8), byte(len(ip)+8))
			return append(append(eth, llc...), ip...)
		}},
	}
	for _, src := range []struct {
		sample string
		hdr    int // link header length
	}{{"mqtt5.pcapng", 14}, {"cooked-sll.pcap", 16}, {"cooked-sll2.pcap.gz", 20}} {
		frames, want := tcpFrames(t, src.sample)
		for name, sh := range shapes {
			d, err := NewLayerDecoder(sh.link)
			if err != nil {
				t.Fatal(err)
			}
			for i, data := range frames {
				ip := data[src.hdr:]
				if frame := sh.wrap(ip, ip[0]>>4 == 6); frame != nil {
					sameSegment(t, src.sample+" as "+name, d.Decode(frame), want[i])
				}
			}
		}
	}
}

// TestGREVariants changes real GRE frames (key and sequence number, IPv4
// inside): RFC 1701 source routes are skipped, version 1 (PPTP) and
// payload types mqtap does not decode end the walk without an error.
func TestGREVariants(t *testing.T) {
	frames, want := tcpFrames(t, "link-gre.pcapng")
	d, _ := NewLayerDecoder(layers.LinkTypeEthernet)
	const ip, gre = 14, 14 + 20 // outer IPv4 without options, GRE
	n := 0
	for i, data := range frames {
		if binary.BigEndian.Uint16(data[gre:]) != greKey|greSeq || binary.BigEndian.Uint16(data[gre+2:]) != ethTypeIPv4 {
			continue
		}
		n++
		// routing present: checksum and offset, then after key and sequence
		// number one IPv4 source route entry and the null one
		routed := splice(data, gre+4, 0, 0, 0, 0)
		routed = splice(routed, gre+16, 0x08, 0x00, 0, 4, 10, 40, 0, 2, 0, 0, 0, 0)
		routed[gre] |= greRouting >> 8
		binary.BigEndian.PutUint16(routed[ip+2:], binary.BigEndian.Uint16(routed[ip+2:])+16)
		sameSegment(t, "GRE with source routes", d.Decode(routed), want[i])

		v1 := append([]byte(nil), data...)
		v1[gre+1] |= 1
		if s := d.Decode(v1); s.TCP || s.Broken {
			t.Errorf("GRE version 1: %+v", s)
		}
		ppp := append([]byte(nil), data...)
		binary.BigEndian.PutUint16(ppp[gre+2:], 0x880b)
		if s := d.Decode(ppp); s.TCP || s.Broken {
			t.Errorf("GRE with PPP: %+v", s)
		}
		endless := append([]byte(nil), routed...)
		endless[gre+16+3] = 200 // an entry longer than the frame
		if s := d.Decode(endless); s.TCP || !s.Broken {
			t.Errorf("GRE source route past the end: %+v", s)
		}
	}
	if n < 10 {
		t.Fatalf("%d GRE frames with key and sequence number", n)
	}
}
