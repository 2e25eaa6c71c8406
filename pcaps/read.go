// Package pcaps reads and writes capture files.
//
// It reads pcap (micro- and nanosecond, either byte order) and pcapng,
// plain or gzip-compressed, from files and from streams such as standard
// input, frame by frame: a frame is returned as soon as its bytes have
// arrived, and nothing is spooled. The pcapng reader is the package's own
// rather than gopacket's pcapgo.NgReader, which stops at the first
// malformed block, does not report where a block starts, does not hand out
// Decryption Secrets Blocks as it meets them, and tells a frame's link type
// in a file that mixes them only through CaptureInfo.AncillaryData, which
// its ReadPacketData allocates for every packet. This reader keeps every
// interface with its own link type, resolution and offset, numbers
// interfaces as Wireshark does, reads several sections of either byte
// order, and on a malformed block warns once and resynchronises on the next
// valid block. Exports are written with pcapgo's NgWriter. The sample
// captures and their test keys live in pcaps/samples.
package pcaps

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ErrTruncated is returned by Reader.Next when the input ends in the middle
// of a block or record: the capture was cut short (a copy interrupted, a
// capture killed while writing).
var ErrTruncated = errors.New("capture file is truncated")

// Format names a capture file format.
type Format string

// Capture file formats Open understands.
const (
	FormatPcap   Format = "pcap"
	FormatPcapng Format = "pcapng"
)

// stdinName is how messages name standard input.
const stdinName = "standard input"

// Interface is one capture interface: a pcapng Interface Description Block,
// or the implicit single interface of a pcap file.
type Interface struct {
	Index       int    // position among all the interfaces of the input, in declaration order: CaptureInfo.InterfaceIndex
	ID          int    // frame.interface_id as Wireshark numbers it: the index in its section
	Section     int    // 0-based section the interface belongs to
	Name        string // if_name ("" when absent; tshark then shows "unknown")
	Description string // if_description
	LinkType    layers.LinkType
	SnapLen     uint32
	TSResol     uint8  // if_tsresol as stored (6 when absent)
	TSOffset    int64  // if_tsoffset, seconds added to every timestamp
	Filter, OS  string // if_filter (a filter string), if_os
	Comment     string // the first opt_comment
	Described   bool   // false for a pcap file's implicit interface (tshark shows no frame.interface_id for pcap files)
}

// Hooks are called by Reader.Next, never elsewhere, in file order, before
// the frame that follows what they report.
type Hooks struct {
	// Interface is called for each interface when it is declared, before
	// the first frame on it.
	Interface func(Interface)
	// Secrets is called for each Decryption Secrets Block when met. Its
	// Data is the reader's copy: the hook may keep it.
	Secrets func(Secret)
	// Warning is called with each problem of the input, one line with no
	// trailing newline that names the input and the byte offset. When it is
	// nil, warnings are printed on standard error after "mqtap: ".
	Warning func(string)
}

// Reader reads the frames of one capture in order.
type Reader struct {
	Path       string // the path given to Open, "standard input", or the name given to NewReader
	Format     Format
	Compressed bool

	closer io.Closer // the file Open opened
	gz     *gzip.Reader
	count  *counter
	size   int64
	in     input
	hooks  Hooks

	ifaces []iface  // every interface, in declaration order
	ng     ngState  // pcapng parsing state
	pcap   pcapInfo // pcap header
	events []event  // reported through the hooks by the next call of Next
	warned int      // warnings reported

	data    []byte               // the frame Next returns next, when pending
	ci      gopacket.CaptureInfo // and its capture info
	pending bool
	err     error // sticky: the error every later Next returns

	truncated bool // Each met the end of the input inside a frame
}

// eventKind says what an event reports.
type eventKind uint8

const (
	eventInterface eventKind = iota
	eventSecret
	eventWarning
)

// event is something a hook reports.
type event struct {
	kind   eventKind
	iface  int // global index into Reader.ifaces
	secret Secret
	text   string
}

// Open opens a pcap or pcapng file, gzip-compressed or not, and reads its
// header; "-" is standard input. The errors say what is wrong in words a
// user can act on.
func Open(path string) (*Reader, error) {
	if path == "-" {
		return newReader(os.Stdin, stdinName, nil, 0)
	}
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file", path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied (check the file's mode or run with enough rights)", path)
		}
		return nil, fmt.Errorf("opening the capture: %w", err)
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s: is a directory, not a capture file", path)
		}
		if st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	r, err := newReader(f, path, f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NewReader reads a capture from a stream (a pipe, a socket, a file opened
// by the caller), gzip-compressed or not, and reads its header. Name is how
// messages call the input. Close does not close in.
func NewReader(in io.Reader, name string) (*Reader, error) {
	return newReader(in, name, nil, 0)
}

func newReader(src io.Reader, name string, closer io.Closer, size int64) (*Reader, error) {
	r := &Reader{Path: name, closer: closer, size: size, count: &counter{r: src}}
	br := bufio.NewReaderSize(r.count, 1<<16)
	var in io.Reader = br
	magic, err := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		r.gz, err = gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: broken gzip stream: %w", name, err)
		}
		r.Compressed = true
		zbr := bufio.NewReaderSize(r.gz, 1<<16)
		magic, err = zbr.Peek(4)
		in = zbr
	}
	if len(magic) < 4 {
		switch {
		case err != nil && !errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%s: reading the capture: %w", name, err)
		case len(magic) == 0:
			return nil, fmt.Errorf("%s: empty file, not a capture", name)
		}
		return nil, fmt.Errorf("%s: too short to be a capture file (%d bytes)", name, len(magic))
	}
	r.in.src = in
	switch m := binary.LittleEndian.Uint32(magic); m {
	case blockSHB:
		r.Format = FormatPcapng
		r.ng.section = -1
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r.Format = FormatPcap
		if err := r.readPcapHeader(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: not a pcap or pcapng capture (starts with %02x %02x %02x %02x)", name, magic[0], magic[1], magic[2], magic[3])
	}
	return r, nil
}

// SetHooks sets the functions Next calls to report interfaces, secrets and
// warnings. Call it before the first Next.
func (r *Reader) SetHooks(h Hooks) { r.hooks = h }

// Next returns the next frame. The data is valid until the following call;
// ci.InterfaceIndex is the frame's Interface.Index (unique in the input,
// unlike the ID, which restarts in each pcapng section). At the end of the input it
// returns io.EOF; an input that ends inside a block or record gives
// ErrTruncated. Malformed blocks are reported through Hooks.Warning and
// skipped.
func (r *Reader) Next() ([]byte, gopacket.CaptureInfo, error) {
	if !r.pending && r.err == nil {
		r.advance(false)
	}
	r.report()
	if !r.pending {
		return nil, gopacket.CaptureInfo{}, r.err
	}
	r.pending = false
	return r.data, r.ci, nil
}

// advance reads blocks or records until a frame is pending or an error
// stops the reader. Called by Next, it reports what it meets as it goes,
// so that events do not pile up; with ahead (LinkType reading ahead) it
// keeps them for Next and also stops once an interface is known.
func (r *Reader) advance(ahead bool) {
	for !r.pending && r.err == nil && !(ahead && len(r.ifaces) > 0) {
		var err error
		if r.Format == FormatPcap {
			err = r.pcapRecord()
		} else {
			err = r.ngBlock()
		}
		if err != nil {
			r.err = r.readError(err)
		}
		if !ahead && len(r.events) > 0 {
			r.report()
		}
	}
}

// readError turns what stopped the input into Next's error.
func (r *Reader) readError(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, ErrTruncated), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
		return ErrTruncated
	}
	return fmt.Errorf("%s: reading the capture: %w", r.Path, err)
}

// report hands the events gathered since the last call to the hooks.
func (r *Reader) report() {
	for i := range r.events {
		e := &r.events[i]
		switch e.kind {
		case eventInterface:
			if r.hooks.Interface != nil {
				r.hooks.Interface(r.ifaces[e.iface].Interface)
			}
		case eventSecret:
			if r.hooks.Secrets != nil {
				r.hooks.Secrets(e.secret)
			}
		case eventWarning:
			if r.hooks.Warning != nil {
				r.hooks.Warning(e.text)
			} else {
				fmt.Fprintln(os.Stderr, "mqtap: "+e.text)
			}
		}
		*e = event{}
	}
	r.events = r.events[:0]
}

// maxWarnings is how many warnings one input reports; the one after says
// that further ones are not reported.
const maxWarnings = 100

// warn reports a problem of the input at stream offset at.
func (r *Reader) warn(at int64, format string, args ...any) {
	r.warned++
	switch {
	case r.warned > maxWarnings+1:
		return
	case r.warned == maxWarnings+1:
		r.events = append(r.events, event{kind: eventWarning, text: fmt.Sprintf("%s: more than %d problems; further ones are not reported", r.Path, maxWarnings)})
		return
	}
	where := "byte"
	if r.Compressed {
		where = "uncompressed byte"
	}
	text := fmt.Sprintf("%s: %s %d: ", r.Path, where, at) + fmt.Sprintf(format, args...)
	r.events = append(r.events, event{kind: eventWarning, text: text})
}

// LinkType is the link-layer header type of the capture's first interface,
// for callers that handle one. For pcapng it reads ahead to the first
// Interface Description Block, losing nothing: what it reads is returned
// and reported by the following calls of Next. It is 0 (LinkTypeNull) when
// the input declares no interface.
func (r *Reader) LinkType() layers.LinkType {
	if r.first() {
		return r.ifaces[0].LinkType
	}
	return 0
}

// first reads ahead to the first interface, when needed, and reports
// whether there is one.
func (r *Reader) first() bool {
	if len(r.ifaces) == 0 && !r.pending && r.err == nil {
		r.advance(true)
	}
	return len(r.ifaces) > 0
}

// Interface returns the interface with the given Index (ci.InterfaceIndex).
func (r *Reader) Interface(index int) (Interface, bool) {
	if index < 0 || index >= len(r.ifaces) {
		return Interface{}, false
	}
	return r.ifaces[index].Interface, true
}

// Size is the size of the file on disk (compressed size for gzip files), 0
// for a stream.
func (r *Reader) Size() int64 { return r.size }

// Offset is how many bytes of the input (compressed bytes for gzip) have
// been read so far.
func (r *Reader) Offset() int64 { return r.count.n.Load() }

// Close closes the file Open opened; a stream given to NewReader and
// standard input stay open.
func (r *Reader) Close() error {
	if r.gz != nil {
		r.gz.Close()
	}
	if r.closer != nil {
		if err := r.closer.Close(); err != nil {
			return fmt.Errorf("closing %s: %w", r.Path, err)
		}
	}
	return nil
}

// Each is the loop every pass over a capture runs: it calls fn for every
// frame from the current position, in order, until the end of the input.
// It returns fn's first error (the loop stops there) or the reader's. An
// input that ends inside a frame ends the loop as its end does, without an
// error: Truncated tells it afterwards. The data passed to fn is valid
// until fn returns.
func (r *Reader) Each(fn func(data []byte, ci gopacket.CaptureInfo) error) error {
	for {
		data, ci, err := r.Next()
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, ErrTruncated):
			r.truncated = true
			return nil
		default:
			return err
		}
		if err := fn(data, ci); err != nil {
			return err
		}
	}
}

// Truncated reports whether Each met the end of the input inside a frame.
func (r *Reader) Truncated() bool { return r.truncated }
