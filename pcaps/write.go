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
// nanoseconds, which loses nothing, with src's if_tsoffset already in
// them). The other interfaces of src, of every section, are copied in the
// order src declared them before the first frame that needs them, into one
// section: the frames of a multi-section capture land on the copies of
// their own interfaces. Call Flush at the end.
func NewWriter(w io.Writer, src *Reader, info WriterInfo) (*Writer, error) {
	if !src.first() {
		return nil, fmt.Errorf("%s: the capture declares no interface to copy into the export", src.Path)
	}
	out := &Writer{src: src}
	if err := out.start(w, src.exported(0), info); err != nil {
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

// exported returns interface g (an index into r.ifaces) as an export
// writes it: timestamps in nanoseconds, if_tsoffset already applied by the
// reader, options cut to what pcapng holds.
func (r *Reader) exported(g int) pcapgo.NgInterface {
	f := r.ifaces[g]
	intf := pcapgo.NgInterface{
		Name:                truncateOption(f.Name),
		Description:         truncateOption(f.Description),
		Comment:             truncateOption(f.Comment),
		OS:                  truncateOption(f.OS),
		LinkType:            f.LinkType,
		SnapLength:          f.SnapLen,
		TimestampResolution: 9,
	}
	if len(f.Filter) < maxOption {
		intf.Filter = f.Filter // the filter option also holds its type byte
	}
	return intf
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
// frame.comment), each cut to the 65532 bytes an option can hold. For a
// Writer made by NewWriter, ci.InterfaceIndex is the frame's Interface.Index
// in src: the export has src's interfaces in one section, in the order
// src declared them.
func (w *Writer) WriteFrame(data []byte, ci gopacket.CaptureInfo, comments []string) error {
	if w.src != nil {
		g := ci.InterfaceIndex
		if _, ok := w.src.Interface(g); !ok {
			return fmt.Errorf("frame on interface %d, which the capture does not declare", g)
		}
		for w.nIntf <= g {
			if _, err := w.ng.AddInterface(w.src.exported(w.nIntf)); err != nil {
				return fmt.Errorf("writing interface %d: %w", w.nIntf, err)
			}
			w.nIntf++
		}
		ci.InterfaceIndex = g
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
