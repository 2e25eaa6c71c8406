package decode

import (
	"bytes"
	"encoding/binary"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestParseWSFrame(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	ext64 := func(b0, b1 byte, n uint64) []byte {
		return binary.BigEndian.AppendUint64([]byte{b0, b1}, n)
	}
	tests := []struct {
		name string
		in   []byte
		want WSFrame
		err  error
	}{
		{"empty", nil, WSFrame{}, ErrWSShort},
		{"one byte", []byte{0x82}, WSFrame{}, ErrWSShort},
		{"empty binary", []byte{0x82, 0x00}, WSFrame{Fin: true, Opcode: WSBinary, HeaderLen: 2}, nil},
		{"125", []byte{0x82, 0x7d}, WSFrame{Fin: true, Opcode: WSBinary, PayloadLen: 125, HeaderLen: 2}, nil},
		{"126 short", []byte{0x82, 0x7e, 0x00}, WSFrame{}, ErrWSShort},
		{"126", []byte{0x82, 0x7e, 0x00, 0x7e}, WSFrame{Fin: true, Opcode: WSBinary, PayloadLen: 126, HeaderLen: 4}, nil},
		{"65535", []byte{0x02, 0x7e, 0xff, 0xff}, WSFrame{Opcode: WSBinary, PayloadLen: 65535, HeaderLen: 4}, nil},
		{"64-bit short", ext64(0x82, 0x7f, 65536)[:9], WSFrame{}, ErrWSShort},
		{"65536", ext64(0x82, 0x7f, 65536), WSFrame{Fin: true, Opcode: WSBinary, PayloadLen: 65536, HeaderLen: 10}, nil},
		{"2^63-1", ext64(0x80, 0x7f, 1<<63-1), WSFrame{Fin: true, PayloadLen: 1<<63 - 1, HeaderLen: 10}, nil},
		{"top bit", ext64(0x82, 0x7f, 1<<63), WSFrame{Fin: true, Opcode: WSBinary, PayloadLen: 1 << 63, HeaderLen: 10}, ErrWSLength},
		{"top bit masked", ext64(0x82, 0xff, 1<<64-1), WSFrame{Fin: true, Opcode: WSBinary, Masked: true, PayloadLen: 1<<64 - 1, HeaderLen: 10}, ErrWSLength},
		{"masked text", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f}, WSFrame{Fin: true, Opcode: WSText, Masked: true, MaskKey: key, PayloadLen: 5, HeaderLen: 6}, nil},
		{"mask short", []byte{0x81, 0x85, 0x37, 0xfa, 0x21}, WSFrame{}, ErrWSShort},
		{"masked 16-bit", []byte{0x82, 0xfe, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d}, WSFrame{Fin: true, Opcode: WSBinary, Masked: true, MaskKey: key, PayloadLen: 256, HeaderLen: 8}, nil},
		{"masked 64-bit", append(ext64(0x82, 0xff, 1<<32), key[:]...), WSFrame{Fin: true, Opcode: WSBinary, Masked: true, MaskKey: key, PayloadLen: 1 << 32, HeaderLen: 14}, nil},
		{"rsv and reserved opcode", []byte{0x7f, 0x00}, WSFrame{RSV: 7, Opcode: 15, HeaderLen: 2}, nil},
		{"non-minimal 16-bit", []byte{0x82, 0x7e, 0x00, 0x05}, WSFrame{Fin: true, Opcode: WSBinary, PayloadLen: 5, HeaderLen: 4}, nil},
	}
	for _, tt := range tests {
		got, err := ParseWSFrame(tt.in)
		if err != tt.err {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err != ErrWSShort && got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestAppendWSFrameRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 1, 125, 126, 127, 65535, 65536, 1 << 32, 1<<63 - 1} {
		for _, masked := range []bool{false, true} {
			f := WSFrame{Fin: n%2 == 0, RSV: 4, Opcode: WSBinary, Masked: masked, PayloadLen: n}
			if masked {
				f.MaskKey = [4]byte{1, 2, 3, 4}
			}
			b := AppendWSFrame(nil, f)
			got, err := ParseWSFrame(b)
			f.HeaderLen = len(b)
			if err != nil || got != f {
				t.Errorf("length %d masked %v: % x parses as %+v, %v", n, masked, b, got, err)
			}
			if p := WSFrameProblem(got, masked, 4, true); p != "" {
				t.Errorf("length %d masked %v: %s", n, masked, p)
			}
		}
	}
	if total, ok := (WSFrame{PayloadLen: 1<<63 - 1, HeaderLen: 10}).Total(); ok {
		t.Errorf("Total of a 2^63-1 payload = %d, true", total)
	}
	if total, ok := (WSFrame{PayloadLen: 65536, HeaderLen: 14}).Total(); !ok || total != 65550 {
		t.Errorf("Total = %d, %v", total, ok)
	}
}

func TestUnmaskWS(t *testing.T) {
	key := [4]byte{0xa1, 0x02, 0xf3, 0x44}
	src := make([]byte, 300)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for n := 0; n <= 100; n++ {
		for pos := uint64(0); pos < 8; pos++ {
			got := make([]byte, n)
			UnmaskWS(got, src[:n], key, pos)
			for i := range n {
				if want := src[i] ^ key[(pos+uint64(i))%4]; got[i] != want {
					t.Fatalf("n=%d pos=%d: byte %d is %#x, want %#x", n, pos, i, got[i], want)
				}
			}
			UnmaskWS(got, got, key, pos) // in place, back to src
			if !bytes.Equal(got, src[:n]) {
				t.Fatalf("n=%d pos=%d: unmasking twice does not give the input back", n, pos)
			}
		}
	}
	short := make([]byte, 3)
	UnmaskWS(short, src, key, 0)
	if short[2] != src[2]^key[2] {
		t.Errorf("a short dst gets %x", short)
	}
	if a := testing.AllocsPerRun(100, func() { UnmaskWS(src, src, key, 5) }); a != 0 {
		t.Errorf("UnmaskWS allocates %.0f times", a)
	}
}

func TestWSFrameProblem(t *testing.T) {
	bin := func(masked bool) WSFrame {
		return WSFrame{Fin: true, Opcode: WSBinary, Masked: masked, PayloadLen: 10, HeaderLen: 2 + 4*b2i(masked)}
	}
	with := func(f WSFrame, edit func(*WSFrame)) WSFrame { edit(&f); return f }
	tests := []struct {
		name       string
		f          WSFrame
		fromClient bool
		rsv        uint8
		first      bool
		want       string // a part of the problem, "" for none
	}{
		{"client binary", bin(true), true, 0, true, ""},
		{"server binary", bin(false), false, 0, true, ""},
		{"server masks", bin(true), false, 0, true, "a server must not mask"},
		{"client does not mask", bin(false), true, 0, true, "a client must mask"},
		{"reserved 3", with(bin(false), func(f *WSFrame) { f.Opcode = 3 }), false, 0, true, "opcode 3 is reserved"},
		{"reserved 7", with(bin(false), func(f *WSFrame) { f.Opcode = 7 }), false, 0, true, "opcode 7 is reserved"},
		{"reserved 11", with(bin(false), func(f *WSFrame) { f.Opcode = 11 }), false, 0, true, "opcode 11 is reserved"},
		{"reserved 15", with(bin(false), func(f *WSFrame) { f.Opcode = 15 }), false, 0, true, "opcode 15 is reserved"},
		{"fragmented ping", with(bin(false), func(f *WSFrame) { f.Opcode, f.Fin = WSPing, false }), false, 0, true, "control frame must not be fragmented"},
		{"ping 125", with(bin(false), func(f *WSFrame) { f.Opcode, f.PayloadLen = WSPing, 125 }), false, 0, true, ""},
		{"close 126", with(bin(false), func(f *WSFrame) { f.Opcode, f.PayloadLen, f.HeaderLen = WSClose, 126, 4 }), false, 0, true, "125 bytes or less"},
		{"ping mid-message", with(bin(false), func(f *WSFrame) { f.Opcode = WSPing }), false, 0, false, ""},
		{"rsv1 without deflate", with(bin(false), func(f *WSFrame) { f.RSV = 4 }), false, 0, true, "no negotiated extension"},
		{"rsv1 with deflate", with(bin(false), func(f *WSFrame) { f.RSV = 4 }), false, 4, true, ""},
		{"rsv2 with deflate", with(bin(false), func(f *WSFrame) { f.RSV = 2 }), false, 4, true, "no negotiated extension"},
		{"rsv3 with deflate", with(bin(false), func(f *WSFrame) { f.RSV = 1 }), false, 4, true, "no negotiated extension"},
		{"rsv1 on a continuation", with(bin(false), func(f *WSFrame) { f.Opcode, f.RSV = WSContinuation, 4 }), false, 4, false, "RFC 7692 6.1"},
		{"rsv1 on a ping", with(bin(false), func(f *WSFrame) { f.Opcode, f.RSV = WSPing, 4 }), false, 4, true, "RFC 7692 6.1"},
		{"continuation", with(bin(false), func(f *WSFrame) { f.Opcode = WSContinuation }), false, 0, false, ""},
		{"continuation of nothing", with(bin(false), func(f *WSFrame) { f.Opcode = WSContinuation }), false, 0, true, "must continue a fragmented message"},
		{"new message mid-message", bin(false), false, 0, false, "fragmented one in progress"},
		{"non-minimal 16-bit", with(bin(false), func(f *WSFrame) { f.HeaderLen = 4 }), false, 0, true, "minimal number of bytes"},
		{"non-minimal 64-bit", with(bin(true), func(f *WSFrame) { f.PayloadLen, f.HeaderLen = 65535, 14 }), true, 0, true, "minimal number of bytes"},
		{"minimal 64-bit", with(bin(true), func(f *WSFrame) { f.PayloadLen, f.HeaderLen = 65536, 14 }), true, 0, true, ""},
	}
	for _, tt := range tests {
		got := WSFrameProblem(tt.f, tt.fromClient, tt.rsv, tt.first)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s: %q, want none", tt.name, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		case got != "" && !strings.HasPrefix(got, "RFC "):
			t.Errorf("%s: %q does not name its rule", tt.name, got)
		}
	}
	if a := testing.AllocsPerRun(100, func() { WSFrameProblem(bin(false), true, 0, true) }); a != 0 {
		t.Errorf("WSFrameProblem allocates %.0f times", a)
	}
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func TestParseWSClose(t *testing.T) {
	closeP := func(code uint16, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, code), reason...)
	}
	tests := []struct {
		payload []byte
		code    uint16
		reason  string
		problem string // a part of it
	}{
		{nil, 0, "", ""},
		{[]byte{0x03}, 0, "", "not 1 byte"},
		{closeP(1000, ""), 1000, "", ""},
		{closeP(1000, "bye ✓"), 1000, "bye ✓", ""},
		{closeP(1001, "\xff\xfe"), 1001, "\xff\xfe", "UTF-8"},
		{closeP(0, ""), 0, "", "not used"},
		{closeP(999, ""), 999, "", "not used"},
		{closeP(1003, ""), 1003, "", ""},
		{closeP(1004, ""), 1004, "", "1004 is reserved"},
		{closeP(1005, ""), 1005, "", "must not be sent"},
		{closeP(1006, ""), 1006, "", "must not be sent"},
		{closeP(1007, ""), 1007, "", ""},
		{closeP(1011, ""), 1011, "", ""},
		{closeP(1012, ""), 1012, "", ""},
		{closeP(1014, ""), 1014, "", ""},
		{closeP(1015, ""), 1015, "", "must not be sent"},
		{closeP(1016, ""), 1016, "", "reserved for the WebSocket protocol"},
		{closeP(2999, ""), 2999, "", "reserved for the WebSocket protocol"},
		{closeP(3000, ""), 3000, "", ""},
		{closeP(4999, "x"), 4999, "x", ""},
		{closeP(5000, ""), 5000, "", "above 4999"},
		{closeP(65535, ""), 65535, "", "above 4999"},
	}
	for _, tt := range tests {
		code, reason, p := ParseWSClose(tt.payload)
		if code != tt.code || string(reason) != tt.reason ||
			(tt.problem == "") != (p == "") || !strings.Contains(p, tt.problem) {
			t.Errorf("ParseWSClose(% x) = %d %q %q, want %d %q %q", tt.payload, code, reason, p, tt.code, tt.reason, tt.problem)
		}
	}
}

// TestWSNamesAgainstTshark checks the opcode and close code names against
// Wireshark's value strings (tshark -G values).
func TestWSNamesAgainstTshark(t *testing.T) {
	out, err := exec.Command("tshark", "-G", "values").Output()
	if err != nil {
		t.Fatalf("tshark -G values (apt-get install tshark): %v", err)
	}
	n := 0
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 || f[0] != "V" {
			continue
		}
		v, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		var got string
		switch f[1] {
		case "websocket.opcode":
			got = WSOpcode(v).String()
		case "websocket.payload.close.status_code":
			got = WSCloseCodeName(uint16(v))
		default:
			continue
		}
		n++
		if got != f[3] {
			t.Errorf("%s %d: %q, Wireshark %q", f[1], v, got, f[3])
		}
	}
	if n < 19 {
		t.Fatalf("only %d WebSocket values in tshark -G values", n)
	}
	if got := WSCloseCodeName(4000); got != "Unknown" {
		t.Errorf("WSCloseCodeName(4000) = %q", got)
	}
	for op := range WSOpcode(16) {
		if op.Control() != (op >= 8) || op.Reserved() != (op >= 3 && op <= 7 || op >= 11) {
			t.Errorf("opcode %d: Control %v Reserved %v", op, op.Control(), op.Reserved())
		}
		if op.Reserved() && op.String() != "Reserved ("+strconv.Itoa(int(op))+")" {
			t.Errorf("opcode %d: %q", op, op.String())
		}
	}
}
