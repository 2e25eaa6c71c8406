package session

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/keys/tlskeys"
)

// KindNumber is a field kind of the record's own fields: a decimal number
// (possibly with a fraction) held as text in Field.Bytes, written to JSON as a
// number. The decode package never produces it.
const KindNumber decode.Kind = 100

// KindJSON is a field kind of the record's own fields: a JSON value as
// compact JSON text in Field.Bytes (mqtap.value), written as is to JSON
// and as text elsewhere.
const KindJSON decode.Kind = 101

// TypeJSON is the type of the record fields whose values are KindJSON: a
// display filter compares them by what they hold (a number, a string, a
// boolean).
const TypeJSON decode.FieldType = 100

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
	// InFrame is set when the packet came whole in its frame, the frame's
	// TCP payload starting on a packet boundary, in plain MQTT over TCP:
	// the frame alone lets Wireshark decode the packet (an export needs no
	// earlier frame for it). Unset when unsure.
	InFrame bool
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
	// Value is the application message as data (PUBLISH only).
	Value Value

	head []decode.Field
	tail []decode.Field
	text []byte
	// arena holds the values CopyTo copied from outside the packet, and
	// ws the copy of WebSocket: reused by the next CopyTo.
	arena []byte
	ws    *WSInfo
}

// Head returns the frame, IP and TCP fields of the record under Wireshark's
// names. The slice is reused by the next call.
func (r *Record) Head() []decode.Field {
	r.head = r.head[:0]
	r.text = r.text[:0]
	if !r.Direct {
		r.head = r.number(FieldFrameNumber, uint64(r.Frame))
	}
	r.head = r.decimal(FieldTimeEpoch, r.Time.UnixNano())
	r.head = r.decimal(FieldTimeRelative, int64(r.Relative))
	if !r.Direct {
		r.head = r.number(FieldFrameLen, uint64(r.FrameLen))
	}
	if ifc := r.Interface; ifc != nil {
		r.head = r.number(FieldInterfaceID, uint64(ifc.ID))
		if ifc.Name != "" {
			r.head = append(r.head, decode.Field{Name: FieldInterfaceName.Name, Kind: decode.KindString, Bytes: ifc.name})
		}
	}
	if !r.Direct {
		start := len(r.text)
		chain := r.ProtocolChain()
		r.text = chain.Append(r.text)
		r.head = append(r.head, decode.Field{Name: FieldProtocols.Name, Kind: decode.KindString, Bytes: r.text[start:len(r.text):len(r.text)]})
	}
	src, dst := FieldIPSrc, FieldIPDst
	if r.IPv6() {
		src, dst = FieldIPv6Src, FieldIPv6Dst
	}
	r.head = r.addr(src, r.Src)
	r.head = r.addr(dst, r.Dst)
	if r.Direct {
		return r.head
	}
	r.head = r.number(FieldSrcPort, uint64(r.SrcPort))
	r.head = r.number(FieldDstPort, uint64(r.DstPort))
	r.head = r.number(FieldStream, uint64(r.Stream))
	if r.WebSocket != nil {
		f := &r.WSFrame
		r.head = append(r.head,
			decode.Field{Name: FieldWSFin.Name, Kind: decode.KindBool, Uint: b2u(f.Fin)},
			decode.Field{Name: FieldWSOpcode.Name, Kind: decode.KindUint, Uint: uint64(f.Opcode)},
			decode.Field{Name: FieldWSMask.Name, Kind: decode.KindBool, Uint: b2u(f.Masked)},
			decode.Field{Name: FieldWSPayloadLen.Name, Kind: decode.KindUint, Uint: f.PayloadLen})
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
	if r.Packet.Type == decode.PUBLISH {
		r.payloadProtocols(&c)
	}
	return c
}

// payloadProtocols adds the protocols Wireshark shows inside a PUBLISH's
// payload: the dissector of its MQTT 5 Content Type (json, with
// data-text-lines when it is not valid JSON; cbor; data-text-lines for
// text/plain), else Sparkplug B for a topic of four levels or more under
// spBv1.0.
func (r *Record) payloadProtocols(c *Protocols) {
	if ct, ok := r.contentType(); ok {
		switch ct {
		case "application/json":
			c.add(pJSON)
			if !r.validJSON() {
				c.add(pTextLines)
			}
		case "application/cbor":
			c.add(pCBOR)
		case "text/plain":
			c.add(pTextLines)
		}
		return
	}
	if _, n := payload.SparkplugLevels(r.Packet.Topic); n >= 4 {
		c.add(pSparkplugB)
		c.add(pProtobuf)
	}
}

// validJSON reports whether the payload is JSON, as Wireshark's json
// dissector finds it: from the payload stage's decoding when it decoded the
// payload as JSON (a copy of the record may lack the payload's bytes),
// else from the bytes.
func (r *Record) validJSON() bool {
	v := &r.Value
	if v.jsonChecked {
		return v.jsonValid
	}
	if v.Claimed && v.Spec.Format == payload.JSON && v.Spec.Compression == payload.NoCompression && r.Crypto.Decrypt == "" {
		_, _, err := r.DecodedValue()
		v.jsonValid = err == nil
	} else {
		v.jsonValid = json.Valid(r.Packet.Payload)
	}
	v.jsonChecked = true
	return v.jsonValid
}

// contentType returns the MQTT 5 Content Type of the record's packet, as
// written (Wireshark looks its dissector up by the whole string).
func (r *Record) contentType() (string, bool) {
	return string(r.Packet.ContentType), r.Packet.ContentType != nil
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
	r.tail = append(r.tail, decode.Field{Name: FieldPacketType.Name, Kind: decode.KindString, Bytes: typeNames[r.Packet.Type&15]})
	if m := r.Packet.Malformed(); m != "" {
		r.tail = append(r.tail, decode.Field{Name: FieldMalformed.Name, Kind: decode.KindString, Bytes: []byte(m)})
	}
	if r.Packet.Truncated {
		r.tail = append(r.tail, decode.Field{Name: FieldTruncated.Name, Kind: decode.KindBool, Uint: 1})
	}
	for i := range r.Findings {
		r.tail = append(r.tail, decode.Field{Name: FieldFindings.Name, Kind: decode.KindString, Bytes: []byte(r.Findings[i].Code.String())})
	}
	c := &r.Crypto
	if r.TLSVersion != 0 {
		if c.Scheme == "" {
			r.tail = append(r.tail, decode.Field{Name: FieldScheme.Name, Kind: decode.KindString, Bytes: []byte(SchemeTLS)})
		}
		r.tail = r.str(FieldTLSVersion, tlskeys.VersionName(r.TLSVersion))
		name := fmt.Sprintf("0x%04x", r.TLSSuite)
		if s, ok := tlskeys.SuiteByID(r.TLSSuite); ok {
			name = s.Name
		}
		r.tail = r.str(FieldTLSCipherSuite, name)
	}
	if c.Message > 0 {
		r.tail = append(r.tail, decode.Field{Name: FieldMessage.Name, Kind: decode.KindUint, Uint: uint64(c.Message)})
	}
	r.tail = r.str(FieldSession, c.Session)
	r.tail = r.str(FieldScheme, c.Scheme)
	r.tail = r.str(FieldKex, c.Kex)
	r.tail = r.str(FieldVerify, c.Verify)
	r.tail = r.str(FieldDecrypt, c.Decrypt)
	r.tail = r.str(FieldDecryptError, c.Reason)
	if pt, ok := r.Plaintext(); ok {
		if utf8.Valid(pt) {
			r.tail = append(r.tail, decode.Field{Name: FieldPlaintext.Name, Kind: decode.KindString, Bytes: pt})
		} else {
			r.tail = append(r.tail, decode.Field{Name: FieldPlaintextHex.Name, Kind: decode.KindBytes, Bytes: pt})
		}
	}
	r.tail = r.str(FieldKey, c.Key)
	r.tail = r.str(FieldKDF, c.KDF)
	if !c.TokenTime.IsZero() {
		start := len(r.text)
		r.text = strconv.AppendInt(r.text, c.TokenTime.Unix(), 10)
		r.tail = append(r.tail, decode.Field{Name: FieldTokenTime.Name, Kind: KindNumber, Bytes: r.text[start:len(r.text):len(r.text)]})
	}
	r.valueFields()
	return r.tail
}

// valueFields appends the fields of the record's value to the tail:
// Wireshark's Sparkplug B topic fields, mqtap.payload_format, mqtap.value
// and the Sparkplug metrics.
func (r *Record) valueFields() {
	if r.Packet.Type != decode.PUBLISH {
		return
	}
	if payload.HasSparkplugPrefix(r.Packet.Topic) || string(r.Packet.Topic) == payload.SparkplugNamespace {
		r.sparkplugTopicFields()
	}
	f, js, err := r.DecodedValue()
	if f == payload.None {
		return
	}
	r.tail = r.textField(FieldPayloadFormat, f.String())
	if err == nil {
		r.tail = append(r.tail, decode.Field{Name: FieldValue.Name, Kind: KindJSON, Bytes: js})
	}
	sp := r.Value.Sparkplug
	if sp == nil {
		return
	}
	if sp.HasSeq {
		r.tail = append(r.tail, decode.Field{Name: FieldSparkplugSeq.Name, Kind: decode.KindUint, Uint: sp.Seq})
	}
	for i := range sp.Metrics {
		m := &sp.Metrics[i]
		if m.HasName {
			r.tail = r.textField(FieldSparkplugName, m.Name)
		}
		if m.HasAlias {
			r.tail = append(r.tail, decode.Field{Name: FieldSparkplugAlias.Name, Kind: decode.KindUint, Uint: m.Alias})
		}
		r.tail = r.textField(FieldSparkplugDatatype, payload.DataTypeName(m.Datatype))
		r.tail = append(r.tail, decode.Field{Name: FieldSparkplugValue.Name, Kind: KindJSON, Bytes: m.Value})
	}
}

// sparkplugFields are Wireshark's Sparkplug B topic fields, by level.
var sparkplugFields = [5]*RecordField{FieldSparkplugNamespace, FieldSparkplugGroup, FieldSparkplugType, FieldSparkplugEdge, FieldSparkplugDevice}

// sparkplugTopicFields appends Wireshark's Sparkplug B topic fields, as
// its dissector splits the topic (payload.SparkplugLevels); none for a
// PUBLISH with a Content Type, whose dissector Wireshark uses instead.
func (r *Record) sparkplugTopicFields() {
	if _, ok := r.contentType(); ok {
		return
	}
	levels, n := payload.SparkplugLevels(r.Packet.Topic)
	for i := range n {
		r.tail = r.textField(sparkplugFields[i], levels[i])
	}
}

// textField appends a string field whose text is copied into the record's
// text buffer, even when empty.
func (r *Record) textField(f *RecordField, s string) []decode.Field {
	start := len(r.text)
	r.text = append(r.text, s...)
	return append(r.tail, decode.Field{Name: f.Name, Kind: decode.KindString, Bytes: r.text[start:len(r.text):len(r.text)]})
}

// Cut says why the record holds only the start of its packet, when
// Packet.Truncated is set: the capture did not hold the rest (Wireshark's
// words), or the packet was over Options.MaxPacket.
func (r *Record) Cut() string {
	for i := range r.Findings {
		if r.Findings[i].Code == LimitReached {
			return CutByLimit
		}
	}
	return CutByCapture
}

// Why a record holds only the start of its packet (Record.Cut).
const (
	CutByCapture = "Packet size limited during capture"
	CutByLimit   = "Packet larger than mqtap's per-packet limit, the rest skipped"
)

// IPv6 reports whether the record's addresses are IPv6 addresses (ipv6.src
// and ipv6.dst); IPv4-mapped addresses are IPv4 ones (ip.src and ip.dst).
func (r *Record) IPv6() bool {
	return r.Src.Is6() && !r.Src.Is4In6()
}

// Plaintext returns the plaintext of the payload when the record shows one
// (mqtap.plaintext, or mqtap.plaintext_hex when it is not UTF-8): that of a
// decrypted payload, or of a verified one that carries its plaintext.
func (r *Record) Plaintext() ([]byte, bool) {
	c := &r.Crypto
	if c.Decrypt == "ok" || c.Decrypt == "" && c.Verify == "ok" && len(c.Plaintext) > 0 {
		return c.Plaintext, true
	}
	return nil, false
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
func (r *Record) str(f *RecordField, s string) []decode.Field {
	if s == "" {
		return r.tail
	}
	return append(r.tail, decode.Field{Name: f.Name, Kind: decode.KindString, Bytes: []byte(s)})
}

// typeNames holds the packet type names as byte slices, so Tail does not
// allocate.
var typeNames = func() (t [16][]byte) {
	for i := range t {
		t[i] = []byte(decode.Type(i).String())
	}
	return t
}()

func (r *Record) number(f *RecordField, v uint64) []decode.Field {
	return append(r.head, decode.Field{Name: f.Name, Kind: decode.KindUint, Uint: v})
}

// decimal appends nanoseconds as seconds with nine decimals.
func (r *Record) decimal(f *RecordField, ns int64) []decode.Field {
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
	return append(r.head, decode.Field{Name: f.Name, Kind: KindNumber, Bytes: r.text[start:len(r.text):len(r.text)]})
}

func (r *Record) addr(f *RecordField, a netip.Addr) []decode.Field {
	start := len(r.text)
	r.text = a.Unmap().AppendTo(r.text)
	return append(r.head, decode.Field{Name: f.Name, Kind: decode.KindString, Bytes: r.text[start:len(r.text):len(r.text)]})
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
