package session

import (
	"github.com/mqtap/mqtap/decode"

	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// frameOrder fails the test when a record's frame is smaller than the one
// before it.
func frameOrder(t *testing.T, got []recordCopy) {
	t.Helper()
	for k := 1; k < len(got); k++ {
		if got[k].Frame < got[k-1].Frame {
			t.Fatalf("record %d (frame %d) after record %d (frame %d): output is not in frame order", k, got[k].Frame, k-1, got[k-1].Frame)
		}
	}
}

// describe writes records as "TYPE@frame" words, for failure messages.
func describe(got []recordCopy) string {
	var s []string
	for _, r := range got {
		s = append(s, fmt.Sprintf("%s@%03d", r.Type, r.Frame))
	}
	return strings.Join(s, " ")
}

// A segment missing from the capture is given up as soon as the receiver
// acknowledges past it: the packets held behind it come out then, not at
// the end of the capture, each in the frame it arrived in, and records of
// another connection wait so that the output stays in frame order.
func TestAckGivesUpHoleInFrameOrder(t *testing.T) {
	x := &conversation{t: t, clientPort: 41000, serverPort: 1883, isn: [2]uint32{100, 900}}
	y := &conversation{t: t, clientPort: 41001, serverPort: 1883, isn: [2]uint32{200, 800}}
	a, b, c := publish("x/a", 1, []byte("A")), publish("x/b", 2, []byte("B")), publish("x/c", 3, []byte("C"))
	s := uint32(1 + len(connect311))
	var frames []testFrame
	add := func(data []byte) { frames = append(frames, testFrame{data: data}) }
	for _, seg := range handshake() { // frames 1-3
		add(x.frame(seg))
	}
	add(x.frame(segment{true, "A", 1, connect311}))                // 4
	add(x.frame(segment{true, "A", s + uint32(len(a)), b}))        // 5: a is missing
	add(x.frame(segment{true, "A", s + uint32(len(a)+len(b)), c})) // 6
	for _, seg := range handshake() {                              // 7-9
		add(y.frame(seg))
	}
	add(y.frame(segment{true, "A", 1, connect311}))                     // 10
	add(y.frame(segment{true, "A", s, publish("y/1", 1, []byte("Y"))})) // 11
	end := s + uint32(len(a)+len(b)+len(c))
	add(x.frameAck(segment{false, "A", 1, nil}, end))                                                                 // 12: the broker acknowledges everything
	add(y.frame(segment{true, "A", s + uint32(len(publish("y/1", 1, []byte("Y")))), publish("y/2", 2, []byte("Z"))})) // 13
	got, st := runFrames(t, Options{}, frames...)
	frameOrder(t, got)
	want := "CONNECT@004 PUBLISH@005 PUBLISH@006 CONNECT@010 PUBLISH@011 PUBLISH@013"
	if describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if got[1].Topic != "x/b" || got[2].Topic != "x/c" {
		t.Errorf("packets after the hole: %q %q", got[1].Topic, got[2].Topic)
	}
	for _, k := range []int{1, 2, 3, 4} {
		if got[k].At != 12 {
			t.Errorf("%s of frame %d emitted while reading frame %d, want 12 (the acknowledgement)", got[k].Type, got[k].Frame, got[k].At)
		}
	}
	if !slices.Contains(got[1].Findings, "tcp.gap") || slices.Contains(got[1].Findings, "mqtt.resync") {
		t.Errorf("findings of the packet after the hole: %v", got[1].Findings)
	}
	if st.GapBytes != len(a) {
		t.Errorf("GapBytes = %d, want %d", st.GapBytes, len(a))
	}
}

// A hole filled by a retransmission releases the packets behind it in the
// frame that filled it: it completes them.
func TestRetransmissionFillsHole(t *testing.T) {
	x := &conversation{t: t, clientPort: 41002, serverPort: 1883, isn: [2]uint32{100, 900}}
	a, b, c := publish("x/a", 1, []byte("A")), publish("x/b", 2, []byte("B")), publish("x/c", 3, []byte("C"))
	s := uint32(1 + len(connect311))
	segs := append(handshake(),
		segment{true, "A", 1, connect311},
		segment{true, "A", s + uint32(len(a)), b},
		segment{true, "A", s + uint32(len(a)+len(b)), c},
		segment{true, "A", s, a}, // frame 7: the retransmission
	)
	got, st := x.run(Options{}, segs...)
	frameOrder(t, got)
	if want := "CONNECT@004 PUBLISH@007 PUBLISH@007 PUBLISH@007"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if got[1].Topic != "x/a" || got[3].Topic != "x/c" || got[3].Index != 2 {
		t.Errorf("order after the fill: %+v", got)
	}
	if st.GapBytes != 0 {
		t.Errorf("GapBytes = %d, want 0", st.GapBytes)
	}
}

// When the lost bytes end inside a packet whose fixed header was captured,
// that packet is reported with the bytes captured, and framing goes on
// right after it: the next packet needs no resynchronisation.
func TestGapInsidePacketKeepsFraming(t *testing.T) {
	x := &conversation{t: t, clientPort: 41003, serverPort: 1883, isn: [2]uint32{100, 900}}
	big := publish("big/one", 7, bytes.Repeat([]byte("0123456789"), 300))
	next := publish("after", 8, []byte("next"))
	s := uint32(1 + len(connect311))
	var frames []testFrame
	for _, seg := range append(handshake(), segment{true, "A", 1, connect311}) {
		frames = append(frames, testFrame{data: x.frame(seg)})
	}
	frames = append(frames,
		testFrame{data: x.frame(segment{true, "A", s, big[:1000]})},                            // 5
		testFrame{data: x.frame(segment{true, "A", s + 2000, big[2000:]})},                     // 6: 1000 bytes lost before it
		testFrame{data: x.frame(segment{true, "A", s + uint32(len(big)), next})},               // 7
		testFrame{data: x.frameAck(segment{false, "A", 1, nil}, s+uint32(len(big)+len(next)))}, // 8
	)
	got, st := runFrames(t, Options{}, frames...)
	frameOrder(t, got)
	if want := "CONNECT@004 PUBLISH@006 PUBLISH@007"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	cut := got[1]
	if !cut.Truncated || cut.Topic != "big/one" || cut.PacketID != 7 || cut.Malformed != "" || len(cut.Payload) != 1000-len("big/one")-7 {
		t.Errorf("packet spanning the gap: truncated %v topic %q id %d malformed %q payload %d bytes", cut.Truncated, cut.Topic, cut.PacketID, cut.Malformed, len(cut.Payload))
	}
	if !slices.Contains(cut.Findings, "tcp.gap") {
		t.Errorf("the packet spanning the gap has no tcp.gap finding: %v", cut.Findings)
	}
	if after := got[2]; after.Topic != "after" || after.Truncated || len(after.Findings) != 0 {
		t.Errorf("packet after the cut one: %+v", after)
	}
	if st.Skipped != 0 || st.Truncated != 1 || st.GapBytes != 1000 {
		t.Errorf("stats: skipped %d truncated %d gap %d, want 0, 1, 1000", st.Skipped, st.Truncated, st.GapBytes)
	}
}

// A snap length that cut every frame keeps the framing: each packet whose
// fixed header was captured is reported with what was captured.
func TestSnapLengthKeepsFraming(t *testing.T) {
	x := &conversation{t: t, clientPort: 41004, serverPort: 1883, isn: [2]uint32{100, 900}}
	var frames []testFrame
	for _, seg := range append(handshake(), segment{true, "A", 1, connect311}) {
		frames = append(frames, testFrame{data: x.frame(seg)})
	}
	seq := uint32(1 + len(connect311))
	const snap = 96
	var pubs [][]byte
	for k := 0; k < 5; k++ {
		p := publish("snap/"+string(rune('a'+k)), uint16(10+k), bytes.Repeat([]byte{'x'}, 300))
		pubs = append(pubs, p)
		f := x.frame(segment{true, "A", seq, p})
		frames = append(frames, testFrame{data: f[:snap], wire: len(f)})
		seq += uint32(len(p))
	}
	small := publish("s", 20, []byte("ok"))
	frames = append(frames, testFrame{data: x.frame(segment{true, "A", seq, small})})
	got, st := runFrames(t, Options{}, frames...)
	frameOrder(t, got)
	if len(got) != 7 {
		t.Fatalf("records %s, want CONNECT and 6 PUBLISH", describe(got))
	}
	for k, r := range got[1:6] {
		if !r.Truncated || r.Topic != "snap/"+string(rune('a'+k)) || r.PacketID != uint16(10+k) || r.Frame != 5+k || len(r.Findings) != 0 {
			t.Errorf("packet %d: %+v", k, r)
		}
	}
	if last := got[6]; last.Truncated || last.Topic != "s" || last.Payload != "ok" {
		t.Errorf("last packet: %+v", last)
	}
	if want := 5 * (len(pubs[0]) - (snap - 54)); st.SnapCut != want || st.Skipped != 0 || st.GapBytes != 0 {
		t.Errorf("SnapCut %d (want %d), Skipped %d, GapBytes %d", st.SnapCut, want, st.Skipped, st.GapBytes)
	}
}

// A capture that starts mid-stream with a fixed header split across two
// segments (one byte, then the rest) joins them.
func TestMidStreamSplitFixedHeader(t *testing.T) {
	x := &conversation{t: t, clientPort: 41005, serverPort: 1883, isn: [2]uint32{5000, 9000}}
	p1 := publish("split/header", 5, []byte("joined"))
	p2 := publish("split/next", 6, []byte("next"))
	segs := []segment{
		{true, "A", 100, p1[:1]},
		{true, "A", 101, p1[1:]},
		{true, "A", 100 + uint32(len(p1)), p2},
		{false, "A", 100, puback(5)},
	}
	got, st := x.run(Options{}, segs...)
	if want := "PUBLISH@002 PUBLISH@003 PUBACK@004"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if got[0].Topic != "split/header" || got[0].Payload != "joined" || len(got[0].Findings) != 0 {
		t.Errorf("first packet: %+v", got[0])
	}
	if st.Skipped != 0 || st.Incomplete != 0 {
		t.Errorf("Skipped %d Incomplete %d, want 0 and 0", st.Skipped, st.Incomplete)
	}
}

// Held data past its cap is given up, and the gap's finding says which cap.
func TestHeldDataCap(t *testing.T) {
	x := &conversation{t: t, clientPort: 41006, serverPort: 1883, isn: [2]uint32{100, 900}}
	a := publish("x/a", 1, bytes.Repeat([]byte("a"), 500))
	segs := append(handshake(), segment{true, "A", 1, connect311})
	seq := uint32(1+len(connect311)) + uint32(len(a)) // a is lost
	for k := 0; k < 6; k++ {
		p := publish("x/held", uint16(2+k), bytes.Repeat([]byte("h"), 500))
		segs = append(segs, segment{true, "A", seq, p})
		seq += uint32(len(p))
	}
	got, st := x.run(Options{MaxHeld: 8 << 10}, segs...)
	frameOrder(t, got)
	if len(got) != 7 || st.CapsReached != 1 {
		t.Fatalf("records %s, CapsReached %d; want CONNECT and 6 PUBLISH, 1", describe(got), st.CapsReached)
	}
	if got[1].At >= len(segs)+1 {
		t.Errorf("held data released at the end of the capture, not when the cap was reached")
	}
	found := false
	for _, r := range got {
		if slices.Contains(r.Findings, "tcp.gap") {
			found = true
		}
	}
	if !found {
		t.Errorf("no tcp.gap finding: %+v", got)
	}
}

// A reset gives up what each direction holds.
func TestResetGivesUpHoles(t *testing.T) {
	x := &conversation{t: t, clientPort: 41007, serverPort: 1883, isn: [2]uint32{100, 900}}
	a, b := publish("x/a", 1, []byte("A")), publish("x/b", 2, []byte("B"))
	s := uint32(1 + len(connect311))
	segs := append(handshake(),
		segment{true, "A", 1, connect311},
		segment{true, "A", s + uint32(len(a)), b},
		segment{false, "R", 1, nil},
		segment{true, "A", 1, connect311}, // a later frame, to see when b came out
	)
	got, _ := x.run(Options{}, segs...)
	if want := "CONNECT@004 PUBLISH@005"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if got[1].At != 6 {
		t.Errorf("held packet emitted while reading frame %d, want 6 (the reset)", got[1].At)
	}
}

// Frames of interfaces with different link types are each decoded with
// their own, and records name the interface.
func TestInterfacesOfDifferentLinkTypes(t *testing.T) {
	eth := &conversation{t: t, clientPort: 41008, serverPort: 1883, isn: [2]uint32{1, 1}}
	raw := &conversation{t: t, clientPort: 41009, serverPort: 1883, isn: [2]uint32{1, 1}}
	var got []recordCopy
	var ifaces []string
	p, err := NewPipeline(layers.LinkTypeEthernet, Options{}, func(r *Record) error {
		got = append(got, copyRecord(r))
		name := "-"
		if r.Interface != nil {
			name = fmt.Sprintf("%03d:%s", r.Interface.ID, r.Interface.Name)
		}
		ifaces = append(ifaces, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddInterface(Interface{Index: 0, ID: 0, Name: "eth0", Link: layers.LinkTypeEthernet, Described: true}); err != nil {
		t.Fatal(err)
	}
	if err := p.AddInterface(Interface{Index: 1, ID: 1, Name: "tun0", Link: layers.LinkTypeRaw, Described: true}); err != nil {
		t.Fatal(err)
	}
	err = p.AddInterface(Interface{Index: 2, ID: 2, Name: "odd", Link: layers.LinkType(147), Described: true})
	if err == nil || !strings.Contains(err.Error(), "interface 2 (odd)") {
		t.Errorf("unsupported link type: error %v, want one naming interface 2 (odd)", err)
	}
	feed := func(data []byte, iface int) {
		ci := captureInfo(len(data))
		ci.InterfaceIndex = iface
		if err := p.Frame(data, ci); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []segment{{true, "A", 1, connect311}, {false, "A", 1, connack}} {
		feed(eth.frame(s), 0)
		feed(raw.frame(s)[14:], 1) // the same without its Ethernet header
		feed(raw.frame(s), 2)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "CONNECT@001 CONNECT@002 CONNACK@004 CONNACK@005"; describe(got) != want {
		t.Fatalf("records %s, want %s", describe(got), want)
	}
	if want := []string{"000:eth0", "001:tun0", "000:eth0", "001:tun0"}; !slices.Equal(ifaces, want) {
		t.Errorf("interfaces %v, want %v", ifaces, want)
	}
	if st := p.Stats(); st.Unsupported != 2 {
		t.Errorf("Unsupported = %d, want 2", st.Unsupported)
	}
}

// While a hole holds data of an early frame, the packets of other
// connections wait for it; past the cap of what may wait, the hole is
// given up and everything comes out, still in frame order.
func TestQueueCap(t *testing.T) {
	x := &conversation{t: t, clientPort: 41010, serverPort: 1883, isn: [2]uint32{100, 900}}
	y := &conversation{t: t, clientPort: 41011, serverPort: 1883, isn: [2]uint32{200, 800}}
	a, b := publish("x/a", 1, []byte("A")), publish("x/b", 2, []byte("B"))
	s := uint32(1 + len(connect311))

	var frames []testFrame
	add := func(c *conversation, seg segment) { frames = append(frames, testFrame{data: c.frame(seg)}) }
	for _, seg := range append(handshake(), segment{true, "A", 1, connect311}, segment{true, "A", s + uint32(len(a)), b}) {
		add(x, seg) // frames 1-5: b held behind the lost a
	}
	for _, seg := range append(handshake(), segment{true, "A", 1, connect311}) {
		add(y, seg)
	}
	seq := s
	for k := 0; k < 40; k++ {
		p := publish("y/big", uint16(k+1), bytes.Repeat([]byte("y"), 1000))
		add(y, segment{true, "A", seq, p})
		seq += uint32(len(p))
	}

	got, st := runFrames(t, Options{MaxQueued: 16 << 10}, frames...)
	frameOrder(t, got)
	if len(got) != 43 || st.CapsReached == 0 {
		t.Fatalf("%d records, CapsReached %d: %s", len(got), st.CapsReached, describe(got))
	}
	if got[1].Topic != "x/b" || got[1].At > 30 {
		t.Errorf("the held packet came out while reading frame %d (the cap is reached near frame 25): %+v", got[1].At, got[1])
	}
}

// A packet longer than Options.MaxPacket is reported from its first
// MaxPacket bytes as soon as they are there, with an mqtap.limit finding;
// its other bytes are skipped, not held, and the packet after it decodes.
// One that never ends (a remaining length of 256 MB) holds no more.
func TestPacketLimit(t *testing.T) {
	x := &conversation{t: t, clientPort: 41007, serverPort: 1883, isn: [2]uint32{100, 900}}
	big := publish("x/big", 1, bytes.Repeat([]byte("b"), 20000))
	after := publish("x/after", 2, []byte("ok"))
	huge := append(decode.AppendVarint([]byte{0x30}, 268435455), 0, 6, 'x', '/', 'h', 'u', 'g', 'e')
	segs := append(handshake(), segment{true, "A", 1, connect311})
	seq := uint32(1 + len(connect311))
	stream := append(append(append([]byte(nil), big...), after...), huge...)
	stream = append(stream, bytes.Repeat([]byte("h"), 30000)...)
	for len(stream) > 0 {
		n := min(1448, len(stream))
		segs = append(segs, segment{true, "A", seq, stream[:n]})
		seq += uint32(n)
		stream = stream[n:]
	}
	got, st := x.run(Options{MaxPacket: 4096}, segs...)
	frameOrder(t, got)
	if len(got) != 4 || got[1].Topic != "x/big" || got[2].Topic != "x/after" || got[3].Topic != "x/huge" || st.Limits != 2 {
		t.Fatalf("records %s, Limits %d; want CONNECT, x/big, x/after, x/huge and 2", describe(got), st.Limits)
	}
	for _, k := range []int{1, 3} {
		r := got[k]
		if !r.Truncated || !slices.Contains(r.Findings, "mqtap.limit") || len(r.Payload) > 4096 {
			t.Errorf("%s: truncated %v, findings %v, %d payload bytes; want truncated at 4096 with mqtap.limit", r.Topic, r.Truncated, r.Findings, len(r.Payload))
		}
	}
	if want := len(handshake()) + 1 + (4096+1447)/1448; got[1].At != want {
		t.Errorf("x/big reported while reading frame %d, want %d (its first 4096 bytes)", got[1].At, want)
	}
	if got[2].Truncated || got[2].Payload != "ok" || len(got[2].Findings) != 0 {
		t.Errorf("the packet after the long one: %+v", got[2])
	}
}
