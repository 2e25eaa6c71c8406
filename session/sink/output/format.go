package output

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// appendSummary appends the one-line summary of a record, tshark style:
// number, relative time, source → destination, type, frame length, Info.
func (w *formatter) appendSummary(b []byte, r *session.Record) []byte {
	l := lineOf(r)
	b = w.appendColumns(b, &l)
	b = AppendInfo(b, r)
	return append(b, '\n')
}

// line holds what a record's summary line shows of the record itself, and
// the record fields -T fields reads directly (see appendDirect).
type line struct {
	frame    int
	relative int64 // ns
	src, dst netip.Addr
	srcPort  uint16
	dstPort  uint16
	typ      decode.Type
	direct   bool
	frameLen int
	stream   int
}

func lineOf(r *session.Record) line {
	return line{r.Frame, int64(r.Relative), r.Src, r.Dst, r.SrcPort, r.DstPort, r.Packet.Type, r.Direct, r.FrameLen, r.Stream}
}

// ipv6 is session.Record.IPv6.
func (l *line) ipv6() bool { return l.src.Is6() && !l.src.Is4In6() }

// appendColumns appends the columns of a summary line, up to its Info.
func (w *formatter) appendColumns(b []byte, s *line) []byte {
	var tmp [32]byte
	b = appendPadLeft(b, strconv.AppendInt(tmp[:0], int64(s.frame), 10), 5)
	b = append(b, ' ')
	b = appendPadLeft(b, appendSeconds(tmp[:0], s.relative), 10)
	b = append(b, ' ')
	b = appendPadLeft(b, w.endpoint(s.src, s.srcPort), 21)
	b = append(b, " → "...)
	b = appendPadRight(b, w.endpoint(s.dst, s.dstPort), 21)
	b = append(b, ' ')
	b = append(b, paddedTypes[s.typ&15]...)
	b = appendPadLeft(b, strconv.AppendInt(tmp[:0], int64(s.frameLen), 10), 5)
	return append(b, ' ')
}

// AppendInfo appends a record's Info column as the text output prints it:
// the packet's Info, what mqtap learned about its payload (the plaintext of
// a decrypted message, or why it was not decrypted) and why the packet is
// malformed. Control characters are escaped.
func AppendInfo(b []byte, r *session.Record) []byte {
	start := len(b)
	b = decode.AppendInfo(b, &r.Packet)
	b = appendCrypto(b, &r.Crypto)
	b = appendBriefValue(b, r)
	b = escapeControls(b, start)
	if m := r.Packet.Malformed(); m != "" {
		b = append(b, " [Malformed: "...)
		b = append(b, m...)
		b = append(b, ']')
	}
	if r.Packet.Truncated {
		b = append(b, " ["...)
		b = append(b, r.Cut()...)
		b = append(b, ']')
	}
	return b
}

// brief is what the Info of a plain record is made of: one without
// problems, cut, SUBSCRIBE topics or anything learned about its payload,
// whose Info AppendInfo builds from its type, identifier, topic and whether
// it carries a message. The writing goroutine keeps it (and the topic)
// instead of rendering the Info.
type brief struct {
	plain bool
	qos   uint8
	msg   bool // the PUBLISH has its message (decode.Packet.Payload != nil)
	id    uint16
}

func briefOf(r *session.Record) brief {
	p, c := &r.Packet, &r.Crypto
	if len(p.Problems) > 0 || p.Truncated || p.Type == decode.SUBSCRIBE || c.Kex != "" || c.Decrypt != "" || c.Verify != "" || r.Value.Claimed {
		return brief{}
	}
	// Without problems, a packet whose type has an identifier has a
	// non-zero one (0 is a violation), so PacketID tells it all.
	return brief{plain: true, qos: p.QoS, msg: p.Payload != nil, id: p.PacketID}
}

// appendInfo appends what AppendInfo gives for the plain record of type
// typ and topic that br describes.
func (br *brief) appendInfo(b []byte, typ decode.Type, topic []byte) []byte {
	p := decode.Packet{Type: typ, QoS: br.qos, PacketID: br.id, Topic: topic}
	if br.msg {
		p.Payload = []byte{}
	}
	start := len(b)
	b = decode.AppendInfo(b, &p)
	return escapeControls(b, start)
}

// appendCrypto appends what mqtap learned about a lab message to the Info
// text: the plaintext of a decrypted message, or why it was not decrypted.
func appendCrypto(b []byte, c *session.Crypto) []byte {
	switch {
	case c.Kex != "":
		b = append(b, " [key exchange "...)
		b = append(b, c.Kex...)
		if c.Session != "" {
			b = append(b, ' ')
			b = append(b, c.Session...)
		}
		b = append(b, ']')
	case c.Decrypt == "ok" || c.Decrypt == "" && c.Verify == "ok":
		b = append(b, " ["...)
		if c.Session != "" {
			b = append(b, c.Session...)
		} else {
			b = append(b, c.Scheme...)
		}
		b = append(b, "] \""...)
		if utf8.Valid(c.Plaintext) {
			b = append(b, c.Plaintext...)
		} else {
			b = hex.AppendEncode(b, c.Plaintext)
		}
		b = append(b, '"')
	case c.Verify != "" && c.Verify != "ok":
		b = append(b, " [verify: "...)
		b = append(b, c.Verify...)
		b = append(b, ']')
	case c.Decrypt != "":
		b = append(b, " [decrypt: "...)
		b = append(b, c.Decrypt...)
		b = append(b, ']')
	}
	return b
}

// appendField appends the line "Title: value" of a record field at the
// given depth when value is set.
func appendField(b []byte, depth int, f *session.RecordField, value string) []byte {
	if value == "" {
		return b
	}
	b = appendTitle(b, depth, f)
	b = append(b, value...)
	return append(b, '\n')
}

// appendTitle appends "Title: " of a record field at the given depth.
func appendTitle(b []byte, depth int, f *session.RecordField) []byte {
	b = appendIndent(b, depth)
	b = append(b, f.Title...)
	return append(b, ": "...)
}

// escapeControls rewrites control characters in b[start:] (from topics
// in the Info text) as \xHH, so they cannot drive the terminal.
func escapeControls(b []byte, start int) []byte {
	i := start
	for i < len(b) && b[i] >= 0x20 && b[i] != 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	tail := append([]byte(nil), b[i:]...)
	b = b[:i]
	for _, c := range tail {
		if c < 0x20 || c == 0x7f {
			b = append(b, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}

// paddedTypes are the packet type names padded to the type column's width.
var paddedTypes = func() (t [16]string) {
	for i := range t {
		t[i] = string(appendPadRight(nil, []byte(decode.Type(i).String()), 11))
	}
	return t
}()

// appendSeconds appends a duration in nanoseconds as seconds with six
// decimals, as tshark prints relative times.
func appendSeconds(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	us := (ns + 500) / 1000
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(1e5); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// endpoint returns the text of an address and port, from a small cache: a
// capture has few endpoints and many packets, or (a fleet) so many that
// a cache of all of them would cost more than it saves. The text is
// valid until the next call.
func (w *formatter) endpoint(a netip.Addr, port uint16) []byte {
	ap := netip.AddrPortFrom(a, port)
	b16 := a.As16()
	e := &w.endpoints[(uint(port)*31+uint(b16[14])<<8+uint(b16[15]))%uint(len(w.endpoints))]
	if e.ap != ap || e.text == nil {
		e.ap, e.text = ap, appendEndpoint(e.text[:0], a, port)
	}
	return e.text
}

// endpointCache holds formatted endpoints, each in the slot its address
// and port hash to.
type endpointCache [512]struct {
	ap   netip.AddrPort
	text []byte
}

// appendTree appends the detail tree of a record, as tshark -V does: the
// frame, the MQTT packet, and what mqtap learned about it.
func (w *formatter) appendTree(b []byte, r *session.Record) []byte {
	b = appendFrameTree(b, r)
	b = w.appendPacketTree(b, &r.Packet, r.Cut())
	b = appendMQTapTree(b, r)
	return append(b, '\n')
}

// appendFrameTree appends the frame's subtree (or, for mqtap tap, that of
// the packet received from the broker) and the WebSocket frame's.
func appendFrameTree(b []byte, r *session.Record) []byte {
	unit, size, conn := "Frame ", " bytes on wire, ", ", TCP stream "
	if r.Direct {
		unit, size, conn = "Packet ", " bytes received from the broker, ", ", connection "
	}
	b = append(b, unit...)
	b = strconv.AppendInt(b, int64(r.Frame), 10)
	b = append(b, ": "...)
	b = strconv.AppendInt(b, int64(r.FrameLen), 10)
	b = append(b, size...)
	b = r.Time.UTC().AppendFormat(b, "2006-01-02 15:04:05.000000000 UTC")
	b = append(b, conn...)
	b = strconv.AppendInt(b, int64(r.Stream), 10)
	if ifc := r.Interface; ifc != nil {
		b = appendTitle(append(b, '\n'), 1, session.FieldInterfaceID)
		b = strconv.AppendInt(b, int64(ifc.ID), 10)
		if ifc.Name != "" {
			b = append(b, " ("...)
			b = append(b, ifc.Name...)
			b = append(b, ')')
		}
	}
	if !r.Direct {
		b = append(b, "\n    ["...)
		b = append(b, session.FieldProtocols.Title...)
		b = append(b, ": "...)
		chain := r.ProtocolChain()
		b = chain.Append(b)
		b = append(b, ']')
	}
	b = append(b, "\n    Source: "...)
	b = appendEndpoint(b, r.Src, r.SrcPort)
	b = append(b, "\n    Destination: "...)
	b = appendEndpoint(b, r.Dst, r.DstPort)
	if r.WebSocket != nil {
		b = append(b, '\n')
		b = append(b, r.WSFrame.Title()...)
		for _, l := range r.WSFrame.Lines(r.WebSocket) {
			b = append(b, "\n    "...)
			b = append(b, l...)
		}
	}
	return append(b, '\n')
}

// appendPacketTree appends the MQTT packet's subtree: its fields, each
// labelled as its declaration says (decode.AppendLabel), then its problems.
func (w *formatter) appendPacketTree(b []byte, p *decode.Packet, cut string) []byte {
	b = append(b, "MQ Telemetry Transport Protocol, "...)
	b = decode.AppendInfo(b, p)
	b = append(b, '\n')
	for i := range p.Fields {
		f := &p.Fields[i]
		b = appendIndent(b, int(f.Depth)+1)
		if w.secret(f) {
			b = append(b, "Password: "+mask+" (--show-secrets to print it)"...)
		} else {
			b = decode.AppendLabel(b, p, f)
		}
		b = append(b, '\n')
		if (f.Name == "mqtt.msg" || f.Name == "mqtt.willmsg") && Printable(f.Bytes) {
			b = appendIndent(b, int(f.Depth)+2)
			b = append(b, "[As text: "...)
			b = append(b, f.Bytes...)
			b = append(b, "]\n"...)
		}
	}
	for _, pr := range p.Problems {
		b = appendIndent(b, 1)
		if pr.Severity == decode.Malformed {
			b = append(b, "[Malformed Packet: "...)
		} else {
			b = append(b, "[Protocol Violation: "...)
		}
		b = append(b, pr.Text...)
		if pr.Rule != "" {
			b = append(b, " ("...)
			b = append(b, pr.Rule...)
			b = append(b, ')')
		}
		b = append(b, "]\n"...)
	}
	if p.Truncated {
		b = appendIndent(b, 1)
		b = append(b, '[')
		b = append(b, cut...)
		b = append(b, ": MQTT truncated, "...)
		b = strconv.AppendInt(b, int64(len(p.Raw)), 10)
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(p.HeaderLen+p.Remaining), 10)
		if cut == session.CutByCapture {
			b = append(b, " bytes captured]\n"...)
		} else {
			b = append(b, " bytes kept]\n"...)
		}
	}
	return b
}

// appendMQTapTree appends the subtree of what mqtap learned about the
// packet, when it learned something: the session, the payload's protection
// and plaintext, the findings. Lines are titled as the record's fields.
func appendMQTapTree(b []byte, r *session.Record) []byte {
	c := &r.Crypto
	f, _, _ := r.DecodedValue()
	if c.Scheme == "" && len(r.Findings) == 0 && f == payload.None {
		return b
	}
	b = append(b, "mqtap\n"...)
	b = appendField(b, 1, session.FieldSession, c.Session)
	b = appendField(b, 1, session.FieldScheme, c.Scheme)
	b = appendField(b, 1, session.FieldKex, c.Kex)
	if c.Message > 0 {
		b = appendField(b, 1, session.FieldMessage, strconv.Itoa(c.Message))
	}
	b = appendField(b, 1, session.FieldVerify, c.Verify)
	b = appendField(b, 1, session.FieldDecrypt, c.Decrypt)
	b = appendField(b, 2, session.FieldDecryptError, c.Reason)
	b = appendField(b, 2, session.FieldKey, c.Key)
	b = appendField(b, 2, session.FieldKDF, c.KDF)
	if !c.TokenTime.IsZero() {
		b = appendField(b, 2, session.FieldTokenTime, c.TokenTime.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if len(c.Plaintext) > 0 {
		start := len(b)
		if utf8.Valid(c.Plaintext) {
			b = appendTitle(b, 2, session.FieldPlaintext)
			b = append(b, c.Plaintext...)
			b = escapeControls(b, start)
		} else {
			b = appendTitle(b, 2, session.FieldPlaintextHex)
			b = hex.AppendEncode(b, c.Plaintext)
		}
		b = append(b, '\n')
	}
	b = appendValueTree(b, 1, r)
	for _, f := range r.Findings {
		b = appendTitle(b, 1, session.FieldFindings)
		b = append(b, f.Code.String()...)
		b = append(b, ": "...)
		b = append(b, f.Text...)
		b = append(b, '\n')
	}
	return b
}

// Printable reports whether b is non-empty UTF-8 text without control
// characters other than tab, worth showing as text on one line (the
// "[As text: ...]" line of a payload in the detail tree).
func Printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
}

// appendJSON appends a record as one flat JSON object: each field name once,
// a name with several values as an array, in the order first seen.
func (w *formatter) appendJSON(b []byte, r *session.Record) []byte {
	b = append(b, '{')
	first := true
	all := w.all[:0]
	r.Each(func(f *decode.Field) {
		if f.Kind != decode.KindNone {
			all = append(all, f)
		}
	})
	w.all = all
	for i, f := range all {
		if seenBefore(all[:i], f.Name) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		n := 0
		for _, g := range all[i:] {
			if g.Name == f.Name {
				n++
			}
		}
		if n == 1 {
			b = w.appendJSONValue(b, f)
			continue
		}
		b = append(b, '[')
		k := 0
		for _, g := range all[i:] {
			if g.Name != f.Name {
				continue
			}
			if k > 0 {
				b = append(b, ',')
			}
			k++
			b = w.appendJSONValue(b, g)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func seenBefore(fs []*decode.Field, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

func (w *formatter) appendJSONValue(b []byte, f *decode.Field) []byte {
	if w.secret(f) {
		return appendJSONString(b, mask)
	}
	switch f.Kind {
	case decode.KindUint:
		return strconv.AppendUint(b, f.Uint, 10)
	case decode.KindBool:
		return strconv.AppendBool(b, f.Uint != 0)
	case session.KindNumber, session.KindJSON:
		return append(b, f.Bytes...)
	case decode.KindString:
		return appendJSONString(b, string(f.Bytes))
	default:
		b = append(b, '"')
		b = hex.AppendEncode(b, f.Bytes)
		return append(b, '"')
	}
}

// appendPlain appends a field value as text, as -T fields prints it.
func (w *formatter) appendPlain(b []byte, f *decode.Field) []byte {
	if w.secret(f) {
		return append(b, mask...)
	}
	switch f.Kind {
	case decode.KindUint:
		return strconv.AppendUint(b, f.Uint, 10)
	case decode.KindBool:
		if f.Uint != 0 {
			return append(b, "True"...)
		}
		return append(b, "False"...)
	case decode.KindBytes:
		return hex.AppendEncode(b, f.Bytes)
	default:
		return append(b, f.Bytes...)
	}
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func appendEndpoint(b []byte, a netip.Addr, port uint16) []byte {
	return netip.AddrPortFrom(a.Unmap(), port).AppendTo(b)
}

func appendPadLeft(b, s []byte, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func appendPadRight(b, s []byte, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return b
}

func appendIndent(b []byte, depth int) []byte {
	for i := 0; i < depth; i++ {
		b = append(b, "    "...)
	}
	return b
}
