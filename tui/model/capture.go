package model

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
)

// Spool and cache sizes.
const (
	rowSize       = 64   // bytes of one row in the rows file
	flushRows     = 4096 // rows buffered before they are written out
	flushInterval = 100 * time.Millisecond
	rowCacheSize  = 8192      // rows kept decoded for the list
	maxFindings   = 100000    // findings kept for the findings view
	maxSeconds    = 100000    // buckets of Stats.PerSecond (about 28 hours)
	maxNames      = 100000    // distinct topics and clients counted
	lastValueMax  = 256       // bytes of a topic's last value kept
	maxBlob       = 300 << 20 // a blob larger than this is a corrupt spool
)

// Capture is the index of one capture's MQTT records, see the package
// documentation.
type Capture struct {
	name string
	opts Options
	dir  string
	rows *os.File
	blob *os.File

	// Producer side: only the goroutine calling Handler, Flush and Finish.
	chain     *analysis.Chain
	rowBuf    []byte
	blobBuf   []byte
	blobSize  int64 // bytes of the blob file, buffered ones included
	total     int   // records indexed, buffered ones included
	lastFlush time.Time
	scratch   []byte
	info      []byte

	visible atomic.Int64 // records flushed: what readers see
	updates chan struct{}

	epMu      sync.RWMutex // guards the endpoint table and the interfaces
	endpoints []netip.AddrPort
	epIndex   map[netip.AddrPort]uint32
	ifaces    []*session.Interface    // by interface id, as records named them
	ws        map[int]*session.WSInfo // WebSocket connections by tcp.stream, as their first record saw them

	mu       sync.Mutex // guards everything below, and the tracker for Sessions
	state    State
	stats    Stats
	topics   map[string]*topicStat
	clients  map[string]int
	streamID map[int]string // tcp.stream -> client id
	findings []FindingRef
	omitted  int // findings not kept beyond maxFindings
	final    []FindingRef

	cacheMu sync.Mutex
	cache   map[int]Row
}

// topicStat is what the topic tree knows of one exact topic.
type topicStat struct {
	messages int
	retained bool
	last     string
	lastHex  bool
	record   int
}

// New returns an empty Capture named name (a file, an interface or a broker
// URL) with its spool files in a new temporary directory.
func New(name string, opts Options) (*Capture, error) {
	dir, err := os.MkdirTemp(opts.Dir, "mqtap-tui-")
	if err != nil {
		return nil, fmt.Errorf("creating the index: %w", err)
	}
	c := &Capture{name: name, opts: opts, dir: dir, updates: make(chan struct{}, 1),
		epIndex: make(map[netip.AddrPort]uint32), topics: make(map[string]*topicStat),
		clients: make(map[string]int), streamID: make(map[int]string), cache: make(map[int]Row)}
	if c.rows, err = os.Create(dir + "/rows"); err == nil {
		c.blob, err = os.Create(dir + "/blobs")
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("creating the index: %w", err)
	}
	c.chain = analysis.New(opts.Keys)
	if opts.ReloadKeys {
		c.chain.ReloadKeys(opts.OnKeyError)
	}
	return c, nil
}

// Name is the capture's name: a file, an interface or a broker URL.
func (c *Capture) Name() string { return c.name }

// Close removes the spool files.
func (c *Capture) Close() error {
	if c.rows != nil {
		c.rows.Close()
	}
	if c.blob != nil {
		c.blob.Close()
	}
	return os.RemoveAll(c.dir)
}

// Handler is the pipeline handler that feeds the capture: it rebuilds key
// exchanges and checks protected payloads (as mqtap read does), then
// indexes the record.
func (c *Capture) Handler() session.Handler { return c.add }

// Updates receives, coalesced, whenever records become visible or the state
// changes.
func (c *Capture) Updates() <-chan struct{} { return c.updates }

// Len is the number of records readers can see.
func (c *Capture) Len() int { return int(c.visible.Load()) }

// State says how far the source has got.
func (c *Capture) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	s.Records = c.Len()
	return s
}

func (c *Capture) signal() {
	select {
	case c.updates <- struct{}{}:
	default:
	}
}

// Row bit flags.
const (
	flagFromClient = 1 << iota
	flagDirect
	flagMalformed
	flagTruncated
	flagUnknownVersion
)

var statusCodes = []string{"", "ok", "no-key", "failed", "bad"}

func statusCode(s string) byte {
	for i, v := range statusCodes {
		if v == s {
			return byte(i)
		}
	}
	return 0
}

// add indexes one record.
func (c *Capture) add(r *session.Record) error {
	c.mu.Lock()
	c.chain.Observe(r)
	idx := c.total
	c.aggregate(idx, r)
	c.mu.Unlock()
	src, dst := c.endpoint(r.Src, r.SrcPort), c.endpoint(r.Dst, r.DstPort)

	// The blob: Info and topic first (what the list reads), then the rest.
	b := c.scratch[:0]
	c.info = output.AppendInfo(c.info[:0], r)
	b = appendBytes(b, c.info)
	b = appendBytes(b, r.Packet.Topic)
	head := len(b)
	cr := &r.Crypto
	for _, s := range []string{cr.Session, cr.Scheme, cr.Kex, cr.Verify, cr.Decrypt, cr.Reason, cr.Key, cr.KDF} {
		b = appendBytes(b, []byte(s))
	}
	b = appendBytes(b, cr.Plaintext)
	tt := int64(0)
	if !cr.TokenTime.IsZero() {
		tt = cr.TokenTime.UnixNano()
	}
	b = binary.AppendVarint(b, tt)
	b = binary.AppendUvarint(b, uint64(cr.Message))
	b = append(b, btob(cr.Copy))
	b = binary.AppendUvarint(b, uint64(len(r.Findings)))
	sev := session.SevInfo
	for _, f := range r.Findings {
		b = append(b, byte(f.Code), byte(f.Lower))
		b = appendBytes(b, []byte(f.Rule))
		b = appendBytes(b, []byte(f.Text))
		sev = max(sev, f.Severity())
	}
	b = binary.AppendUvarint(b, uint64(r.TLSVersion))
	b = binary.AppendUvarint(b, uint64(r.TLSSuite))
	b = r.Protocols.AppendBinary(b)
	b = c.appendWS(b, r)
	b = appendBytes(b, r.Packet.Raw)
	c.scratch = b

	var row [rowSize]byte
	le := binary.LittleEndian
	le.PutUint32(row[0:], uint32(r.Frame))
	le.PutUint32(row[4:], uint32(r.Stream))
	le.PutUint64(row[8:], uint64(r.Time.UnixNano()))
	le.PutUint64(row[16:], uint64(r.Relative))
	le.PutUint32(row[24:], uint32(r.FrameLen))
	le.PutUint32(row[28:], src)
	le.PutUint32(row[32:], dst)
	le.PutUint64(row[36:], uint64(c.blobSize))
	le.PutUint32(row[44:], uint32(len(b)))
	row[48] = byte(r.Packet.Type)
	var flags byte
	if r.Packet.FromClient {
		flags |= flagFromClient
	}
	if r.Direct {
		flags |= flagDirect
	}
	if r.Packet.Malformed() != "" {
		flags |= flagMalformed
	}
	if r.Packet.Truncated {
		flags |= flagTruncated
	}
	if r.Packet.Unknown {
		flags |= flagUnknownVersion
	}
	row[49] = flags
	row[50] = statusCode(cr.Decrypt)
	row[51] = statusCode(cr.Verify)
	le.PutUint16(row[52:], uint16(min(len(r.Findings), 65535)))
	row[54] = byte(sev)
	row[55] = r.Packet.Version
	le.PutUint16(row[56:], r.Packet.TopicAlias)
	le.PutUint32(row[58:], uint32(head))
	le.PutUint16(row[62:], c.internInterface(r.Interface))

	c.rowBuf = append(c.rowBuf, row[:]...)
	c.blobBuf = append(c.blobBuf, b...)
	c.blobSize += int64(len(b))
	c.total++
	if len(c.rowBuf) >= flushRows*rowSize || time.Since(c.lastFlush) >= flushInterval {
		return c.Flush()
	}
	return nil
}

// endpoint interns an address.
func (c *Capture) endpoint(a netip.Addr, port uint16) uint32 {
	ap := netip.AddrPortFrom(a.Unmap(), port)
	c.epMu.RLock()
	i, ok := c.epIndex[ap]
	c.epMu.RUnlock()
	if ok {
		return i
	}
	c.epMu.Lock()
	defer c.epMu.Unlock()
	if i, ok := c.epIndex[ap]; ok {
		return i
	}
	i = uint32(len(c.endpoints))
	c.endpoints = append(c.endpoints, ap)
	c.epIndex[ap] = i
	return i
}

// appendWS appends the WebSocket frame that completed the record's packet
// (a 0 when there is none), and keeps its connection's description.
func (c *Capture) appendWS(b []byte, r *session.Record) []byte {
	if r.WebSocket == nil {
		return append(b, 0)
	}
	c.epMu.Lock()
	if c.ws[r.Stream] == nil {
		if c.ws == nil {
			c.ws = make(map[int]*session.WSInfo)
		}
		cp := *r.WebSocket
		c.ws[r.Stream] = &cp
	}
	c.epMu.Unlock()
	f := &r.WSFrame
	b = append(b, 1, byte(f.Opcode), btob(f.Fin)|btob(f.Masked)<<1|f.RSV<<2)
	b = binary.AppendUvarint(b, f.PayloadLen)
	b = append(b, f.MaskKey[:]...)
	return appendBytes(b, f.Header[:f.HeaderLen])
}

// readWS reads what appendWS wrote.
func (c *Capture) readWS(d *blobReader, r *session.Record) {
	if d.byte() == 0 || d.err != nil {
		return
	}
	f := &r.WSFrame
	f.Opcode = decode.WSOpcode(d.byte())
	fl := d.byte()
	f.Fin, f.Masked, f.RSV = fl&1 != 0, fl&2 != 0, fl>>2
	f.PayloadLen = d.uvarint()
	for k := range f.MaskKey {
		f.MaskKey[k] = d.byte()
	}
	f.HeaderLen = copy(f.Header[:], d.bytes())
	c.epMu.RLock()
	r.WebSocket = c.ws[r.Stream]
	c.epMu.RUnlock()
}

// internInterface returns the row's interface number of a record's
// interface: its id plus one, 0 for none (or an id too large to keep).
func (c *Capture) internInterface(ifc *session.Interface) uint16 {
	if ifc == nil || ifc.ID >= 65535 {
		return 0
	}
	c.epMu.RLock()
	known := ifc.ID < len(c.ifaces) && c.ifaces[ifc.ID] != nil && c.ifaces[ifc.ID].Name == ifc.Name && c.ifaces[ifc.ID].Link == ifc.Link
	c.epMu.RUnlock()
	if !known {
		c.epMu.Lock()
		for len(c.ifaces) <= ifc.ID {
			c.ifaces = append(c.ifaces, nil)
		}
		cp := *ifc
		c.ifaces[ifc.ID] = &cp
		c.epMu.Unlock()
	}
	return uint16(ifc.ID + 1)
}

// rowInterface returns the interface a row names, or nil.
func (c *Capture) rowInterface(row *[rowSize]byte) *session.Interface {
	n := int(binary.LittleEndian.Uint16(row[62:]))
	c.epMu.RLock()
	defer c.epMu.RUnlock()
	if n == 0 || n > len(c.ifaces) {
		return nil
	}
	return c.ifaces[n-1]
}

// aggregate updates the statistics, topics and findings; called with mu
// held.
func (c *Capture) aggregate(idx int, r *session.Record) {
	st := &c.stats
	st.Packets++
	st.ByType[r.Packet.Type&15]++
	st.Bytes += int64(r.FrameLen)
	if r.FirstSeen {
		st.Streams++
	}
	if sec := int(r.Relative / time.Second); sec >= 0 {
		sec = min(sec, maxSeconds-1)
		for len(st.PerSecond) <= sec {
			st.PerSecond = append(st.PerSecond, 0)
		}
		st.PerSecond[sec]++
	}
	if r.Packet.Type == decode.CONNECT {
		if f := r.Packet.Field("mqtt.clientid"); f != nil && len(f.Bytes) > 0 {
			c.streamID[r.Stream] = string(f.Bytes)
		}
	}
	client, ok := c.streamID[r.Stream]
	if !ok {
		a, p := r.Src, r.SrcPort
		if !r.Packet.FromClient {
			a, p = r.Dst, r.DstPort
		}
		client = netip.AddrPortFrom(a.Unmap(), p).String()
	}
	if _, ok := c.clients[client]; ok || len(c.clients) < maxNames {
		c.clients[client]++
	}
	if r.Packet.Type == decode.PUBLISH && r.Packet.Topic != nil {
		t := c.topics[string(r.Packet.Topic)]
		if t == nil && len(c.topics) < maxNames {
			t = &topicStat{}
			c.topics[string(r.Packet.Topic)] = t
		}
		if t != nil {
			t.messages++
			t.retained = r.Packet.Retain
			t.record = idx
			v := r.Packet.Payload
			if c := &r.Crypto; c.Decrypt == "ok" || c.Decrypt == "" && c.Verify == "ok" && len(c.Plaintext) > 0 {
				v = c.Plaintext
			}
			t.last, t.lastHex = valueText(v)
		}
	}
	for _, f := range r.Findings {
		if len(c.findings) >= maxFindings {
			c.omitted++
			continue
		}
		c.findings = append(c.findings, FindingRef{Record: idx, Frame: r.Frame, Finding: f})
	}
}

// valueText is a payload as text for the topic tree: UTF-8 as is, anything
// else in hex, cut to lastValueMax bytes.
func valueText(v []byte) (string, bool) {
	if utf8.Valid(v) {
		if len(v) > lastValueMax {
			v = v[:lastValueMax]
			for len(v) > 0 && !utf8.Valid(v) {
				v = v[:len(v)-1]
			}
		}
		return string(v), false
	}
	const hexdigits = "0123456789abcdef"
	n := min(len(v), lastValueMax/2)
	b := make([]byte, 0, 2*n)
	for _, x := range v[:n] {
		b = append(b, hexdigits[x>>4], hexdigits[x&15])
	}
	return string(b), true
}

// Flush writes the buffered records out and makes them visible.
func (c *Capture) Flush() error {
	c.lastFlush = time.Now()
	if len(c.rowBuf) == 0 {
		return nil
	}
	if _, err := c.blob.Write(c.blobBuf); err != nil {
		return fmt.Errorf("writing the index: %w", err)
	}
	if _, err := c.rows.Write(c.rowBuf); err != nil {
		return fmt.Errorf("writing the index: %w", err)
	}
	c.rowBuf, c.blobBuf = c.rowBuf[:0], c.blobBuf[:0]
	if cap(c.blobBuf) > 8<<20 {
		c.blobBuf = nil
	}
	c.visible.Store(int64(c.total))
	c.signal()
	return nil
}

// Finish records that the source ended, with err when it failed, and adds
// the findings known only at the end (key exchanges never answered).
func (c *Capture) Finish(err error) {
	ferr := c.Flush()
	c.mu.Lock()
	for _, f := range c.chain.Close() {
		c.final = append(c.final, FindingRef{Record: -1, Finding: f})
	}
	c.state.Done = true
	c.state.Err = errors.Join(err, ferr)
	c.mu.Unlock()
	c.signal()
}

// AddFinding records a finding about a connection that no record carries
// (a TLS connection without its key log), seen in frame (the pipeline's
// Options.OnFinding).
func (c *Capture) AddFinding(f session.Finding, frame int) {
	c.mu.Lock()
	c.final = append(c.final, FindingRef{Record: -1, Frame: frame, Finding: f})
	c.mu.Unlock()
	c.signal()
}

// Note records a message of the source for the status line (any
// goroutine): a truncated file, a lost broker connection, a key file that
// did not load.
func (c *Capture) Note(msg string) {
	c.mu.Lock()
	c.state.Message = msg
	c.mu.Unlock()
	c.signal()
}

// rawRow reads row i of the rows file.
func (c *Capture) rawRow(i int, row *[rowSize]byte) error {
	if i < 0 || i >= c.Len() {
		return fmt.Errorf("record %d: out of range (%d records)", i, c.Len())
	}
	if _, err := c.rows.ReadAt(row[:], int64(i)*rowSize); err != nil {
		return fmt.Errorf("reading record %d from the index: %w", i, err)
	}
	return nil
}

// readBlob reads n bytes of record i's blob (all of it when n < 0).
func (c *Capture) readBlob(row *[rowSize]byte, n int, buf []byte) ([]byte, error) {
	le := binary.LittleEndian
	off, size := int64(le.Uint64(row[36:])), int(le.Uint32(row[44:]))
	if n < 0 || n > size {
		n = size
	}
	if n > maxBlob {
		return nil, errors.New("corrupt index: record too large")
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := c.blob.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return buf, nil
}

// Row returns the packet-list row of record i.
func (c *Capture) Row(i int) (Row, error) {
	c.cacheMu.Lock()
	r, ok := c.cache[i]
	c.cacheMu.Unlock()
	if ok {
		return r, nil
	}
	var row [rowSize]byte
	if err := c.rawRow(i, &row); err != nil {
		return Row{}, err
	}
	le := binary.LittleEndian
	b, err := c.readBlob(&row, int(le.Uint32(row[58:])), nil)
	if err != nil {
		return Row{}, err
	}
	d := blobReader{b: b}
	info, topic := d.bytes(), d.bytes()
	if d.err != nil {
		return Row{}, fmt.Errorf("record %d: %w", i, d.err)
	}
	r = c.rowFields(i, &row)
	r.Info, r.Topic = string(info), string(topic)
	c.cacheMu.Lock()
	if len(c.cache) >= rowCacheSize {
		clear(c.cache)
	}
	c.cache[i] = r
	c.cacheMu.Unlock()
	return r, nil
}

// rowFields decodes a row's fixed fields.
func (c *Capture) rowFields(i int, row *[rowSize]byte) Row {
	le := binary.LittleEndian
	r := Row{
		Index:      i,
		Frame:      int(le.Uint32(row[0:])),
		Stream:     int(le.Uint32(row[4:])),
		Time:       time.Unix(0, int64(le.Uint64(row[8:]))),
		Relative:   time.Duration(le.Uint64(row[16:])),
		Length:     int(le.Uint32(row[24:])),
		Type:       decode.Type(row[48]),
		FromClient: row[49]&flagFromClient != 0,
		Direct:     row[49]&flagDirect != 0,
		Malformed:  row[49]&flagMalformed != 0,
		Decrypt:    statusCodes[min(int(row[50]), len(statusCodes)-1)],
		Verify:     statusCodes[min(int(row[51]), len(statusCodes)-1)],
		Findings:   int(le.Uint16(row[52:])),
		Severity:   session.Severity(row[54]),
	}
	src, dst := c.addrs(row)
	r.Src, r.Dst = src.String(), dst.String()
	return r
}

func (c *Capture) addrs(row *[rowSize]byte) (src, dst netip.AddrPort) {
	le := binary.LittleEndian
	c.epMu.RLock()
	defer c.epMu.RUnlock()
	if i := le.Uint32(row[28:]); int(i) < len(c.endpoints) {
		src = c.endpoints[i]
	}
	if i := le.Uint32(row[32:]); int(i) < len(c.endpoints) {
		dst = c.endpoints[i]
	}
	return src, dst
}

// Record returns record i with every field, decoded again from the index.
// The caller owns it.
func (c *Capture) Record(i int) (*session.Record, error) {
	r := &session.Record{}
	if _, err := c.recordInto(i, r, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// recordInto decodes record i into r, reusing buf for the blob; it returns
// the buffer for the next call. r's slices alias buf.
func (c *Capture) recordInto(i int, r *session.Record, buf []byte) ([]byte, error) {
	var row [rowSize]byte
	if err := c.rawRow(i, &row); err != nil {
		return buf, err
	}
	b, err := c.readBlob(&row, -1, buf)
	if err != nil {
		return buf, err
	}
	le := binary.LittleEndian
	rf := c.rowFields(i, &row)
	src, dst := c.addrs(&row)
	*r = session.Record{Frame: rf.Frame, Time: rf.Time, Relative: rf.Relative, FrameLen: rf.Length,
		Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(), Stream: rf.Stream, Direct: rf.Direct,
		Packet: decode.Packet{Fields: r.Packet.Fields[:0], Problems: r.Packet.Problems[:0]}, Findings: r.Findings[:0]}
	d := blobReader{b: b}
	d.bytes() // info
	topic := d.bytes()
	cr := &r.Crypto
	for _, s := range []*string{&cr.Session, &cr.Scheme, &cr.Kex, &cr.Verify, &cr.Decrypt, &cr.Reason, &cr.Key, &cr.KDF} {
		*s = string(d.bytes())
	}
	cr.Plaintext = d.bytes()
	if tt := d.varint(); tt != 0 {
		cr.TokenTime = time.Unix(0, tt)
	}
	cr.Message = int(d.uvarint())
	cr.Copy = d.byte() != 0
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		f := session.Finding{Code: session.FindingCode(d.byte()), Lower: session.Severity(d.byte())}
		f.Rule, f.Text = string(d.bytes()), string(d.bytes())
		r.Findings = append(r.Findings, f)
	}
	r.TLSVersion, r.TLSSuite = uint16(d.uvarint()), uint16(d.uvarint())
	r.Protocols, d.b = session.ParseProtocols(d.b)
	c.readWS(&d, r)
	raw := d.bytes()
	if d.err != nil {
		return b, fmt.Errorf("record %d: %w", i, d.err)
	}
	var conn decode.Conn
	if row[49]&flagUnknownVersion == 0 {
		conn.SetVersion(row[55]) // else the version is picked from the packet, as it was
	}
	if alias := le.Uint16(row[56:]); alias != 0 && len(topic) > 0 {
		conn.SetAlias(rf.FromClient, alias, topic)
	}
	if row[49]&flagTruncated != 0 {
		conn.DecodeTruncated(raw, rf.FromClient, &r.Packet)
	} else {
		conn.Decode(raw, rf.FromClient, &r.Packet)
	}
	r.Interface = c.rowInterface(&row)
	return b, nil
}

// FindFrame returns the index of the first record of frame number frame.
func (c *Capture) FindFrame(frame int) (int, bool) {
	n := c.Len()
	var row [rowSize]byte
	frameOf := func(i int) int {
		if c.rawRow(i, &row) != nil {
			return -1
		}
		return int(binary.LittleEndian.Uint32(row[0:]))
	}
	i := sort.Search(n, func(i int) bool { return frameOf(i) >= frame })
	if i < n && frameOf(i) == frame {
		return i, true
	}
	// Records delivered when the capture ended may be out of frame order.
	for j := 0; j < n; j++ {
		if frameOf(j) == frame {
			return j, true
		}
	}
	return 0, false
}

// Select returns the indices of the records from index from on that match
// f (all of them when f is nil), in order. The records are matched by one
// goroutine per CPU; progress, when set, is called (from those goroutines,
// one call at a time) after every 16384 records with the records examined
// and the total. A cancelled ctx stops it with ctx's error.
func (c *Capture) Select(ctx context.Context, f *filter.Filter, from int, progress func(done, total int)) ([]int, error) {
	n := c.Len()
	from = max(from, 0)
	if f == nil {
		out := make([]int, 0, max(n-from, 0))
		for i := from; i < n; i++ {
			out = append(out, i)
		}
		return out, nil
	}
	// Chunks of records are matched by one worker per CPU, and put back in
	// order.
	const chunk = 16384
	chunks := (n - from + chunk - 1) / chunk
	results := make([][]int, chunks)
	var next, done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	var progressMu sync.Mutex
	for w := 0; w < min(runtime.GOMAXPROCS(0), max(chunks, 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r session.Record
			var buf []byte
			for {
				k := int(next.Add(1) - 1)
				if k >= chunks || ctx.Err() != nil || failed.Load() != nil {
					return
				}
				lo, hi := from+k*chunk, min(from+(k+1)*chunk, n)
				for i := lo; i < hi; i++ {
					var err error
					if buf, err = c.recordInto(i, &r, buf); err != nil {
						failed.Store(err)
						return
					}
					if f.Match(&r) {
						results[k] = append(results[k], i)
					}
				}
				d := done.Add(int64(hi - lo))
				if progress != nil {
					progressMu.Lock()
					progress(int(d), n-from)
					progressMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	var out []int
	for _, part := range results {
		out = append(out, part...)
	}
	return out, nil
}

// Conversation returns the indices of the records of one TCP connection.
func (c *Capture) Conversation(stream int) ([]int, error) {
	n := c.Len()
	var out []int
	buf := make([]byte, 4096*rowSize)
	for start := 0; start < n; start += 4096 {
		k := min(4096, n-start)
		if _, err := c.rows.ReadAt(buf[:k*rowSize], int64(start)*rowSize); err != nil {
			return nil, fmt.Errorf("reading the index: %w", err)
		}
		for j := 0; j < k; j++ {
			if int(binary.LittleEndian.Uint32(buf[j*rowSize+4:])) == stream {
				out = append(out, start+j)
			}
		}
	}
	return out, nil
}

// Sessions returns the key exchanges seen so far.
func (c *Capture) Sessions() []SessionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []SessionInfo
	for _, ex := range c.chain.Exchanges() {
		s := SessionInfo{ID: ex.ID, NetID: ex.NetID, Requester: ex.Requester.String(), Status: ex.Status(),
			KDF: ex.KDF, KeySide: ex.KeySide, KeyFile: ex.KeyFile, GroupBits: ex.GroupBits,
			Decrypted: ex.Decrypted, Failed: ex.Failed, NoKey: ex.NoKey, Frame: ex.Requester.Frame,
			Findings: append([]string(nil), ex.Findings...)}
		for _, p := range ex.Responses {
			s.Responders = append(s.Responders, p.String())
		}
		out = append(out, s)
	}
	return out
}

// Topics returns the topic tree of the PUBLISH packets seen so far.
func (c *Capture) Topics() *TopicNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	root := &TopicNode{LastRecord: -1}
	for topic, st := range c.topics {
		n := root
		n.Total += st.messages
		path := ""
		for i, level := range strings.Split(topic, "/") {
			if i > 0 {
				path += "/"
			}
			path += level
			var child *TopicNode
			for _, ch := range n.Children {
				if ch.Name == level {
					child = ch
					break
				}
			}
			if child == nil {
				child = &TopicNode{Name: level, Path: path, LastRecord: -1}
				n.Children = append(n.Children, child)
			}
			child.Total += st.messages
			n = child
		}
		n.Messages, n.Retained, n.Last, n.LastHex, n.LastRecord = st.messages, st.retained, st.last, st.lastHex, st.record
	}
	sortTopics(root)
	return root
}

func sortTopics(n *TopicNode) {
	sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
	for _, ch := range n.Children {
		sortTopics(ch)
	}
}

// Findings returns the findings, highest severity first, then in record
// order; findings about the whole capture (Record -1) come with their
// severity. Beyond 100,000 findings only the count grows (FindingsOmitted).
func (c *Capture) Findings() []FindingRef {
	c.mu.Lock()
	out := make([]FindingRef, 0, len(c.findings)+len(c.final))
	out = append(out, c.findings...)
	out = append(out, c.final...)
	c.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity() > out[j].Severity() })
	return out
}

// FindingsOmitted is the number of findings not kept (beyond 100,000).
func (c *Capture) FindingsOmitted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.omitted
}

// Stats returns the statistics so far.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.PerSecond = append([]int(nil), c.stats.PerSecond...)
	st.Topics = topCounts(len(c.topics), func(yield func(string, int)) {
		for t, s := range c.topics {
			yield(t, s.messages)
		}
	})
	st.Clients = topCounts(len(c.clients), func(yield func(string, int)) {
		for n, k := range c.clients {
			yield(n, k)
		}
	})
	return st
}

// topCounts returns the 50 largest counts, largest first, ties by name.
func topCounts(n int, each func(func(string, int))) []Count {
	out := make([]Count, 0, n)
	each(func(name string, k int) { out = append(out, Count{name, k}) })
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out[:min(len(out), 50)]
}

// appendBytes appends v with its length.
func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func btob(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// blobReader reads what add wrote; the first error sticks.
type blobReader struct {
	b   []byte
	err error
}

var errCorrupt = errors.New("corrupt index")

func (d *blobReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *blobReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *blobReader) byte() byte {
	if len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *blobReader) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err, d.b = errCorrupt, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
