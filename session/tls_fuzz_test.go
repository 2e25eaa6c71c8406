package session

import (
	"io"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
)

// tlsStreams returns the bytes each side of the first TLS connection of a
// sample capture sent, in order (loopback captures have no reordering).
func tlsStreams(tb testing.TB, path string) (client, server []byte) {
	tb.Helper()
	r, err := pcaps.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var clientPort layers.TCPPort
	for {
		data, _, err := r.Next()
		if err == io.EOF {
			return client, server
		}
		if err != nil {
			tb.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || len(tcp.Payload) == 0 {
			continue
		}
		if clientPort == 0 && tcp.DstPort == 8883 {
			clientPort = tcp.SrcPort
		}
		switch {
		case tcp.SrcPort == clientPort && tcp.DstPort == 8883:
			client = append(client, tcp.Payload...)
		case tcp.DstPort == clientPort && tcp.SrcPort == 8883:
			server = append(server, tcp.Payload...)
		}
	}
}

// helloLen is the length of the first TLS record of b (the ClientHello),
// 0 when b does not start with a whole record.
func helloLen(b []byte) int {
	if len(b) < 5 {
		return 0
	}
	n := 5 + (int(b[3])<<8 | int(b[4]))
	if n > len(b) {
		return 0
	}
	return n
}

// FuzzTLS feeds mutated TLS connections (seeded with real TLS 1.2 and 1.3
// lab connections whose key log is loaded) through the pipeline on port
// 8883: handshake parsing, the certificate audit and decryption must never
// panic, and every packet counted must be delivered.
func FuzzTLS(f *testing.F) {
	for _, s := range []string{"tls12-lab", "tls13-lab", "tls12-cbc"} {
		c, srv := tlsStreams(f, "../pcaps/samples/"+s+".pcapng")
		if len(c) == 0 || len(srv) == 0 {
			f.Fatalf("%s: no TLS connection on 8883", s)
		}
		f.Add(c, srv, uint8(255), s)
	}
	stores := map[string]*keys.Store{}
	for _, s := range []string{"tls12-lab", "tls13-lab", "tls12-cbc"} {
		st, err := keys.Load("../pcaps/samples/keys/" + s + "/keyring.toml")
		if err != nil {
			f.Fatal(err)
		}
		stores[s] = st
	}
	f.Fuzz(func(t *testing.T, client, server []byte, cut uint8, sample string) {
		c := &conversation{t: t, clientPort: 41000, serverPort: 8883, isn: [2]uint32{1, 1}}
		segs := handshake()
		step := int(cut)*8 + 1
		add := func(fromClient bool, b []byte) {
			for off := 0; off < len(b); off += step {
				end := min(off+step, len(b))
				segs = append(segs, segment{fromClient, "A", 1 + uint32(off), b[off:end]})
			}
		}
		// The client's ClientHello, the server's side, then the rest of
		// the client's: its protected records come after the ServerHello.
		hello := helloLen(client)
		add(true, client[:hello])
		add(false, server)
		add(true, client[hello:])
		got, st := c.run(Options{Keys: stores[sample]}, segs...)
		if st.Packets != len(got) {
			t.Fatalf("%d packets counted, %d delivered", st.Packets, len(got))
		}
	})
}

// TestTLSSeedsDecrypt: the fuzzer's seeds really reach MQTT inside TLS
// (otherwise it would only exercise the handshake).
func TestTLSSeedsDecrypt(t *testing.T) {
	for _, s := range []string{"tls12-lab", "tls13-lab"} {
		client, server := tlsStreams(t, "../pcaps/samples/"+s+".pcapng")
		store, err := keys.Load("../pcaps/samples/keys/" + s + "/keyring.toml")
		if err != nil {
			t.Fatal(err)
		}
		c := &conversation{t: t, clientPort: 41000, serverPort: 8883, isn: [2]uint32{1, 1}}
		hello := helloLen(client)
		segs := append(handshake(), segment{true, "A", 1, client[:hello]}, segment{false, "A", 1, server},
			segment{true, "A", 1 + uint32(hello), client[hello:]})
		got, _ := c.run(Options{Keys: store}, segs...)
		types := map[string]int{}
		for _, r := range got {
			types[r.Type]++
		}
		if types["CONNECT"] != 1 || types["CONNACK"] != 1 || types["PUBLISH"] < 2 {
			t.Errorf("%s: MQTT packets decrypted from the seed: %v", s, types)
		}
	}
}
