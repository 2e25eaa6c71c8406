package session

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/decode"
)

// segment is one TCP segment of a hand-built conversation.
type segment struct {
	fromClient bool
	flags      string // any of "S", "A", "F", "R"
	seq        uint32 // relative to the direction's ISN (+1 after SYN)
	payload    []byte
}

// conversation builds Ethernet/IPv4/TCP frames between a client and a
// server port, with real checksums, as a capture would hold them.
type conversation struct {
	t          testing.TB
	clientPort uint16
	serverPort uint16
	isn        [2]uint32
}

func (c *conversation) frame(s segment) []byte { return c.frameAck(s, 1) }

// frameAck is frame with the acknowledgement number ack (relative to the
// peer's ISN) when the segment has the ACK flag.
func (c *conversation) frameAck(s segment, ack uint32) []byte {
	c.t.Helper()
	cli, srv := net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: cli, DstIP: srv}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(c.clientPort), DstPort: layers.TCPPort(c.serverPort), Window: 65535}
	dir := 0
	if !s.fromClient {
		ip.SrcIP, ip.DstIP = srv, cli
		tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
		dir = 1
	}
	tcp.Seq = c.isn[dir] + s.seq
	for _, f := range s.flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
			tcp.Ack = c.isn[1-dir] + ack
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(s.payload)); err != nil {
		c.t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// run feeds the segments to a pipeline and returns copies of the records.
func (c *conversation) run(opts Options, segs ...segment) ([]recordCopy, Stats) {
	c.t.Helper()
	frames := make([]testFrame, len(segs))
	for i, s := range segs {
		frames[i].data = c.frame(s)
	}
	return runFrames(c.t, opts, frames...)
}

// testFrame is a frame to feed: data as captured, wire its length on the
// wire (0: len(data)), iface its interface.
type testFrame struct {
	data  []byte
	wire  int
	iface int
}

// runFrames feeds frames to a pipeline, 1 ms apart, and returns copies of
// the records; a record's At is the frame being read when it was emitted
// (len(frames)+1 for Close).
func runFrames(t testing.TB, opts Options, frames ...testFrame) ([]recordCopy, Stats) {
	t.Helper()
	var got []recordCopy
	at := 0
	p, err := NewPipeline(layers.LinkTypeEthernet, opts, func(r *Record) error {
		rc := copyRecord(r)
		rc.At = at
		got = append(got, rc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	for i, f := range frames {
		at = i + 1
		ts = ts.Add(time.Millisecond)
		wire := max(f.wire, len(f.data))
		if err := p.Frame(f.data, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(f.data), Length: wire, InterfaceIndex: f.iface}); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
	}
	at = len(frames) + 1
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return got, p.Stats()
}

// recordCopy is what tests keep of a record.
type recordCopy struct {
	Frame      int
	Index      int
	Type       string
	FromClient bool
	Topic      string
	Payload    string
	PacketID   uint16
	Version    uint8
	Malformed  string
	Findings   []string
	SrcPort    uint16
	Stream     int
	Truncated  bool
	WS         string // the WebSocket frame that completed the packet: "opcode fin mask length"
	At         int    // frame being read when the record was emitted (runFrames)
}

func copyRecord(r *Record) recordCopy {
	rc := recordCopy{
		Frame: r.Frame, Index: r.Index, Type: r.Packet.Type.String(), FromClient: r.Packet.FromClient,
		Topic: string(r.Packet.Topic), Payload: string(r.Packet.Payload), PacketID: r.Packet.PacketID,
		Version: r.Packet.Version, Malformed: r.Packet.Malformed(), SrcPort: r.SrcPort, Stream: r.Stream,
		Truncated: r.Packet.Truncated,
	}
	if r.WebSocket != nil {
		f := r.WSFrame
		rc.WS = fmt.Sprintf("%d %v %v %d", f.Opcode, f.Fin, f.Masked, f.PayloadLen)
	}
	for _, f := range r.Findings {
		rc.Findings = append(rc.Findings, f.Code.String())
	}
	return rc
}

// MQTT 3.1.1 packets used by the tests, as mosquitto_pub sends them.
var (
	connect311 = []byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 6, 'c', 'l', 'i', 'e', 'n', 't'}
	connack    = []byte{0x20, 2, 0, 0}
	disconnect = []byte{0xe0, 0}
)

// publish returns a QoS 1 PUBLISH of payload on topic with packet id id.
func publish(topic string, id uint16, payload []byte) []byte {
	body := []byte{byte(len(topic) >> 8), byte(len(topic))}
	body = append(body, topic...)
	body = append(body, byte(id>>8), byte(id))
	body = append(body, payload...)
	out := decode.AppendVarint([]byte{0x32}, len(body))
	return append(out, body...)
}

func puback(id uint16) []byte { return []byte{0x40, 2, byte(id >> 8), byte(id)} }

var clock = time.Unix(1700000000, 0)

// captureInfo returns the capture info of the next frame, 1 ms after the
// previous one.
func captureInfo(n int) gopacket.CaptureInfo {
	clock = clock.Add(time.Millisecond)
	return gopacket.CaptureInfo{Timestamp: clock, CaptureLength: n, Length: n}
}
