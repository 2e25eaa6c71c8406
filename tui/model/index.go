// Indexing on two goroutines: the pipeline's runs the analysis chain and
// copies each record into a batch (Handler); the indexer goroutine turns
// the batches into rows and blobs, writes them out and makes them visible.

package model

import (
	"sync/atomic"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// A batch carries up to batchRecords records, fewer when their packets
// reach batchBytes or when flushInterval passed since the last one went.
const (
	batchRecords = 256
	batchBytes   = 4 << 20
	batches      = 4 // in flight and free: bounds the memory of the copies
	keepBytes    = 16 << 10
)

// indexer is the hand-over between the pipeline's goroutine and the
// indexing one.
type indexer struct {
	todo chan *batch // to the indexing goroutine
	free chan *batch
	done chan struct{}         // closed when the indexing goroutine ends
	cur  *batch                // being filled
	sent time.Time             // when the last batch went
	err  atomic.Pointer[error] // the indexing goroutine's first error
}

// error returns the indexing goroutine's first error, if any.
func (ix *indexer) error() error {
	if p := ix.err.Load(); p != nil {
		return *p
	}
	return nil
}

// batch is a run of consecutive records.
type batch struct {
	recs  []session.Record
	n     int
	bytes int
	flush chan error // when set, write everything out after the batch and answer
}

// start starts the indexing goroutine, on the first record.
func (c *Capture) start() {
	ix := &indexer{todo: make(chan *batch, batches), free: make(chan *batch, batches), done: make(chan struct{}), sent: time.Now()}
	for range batches {
		ix.free <- &batch{recs: make([]session.Record, batchRecords)}
	}
	c.ix = ix
	go c.index(ix)
}

// add analyses one record and queues its copy for indexing.
func (c *Capture) add(r *session.Record) error {
	c.mu.Lock()
	c.chain.Observe(r)
	c.mu.Unlock()
	if c.ix == nil {
		c.start()
	}
	ix := c.ix
	if ix.cur == nil {
		ix.cur = <-ix.free
	}
	b := ix.cur
	copyForIndex(r, &b.recs[b.n])
	b.bytes += b.recs[b.n].CopySize()
	b.n++
	// The clock is read for every 32nd record (and for the first of a batch,
	// so that a slow source's records go at once).
	if b.n == len(b.recs) || b.bytes >= batchBytes || b.n%32 == 1 && time.Since(ix.sent) >= flushInterval {
		ix.submit(nil)
	}
	return ix.error()
}

// submit sends the batch being filled (an empty one for a flush).
func (ix *indexer) submit(flush chan error) {
	if ix.cur == nil {
		ix.cur = <-ix.free
	}
	ix.cur.flush = flush
	ix.todo <- ix.cur
	ix.cur, ix.sent = nil, time.Now()
}

// flush sends what was queued and waits until it is written out and
// visible.
func (ix *indexer) flush() error {
	answer := make(chan error, 1)
	ix.submit(answer)
	return <-answer
}

// stop flushes and ends the indexing goroutine.
func (ix *indexer) stop() error {
	err := ix.flush()
	close(ix.todo)
	<-ix.done
	return err
}

// index indexes the batches until todo is closed. After an error writing
// out it only drops them, and answers every flush with the error.
func (c *Capture) index(ix *indexer) {
	defer close(ix.done)
	var err error
	for b := range ix.todo {
		if err == nil {
			c.mu.Lock() // once per batch: the pipeline's goroutine takes it for every record
			for i := range b.n {
				c.aggregate(c.total+i, &b.recs[i])
			}
			c.mu.Unlock()
		}
		for i := range b.n {
			if err == nil {
				if err = c.indexRecord(&b.recs[i]); err != nil {
					ix.err.Store(&err)
				}
			}
			if b.recs[i].CopySize() > keepBytes {
				b.recs[i] = session.Record{} // do not keep a large packet's copy
			}
		}
		if b.flush != nil {
			if err == nil {
				if err = c.writeOut(); err != nil {
					ix.err.Store(&err)
				}
			}
			b.flush <- err
			b.flush = nil
		}
		b.n, b.bytes = 0, 0
		ix.free <- b
	}
}

// copyForIndex copies what the index reads of a record (tests compare it
// with whole copies).
var copyForIndex = func(r, dst *session.Record) {
	r.CopyPartTo(dst, session.Part{Raw: true, Fields: indexedField})
}

// indexedField reports whether the index reads a field: the Info text
// reads the packet identifier and a SUBSCRIBE's topics, the statistics the
// client id, the connections table (connections.go) the CONNECT's, CONNACK's
// and DISCONNECT's fields it shows.
func indexedField(f *decode.Field) bool {
	switch f.Name {
	case "mqtt.msgid", "mqtt.topic_len", "mqtt.topic", "mqtt.clientid",
		"mqtt.username", "mqtt.kalive", "mqtt.property.server_keep_alive", "mqtt.disconnect.reason_code":
		return true
	}
	return false
}
