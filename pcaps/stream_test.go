package pcaps

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// result is what one call of Next gave.
type result struct {
	data []byte
	ci   gopacket.CaptureInfo
	err  error
}

// nextSoon calls r.Next in a goroutine and fails t when it does not return
// within a minute (it would wait for input that never comes).
func nextSoon(t *testing.T, r *Reader) result {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		data, ci, err := r.Next()
		done <- result{append([]byte(nil), data...), ci, err}
	}()
	select {
	case res := <-done:
		return res
	case <-time.After(time.Minute):
		t.Fatal("Next still waits for input it does not need")
	}
	return result{}
}

// TestStreamFrameAsSoonAsItArrives: on a pipe, Next returns each frame as
// soon as its bytes are written, without waiting for more input, for both
// formats; input that ends inside a block or record is ErrTruncated.
func TestStreamFrameAsSoonAsItArrives(t *testing.T) {
	s := newSection(false, 1)
	s.idb(1, 0, s.name("pipe0"))
	head := len(s.b)
	s.epb(0, 1700000000e6, frameData(60, 1), 60)
	s.epb(0, 1700000001e6, frameData(61, 2), 61)
	le := binary.LittleEndian
	p := pcapFile(le, true, 65535, 1)
	p = pcapRecord(p, le, 1700000000, 5, frameData(60, 1), 60)
	p = pcapRecord(p, le, 1700000001, 6, frameData(61, 2), 61)
	for _, c := range []struct {
		name  string
		file  []byte
		first int // end of the first frame
	}{
		{"pcapng", s.b, head + 92},
		{"pcap", p, 24 + 76},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pr.Close()
			go pw.Write(c.file[:c.first])
			r, err := NewReader(pr, "the pipe")
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != 0 || r.Path != "the pipe" || string(r.Format) != c.name {
				t.Errorf("size %d, path %q, format %s", r.Size(), r.Path, r.Format)
			}
			res := nextSoon(t, r)
			if res.err != nil || !bytes.Equal(res.data, frameData(60, 1)) || res.ci.Timestamp.Unix() != 1700000000 {
				t.Fatalf("first frame: %d bytes at %v, %v", len(res.data), res.ci.Timestamp, res.err)
			}
			// The second frame, cut short, then the end of the input.
			go func() {
				pw.Write(c.file[c.first : len(c.file)-1])
				pw.Close()
			}()
			if res := nextSoon(t, r); !errors.Is(res.err, ErrTruncated) {
				t.Errorf("cut frame: %v, want ErrTruncated", res.err)
			}
			if res := nextSoon(t, r); !errors.Is(res.err, ErrTruncated) {
				t.Errorf("after the cut frame: %v, want ErrTruncated again", res.err)
			}
		})
	}
}

// TestStandardInput: Open("-") reads standard input, gzip-compressed here;
// messages call it standard input.
func TestStandardInput(t *testing.T) {
	file, want, _ := corrupt()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(file)
	zw.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = pr
	defer func() { os.Stdin = stdin; pr.Close() }()
	go func() {
		pw.Write(gz.Bytes())
		pw.Close()
	}()
	r, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != "standard input" || !r.Compressed || r.Size() != 0 || r.Format != FormatPcapng {
		t.Errorf("path %q, compressed %v, size %d, format %s", r.Path, r.Compressed, r.Size(), r.Format)
	}
	got := readReader(r)
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	sameLines(t, "standard input", got.lines, want)
	if w := got.warnings[0]; !strings.HasPrefix(w, "standard input: uncompressed byte 152: ") {
		t.Errorf("warning %q", w)
	}
	if r.Offset() != int64(gz.Len()) {
		t.Errorf("Offset %d after the end, want the %d compressed bytes", r.Offset(), gz.Len())
	}
}

// TestTruncatedInputs: an input that ends inside a block header, a block,
// a record header or a record, plain or gzip-compressed, gives every frame
// before the cut and then ErrTruncated; a block length past the end of the
// input that a valid block follows is a malformed block instead.
func TestTruncatedInputs(t *testing.T) {
	s := newSection(false, 1)
	s.idb(1, 0, s.name("t0"))
	for i := range 3 {
		s.epb(0, uint64(1700000000+i)*1e6, frameData(60, byte(i)), 60)
	}
	le := binary.LittleEndian
	p := pcapFile(le, false, 65535, 1)
	for i := range 3 {
		p = pcapRecord(p, le, uint32(1700000000+i), 0, frameData(60, byte(i)), 60)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(s.b)
	zw.Close()
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		data   []byte
		frames int
	}{
		{"pcapng block header", s.b[:len(s.b)-92+6], 2},
		{"pcapng block", s.b[:len(s.b)-10], 2},
		{"pcapng trailing length", s.b[:len(s.b)-2], 2},
		{"pcap record header", p[:len(p)-76+10], 2},
		{"pcap record", p[:len(p)-1], 2},
		{"gzip trailer", gz.Bytes()[:gz.Len()-4], 3}, // every frame, but not the length check
	} {
		got := readPath(t, writeFile(t, dir, "cut", c.data))
		if !errors.Is(got.err, ErrTruncated) || len(got.lines) != c.frames || len(got.warnings) != 0 {
			t.Errorf("%s: %d frames, %v, warnings %q; want %d frames and ErrTruncated", c.name, len(got.lines), got.err, got.warnings, c.frames)
		}
	}

	// The second frame's total length points past the end of the file,
	// but a valid block follows it.
	long := bytes.Clone(s.b)
	at := len(long) - 2*92
	le.PutUint32(long[at+4:], 1000)
	path := writeFile(t, dir, "long", long)
	got := readPath(t, path)
	want := fmt.Sprintf("%s: byte %d: block total length 1000 runs past the end of the input; skipped 92 bytes to the next valid block", path, at)
	if got.err != nil || len(got.lines) != 2 || len(got.warnings) != 1 || got.warnings[0] != want {
		t.Errorf("%d frames, %v, warnings %q; want %q", len(got.lines), got.err, got.warnings, want)
	}
}

// TestLinkTypeReadsAhead: LinkType finds the first interface behind other
// blocks without losing them: Next still reports them, then the frame.
func TestLinkTypeReadsAhead(t *testing.T) {
	s := newSection(false, 1)
	s.dsb(SecretsTLSKeyLog, []byte("early keys"))
	s.block(blockCustom, []byte{0, 0, 0, 1})
	s.epb(0, 1, frameData(60, 1), 60) // before any interface: skipped
	s.idb(276, 0, s.name("any"))
	s.epb(0, 1700000000e6, frameData(60, 2), 60)
	s.idb(1, 0, s.name("eth"))
	s.epb(1, 1700000001e6, frameData(60, 3), 60)
	path := writeFile(t, t.TempDir(), "ahead.pcapng", s.b)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if l := r.LinkType(); l != layers.LinkTypeLinuxSLL2 {
		t.Errorf("LinkType %v, want Linux SLL2", l)
	}
	if f, ok := r.Interface(0); !ok || f.Name != "any" {
		t.Errorf("Interface(0) = %+v, %v before Next", f, ok)
	}
	got := readReader(r)
	want := []string{`secret "early keys"`, "warning", "interface 0/0 any 276", "frame 1", "interface 0/1 eth 1", "frame 2"}
	if got.err != nil || !slices.Equal(got.log, want) {
		t.Errorf("%v, log %q, want %q", got.err, got.log, want)
	}
	if r.Offset() != int64(len(s.b)) || r.Size() != int64(len(s.b)) {
		t.Errorf("Offset %d, Size %d, want %d", r.Offset(), r.Size(), len(s.b))
	}

	// No interface at all: link type 0, and nothing to copy into an export.
	none := newSection(false, 1)
	none.dsb(SecretsTLSKeyLog, []byte("k"))
	r, err = Open(writeFile(t, t.TempDir(), "none.pcapng", none.b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if l := r.LinkType(); l != 0 {
		t.Errorf("LinkType %v with no interface", l)
	}
	if _, err := NewWriter(io.Discard, r, WriterInfo{}); err == nil || !strings.Contains(err.Error(), "declares no interface") {
		t.Errorf("NewWriter: %v", err)
	}
}

// TestCaps: more than maxWarnings problems end in one line saying further
// ones are not reported; interfaces beyond maxInterfaces are ignored, each
// with a warning, and so are frames on them.
func TestCaps(t *testing.T) {
	s := newSection(false, 1)
	s.idb(1, 0)
	for range maxWarnings + 20 {
		s.epb(3, 1, frameData(20, 0), 20)
	}
	s.epb(0, 1700000000e6, frameData(20, 0), 20)
	path := writeFile(t, t.TempDir(), "many.pcapng", s.b)
	got := readPath(t, path)
	if len(got.lines) != 1 || len(got.warnings) != maxWarnings+1 {
		t.Fatalf("%d frames, %d warnings", len(got.lines), len(got.warnings))
	}
	if w := got.warnings[maxWarnings]; w != path+": more than 100 problems; further ones are not reported" {
		t.Errorf("last warning %q", w)
	}

	m := newSection(true, 1)
	for range maxInterfaces + 1 {
		m.idb(1, 0)
	}
	m.epb(maxInterfaces-1, 1700000000e6, frameData(20, 0), 20)
	m.epb(maxInterfaces, 1700000000e6, frameData(20, 0), 20)
	got = readPath(t, writeFile(t, t.TempDir(), "ifaces.pcapng", m.b))
	if len(got.lines) != 1 || len(got.warnings) != 2 ||
		!strings.Contains(got.warnings[0], "more than 65536 interfaces; interface 65536 of section 0 is ignored") ||
		!strings.Contains(got.warnings[1], "is on interface 65536, but its section declares 65536") {
		t.Errorf("%d frames, warnings %q", len(got.lines), got.warnings)
	}
}

// TestWarningsWithoutHook: with no Warning hook, warnings go to standard
// error, one line each.
func TestWarningsWithoutHook(t *testing.T) {
	file, want, warnings := corrupt()
	path := writeFile(t, t.TempDir(), "c.pcapng", file)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = pw
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, _, err = r.Next(); err != nil {
			break
		}
		n++
	}
	r.Close()
	os.Stderr = stderr
	pw.Close()
	out, _ := io.ReadAll(pr)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if err != io.EOF || n != len(want) || len(lines) != len(warnings) || !strings.HasPrefix(lines[0], "mqtap: "+path+": byte 152: ") {
		t.Errorf("%d frames, %v, standard error:\n%s", n, err, out)
	}
}

// TestCutThenAppended: a capture cut short at an odd offset and then
// appended to (cat of a truncated file and another) leaves the second
// section unaligned: the reader warns once and finds it, and reads every
// frame of both as tshark reads the originals.
func TestCutThenAppended(t *testing.T) {
	first, err := os.ReadFile("samples/mqtt311.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile("samples/mqtt5.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := first[:len(first)/2+1]
	alone := readPath(t, writeFile(t, dir, "cut.pcapng", cut))
	if !errors.Is(alone.err, ErrTruncated) || len(alone.lines) == 0 {
		t.Fatalf("cut file: %d frames, %v", len(alone.lines), alone.err)
	}
	path := writeFile(t, dir, "cat.pcapng", cut, second)
	got := readPath(t, path)
	tshark := tsharkAll(t, "samples/mqtt311.pcapng", "samples/mqtt5.pcapng")
	want := append(tshark["samples/mqtt311.pcapng"][:len(alone.lines)], tshark["samples/mqtt5.pcapng"]...)
	if got.err != nil || len(got.warnings) != 1 || !strings.HasPrefix(got.warnings[0], path+": byte ") || !strings.Contains(got.warnings[0], "to the next valid block") {
		t.Fatalf("%v, warnings %q", got.err, got.warnings)
	}
	sameLines(t, "cut then appended", got.lines, renumber(want))
}
