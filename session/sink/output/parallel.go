package output

import (
	"bufio"
	"errors"
	"sync"
	"sync/atomic"

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
// Write copies what the format reads of each record into the current batch:
//   - for the one-line summary, the line's columns and the Info text,
//     rendered at once since it reads most of the record;
//   - for -T fields whose names all come from the record itself and the MQTT
//     packet, the columns read from the record and the packet's fields
//     that fill a column, with their values;
//   - else a copy of the record (session.Record.CopyTo).
//
// A full batch (or a flush) is queued twice: on jobs, where the first free
// worker formats it, and on order, which the writing goroutine follows,
// waiting for each batch to be formatted before writing it. Batches come
// back through free, whose fixed number bounds the memory and makes Write
// wait when the workers fall behind.
type parallel struct {
	out   *bufio.Writer
	kind  batchKind
	pick  *formatter // the writing goroutine's, to pick -T fields' fields
	cur   *batch     // being filled; nil until the next record
	next  int        // number of records written
	jobs  chan *batch
	order chan *batch
	free  chan *batch
	wg    sync.WaitGroup

	err    atomic.Pointer[error] // the first error writing out
	closed bool
}

// batchKind is what a batch holds of each record.
type batchKind uint8

const (
	records     batchKind = iota // recs
	summaries                    // lines, and the Info texts (or brief's topics) in text
	fieldValues                  // lines, and the fields filling a column in values
)

// batch is a run of consecutive records and, once formatted, their text.
type batch struct {
	recs   []session.Record
	lines  []line
	text   []byte         // summaries: the Info texts one after the other
	briefs []brief        // summaries: what a plain record's Info is made of
	values []decode.Field // fieldValues: their values are in text
	ends   []int          // where each record's part of text or values ends
	n      int            // records in use
	bytes  int            // of their packets and plaintexts, or of text
	first  int            // number of the first record, from 0
	out    []byte
	ready  chan struct{} // formatted
	flush  chan error    // when set, flush out after writing and answer
}

func newParallel(out *bufio.Writer, opts Options) *parallel {
	nb := 2*opts.Workers + 2
	p := &parallel{out: out, jobs: make(chan *batch, nb), order: make(chan *batch, nb), free: make(chan *batch, nb)}
	switch {
	case opts.Format == Text && !opts.Verbose:
		p.kind = summaries
	case opts.Format == Fields:
		p.pick = newFormatter(opts)
		if !p.pick.columns.headTail {
			p.kind = fieldValues
		}
	}
	for range nb {
		b := &batch{ready: make(chan struct{}, 1)}
		if p.kind == records {
			b.recs = make([]session.Record, batchSize)
		} else {
			b.lines, b.ends = make([]line, batchSize), make([]int, batchSize)
			if p.kind == summaries {
				b.briefs = make([]brief, batchSize)
			}
		}
		p.free <- b
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
			b.out = f.batchRecord(b.out, b, i)
		}
		b.ready <- struct{}{}
	}
}

// batchRecord appends the text of the batch's i-th record.
func (f *formatter) batchRecord(out []byte, b *batch, i int) []byte {
	if b.recs != nil {
		return f.record(out, &b.recs[i], b.first+i)
	}
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	if f.opts.Format == Fields {
		f.clearColumns()
		for j := start; j < b.ends[i]; j++ {
			f.fill(&b.values[j])
		}
		return f.appendFieldLine(out, &b.lines[i])
	}
	out = f.appendColumns(out, &b.lines[i])
	if br := &b.briefs[i]; br.plain {
		out = br.appendInfo(out, b.lines[i].typ, b.text[start:b.ends[i]])
	} else {
		out = append(out, b.text[start:b.ends[i]]...)
	}
	return append(out, '\n')
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
		for i := range min(b.n, len(b.recs)) {
			if b.recs[i].CopySize() > keepBytes {
				b.recs[i] = session.Record{} // do not keep a large packet's copy
			}
		}
		if cap(b.text) > 2*batchBytes {
			b.text = nil
		}
		b.n, b.bytes, b.text, b.values = 0, 0, b.text[:0], b.values[:0]
		p.free <- b
	}
}

func (p *parallel) fail(err error) {
	if err != nil {
		p.err.CompareAndSwap(nil, &err)
	}
}

// error returns the first error writing out, if any: Write reads it for
// every record, so it is an atomic load.
func (p *parallel) error() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

// write copies r into the current batch and queues the batch when full.
func (p *parallel) write(r *session.Record) error {
	if p.closed {
		return errClosed
	}
	b := p.batch()
	switch p.kind {
	case summaries:
		b.lines[b.n] = lineOf(r)
		if b.briefs[b.n] = briefOf(r); b.briefs[b.n].plain {
			b.text = append(b.text, r.Packet.Topic...)
		} else {
			b.text = AppendInfo(b.text, r)
		}
		b.ends[b.n] = len(b.text)
		b.bytes = len(b.text)
	case fieldValues:
		b.lines[b.n] = lineOf(r)
		p.pickValues(b, r)
		b.ends[b.n] = len(b.values)
		b.bytes = len(b.text)
	default:
		p.copy(r, &b.recs[b.n])
		b.bytes += b.recs[b.n].CopySize()
	}
	b.n++
	p.next++
	if b.n == batchSize || b.bytes >= batchBytes {
		p.submit()
	}
	return p.error()
}

// pickValues appends to the batch the record's packet fields that fill a
// column of -T fields, their values copied.
func (p *parallel) pickValues(b *batch, r *session.Record) {
	for i := range r.Packet.Fields {
		f := &r.Packet.Fields[i]
		if f.Kind == decode.KindNone || !p.pick.fills(f) {
			continue
		}
		v := *f
		if len(f.Bytes) > 0 {
			start := len(b.text)
			b.text = append(b.text, f.Bytes...)
			v.Bytes = b.text[start:len(b.text):len(b.text)]
		}
		b.values = append(b.values, v)
	}
}

// copy copies a record for the formats that read all of it (-V, JSON, and
// -T fields with names from the frame or mqtap's own fields), leaving out
// the packet's bytes and the fields -T fields does not read.
func (p *parallel) copy(r, dst *session.Record) {
	if p.pick == nil {
		r.CopyTo(dst)
		return
	}
	r.CopyPartTo(dst, session.Part{Fields: p.pick.fills, Value: p.pick.columns.value})
}

var errClosed = errors.New("output: write after close")

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
