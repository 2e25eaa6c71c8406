package session

import (
	"crypto/x509"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/keys"
)

// DefaultPorts returns the TCP ports decoded as MQTT without detection:
// MQTT, the secure MQTT lab's broker, and MQTT over TLS. Each call returns
// a new slice.
func DefaultPorts() []uint16 { return []uint16{1883, 1884, 8883} }

// Options configure a Pipeline.
type Options struct {
	// Ports are decoded as MQTT without detection, in addition to
	// DefaultPorts (tshark's -d tcp.port==N,mqtt).
	Ports []uint16
	// WSPorts are decoded as MQTT over WebSocket (an HTTP upgrade, then
	// WebSocket frames carrying MQTT) without detection (-d
	// tcp.port==N,websocket).
	WSPorts []uint16
	// MaxHeld caps the out-of-order data held behind holes, in bytes,
	// across all connections (0: 32 MiB); a quarter of it per direction of
	// a connection. A hole whose data reaches the cap is given up, and the
	// gap's finding says so.
	MaxHeld int
	// MaxQueued caps the bytes of the MQTT packets that wait, in frame
	// order, for held data of earlier frames (0: 16 MiB). Past it the
	// holes are given up.
	MaxQueued int
	// MaxPacket caps the bytes of one MQTT packet held while it arrives
	// (0: DefaultMaxPacket). A larger packet is decoded from its first MaxPacket
	// bytes as soon as they are there, the rest of it is skipped, and its
	// record carries an mqtap.limit finding.
	MaxPacket int
	// FlushAfter is how long, in capture time, out-of-order data waits for a
	// missing segment before the gap is given up (0: 30s). Most holes are
	// given up sooner: when the peer acknowledges past them, or on FIN or
	// RST.
	FlushAfter time.Duration
	// CloseAfter is how long, in capture time, an idle connection is kept
	// (0: 10 minutes).
	CloseAfter time.Duration
	// OnTCPFrame, when set, is called for every frame that carries TCP
	// (exports keep whole connections and the frames packets depend on).
	OnTCPFrame func(TCPFrame)
	// Keys holds the TLS key logs that decrypt MQTT over TLS and the
	// keyring's CA file that broker certificates are verified against
	// (with the system roots). Nil: TLS is followed but not decrypted.
	Keys *keys.Store
	// ReloadKeys reads the key files again when a TLS connection's secrets
	// are missing (live captures: SSLKEYLOGFILE grows as clients connect).
	ReloadKeys bool
	// OnFinding receives the findings about a connection that no MQTT
	// record carries (a TLS connection without its key log: its
	// certificate audit), with the frame they were seen in.
	OnFinding func(f Finding, frame int)
	// Idle, when set, is called whenever the source has handed over
	// everything that has arrived and is about to wait for more (a pipe, a
	// live interface, a broker): the moment to write out buffered output.
	// An error stops the source.
	Idle func() error
}

// AlsoOnTCPFrame returns opts with fn called for every frame that carries
// TCP, after the OnTCPFrame opts already had: several sinks watch the
// frames of one run.
func (opts Options) AlsoOnTCPFrame(fn func(TCPFrame)) Options {
	prev := opts.OnTCPFrame
	if prev == nil {
		opts.OnTCPFrame = fn
		return opts
	}
	opts.OnTCPFrame = func(f TCPFrame) {
		prev(f)
		fn(f)
	}
	return opts
}

// TCPFrame is a frame that carries a TCP segment, as Options.OnTCPFrame
// sees it.
type TCPFrame struct {
	Frame   int            // frame number
	Time    time.Time      // its capture time
	Stream  int            // tcp.stream
	Src     netip.AddrPort // sender
	Seq     uint32         // sequence number
	SYN     bool
	FIN     bool
	RST     bool
	Payload int // bytes of TCP payload on the wire
	Len     int // the frame's length on the wire (frame.len)
	// NotMQTT is set once the connection was found to carry something
	// else than MQTT (directly, in TLS or in WebSocket).
	NotMQTT bool
}

// Handler receives each MQTT control packet. The Record is reused after the
// call returns. A non-nil error stops the pipeline and is returned by Frame.
type Handler func(*Record) error

// Stats counts what a pipeline has seen.
type Stats struct {
	Frames      int       // frames read
	TCPSegments int       // frames carrying TCP
	Undecodable int       // frames whose link or IP layer could not be decoded
	Unsupported int       // frames on interfaces whose link type mqtap does not decode
	Encrypted   int       // protected 802.11 frames: mqtap does not decrypt 802.11
	Fragments   int       // IP fragments
	Datagrams   int       // IP datagrams reassembled from them
	Streams     int       // TCP connections seen
	MQTTStreams int       // TCP connections carrying MQTT
	Packets     int       // MQTT control packets
	Malformed   int       // MQTT control packets reported malformed
	GapBytes    int       // bytes lost to gaps in the capture
	SnapCut     int       // bytes the snap length cut off captured segments
	Truncated   int       // MQTT packets reported with only the bytes captured (a gap or the snap length)
	Skipped     int       // bytes skipped while resynchronising on a packet boundary
	Incomplete  int       // MQTT packets cut off by the end of their connection or capture
	CapsReached int       // holes given up because held data reached its cap
	Limits      int       // mqtap.limit findings raised: packets cut at Options.MaxPacket, connections past the TLS and WebSocket lists
	TLS         []TLSInfo // TLS connections, with their handshakes and whether they were decrypted
	WebSocket   []WSInfo  // WebSocket connections, with their handshakes
}

// DefaultMaxPacket is Options.MaxPacket's default: 4 MiB, above what MQTT
// clients send (cloud brokers cap messages at 128 or 256 KB; a camera's
// snapshot takes a few hundred), and small enough that connections
// declaring packets of up to 256 MB that never end cannot exhaust memory
// (Suricata caps at 1 MB).
const DefaultMaxPacket = 4 << 20

// Pipeline turns captured frames into MQTT records.
type Pipeline struct {
	opts    Options
	handler Handler
	ports   [65536 / 64]uint64 // bitmap of MQTT ports
	wsPorts [65536 / 64]uint64 // bitmap of the ports forced to MQTT over WebSocket

	ifaces []*iface // by interface id
	flows  flowTable
	idle   idleList // the connections of flows, least recently active first
	cur    frameCtx // the frame being read
	// own is set while a segment's own bytes are fed, starting exactly at
	// the next expected sequence number (not held ones, not a replay):
	// what Record.InFrame needs.
	own bool
	// inFrame is set while parse delivers the packets of such bytes when
	// they start on a packet boundary.
	inFrame bool

	holders []holder // directions holding data of earlier frames (order.go)
	queue   []queued // packets waiting for earlier frames, in frame order
	held    int      // bytes held behind holes, all connections
	queued  int      // bytes of the packets in queue
	// unblocking is set while unblock runs (it queues packets itself).
	unblocking bool
	defrag     *Defragmenter // IP fragments, made at the first one

	first    time.Time
	now      time.Time
	lastScan time.Time

	rec      Record
	err      error
	stats    Stats
	rootPool *x509.CertPool  // certificate roots, built on first use
	tlsInfos []*TLSInfo      // TLS connections, for Stats
	wsInfos  []*WSInfo       // WebSocket connections, for Stats
	capped   map[string]bool // the lists of connections past maxTLSInfos (unlisted)
}

// NewPipeline returns a pipeline for frames of the given link type (on
// interface 0, as a pcap file or a live capture has), or an error naming
// the link type when mqtap cannot decode it.
func NewPipeline(link layers.LinkType, opts Options, h Handler) (*Pipeline, error) {
	p := New(opts, h)
	if err := p.AddInterface(Interface{Link: link}); err != nil {
		return nil, err
	}
	return p, nil
}

// New returns a pipeline that hands each MQTT control packet to h. It
// knows no interface yet: declare them with AddInterface, or Attach a
// capture file's reader.
func New(opts Options, h Handler) *Pipeline {
	p := &Pipeline{opts: opts, handler: h, flows: newFlowTable()}
	if p.opts.MaxHeld == 0 {
		p.opts.MaxHeld = 32 << 20
	}
	if p.opts.MaxPacket <= 0 {
		p.opts.MaxPacket = DefaultMaxPacket
	}
	if p.opts.MaxQueued == 0 {
		p.opts.MaxQueued = 16 << 20
	}
	if p.opts.FlushAfter == 0 {
		p.opts.FlushAfter = 30 * time.Second
	}
	if p.opts.CloseAfter == 0 {
		p.opts.CloseAfter = 10 * time.Minute
	}
	for _, port := range DefaultPorts() {
		p.setPort(port)
	}
	for _, port := range opts.Ports {
		p.setPort(port)
	}
	for _, port := range opts.WSPorts {
		p.wsPorts[port/64] |= 1 << (port % 64)
	}
	return p
}

func (p *Pipeline) setPort(port uint16) { p.ports[port/64] |= 1 << (port % 64) }

// isWSPort reports whether port is forced to MQTT over WebSocket.
func (p *Pipeline) isWSPort(port uint16) bool { return p.wsPorts[port/64]&(1<<(port%64)) != 0 }

// IsMQTTPort reports whether port is decoded as MQTT without detection.
func (p *Pipeline) IsMQTTPort(port uint16) bool { return p.ports[port/64]&(1<<(port%64)) != 0 }

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	st := p.stats
	st.TLS = p.tlsConnections()
	st.WebSocket = make([]WSInfo, len(p.wsInfos))
	for i, w := range p.wsInfos {
		st.WebSocket[i] = *w
	}
	return st
}

// Frame processes one captured frame; ci.InterfaceIndex names its
// interface. It returns the handler's error, if any; a frame mqtap cannot
// decode is counted, not an error.
func (p *Pipeline) Frame(data []byte, ci gopacket.CaptureInfo) error {
	return p.frame(data, ci, nil)
}

// FrameDecoded is Frame for a frame whose headers were decoded already, by
// a LayerDecoder of the frame's link type on another goroutine (a source
// reading ahead): d's slices point into data. A fragment is decoded again,
// since reassembly goes on from the pipeline's own decoder.
func (p *Pipeline) FrameDecoded(data []byte, ci gopacket.CaptureInfo, d *Decoded) error {
	return p.frame(data, ci, d)
}

func (p *Pipeline) frame(data []byte, ci gopacket.CaptureInfo, pre *Decoded) error {
	if p.err != nil {
		return p.err
	}
	p.stats.Frames++
	if p.stats.Frames == 1 {
		p.first = ci.Timestamp
	}
	p.now = ci.Timestamp
	p.cur = frameCtx{at: ci.Timestamp, length: uint32(ci.Length), iface: int32(ci.InterfaceIndex), frame: p.stats.Frames}
	dec := p.decoder(ci.InterfaceIndex)
	if dec == nil {
		return nil
	}
	var seg Segment
	var tcp TCPHeader
	if pre != nil && !pre.Seg.Fragment {
		seg, tcp = pre.Seg, pre.TCP
	} else if seg = dec.Decode(data); seg.TCP {
		tcp = dec.Header()
	}
	p.cur.protos = seg.Protocols
	switch {
	case seg.Fragment:
		p.fragment(dec, seg)
	case seg.TCP:
		p.tcpSegment(seg, &tcp)
	case seg.Encrypted:
		p.stats.Encrypted++
	case seg.Broken:
		p.stats.Undecodable++
	}
	if d := p.now.Sub(p.lastScan); d >= min(time.Second, p.opts.FlushAfter) || d < 0 {
		p.lastScan = p.now
		p.expire()
	}
	p.release(false)
	return p.err
}

// tcpSegment takes the TCP segment decoded from the current frame.
func (p *Pipeline) tcpSegment(seg Segment, tcp *TCPHeader) {
	p.stats.TCPSegments++
	p.cur.protos = seg.Protocols
	c := p.lookup(seg.Src, seg.Dst, tcp, p.now)
	src := netip.AddrPortFrom(seg.Src, tcp.SrcPort)
	wire := max(seg.PayloadLen, len(tcp.Payload))
	if p.opts.OnTCPFrame != nil {
		p.opts.OnTCPFrame(TCPFrame{Frame: p.stats.Frames, Time: p.now, Stream: int(c.stream), Src: src, Seq: tcp.Seq,
			SYN: tcp.SYN, FIN: tcp.FIN, RST: tcp.RST, Payload: wire, Len: int(p.cur.length),
			NotMQTT: c.kind == kindOther || c.inner == kindOther})
	}
	if c.kind == kindOther || c.done {
		return
	}
	if c.kind == kindUnknown && c.ws == nil && (p.isWSPort(c.key.a.Port()) || p.isWSPort(c.key.b.Port())) {
		if c.client < 0 {
			c.client = 0 // the side not on the forced port is the client
			if p.isWSPort(c.key.a.Port()) {
				c.client = 1
			}
		}
		p.startWS(c, &p.cur)
	}
	p.segment(c, c.sender(src), tcp, wire, &p.cur)
	if tcp.RST || c.halves[0].tcp.finished() && c.halves[1].tcp.finished() {
		p.finish(c)
	}
}

// Close delivers what is still held and ends every connection. It returns
// the handler's error, if any.
func (p *Pipeline) Close() error {
	for _, c := range p.flows.inStreamOrder() { // so that what they report comes in a stable order
		if p.err == nil {
			p.finish(c)
		}
	}
	if p.defrag != nil {
		p.defrag.Flush()
		p.fragmentProblems()
	}
	p.release(true)
	return p.err
}

// Tick lets time pass without a frame, for a live capture of a quiet
// network: out-of-order data that waited longer than FlushAfter for a
// missing segment is delivered, and idle connections are released, as if a
// frame had arrived at now. It returns the handler's error, if any.
func (p *Pipeline) Tick(now time.Time) error {
	if p.err != nil || p.stats.Frames == 0 || !now.After(p.now) {
		return p.err
	}
	p.now, p.lastScan = now, now
	p.cur.at = now
	p.expire()
	p.release(false)
	return p.err
}

// expire gives up holes that waited too long and ends idle connections,
// by capture time.
func (p *Pipeline) expire() {
	if p.defrag != nil {
		p.defrag.Expire(p.now)
		p.fragmentProblems()
	}
	p.expireHolds()
	limit := p.now.Add(-p.opts.CloseAfter)
	for c := p.idle.front; c != nil && c.last < limit.UnixNano(); c = p.idle.front {
		p.finish(c)
		p.idle.remove(c)
		p.flows.remove(c)
	}
}

// frameCtx is where a piece of data was captured: its frame number and
// capture info, so data delivered later is attributed to the right frame.
type frameCtx struct {
	at     time.Time // capture time
	length uint32    // the frame's length on the wire
	iface  int32     // the capture interface's index
	frame  int
	direct bool      // data mqtap received itself (Received), not a captured frame
	protos Protocols // the frame's protocols up to TCP
}
