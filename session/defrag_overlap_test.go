package session_test

import (
	"bytes"
	"encoding/hex"
	"net"
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

// TestDefragOverlapAgainstTshark writes fragments that overlap with different
// data to a capture and compares mqtap's reassembly with tshark's: both
// flag the conflict; both keep the first data when the fragments arrive in
// offset order; when a lower fragment arrives after the one it overlaps,
// mqtap keeps the earlier arrival's bytes and Wireshark the lower
// fragment's (the difference Defragmenter's documentation states).
func TestDefragOverlapAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is not installed (apt-get install tshark): the overlap test compares with it")
	}
	// A UDP datagram of 40 bytes (header and 32 bytes of data) in three
	// fragments; the second also carries bytes 8-15, which differ.
	dgram := append([]byte{0xaf, 0xc9, 0xaf, 0xc9, 0, 40, 0, 0}, pattern(32, 20)...)
	other := slices.Clone(dgram[8:24])
	other[3] ^= 0x5a // byte 11
	lower := frag(session.Fragment{}, 0, true, dgram[:16], 0)
	upper := frag(session.Fragment{}, 8, true, other, 0)
	last := frag(session.Fragment{}, 24, false, dgram[24:], 0)
	upperWins := append(append(slices.Clone(dgram[:8]), other...), dgram[24:]...)
	for _, c := range []struct {
		name             string
		v6               bool
		frags            []session.Fragment
		mqtap, wireshark []byte // the reassembled datagram
	}{
		{"ipv4 offset order", false, []session.Fragment{lower, upper, last}, dgram, dgram},
		{"ipv6 offset order", true, []session.Fragment{lower, upper, last}, dgram, dgram},
		{"ipv4 lower late", false, []session.Fragment{upper, lower, last}, upperWins, dgram},
		{"ipv6 lower late", true, []session.Fragment{upper, lower, last}, upperWins, dgram},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmpl := v4(0x4242)
			if c.v6 {
				tmpl = v6(0x4242)
			}
			tmpl.Proto = 17
			var frags []session.Fragment
			for i, f := range c.frags {
				f.V6, f.Src, f.Dst, f.ID, f.Proto, f.Frame = tmpl.V6, tmpl.Src, tmpl.Dst, tmpl.ID, tmpl.Proto, i+1
				frags = append(frags, f)
			}
			pcap := writeFragments(t, frags)
			d := session.NewDefragmenter(session.DefragOptions{})
			out := feed(t, d, frags)
			if len(out) != 1 || !bytes.Equal(out[0].Payload, c.mqtap) {
				t.Fatalf("mqtap: %+v, want % x", out, c.mqtap)
			}
			p := wantProblems(t, d, session.IPFragmentOverlap)[0]
			if !slices.Equal(p.Frames, []int{1, 2}) || !strings.Contains(p.Text, "bytes 11 to 11") {
				t.Errorf("problem %q frames %v", p.Text, p.Frames)
			}
			field := "ip"
			if c.v6 {
				field = "ipv6"
			}
			o := tsharkOverlap(t, pcap, field)
			if o.frame != 3 || o.conflict != "1" || o.payload != hex.EncodeToString(c.wireshark[8:]) {
				t.Errorf("tshark: reassembled in frame %d, conflict %q, payload %s; want frame 3, conflict 1, payload %x",
					o.frame, o.conflict, o.payload, c.wireshark[8:])
			}
		})
	}
}

type overlapOracle struct {
	frame    int
	conflict string
	payload  string
}

// tsharkOverlap returns the frame where tshark reassembled the capture's
// datagram, whether it saw conflicting overlaps and the UDP payload.
func tsharkOverlap(t *testing.T, pcap, ip string) overlapOracle {
	t.Helper()
	out, err := exec.Command("tshark", "-2", "-r", pcap, "-o", "ip.defragment:TRUE", "-o", "ipv6.defragment:TRUE",
		"-Y", "udp", "-T", "fields", "-E", "occurrence=f",
		"-e", "frame.number", "-e", ip+".fragment.overlap.conflict", "-e", "udp.payload").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v: %s", pcap, err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	f := strings.Split(lines[0], "\t")
	if len(lines) != 1 || len(f) != 3 {
		t.Fatalf("tshark: %q, want one reassembled UDP datagram", out)
	}
	var o overlapOracle
	o.conflict, o.payload = f[1], f[2]
	if o.frame, err = strconv.Atoi(f[0]); err != nil {
		t.Fatalf("tshark frame %q: %v", f[0], err)
	}
	if o.conflict == "True" {
		o.conflict = "1"
	}
	return o
}

// writeFragments writes frags as raw IP packets to a capture file.
func writeFragments(t *testing.T, frags []session.Fragment) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "overlap.pcap")
	file, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	w := pcapgo.NewWriter(file)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	for _, f := range frags {
		pkt := packetOf(t, f)
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(f.Frame) * time.Millisecond), CaptureLength: len(pkt), Length: len(pkt)}
		if err := w.WritePacket(ci, pkt); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// packetOf serializes f as an IPv4 or IPv6 packet.
func packetOf(t *testing.T, f session.Fragment) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	if f.V6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment,
			SrcIP: net.IP(f.Src.AsSlice()), DstIP: net.IP(f.Dst.AsSlice())}
		fr := &layers.IPv6Fragment{NextHeader: layers.IPProtocol(f.Proto), FragmentOffset: uint16(f.Offset / 8),
			MoreFragments: f.More, Identification: f.ID}
		err = gopacket.SerializeLayers(buf, opts, ip, fr, gopacket.Payload(f.Payload))
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocol(f.Proto), Id: uint16(f.ID),
			FragOffset: uint16(f.Offset / 8), SrcIP: net.IP(f.Src.AsSlice()), DstIP: net.IP(f.Dst.AsSlice())}
		if f.More {
			ip.Flags = layers.IPv4MoreFragments
		}
		err = gopacket.SerializeLayers(buf, opts, ip, gopacket.Payload(f.Payload))
	}
	if err != nil {
		t.Fatalf("serializing frame %d: %v", f.Frame, err)
	}
	return buf.Bytes()
}
