// Reading the records back for an export (the UI's :w): in order, in
// chunks, with what the first pass of mqtap export learns of each record,
// so that the export does not run the capture through the pipeline and the
// analysis again for it.

package model

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// exportChunk is how many records ExportRecords reads at a time.
const exportChunk = 16384

// ExportRecords calls fn for records 0 to n-1, in order, with what an
// export's first pass reads of each (session/sink/export's
// Collector.Observe and Comment): its frame, tcp.stream, packet type,
// direction and protocol version, and, for a record with a protection
// scheme (a decrypted, verified or key-exchange message), its decryption
// results and findings. The other fields are left empty: the MQTT packet
// is not decoded again. The record passed to fn is reused by the next
// call. progress, when set, is called after each chunk with the records
// done. A cancelled ctx stops it with ctx's error.
func (c *Capture) ExportRecords(ctx context.Context, n int, fn func(i int, r *session.Record), progress func(done int)) error {
	if n > c.Len() {
		return fmt.Errorf("records 0 to %d: out of range (%d records)", n-1, c.Len())
	}
	var (
		buf  []byte
		lite session.Record // a record without a scheme: what its row says
		full session.Record // a record with one, decoded whole
	)
	le := binary.LittleEndian
	for lo := 0; lo < n; lo += exportChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+exportChunk, n)
		rows, blobs, reuse, err := c.chunk(lo, hi, buf)
		buf = reuse
		if err != nil {
			return err
		}
		base := int64(le.Uint64(rows[36:]))
		for k := range hi - lo {
			row := (*[rowSize]byte)(rows[k*rowSize:])
			off, size := int64(le.Uint64(row[36:]))-base, int64(le.Uint32(row[44:]))
			if off < 0 || off+size > int64(len(blobs)) {
				return fmt.Errorf("record %d: corrupt index", lo+k)
			}
			scheme, err := blobScheme(blobs[off : off+size])
			if err != nil {
				return fmt.Errorf("record %d: %w", lo+k, err)
			}
			if scheme {
				if err := c.decodeRecord(lo+k, row, blobs[off:off+size:off+size], &full); err != nil {
					return err
				}
				fn(lo+k, &full)
				continue
			}
			lite.Frame = int(le.Uint32(row[0:]))
			lite.Stream = int(le.Uint32(row[4:]))
			lite.Packet.Type = decode.Type(row[48])
			lite.Packet.FromClient = row[49]&flagFromClient != 0
			lite.InFrame = row[49]&flagInFrame != 0
			lite.Packet.Version = row[55]
			fn(lo+k, &lite)
		}
		if progress != nil {
			progress(hi)
		}
	}
	return nil
}

// blobScheme reports whether a record's blob names a protection scheme
// (Crypto.Scheme), reading only its head: the Info text, the topic, the
// session and the scheme.
func blobScheme(b []byte) (bool, error) {
	d := blobReader{b: b}
	d.bytes() // info
	d.bytes() // topic
	d.bytes() // session
	scheme := d.bytes()
	return len(scheme) > 0, d.err
}
