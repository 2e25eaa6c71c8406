package session

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys/tlskeys"
)

// KindNumber is a field kind of the record's own fields: a decimal number
// (possibly with a fraction) held as text in Field.Bytes, written to JSON as a
// number. The decode package never produces it.
const KindNumber decode.Kind = 100

// Crypto is what mqtap learned about the end-to-end protection of a
// PUBLISH: the key-exchange session it belongs to and the outcome of
// decrypting or verifying it.
type Crypto struct {
	Session   string    // mqtap.session, e.g. "le0nh4rt#1"
	Scheme    string    // mqtap.scheme: "dh-fernet", ...
	Kex       string    // mqtap.kex: "request" or "response" for key-exchange messages
	Verify    string    // mqtap.verify: "ok", "bad" or "no-key"
	Decrypt   string    // mqtap.decrypt: "ok", "no-key" or "failed"
	Reason    string    // mqtap.decrypt_error: why Decrypt is not "ok"
	Plaintext []byte    // mqtap.plaintext (or mqtap.plaintext_hex when not UTF-8)
	Key       string    // mqtap.key: which key was used ("requester key FILE")
	KDF       string    // mqtap.kdf: the key derivation that verified
	TokenTime time.Time // mqtap.token_time: the Fernet token's timestamp
	Message   int       // mqtap.message: logical message number, shared by the publisher's and the broker's copy
	Copy      bool      // this record is a further copy (the broker's forward) of a message seen before
}

// Record is one MQTT control packet with where and when it was seen. The
// pipeline reuses one Record: a handler must copy what it keeps.
type Record struct {
	Frame    int           // frame.number of the frame that completed the packet
	Time     time.Time     // that frame's capture time
	Relative time.Duration // time since the first frame of the capture
	FrameLen int           // that frame's length on the wire
	// Protocols is that frame's chain of protocols up to TCP (empty for
	// direct records); ProtocolChain adds what mqtap found above TCP.
	Protocols Protocols
	// Interface is the capture interface of that frame when the capture
	// describes its interfaces (pcapng): frame.interface_id and
	// frame.interface_name. Nil for pcap files and direct records.
	Interface *Interface
	Src, Dst  netip.Addr
	SrcPort   uint16
	DstPort   uint16
	Stream    int  // tcp.stream, numbered as Wireshark does
	Index     int  // position of this MQTT packet within its frame, from 0
	FirstSeen bool // first MQTT packet of its TCP connection
	// Direct is set when mqtap received the packet itself from a broker
	// (mqtap tap) instead of capturing it: Frame then numbers the packets
	// received, FrameLen is the packet's length, and Head has no frame
	// number, frame length nor TCP fields.
	Direct bool

	Packet   decode.Packet
	Findings []Finding
	Crypto   Crypto
	// WebSocket is the WebSocket connection the packet came in (nil when
	// none), WSFrame the frame that completed the packet.
	WebSocket *WSInfo
	WSFrame   WSFrameInfo
	// TLSVersion and TLSSuite are the protocol version and cipher suite of
	// the TLS connection the packet was decrypted from (0 when not TLS).
	TLSVersion uint16
	TLSSuite   uint16

	head []decode.Field
	tail []decode.Field
	text []byte
}

// RecordFields are the names of the fields a Record adds around the MQTT
// packet's own (Head and Tail).
var RecordFields = []string{
	"frame.number", "frame.time_epoch", "frame.time_relative", "frame.len", "frame.interface_id", "frame.interface_name", "frame.protocols",
	"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.stream",
	"websocket.fin", "websocket.opcode", "websocket.mask", "websocket.payload_length",
	"mqtap.type", "mqtap.malformed", "mqtap.truncated", "mqtap.findings",
	"mqtap.message", "mqtap.session", "mqtap.scheme", "mqtap.kex", "mqtap.verify", "mqtap.decrypt", "mqtap.decrypt_error",
	"mqtap.plaintext", "mqtap.plaintext_hex", "mqtap.key", "mqtap.kdf", "mqtap.token_time",
	"mqtap.tls_version", "mqtap.tls_cipher",
}

// KnownField reports whether name is a field a record can carry.
func KnownField(name string) bool {
	return slices.Contains(RecordFields, name) || decode.KnownField(name)
}

// Head returns the frame, IP and TCP fields of the record under Wireshark's
// names. The slice is reused by the next call.
func (r *Record) Head() []decode.Field {
	r.head = r.head[:0]
	r.text = r.text[:0]
	if !r.Direct {
		r.head = r.number("frame.number", uint64(r.Frame))
	}
	r.head = r.decimal("frame.time_epoch", r.Time.UnixNano())
	r.head = r.decimal("frame.time_relative", int64(r.Relative))
	if !r.Direct {
		r.head = r.number("frame.len", uint64(r.FrameLen))
	}
	if ifc := r.Interface; ifc != nil {
		r.head = r.number("frame.interface_id", uint64(ifc.ID))
		if ifc.Name != "" {
			r.head = append(r.head, decode.Field{Name: "frame.interface_name", Kind: decode.KindString, Bytes: ifc.name})
		}
	}
	if !r.Direct {
		start := len(r.text)
		chain := r.ProtocolChain()
		r.text = chain.Append(r.text)
		r.head = append(r.head, decode.Field{Name: "frame.protocols", Kind: decode.KindString, Bytes: r.text[start:len(r.text):len(r.text)]})
	}
	src, dst := "ip.src", "ip.dst"
	if r.Src.Is6() && !r.Src.Is4In6() {
		src, dst = "ipv6.src", "ipv6.dst"
	}
	r.head = r.addr(src, r.Src)
	r.head = r.addr(dst, r.Dst)
	if r.Direct {
		return r.head
	}
	r.head = r.number("tcp.srcport", uint64(r.SrcPort))
	r.head = r.number("tcp.dstport", uint64(r.DstPort))
	r.head = r.number("tcp.stream", uint64(r.Stream))
	if r.WebSocket != nil {
		f := &r.WSFrame
		r.head = append(r.head,
			decode.Field{Name: "websocket.fin", Kind: decode.KindBool, Uint: b2u(f.Fin)},
			decode.Field{Name: "websocket.opcode", Kind: decode.KindUint, Uint: uint64(f.Opcode)},
			decode.Field{Name: "websocket.mask", Kind: decode.KindBool, Uint: b2u(f.Masked)},
			decode.Field{Name: "websocket.payload_length", Kind: decode.KindUint, Uint: f.PayloadLen})
	}
	return r.head
}

// ProtocolChain is frame.protocols of the record: the frame's protocols up
// to TCP, then TLS when the packet was decrypted from it, then mqtt.
func (r *Record) ProtocolChain() Protocols {
	c := r.Protocols
	if r.TLSVersion != 0 {
		c.add(pTLS)
	}
	if r.WebSocket != nil {
		c.add(pWebSocket)
	}
	c.add(pMQTT)
	return c
}

// HasProtocol reports whether a protocol is part of the record, as a bare
// protocol test of a display filter sees it: one of frame.protocols, or
// http for a packet of a WebSocket connection whose HTTP upgrade the
// capture holds.
func (r *Record) HasProtocol(name string) bool {
	if name == "http" {
		return r.WebSocket != nil && r.WebSocket.Handshake
	}
	c := r.ProtocolChain()
	return c.Has(name)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Tail returns mqtap's own fields of the record: mqtap.type, mqtap.malformed
// and mqtap.findings. The slice is reused by the next call.
func (r *Record) Tail() []decode.Field {
	r.tail = r.tail[:0]
	r.tail = append(r.tail, decode.Field{Name: "mqtap.type", Kind: decode.KindString, Bytes: typeNames[r.Packet.Type&15]})
	if m := r.Packet.Malformed(); m != "" {
		r.tail = append(r.tail, decode.Field{Name: "mqtap.malformed", Kind: decode.KindString, Bytes: []byte(m)})
	}
	if r.Packet.Truncated {
		r.tail = append(r.tail, decode.Field{Name: "mqtap.truncated", Kind: decode.KindBool, Uint: 1})
	}
	for i := range r.Findings {
		r.tail = append(r.tail, decode.Field{Name: "mqtap.findings", Kind: decode.KindString, Bytes: []byte(r.Findings[i].Code.String())})
	}
	c := &r.Crypto
	if r.TLSVersion != 0 {
		if c.Scheme == "" {
			r.tail = append(r.tail, decode.Field{Name: "mqtap.scheme", Kind: decode.KindString, Bytes: []byte(SchemeTLS)})
		}
		r.tail = r.str("mqtap.tls_version", tlskeys.VersionName(r.TLSVersion))
		name := fmt.Sprintf("0x%04x", r.TLSSuite)
		if s, ok := tlskeys.SuiteByID(r.TLSSuite); ok {
			name = s.Name
		}
		r.tail = r.str("mqtap.tls_cipher", name)
	}
	if c.Message > 0 {
		r.tail = append(r.tail, decode.Field{Name: "mqtap.message", Kind: decode.KindUint, Uint: uint64(c.Message)})
	}
	r.tail = r.str("mqtap.session", c.Session)
	r.tail = r.str("mqtap.scheme", c.Scheme)
	r.tail = r.str("mqtap.kex", c.Kex)
	r.tail = r.str("mqtap.verify", c.Verify)
	r.tail = r.str("mqtap.decrypt", c.Decrypt)
	r.tail = r.str("mqtap.decrypt_error", c.Reason)
	if c.Decrypt == "ok" || c.Decrypt == "" && c.Verify == "ok" && len(c.Plaintext) > 0 {
		if utf8.Valid(c.Plaintext) {
			r.tail = append(r.tail, decode.Field{Name: "mqtap.plaintext", Kind: decode.KindString, Bytes: c.Plaintext})
		} else {
			r.tail = append(r.tail, decode.Field{Name: "mqtap.plaintext_hex", Kind: decode.KindBytes, Bytes: c.Plaintext})
		}
	}
	r.tail = r.str("mqtap.key", c.Key)
	r.tail = r.str("mqtap.kdf", c.KDF)
	if !c.TokenTime.IsZero() {
		start := len(r.text)
		r.text = strconv.AppendInt(r.text, c.TokenTime.Unix(), 10)
		r.tail = append(r.tail, decode.Field{Name: "mqtap.token_time", Kind: KindNumber, Bytes: r.text[start:len(r.text):len(r.text)]})
	}
	return r.tail
}

// SchemeTLS is mqtap.scheme of a packet protected by TLS alone.
const SchemeTLS = "tls"

// Scheme is the record's mqtap.scheme: the end-to-end scheme of its payload
// when there is one, else "tls" when it was decrypted from TLS, else "".
func (r *Record) Scheme() string {
	if r.Crypto.Scheme == "" && r.TLSVersion != 0 {
		return SchemeTLS
	}
	return r.Crypto.Scheme
}

// str appends a string field when s is not empty.
func (r *Record) str(name, s string) []decode.Field {
	if s == "" {
		return r.tail
	}
	return append(r.tail, decode.Field{Name: name, Kind: decode.KindString, Bytes: []byte(s)})
}

// typeNames holds the packet type names as byte slices, so Tail does not
// allocate.
var typeNames = func() (t [16][]byte) {
	for i := range t {
		t[i] = []byte(decode.Type(i).String())
	}
	return t
}()

func (r *Record) number(name string, v uint64) []decode.Field {
	return append(r.head, decode.Field{Name: name, Kind: decode.KindUint, Uint: v})
}

// decimal appends nanoseconds as seconds with nine decimals.
func (r *Record) decimal(name string, ns int64) []decode.Field {
	start := len(r.text)
	if ns < 0 {
		r.text = append(r.text, '-')
		ns = -ns
	}
	r.text = strconv.AppendInt(r.text, ns/1e9, 10)
	r.text = append(r.text, '.')
	frac := ns % 1e9
	for d := int64(1e8); d > 0; d /= 10 {
		r.text = append(r.text, byte('0'+frac/d%10))
	}
	return append(r.head, decode.Field{Name: name, Kind: KindNumber, Bytes: r.text[start:len(r.text):len(r.text)]})
}

func (r *Record) addr(name string, a netip.Addr) []decode.Field {
	start := len(r.text)
	r.text = a.Unmap().AppendTo(r.text)
	return append(r.head, decode.Field{Name: name, Kind: decode.KindString, Bytes: r.text[start:len(r.text):len(r.text)]})
}

// Each calls fn for every field of the record in order: Head, the MQTT
// packet's fields, then Tail.
func (r *Record) Each(fn func(f *decode.Field)) {
	h := r.Head()
	for i := range h {
		fn(&h[i])
	}
	for i := range r.Packet.Fields {
		fn(&r.Packet.Fields[i])
	}
	t := r.Tail()
	for i := range t {
		fn(&t[i])
	}
}
