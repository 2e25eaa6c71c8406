package session

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tcpBytes is a TCP segment (header and payload, with its checksum) from
// 10.0.0.1:41500 to 10.0.0.2:1883.
func tcpBytes(t *testing.T, seq uint32, flags string, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	tcp := &layers.TCP{SrcPort: 41500, DstPort: 1883, Seq: seq, Window: 65535, ACK: true, Ack: 1, SYN: flags == "S"}
	if flags == "S" {
		tcp.ACK = false
	}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ipFrame is an Ethernet frame holding bytes [off, off+len(part)) of an
// IPv4 datagram's payload, with identification id.
func ipFrame(t *testing.T, id uint16, off int, more bool, part []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, Id: id, FragOffset: uint16(off / 8),
		SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	if more {
		ip.Flags = layers.IPv4MoreFragments
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, eth, ip, gopacket.Payload(part)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// fragmentsOf cuts a datagram payload into fragments at the given offsets
// (multiples of 8).
func fragmentsOf(t *testing.T, id uint16, payload []byte, cuts ...int) [][]byte {
	t.Helper()
	bounds := append(append([]int{0}, cuts...), len(payload))
	var out [][]byte
	for k := 0; k+1 < len(bounds); k++ {
		out = append(out, ipFrame(t, id, bounds[k], k+2 < len(bounds), payload[bounds[k]:bounds[k+1]]))
	}
	return out
}

// runWithFindings feeds frames and returns the records and the findings no
// record carries.
func runWithFindings(t *testing.T, frames [][]byte) ([]recordCopy, []string) {
	t.Helper()
	var fs []string
	tf := make([]testFrame, len(frames))
	for i, f := range frames {
		tf[i].data = f
	}
	got, _ := runFrames(t, Options{OnFinding: func(f Finding, frame int) { fs = append(fs, f.Code.String()) }}, tf...)
	return got, fs
}

// TestFragmentedSegments reassembles TCP segments cut into IP fragments,
// in order and reversed: each MQTT packet belongs to the frame that
// completes its datagram.
func TestFragmentedSegments(t *testing.T) {
	pub := publish("fragmented/topic", 7, bytes.Repeat([]byte("f"), 300))
	syn := ipFrame(t, 1, 0, false, tcpBytes(t, 99, "S", nil))
	first := fragmentsOf(t, 2, tcpBytes(t, 100, "A", connect311), 16)
	second := fragmentsOf(t, 3, tcpBytes(t, 100+uint32(len(connect311)), "A", pub), 104, 208)
	slices.Reverse(second)
	frames := append(append([][]byte{syn}, first...), second...)
	got, fs := runWithFindings(t, frames)
	if want := "CONNECT@003 PUBLISH@006"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if got[1].Topic != "fragmented/topic" || len(got[1].Payload) != 300 || len(fs) != 0 {
		t.Errorf("PUBLISH %+v, findings %v", got[1], fs)
	}
}

// TestMalformedFragments: overlapping fragments with different bytes still
// make the datagram (the first bytes win) and are a finding; a fragment
// past the largest datagram, and a datagram never completed, are findings
// too; nothing is lost around them.
func TestMalformedFragments(t *testing.T) {
	seg := tcpBytes(t, 100, "A", connect311)
	frags := fragmentsOf(t, 9, seg, 24)
	forged := append([]byte(nil), seg[8:24]...)
	forged[5] ^= 0xff
	frames := [][]byte{
		ipFrame(t, 1, 0, false, tcpBytes(t, 99, "S", nil)),
		frags[0],
		ipFrame(t, 9, 8, true, forged), // overlaps the first fragment, with other bytes
		frags[1],
		ipFrame(t, 10, 65528, true, make([]byte, 16)),        // past 65535 bytes
		ipFrame(t, 11, 0, true, bytes.Repeat([]byte{1}, 64)), // never completed
	}
	got, fs := runWithFindings(t, frames)
	if want := "CONNECT@004"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	for _, code := range []string{"ip.fragment-overlap", "ip.fragment-malformed", "ip.fragment-incomplete"} {
		if !slices.Contains(fs, code) {
			t.Errorf("no %s finding: %v", code, fs)
		}
	}
}
