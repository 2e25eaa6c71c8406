package pcaps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// section builds one pcapng section byte by byte, in either byte order,
// for what capture tools do not write.
type section struct {
	order order
	b     []byte
}

// order is a byte order that also appends.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// newSection starts a section of pcapng version major.0.
func newSection(big bool, major uint16) *section {
	s := &section{order: binary.LittleEndian}
	if big {
		s.order = binary.BigEndian
	}
	body := s.order.AppendUint32(nil, byteOrderMagic)
	body = s.order.AppendUint16(body, major)
	body = s.order.AppendUint16(body, 0)
	body = s.order.AppendUint64(body, ^uint64(0))
	return s.block(blockSHB, body)
}

// block appends a block of type typ around body, padded to 32 bits.
func (s *section) block(typ uint32, body []byte) *section {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	s.b = s.order.AppendUint32(s.b, typ)
	s.b = s.order.AppendUint32(s.b, n)
	s.b = append(s.b, body...)
	s.b = s.order.AppendUint32(s.b, n)
	return s
}

// opt encodes one option, padded to 32 bits.
func (s *section) opt(code uint16, v []byte) []byte {
	b := s.order.AppendUint16(nil, code)
	b = s.order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// idb appends an Interface Description Block; opts are encoded options,
// the end-of-options marker is added.
func (s *section) idb(link uint16, snap uint32, opts ...[]byte) *section {
	body := s.order.AppendUint16(nil, link)
	body = s.order.AppendUint16(body, 0)
	body = s.order.AppendUint32(body, snap)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0)
	}
	return s.block(blockIDB, body)
}

// name is an if_name option.
func (s *section) name(n string) []byte { return s.opt(optName, []byte(n)) }

// tsresol is an if_tsresol option.
func (s *section) tsresol(v uint8) []byte { return s.opt(optTSResol, []byte{v}) }

// tsoffset is an if_tsoffset option.
func (s *section) tsoffset(sec int64) []byte {
	return s.opt(optTSOffset, s.order.AppendUint64(nil, uint64(sec)))
}

// epb appends an Enhanced Packet Block.
func (s *section) epb(id uint32, ts uint64, data []byte, orig uint32) *section {
	body := s.order.AppendUint32(nil, id)
	body = s.order.AppendUint32(body, uint32(ts>>32))
	body = s.order.AppendUint32(body, uint32(ts))
	body = s.order.AppendUint32(body, uint32(len(data)))
	body = s.order.AppendUint32(body, orig)
	return s.block(blockEPB, append(body, data...))
}

// pb appends an obsolete Packet Block.
func (s *section) pb(id uint16, ts uint64, data []byte, orig uint32) *section {
	body := s.order.AppendUint16(nil, id)
	body = s.order.AppendUint16(body, 0) // drops count
	body = s.order.AppendUint32(body, uint32(ts>>32))
	body = s.order.AppendUint32(body, uint32(ts))
	body = s.order.AppendUint32(body, uint32(len(data)))
	body = s.order.AppendUint32(body, orig)
	return s.block(blockPB, append(body, data...))
}

// spb appends a Simple Packet Block.
func (s *section) spb(orig uint32, data []byte) *section {
	return s.block(blockSPB, append(s.order.AppendUint32(nil, orig), data...))
}

// dsb appends a Decryption Secrets Block.
func (s *section) dsb(kind uint32, data []byte) *section {
	body := s.order.AppendUint32(nil, kind)
	body = s.order.AppendUint32(body, uint32(len(data)))
	return s.block(blockDSB, append(body, data...))
}

// raw appends bytes as they are (corruption).
func (s *section) raw(b ...byte) *section {
	s.b = append(s.b, b...)
	return s
}

// pcapFile builds a pcap file byte by byte.
func pcapFile(order order, nano bool, snap, link uint32) []byte {
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint64(b, 0) // thiszone, sigfigs
	b = order.AppendUint32(b, snap)
	return order.AppendUint32(b, link)
}

// pcapRecord appends a pcap record.
func pcapRecord(b []byte, order order, sec, frac uint32, data []byte, orig uint32) []byte {
	b = order.AppendUint32(b, sec)
	b = order.AppendUint32(b, frac)
	b = order.AppendUint32(b, uint32(len(data)))
	b = order.AppendUint32(b, orig)
	return append(b, data...)
}

// frameData is an Ethernet frame of n bytes (n >= 14) that tshark shows
// as data, different for each seed.
func frameData(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	b[12], b[13] = 0x88, 0xb5 // local experimental ethertype
	return b
}

// writeFile writes b to a file in dir and returns its path.
func writeFile(t testing.TB, dir, name string, parts ...[]byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, join(parts...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func join(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// frameFields are the tshark fields each frame is compared on.
var frameFields = []string{"frame.number", "frame.interface_id", "frame.interface_name", "frame.time_epoch", "frame.cap_len", "frame.len"}

// tsharkFrames is tshark's line per frame for frameFields. A frame without
// a timestamp (a Simple Packet Block) shows no time in tshark; Wireshark
// stores 0 for it, as the reader does, so the line says 0.
func tsharkFrames(t testing.TB, path string) []string {
	t.Helper()
	lines, err := tsharkRun(path)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// tsharkAll runs tsharkFrames on several files at once (tshark takes a
// second or two to start).
func tsharkAll(t testing.TB, paths ...string) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	errs := make([]error, len(paths))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() {
			lines, err := tsharkRun(p)
			mu.Lock()
			out[p], errs[i] = lines, err
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

func tsharkRun(path string) ([]string, error) {
	args := []string{"-n", "-r", path, "-T", "fields"}
	for _, f := range frameFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark -r %s: %w: %s", path, err, stderr.String())
	}
	if s := strings.TrimSpace(strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, "")); s != "" {
		return nil, fmt.Errorf("tshark -r %s: %s", path, s)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(l, "\t")
		if f[3] == "" {
			f[3] = "0.000000000"
		}
		lines = append(lines, strings.Join(f, "\t"))
	}
	return lines, nil
}

// read is what a Reader gave for one input.
type read struct {
	lines    []string // one per frame, as tsharkFrames
	warnings []string
	secrets  []Secret
	log      []string // hooks and frames in the order they came
	err      error    // what ended the read: nil for io.EOF
}

// readReader reads r to its end.
func readReader(r *Reader) read {
	var out read
	r.SetHooks(Hooks{
		Interface: func(f Interface) {
			out.log = append(out.log, fmt.Sprintf("interface %d/%d %s %d", f.Section, f.ID, f.Name, f.LinkType))
		},
		Secrets: func(s Secret) {
			out.secrets = append(out.secrets, s)
			out.log = append(out.log, fmt.Sprintf("secret %q", s.Data))
		},
		Warning: func(w string) {
			out.warnings = append(out.warnings, w)
			out.log = append(out.log, "warning")
		},
	})
	for n := 1; ; n++ {
		_, ci, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				out.err = err
			}
			return out
		}
		f, ok := r.Interface(ci.InterfaceIndex)
		if !ok {
			out.err = fmt.Errorf("frame %d on interface %d, which Interface does not know", n, ci.InterfaceIndex)
			return out
		}
		id, name := "", ""
		if f.Described {
			id, name = fmt.Sprint(f.ID), f.Name
			if name == "" {
				name = "unknown" // what tshark shows for an interface without if_name
			}
		}
		ts := ci.Timestamp
		out.lines = append(out.lines, fmt.Sprintf("%d\t%s\t%s\t%d.%09d\t%d\t%d", n, id, name, ts.Unix(), ts.Nanosecond(), ci.CaptureLength, ci.Length))
		out.log = append(out.log, fmt.Sprintf("frame %d", n))
	}
}

// readPath opens and reads a capture file.
func readPath(t testing.TB, path string) read {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return readReader(r)
}

// renumber gives lines (of several files) consecutive frame numbers.
func renumber(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		_, rest, _ := strings.Cut(l, "\t")
		out[i] = fmt.Sprintf("%d\t%s", i+1, rest)
	}
	return out
}

// sameLines fails t with the first difference between got and want.
func sameLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s: frame %d:\n got  %q\n want %q", what, i+1, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", what, len(got), len(want))
	}
}
