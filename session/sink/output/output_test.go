package output

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/analysis"
	"github.com/mqtap/mqtap/session/brokertest"
	"github.com/mqtap/mqtap/session/source/file"
)

// subscribe is a record of a SUBSCRIBE with two topics, decoded by the real
// decoder.
func subscribe(t *testing.T) *session.Record {
	t.Helper()
	raw := []byte{0x82, 0x0e, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '\t', 'd', 0x00}
	r := &session.Record{Frame: 7, Time: time.Unix(1700000000, 5000), Relative: 1500 * time.Microsecond, FrameLen: 82,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 1883, Stream: 3}
	var c decode.Conn
	c.SetVersion(decode.V311)
	c.Decode(raw, true, &r.Packet)
	if m := r.Packet.Malformed(); m != "" {
		t.Fatalf("test packet malformed: %s", m)
	}
	return r
}

func write(t *testing.T, opts Options, recs ...*session.Record) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestNDJSONRepeatedFieldsAreArrays(t *testing.T) {
	out := write(t, Options{Format: NDJSON}, subscribe(t))
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	topics, ok := m["mqtt.topic"].([]any)
	if !ok || len(topics) != 2 || topics[0] != "a/b" || topics[1] != "c\td" {
		t.Errorf("mqtt.topic = %#v, want [a/b c\\td]", m["mqtt.topic"])
	}
	if m["frame.time_epoch"] != 1700000000.000005 || m["tcp.stream"] != float64(3) || m["ip.src"] != "10.0.0.1" {
		t.Errorf("record fields: %v", m)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("ndjson is not one line per record: %q", out)
	}
}

func TestFieldsJoinsValuesWithCommas(t *testing.T) {
	out := write(t, Options{Format: Fields, FieldNames: []string{"frame.number", "mqtt.topic", "mqtt.sub.qos", "nosuch.field"}}, subscribe(t))
	if out != "7\ta/b,c\td\t1,0\t\n" {
		t.Errorf("fields output %q", out)
	}
}

func TestTextSummary(t *testing.T) {
	out := write(t, Options{}, subscribe(t))
	for _, want := range []string{"    7 ", "   0.001500 ", "10.0.0.1:40000 → 10.0.0.2:1883", "SUBSCRIBE", "   82 Subscribe Request (id=1) [a/b]"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary %q lacks %q", out, want)
		}
	}
}

func TestControlCharactersInInfoAreEscaped(t *testing.T) {
	r := subscribe(t)
	var c decode.Conn
	c.SetVersion(decode.V311)
	c.Decode([]byte{0x30, 0x07, 0x00, 0x03, 'a', 0x1b, 'b', 'h', 'i'}, true, &r.Packet)
	out := write(t, Options{}, r)
	if strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `[a\x1bb]`) {
		t.Errorf("escape character reached the terminal: %q", out)
	}
}

func TestJSONStringEscaping(t *testing.T) {
	got := string(appendJSONString(nil, "a\"b\\c\n\x01\x7f\xffé"))
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s is not a JSON string: %v", got, err)
	}
	if back != "a\"b\\c\n\x01\x7f\ufffdé" {
		t.Errorf("round trip gave %q", back)
	}
}

func TestEmptyJSONArray(t *testing.T) {
	if out := write(t, Options{Format: JSON}); strings.TrimSpace(out) != "[\n]" {
		t.Errorf("empty -T json = %q", out)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{{Format: "xml"}, {Format: Fields}, {Format: JSON, Verbose: true}} {
		if _, err := New(&bytes.Buffer{}, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestAppendSeconds(t *testing.T) {
	for ns, want := range map[int64]string{0: "0.000000", 1499: "0.000001", 2_000_313_000: "2.000313", -5000: "-0.000005"} {
		if got := string(appendSeconds(nil, ns)); got != want {
			t.Errorf("appendSeconds(%d) = %q, want %q", ns, got, want)
		}
	}
}

// TestWorkersWriteWhatTheCallerWould runs every sample through the pipeline
// into three writers of each format: one formatting in Write, one on worker
// goroutines fed the pipeline's own reused record, and one on workers fed a
// reused copy of it that is overwritten after each Write (the pipeline may
// keep a packet's bytes untouched for a while; this copy does not). The
// outputs are the same, byte for byte, flushes included.
func TestWorkersWriteWhatTheCallerWould(t *testing.T) {
	samples, err := filepath.Glob("../../../pcaps/samples/*.pcap*")
	if err != nil || len(samples) < 20 {
		t.Fatalf("samples: %v (%d)", err, len(samples))
	}
	formats := []Options{
		{}, {Verbose: true}, {Format: JSON}, {Format: NDJSON},
		{Format: Fields, FieldNames: []string{"frame.number", "ip.src", "mqtt.msgtype", "mqtt.topic", "mqtt.msg", "mqtap.plaintext", "mqtap.session", "mqtap.findings", "websocket.payload_length"}},
		{Format: Fields, FieldNames: []string{"frame.number", "tcp.stream", "ipv6.dst", "tcp.srcport", "mqtt.topic", "mqtt.msgid", "mqtt.msg", "mqtt.prop_number", "mqtt.sub.qos", "mqtt.passwd"}},
	}
	total := 0
	for _, path := range samples {
		for _, opts := range formats {
			var one, many, shadowed bytes.Buffer
			w1, err := New(&one, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Workers = 3
			w3, err := New(&many, opts)
			if err != nil {
				t.Fatal(err)
			}
			ws, err := New(&shadowed, opts)
			if err != nil {
				t.Fatal(err)
			}
			var shadow session.Record
			src, err := file.Open(path, file.Options{})
			if err != nil {
				t.Fatal(err)
			}
			chain, err := analysis.New(sampleKeys(t, path))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			p := session.New(chain.Options(session.Options{}), func(r *session.Record) error {
				chain.Observe(r)
				if err := w1.Write(r); err != nil {
					return err
				}
				if err := w3.Write(r); err != nil {
					return err
				}
				r.CopyTo(&shadow)
				if err := ws.Write(&shadow); err != nil {
					return err
				}
				overwrite(&shadow)
				if n++; n%7 == 0 {
					w1.Flush()
					if err := errors.Join(w3.Flush(), ws.Flush()); err != nil {
						return err
					}
					if one.String() != many.String() || one.String() != shadowed.String() {
						return fmt.Errorf("after %d records, flushed outputs differ", n)
					}
				}
				return nil
			})
			err = src.Run(context.Background(), p)
			src.Close()
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := errors.Join(w1.Close(), w3.Close(), ws.Close()); err != nil {
				t.Fatal(err)
			}
			total += n
			if one.String() != many.String() || one.String() != shadowed.String() {
				t.Errorf("%s %+v: output with workers differs from the caller's (%d, %d and %d bytes)", filepath.Base(path), opts, one.Len(), many.Len(), shadowed.Len())
			}
		}
	}
	if total < 1000 {
		t.Errorf("the samples gave %d records, want at least 1000", total)
	}
}

// overwrite spoils the buffers of a record's copy, as the pipeline spoils
// its own record's when it goes on.
func overwrite(r *session.Record) {
	for _, b := range [][]byte{r.Packet.Raw, r.Crypto.Plaintext} {
		for i := range b {
			b[i] = 0xee
		}
	}
	for i := range r.Packet.Fields {
		r.Packet.Fields[i] = decode.Field{Name: "spoilt", Kind: decode.KindString, Bytes: []byte("spoilt")}
	}
	for i := range r.Findings {
		r.Findings[i] = session.Finding{}
	}
	for i := range r.Packet.Problems {
		r.Packet.Problems[i] = decode.Problem{}
	}
}

// TestWorkersReportWriteErrors: an error of the underlying writer comes
// back from a later call, and Write after Close fails.
func TestWorkersReportWriteErrors(t *testing.T) {
	w, err := New(failWriter{}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := subscribe(t)
	for range 3 * batchSize {
		w.Write(r)
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush = %v, want the writer's error", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write returned nil")
	}
	if err := w.Write(r); err == nil {
		t.Error("Write after Close returned nil")
	}
}

// sampleKeys loads the test keys of a sample (pcaps/samples/keys/NAME),
// nil when it has none.
func sampleKeys(t *testing.T, path string) *keys.Store {
	dir := filepath.Join(filepath.Dir(path), "keys", strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	store, err := keys.Load(dir)
	if err != nil {
		t.Fatalf("keys of %s: %v", path, err)
	}
	return store
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestFieldsPlan: -T fields reads most names straight from the record or
// the packet; on every sample, for names of each kind (read directly,
// packet fields, Wireshark's generic names, fields of Head and Tail), it
// prints what collecting every field of the record (Record.Each) gives.
func TestFieldsPlan(t *testing.T) {
	names := []string{"frame.number", "frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
		"tcp.stream", "mqtt.msgtype", "mqtt.topic", "mqtt.msgid", "mqtt.prop_number", "mqtt.prop_string", "mqtt.passwd"}
	withHead := append(append([]string(nil), names...), "frame.time_epoch", "frame.protocols", "mqtap.findings", "mqtap.plaintext")
	samples, err := filepath.Glob("../../../pcaps/samples/*.pcap*")
	if err != nil || len(samples) < 20 {
		t.Fatalf("samples: %v (%d)", err, len(samples))
	}
	checked := 0
	for _, path := range samples {
		recs, _ := brokertest.Records(t, path, session.Options{})
		for k, r := range recs {
			if k%3 == 0 {
				r.Direct = true // as mqtap tap sees packets: no frame nor TCP fields
			}
		}
		for _, set := range [][]string{names, withHead} {
			var want strings.Builder
			for _, r := range recs {
				want.WriteString(referenceFields(r, set))
			}
			for _, workers := range []int{0, 2} {
				got := write(t, Options{Format: Fields, FieldNames: set, Workers: workers}, recs...)
				if got != want.String() {
					t.Fatalf("%s, %d workers: -T fields printed\n%q\nwant\n%q", filepath.Base(path), workers, got, want.String())
				}
			}
			checked += len(recs)
		}
	}
	if checked < 1000 {
		t.Errorf("%d records checked", checked)
	}
}

// referenceFields is -T fields by the definition: every field of the
// record, by name or Wireshark's generic name.
func referenceFields(r *session.Record, names []string) string {
	cols := make([][]byte, len(names))
	f := newFormatter(Options{Format: Fields, FieldNames: names})
	r.Each(func(fd *decode.Field) {
		if fd.Kind == decode.KindNone {
			return
		}
		alias := decode.WiresharkAlias(fd.Name)
		for i, name := range names {
			if name == fd.Name || alias != "" && name == alias {
				if len(cols[i]) > 0 {
					cols[i] = append(cols[i], ',')
				}
				cols[i] = f.appendPlain(cols[i], fd)
			}
		}
	})
	var b []byte
	for i := range cols {
		if i > 0 {
			b = append(b, '\t')
		}
		b = append(b, cols[i]...)
	}
	return string(append(b, '\n'))
}

// TestWorkersBoundMemory: copies of large packets waiting for the workers
// and kept in the batches' slots take a bounded amount of memory, however
// many there are.
func TestWorkersBoundMemory(t *testing.T) {
	raw := decode.AppendVarint([]byte{0x30}, 2+3+256<<10)
	raw = append(raw, 0, 3, 'b', 'i', 'g')
	raw = append(raw, bytes.Repeat([]byte{'x'}, 256<<10)...)
	r := &session.Record{Frame: 1, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 1883}
	var c decode.Conn
	c.SetVersion(decode.V311)
	c.Decode(raw, true, &r.Packet)
	w, err := New(io.Discard, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 { // 512 MB of packets
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 96<<20 {
		t.Errorf("%d MB in use after writing 2000 packets of 256 KB, want under 96", ms.HeapAlloc>>20)
	}
	w.Close()
}
