package output

import (
	"bufio"
	"errors"
	"sync"
	"unsafe"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// A batch carries batchSize records to a formatting goroutine, fewer when
// their packets reach batchBytes; a record slot keeps the buffers of its
// copy for the next one up to keepBytes. With the fixed number of batches
// this bounds the memory the copies take, whatever the packets' sizes.
const (
	batchSize  = 256
	batchBytes = 4 << 20
	keepBytes  = 16 << 10
)

// parallel formats records on several goroutines and writes their text in
// the order the records came.
//
// Write copies each record into the current batch. A full batch (or a
// flush) is queued twice: on jobs, where the first free worker formats it,
// and on order, which the writing goroutine follows, waiting for each batch
// to be formatted before writing it. Batches come back through free, whose
// fixed number bounds the memory and makes Write wait when the workers
// fall behind.
type parallel struct {
	out   *bufio.Writer
	cur   *batch // being filled; nil until the next record
	next  int    // number of records written
	jobs  chan *batch
	order chan *batch
	free  chan *batch
	wg    sync.WaitGroup

	mu     sync.Mutex
	err    error // the first error writing out
	closed bool
}

// batch is a run of consecutive records and, once formatted, their text.
type batch struct {
	recs  []session.Record
	n     int // records in use
	bytes int // of their packets and plaintexts
	first int // number of the first record, from 0
	out   []byte
	ready chan struct{} // formatted
	flush chan error    // when set, flush out after writing and answer
}

func newParallel(out *bufio.Writer, opts Options) *parallel {
	nb := 2*opts.Workers + 2
	p := &parallel{out: out, jobs: make(chan *batch, nb), order: make(chan *batch, nb), free: make(chan *batch, nb)}
	for range nb {
		p.free <- &batch{recs: make([]session.Record, batchSize), ready: make(chan struct{}, 1)}
	}
	p.wg.Add(opts.Workers + 1)
	for range opts.Workers {
		go p.format(newFormatter(opts))
	}
	go p.writeOut()
	return p
}

// format formats batches until jobs is closed.
func (p *parallel) format(f *formatter) {
	defer p.wg.Done()
	for b := range p.jobs {
		b.out = b.out[:0]
		for i := range b.n {
			b.out = f.record(b.out, &b.recs[i], b.first+i)
		}
		b.ready <- struct{}{}
	}
}

// writeOut writes the batches in order until order is closed.
func (p *parallel) writeOut() {
	defer p.wg.Done()
	for b := range p.order {
		<-b.ready
		if p.error() == nil && len(b.out) > 0 {
			_, err := p.out.Write(b.out)
			p.fail(err)
		}
		if b.flush != nil {
			if p.error() == nil {
				p.fail(p.out.Flush())
			}
			b.flush <- p.error()
			b.flush = nil
		}
		for i := range b.n {
			if copySize(&b.recs[i]) > keepBytes {
				b.recs[i] = session.Record{} // do not keep a large packet's copy
			}
		}
		b.n, b.bytes = 0, 0
		p.free <- b
	}
}

func (p *parallel) fail(err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

func (p *parallel) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// write copies r into the current batch and queues the batch when full.
func (p *parallel) write(r *session.Record) error {
	if p.closed {
		return errClosed
	}
	b := p.batch()
	r.CopyTo(&b.recs[b.n])
	b.n++
	b.bytes += copySize(&b.recs[b.n-1])
	p.next++
	if b.n == len(b.recs) || b.bytes >= batchBytes {
		p.submit()
	}
	return p.error()
}

var errClosed = errors.New("output: write after close")

// copySize is about the memory a record's copy holds: its packet, fields,
// problems, findings and plaintext.
func copySize(r *session.Record) int {
	const field, problem, finding = int(unsafe.Sizeof(decode.Field{})), int(unsafe.Sizeof(decode.Problem{})), int(unsafe.Sizeof(session.Finding{}))
	return cap(r.Packet.Raw) + cap(r.Packet.Fields)*field + cap(r.Packet.Problems)*problem + cap(r.Findings)*finding + cap(r.Crypto.Plaintext)
}

// batch returns the batch being filled, taking a free one if needed.
func (p *parallel) batch() *batch {
	if p.cur == nil {
		p.cur = <-p.free
		p.cur.first = p.next
	}
	return p.cur
}

func (p *parallel) submit() {
	b := p.cur
	p.cur = nil
	p.order <- b
	p.jobs <- b
}

// flush queues the records so far and waits until they are written out.
func (p *parallel) flush() error {
	if p.closed {
		return p.error()
	}
	answer := make(chan error, 1)
	p.batch().flush = answer
	p.submit()
	return <-answer
}

// close flushes and stops the goroutines.
func (p *parallel) close() error {
	if p.closed {
		return p.error()
	}
	err := p.flush()
	p.closed = true
	close(p.jobs)
	close(p.order)
	p.wg.Wait()
	return err
}
