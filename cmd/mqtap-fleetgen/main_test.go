package main

import (
	"path/filepath"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/brokertest"
)

// TestFleet reads a small fleet back through the pipeline: every device's
// CONNECT and PUBLISH, on a connection of its own, none of them lost.
func TestFleet(t *testing.T) {
	const clients = 300
	path := filepath.Join(t.TempDir(), "fleet.pcap")
	frames, err := write(path, clients, 100)
	if err != nil {
		t.Fatal(err)
	}
	if frames != 2*clients {
		t.Fatalf("wrote %d frames, want %d", frames, 2*clients)
	}
	recs, st := brokertest.Records(t, path, session.Options{})
	if len(recs) != 2*clients || st.Streams != clients {
		t.Fatalf("read %d records on %d connections, want %d on %d", len(recs), st.Streams, 2*clients, clients)
	}
	seen := map[int][]decode.Type{}
	for _, r := range recs {
		if r.Packet.Malformed() != "" || len(r.Findings) > 0 {
			t.Errorf("frame %d: %s %v", r.Frame, r.Packet.Malformed(), r.Findings)
		}
		seen[r.Stream] = append(seen[r.Stream], r.Packet.Type)
	}
	for s, types := range seen {
		if len(types) != 2 || types[0] != decode.CONNECT || types[1] != decode.PUBLISH {
			t.Errorf("connection %d carried %v, want CONNECT then PUBLISH", s, types)
		}
	}
}
