package session

import (
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/pcaps"
)

// linkSamples are the captures of every link shape (pcaps/samples, made by
// make-link-samples.sh), the older samples of the other link types, and
// the IP fragment captures.
var linkSamples = []string{
	"link-vlan.pcapng", "link-qinq.pcapng", "link-vxlan.pcapng", "link-gre.pcapng", "link-ipip.pcapng",
	"link-nflog.pcapng", "link-ipv6-ext.pcapng", "link-radiotap.pcapng", "link-80211.pcapng",
	"mqtt5.pcapng", "cooked-sll.pcap", "cooked-sll2.pcap.gz",
	"frag-ipv4.pcapng", "frag-vxlan.pcapng", "frag-ipv6.pcapng",
}

func samplePath(name string) string { return filepath.Join("..", "pcaps", "samples", name) }

// readFrames returns the link type and a copy of every frame of a capture.
func readFrames(t testing.TB, path string) (layers.LinkType, [][]byte) {
	t.Helper()
	r, err := pcaps.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var frames [][]byte
	for {
		data, _, err := r.Next()
		if err == io.EOF {
			return r.LinkType(), frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, append([]byte(nil), data...))
	}
}

// wantSeg is what tshark sees in a frame, in the terms of Segment.
type wantSeg struct {
	src, dst   string // innermost IP addresses, or those of the fragmented IP layer
	tcp        bool
	cut        bool // headers the capture cut short: Broken
	unknown    bool // tshark cannot tell
	sport      uint16
	dport      uint16
	payloadLen int
	fragment   bool
	frag       IPFragment // Payload not compared
	encrypted  bool
}

// tsharkFields are read for every frame, all occurrences.
var tsharkFields = []string{
	"frame.protocols", "ip.src", "ip.dst", "ip.id", "ip.flags.mf", "ip.frag_offset", "ip.proto",
	"ipv6.src", "ipv6.dst", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.nxt",
	"tcp.srcport", "tcp.dstport", "tcp.len", "wlan.fc.protected", "_ws.short",
}

// tsharkSegments decodes a capture with tshark, IP reassembly off, and
// returns what each frame holds.
func tsharkSegments(t *testing.T, path string) []wantSeg {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is required for this test (make deps installs it)")
	}
	args := []string{"-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	var segs []wantSeg
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) != len(tsharkFields) {
			t.Fatalf("tshark line %q: %d columns", line, len(cols))
		}
		f := fields{}
		for i, name := range tsharkFields {
			if cols[i] != "" {
				f[name] = strings.Split(cols[i], ";")
			}
		}
		segs = append(segs, wantFromTshark(t, f))
	}
	return segs
}

func num(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		t.Fatalf("tshark value %q: %v", s, err)
	}
	return n
}

// fields are one frame's tshark fields, every occurrence.
type fields map[string][]string

// get is the i-th occurrence of a field, "" when there is none.
func (f fields) get(name string, i int) string {
	if i < len(f[name]) {
		return f[name][i]
	}
	return ""
}

// cutLayer is the protocol whose bytes the capture cut, as tshark says it
// ("MQTT", "TCP", "IPv6", ...), or "".
func (f fields) cutLayer() string {
	short := f.get("_ws.short", 0)
	short = strings.TrimPrefix(short, "[Packet size limited during capture: ")
	return strings.TrimSuffix(short, " truncated]")
}

// wantFromTshark walks the protocols of one frame as LayerDecoder does:
// IP layers in order, the first fragmented one ends the walk; TCP inside
// ICMP errors does not count. A frame whose headers the capture cut is
// expected Broken; tshark does not dissect an NFLOG payload the capture
// cut at all (mqtap does, TestTruncatedHeaders checks it): unknown.
func wantFromTshark(t *testing.T, f fields) wantSeg {
	var w wantSeg
	switch f.cutLayer() {
	case "", "MQTT", "Data", "ARP", "ICMP", "ICMPv6":
	case "NFLOG":
		w.unknown = true
		return w
	default:
		w.cut = true
		return w
	}
	w.encrypted = f.get("wlan.fc.protected", 0) == "1"
	i4, i6, frag6 := 0, 0, 0
	for _, p := range strings.Split(f.get("frame.protocols", 0), ":") {
		switch p {
		case "ip":
			w.src, w.dst = f.get("ip.src", i4), f.get("ip.dst", i4)
			mf, off := f.get("ip.flags.mf", i4) == "1", num(t, f.get("ip.frag_offset", i4))
			if mf || off > 0 {
				w.fragment = true
				w.frag = IPFragment{ID: uint32(num(t, f.get("ip.id", i4))), Proto: uint8(num(t, f.get("ip.proto", i4))), Offset: int(off) * 8, More: mf}
				return w
			}
			i4++
		case "ipv6":
			w.src, w.dst = f.get("ipv6.src", i6), f.get("ipv6.dst", i6)
			i6++
		case "ipv6.fraghdr":
			w.fragment = true
			w.frag = IPFragment{
				V6:     true,
				ID:     uint32(num(t, f.get("ipv6.fraghdr.ident", frag6))),
				Proto:  uint8(num(t, f.get("ipv6.fraghdr.nxt", frag6))),
				Offset: int(num(t, f.get("ipv6.fraghdr.offset", frag6))) * 8,
				More:   f.get("ipv6.fraghdr.more", frag6) == "1",
			}
			return w
		case "icmp", "icmpv6":
			return w
		case "tcp":
			w.tcp = true
			w.sport, w.dport = uint16(num(t, f.get("tcp.srcport", 0))), uint16(num(t, f.get("tcp.dstport", 0)))
			w.payloadLen = int(num(t, f.get("tcp.len", 0)))
			return w
		}
	}
	return w
}

// checkSegment compares what Decode found in a frame with tshark.
func checkSegment(d *LayerDecoder, got Segment, w wantSeg) error {
	if got.Encrypted != w.encrypted {
		return fmt.Errorf("Encrypted %v, tshark %v", got.Encrypted, w.encrypted)
	}
	if w.src != "" && (got.Src.String() != w.src || got.Dst.String() != w.dst) {
		return fmt.Errorf("%s → %s, tshark %s → %s", got.Src, got.Dst, w.src, w.dst)
	}
	switch {
	case w.unknown:
	case w.fragment:
		g, f := got.Frag, w.frag
		same := g.V6 == f.V6 && g.ID == f.ID && g.Proto == f.Proto && g.Offset == f.Offset && g.More == f.More
		if !got.Fragment || got.TCP || got.Broken || !same {
			return fmt.Errorf("fragment %v %+v (TCP %v, Broken %v), tshark %+v", got.Fragment, g, got.TCP, got.Broken, f)
		}
		if len(got.Frag.Payload) == 0 || len(got.Frag.Payload) > got.PayloadLen {
			return fmt.Errorf("fragment data %d bytes, PayloadLen %d", len(got.Frag.Payload), got.PayloadLen)
		}
	case w.cut:
		if !got.Broken || got.TCP {
			return fmt.Errorf("headers cut: Broken %v, TCP %v", got.Broken, got.TCP)
		}
	case w.tcp:
		if !got.TCP || got.Broken || got.Fragment {
			return fmt.Errorf("TCP %v, Broken %v, Fragment %v; tshark: TCP", got.TCP, got.Broken, got.Fragment)
		}
		if uint16(d.TCP.SrcPort) != w.sport || uint16(d.TCP.DstPort) != w.dport || got.PayloadLen != w.payloadLen {
			return fmt.Errorf("ports %d → %d, PayloadLen %d; tshark %d → %d, tcp.len %d", d.TCP.SrcPort, d.TCP.DstPort, got.PayloadLen, w.sport, w.dport, w.payloadLen)
		}
		if len(d.TCP.Payload) > got.PayloadLen {
			return fmt.Errorf("%d payload bytes, more than PayloadLen %d", len(d.TCP.Payload), got.PayloadLen)
		}
	default:
		if got.TCP || got.Fragment || got.Broken {
			return fmt.Errorf("TCP %v, Fragment %v, Broken %v; tshark: none", got.TCP, got.Fragment, got.Broken)
		}
	}
	return nil
}

// compareWithTshark decodes every frame of a capture and compares it with
// tshark; it returns how many TCP segments and fragments were found.
func compareWithTshark(t *testing.T, path string) (tcp, frags int) {
	t.Helper()
	link, frames := readFrames(t, path)
	want := tsharkSegments(t, path)
	if len(want) != len(frames) {
		t.Fatalf("%s: %d frames, tshark %d", path, len(frames), len(want))
	}
	d, err := NewLayerDecoder(link)
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range frames {
		got := d.Decode(data)
		if err := checkSegment(d, got, want[i]); err != nil {
			t.Errorf("%s frame %d: %v", filepath.Base(path), i+1, err)
		}
		if got.TCP {
			tcp++
		}
		if got.Fragment {
			frags++
		}
	}
	return tcp, frags
}

// TestLayersAgreeWithTshark decodes every frame of the link samples and
// compares the innermost addresses, ports, payload lengths, fragments and
// protected 802.11 frames with tshark's.
func TestLayersAgreeWithTshark(t *testing.T) {
	for _, name := range linkSamples {
		t.Run(name, func(t *testing.T) {
			tcp, frags := compareWithTshark(t, samplePath(name))
			if tcp < 20 {
				t.Errorf("only %d TCP segments", tcp)
			}
			if strings.HasPrefix(name, "frag-") && frags < 3 {
				t.Errorf("only %d fragments", frags)
			}
		})
	}
}

// TestSnapLength cuts the samples with editcap, to 96 bytes per frame (as
// tcpdump -s 96; in tunnels that cuts headers) and to 8 bytes into the TCP
// payload of the sample's first PUBLISH: PayloadLen stays what the IP
// header says (tshark's tcp.len), TCP.Payload is what is left, a cut
// header is Broken.
func TestSnapLength(t *testing.T) {
	if _, err := exec.LookPath("editcap"); err != nil {
		t.Fatal("editcap is required for this test (make deps installs wireshark-common)")
	}
	dir := t.TempDir()
	for _, name := range linkSamples[:12] {
		d, data, _ := frameOf(t, name, func(d *LayerDecoder, data []byte, s Segment) bool {
			return withPayload(d, s) && d.TCP.Payload[0]>>4 == 3 && len(d.TCP.Payload) > 16
		})
		inPayload := cap(data) - cap(d.TCP.Payload) + 8
		for _, snap := range []int{96, inPayload} {
			out := filepath.Join(dir, fmt.Sprintf("%s-%d.pcapng", strings.Split(filepath.Base(name), ".")[0], snap))
			if b, err := exec.Command("editcap", "-F", "pcapng", "-s", strconv.Itoa(snap), samplePath(name), out).CombinedOutput(); err != nil {
				t.Fatalf("editcap: %v: %s", err, b)
			}
			t.Run(filepath.Base(out), func(t *testing.T) {
				compareWithTshark(t, out)
				if cut := cutPayloads(t, out, snap); snap == inPayload && cut == 0 {
					t.Errorf("no segment was cut at %d bytes", snap)
				}
			})
		}
	}
}

// cutPayloads checks the segments of a cut capture that lost payload
// bytes: the frame is the snap length, and the bytes kept end it. It
// returns how many there are.
func cutPayloads(t *testing.T, path string, snap int) int {
	link, frames := readFrames(t, path)
	d, _ := NewLayerDecoder(link)
	cut := 0
	for i, data := range frames {
		s := d.Decode(data)
		if !s.TCP || len(d.TCP.Payload) == s.PayloadLen {
			continue
		}
		cut++
		if len(data) != snap || len(d.TCP.Payload) > s.PayloadLen {
			t.Errorf("frame %d: %d bytes captured, payload %d of %d", i+1, len(data), len(d.TCP.Payload), s.PayloadLen)
		}
		if p := d.TCP.Payload; len(p) > 0 && &p[len(p)-1] != &data[len(data)-1] {
			t.Errorf("frame %d: the payload does not end the frame", i+1)
		}
	}
	return cut
}

// TestTruncatedHeaders cuts the first TCP frame with payload of every
// sample at every length (capacity too, so that nothing past the cut can
// be read): short of the payload the frame is Broken, from there on it is
// the same segment.
func TestTruncatedHeaders(t *testing.T) {
	for _, name := range linkSamples[:12] {
		link, frames := readFrames(t, samplePath(name))
		d, _ := NewLayerDecoder(link)
		for _, data := range frames {
			full := d.Decode(data)
			if !full.TCP || len(d.TCP.Payload) == 0 {
				continue
			}
			start := cap(data) - cap(d.TCP.Payload) // the payload's offset in the frame
			for n := len(data) - 1; n >= 0; n-- {
				s := d.Decode(data[:n:n])
				switch {
				case n < start && (s.TCP || !s.Broken):
					t.Fatalf("%s cut to %d of %d bytes (payload at %d): TCP %v, Broken %v", name, n, len(data), start, s.TCP, s.Broken)
				case n >= start && (!s.TCP || s.PayloadLen != full.PayloadLen || s.Src != full.Src):
					t.Fatalf("%s cut to %d bytes: %+v, whole %+v", name, n, s, full)
				}
			}
			break
		}
	}
}

// frameOf returns the first frame of a sample for which keep is true.
func frameOf(t *testing.T, name string, keep func(d *LayerDecoder, data []byte, s Segment) bool) (*LayerDecoder, []byte, Segment) {
	t.Helper()
	link, frames := readFrames(t, samplePath(name))
	d, err := NewLayerDecoder(link)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range frames {
		if s := d.Decode(data); keep(d, data, s) {
			return d, data, s
		}
	}
	t.Fatalf("%s: no such frame", name)
	return nil, nil, Segment{}
}

func withPayload(d *LayerDecoder, s Segment) bool { return s.TCP && len(d.TCP.Payload) > 0 }

// radiotapLen is the length of a frame's radiotap header, 0 without one.
func radiotapLen(sample string, data []byte) int {
	if strings.Contains(sample, "radiotap") {
		return int(data[2]) | int(data[3])<<8
	}
	return 0
}

// splice returns b with ins inserted at i.
func splice(b []byte, i int, ins ...byte) []byte {
	return append(append(append([]byte(nil), b[:i]...), ins...), b[i:]...)
}

func sameSegment(t *testing.T, what string, got, want Segment) {
	t.Helper()
	if got.TCP != want.TCP || got.Broken != want.Broken || got.Src != want.Src || got.Dst != want.Dst || got.PayloadLen != want.PayloadLen {
		t.Errorf("%s: %+v, want %+v", what, got, want)
	}
}

// TestDot11Variants changes real 802.11 data frames into shapes the
// samples do not have: radiotap data padding, an HT control field, the
// Order bit of a non-QoS frame (no HT control), 802.11 fragments and
// A-MSDUs (Broken: a frame holds one segment here), protected, null and
// management frames.
func TestDot11Variants(t *testing.T) {
	for _, c := range []struct {
		name      string
		sample    string
		qos       bool
		change    func(b []byte, rt, hdr int) []byte
		same      bool // the same segment as the frame's
		broken    bool
		encrypted bool
	}{
		{"data pad", "link-radiotap.pcapng", true, func(b []byte, rt, hdr int) []byte {
			b[16] |= radiotapDataPad // Flags, after TSFT
			return splice(b, rt+hdr, make([]byte, (4-hdr%4)%4)...)
		}, true, false, false},
		{"HT control", "link-80211.pcapng", true, func(b []byte, rt, hdr int) []byte {
			b[rt+1] |= dot11Order
			return splice(b, rt+hdr, 1, 2, 3, 4)
		}, true, false, false},
		{"order without QoS", "link-80211.pcapng", false, func(b []byte, rt, hdr int) []byte {
			b[rt+1] |= dot11Order
			return b
		}, true, false, false},
		{"more fragments", "link-80211.pcapng", false, func(b []byte, rt, hdr int) []byte {
			b[rt+1] |= dot11MoreFrag
			return b
		}, false, true, false},
		{"fragment number", "link-radiotap.pcapng", true, func(b []byte, rt, hdr int) []byte {
			b[rt+22] |= 1
			return b
		}, false, true, false},
		{"A-MSDU", "link-80211.pcapng", true, func(b []byte, rt, hdr int) []byte {
			b[rt+hdr-2] |= 0x80
			return b
		}, false, true, false},
		{"protected", "link-80211.pcapng", false, func(b []byte, rt, hdr int) []byte {
			b[rt+1] |= dot11Protected
			return b
		}, false, false, true},
		{"null data", "link-radiotap.pcapng", true, func(b []byte, rt, hdr int) []byte {
			b[rt] |= 0x40 // subtype 12: QoS null
			return b
		}, false, false, false},
		{"management", "link-80211.pcapng", false, func(b []byte, rt, hdr int) []byte {
			b[rt] &^= 0x0c // type 0
			return b
		}, false, false, false},
		{"protocol version 1", "link-80211.pcapng", false, func(b []byte, rt, hdr int) []byte {
			b[rt] |= 1
			return b
		}, false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, data, want := frameOf(t, c.sample, func(d *LayerDecoder, data []byte, s Segment) bool {
				rt := radiotapLen(c.sample, data)
				return withPayload(d, s) && data[rt]&0x80 != 0 == c.qos && data[rt+1]&dot11ToFromDS != dot11ToFromDS
			})
			rt := radiotapLen(c.sample, data)
			hdr := 24 // three addresses
			if c.qos {
				hdr += 2
			}
			got := d.Decode(c.change(append([]byte(nil), data...), rt, hdr))
			switch {
			case c.same:
				sameSegment(t, c.name, got, want)
			case got.TCP || got.Broken != c.broken || got.Encrypted != c.encrypted:
				t.Errorf("TCP %v, Broken %v, Encrypted %v; want Broken %v, Encrypted %v", got.TCP, got.Broken, got.Encrypted, c.broken, c.encrypted)
			}
		})
	}
}

// TestNFLOGByteOrder swaps the TLV lengths and types of real NFLOG frames
// to big-endian (a capture made on a big-endian host): same segments.
func TestNFLOGByteOrder(t *testing.T) {
	link, frames := readFrames(t, samplePath("link-nflog.pcapng"))
	d, _ := NewLayerDecoder(link)
	n := 0
	for _, data := range frames {
		want := d.Decode(data)
		big := append([]byte(nil), data...)
		for off := 4; off+4 <= len(big); {
			l := int(big[off]) | int(big[off+1])<<8
			big[off], big[off+1], big[off+2], big[off+3] = big[off+1], big[off], big[off+3], big[off+2]
			if l < 4 {
				t.Fatalf("TLV length %d", l)
			}
			off += (l + 3) &^ 3
		}
		got := d.Decode(big)
		sameSegment(t, "big-endian NFLOG", got, want)
		if got.TCP {
			n++
		}
	}
	if n < 20 {
		t.Fatalf("%d TCP segments", n)
	}
}

// TestDecodePayload reassembles the fragments of the fragment samples and
// decodes each datagram's payload: TCP with tshark's ports, also through
// a VXLAN tunnel whose outer IP was fragmented.
func TestDecodePayload(t *testing.T) {
	for _, name := range linkSamples[12:] {
		t.Run(name, func(t *testing.T) {
			link, frames := readFrames(t, samplePath(name))
			d, _ := NewLayerDecoder(link)
			type key struct {
				src, dst netip.Addr
				id       uint32
			}
			parts := map[key][]byte{}
			done, tunnels := 0, 0
			for _, data := range frames {
				s := d.Decode(data)
				if !s.Fragment {
					continue
				}
				k := key{s.Src, s.Dst, s.Frag.ID}
				buf := parts[k]
				if end := s.Frag.Offset + len(s.Frag.Payload); len(buf) < end {
					buf = append(buf, make([]byte, end-len(buf))...)
				}
				copy(buf[s.Frag.Offset:], s.Frag.Payload)
				parts[k] = buf
				if s.Frag.More {
					continue
				}
				got := d.DecodePayload(s.Frag.V6, s.Src, s.Dst, s.Frag.Proto, buf)
				if !got.TCP || got.Broken || len(d.TCP.Payload) != got.PayloadLen || got.PayloadLen < 500 {
					t.Fatalf("reassembled %d bytes: %+v", len(buf), got)
				}
				if d.TCP.DstPort != 1883 && d.TCP.SrcPort != 1883 {
					t.Fatalf("reassembled segment %d → %d", d.TCP.SrcPort, d.TCP.DstPort)
				}
				if s.Frag.Proto == protoTCP && got.PayloadLen != len(buf)-int(d.TCP.DataOffset)*4 {
					t.Fatalf("reassembled %d bytes: PayloadLen %d", len(buf), got.PayloadLen)
				}
				if s.Frag.Proto == protoUDP {
					tunnels++
				}
				delete(parts, k)
				done++
			}
			if done < 3 || len(parts) != 0 {
				t.Fatalf("%d datagrams reassembled, %d incomplete", done, len(parts))
			}
			if strings.Contains(name, "vxlan") && tunnels < 2 {
				t.Fatalf("%d outer fragments reassembled", tunnels)
			}
		})
	}
}

// TestDecodePayloadAddresses: addresses of the wrong family are Broken,
// not a panic.
func TestDecodePayloadAddresses(t *testing.T) {
	d, _ := NewLayerDecoder(layers.LinkTypeEthernet)
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")
	for _, c := range []struct {
		v6       bool
		src, dst netip.Addr
	}{{false, v6, v6}, {true, v4, v4}, {false, v4, netip.Addr{}}, {true, netip.Addr{}, v6}} {
		if s := d.DecodePayload(c.v6, c.src, c.dst, protoTCP, make([]byte, 40)); !s.Broken || s.TCP {
			t.Errorf("v6 %v %v → %v: %+v", c.v6, c.src, c.dst, s)
		}
	}
}

// TestSupported: every link type NewLayerDecoder accepts, and the error
// naming the others.
func TestSupported(t *testing.T) {
	for _, link := range []layers.LinkType{0, 1, 12, 14, 101, 105, 108, 113, 127, 228, 229, 239, 276} {
		if _, err := NewLayerDecoder(link); !Supported(link) || err != nil {
			t.Errorf("link type %d: Supported %v, %v", link, Supported(link), err)
		}
	}
	_, err := NewLayerDecoder(layers.LinkTypePPP)
	if Supported(layers.LinkTypePPP) || err == nil {
		t.Fatal("PPP is supported")
	}
	for _, s := range []string{"link type 9", "Ethernet", "SLL2", "NFLOG", "802.11", "radiotap", "raw IP"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not say %q", err, s)
		}
	}
}
