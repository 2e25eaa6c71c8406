package pcaps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestPcapVariants: micro- and nanosecond pcap files of both byte orders
// read as tshark reads them, on one implicit interface.
func TestPcapVariants(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		order order
		nano  bool
		link  uint32
	}{
		{binary.LittleEndian, false, 1},
		{binary.BigEndian, false, 113},
		{binary.LittleEndian, true, 276},
		{binary.BigEndian, true, 101},
	} {
		name := fmt.Sprintf("%v-nano=%v-link%d.pcap", c.order, c.nano, c.link)
		t.Run(name, func(t *testing.T) {
			frac := uint32(123456)
			if c.nano {
				frac = 123456789
			}
			b := pcapFile(c.order, c.nano, 65535, c.link)
			b = pcapRecord(b, c.order, 1700000000, frac, frameData(60, 1), 60)
			b = pcapRecord(b, c.order, 1700000001, frac+1, frameData(40, 2), 1500)
			b = pcapRecord(b, c.order, 4000000000, 0, frameData(20, 3), 20) // after 2038: unsigned seconds
			path := writeFile(t, dir, name, b)
			got := readPath(t, path)
			if got.err != nil || len(got.warnings) != 0 {
				t.Fatalf("read: %v, warnings %q", got.err, got.warnings)
			}
			sameLines(t, "pcap vs tshark", got.lines, tsharkFrames(t, path))
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			f, ok := r.Interface(0)
			want := Interface{LinkType: layers.LinkType(c.link), SnapLen: 65535, TSResol: 6}
			if c.nano {
				want.TSResol = 9
			}
			if r.Format != FormatPcap || r.LinkType() != layers.LinkType(c.link) || !ok || f != want {
				t.Errorf("format %s, link %v, interface %+v, want %+v", r.Format, r.LinkType(), f, want)
			}
		})
	}
}

// TestPcapCorruptRecord: a record header with an absurd length gets one
// warning with its offset; the reader goes on from the next plausible
// record, or ends as truncated when there is none.
func TestPcapCorruptRecord(t *testing.T) {
	le := binary.LittleEndian
	b := pcapFile(le, false, 65535, 1)
	var want []string
	for i := range 6 {
		if i == 3 {
			at := len(b)
			b = pcapRecord(b, le, 1700000000+uint32(i), 0, frameData(60, 9), 60)
			le.PutUint32(b[at+8:], 1<<30) // captured length
			continue
		}
		b = pcapRecord(b, le, 1700000000+uint32(i), 0, frameData(60, byte(i)), 60)
		want = append(want, fmt.Sprintf("%d\t\t\t%d.000000000\t60\t60", len(want)+1, 1700000000+i))
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "corrupt.pcap", b)
	got := readPath(t, path)
	if got.err != nil {
		t.Fatal(got.err)
	}
	sameLines(t, "pcap around a corrupt record", got.lines, want)
	at := 24 + 3*76
	w := fmt.Sprintf("%s: byte %d: record header says 1073741824 captured bytes, more than the 262144 a record of this file may hold; skipped 76 bytes to the next plausible record", path, at)
	if len(got.warnings) != 1 || got.warnings[0] != w {
		t.Errorf("warnings %q\nwant %q", got.warnings, w)
	}

	// Nothing plausible after the corrupt header: truncated, with a warning.
	cut := writeFile(t, dir, "cut.pcap", b[:at+16], []byte(strings.Repeat("\xff", 100)))
	got = readPath(t, cut)
	if !errors.Is(got.err, ErrTruncated) || len(got.lines) != 3 || len(got.warnings) != 1 || !strings.Contains(got.warnings[0], "no plausible record follows") {
		t.Errorf("%d frames, %v, warnings %q", len(got.lines), got.err, got.warnings)
	}
}

// TestPcapHeaderErrors: what cannot be a pcap file header is an error that
// says so.
func TestPcapHeaderErrors(t *testing.T) {
	dir := t.TempDir()
	v3 := pcapFile(binary.LittleEndian, false, 65535, 1)
	v3[4] = 3
	for _, c := range []struct {
		data []byte
		want string
	}{
		{v3, "pcap version 3.4 is not supported (only 2.x is)"},
		{pcapFile(binary.BigEndian, false, 65535, 1)[:20], "too short for a pcap file header (20 bytes)"},
		{nil, "empty file, not a capture"},
		{[]byte{0xd4, 0xc3}, "too short to be a capture file (2 bytes)"},
		{[]byte("hello world"), "not a pcap or pcapng capture (starts with 68 65 6c 6c)"},
	} {
		path := writeFile(t, dir, "bad", c.data)
		if _, err := Open(path); err == nil || err.Error() != path+": "+c.want {
			t.Errorf("Open: %v, want %s: %s", err, path, c.want)
		}
	}
}

// TestPcapResyncWindow: the search for a plausible record after a corrupt
// one stops after resyncWindow bytes, and the warning says so.
func TestPcapResyncWindow(t *testing.T) {
	le := binary.LittleEndian
	b := pcapFile(le, false, 65535, 1)
	b = pcapRecord(b, le, 1700000000, 0, frameData(60, 1), 60)
	at := len(b)
	b = pcapRecord(b, le, 1700000001, 0, make([]byte, 60), 60)
	le.PutUint32(b[at+8:], 1<<20)
	b = append(b, make([]byte, resyncWindow+100)...) // zeros: headers whose time is far from the last record
	b = pcapRecord(b, le, 1700000002, 0, frameData(60, 2), 60)
	path := writeFile(t, t.TempDir(), "window.pcap", b)
	got := readPath(t, path)
	want := fmt.Sprintf("%s: byte %d: record header says 1048576 captured bytes, more than the 262144 a record of this file may hold; no plausible record in the 1024 KiB after it, the rest of the input is not read", path, at)
	if !errors.Is(got.err, ErrTruncated) || len(got.lines) != 1 || len(got.warnings) != 1 || got.warnings[0] != want {
		t.Errorf("%d frames, %v, warnings %q\nwant %q", len(got.lines), got.err, got.warnings, want)
	}
}
