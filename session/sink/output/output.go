// Package output prints records as tshark does.
//
// It writes one summary line per MQTT control packet, the full detail tree
// (-V), JSON, NDJSON, or tab-separated fields (-T fields -e NAME).
package output

import (
	"bufio"
	"fmt"
	"io"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// Format is an output format, as named by -T.
type Format string

// Output formats.
const (
	Text   Format = "text"
	JSON   Format = "json"
	NDJSON Format = "ndjson"
	Fields Format = "fields"
)

// Formats lists the formats -T accepts.
var Formats = []Format{Text, JSON, NDJSON, Fields}

// Options choose what a Writer prints.
type Options struct {
	Format      Format
	Verbose     bool     // -V: the detail tree after (text) each summary line
	FieldNames  []string // -e NAME, for Fields
	ShowSecrets bool     // print mqtt.passwd instead of masking it
	// Workers formats records on this many goroutines besides the caller's,
	// writing them in the order they were written (0 or 1: the caller
	// formats each record in Write). Write then copies the record
	// (Record.CopyTo), and an error of the underlying writer is returned by
	// a later Write, Flush or Close.
	Workers int
}

// Writer prints records in one format.
type Writer struct {
	opts  Options
	w     *bufio.Writer
	buf   []byte
	count int
	f     *formatter // formats in Write, without Workers
	par   *parallel  // formats on other goroutines, with Workers
}

// formatter turns records into text. It keeps caches and buffers, so each
// goroutine that formats has its own.
type formatter struct {
	opts Options
	// fields for -T fields: where they come from, values collected per
	// name, reused
	columns *columns
	cols    [][]byte
	all     []*decode.Field // fields of the record being written as JSON, reused

	endpoints *endpointCache    // formatted endpoints, see endpoint
	aliases   map[string]string // field name -> Wireshark's generic name, for -e
}

func newFormatter(opts Options) *formatter {
	return &formatter{opts: opts, columns: newColumns(opts.FieldNames), cols: make([][]byte, len(opts.FieldNames)), endpoints: new(endpointCache)}
}

// New returns a Writer printing to w. It fails on an unknown format or a
// -T fields without -e.
func New(w io.Writer, opts Options) (*Writer, error) {
	if opts.Format == "" {
		opts.Format = Text
	}
	switch opts.Format {
	case Text, JSON, NDJSON:
	case Fields:
		if len(opts.FieldNames) == 0 {
			return nil, fmt.Errorf("-T fields needs at least one -e FIELD (for example -e frame.number -e mqtt.topic)")
		}
	default:
		return nil, fmt.Errorf("unknown output format %q: use one of text, json, ndjson, fields", opts.Format)
	}
	if opts.Verbose && opts.Format != Text {
		return nil, fmt.Errorf("-V prints the detail tree as text; it cannot be combined with -T %s", opts.Format)
	}
	out := &Writer{opts: opts, w: bufio.NewWriterSize(w, 1<<16)}
	if opts.Workers > 1 {
		out.par = newParallel(out.w, opts)
	} else {
		out.f = newFormatter(opts)
	}
	return out, nil
}

// Write prints one record.
func (w *Writer) Write(r *session.Record) error {
	if w.par != nil {
		w.count++
		return w.par.write(r)
	}
	w.buf = w.f.record(w.buf[:0], r, w.count)
	w.count++
	_, err := w.w.Write(w.buf)
	return err
}

// record appends the text of the n-th record written (from 0).
func (w *formatter) record(b []byte, r *session.Record, n int) []byte {
	switch w.opts.Format {
	case Text:
		b = w.appendSummary(b, r)
		if w.opts.Verbose {
			b = w.appendTree(b, r)
		}
	case JSON:
		if n == 0 {
			b = append(b, "[\n"...)
		} else {
			b = append(b, ",\n"...)
		}
		b = w.appendJSON(b, r)
	case NDJSON:
		b = w.appendJSON(b, r)
		b = append(b, '\n')
	case Fields:
		b = w.appendFields(b, r)
	}
	return b
}

// Flush writes what is buffered. Output goes through a large buffer; live
// sources flush whenever they have caught up with the traffic, so every
// record appears as soon as it is decoded.
func (w *Writer) Flush() error {
	if w.par != nil {
		return w.par.flush()
	}
	return w.w.Flush()
}

// Close ends the output (the closing bracket of a JSON array) and flushes.
func (w *Writer) Close() error {
	if w.par != nil {
		if err := w.par.close(); err != nil {
			return err
		}
	}
	if w.opts.Format == JSON {
		if w.count == 0 {
			w.w.WriteString("[\n]\n")
		} else {
			w.w.WriteString("\n]\n")
		}
	}
	return w.w.Flush()
}

// Count is the number of records written.
func (w *Writer) Count() int { return w.count }

// secret reports whether a field's value is masked unless ShowSecrets.
func (w *formatter) secret(f *decode.Field) bool {
	return !w.opts.ShowSecrets && f.Name == "mqtt.passwd"
}

const mask = "********"
