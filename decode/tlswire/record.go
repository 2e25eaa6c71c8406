// Package tlswire parses the TLS wire format.
//
// It splits a byte stream into records, reassembles handshake messages that
// span records, and decodes the ClientHello, ServerHello, Certificate,
// KeyUpdate and Alert messages that mqtap needs to follow MQTT over TLS.
//
// It covers TLS 1.2 (RFC 5246) and TLS 1.3 (RFC 8446) and accepts the record
// versions of SSL 3.0, TLS 1.0 and TLS 1.1. It is a pure parser: bytes in,
// structures out, with no I/O and no cryptography. Every parser is
// bounds-checked, never panics, and reports what is wrong with its input in
// its error.
package tlswire

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Content types of the TLS record layer (RFC 5246 6.2.1, RFC 6520).
const (
	ChangeCipherSpec byte = 20
	Alert            byte = 21
	Handshake        byte = 22
	ApplicationData  byte = 23
	Heartbeat        byte = 24
)

const (
	// RecordHeaderLen is the length of a TLS record header: content type (1),
	// version (2) and length (2).
	RecordHeaderLen = 5

	// MaxRecordLen is the longest record body accepted: 2^14 bytes of
	// plaintext plus the 2048 bytes of expansion TLS 1.2 allows a protected
	// record (RFC 5246 6.2.3). TLS 1.3 records are shorter (2^14 + 256).
	MaxRecordLen = 16384 + 2048
)

// Record is one TLS record. Header and Body share the memory of the slice
// given to NextRecord: copy them before that memory is reused.
type Record struct {
	// Type is the content type (ChangeCipherSpec, Alert, Handshake,
	// ApplicationData or Heartbeat).
	Type byte
	// Version is the record-layer version, for example 0x0303. In TLS 1.3
	// it is a legacy field (0x0303, or 0x0301 in a first ClientHello).
	Version uint16
	// Header is the 5-byte record header.
	Header []byte
	// Body is the record's fragment: plaintext before the keys change,
	// ciphertext after.
	Body []byte
}

// NextRecord splits the first record off b. It returns ok=false, and no
// error, when b holds a plausible but incomplete record: more bytes are
// needed. It returns an error when the bytes present cannot start a TLS
// record: an unknown content type, a version whose major number is not 3,
// or a length over MaxRecordLen. r and rest share the memory of b; NextRecord
// does not allocate.
func NextRecord(b []byte) (r Record, rest []byte, ok bool, err error) {
	if err := checkHeader(b); err != nil {
		return Record{}, b, false, err
	}
	if len(b) < RecordHeaderLen {
		return Record{}, b, false, nil
	}
	end := RecordHeaderLen + int(binary.BigEndian.Uint16(b[3:5]))
	if len(b) < end {
		return Record{}, b, false, nil
	}
	r = Record{
		Type:    b[0],
		Version: binary.BigEndian.Uint16(b[1:3]),
		Header:  b[:RecordHeaderLen:RecordHeaderLen],
		Body:    b[RecordHeaderLen:end:end],
	}
	return r, b[end:], true, nil
}

// checkHeader checks as much of a record header as b holds.
func checkHeader(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case ChangeCipherSpec, Alert, Handshake, ApplicationData, Heartbeat:
	default:
		return fmt.Errorf("tls record: unknown content type %d", b[0])
	}
	if len(b) < 2 {
		return nil
	}
	if b[1] != 3 {
		return fmt.Errorf("tls record: %s record with version major %d, want 3 (SSL 3.0 to TLS 1.3)", ContentTypeName(b[0]), b[1])
	}
	if len(b) < RecordHeaderLen {
		return nil
	}
	if n := binary.BigEndian.Uint16(b[3:5]); n > MaxRecordLen {
		return fmt.Errorf("tls record: %s record length %d exceeds the maximum %d", ContentTypeName(b[0]), n, MaxRecordLen)
	}
	return nil
}

// LooksLikeClientHello reports whether b starts a TLS connection: a handshake
// record (content type 22, version 3.x) whose first handshake message is a
// ClientHello. Only the bytes present are checked, so a short b that agrees
// with such a start is accepted; six bytes are enough to decide. An empty b is
// not.
func LooksLikeClientHello(b []byte) bool {
	if len(b) == 0 || b[0] != Handshake {
		return false
	}
	if len(b) >= 2 && b[1] != 3 {
		return false
	}
	if len(b) >= RecordHeaderLen {
		// A ClientHello of the smallest form is 4+2+32+1+2+2+1+1 = 45 bytes,
		// but its first fragment may be a single byte.
		if n := binary.BigEndian.Uint16(b[3:5]); n == 0 || n > MaxRecordLen {
			return false
		}
	}
	if len(b) >= 6 && HandshakeType(b[5]) != ClientHello {
		return false
	}
	// legacy_version of the ClientHello, when present, has major 3 too.
	if len(b) >= 10 && b[9] != 3 {
		return false
	}
	return true
}

// LooksLikeRecord reports whether b starts with a TLS record header: a
// known content type, protocol major version 3 and a possible length. On
// an MQTT port it tells TLS from MQTT even when the ClientHello was not
// captured: the content types 20-23 are fixed headers MQTT forbids (a
// CONNECT with non-zero flags). b must hold the whole 5-byte header.
func LooksLikeRecord(b []byte) bool {
	if len(b) < RecordHeaderLen || b[0] < ChangeCipherSpec || b[0] > ApplicationData || b[1] != 3 || b[2] > 4 {
		return false
	}
	n := binary.BigEndian.Uint16(b[3:5])
	return n > 0 && int(n) <= MaxRecordLen
}

// ContentTypeName returns the RFC name of a record content type, such as
// "handshake", or "content_type(N)" for an unknown one.
func ContentTypeName(t byte) string {
	switch t {
	case ChangeCipherSpec:
		return "change_cipher_spec"
	case Alert:
		return "alert"
	case Handshake:
		return "handshake"
	case ApplicationData:
		return "application_data"
	case Heartbeat:
		return "heartbeat"
	}
	return "content_type(" + strconv.Itoa(int(t)) + ")"
}
