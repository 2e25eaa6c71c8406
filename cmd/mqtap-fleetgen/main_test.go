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

// TestShapes reads each adversarial shape back: every MQTT packet written
// is a record, and the packets over the per-packet limit are reported.
func TestShapes(t *testing.T) {
	dhParams = "../../keys/testdata/lab/dhparam4096.pem"
	// tls: one connection past the 100,000 that Stats lists
	for name, n := range map[string]int{"qos-ids": 3000, "aliases": 500, "huge": 2, "tls": 100001, "kex": 20} {
		path := filepath.Join(t.TempDir(), name+".pcap")
		frames, packets, err := writeShape(path, name, n, 10000, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs, st := brokertest.Records(t, path, session.Options{})
		if len(recs) != packets || frames == 0 {
			t.Errorf("%s: %d records of %d packets written (%d frames)", name, len(recs), packets, frames)
		}
		malformed := 0
		for _, r := range recs {
			if r.Packet.Malformed() != "" {
				malformed++
			}
		}
		wantLimits := 0
		switch name {
		case "huge":
			wantLimits = n
		case "tls":
			wantLimits = 1
		}
		if malformed > 0 || st.Limits != wantLimits {
			t.Errorf("%s: %d malformed, %d limits reached (want %d)", name, malformed, st.Limits, wantLimits)
		}
	}
}
