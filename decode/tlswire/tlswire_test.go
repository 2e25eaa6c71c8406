package tlswire

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestNextRecord(t *testing.T) {
	r1 := rec(Handshake, 0x0301, []byte{1, 2, 3})
	r2 := rec(ApplicationData, 0x0303, seq(0, 300))
	r3 := rec(ChangeCipherSpec, 0x0303, []byte{1})
	stream := cat(r1, r2, r3)

	var got []Record
	b := stream
	for len(b) > 0 {
		r, rest, ok, err := NextRecord(b)
		if err != nil || !ok {
			t.Fatalf("NextRecord at %d: ok=%v err=%v", len(stream)-len(b), ok, err)
		}
		got = append(got, r)
		b = rest
	}
	want := []struct {
		typ     byte
		version uint16
		raw     []byte
	}{{Handshake, 0x0301, r1}, {ApplicationData, 0x0303, r2}, {ChangeCipherSpec, 0x0303, r3}}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.typ || g.Version != w.version || !bytes.Equal(g.Header, w.raw[:5]) || !bytes.Equal(g.Body, w.raw[5:]) {
			t.Errorf("record %d = %+v, want type %d version %#x raw %x", i, g, w.typ, w.version, w.raw)
		}
		if cap(g.Header) != 5 || cap(g.Body) != len(g.Body) {
			t.Errorf("record %d: Header/Body capacity %d/%d not capped", i, cap(g.Header), cap(g.Body))
		}
	}

	// Every proper prefix of a record is incomplete, with no error.
	for n := 0; n < len(r2); n++ {
		_, rest, ok, err := NextRecord(r2[:n])
		if ok || err != nil || len(rest) != n {
			t.Fatalf("prefix %d: ok=%v err=%v rest=%d", n, ok, err, len(rest))
		}
	}

	// All record versions from SSL 3.0 to TLS 1.3 are accepted, and an
	// empty application data record too.
	for _, v := range []uint16{0x0300, 0x0301, 0x0302, 0x0303, 0x0304} {
		if _, _, ok, err := NextRecord(rec(ApplicationData, v, nil)); !ok || err != nil {
			t.Errorf("version %#x: ok=%v err=%v", v, ok, err)
		}
	}
	// Heartbeat and the largest record.
	if r, _, ok, err := NextRecord(rec(Heartbeat, 0x0303, make([]byte, MaxRecordLen))); !ok || err != nil || len(r.Body) != MaxRecordLen {
		t.Errorf("largest heartbeat record: ok=%v err=%v", ok, err)
	}
}

func TestNextRecordErrors(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0x10}, "unknown content type 16"}, // MQTT CONNECT
		{[]byte("GET / HTTP/1.1\r\n"), "unknown content type 71"},
		{[]byte{0x80, 0x2e, 0x01}, "unknown content type 128"}, // SSL 2.0 hello
		{[]byte{Handshake, 2}, "version major 2"},
		{[]byte{ApplicationData, 4, 0}, "version major 4"},
		{[]byte{Alert, 3, 3, 0x48, 0x01}, "length 18433 exceeds the maximum 18432"},
		{[]byte{Alert, 3, 3, 0xff, 0xff, 0}, "length 65535 exceeds"},
	} {
		_, rest, ok, err := NextRecord(tc.in)
		if err == nil || ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NextRecord(%x): ok=%v err=%v, want error containing %q", tc.in, ok, err, tc.want)
		}
		if len(rest) != len(tc.in) {
			t.Errorf("NextRecord(%x): rest %d bytes, want the input back", tc.in, len(rest))
		}
	}
}

func TestLooksLikeClientHello(t *testing.T) {
	ch := rec(Handshake, 0x0301, hsMsg(ClientHello, clientHelloBody()))
	for n := 1; n <= len(ch); n++ {
		if !LooksLikeClientHello(ch[:n]) {
			t.Fatalf("prefix of %d bytes of a ClientHello record rejected", n)
		}
	}
	for _, b := range [][]byte{
		nil,
		{0x10, 0x1c, 0, 4, 'M', 'Q', 'T', 'T'}, // MQTT CONNECT
		{Handshake, 2},                         // SSL 2-ish
		{Handshake, 3, 3, 0, 0},                // empty record
		{Handshake, 3, 3, 0x48, 1},             // too long
		{Handshake, 3, 1, 0, 50, byte(ServerHello)},                         // not a ClientHello
		{ApplicationData, 3, 3, 0, 50, 1},                                   // not a handshake
		{Handshake, 3, 1, 0, 50, byte(ClientHello), 0, 0, 46, 0x16, 3, 3},   // legacy_version major 0x16
		{Handshake, 3, 1, 0, 50, byte(ClientHello), 0, 0, 46, 2, 0, 0, 0x0}, // SSL 2 legacy_version
	} {
		if LooksLikeClientHello(b) {
			t.Errorf("LooksLikeClientHello(%x) = true", b)
		}
	}
}

func TestHandshakeReaderSplitAndCoalesced(t *testing.T) {
	ch := hsMsg(ClientHello, fullClientHello())
	sh := hsMsg(ServerHello, serverHelloBody(seq(7, 32)))
	cert := hsMsg(Certificate, vec24(vec24(seq(0, 5000)), vec24(seq(9, 700))))
	done := hsMsg(ServerHelloDone, nil)
	ku := hsMsg(KeyUpdate, []byte{1})
	stream := cat(ch, sh, cert, done, ku)
	want := []struct {
		typ  HandshakeType
		body []byte
	}{
		{ClientHello, ch[4:]}, {ServerHello, sh[4:]}, {Certificate, cert[4:]},
		{ServerHelloDone, nil}, {KeyUpdate, []byte{1}},
	}

	// Fragment sizes: byte by byte (every message spans records), small
	// ones, one record per message boundary crossing, everything in one
	// record (several messages per record).
	for _, size := range []int{1, 3, 4, 5, 17, 1000, len(stream)} {
		var h HandshakeReader
		var got []HandshakeType
		var bodies [][]byte
		buf := make([]byte, size) // reused, as a caller's record buffer
		for off := 0; off < len(stream); off += size {
			n := copy(buf, stream[off:min(off+size, len(stream))])
			h.Add(buf[:n])
			clear(buf)
			for {
				typ, msg, ok, err := h.Next()
				if err != nil {
					t.Fatalf("size %d: Next: %v", size, err)
				}
				if !ok {
					break
				}
				got = append(got, typ)
				bodies = append(bodies, msg)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("size %d: got messages %v, want %d", size, got, len(want))
		}
		for i, w := range want {
			if got[i] != w.typ || !bytes.Equal(bodies[i], w.body) {
				t.Errorf("size %d: message %d = %v (%d bytes), want %v (%d bytes)", size, i, got[i], len(bodies[i]), w.typ, len(w.body))
			}
		}
		if h.Buffered() != 0 {
			t.Errorf("size %d: %d bytes left buffered", size, h.Buffered())
		}
	}

	// The same through real records split with NextRecord, and a partial
	// message stays buffered.
	var h HandshakeReader
	wire := cat(rec(Handshake, 0x0303, stream[:10]), rec(Handshake, 0x0303, stream[10:len(ch)+6]))
	for b := wire; len(b) > 0; {
		r, rest, ok, err := NextRecord(b)
		if !ok || err != nil {
			t.Fatalf("NextRecord: ok=%v err=%v", ok, err)
		}
		h.Add(r.Body)
		b = rest
	}
	typ, msg, ok, err := h.Next()
	if !ok || err != nil || typ != ClientHello || !bytes.Equal(msg, ch[4:]) {
		t.Fatalf("Next = %v %d bytes ok=%v err=%v", typ, len(msg), ok, err)
	}
	if _, _, ok, err := h.Next(); ok || err != nil || h.Buffered() != 6 {
		t.Fatalf("partial ServerHello: ok=%v err=%v buffered=%d", ok, err, h.Buffered())
	}
	// msg is the caller's: more input does not change it.
	saved := slices.Clone(msg)
	h.Add(stream[len(ch)+6:])
	for {
		if _, _, ok, _ := h.Next(); !ok {
			break
		}
	}
	if !bytes.Equal(msg, saved) {
		t.Fatal("a returned message changed after more input")
	}
}

func TestHandshakeReaderErrors(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
	}{
		{[]byte{99}, "handshake: unassigned message type 99"},
		{[]byte{7, 0, 0, 1, 0}, "handshake: unassigned message type 7"},
		{[]byte{byte(ServerHelloDone), 0, 0, 1, 0}, "handshake: server_hello_done message has length 1, want 0"},
		{[]byte{byte(KeyUpdate), 0, 0, 2, 0, 0}, "handshake: key_update message has length 2, want 1"},
	}
	for _, tc := range cases {
		var h HandshakeReader
		h.Add(tc.in)
		_, _, ok, err := h.Next()
		if ok || err == nil || err.Error() != tc.want {
			t.Errorf("Next after %x: ok=%v err=%v, want %q", tc.in, ok, err, tc.want)
		}
		// The error sticks.
		h.Add(hsMsg(Finished, seq(0, 12)))
		if _, _, ok, err2 := h.Next(); ok || err2 != err {
			t.Errorf("after an error: ok=%v err=%v, want the same error", ok, err2)
		}
	}
}
