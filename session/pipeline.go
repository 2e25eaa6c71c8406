package session

import (
	"crypto/x509"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/mqtap/mqtap/keys"
)

// DefaultPorts are the TCP ports decoded as MQTT without detection: MQTT,
// the secure MQTT lab's port, and MQTT over TLS.
var DefaultPorts = []uint16{1883, 1884, 8883}

// Options configure a Pipeline.
type Options struct {
	// Ports are decoded as MQTT without detection, in addition to
	// DefaultPorts (tshark's -d tcp.port==N,mqtt).
	Ports []uint16
	// MaxBufferedPages caps the out-of-order data the reassembler holds
	// across all connections, in pages of about 1900 bytes (0: 8192).
	MaxBufferedPages int
	// FlushAfter is how long, in capture time, out-of-order data waits for a
	// missing segment before the gap is skipped (0: 30s).
	FlushAfter time.Duration
	// CloseAfter is how long, in capture time, an idle connection is kept
	// (0: 10 minutes).
	CloseAfter time.Duration
	// OnTCPFrame, when set, is called for every frame that carries TCP with
	// the frame number and its tcp.stream (exports keep whole connections).
	OnTCPFrame func(frame, stream int)
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
}

// Handler receives each MQTT control packet. The Record is reused after the
// call returns. A non-nil error stops the pipeline and is returned by Frame.
type Handler func(*Record) error

// Stats counts what a pipeline has seen.
type Stats struct {
	Frames      int       // frames read
	TCPSegments int       // frames carrying TCP
	Undecodable int       // frames whose link or IP layer could not be decoded
	Streams     int       // TCP connections seen
	MQTTStreams int       // TCP connections carrying MQTT
	Packets     int       // MQTT control packets
	Malformed   int       // MQTT control packets reported malformed
	GapBytes    int       // bytes lost to gaps in the capture
	Skipped     int       // bytes skipped while resynchronising on a packet boundary
	Incomplete  int       // MQTT packets cut off by the end of their connection or capture
	TLS         []TLSInfo // TLS connections, with their handshakes and whether they were decrypted
}

// Pipeline turns frames of one link type into MQTT records.
type Pipeline struct {
	opts  Options
	emit  Handler
	ports [65536 / 64]uint64 // bitmap of MQTT ports

	layers *LayerDecoder

	pool  *reassembly.StreamPool
	asm   *reassembly.Assembler
	flows map[flowKey]*conn
	cur   *conn // connection of the frame being assembled, for StreamFactory.New

	ctxs     []frameCtx // slab of per-frame assembler contexts
	first    time.Time
	now      time.Time
	lastScan time.Time

	rec      Record
	err      error
	stats    Stats
	rootPool *x509.CertPool // certificate roots, built on first use
	tlsInfos []*TLSInfo     // TLS connections, for Stats
}

// NewPipeline returns a pipeline for frames of the given link type, or an
// error naming the link type when mqtap cannot decode it.
func NewPipeline(link layers.LinkType, opts Options, h Handler) (*Pipeline, error) {
	p := &Pipeline{opts: opts, emit: h, flows: make(map[flowKey]*conn)}
	if p.opts.MaxBufferedPages == 0 {
		p.opts.MaxBufferedPages = 8192
	}
	if p.opts.FlushAfter == 0 {
		p.opts.FlushAfter = 30 * time.Second
	}
	if p.opts.CloseAfter == 0 {
		p.opts.CloseAfter = 10 * time.Minute
	}
	for _, port := range DefaultPorts {
		p.setPort(port)
	}
	for _, port := range opts.Ports {
		p.setPort(port)
	}
	var err error
	if p.layers, err = NewLayerDecoder(link); err != nil {
		return nil, err
	}

	p.pool = reassembly.NewStreamPool(factory{p})
	p.asm = reassembly.NewAssembler(p.pool)
	p.asm.MaxBufferedPagesTotal = p.opts.MaxBufferedPages
	p.asm.MaxBufferedPagesPerConnection = p.opts.MaxBufferedPages / 4
	return p, nil
}

func (p *Pipeline) setPort(port uint16) { p.ports[port/64] |= 1 << (port % 64) }

// IsMQTTPort reports whether port is decoded as MQTT without detection.
func (p *Pipeline) IsMQTTPort(port uint16) bool { return p.ports[port/64]&(1<<(port%64)) != 0 }

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	st := p.stats
	st.TLS = p.tlsConnections()
	return st
}

// Frame processes one captured frame. It returns the handler's error, if
// any; a frame mqtap cannot decode is counted, not an error.
func (p *Pipeline) Frame(data []byte, ci gopacket.CaptureInfo) error {
	if p.err != nil {
		return p.err
	}
	p.stats.Frames++
	if p.stats.Frames == 1 {
		p.first = ci.Timestamp
	}
	p.now = ci.Timestamp
	seg := p.layers.Decode(data)
	if !seg.TCP || seg.Fragment {
		if seg.Broken {
			p.stats.Undecodable++
		}
		return nil // IP fragments of TCP are not reassembled
	}
	p.stats.TCPSegments++
	tcp := &p.layers.TCP
	c := p.lookup(seg.Src, seg.Dst, tcp, ci.Timestamp)
	if p.opts.OnTCPFrame != nil {
		p.opts.OnTCPFrame(p.stats.Frames, c.stream)
	}
	if c.kind == kindOther {
		return nil
	}
	p.cur = c
	ctx := p.newCtx(ci)
	p.asm.AssembleWithContext(seg.NetFlow, tcp, ctx)
	p.cur = nil
	if d := p.now.Sub(p.lastScan); d >= min(time.Second, p.opts.FlushAfter) || d < 0 {
		p.lastScan = p.now
		p.expire()
	}
	return p.err
}

// Close delivers what the reassembler still holds and ends every
// connection. It returns the handler's error, if any.
func (p *Pipeline) Close() error {
	if p.err == nil {
		p.asm.FlushAll()
	}
	conns := make([]*conn, 0, len(p.flows))
	for _, c := range p.flows {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b *conn) int { return a.stream - b.stream })
	for _, c := range conns { // in stream order, so that what they report comes in a stable order
		c.flushDetection(p)
		p.flushPending(c)
	}
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
	p.expire()
	return p.err
}

// expire skips gaps that waited too long and releases idle connections, by
// capture time.
func (p *Pipeline) expire() {
	p.asm.FlushWithOptions(reassembly.FlushOptions{
		T:  p.now.Add(-p.opts.FlushAfter),
		TC: p.now.Add(-p.opts.CloseAfter),
	})
	limit := p.now.Add(-p.opts.CloseAfter)
	for k, c := range p.flows {
		if c.last.Before(limit) {
			c.flushDetection(p)
			delete(p.flows, k)
		}
	}
}

// frameCtx is the reassembly context of one frame: its number and capture
// info, so data delivered later is attributed to the right frame.
type frameCtx struct {
	ci     gopacket.CaptureInfo
	frame  int
	direct bool // data mqtap received itself (Received), not a captured frame
}

// GetCaptureInfo implements reassembly.AssemblerContext.
func (f *frameCtx) GetCaptureInfo() gopacket.CaptureInfo { return f.ci }

// newCtx hands out contexts from a slab, so the per-frame path does not
// allocate; the reassembler may keep a context as long as it buffers a page.
func (p *Pipeline) newCtx(ci gopacket.CaptureInfo) *frameCtx {
	if len(p.ctxs) == cap(p.ctxs) {
		p.ctxs = make([]frameCtx, 0, 4096)
	}
	p.ctxs = append(p.ctxs, frameCtx{ci: gopacket.CaptureInfo{Timestamp: ci.Timestamp, Length: ci.Length, CaptureLength: ci.CaptureLength}, frame: p.stats.Frames})
	return &p.ctxs[len(p.ctxs)-1]
}

// factory makes the reassembler's streams: they are the pipeline's
// connections.
type factory struct{ p *Pipeline }

// New implements reassembly.StreamFactory.
func (f factory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	c := f.p.cur
	c.bindDirections(netFlow, tcpFlow)
	return &stream{p: f.p, c: c}
}
