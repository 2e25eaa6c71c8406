package decode

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// WebSocket framing (RFC 6455 section 5). The names of opcodes and close
// codes are those of Wireshark's WebSocket dissector (websocket.opcode,
// websocket.payload.close.status_code).

// WSOpcode is the opcode of a WebSocket frame (4 bits).
type WSOpcode uint8

// The opcodes RFC 6455 defines; 3-7 and 11-15 are reserved.
const (
	WSContinuation WSOpcode = 0
	WSText         WSOpcode = 1
	WSBinary       WSOpcode = 2
	WSClose        WSOpcode = 8
	WSPing         WSOpcode = 9
	WSPong         WSOpcode = 10
)

var wsOpcodeNames = [16]string{
	"Continuation", "Text", "Binary", "Reserved (3)", "Reserved (4)", "Reserved (5)",
	"Reserved (6)", "Reserved (7)", "Connection Close", "Ping", "Pong", "Reserved (11)",
	"Reserved (12)", "Reserved (13)", "Reserved (14)", "Reserved (15)",
}

// String returns Wireshark's name of the opcode ("Binary", "Connection
// Close", ...) or "Reserved (N)" for a reserved one.
func (o WSOpcode) String() string {
	if o > 15 {
		return "Invalid (" + strconv.Itoa(int(o)) + ")"
	}
	return wsOpcodeNames[o]
}

// Control reports whether the opcode is a control opcode (8-15).
func (o WSOpcode) Control() bool { return o&8 != 0 }

// Reserved reports whether RFC 6455 leaves the opcode undefined (3-7, 11-15).
func (o WSOpcode) Reserved() bool { return o > WSPong || (o > WSBinary && o < WSClose) }

// WSFrame is the header of a WebSocket frame (RFC 6455 section 5.2).
type WSFrame struct {
	Fin        bool
	RSV        uint8 // the three RSV bits as 0..7 (RSV1 = 4: a permessage-deflate compressed message)
	Opcode     WSOpcode
	Masked     bool
	MaskKey    [4]byte
	PayloadLen uint64 // as declared (up to 2^63-1)
	HeaderLen  int    // 2..14
}

// Total returns the length of the whole frame, header and payload, or
// false when it does not fit in an int.
func (f WSFrame) Total() (int, bool) {
	n := uint64(f.HeaderLen) + f.PayloadLen // cannot wrap: PayloadLen < 2^63
	if n > uint64(int(^uint(0)>>1)) {
		return 0, false
	}
	return int(n), true
}

// ErrWSShort reports that b does not yet hold the whole frame header.
var ErrWSShort = errors.New("decode: not enough bytes for the WebSocket frame header")

// ErrWSLength reports a 64-bit payload length with its most significant bit
// set, which RFC 6455 5.2 forbids: the frame cannot be delimited.
var ErrWSLength = errors.New("decode: WebSocket 64-bit payload length has its most significant bit set (RFC 6455 5.2)")

// ParseWSFrame parses the frame header at the start of b. It returns
// ErrWSShort while b ends inside the header and ErrWSLength (with the
// fields read so far) for a 64-bit length whose top bit is set. A length
// not encoded in the minimal number of bytes is accepted, as Wireshark
// does; WSFrameProblem reports it. It does not allocate.
func ParseWSFrame(b []byte) (WSFrame, error) {
	var f WSFrame
	if len(b) < 2 {
		return f, ErrWSShort
	}
	f.Fin = b[0]&0x80 != 0
	f.RSV = b[0] >> 4 & 7
	f.Opcode = WSOpcode(b[0] & 0x0f)
	f.Masked = b[1]&0x80 != 0
	n := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return f, ErrWSShort
		}
		f.PayloadLen = uint64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return f, ErrWSShort
		}
		f.PayloadLen = binary.BigEndian.Uint64(b[2:])
		n = 10
		if f.PayloadLen>>63 != 0 {
			f.HeaderLen = n
			return f, ErrWSLength
		}
	default:
		f.PayloadLen = uint64(l)
	}
	if f.Masked {
		if len(b) < n+4 {
			return f, ErrWSShort
		}
		copy(f.MaskKey[:], b[n:n+4])
		n += 4
	}
	f.HeaderLen = n
	return f, nil
}

// AppendWSFrame appends the header of f to b, its payload length in the
// minimal encoding (HeaderLen is ignored).
func AppendWSFrame(b []byte, f WSFrame) []byte {
	b0 := f.RSV&7<<4 | byte(f.Opcode)&0x0f
	if f.Fin {
		b0 |= 0x80
	}
	var m byte
	if f.Masked {
		m = 0x80
	}
	switch {
	case f.PayloadLen < 126:
		b = append(b, b0, m|byte(f.PayloadLen))
	case f.PayloadLen <= 0xffff:
		b = append(b, b0, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(f.PayloadLen))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, f.PayloadLen)
	}
	if f.Masked {
		b = append(b, f.MaskKey[:]...)
	}
	return b
}

// UnmaskWS XORs src with the masking key into dst, src[0] being the byte at
// position pos of the payload (for payloads delivered in pieces). dst may be
// src; when dst is shorter than src only len(dst) bytes are unmasked. Masking
// is its own inverse. It does not allocate.
func UnmaskWS(dst, src []byte, key [4]byte, pos uint64) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	// Rotate the key so that k[0] applies to src[0].
	r := int(pos & 3)
	k := [4]byte{key[r], key[(r+1)&3], key[(r+2)&3], key[(r+3)&3]}
	k32 := binary.LittleEndian.Uint32(k[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+32 <= n; i += 32 {
		d, s := dst[i:i+32], src[i:i+32]
		binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(s)^k64)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^k64)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^k64)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^k64)
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	for ; i < n; i++ {
		dst[i] = src[i] ^ k[i&3]
	}
}

var wsReservedOpcode = [16]string{
	3: "RFC 6455 5.2: opcode 3 is reserved", 4: "RFC 6455 5.2: opcode 4 is reserved",
	5: "RFC 6455 5.2: opcode 5 is reserved", 6: "RFC 6455 5.2: opcode 6 is reserved",
	7: "RFC 6455 5.2: opcode 7 is reserved", 11: "RFC 6455 5.2: opcode 11 is reserved",
	12: "RFC 6455 5.2: opcode 12 is reserved", 13: "RFC 6455 5.2: opcode 13 is reserved",
	14: "RFC 6455 5.2: opcode 14 is reserved", 15: "RFC 6455 5.2: opcode 15 is reserved",
}

// WSFrameProblem returns why a frame breaks RFC 6455 (or RFC 7692), or ""
// when it does not: one sentence that names the rule. fromClient says who
// sent it; rsvAllowed holds the RSV bits the negotiated extensions define
// (4, RSV1, when permessage-deflate was negotiated, else 0); firstOfMessage
// says that no fragmented data message is in progress in this direction, so
// a data frame must start a new message (Text or Binary) and may carry
// RSV1, while a Continuation frame has nothing to continue. It checks, and
// reports the first it finds of: a reserved opcode, a server frame that is
// masked, a client frame that is not, a fragmented control frame, a control
// frame longer than 125 bytes, RSV bits no extension defines, RSV1 on a
// control frame or a continuation, a payload length not in its minimal
// encoding, a continuation with no message to continue, a new data message
// while another is unfinished. It does not allocate.
func WSFrameProblem(f WSFrame, fromClient bool, rsvAllowed uint8, firstOfMessage bool) string {
	switch {
	case f.Opcode.Reserved():
		return wsReservedOpcode[f.Opcode&0x0f]
	case fromClient && !f.Masked:
		return "RFC 6455 5.1: a client must mask every frame it sends"
	case !fromClient && f.Masked:
		return "RFC 6455 5.1: a server must not mask the frames it sends"
	case f.Opcode.Control() && !f.Fin:
		return "RFC 6455 5.5: a control frame must not be fragmented"
	case f.Opcode.Control() && f.PayloadLen > 125:
		return "RFC 6455 5.5: a control frame's payload must be 125 bytes or less"
	case f.RSV&^rsvAllowed != 0:
		return "RFC 6455 5.2: RSV bits are set that no negotiated extension defines"
	case f.RSV&4 != 0 && (f.Opcode.Control() || f.Opcode == WSContinuation || !firstOfMessage):
		return "RFC 7692 6.1: RSV1 (Per-Message Compressed) may be set only on the first frame of a data message"
	case !minimalLength(f):
		return "RFC 6455 5.2: the payload length must be encoded in the minimal number of bytes"
	case f.Opcode == WSContinuation && firstOfMessage:
		return "RFC 6455 5.4: a continuation frame must continue a fragmented message"
	case (f.Opcode == WSText || f.Opcode == WSBinary) && !firstOfMessage:
		return "RFC 6455 5.4: a data message must not start before the fragmented one in progress is finished"
	}
	return ""
}

// minimalLength reports whether the frame's payload length used the
// shortest of the three encodings.
func minimalLength(f WSFrame) bool {
	ext := f.HeaderLen - 2
	if f.Masked {
		ext -= 4
	}
	switch ext {
	case 2:
		return f.PayloadLen >= 126
	case 8:
		return f.PayloadLen > 0xffff
	}
	return true
}

// ParseWSClose reads the payload of a Close frame (RFC 6455 5.5.1): the
// status code (0 when the payload is empty) and the reason, which aliases
// payload. problem says, in one sentence naming the rule, what is wrong:
// a payload of 1 byte, a status code that must not be sent (below 1000,
// 1004-1006, 1015, 1016-2999, 5000 and above) or a reason that is not
// UTF-8.
func ParseWSClose(payload []byte) (code uint16, reason []byte, problem string) {
	switch len(payload) {
	case 0:
		return 0, nil, ""
	case 1:
		return 0, nil, "RFC 6455 5.5.1: a Close payload must hold a 2-byte status code, not 1 byte"
	}
	code = binary.BigEndian.Uint16(payload)
	reason = payload[2:]
	if p := closeCodeProblem(code); p != "" {
		return code, reason, p
	}
	if !utf8.Valid(reason) {
		return code, reason, "RFC 6455 5.5.1: the close reason must be UTF-8 text"
	}
	return code, reason, ""
}

func closeCodeProblem(code uint16) string {
	switch {
	case code < 1000:
		return "RFC 6455 7.4.2: close status code " + strconv.Itoa(int(code)) + " is not used (below 1000)"
	case code == 1004:
		return "RFC 6455 7.4.1: close status code 1004 is reserved"
	case code == 1005 || code == 1006 || code == 1015:
		return "RFC 6455 7.4.1: close status code " + strconv.Itoa(int(code)) + " must not be sent in a Close frame"
	case code >= 1016 && code <= 2999:
		return "RFC 6455 7.4.2: close status code " + strconv.Itoa(int(code)) + " is reserved for the WebSocket protocol"
	case code >= 5000:
		return "RFC 6455 7.4.2: close status code " + strconv.Itoa(int(code)) + " is out of the defined ranges (above 4999)"
	}
	return ""
}

var wsCloseNames = map[uint16]string{
	1000: "Normal Closure", 1001: "Going Away", 1002: "Protocol error", 1003: "Unsupported Data",
	1004: "---Reserved----", 1005: "No Status Rcvd", 1006: "Abnormal Closure",
	1007: "Invalid frame payload data", 1008: "Policy Violation", 1009: "Message Too Big",
	1010: "Mandatory Ext.", 1011: "Internal Server", 1015: "TLS handshake",
}

// WSCloseCodeName returns Wireshark's name of a close status code ("Normal
// Closure", "Going Away", ...), or "Unknown" for a code it has no name for
// (Wireshark shows "Unknown (1012)").
func WSCloseCodeName(code uint16) string {
	if s, ok := wsCloseNames[code]; ok {
		return s
	}
	return "Unknown"
}
