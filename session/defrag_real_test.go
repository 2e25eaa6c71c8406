package session_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mqtap/mqtap/session"
)

var updateSeeds = flag.Bool("update-seeds", false, "write the fragments the lab captures as FuzzDefrag seeds in testdata")

// TestDefragRealIPv4 reassembles the fragments a Linux router makes of UDP
// datagrams (some already fragmented by their sender) and TCP segments.
func TestDefragRealIPv4(t *testing.T) {
	l := newLab(t)
	udp := [][]byte{pattern(3000, 1), pattern(1000, 2), pattern(5000, 3)}
	tcp := pattern(20000, 4)
	pcap := l.exchange(false, udp, tcp)
	c := readCapture(t, pcap)
	dgs := checkReal(t, pcap, c)
	checkUDP(t, dgs, udp)
	checkTCP(t, dgs, c, tcp)
	if *updateSeeds {
		writeSeed(t, "real-ipv4", c.frags[:9]) // two UDP datagrams, one fragmented twice
	}
}

// TestDefragRealIPv6 reassembles the fragments Linux makes of its own UDP
// datagrams over an IPv6 link of MTU 1280.
func TestDefragRealIPv6(t *testing.T) {
	l := newLab(t)
	udp := [][]byte{pattern(3000, 5), pattern(1300, 6), pattern(9000, 7)}
	pcap := l.exchange(true, udp, nil)
	c := readCapture(t, pcap)
	dgs := checkReal(t, pcap, c)
	checkUDP(t, dgs, udp)
	if *updateSeeds {
		writeSeed(t, "real-ipv6", c.frags[:3]) // a UDP datagram of 3000 bytes
	}
}

// capture is what the lab captured.
type capture struct {
	frags []session.Fragment
	isn   uint32    // the initial sequence number of A's TCP connection
	segs  []segment // A's TCP segments that were not fragmented
}

type segment struct {
	seq  uint32
	data []byte
}

// readCapture reads the fragments and A's unfragmented TCP segments.
func readCapture(t *testing.T, path string) capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var c capture
	for frame := 1; ; frame++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, frame, err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		if fr, ok := fragmentOf(pkt); ok {
			fr.Frame, fr.Time = frame, ci.Timestamp
			c.frags = append(c.frags, fr)
			continue
		}
		if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.DstPort == tcpPort {
			if tcp.SYN {
				c.isn = tcp.Seq
			}
			if len(tcp.Payload) > 0 {
				c.segs = append(c.segs, segment{tcp.Seq, tcp.Payload})
			}
		}
	}
	if len(c.frags) == 0 {
		t.Fatalf("%s: no fragment captured", path)
	}
	return c
}

// fragmentOf returns the fragment pkt carries, if it carries one.
func fragmentOf(pkt gopacket.Packet) (session.Fragment, bool) {
	if ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		more := ip.Flags&layers.IPv4MoreFragments != 0
		if !more && ip.FragOffset == 0 {
			return session.Fragment{}, false
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP)
		dst, _ := netip.AddrFromSlice(ip.DstIP)
		return session.Fragment{IPFragment: session.IPFragment{ID: uint32(ip.Id), Proto: uint8(ip.Protocol),
			Offset: int(ip.FragOffset) * 8, More: more, Payload: ip.Payload}, Src: src.Unmap(), Dst: dst.Unmap()}, true
	}
	fr, ok := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
	ip, ok6 := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ok || !ok6 {
		return session.Fragment{}, false
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP)
	dst, _ := netip.AddrFromSlice(ip.DstIP)
	return session.Fragment{IPFragment: session.IPFragment{V6: true, ID: fr.Identification, Proto: uint8(fr.NextHeader),
		Offset: int(fr.FragmentOffset) * 8, More: fr.MoreFragments, Payload: fr.Payload}, Src: src, Dst: dst}, true
}

// reassemble feeds frags to a new Defragmenter and returns the datagrams by
// the frame that completed them; no problem may arise.
func reassemble(t *testing.T, frags []session.Fragment) map[int]session.Datagram {
	t.Helper()
	d := session.NewDefragmenter(session.DefragOptions{})
	out := map[int]session.Datagram{}
	for _, g := range feed(t, d, frags) {
		out[frags[g.at].Frame] = g.Datagram
	}
	d.Flush()
	if ps := d.Problems(); len(ps) != 0 {
		t.Fatalf("problems on real fragments:\n%s", texts(ps))
	}
	return out
}

// checkReal reassembles the capture's fragments in capture order, checks
// the datagrams against tshark's reassembly, then in reverse and shuffled
// orders against the first pass. It returns the datagrams by the frame
// that completed them.
func checkReal(t *testing.T, pcap string, c capture) map[int]session.Datagram {
	t.Helper()
	dgs := reassemble(t, c.frags)
	compareTshark(t, pcap, c.frags, dgs)
	want := summary(dgs)
	orders := map[string][]session.Fragment{"reversed": reversed(c.frags)}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5 {
		s := slices.Clone(c.frags)
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		orders[fmt.Sprintf("shuffle %d", i)] = s
	}
	for name, frags := range orders {
		if got := summary(reassemble(t, frags)); !slices.Equal(got, want) {
			t.Errorf("%s: the datagrams differ from the capture order's:\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	most := 0
	for _, g := range dgs {
		most = max(most, len(g.Frames))
	}
	t.Logf("%d fragments made %d datagrams (up to %d fragments each)", len(c.frags), len(dgs), most)
	if most < 3 {
		t.Errorf("no datagram of 3 fragments or more: the lab did not fragment as expected")
	}
	return dgs
}

// summary describes datagrams independently of the order they completed
// in: their frames and a digest of their payloads, sorted.
func summary(dgs map[int]session.Datagram) []string {
	var s []string
	for _, g := range dgs {
		s = append(s, fmt.Sprintf("%s->%s proto %d frames %v payload %d bytes %x", g.Src, g.Dst, g.Proto, g.Frames, len(g.Payload), digest(g.Payload)))
	}
	slices.Sort(s)
	return s
}

func digest(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// oracleFrame is what tshark says of one frame.
type oracleFrame struct {
	reassembledIn int
	fragments     []int
	payload       string // hex of the reassembled UDP or TCP payload
}

// tshark reads tshark's IP reassembly of the capture.
func tshark(t *testing.T, pcap string) map[int]oracleFrame {
	t.Helper()
	out, err := exec.Command("tshark", "-2", "-r", pcap, "-o", "ip.defragment:TRUE", "-o", "ipv6.defragment:TRUE",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "frame.number", "-e", "ip.reassembled_in", "-e", "ipv6.reassembled.in",
		"-e", "ip.fragment", "-e", "ipv6.fragment", "-e", "udp.payload", "-e", "tcp.payload").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v: %s", pcap, err, stderrOf(err))
	}
	frames := map[int]oracleFrame{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			t.Fatalf("tshark line %.80q: %d fields, want 7", line, len(f))
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		var o oracleFrame
		if in := f[1] + f[2]; in != "" {
			if o.reassembledIn, err = strconv.Atoi(in); err != nil {
				t.Fatalf("tshark line %q: reassembled in %q", line, in)
			}
		}
		for _, s := range strings.Split(f[3]+f[4], ",") {
			if s != "" {
				v, err := strconv.Atoi(s)
				if err != nil {
					t.Fatalf("tshark line %q: fragment %q", line, s)
				}
				o.fragments = append(o.fragments, v)
			}
		}
		o.payload = f[5] + f[6]
		frames[n] = o
	}
	return frames
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// compareTshark checks each datagram against tshark's: the same
// completing frame, the same fragments, the same UDP or TCP payload.
func compareTshark(t *testing.T, pcap string, frags []session.Fragment, dgs map[int]session.Datagram) {
	t.Helper()
	oracle := tshark(t, pcap)
	in := map[int]int{} // fragment frame -> completing frame, ours
	for frame, g := range dgs {
		o := oracle[frame]
		if !slices.Equal(g.Frames, o.fragments) {
			t.Errorf("frame %d: fragments %v, tshark's %v", frame, g.Frames, o.fragments)
		}
		if p := hex.EncodeToString(transportPayload(t, g)); p != o.payload {
			t.Errorf("frame %d: payload %.40s… (%d bytes), tshark's %.40s… (%d bytes)", frame, p, len(p)/2, o.payload, len(o.payload)/2)
		}
		for _, f := range g.Frames {
			in[f] = frame
		}
	}
	for _, f := range frags {
		done, ok := in[f.Frame]
		if !ok {
			t.Errorf("frame %d is in no datagram", f.Frame)
			continue
		}
		if want := oracle[f.Frame].reassembledIn; done != f.Frame && want != done {
			t.Errorf("frame %d: reassembled in frame %d, tshark says %d", f.Frame, done, want)
		}
	}
	for frame, o := range oracle {
		if o.reassembledIn != 0 && in[frame] != o.reassembledIn {
			t.Errorf("frame %d: tshark reassembles it in frame %d, mqtap in %d", frame, o.reassembledIn, in[frame])
		}
	}
}

// transportPayload returns the UDP or TCP payload of a datagram.
func transportPayload(t *testing.T, g session.Datagram) []byte {
	t.Helper()
	switch {
	case g.Proto == 17 && len(g.Payload) >= 8:
		return g.Payload[8:]
	case g.Proto == 6 && len(g.Payload) >= 20 && int(g.Payload[12]>>4)*4 <= len(g.Payload):
		return g.Payload[int(g.Payload[12]>>4)*4:]
	}
	t.Fatalf("datagram %s -> %s: protocol %d, %d bytes: not UDP or TCP", g.Src, g.Dst, g.Proto, len(g.Payload))
	return nil
}

// checkUDP checks the UDP datagrams against what A sent, in order.
func checkUDP(t *testing.T, dgs map[int]session.Datagram, sent [][]byte) {
	t.Helper()
	var got [][]byte
	for _, frame := range slices.Sorted(mapsKeys(dgs)) {
		if g := dgs[frame]; g.Proto == 17 {
			got = append(got, transportPayload(t, g))
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("%d UDP datagrams reassembled, A sent %d", len(got), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Errorf("UDP datagram %d: %d bytes differ from the %d A sent", i, len(got[i]), len(sent[i]))
		}
	}
}

// checkTCP rebuilds A's TCP stream from the reassembled segments and the
// unfragmented ones, and checks it against what A sent.
func checkTCP(t *testing.T, dgs map[int]session.Datagram, c capture, sent []byte) {
	t.Helper()
	segs := slices.Clone(c.segs)
	fragmented := 0
	for _, g := range dgs {
		if g.Proto == 6 {
			seq := uint32(g.Payload[4])<<24 | uint32(g.Payload[5])<<16 | uint32(g.Payload[6])<<8 | uint32(g.Payload[7])
			segs = append(segs, segment{seq, transportPayload(t, g)})
			fragmented++
		}
	}
	stream := make([]byte, len(sent))
	covered := make([]bool, len(sent))
	for _, s := range segs {
		off := int(s.seq - c.isn - 1)
		if off < 0 || off+len(s.data) > len(sent) {
			t.Fatalf("segment at %d (%d bytes) outside the %d bytes sent", off, len(s.data), len(sent))
		}
		copy(stream[off:], s.data)
		for i := range s.data {
			covered[off+i] = true
		}
	}
	if slices.Contains(covered, false) || !bytes.Equal(stream, sent) {
		t.Fatalf("the TCP stream rebuilt from %d segments (%d fragmented) differs from what A sent", len(segs), fragmented)
	}
	if fragmented < 10 {
		t.Errorf("only %d TCP segments were fragmented", fragmented)
	}
}

func mapsKeys(m map[int]session.Datagram) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// writeSeed writes frags as a FuzzDefrag seed.
func writeSeed(t *testing.T, name string, frags []session.Fragment) {
	t.Helper()
	var b []byte
	for i, f := range frags {
		dt := time.Duration(0)
		if i > 0 {
			dt = f.Time.Sub(frags[i-1].Time)
		}
		b = encodeFragment(b, f, max(dt, 0))
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDefrag")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
