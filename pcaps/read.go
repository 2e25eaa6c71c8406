// Package pcaps reads and writes capture files: pcap and pcapng, plain or
// gzip-compressed, through gopacket's pcapgo. The sample captures and their
// test keys live in pcaps/samples.
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
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrTruncated is returned by Reader.Next when the file ends in the middle of
// a packet record: the capture was cut short (a copy interrupted, a capture
// killed while writing).
var ErrTruncated = errors.New("capture file is truncated")

// Format names a capture file format.
type Format string

// Capture file formats Open understands.
const (
	FormatPcap   Format = "pcap"
	FormatPcapng Format = "pcapng"
)

// packetSource is what pcapgo's readers have in common.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// Reader reads the frames of one capture file in order.
type Reader struct {
	Path       string
	Format     Format
	Compressed bool

	f     *os.File
	gz    *gzip.Reader
	count *countingReader
	size  int64
	src   packetSource
}

// Open opens a pcap or pcapng file, gzip-compressed or not, and reads its
// header. The errors say what is wrong in words a user can act on.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file", path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied (check the file's mode or run with enough rights)", path)
		}
		return nil, err
	}
	r := &Reader{Path: path, f: f}
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s: is a directory, not a capture file", path)
		}
		r.size = st.Size()
	}
	r.count = &countingReader{r: f}
	br := bufio.NewReaderSize(r.count, 1<<16)
	var in io.Reader = br
	magic, _ := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		r.gz, err = gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: broken gzip stream: %v", path, err)
		}
		r.Compressed = true
		zbr := bufio.NewReaderSize(r.gz, 1<<16)
		magic, _ = zbr.Peek(4)
		in = zbr
	}
	if len(magic) < 4 {
		f.Close()
		if len(magic) == 0 {
			return nil, fmt.Errorf("%s: empty file, not a capture", path)
		}
		return nil, fmt.Errorf("%s: too short to be a capture file (%d bytes)", path, len(magic))
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case 0x0a0d0d0a:
		r.Format = FormatPcapng
		ng, err := pcapgo.NewNgReader(in, pcapgo.NgReaderOptions{})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: unreadable pcapng header: %v", path, err)
		}
		r.src = ng
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r.Format = FormatPcap
		p, err := pcapgo.NewReader(in)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: unreadable pcap header: %v", path, err)
		}
		r.src = p
	default:
		f.Close()
		return nil, fmt.Errorf("%s: not a pcap or pcapng capture (starts with %02x %02x %02x %02x)", path, magic[0], magic[1], magic[2], magic[3])
	}
	return r, nil
}

// LinkType is the link-layer header type of the capture's (first) interface.
func (r *Reader) LinkType() layers.LinkType { return r.src.LinkType() }

// Next returns the next frame. The data is valid until the following call.
// At the end of the file it returns io.EOF; a file that ends inside a packet
// record gives ErrTruncated.
func (r *Reader) Next() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := r.src.ZeroCopyReadPacketData()
	if err != nil {
		switch {
		case err == io.EOF:
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
			err = ErrTruncated
		default:
			err = fmt.Errorf("%s: %w", r.Path, err)
		}
	}
	return data, ci, err
}

// Size is the size of the file on disk (compressed size for gzip files).
func (r *Reader) Size() int64 { return r.size }

// Offset is how many bytes of the file on disk have been read so far.
func (r *Reader) Offset() int64 { return r.count.n.Load() }

// Close closes the file.
func (r *Reader) Close() error {
	if r.gz != nil {
		r.gz.Close()
	}
	return r.f.Close()
}

// countingReader counts the bytes read through it; Offset may be called from
// another goroutine (a progress bar).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
