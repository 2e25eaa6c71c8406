// Package export writes pcapng exports of a capture file.
//
// It reads the file two or three times. The first pass runs the capture
// through the pipeline and the analysis stages, as mqtap read does, and hands
// every record to a Collector. The Collector remembers, in bitmaps, the
// frames that carry the selected MQTT packets and the connections they belong
// to, and spools to a temporary file one comment per MQTT packet whose
// payload mqtap decrypted or verified. It never keeps a frame.
//
// Then one of:
//   - Frames runs the pipeline again, without the analysis, to find the
//     earlier segments of the selected packets (and with WithContext every
//     frame of the selected connections), then copies those frames byte
//     for byte, with their original timestamps and interfaces (link types),
//     each annotated with pcapng packet comments (Wireshark's
//     frame.comment), after the TLS key logs as a Decryption Secrets Block.
//   - Decrypted runs the pipeline and the analysis again and writes a
//     re-synthesised Ethernet capture in which every selected connection is
//     rebuilt from its MQTT control packets, each decrypted PUBLISH payload
//     replaced by its plaintext, with consistent TCP sequence numbers, IP
//     lengths and checksums, so that Wireshark decodes the plaintext
//     natively.
package export

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// Collector is the first pass of an export: it watches the records of one
// run of the pipeline, in capture order and after the analysis stages, and
// remembers what the other passes need. Its memory is a bit per frame and
// per connection and a counter per connection; the comments of the frames
// mqtap annotates wait in a temporary file, removed by Close.
type Collector struct {
	// Select chooses the MQTT packets to export (a display filter); nil
	// selects every MQTT packet. A frame is exported when any packet it
	// completes is selected, a connection when any of its packets is.
	Select func(*session.Record) bool
	// NoComments skips the comments, for an export that writes none
	// (Decrypted).
	NoComments bool

	frames  bitmap
	streams bitmap
	// splitConnect marks the connections whose CONNECT was not whole in
	// its frame (Record.InFrame).
	splitConnect bitmap
	comments     spool   // one comment per annotated MQTT packet
	packets      []int32 // MQTT packets per tcp.stream
	lastSel      []int32 // highest selected frame per tcp.stream
	connect      []int32 // frame of the CONNECT of each tcp.stream
	last         []int32 // last TCP frame of each tcp.stream, when known (Hook)
	selected     int     // selected MQTT packets
	// lastSplit is the highest frame of a selected packet, or of the
	// CONNECT of a selected MQTT 5 packet, that may need earlier frames
	// (Record.InFrame unset); 0 when none does.
	lastSplit int
	maxFrame  int // highest selected frame
}

// NewCollector returns a collector for the packets sel selects (nil: every
// MQTT packet).
func NewCollector(sel func(*session.Record) bool) *Collector {
	return &Collector{Select: sel}
}

// Close removes the temporary file of the comments.
func (c *Collector) Close() error { return c.comments.close() }

// Hook returns opts with an OnTCPFrame that also tells the collector the
// last frame of each connection (calling the one opts already has), so that
// the second pass of a WithContext export stops reading once every selected
// connection has ended. Optional.
func (c *Collector) Hook(opts session.Options) session.Options {
	return opts.AlsoOnTCPFrame(func(f session.TCPFrame) {
		c.last = grow(c.last, f.Stream)
		c.last[f.Stream] = int32(min(f.Frame, math.MaxInt32))
	})
}

// Observe takes one record of the first pass. A selected packet of an MQTT
// 5 connection also selects the frame of the connection's CONNECT, without
// which Wireshark decodes the packet as MQTT 3.1.1 and finds it malformed.
func (c *Collector) Observe(r *session.Record) {
	c.packets = grow(c.packets, r.Stream)
	c.packets[r.Stream]++
	if r.Packet.Type == decode.CONNECT && r.Packet.FromClient {
		c.connect = grow(c.connect, r.Stream)
		c.connect[r.Stream] = int32(min(r.Frame, math.MaxInt32))
		if !r.InFrame {
			c.splitConnect.set(r.Stream)
		}
	}
	if !c.NoComments {
		if s := Comment(r); s != "" {
			c.comments.add(r.Frame, s)
		}
	}
	if c.Select != nil && !c.Select(r) {
		return
	}
	c.selected++
	if !r.InFrame {
		c.lastSplit = max(c.lastSplit, r.Frame)
	}
	c.frames.set(r.Frame)
	if r.Packet.Version == decode.V5 && r.Stream < len(c.connect) && c.connect[r.Stream] > 0 {
		// Wireshark decodes MQTT 5 properties only once it has seen the
		// connection's CONNECT.
		c.frames.set(int(c.connect[r.Stream]))
		if c.splitConnect.has(r.Stream) {
			c.lastSplit = max(c.lastSplit, int(c.connect[r.Stream])) // its earlier segments are needed too
		}
	}
	c.streams.set(r.Stream)
	c.maxFrame = max(c.maxFrame, r.Frame)
	c.lastSel = grow(c.lastSel, r.Stream)
	c.lastSel[r.Stream] = int32(min(max(int(c.lastSel[r.Stream]), r.Frame), math.MaxInt32))
}

// Selected is the number of MQTT packets selected so far.
func (c *Collector) Selected() int { return c.selected }

// Connections is the number of connections with a selected packet.
func (c *Collector) Connections() int { return c.streams.count() }

// lastFrame is the frame after which the second pass has nothing left to
// find: without context, the last selected packet that may need earlier
// frames (the others need only their own, already in c.frames).
func (c *Collector) lastFrame(withContext bool) int {
	if !withContext {
		return c.lastSplit
	}
	if c.last == nil {
		return math.MaxInt
	}
	end := c.maxFrame
	for s, f := range c.last {
		if c.streams.has(s) {
			end = max(end, int(f))
		}
	}
	return end
}

// grow extends s so that s[i] exists.
func grow(s []int32, i int) []int32 {
	if i < len(s) {
		return s
	}
	if i < cap(s) {
		return s[:i+1]
	}
	n := make([]int32, i+1, max(2*cap(s), i+1, 64))
	copy(n, s)
	return n
}

// maxPlaintext is how much of a plaintext a comment quotes.
const maxPlaintext = 256

// Comment is the packet comment an export gives the frame of a record:
// what mqtap learned about the protection of its payload, e.g.
//
//	mqtap: le0nh4rt#1 dh-fernet ok: "Networking is the best!"
//	mqtap: ecdsa ok: "Testmessage_11"
//	mqtap: hmac-sha256+rsa-oaep verify bad: HMAC-sha256 mismatch ...
//	mqtap: le0nh4rt#1 dh-fernet key exchange response [kex.mitm]
//
// (session, scheme, outcome, then the plaintext, quoted when it is UTF-8 and
// cut after 256 bytes, or the reason of a failure, then the finding codes).
// It is "" for a record without a scheme.
func Comment(r *session.Record) string {
	c := &r.Crypto
	if c.Scheme == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("mqtap: ")
	if c.Session != "" {
		b.WriteString(c.Session)
		b.WriteByte(' ')
	}
	b.WriteString(c.Scheme)
	okPlain := false
	switch {
	case c.Kex != "":
		b.WriteString(" key exchange ")
		b.WriteString(c.Kex)
	case c.Verify == "" && c.Decrypt == "":
	case (c.Verify == "" || c.Verify == "ok") && (c.Decrypt == "" || c.Decrypt == "ok"):
		b.WriteString(" ok")
		okPlain = true
	default:
		if c.Verify != "" {
			b.WriteString(" verify ")
			b.WriteString(c.Verify)
		}
		if c.Decrypt != "" {
			if c.Verify != "" {
				b.WriteByte(',')
			}
			b.WriteString(" decrypt ")
			b.WriteString(c.Decrypt)
		}
	}
	switch {
	case okPlain:
		b.WriteString(": ")
		writePlaintext(&b, c.Plaintext)
	case c.Reason != "":
		b.WriteString(": ")
		b.WriteString(c.Reason)
	}
	if len(r.Findings) > 0 {
		b.WriteString(" [")
		for i, f := range r.Findings {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Code.String())
		}
		b.WriteByte(']')
	}
	return b.String()
}

// writePlaintext quotes p (hex when it is not UTF-8), cut after
// maxPlaintext bytes.
func writePlaintext(b *strings.Builder, p []byte) {
	cut := p
	if len(cut) > maxPlaintext {
		n := maxPlaintext
		for n > 0 && !utf8.RuneStart(cut[n]) {
			n--
		}
		cut = cut[:n]
	}
	if utf8.Valid(p) {
		b.WriteString(strconv.Quote(string(cut)))
	} else {
		b.WriteString("hex ")
		const digits = "0123456789abcdef"
		for _, x := range cut {
			b.WriteByte(digits[x>>4])
			b.WriteByte(digits[x&15])
		}
	}
	if len(cut) < len(p) {
		b.WriteString("… (")
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteString(" bytes)")
	}
}

// bitmap is a growable set of small non-negative integers.
type bitmap []uint64

func (m *bitmap) set(i int) {
	w := i / 64
	if w >= len(*m) {
		if w < cap(*m) {
			*m = (*m)[:w+1]
		} else {
			n := make([]uint64, w+1, max(2*cap(*m), w+1, 16))
			copy(n, *m)
			*m = n
		}
	}
	(*m)[w] |= 1 << (i % 64)
}

func (m bitmap) has(i int) bool {
	w := i / 64
	return i >= 0 && w < len(m) && m[w]&(1<<(i%64)) != 0
}

func (m bitmap) count() int {
	n := 0
	for _, w := range m {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}
