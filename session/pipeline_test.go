package session

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// handshake opens a connection: SYN, SYN-ACK, ACK.
func handshake() []segment {
	return []segment{{true, "S", 0, nil}, {false, "SA", 0, nil}, {true, "A", 1, nil}}
}

// inOrder lays packets out back to back in one direction from seq 1, one
// segment per packet.
func inOrder(fromClient bool, start uint32, pkts ...[]byte) ([]segment, uint32) {
	var segs []segment
	seq := start
	for _, p := range pkts {
		segs = append(segs, segment{fromClient, "A", seq, p})
		seq += uint32(len(p))
	}
	return segs, seq
}

func types(rs []recordCopy) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Type)
	}
	return strings.Join(s, " ")
}

func TestPacketsSplitAndCoalesced(t *testing.T) {
	c := &conversation{t: t, clientPort: 40000, serverPort: 1883, isn: [2]uint32{1000, 5000}}
	big := publish("big/payload", 7, bytes.Repeat([]byte("x"), 5000))
	two := append(publish("a", 1, []byte("one")), publish("b", 2, []byte("two"))...)
	segs := handshake()
	seq := uint32(1)
	segs = append(segs, segment{true, "A", seq, connect311})
	seq += uint32(len(connect311))
	segs = append(segs, segment{false, "A", 1, connack})
	segs = append(segs, segment{true, "A", seq, two})
	seq += uint32(len(two))
	// the big PUBLISH in three segments
	segs = append(segs, segment{true, "A", seq, big[:1448]}, segment{true, "A", seq + 1448, big[1448:2896]}, segment{true, "A", seq + 2896, big[2896:]})
	got, st := c.run(Options{}, segs...)
	if want := "CONNECT CONNACK PUBLISH PUBLISH PUBLISH"; types(got) != want {
		t.Fatalf("types = %q, want %q", types(got), want)
	}
	if got[2].Frame != 6 || got[3].Frame != 6 || got[2].Index != 0 || got[3].Index != 1 {
		t.Errorf("two packets in one segment: frames %d/%d indexes %d/%d, want 6/6 and 0/1", got[2].Frame, got[3].Frame, got[2].Index, got[3].Index)
	}
	if got[2].Topic != "a" || got[3].Topic != "b" || got[3].Payload != "two" {
		t.Errorf("coalesced packets decoded as %+v %+v", got[2], got[3])
	}
	if got[4].Frame != 9 || len(got[4].Payload) != 5000 || got[4].PacketID != 7 {
		t.Errorf("segmented PUBLISH: frame %d payload %d id %d, want frame 9 (the one completing it), 5000 bytes, id 7", got[4].Frame, len(got[4].Payload), got[4].PacketID)
	}
	if !got[0].FromClient || got[1].FromClient {
		t.Errorf("directions: CONNECT from client %v, CONNACK from client %v", got[0].FromClient, got[1].FromClient)
	}
	if st.Packets != 5 || st.MQTTStreams != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestOutOfOrderRetransmittedAndOverlapping(t *testing.T) {
	c := &conversation{t: t, clientPort: 40001, serverPort: 1883, isn: [2]uint32{77, 99}}
	body := publish("t", 3, bytes.Repeat([]byte("0123456789"), 300))
	after := publish("u", 4, []byte("after"))
	segs := handshake()
	segs = append(segs, segment{true, "A", 1, connect311})
	s := uint32(1 + len(connect311))
	segs = append(segs,
		segment{true, "A", s + 2000, body[2000:]},   // third part first
		segment{true, "A", s, body[:1000]},          // first part
		segment{true, "A", s, body[:1000]},          // retransmission of it
		segment{true, "A", s + 500, body[500:2000]}, // overlaps the first, completes the packet
		segment{true, "A", s + uint32(len(body)), after},
	)
	got, _ := c.run(Options{}, segs...)
	if want := "CONNECT PUBLISH PUBLISH"; types(got) != want {
		t.Fatalf("types = %q, want %q", types(got), want)
	}
	if got[1].Payload != strings.Repeat("0123456789", 300) {
		t.Errorf("reassembled payload wrong: %d bytes", len(got[1].Payload))
	}
	if got[1].Frame != 8 {
		t.Errorf("out-of-order PUBLISH reported in frame %d, want 8 (the segment that completed it)", got[1].Frame)
	}
	if got[2].Topic != "u" || got[2].Frame != 9 {
		t.Errorf("packet after the overlap: %+v", got[2])
	}
}

func TestMidStreamResynchronises(t *testing.T) {
	c := &conversation{t: t, clientPort: 40002, serverPort: 1883, isn: [2]uint32{5000, 9000}}
	p1 := publish("x/y", 10, []byte("first"))
	p2 := publish("x/z", 11, []byte("second"))
	// The capture starts in the middle of p1: no SYN, no CONNECT.
	segs := []segment{
		{true, "A", 100, p1[4:]},
		{true, "A", 100 + uint32(len(p1)-4), p2},
		{false, "A", 100, puback(11)},
	}
	got, st := c.run(Options{}, segs...)
	if want := "PUBLISH PUBACK"; types(got) != want {
		t.Fatalf("types = %q, want %q", types(got), want)
	}
	if got[0].Topic != "x/z" || got[0].PacketID != 11 {
		t.Errorf("first packet after resync: %+v", got[0])
	}
	if !slices.Contains(got[0].Findings, "mqtt.resync") {
		t.Errorf("skipped bytes not reported: findings %v", got[0].Findings)
	}
	if st.Skipped != len(p1)-4 {
		t.Errorf("Skipped = %d, want %d", st.Skipped, len(p1)-4)
	}
	if !got[0].FromClient || got[1].FromClient {
		t.Errorf("client side guessed wrong: %+v", got)
	}
}

func TestGapIsReportedAndSkipped(t *testing.T) {
	c := &conversation{t: t, clientPort: 40003, serverPort: 1883, isn: [2]uint32{1, 1}}
	pkts := [][]byte{connect311, publish("a", 1, []byte("1")), publish("b", 2, []byte("2")), publish("c", 3, []byte("3"))}
	segs, _ := inOrder(true, 1, pkts...)
	segs = append(handshake(), segs...)
	lost := segs[5] // PUBLISH b never captured
	segs = slices.Delete(segs, 5, 6)
	got, st := c.run(Options{FlushAfter: time.Millisecond}, segs...)
	if want := "CONNECT PUBLISH PUBLISH"; types(got) != want {
		t.Fatalf("types = %q, want %q", types(got), want)
	}
	if got[2].Topic != "c" || !slices.Contains(got[2].Findings, "tcp.gap") {
		t.Errorf("packet after the gap: %+v", got[2])
	}
	if st.GapBytes != len(lost.payload) {
		t.Errorf("GapBytes = %d, want %d", st.GapBytes, len(lost.payload))
	}
}

func TestDetectionOnOtherPorts(t *testing.T) {
	t.Run("CONNECT", func(t *testing.T) {
		c := &conversation{t: t, clientPort: 40004, serverPort: 5555, isn: [2]uint32{1, 1}}
		segs := append(handshake(), segment{true, "A", 1, connect311}, segment{false, "A", 1, connack})
		got, _ := c.run(Options{}, segs...)
		if types(got) != "CONNECT CONNACK" || got[0].Frame != 4 {
			t.Fatalf("MQTT on port 5555 not detected from CONNECT: %+v", got)
		}
	})
	t.Run("not MQTT", func(t *testing.T) {
		c := &conversation{t: t, clientPort: 40005, serverPort: 8080, isn: [2]uint32{1, 1}}
		segs := append(handshake(), segment{true, "A", 1, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, segment{false, "A", 1, []byte("HTTP/1.1 200 OK\r\n\r\n")})
		got, st := c.run(Options{}, segs...)
		if len(got) != 0 || st.MQTTStreams != 0 {
			t.Fatalf("HTTP decoded as MQTT: %+v", got)
		}
	})
	t.Run("mid-stream run", func(t *testing.T) {
		c := &conversation{t: t, clientPort: 40006, serverPort: 7777, isn: [2]uint32{1, 1}}
		segs := []segment{
			{true, "A", 50, publish("s/1", 1, []byte("a"))},
			{false, "A", 50, puback(1)},
			{true, "A", 50 + uint32(len(publish("s/1", 1, []byte("a")))), publish("s/2", 2, []byte("b"))},
			{false, "A", 54, puback(2)},
			{true, "A", 50 + 2*uint32(len(publish("s/1", 1, []byte("a")))), publish("s/3", 3, []byte("c"))},
		}
		got, _ := c.run(Options{}, segs...)
		if want := "PUBLISH PUBACK PUBLISH PUBACK PUBLISH"; types(got) != want {
			t.Fatalf("types = %q, want %q", types(got), want)
		}
		for i, want := range []int{1, 2, 3, 4, 5} {
			if got[i].Frame != want {
				t.Errorf("record %d in frame %d, want %d (held data keeps its frame)", i, got[i].Frame, want)
			}
		}
	})
	t.Run("decode as", func(t *testing.T) {
		c := &conversation{t: t, clientPort: 40007, serverPort: 9001, isn: [2]uint32{1, 1}}
		segs := []segment{{true, "A", 1, puback(5)}}
		if got, _ := c.run(Options{}, segs...); len(got) != 0 {
			t.Fatalf("a lone PUBACK on port 9001 decoded without -d: %+v", got)
		}
		if got, _ := c.run(Options{Ports: []uint16{9001}}, segs...); types(got) != "PUBACK" {
			t.Fatalf("-d tcp.port==9001,mqtt ignored: %+v", got)
		}
	})
}

func TestTLSOnMQTTPortIsNotDecoded(t *testing.T) {
	c := &conversation{t: t, clientPort: 40008, serverPort: 8883, isn: [2]uint32{1, 1}}
	hello := append([]byte{0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, 0x03, 0x03}, bytes.Repeat([]byte{0xab}, 0x2a)...)
	segs := append(handshake(), segment{true, "A", 1, hello})
	if got, _ := c.run(Options{}, segs...); len(got) != 0 {
		t.Fatalf("TLS ClientHello decoded as MQTT: %+v", got)
	}
}

func TestStreamNumbers(t *testing.T) {
	a := &conversation{t: t, clientPort: 40010, serverPort: 1883, isn: [2]uint32{1, 1}}
	b := &conversation{t: t, clientPort: 40011, serverPort: 1883, isn: [2]uint32{1, 1}}
	var got []recordCopy
	// Two connections, then the first 4-tuple reused after a FIN.
	p, err := NewPipeline(1, Options{}, func(r *Record) error { got = append(got, copyRecord(r)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	feed := func(c *conversation, segs ...segment) {
		for _, s := range segs {
			d := c.frame(s)
			if err := p.Frame(d, captureInfo(len(d))); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed(a, append(handshake(), segment{true, "A", 1, connect311})...)
	feed(b, append(handshake(), segment{true, "A", 1, connect311})...)
	feed(a, segment{true, "FA", 1 + uint32(len(connect311)), disconnect}, segment{false, "FA", 1, nil})
	a.isn = [2]uint32{7000, 8000}
	feed(a, append(handshake(), segment{true, "A", 1, connect311})...)
	p.Close()
	var streams []int
	for _, r := range got {
		streams = append(streams, r.Stream)
	}
	if want := []int{0, 1, 0, 2}; !slices.Equal(streams, want) {
		t.Fatalf("tcp.stream = %v, want %v", streams, want)
	}
}

func TestUndelimitablePacketIsReported(t *testing.T) {
	c := &conversation{t: t, clientPort: 40012, serverPort: 1883, isn: [2]uint32{1, 1}}
	bad := []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}
	segs := append(handshake(), segment{true, "A", 1, connect311}, segment{true, "A", 1 + uint32(len(connect311)), bad},
		segment{true, "A", 1 + uint32(len(connect311)+len(bad)), publish("ok", 1, []byte("fine"))})
	got, _ := c.run(Options{}, segs...)
	if len(got) < 3 || got[1].Malformed == "" || !slices.Contains(got[1].Findings, "mqtt.malformed") {
		t.Fatalf("remaining length over 4 bytes not reported as malformed: %+v", got)
	}
	last := got[len(got)-1]
	if last.Topic != "ok" || last.Malformed != "" {
		t.Fatalf("stream did not go on after the malformed packet: %+v", got)
	}
}

// The flow table chains connections whose keys share a hash: each is found,
// replaced and removed on its own.
func TestFlowTableCollisions(t *testing.T) {
	key := func(port uint16) flowKey {
		k, _ := makeKey(netip.MustParseAddrPort(fmt.Sprintf("10.0.0.1:%d", port)), netip.MustParseAddrPort("10.0.0.2:1883"))
		return k
	}
	for _, h := range []func(flowKey) uint64{
		func(flowKey) uint64 { return 7 }, // every key probes from the same slot
		nil,                               // the table's own hash
	} {
		ft := newFlowTable()
		if h == nil {
			h = ft.hash
		}
		var conns []*conn
		for i := range 5 {
			c := &conn{key: key(uint16(40000 + i)), stream: int32(i)}
			conns = append(conns, c)
			ft.putAt(c, h(c.key))
		}
		again := &conn{key: conns[2].key, stream: 99}
		ft.putAt(again, h(again.key))
		if ft.len() != 5 || ft.getAt(conns[2].key, h(conns[2].key)) != again {
			t.Fatalf("after replacing: %d connections", ft.len())
		}
		ft.removeAt(conns[2], h(conns[2].key)) // replaced: no longer in the table
		for _, k := range []int{4, 0} {        // the last placed, then the first
			ft.removeAt(conns[k], h(conns[k].key))
		}
		if ft.len() != 3 || len(ft.all()) != 3 {
			t.Errorf("after removing: %d connections, %d listed", ft.len(), len(ft.all()))
		}
		for k, want := range []*conn{nil, conns[1], again, conns[3], nil} {
			if got := ft.getAt(conns[k].key, h(conns[k].key)); got != want {
				t.Errorf("connection %d: found %p, want %p", k, got, want)
			}
		}
	}
}

// TestFlowTableAgainstMap: random puts and removes, with hashes that
// crowd few home slots (so probes wrap around the end and removals move
// slots back) and with the table's own hash, find what a map holds.
func TestFlowTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, h := range []func(flowKey) uint64{
		func(k flowKey) uint64 { return ^uint64(0) - uint64(k.a.Port()%5) }, // the last 5 slots, whatever the size: wraps
		nil,
	} {
		ft := newFlowTable()
		if h == nil {
			h = ft.hash
		}
		want := map[flowKey]*conn{}
		for op := range 20000 {
			port := uint16(1000 + rng.IntN(300))
			k, _ := makeKey(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), netip.MustParseAddrPort("10.0.0.2:1883"))
			if c := want[k]; c != nil && rng.IntN(3) == 0 {
				ft.removeAt(c, h(k))
				delete(want, k)
			} else {
				c := &conn{key: k, stream: int32(op)}
				ft.putAt(c, h(k))
				want[k] = c
			}
			if ft.len() != len(want) {
				t.Fatalf("op %d: %d connections, want %d", op, ft.len(), len(want))
			}
			if op%97 == 0 {
				for k, c := range want {
					if got := ft.getAt(k, h(k)); got != c {
						t.Fatalf("op %d: port %d found %p, want %p", op, k.a.Port(), got, c)
					}
				}
				if len(ft.all()) != len(want) {
					t.Fatalf("op %d: %d listed, want %d", op, len(ft.all()), len(want))
				}
			}
		}
	}
}

// inStreamOrder lists connections by tcp.stream, whether most streams are
// still in the table (placed by number) or few (sorted).
func TestFlowTableStreamOrder(t *testing.T) {
	for _, streams := range [][]int32{{4, 0, 3, 1}, {90000, 7, 5000, 12}} {
		ft := newFlowTable()
		for i, s := range streams {
			k, _ := makeKey(netip.MustParseAddrPort(fmt.Sprintf("10.0.0.1:%d", 1000+i)), netip.MustParseAddrPort("10.0.0.2:1883"))
			ft.put(&conn{key: k, stream: s})
		}
		var got []int32
		for _, c := range ft.inStreamOrder() {
			got = append(got, c.stream)
		}
		want := slices.Sorted(slices.Values(streams))
		if !slices.Equal(got, want) {
			t.Errorf("streams %v listed as %v, want %v", streams, got, want)
		}
	}
}
