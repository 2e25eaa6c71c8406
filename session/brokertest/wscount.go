package brokertest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mqtap/mqtap/decode"
)

// ErrShortHeader is returned by PacketLen when b does not hold a whole
// fixed header yet.
var ErrShortHeader = errors.New("incomplete MQTT fixed header")

// PacketType returns the number of an MQTT control packet type named name
// (CONNECT, connack, …); ok is false for any other name.
func PacketType(name string) (byte, bool) {
	for t := decode.CONNECT; t <= decode.AUTH; t++ {
		if strings.EqualFold(t.String(), name) {
			return byte(t), true
		}
	}
	return 0, false
}

// PacketLen reads the MQTT fixed header at the start of b: the packet's
// type and its whole length (fixed header included). It returns
// ErrShortHeader while the header is incomplete and an error for a
// Remaining Length of more than four bytes. It is the bridge's own reading
// of MQTT, independent of mqtap's decoder.
func PacketLen(b []byte) (total int, typ byte, err error) {
	if len(b) < 2 {
		return 0, 0, ErrShortHeader
	}
	n, mult := 0, 1
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrShortHeader
		}
		n += int(b[i]&0x7F) * mult
		if b[i]&0x80 == 0 {
			return 1 + i + n, b[0] >> 4, nil
		}
		mult *= 128
	}
	return 0, 0, fmt.Errorf("MQTT Remaining Length longer than 4 bytes (first byte 0x%02x)", b[0])
}

// PacketCounts are MQTT control packets counted by type.
type PacketCounts [16]int

// String is "CONNECT 1, PUBLISH 2" (types in numeric order, zero counts
// left out), "none" when nothing was counted.
func (c PacketCounts) String() string {
	var b strings.Builder
	for i, n := range c {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", strings.ToUpper(decode.Type(i).String()), n)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Total is the number of packets counted.
func (c PacketCounts) Total() int {
	t := 0
	for _, n := range c {
		t += n
	}
	return t
}

// stream follows one direction of an MQTT connection given in pieces of
// any size: it counts the packets by type and reads the client identifier
// of a CONNECT. It keeps the fixed header and, for a CONNECT, the body (at
// most maxConnect bytes; a longer CONNECT is counted, its client ID not
// read); other bodies are skipped, so its memory is bounded.
type stream struct {
	counts   PacketCounts
	clientID string
	hasID    bool
	err      error // a malformed fixed header: the stream is not followed further

	hdr    [5]byte
	nhdr   int
	typ    byte
	remain int    // body bytes of the current packet still to come
	body   []byte // the CONNECT being collected
	keep   bool   // collecting the body
}

// maxConnect is the longest CONNECT body whose client ID stream reads.
const maxConnect = 64 << 10

// write feeds the next bytes of the direction.
func (s *stream) write(p []byte) {
	for len(p) > 0 && s.err == nil {
		if s.remain > 0 {
			n := min(s.remain, len(p))
			if s.keep {
				s.body = append(s.body, p[:n]...)
			}
			s.remain -= n
			p = p[n:]
			if s.remain == 0 {
				s.done()
			}
			continue
		}
		s.hdr[s.nhdr] = p[0]
		s.nhdr++
		p = p[1:]
		total, typ, err := PacketLen(s.hdr[:s.nhdr])
		if errors.Is(err, ErrShortHeader) {
			continue
		}
		if err != nil {
			s.err = err
			return
		}
		s.typ, s.remain, s.nhdr = typ, total-s.nhdr, 0
		s.keep = typ == 1 && !s.hasID && s.remain <= maxConnect
		s.body = s.body[:0]
		if s.remain == 0 {
			s.done()
		}
	}
}

// done counts the packet whose body just ended.
func (s *stream) done() {
	s.counts[s.typ]++
	if s.keep {
		if id, ok := connectClientID(s.body); ok {
			s.clientID, s.hasID = id, true
		}
		s.keep = false
		s.body = s.body[:0]
	}
}

// connectClientID reads the client identifier of a CONNECT packet's body
// (after the fixed header) of MQTT 3.1, 3.1.1 or 5; ok is false when the
// body is too short or malformed to hold one.
func connectClientID(body []byte) (string, bool) {
	if len(body) < 2 {
		return "", false
	}
	nameLen := int(body[0])<<8 | int(body[1])
	i := 2 + nameLen
	if i+4 > len(body) {
		return "", false
	}
	level := body[i]
	i += 4 // protocol level, connect flags, keep alive
	if level == 5 {
		n, k, ok := varint(body[i:])
		if !ok {
			return "", false
		}
		i += k + n
	}
	if i+2 > len(body) || i+2 < 0 {
		return "", false
	}
	idLen := int(body[i])<<8 | int(body[i+1])
	i += 2
	if i+idLen > len(body) {
		return "", false
	}
	return string(body[i : i+idLen]), true
}

// varint decodes a Variable Byte Integer: its value and length.
func varint(b []byte) (n, k int, ok bool) {
	mult := 1
	for k < len(b) && k < 4 {
		n += int(b[k]&0x7F) * mult
		mult *= 128
		k++
		if b[k-1]&0x80 == 0 {
			return n, k, true
		}
	}
	return 0, 0, false
}
