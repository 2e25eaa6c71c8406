package decode

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The fuzzers of the WebSocket decoders. Their corpora in testdata/fuzz
// hold the recorded real traffic of TestWSRealTraffic (written by it when
// MQTAP_WRITE_SEEDS=1); hand-made seeds are added here.

// FuzzWSFrame parses the frames of data back to back and checks each
// header's invariants, its re-encoding, UnmaskWS in two pieces against
// one, WSFrameProblem and ParseWSClose.
func FuzzWSFrame(f *testing.F) {
	f.Add([]byte{0x82, 0x7e, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'}, uint64(3), false, uint8(4), true)
	f.Add([]byte{0x88, 0x82, 1, 2, 3, 4, 0x02, 0xea}, uint64(1), true, uint8(0), false)
	f.Add(binary.BigEndian.AppendUint64([]byte{0x82, 0xff}, 1<<63), uint64(0), true, uint8(0), true)
	f.Add(binary.BigEndian.AppendUint64([]byte{0xc1, 0xff}, 1<<63-1), uint64(0), true, uint8(4), true)
	f.Fuzz(func(t *testing.T, data []byte, pos uint64, fromClient bool, rsv uint8, first bool) {
		for off := 0; off < len(data); {
			b := data[off:]
			fr, err := ParseWSFrame(b)
			switch {
			case err == ErrWSShort:
				if len(b) >= 14 {
					t.Fatalf("ErrWSShort with %d bytes", len(b))
				}
				return
			case err == ErrWSLength:
				if fr.PayloadLen>>63 == 0 || fr.HeaderLen != 10 || b[1]&0x7f != 127 {
					t.Fatalf("ErrWSLength for % x: %+v", b[:10], fr)
				}
				return
			case err != nil:
				t.Fatalf("ParseWSFrame: %v", err)
			}
			checkWSFrame(t, b, fr, fromClient, rsv, first)
			total, ok := fr.Total()
			end := len(b)
			if ok && total < end {
				end = total
			}
			payload := bytes.Clone(b[fr.HeaderLen:end])
			checkUnmask(t, payload, fr.MaskKey, pos)
			if fr.Opcode == WSClose {
				checkClose(t, payload)
			}
			if !ok || total > len(b) {
				return
			}
			if !fr.Opcode.Control() {
				first = fr.Fin
			}
			off += total
		}
	})
}

// checkWSFrame checks a parsed header against its bytes.
func checkWSFrame(t *testing.T, b []byte, fr WSFrame, fromClient bool, rsv uint8, first bool) {
	t.Helper()
	if fr.HeaderLen < 2 || fr.HeaderLen > 14 || fr.HeaderLen > len(b) || fr.PayloadLen>>63 != 0 {
		t.Fatalf("% x: %+v", b[:min(len(b), 14)], fr)
	}
	for k := range fr.HeaderLen {
		if _, err := ParseWSFrame(b[:k]); err != ErrWSShort {
			t.Fatalf("% x: the first %d bytes give %v", b[:fr.HeaderLen], k, err)
		}
	}
	p := WSFrameProblem(fr, fromClient, rsv, first)
	if p != "" && !strings.HasPrefix(p, "RFC ") {
		t.Fatalf("problem %q", p)
	}
	h := AppendWSFrame(nil, fr)
	if minimal := bytes.Equal(h, b[:fr.HeaderLen]); !minimal && (len(h) >= fr.HeaderLen || p == "") {
		t.Fatalf("% x re-encodes as % x, problem %q", b[:fr.HeaderLen], h, p)
	}
}

// checkClose checks ParseWSClose's code and reason against the payload.
func checkClose(t *testing.T, payload []byte) {
	t.Helper()
	code, reason, p := ParseWSClose(payload)
	switch {
	case len(payload) < 2 && (code != 0 || reason != nil || (len(payload) == 1) != (p != "")):
		t.Fatalf("ParseWSClose(% x) = %d %q %q", payload, code, reason, p)
	case len(payload) >= 2 && (code != binary.BigEndian.Uint16(payload) || !bytes.Equal(reason, payload[2:])):
		t.Fatalf("ParseWSClose(% x) = %d %q", payload, code, reason)
	case p != "" && !strings.HasPrefix(p, "RFC 6455 "):
		t.Fatalf("close problem %q", p)
	}
}

// checkUnmask checks that unmasking in two pieces split at pos gives what
// unmasking at once gives, and that unmasking twice gives the input back.
func checkUnmask(t *testing.T, payload []byte, key [4]byte, pos uint64) {
	t.Helper()
	whole := make([]byte, len(payload))
	UnmaskWS(whole, payload, key, 0)
	split := bytes.Clone(payload)
	if len(split) > 0 {
		cut := int(pos % uint64(len(split)))
		UnmaskWS(split[:cut], split[:cut], key, 0)
		UnmaskWS(split[cut:], split[cut:], key, uint64(cut))
	}
	if !bytes.Equal(whole, split) {
		t.Fatalf("unmasking in two pieces differs")
	}
	UnmaskWS(whole, whole, key, 0)
	if !bytes.Equal(whole, payload) {
		t.Fatalf("unmasking twice does not give the payload back")
	}
}

// FuzzHTTPHead checks ParseHTTPHead's invariants, and ParseWSUpgrade and
// the permessage-deflate parameters on whatever parses.
func FuzzHTTPHead(f *testing.F) {
	f.Add([]byte(wsRequest))
	f.Add([]byte(wsResponse("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9")))
	f.Add([]byte("GET  /x\tHTTP/1.0\nA :b\n c\n\n"))
	f.Add([]byte("permessage-deflate; server_max_window_bits=\"12\", x; y=z"))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := HTTPHead{Status: 101, Headers: []HTTPHeader{{"Sec-WebSocket-Extensions", string(data)}}}
		if d, err := acceptedDeflate(string(data), string(data)); err == nil && d != nil {
			if d.ServerMaxWindowBits < 8 || d.ServerMaxWindowBits > 15 || d.ClientMaxWindowBits < 8 || d.ClientMaxWindowBits > 15 {
				t.Fatalf("%q: %+v", data, *d)
			}
		}
		h, err := ParseHTTPHead(data)
		if err != nil {
			if !errors.Is(err, ErrHTTPShort) && !errors.Is(err, ErrNotHTTP) && !errors.Is(err, ErrHTTPTooLong) && !errors.Is(err, ErrHTTPMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkHead(t, data, h)
		if h.Request {
			ParseWSUpgrade(&h, &resp)
			ParseWSUpgrade(&h, nil)
		}
	})
}

// checkHead checks a head ParseHTTPHead returned for data.
func checkHead(t *testing.T, data []byte, h HTTPHead) {
	t.Helper()
	head := data[:h.Len]
	if h.Len > MaxHTTPHead || !(bytes.HasSuffix(head, []byte("\n\n")) || bytes.HasSuffix(head, []byte("\n\r\n"))) {
		t.Fatalf("Len %d of %q", h.Len, data)
	}
	if again, err := ParseHTTPHead(head); err != nil || !reflect.DeepEqual(again, h) {
		t.Fatalf("the head alone parses as %+v, %v", again, err)
	}
	if _, err := ParseHTTPHead(head[:h.Len-1]); !errors.Is(err, ErrHTTPShort) {
		t.Fatalf("the head but its last byte: %v", err)
	}
	if h.Request != LooksLikeHTTPRequest(data) || h.Request == (h.Status != 0) {
		t.Fatalf("request %v, LooksLikeHTTPRequest %v, status %d", h.Request, LooksLikeHTTPRequest(data), h.Status)
	}
	for _, hd := range h.Headers {
		if !isToken(hd.Name) || strings.ContainsAny(hd.Value, "\r\n") || hd.Value != trimOWS(hd.Value) {
			t.Fatalf("header %q: %q", hd.Name, hd.Value)
		}
	}
}

// FuzzInflate inflates the messages of data (each after a 2-byte length)
// on one Inflater: never more than the cap, and without context takeover
// the same output as a fresh compress/flate reader.
func FuzzInflate(f *testing.F) {
	comp := deflateMessages(f, [][]byte{[]byte(`{"t":20.5}`), []byte(`{"t":20.6}`), {}, bytes.Repeat([]byte("ab"), 600)}, true)
	var seed []byte
	for _, c := range comp {
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(c)))
		seed = append(seed, c...)
	}
	f.Add(seed, uint8(15), true)
	f.Add(seed, uint8(9), false)
	f.Add(binary.BigEndian.AppendUint16(nil, 7)[:2], uint8(8), true)
	bomb := bombStream(1 << 20)
	f.Add(append(binary.BigEndian.AppendUint16(nil, uint16(len(bomb))), bomb...), uint8(15), false)
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte, bits uint8, takeover bool) {
		in := NewInflater(int(bits), takeover, limit)
		var dst []byte
		for len(data) >= 2 {
			n := min(int(binary.BigEndian.Uint16(data)), len(data)-2)
			msg := data[2 : 2+n]
			data = data[2+n:]
			out, err := in.Message(msg, dst[:0])
			dst = out
			if len(out) > limit || errors.Is(err, ErrTooLarge) && len(out) != limit {
				t.Fatalf("%d bytes out with a cap of %d: %v", len(out), limit, err)
			}
			if takeover {
				continue
			}
			ref, rerr := io.ReadAll(io.LimitReader(flate.NewReader(io.MultiReader(bytes.NewReader(msg), bytes.NewReader(deflateTail[:]))), limit+1))
			refOK := (rerr == nil || rerr == io.ErrUnexpectedEOF) && len(ref) <= limit
			if refOK != (err == nil) || err == nil && !bytes.Equal(out, ref) {
				t.Fatalf("% x: %d bytes, %v; compress/flate %d bytes, %v", msg, len(out), err, len(ref), rerr)
			}
		}
	})
}

// saveSeeds writes a recording into the fuzzers' corpora when
// MQTAP_WRITE_SEEDS=1: for each direction its first 4 KiB of frames, its
// first KiB (the head and what follows it), and its compressed messages of
// up to 2 KiB (8 KiB of them at most) with the direction's deflate
// parameters.
func saveSeeds(t *testing.T, name string, c *wsConv) {
	t.Helper()
	if os.Getenv("MQTAP_WRITE_SEEDS") != "1" {
		return
	}
	for _, d := range []struct {
		dir        string
		fromClient bool
		frames     []byte
		head       []byte
		msgs       []wsGot
	}{
		{"client", true, c.clientB, c.reqB, c.client.msgs},
		{"server", false, c.serverB, c.respB, c.server.msgs},
	} {
		writeSeed(t, "FuzzWSFrame", name+"-"+d.dir, d.frames[:min(len(d.frames), 4096)], uint64(len(name)), d.fromClient, uint8(4), true)
		writeSeed(t, "FuzzHTTPHead", name+"-"+d.dir, d.head)
		if c.up.Deflate == nil {
			continue
		}
		var seed []byte
		for _, m := range d.msgs {
			if m.compressed && len(m.raw) <= 2048 && len(seed)+len(m.raw) <= 8192 {
				seed = binary.BigEndian.AppendUint16(seed, uint16(len(m.raw)))
				seed = append(seed, m.raw...)
			}
		}
		bits, takeover := c.up.Deflate.ServerMaxWindowBits, !c.up.Deflate.ServerNoContextTakeover
		if d.fromClient {
			bits, takeover = c.up.Deflate.ClientMaxWindowBits, !c.up.Deflate.ClientNoContextTakeover
		}
		writeSeed(t, "FuzzInflate", name+"-"+d.dir, seed, uint8(bits), takeover)
	}
}

// writeSeed writes one corpus file for fuzzer fn in Go's corpus format.
func writeSeed(t *testing.T, fn, name string, args ...any) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&sb, "[]byte(%q)\n", v)
		default:
			fmt.Fprintf(&sb, "%T(%v)\n", v, v)
		}
	}
	dir := filepath.Join("testdata", "fuzz", fn)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
