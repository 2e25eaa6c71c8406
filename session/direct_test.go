package session

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/decode"
)

// TestReceived feeds a broker connection in pieces, as the tap reads it:
// packets split over reads and several packets per read come out whole, in
// order, as records without frame or TCP fields.
func TestReceived(t *testing.T) {
	type got struct {
		frame, length, stream int
		typ                   decode.Type
		topic                 string
		head                  []string
	}
	var recs []got
	p, err := NewPipeline(layers.LinkTypeRaw, Options{}, func(r *Record) error {
		var names []string
		for _, f := range r.Head() {
			names = append(names, f.Name)
		}
		if !r.Direct || r.Src != netip.MustParseAddr("10.0.0.1") || r.Packet.FromClient {
			t.Errorf("record %d: direct %v, source %v, from client %v", r.Frame, r.Direct, r.Src, r.Packet.FromClient)
		}
		recs = append(recs, got{r.Frame, r.FrameLen, r.Stream, r.Packet.Type, string(r.Packet.Topic), names})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddrPort("10.0.0.2:40000")
	broker := netip.MustParseAddrPort("10.0.0.1:1883")
	connack := []byte{0x20, 3, 0, 0, 0} // MQTT 5: flags, reason, no properties
	publish := []byte{0x30, 9, 0, 3, 'a', '/', 'b', 0, 'h', 'i', '!'}
	stream := slices.Concat(connack, publish, publish)
	now := time.Unix(1700000000, 0)
	for _, piece := range [][]byte{stream[:3], stream[3:9], stream[9:20], stream[20:]} {
		if err := p.Received(local, broker, 5, piece, now); err != nil {
			t.Fatal(err)
		}
	}
	p.Received(local, broker, 5, publish[:4], now) // cut off by the end of the connection
	p.Disconnected(local, broker)
	p.Received(local, broker, 5, connack, now) // a reconnection: a new stream
	want := []got{
		{1, 5, 0, decode.CONNACK, "", nil},
		{2, 11, 0, decode.PUBLISH, "a/b", nil},
		{3, 11, 0, decode.PUBLISH, "a/b", nil},
		{4, 5, 1, decode.CONNACK, "", nil},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, r := range recs {
		w := want[i]
		if r.frame != w.frame || r.length != w.length || r.stream != w.stream || r.typ != w.typ || r.topic != w.topic {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
		if !slices.Equal(r.head, []string{"frame.time_epoch", "frame.time_relative", "ip.src", "ip.dst"}) {
			t.Errorf("record %d: head fields %v", i, r.head)
		}
	}
	if st := p.Stats(); st.Incomplete != 1 || st.Packets != 4 || st.Frames != 0 || st.Streams != 2 {
		t.Errorf("stats %+v", st)
	}
}
