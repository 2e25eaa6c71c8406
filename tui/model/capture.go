// Capture itself: its spool files, the state readers see, and the
// producer's Flush, Finish, AddFinding and Note. Writing records
// (write.go), reading them back (read.go), queries (query.go) and the
// aggregates (aggregate.go) have their own files.

package model

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/sink/connections"
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
	chain *analysis.Chain
	ix    *indexer // nil until the first record
	// Indexing side: the indexing goroutine (index.go).
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
	ifaces    []*session.Interface              // by interface id, as records named them
	ws        map[int]*session.WSInfo           // WebSocket connections by tcp.stream, as their first record saw them
	sparkplug map[int]*payload.SparkplugPayload // decoded Sparkplug B payloads, by record number

	mu       sync.Mutex // guards everything below, and the tracker for Sessions
	state    State
	stats    Stats
	topics   map[string]*topicStat
	clients  map[string]int
	streamID map[int]string    // tcp.stream -> client id
	conns    connections.Table // the MQTT connections (connections.go)
	findings []FindingRef
	omitted  int // findings not kept beyond maxFindings
	final    []FindingRef

	cacheMu sync.Mutex
	cache   map[int]Row
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
	if c.chain, err = analysis.New(opts.Keys); err != nil {
		c.Close()
		return nil, err
	}
	if opts.ReloadKeys {
		c.chain.ReloadKeys(opts.OnKeyError)
	}
	return c, nil
}

// Name is the capture's name: a file, an interface or a broker URL.
func (c *Capture) Name() string { return c.name }

// Close removes the spool files. It must not be called while the
// function Handler returned is running.
func (c *Capture) Close() error {
	if c.ix != nil {
		c.ix.stop()
		c.ix = nil
	}
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

// Flush writes the records handled so far out and makes them visible. It
// is called on the goroutine that calls Handler's function.
func (c *Capture) Flush() error {
	if c.ix == nil {
		return nil
	}
	return c.ix.flush()
}

// writeOut writes the buffered rows and blobs out and makes them visible;
// on the indexing goroutine.
func (c *Capture) writeOut() error {
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
	var ferr error
	if c.ix != nil {
		ferr = c.ix.stop()
		c.ix = nil
	}
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
