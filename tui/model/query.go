// Finding records in the spool: by frame number, by display filter (in
// parallel), by TCP connection.

package model

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/mqtap/mqtap/decode"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
)

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
	// Chunks of records, each read with one read of the rows and one of
	// the blobs, are matched by one worker per CPU, and put back in order.
	//
	// A filter that requires a topic (mqtt.topic == "…", alone or in an
	// "and") skips the PUBLISH records whose indexed topic differs without
	// decoding them: a PUBLISH has no other mqtt.topic field.
	// So does one that requires a packet type (mqtt.msgtype == N), for
	// any record of another type.
	const chunk = 16384
	topic, byTopic := f.RequiredEqual("mqtt.topic")
	typ, byType := f.RequiredUint("mqtt.msgtype")
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
				rows, blobs, reuse, err := c.chunk(lo, hi, buf)
				buf = reuse
				if err != nil {
					failed.Store(err)
					return
				}
				for i := lo; i < hi; i++ {
					if byTopic && otherTopic(rows, blobs, i-lo, topic) ||
						byType && uint64(rows[(i-lo)*rowSize+48]) != typ {
						continue
					}
					if err := c.chunkRecord(lo, i-lo, rows, blobs, &r); err != nil {
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

// otherTopic reports whether the k-th record of a chunk is a PUBLISH
// whose topic is not topic, reading its row and the head of its blob. A
// record it cannot read is left to chunkRecord, which reports it.
func otherTopic(rows, blobs []byte, k int, topic []byte) bool {
	row := (*[rowSize]byte)(rows[k*rowSize:])
	if decode.Type(row[48]) != decode.PUBLISH {
		return false
	}
	le := binary.LittleEndian
	off := int64(le.Uint64(row[36:])) - int64(le.Uint64(rows[36:]))
	size := int64(le.Uint32(row[44:]))
	if off < 0 || off+size > int64(len(blobs)) {
		return false
	}
	d := blobReader{b: blobs[off : off+size]}
	d.bytes() // info
	got := d.bytes()
	return d.err == nil && !bytes.Equal(got, topic)
}
