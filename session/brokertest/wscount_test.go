package brokertest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// Packets from pcaps/samples (mqtt31, mqtt311 and mqtt5.pcapng, clients of
// mosquitto_sub 2.0.11 with a user name and password; the MQTT 5 one with
// properties), a PUBLISH with a two-byte Remaining Length, PINGREQ and
// DISCONNECT.
var (
	connect31  = unhex("102a00064d514973647003c20005000961626f6e6e652d33310005616c696365000a776f6e6465726c616e64")
	connect311 = unhex("102900044d51545404c20005000a61626f6e6e652d3331310005616c696365000a776f6e6465726c616e64")
	connect5   = unhex("104b00044d51545405c200052326000572c3b46c65000761626f6e6ec3a921001427000010002200041901110000012c000861626f6e6e652d350005616c696365000a776f6e6465726c616e64")
	publish    = append([]byte{0x30, 0x83, 0x01, 0, 1, 't'}, bytes.Repeat([]byte{'x'}, 128)...)
	pingreq    = []byte{0xC0, 0}
	disconnect = []byte{0xE0, 0}
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestPacketLen(t *testing.T) {
	for _, c := range []struct {
		b     []byte
		total int
		typ   byte
		err   error
	}{
		{nil, 0, 0, ErrShortHeader},
		{[]byte{0x30}, 0, 0, ErrShortHeader},
		{[]byte{0x30, 0x80}, 0, 0, ErrShortHeader},
		{pingreq, 2, 12, nil},
		{publish, 3 + 128 + 3, 3, nil},
		{[]byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 5 + 268435455, 3, nil},
		{[]byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 0, 0, errors.New("")},
	} {
		total, typ, err := PacketLen(c.b)
		if total != c.total || typ != c.typ || (err == nil) != (c.err == nil) || errors.Is(c.err, ErrShortHeader) != errors.Is(err, ErrShortHeader) {
			t.Errorf("PacketLen(% x) = %d, %d, %v; want %d, %d, %v", c.b, total, typ, err, c.total, c.typ, c.err)
		}
	}
}

func TestConnectClientID(t *testing.T) {
	for _, c := range []struct {
		pkt []byte
		id  string
	}{{connect311, "abonne-311"}, {connect5, "abonne-5"}, {connect31, "abonne-31"}} {
		id, ok := connectClientID(c.pkt[2:])
		if !ok || id != c.id {
			t.Errorf("% x: %q %v, want %q", c.pkt, id, ok, c.id)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {0, 4, 'M', 'Q'}, connect5[2:14], connect5[2:40], connect311[2:20]} {
		if id, ok := connectClientID(bad); ok {
			t.Errorf("% x: client ID %q from a truncated CONNECT", bad, id)
		}
	}
}

// TestStreamPieces feeds a real packet sequence in pieces of every size
// and checks the counts and the client ID do not depend on the cuts.
func TestStreamPieces(t *testing.T) {
	data := bytes.Join([][]byte{connect5, publish, pingreq, publish, disconnect}, nil)
	for size := 1; size <= len(data); size++ {
		var s stream
		for b := data; len(b) > 0; {
			n := min(size, len(b))
			s.write(b[:n])
			b = b[n:]
		}
		if s.err != nil || s.counts.String() != "CONNECT 1, PUBLISH 2, PINGREQ 1, DISCONNECT 1" || s.clientID != "abonne-5" {
			t.Fatalf("pieces of %d: %v, %q, %v", size, s.counts, s.clientID, s.err)
		}
	}
	var s stream
	s.write([]byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x30, 0})
	if s.err == nil || s.counts.Total() != 0 {
		t.Errorf("a 5-byte Remaining Length: %v, %v", s.counts, s.err)
	}
}

// FuzzStream checks that stream, fed in two pieces cut anywhere, counts
// what PacketLen finds in the whole, and never panics.
func FuzzStream(f *testing.F) {
	f.Add(bytes.Join([][]byte{connect311, pingreq, disconnect}, nil), 3)
	f.Add(bytes.Join([][]byte{connect5, publish}, nil), 20)
	f.Add(bytes.Join([][]byte{connect31, publish, pingreq}, nil), 1)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if cut < 0 || cut > len(data) {
			cut = len(data) / 2
		}
		var s stream
		s.write(data[:cut])
		s.write(data[cut:])
		var want PacketCounts
		var b []byte
		for b = data; len(b) > 0; {
			total, typ, err := PacketLen(b)
			if err != nil || total > len(b) {
				break
			}
			want[typ]++
			if typ == 1 {
				connectClientID(b[2:total])
			}
			b = b[total:]
		}
		if s.counts != want {
			t.Fatalf("stream counted %v, whole %v", s.counts, want)
		}
	})
}

// BenchmarkStream measures following a stream of small packets (no
// allocation per packet).
func BenchmarkStream(b *testing.B) {
	data := bytes.Repeat(bytes.Join([][]byte{publish, pingreq, publish[:40]}, nil), 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var s stream
	for b.Loop() {
		s.write(data)
	}
}
