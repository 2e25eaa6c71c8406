// Package connections builds the table of a capture's MQTT connections:
// Wireshark's Statistics → Conversations for MQTT, one row per client
// connection, with its client id, user name, protocol version, addresses,
// transport, packets, frames and bytes each way, start and duration, how it
// ended and its findings. `mqtap sessions --connections` prints it and the
// terminal UI's conversations view (C) shows it.
//
// A Table takes the pipeline's records and, when it can, its TCP frames
// (Options.OnTCPFrame, see Hook), in capture order. Frames and bytes are
// those of every TCP frame of the connection and their length on the wire,
// as `tshark -z conv,tcp` counts them; without TCP frames (mqtap tap, or a
// table fed records only) they are those of the frames that completed an
// MQTT packet. The table is bounded (Max) and is not safe for concurrent
// use.
package connections

import (
	"net/netip"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// DefaultMax is the number of connections a Table lists when Max is 0.
const DefaultMax = 1_000_000

// Table is the connections of a capture, see the package documentation.
// The zero Table is ready to use.
type Table struct {
	// Max bounds the connections listed (0: DefaultMax); the ones past it
	// are counted in Omitted. Set it before the first call.
	Max int

	chunks   [][]conn        // the rows, chunkSize a chunk: appending never moves them
	n        int             // rows
	byStream []int32         // tcp.stream -> row+1; -1 when the connection is past Max; 0 unknown
	pending  map[int32]*conn // TCP frames of connections without an MQTT record yet
	omitted  int             // connections past Max
	origin   time.Time       // the capture's first frame, from the first record
	last     time.Time       // the latest capture time seen
	gen      uint64          // counts the changes
}

// Direction indexes of Conn's counters.
const (
	ToBroker = 0 // sent by the client
	ToClient = 1 // sent by the broker
)

// transport bits of a connection.
const (
	overTLS uint8 = 1 << iota
	overWS
	direct
)

// conn is one row while the table is built.
type conn struct {
	stream    int32
	version   uint8 // decode.V31, V311 or V5; 0 unknown
	sure      bool  // version read from a CONNECT or known to the decoder
	transport uint8
	framed    bool // TCP frames are counted (else the frames of the records)
	clientIsA int8 // 1: a is the client, 0: b is, -1 unknown
	closeRST  bool
	closer    int8  // who sent the first FIN or RST: 0 a, 1 b
	discBy    int8  // who sent the first DISCONNECT: 0 none, 1 client, 2 broker
	discCode  int16 // its MQTT 5 reason code, -1 when none
	keepAlive int32 // the CONNECT's Keep Alive in seconds, -1 when none was seen
	serverKA  int32 // the CONNACK's Server Keep Alive, -1 when none

	a, b               netip.AddrPort // a sent the first frame (or record) seen
	clientID, userName string

	packets    [2]int   // MQTT packets, by ToBroker / ToClient
	frames     [2]int   // frames by sender: [0] a, [1] b
	bytes      [2]int64 // their lengths on the wire
	start, end int64    // capture times of the first and last frame or record, Unix ns
	lastClient int64    // capture time of the client's last MQTT packet (0: none)
	firstFrame int
	discFrame  int
	closeFrame int
	closeTime  int64
	findings   []Finding
}

// Finding is one finding code of a connection and how many of its records
// carry it.
type Finding struct {
	Code  string `json:"code"`
	Count int    `json:"count"`
}

// max is the number of rows the table lists.
func (t *Table) max() int {
	if t.Max > 0 {
		return t.Max
	}
	return DefaultMax
}

// Hook returns opts with an OnTCPFrame that also feeds the table (any
// OnTCPFrame opts had is still called).
func (t *Table) Hook(opts session.Options) session.Options {
	return opts.AlsoOnTCPFrame(t.Frame)
}

// Gen counts the changes to the table: a reader whose copy was made at the
// same Gen need not copy it again.
func (t *Table) Gen() uint64 { return t.gen }

// Len is the number of connections listed.
func (t *Table) Len() int { return t.n }

// Omitted is the number of MQTT connections past Max, not listed.
func (t *Table) Omitted() int { return t.omitted }

// Frame counts one TCP frame (the pipeline's Options.OnTCPFrame).
func (t *Table) Frame(f session.TCPFrame) {
	t.seen(f.Time)
	s := int32(f.Stream)
	var c *conn
	switch i := t.index(s); {
	case i > 0:
		c = t.at(i - 1)
	case i < 0:
		return
	case f.NotMQTT:
		delete(t.pending, s)
		return
	default:
		if c = t.pending[s]; c == nil {
			if c = t.newPending(s); c == nil {
				return
			}
		}
	}
	c.frame(&f)
	t.gen++
}

// newPending starts following the frames of a connection without an MQTT
// record yet; nil when the table follows Max of them already (those whose
// close was seen are then forgotten).
func (t *Table) newPending(s int32) *conn {
	if t.pending == nil {
		t.pending = make(map[int32]*conn)
	}
	if len(t.pending) >= t.max() {
		for k, c := range t.pending {
			if c.closeFrame != 0 {
				delete(t.pending, k)
			}
		}
		if len(t.pending) >= t.max() {
			return nil
		}
	}
	c := newConn(s)
	t.pending[s] = c
	return c
}

// newConn returns the empty connection of stream s.
func newConn(s int32) *conn {
	c := new(conn)
	c.init(s)
	return c
}

// init makes c the empty connection of stream s.
func (c *conn) init(s int32) {
	*c = conn{stream: s, clientIsA: -1, discCode: -1, keepAlive: -1, serverKA: -1}
}

// chunkSize is the number of rows of a chunk.
const chunkSize = 4096

// at returns row i.
func (t *Table) at(i int) *conn { return &t.chunks[i/chunkSize][i%chunkSize] }

// add appends an empty row and returns it.
func (t *Table) add() *conn {
	if t.n%chunkSize == 0 {
		t.chunks = append(t.chunks, make([]conn, chunkSize))
	}
	t.n++
	return t.at(t.n - 1)
}

// index returns the row of stream s plus one, -1 when it is past Max, 0
// when it has none.
func (t *Table) index(s int32) int {
	if s < 0 || int(s) >= len(t.byStream) {
		return 0
	}
	return int(t.byStream[s])
}

// setIndex sets what index returns for stream s.
func (t *Table) setIndex(s int32, v int32) {
	if s < 0 {
		return
	}
	for int(s) >= len(t.byStream) {
		t.byStream = append(t.byStream, make([]int32, max(64, len(t.byStream)))...)
	}
	t.byStream[s] = v
}

// seen moves the table's clock.
func (t *Table) seen(at time.Time) {
	if at.After(t.last) {
		t.last = at
	}
}

// Record adds an MQTT record, in capture order.
func (t *Table) Record(r *session.Record) {
	t.seen(r.Time)
	if t.origin.IsZero() {
		t.origin = r.Time.Add(-r.Relative)
	}
	s := int32(r.Stream)
	var c *conn
	switch i := t.index(s); {
	case i > 0:
		c = t.at(i - 1)
	case i < 0:
		return
	default:
		if t.n >= t.max() {
			t.omitted++
			t.setIndex(s, -1)
			delete(t.pending, s)
			return
		}
		c = t.add()
		if p := t.pending[s]; p != nil {
			*c = *p
			delete(t.pending, s)
		} else {
			c.init(s)
		}
		t.setIndex(s, int32(t.n))
	}
	c.record(r)
	t.gen++
}

// endpoint returns ap with an IPv4-mapped address unmapped, as the
// pipeline's endpoints are compared.
func endpoint(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// side returns the index of the sender ap: 0 for a (which the first sender
// becomes), 1 for b.
func (c *conn) side(ap netip.AddrPort) int {
	switch {
	case !c.a.IsValid():
		c.a = ap
		return 0
	case ap == c.a:
		return 0
	}
	if !c.b.IsValid() {
		c.b = ap
	}
	return 1
}

// at notes a capture time.
func (c *conn) at(ns int64) {
	if c.start == 0 || ns < c.start {
		c.start = ns
	}
	c.end = max(c.end, ns)
}

// frame counts one TCP frame.
func (c *conn) frame(f *session.TCPFrame) {
	src := endpoint(f.Src)
	i := c.side(src)
	c.framed = true
	c.frames[i]++
	c.bytes[i] += int64(f.Len)
	ns := f.Time.UnixNano()
	c.at(ns)
	if c.firstFrame == 0 || f.Frame < c.firstFrame {
		c.firstFrame = f.Frame
	}
	if (f.FIN || f.RST) && c.closeFrame == 0 {
		c.closeFrame, c.closeTime, c.closer, c.closeRST = f.Frame, ns, int8(i), f.RST
	}
}

// record adds what an MQTT record tells about its connection.
func (c *conn) record(r *session.Record) {
	src, dst := endpoint(netip.AddrPortFrom(r.Src, r.SrcPort)), endpoint(netip.AddrPortFrom(r.Dst, r.DstPort))
	i := c.side(src)
	if !c.b.IsValid() && dst != c.a {
		c.b = dst
	}
	p := &r.Packet
	if c.clientIsA < 0 || p.Type == decode.CONNECT {
		if (i == 0) == p.FromClient {
			c.clientIsA = 1
		} else {
			c.clientIsA = 0
		}
	}
	ns := r.Time.UnixNano()
	c.at(ns)
	if c.firstFrame == 0 || r.Frame < c.firstFrame && !r.Direct {
		c.firstFrame = r.Frame
	}
	if !c.framed && r.Index == 0 {
		c.frames[i]++
		c.bytes[i] += int64(r.FrameLen)
	}
	dir := ToClient
	if p.FromClient {
		dir = ToBroker
		c.lastClient = max(c.lastClient, ns)
	}
	c.packets[dir]++
	c.transportOf(r)
	if !c.sure && p.Version != 0 {
		c.version, c.sure = p.Version, !p.Unknown
	}
	c.control(r)
	for _, f := range r.Findings {
		c.addFinding(f.Code.String())
	}
}

// transportOf notes what the record came in.
func (c *conn) transportOf(r *session.Record) {
	if r.Direct {
		c.transport |= direct
	}
	if r.TLSVersion != 0 {
		c.transport |= overTLS
	}
	if ws := r.WebSocket; ws != nil {
		c.transport |= overWS
		if ws.TLS {
			c.transport |= overTLS
		}
	}
}

// control reads CONNECT, CONNACK and DISCONNECT.
func (c *conn) control(r *session.Record) {
	p := &r.Packet
	switch p.Type {
	case decode.CONNECT:
		if !p.FromClient {
			return
		}
		if p.Version != 0 {
			c.version, c.sure = p.Version, true
		}
		if f := p.Field("mqtt.clientid"); f != nil {
			c.clientID = string(f.Bytes)
		}
		if f := p.Field("mqtt.username"); f != nil {
			c.userName = string(f.Bytes)
		}
		if f := p.Field("mqtt.kalive"); f != nil {
			c.keepAlive = int32(f.Uint)
		}
	case decode.CONNACK:
		if f := p.Field("mqtt.property.server_keep_alive"); f != nil && !p.FromClient {
			c.serverKA = int32(f.Uint)
		}
	case decode.DISCONNECT:
		if c.discBy != 0 && c.discFrame <= r.Frame {
			return
		}
		c.discFrame, c.discBy, c.discCode = r.Frame, 2, -1
		if p.FromClient {
			c.discBy = 1
		}
		if f := p.Field("mqtt.disconnect.reason_code"); f != nil {
			c.discCode = int16(f.Uint)
		}
	}
}

// addFinding counts a finding code.
func (c *conn) addFinding(code string) {
	for i := range c.findings {
		if c.findings[i].Code == code {
			c.findings[i].Count++
			return
		}
	}
	c.findings = append(c.findings, Finding{Code: code, Count: 1})
}
