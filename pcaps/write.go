package pcaps

import (
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// SecretsTLSKeyLog is the Decryption Secrets Block type of a TLS key log in
// NSS format ("TLSK"), as Wireshark reads it.
const SecretsTLSKeyLog = pcapgo.DSB_SECRETS_TYPE_TLS

// maxOption is the longest value a pcapng option can hold: its length field
// has 16 bits and the value is padded to 32 bits.
const maxOption = 65532

// Writer writes frames to a pcapng file through gopacket's pcapgo.NgWriter
// (little endian, nanosecond timestamps), with packet comments and
// Decryption Secrets Blocks. Frames keep the interface they were captured on:
// a Writer made by NewWriter copies the interfaces of its source capture as
// the source reveals them.
type Writer struct {
	ng     *pcapgo.NgWriter
	src    *Reader // interfaces are copied from here; nil for a synthesised capture
	nIntf  int
	frames int
}

// WriterInfo is what the section header of an export says about it.
type WriterInfo struct {
	Application string // shb_userappl, e.g. "mqtap dev"
	Comment     string // a section comment Wireshark shows in the capture file properties
}

// NewWriter starts a pcapng file on w for frames read from src: the section
// header, then the first interface of src (same link type, name,
// description, filter, OS and snap length; timestamps are written in
// nanoseconds, which loses nothing). Interfaces src declares later are
// copied before the first frame that uses them. Call Flush at the end.
func NewWriter(w io.Writer, src *Reader, info WriterInfo) (*Writer, error) {
	intf, ok := src.iface(0)
	if !ok {
		return nil, fmt.Errorf("%s: the capture declares no interface to copy into the export", src.Path)
	}
	out := &Writer{src: src}
	if err := out.start(w, intf, info); err != nil {
		return nil, err
	}
	return out, nil
}

// NewLinkWriter starts a pcapng file on w with one interface of the given
// link type and name, for frames mqtap builds itself (snap length
// unlimited). Call Flush at the end.
func NewLinkWriter(w io.Writer, link layers.LinkType, name string, info WriterInfo) (*Writer, error) {
	out := &Writer{}
	if err := out.start(w, pcapgo.NgInterface{Name: name, LinkType: link}, info); err != nil {
		return nil, err
	}
	return out, nil
}

func (w *Writer) start(dst io.Writer, intf pcapgo.NgInterface, info WriterInfo) error {
	opts := pcapgo.DefaultNgWriterOptions
	if info.Application != "" {
		opts.SectionInfo.Application = truncateOption(info.Application)
	}
	opts.SectionInfo.Comment = truncateOption(info.Comment)
	ng, err := pcapgo.NewNgWriterInterface(dst, intf, opts)
	if err != nil {
		return fmt.Errorf("writing the pcapng header: %w", err)
	}
	w.ng, w.nIntf = ng, 1
	return nil
}

// iface returns interface i of the capture as the export writes it.
func (r *Reader) iface(i int) (pcapgo.NgInterface, bool) {
	switch src := r.src.(type) {
	case *pcapgo.NgReader:
		intf, err := src.Interface(i)
		if err != nil {
			return intf, false
		}
		// The reader has applied the offset and scaled the timestamps to
		// nanoseconds: the copy must not apply them again.
		intf.TimestampOffset = 0
		intf.TimestampResolution = 9
		intf.Statistics = pcapgo.NgInterfaceStatistics{}
		intf.Name = truncateOption(intf.Name)
		intf.Comment = truncateOption(intf.Comment)
		intf.Description = truncateOption(intf.Description)
		intf.OS = truncateOption(intf.OS)
		if len(intf.Filter) >= maxOption {
			intf.Filter = "" // the filter option also holds its type byte
		}
		return intf, true
	case *pcapgo.Reader:
		if i != 0 {
			return pcapgo.NgInterface{}, false
		}
		return pcapgo.NgInterface{LinkType: src.LinkType(), SnapLength: src.Snaplen(), TimestampResolution: 9}, true
	}
	return pcapgo.NgInterface{}, false
}

// WriteSecrets writes a Decryption Secrets Block of the given type (for
// example SecretsTLSKeyLog with the content of an SSLKEYLOGFILE). Write it
// before the frames it decrypts: Wireshark applies secrets to the frames
// that follow them.
func (w *Writer) WriteSecrets(kind uint32, data []byte) error {
	if err := w.ng.WriteDecryptionSecretsBlock(kind, data); err != nil {
		return fmt.Errorf("writing a decryption secrets block: %w", err)
	}
	return nil
}

// WriteFrame writes one frame with its capture info (timestamp, lengths,
// interface) and packet comments (pcapng opt_comment, Wireshark's
// frame.comment), each cut to the 65532 bytes an option can hold.
func (w *Writer) WriteFrame(data []byte, ci gopacket.CaptureInfo, comments []string) error {
	for w.src != nil && ci.InterfaceIndex >= w.nIntf {
		intf, ok := w.src.iface(w.nIntf)
		if !ok {
			return fmt.Errorf("frame on interface %d, which the capture does not declare", ci.InterfaceIndex)
		}
		if _, err := w.ng.AddInterface(intf); err != nil {
			return fmt.Errorf("writing interface %d: %w", w.nIntf, err)
		}
		w.nIntf++
	}
	var opts pcapgo.NgPacketOptions
	if len(comments) > 0 {
		opts.Comments = make([]string, len(comments))
		for i, c := range comments {
			opts.Comments[i] = truncateOption(c)
		}
	}
	ci.CaptureLength = len(data)
	if ci.Length < len(data) {
		ci.Length = len(data)
	}
	if err := w.ng.WritePacketWithOptions(ci, data, opts); err != nil {
		return fmt.Errorf("writing frame %d of the export: %w", w.frames+1, err)
	}
	w.frames++
	return nil
}

// Frames is the number of frames written so far.
func (w *Writer) Frames() int { return w.frames }

// Flush writes out what the writer buffers. Call it once the last frame is
// written, before closing the file.
func (w *Writer) Flush() error {
	if err := w.ng.Flush(); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	return nil
}

// truncateOption cuts s to what one pcapng option holds, on a UTF-8
// character boundary.
func truncateOption(s string) string {
	if len(s) <= maxOption {
		return s
	}
	n := maxOption
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
