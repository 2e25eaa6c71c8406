package tlswire

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"reflect"
	"testing"
)

// realStreams returns the two directions of a real TLS 1.2 and a real TLS
// 1.3 handshake, as fuzz seeds.
func realStreams(f *testing.F) [][]byte {
	p := newPKI(f, false)
	var streams [][]byte
	c12, s12 := tls12Configs(p)
	c13, s13 := tls13Configs(p)
	for _, cfgs := range [][2]*tls.Config{{c12, s12}, {c13, s13}} {
		res := goHandshake(f, cfgs[0], cfgs[1])
		streams = append(streams, res.wire.stream(false), res.wire.stream(true))
	}
	return streams
}

// plaintextMessages returns the handshake messages, headers included, of
// the plaintext records at the start of a stream.
func plaintextMessages(stream []byte) [][]byte {
	var h HandshakeReader
	var msgs [][]byte
	for b := stream; ; {
		r, rest, ok, err := NextRecord(b)
		if !ok || err != nil || r.Type != Handshake {
			return msgs
		}
		h.Add(r.Body)
		for {
			typ, msg, ok, err := h.Next()
			if !ok || err != nil {
				break
			}
			msgs = append(msgs, hsMsg(typ, msg))
		}
		b = rest
	}
}

func FuzzNextRecord(f *testing.F) {
	for _, s := range realStreams(f) {
		f.Add(s)
	}
	f.Add(rec(Handshake, 0x0301, hsMsg(ClientHello, fullClientHello())))
	f.Add(cat(rec(Handshake, 0x0303, hsMsg(ServerHello, serverHelloBody(seq(0, 32)))[:20]), rec(Alert, 0x0303, []byte{2, 40})))
	f.Add([]byte{0x10, 0x1c, 0, 4, 'M', 'Q', 'T', 'T', 5})
	f.Add([]byte{Handshake, 3, 3, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		looks := LooksLikeClientHello(b)
		if _, _, _, err := NextRecord(b); looks && err != nil {
			t.Fatalf("LooksLikeClientHello accepts what NextRecord rejects: %v", err)
		}
		var h HandshakeReader
		for rest := b; ; {
			r, next, ok, err := NextRecord(rest)
			if err != nil || !ok {
				if ok || len(next) != len(rest) {
					t.Fatalf("ok=%v err=%v but %d of %d bytes consumed", ok, err, len(rest)-len(next), len(rest))
				}
				if err == nil && len(rest) >= RecordHeaderLen && len(rest) >= RecordHeaderLen+int(binary.BigEndian.Uint16(rest[3:5])) {
					t.Fatal("a complete record reported incomplete")
				}
				break
			}
			n := int(binary.BigEndian.Uint16(rest[3:5]))
			if !bytes.Equal(r.Header, rest[:5]) || len(r.Body) != n || len(next) != len(rest)-5-n || r.Type != rest[0] ||
				r.Version != binary.BigEndian.Uint16(rest[1:3]) || n > MaxRecordLen {
				t.Fatalf("bad split: %+v", r)
			}
			_ = ContentTypeName(r.Type)
			switch r.Type {
			case Handshake:
				h.Add(r.Body)
				for {
					typ, msg, ok, err := h.Next()
					if err != nil || !ok {
						break
					}
					parseAll(t, typ, msg)
				}
			case Alert:
				if level, desc, err := ParseAlert(r.Body); err == nil {
					_ = AlertName(desc)
					if level != AlertWarning && level != AlertFatal {
						t.Fatalf("ParseAlert accepted level %d", level)
					}
				}
			}
			rest = next
		}
	})
}

func FuzzHandshake(f *testing.F) {
	for _, s := range realStreams(f) {
		for _, m := range plaintextMessages(s) {
			f.Add(m, uint16(len(m)/2))
			f.Add(m[4:], uint16(3))
		}
	}
	for _, m := range [][]byte{
		hsMsg(ClientHello, fullClientHello()),
		hsMsg(ServerHello, serverHelloBody([]byte(helloRetryRequestRandom), ext(43, u16b(0x0304)), ext(51, u16b(23)))),
		hsMsg(ServerHello, serverHelloBody(seq(0, 32), ext(23), ext(22), ext(16, vec16(vec8([]byte("mqtt")))), ext(41, u16b(0)))),
		hsMsg(Certificate, vec24(vec24(seq(0, 50)), vec24(seq(1, 20)))),
		hsMsg(Certificate, cat(vec8(), vec24(vec24(seq(0, 50)), vec16(ext(5, seq(0, 3)))))),
		cat(hsMsg(KeyUpdate, []byte{1}), hsMsg(ServerHelloDone, nil)),
		{2, 40},
	} {
		f.Add(m, uint16(5))
	}
	f.Fuzz(func(t *testing.T, b []byte, split uint16) {
		// Every parser on the raw bytes.
		parseAll(t, 0, b)
		if level, desc, err := ParseAlert(b); err == nil && (len(b) != 2 || level != b[0] || desc != b[1]) {
			t.Fatalf("ParseAlert(%x) = %d %d", b, level, desc)
		}
		// The reader, with the input cut in two.
		cut := min(int(split), len(b))
		var h HandshakeReader
		h.Add(b[:cut])
		h.Add(b[cut:])
		total := 0
		for {
			typ, msg, ok, err := h.Next()
			if err != nil || !ok {
				if ok || (err == nil && h.Buffered() != len(b)-total) {
					t.Fatalf("ok=%v err=%v buffered=%d, consumed %d of %d", ok, err, h.Buffered(), total, len(b))
				}
				break
			}
			if !bytes.Equal(b[total:total+4+len(msg)], hsMsg(typ, msg)) {
				t.Fatalf("message %v does not match its bytes", typ)
			}
			total += 4 + len(msg)
			parseAll(t, typ, msg)
		}
	})
}

// parseAll runs every message parser on msg and checks what succeeds.
// typ, when not 0, is msg's type; all parsers run whatever it is.
func parseAll(t *testing.T, typ HandshakeType, msg []byte) {
	t.Helper()
	_ = typ.String()
	buf := bytes.Clone(msg)
	if ch, err := ParseClientHello(buf); err == nil {
		if len(ch.Random) != 32 || len(ch.SessionID) > 32 || len(ch.CipherSuites) == 0 {
			t.Fatalf("ParseClientHello accepted %+v", ch)
		}
		clear(buf) // the result must not share the input
		if again, _ := ParseClientHello(msg); !reflect.DeepEqual(ch, again) {
			t.Fatal("ClientHello shares memory with its input")
		}
		copy(buf, msg)
	}
	if sh, err := ParseServerHello(buf); err == nil {
		if len(sh.Random) != 32 || len(sh.SessionID) > 32 {
			t.Fatalf("ParseServerHello accepted %+v", sh)
		}
		clear(buf)
		if again, _ := ParseServerHello(msg); !reflect.DeepEqual(sh, again) {
			t.Fatal("ServerHello shares memory with its input")
		}
		copy(buf, msg)
	}
	for _, tls13 := range []bool{false, true} {
		certs, err := ParseCertificate(buf, tls13)
		if err != nil {
			continue
		}
		n := 0
		for _, c := range certs {
			if len(c) == 0 {
				t.Fatal("ParseCertificate returned an empty certificate")
			}
			n += len(c)
		}
		if n > len(msg) {
			t.Fatalf("ParseCertificate returned %d bytes of certificates from %d", n, len(msg))
		}
		clear(buf)
		if again, _ := ParseCertificate(msg, tls13); !reflect.DeepEqual(certs, again) {
			t.Fatal("certificates share memory with their input")
		}
		copy(buf, msg)
	}
	if req, err := ParseKeyUpdate(buf); err == nil && (len(msg) != 1 || req != (msg[0] == 1)) {
		t.Fatalf("ParseKeyUpdate(%x) = %v", msg, req)
	}
}
