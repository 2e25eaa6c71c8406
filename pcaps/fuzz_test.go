package pcaps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader: whatever the input, the reader never panics, hands out
// frames that agree with their capture info on interfaces it knows,
// reports a bounded number of warnings, ends with io.EOF, ErrTruncated or
// a read error (and keeps returning it), and holds no more memory than the
// input needs. Seeds: the first 16 KiB of the sample captures and the
// hand-built ones.
func FuzzReader(f *testing.F) {
	samples, _ := filepath.Glob("samples/*.pcap*")
	if len(samples) == 0 {
		f.Fatal("no sample captures in samples/")
	}
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 16<<10)]) // the fuzzer mutates small inputs faster
	}
	f.Add(join(sections()...))
	file, _, _ := corrupt()
	f.Add(file)
	le := binary.LittleEndian
	p := pcapFile(binary.BigEndian, true, 65535, 1)
	p = pcapRecord(p, binary.BigEndian, 1700000000, 5, frameData(60, 1), 60)
	f.Add(p)
	p = pcapFile(le, false, 65535, 1)
	p = pcapRecord(p, le, 1700000000, 5, frameData(60, 1), 60)
	p = pcapRecord(p, le, 1700000000, 5, frameData(40, 1), 1<<30)
	f.Add(p)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		warnings := 0
		r.SetHooks(Hooks{Warning: func(string) { warnings++ }})
		r.LinkType()
		var last error
		for range 100000 {
			frame, ci, err := r.Next()
			if err != nil {
				last = err
				break
			}
			if len(frame) != ci.CaptureLength || (!r.Compressed && ci.CaptureLength > len(data)) {
				t.Fatalf("frame of %d bytes, capture length %d, input of %d", len(frame), ci.CaptureLength, len(data))
			}
			if _, ok := r.Interface(ci.InterfaceIndex); !ok {
				t.Fatalf("frame on interface %d, which Interface does not know", ci.InterfaceIndex)
			}
		}
		if last == nil {
			return
		}
		if last != io.EOF && !errors.Is(last, ErrTruncated) && r.Compressed == false {
			t.Fatalf("uncompressed input ended with %v", last)
		}
		if _, _, err := r.Next(); err != last {
			t.Fatalf("Next after %v gave %v", last, err)
		}
		if warnings > maxWarnings+1 {
			t.Fatalf("%d warnings", warnings)
		}
		if !r.Compressed && cap(r.in.buf) > max(minBuffer, 2*len(data)) {
			t.Fatalf("buffer of %d bytes for an input of %d", cap(r.in.buf), len(data))
		}
	})
}
