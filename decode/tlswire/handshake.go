package tlswire

import (
	"fmt"
	"strconv"
)

// HandshakeType is the msg_type of a handshake message (RFC 5246 7.4,
// RFC 8446 4).
type HandshakeType uint8

// Handshake message types. The parsed messages are ClientHelloMsg and
// ServerHelloMsg, as ClientHello and ServerHello name the types.
const (
	ClientHello         HandshakeType = 1
	ServerHello         HandshakeType = 2
	NewSessionTicket    HandshakeType = 4
	EndOfEarlyData      HandshakeType = 5
	EncryptedExtensions HandshakeType = 8
	Certificate         HandshakeType = 11
	ServerKeyExchange   HandshakeType = 12
	CertificateRequest  HandshakeType = 13
	ServerHelloDone     HandshakeType = 14
	CertificateVerify   HandshakeType = 15
	ClientKeyExchange   HandshakeType = 16
	Finished            HandshakeType = 20
	KeyUpdate           HandshakeType = 24
)

// String returns the RFC name of the type, such as "client_hello", or
// "handshake_type(N)" for an unassigned one.
func (t HandshakeType) String() string {
	switch t {
	case 0:
		return "hello_request"
	case ClientHello:
		return "client_hello"
	case ServerHello:
		return "server_hello"
	case 3:
		return "hello_verify_request"
	case NewSessionTicket:
		return "new_session_ticket"
	case EndOfEarlyData:
		return "end_of_early_data"
	case 6:
		return "hello_retry_request"
	case EncryptedExtensions:
		return "encrypted_extensions"
	case Certificate:
		return "certificate"
	case ServerKeyExchange:
		return "server_key_exchange"
	case CertificateRequest:
		return "certificate_request"
	case ServerHelloDone:
		return "server_hello_done"
	case CertificateVerify:
		return "certificate_verify"
	case ClientKeyExchange:
		return "client_key_exchange"
	case Finished:
		return "finished"
	case 21:
		return "certificate_url"
	case 22:
		return "certificate_status"
	case 23:
		return "supplemental_data"
	case KeyUpdate:
		return "key_update"
	case 25:
		return "compressed_certificate"
	case 254:
		return "message_hash"
	}
	return "handshake_type(" + strconv.Itoa(int(t)) + ")"
}

// known reports whether t is an assigned handshake type (the IANA registry:
// RFC 5246, RFC 8446, RFC 6066, RFC 4680, RFC 8879, DTLS' 3).
func (t HandshakeType) known() bool {
	switch t {
	case 0, 1, 2, 3, 4, 5, 6, 8, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 254:
		return true
	}
	return false
}

// handshakeHeaderLen is a handshake message's header: msg_type (1) and
// length (3).
const handshakeHeaderLen = 4

// maxHandshakeLen is the longest message (or 24-bit vector) a 24-bit length
// can announce.
const maxHandshakeLen = 1<<24 - 1

// HandshakeReader reassembles the handshake messages of one direction of a
// connection: a message may span several records and a record may hold
// several messages. Its zero value is ready to use. After an error it stays
// failed: Next returns the same error and Add ignores its input.
type HandshakeReader struct {
	buf []byte // buffered bytes; buf[off:] is unread
	off int
	err error
}

// Add appends the body of a handshake record (decrypted, when the record is
// protected). body is copied: the caller may reuse it.
func (h *HandshakeReader) Add(body []byte) {
	if h.err != nil || len(body) == 0 {
		return
	}
	if h.off > 0 {
		n := copy(h.buf, h.buf[h.off:])
		h.buf = h.buf[:n]
		h.off = 0
	}
	h.buf = append(h.buf, body...)
}

// Buffered returns the number of bytes added but not yet returned by Next: a
// partial message, when Next reports none ready.
func (h *HandshakeReader) Buffered() int {
	return len(h.buf) - h.off
}

// Next returns the next complete handshake message: its type and its body
// (msg excludes the 4-byte header). msg is a new slice the caller owns. ok is
// false, with no error, when no complete message is buffered. err is not nil
// when the buffered bytes cannot be a handshake message: an unassigned type,
// a non-empty message of a type that is always empty (hello_request,
// end_of_early_data, server_hello_done) or a key_update not 1 byte long. The
// 24-bit length field bounds a message to 1<<24 - 1 bytes, so a longer one
// cannot occur.
func (h *HandshakeReader) Next() (typ HandshakeType, msg []byte, ok bool, err error) {
	if h.err != nil {
		return 0, nil, false, h.err
	}
	p := h.buf[h.off:]
	if len(p) == 0 {
		return 0, nil, false, nil
	}
	typ = HandshakeType(p[0])
	if !typ.known() {
		h.err = fmt.Errorf("handshake: unassigned message type %d", p[0])
		return 0, nil, false, h.err
	}
	if len(p) < handshakeHeaderLen {
		return 0, nil, false, nil
	}
	n := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
	switch typ {
	case 0, EndOfEarlyData, ServerHelloDone:
		if n != 0 {
			h.err = fmt.Errorf("handshake: %s message has length %d, want 0", typ, n)
			return 0, nil, false, h.err
		}
	case KeyUpdate:
		if n != 1 {
			h.err = fmt.Errorf("handshake: %s message has length %d, want 1", typ, n)
			return 0, nil, false, h.err
		}
	}
	if len(p) < handshakeHeaderLen+n {
		return 0, nil, false, nil
	}
	msg = make([]byte, n)
	copy(msg, p[handshakeHeaderLen:])
	h.off += handshakeHeaderLen + n
	if h.off == len(h.buf) {
		h.buf = h.buf[:0]
		h.off = 0
	}
	return typ, msg, true, nil
}
