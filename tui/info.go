// Capture information (:info), capinfos style: the file, its format, its
// interfaces and link types, the first and last packet times, frames,
// bytes and drops, and what mqtap found (MQTT packets and connections).
// The file is read again in the background (its frames with the pcaps
// reader, then, for pcapng, its Interface Statistics Blocks); indexing is
// not slowed. A live capture or a broker shows what applies.

package tui

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/tui/model"
)

// pageInfo is the page of :info.
const pageInfo = "info"

// infoState is the :info page.
type infoState struct {
	view *tview.TextView // created by the first :info
	gen  int             // counts the computations asked for; a late answer is dropped
	// file is what the last :info read of the capture file, which a live
	// capture's refresh keeps rather than read a growing file each second.
	file    *fileInfo
	fileErr error
}

// fileInfo is what :info reads from a capture file.
type fileInfo struct {
	Path        string
	Size        int64
	Format      pcaps.Format
	Compressed  bool
	Interfaces  []ifaceInfo
	Frames      int
	Bytes       int64 // frame lengths on the wire (frame.len)
	Captured    int64 // bytes captured (frame.cap_len)
	First, Last time.Time
	Ordered     bool // every frame's time is at or after the one before
	Truncated   bool // the file ends inside a frame
	Warnings    int  // malformed blocks or records skipped
	Stats       bool // a pcapng Interface Statistics Block was found
}

// ifaceInfo is one interface of a capture file.
type ifaceInfo struct {
	pcaps.Interface
	Frames int
	Drops  uint64 // the last if_drop of its Interface Statistics Blocks
	HasISB bool   // an Interface Statistics Block with if_drop named it
}

// sourceInfo is what :info shows: the file's and the model's.
type sourceInfo struct {
	Name        string
	File        *fileInfo // nil for a live capture or a broker
	FileErr     error
	Live        bool
	Packets     int // MQTT packets
	Connections int // MQTT connections
	First, Last time.Time
	Kernel      bool // a live capture's kernel counters are known
	Received    uint64
	Dropped     uint64
	KernelErr   error
}

// openInfo opens the capture information page (:info) and computes it in
// the background.
func (a *App) openInfo() {
	st := &a.files.info
	if st.view == nil {
		st.view = newTextView(true)
		paneBox(st.view.Box, "Capture information │ Esc: back")
		a.pages.AddPage(pageInfo, st.view, true, false)
	}
	st.view.SetText("reading the capture information…")
	a.showPage(pageInfo, st.view)
	a.loadInfo(true)
}

// loadInfo computes the capture information in the background and shows
// it: from the start (the file read again) when the page opens, or, while a
// live capture grows, the model's counts and the kernel's counters again,
// keeping the file's part and the scroll position.
func (a *App) loadInfo(open bool) {
	st := &a.files.info
	st.gen++
	gen := st.gen
	ctx, c, live, kernel := a.ctx, a.cap, a.opts.Live, a.opts.Kernel
	file := a.opts.Save.File
	if !open {
		file = ""
	}
	a.spawn(func() {
		info := gatherInfo(ctx, c, file, live, kernel)
		a.post(func() {
			if st.gen != gen {
				return
			}
			if open {
				st.file, st.fileErr = info.File, info.FileErr
			} else {
				info.File, info.FileErr = st.file, st.fileErr
			}
			row, col := st.view.GetScrollOffset()
			st.view.SetText(info.render())
			if open {
				st.view.ScrollToBeginning()
			} else {
				st.view.ScrollTo(row, col)
			}
		})
	})
}

// gatherInfo reads the capture file (when there is one) and the model.
func gatherInfo(ctx context.Context, c *model.Capture, file string, live bool, kernel func() (uint64, uint64, error)) sourceInfo {
	info := sourceInfo{Name: c.Name(), Live: live, Packets: c.Len()}
	info.Connections = c.Stats().Streams
	if n := c.Len(); n > 0 {
		if r, err := c.Row(0); err == nil {
			info.First = r.Time
		}
		if r, err := c.Row(n - 1); err == nil {
			info.Last = r.Time
		}
	}
	if kernel != nil {
		info.Received, info.Dropped, info.KernelErr = kernel()
		info.Kernel = info.KernelErr == nil
	}
	if file != "" {
		info.File, info.FileErr = readFileInfo(ctx, file)
	}
	return info
}

// readFileInfo reads a capture file's frames and, for pcapng, its
// interface statistics.
func readFileInfo(ctx context.Context, path string) (*fileInfo, error) {
	r, err := pcaps.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi := &fileInfo{Path: path, Size: r.Size(), Format: r.Format, Compressed: r.Compressed, Ordered: true}
	r.SetHooks(pcaps.Hooks{
		Interface: func(ifc pcaps.Interface) {
			for len(fi.Interfaces) <= ifc.Index {
				fi.Interfaces = append(fi.Interfaces, ifaceInfo{})
			}
			fi.Interfaces[ifc.Index].Interface = ifc
		},
		Warning: func(string) { fi.Warnings++ },
	})
	var prev time.Time
	err = r.Each(func(_ []byte, ci gopacket.CaptureInfo) error {
		fi.Frames++
		if fi.Frames%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		fi.Bytes += int64(ci.Length)
		fi.Captured += int64(ci.CaptureLength)
		if ci.InterfaceIndex >= 0 && ci.InterfaceIndex < len(fi.Interfaces) {
			fi.Interfaces[ci.InterfaceIndex].Frames++
		}
		t := ci.Timestamp
		switch {
		case fi.Frames == 1:
			fi.First, fi.Last = t, t
		case t.Before(fi.First):
			fi.First = t
		}
		if t.After(fi.Last) {
			fi.Last = t
		}
		if fi.Frames > 1 && t.Before(prev) {
			fi.Ordered = false
		}
		prev = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	fi.Truncated = r.Truncated()
	if fi.Format == pcaps.FormatPcapng {
		fi.readStats(ctx)
	}
	return fi, nil
}

// readStats reads the if_drop counters of the file's Interface Statistics
// Blocks, keeping each interface's last. A problem in the file ends the
// walk: what was read is kept (the frames were counted by pcaps, which
// resynchronises).
func (fi *fileInfo) readStats(ctx context.Context) {
	f, err := os.Open(fi.Path)
	if err != nil {
		return
	}
	defer f.Close()
	var in io.Reader = bufio.NewReaderSize(f, 1<<16)
	if fi.Compressed {
		gz, err := gzip.NewReader(in)
		if err != nil {
			return
		}
		defer gz.Close()
		in = gz
	}
	w := &ngWalker{in: bufio.NewReaderSize(in, 1<<16)}
	for blocks := 0; ; blocks++ {
		if blocks%65536 == 0 && ctx.Err() != nil {
			return
		}
		id, drops, ok, more := w.next()
		if !more {
			return
		}
		if ok && id >= 0 && id < len(fi.Interfaces) {
			fi.Interfaces[id].Drops, fi.Interfaces[id].HasISB = drops, true
			fi.Stats = true
		}
	}
}

// Block types and option codes the walk reads.
const (
	ngSHB      = 0x0a0d0d0a
	ngIDB      = 1
	ngISB      = 5
	ngMagic    = 0x1a2b3c4d
	ngIfDrop   = 5 // isb_ifdrop
	ngMaxBlock = 256 << 20
)

// ngWalker walks the blocks of a pcapng input, reading only section
// headers, interface descriptions (counted) and interface statistics.
type ngWalker struct {
	in    *bufio.Reader
	order binary.ByteOrder
	base  int // global index of the section's first interface
	count int // interfaces the section declared
	buf   []byte
}

// next reads one block. For an Interface Statistics Block with if_drop it
// returns the interface's global index and the counter (ok); more is false
// at the end of the input or at a block it cannot frame.
func (w *ngWalker) next() (id int, drops uint64, ok, more bool) {
	head, err := w.in.Peek(12)
	if err != nil {
		return 0, 0, false, false
	}
	if binary.LittleEndian.Uint32(head) == ngSHB {
		switch binary.LittleEndian.Uint32(head[8:]) {
		case ngMagic:
			w.order = binary.LittleEndian
		case 0x4d3c2b1a:
			w.order = binary.BigEndian
		default:
			return 0, 0, false, false
		}
		w.base += w.count
		w.count = 0
	}
	if w.order == nil {
		return 0, 0, false, false
	}
	typ, n := w.order.Uint32(head), w.order.Uint32(head[4:])
	if n < 12 || n%4 != 0 || n > ngMaxBlock {
		return 0, 0, false, false
	}
	switch typ {
	case ngIDB:
		w.count++
	case ngISB:
		if cap(w.buf) < int(n) {
			w.buf = make([]byte, n)
		}
		b := w.buf[:n]
		if _, err := io.ReadFull(w.in, b); err != nil {
			return 0, 0, false, false
		}
		id, drops, ok = w.isb(b[8 : n-4])
		return id, drops, ok, true
	}
	if _, err := w.in.Discard(int(n)); err != nil {
		return 0, 0, false, false
	}
	return 0, 0, false, true
}

// isb reads an Interface Statistics Block's body: the interface and its
// isb_ifdrop option.
func (w *ngWalker) isb(body []byte) (id int, drops uint64, ok bool) {
	if len(body) < 12 {
		return 0, 0, false
	}
	local := int(w.order.Uint32(body))
	if local >= w.count {
		return 0, 0, false
	}
	opts := body[12:]
	for len(opts) >= 4 {
		code, n := w.order.Uint16(opts), int(w.order.Uint16(opts[2:]))
		if code == 0 || n > len(opts)-4 {
			break
		}
		if code == ngIfDrop && n == 8 {
			return w.base + local, w.order.Uint64(opts[4:]), true
		}
		opts = opts[min(len(opts), 4+(n+3)&^3):]
	}
	return 0, 0, false
}

// render is the page's text.
func (s sourceInfo) render() string {
	var b strings.Builder
	row := func(title, format string, args ...any) {
		fmt.Fprintf(&b, "[::b]%-18s[::-] %s\n", title, tview.Escape(fmt.Sprintf(format, args...)))
	}
	switch {
	case s.File != nil:
		s.File.render(row)
	case s.FileErr != nil && !errors.Is(s.FileErr, context.Canceled):
		row("File", "%s", s.Name)
		row("Error", "%s", oneLine(s.FileErr.Error()))
	case s.Live && strings.Contains(s.Name, "://"):
		row("Source", "broker %s (the packets received, no frames)", s.Name)
	case s.Live:
		row("Source", "live capture on %s", s.Name)
	case s.Name == "-":
		row("Source", "standard input (not kept: nothing to read again)")
	default:
		row("Source", "%s", s.Name)
	}
	if s.File == nil && !s.First.IsZero() {
		row("First packet", "%s", formatTime(s.First, 9))
		row("Last packet", "%s", formatTime(s.Last, 9))
		row("Duration", "%s", s.Last.Sub(s.First))
	}
	if s.Kernel {
		row("Frames captured", "%d", s.Received)
		row("Dropped", "%d by the kernel (its buffer was full: raise -B)", s.Dropped)
	} else if s.KernelErr != nil {
		row("Dropped", "unknown (%s)", oneLine(s.KernelErr.Error()))
	}
	row("MQTT packets", "%d", s.Packets)
	row("MQTT connections", "%d", s.Connections)
	return b.String()
}

// render writes the file's rows.
func (fi *fileInfo) render(row func(title, format string, args ...any)) {
	row("File", "%s", fi.Path)
	format := string(fi.Format)
	if fi.Format == pcaps.FormatPcap && len(fi.Interfaces) > 0 && fi.Interfaces[0].TSResol == 9 {
		format += " (nanosecond timestamps)"
	} else if fi.Format == pcaps.FormatPcap {
		format += " (microsecond timestamps)"
	}
	if fi.Compressed {
		format += ", gzip-compressed"
	}
	row("Format", "%s", format)
	row("File size", "%d bytes", fi.Size)
	row("Interfaces", "%d", len(fi.Interfaces))
	for i, ifc := range fi.Interfaces {
		row(fmt.Sprintf("  #%d", i), "%s", ifc.describe(fi.Format))
	}
	prec := 6
	for _, ifc := range fi.Interfaces {
		if ifc.TSResol == 9 {
			prec = 9
		}
	}
	if fi.Frames > 0 {
		row("First packet", "%s", formatTime(fi.First, prec))
		row("Last packet", "%s", formatTime(fi.Last, prec))
		row("Duration", "%s", fi.Last.Sub(fi.First))
	}
	order := "strict"
	if !fi.Ordered {
		order = "not strict (some frames are earlier than the one before)"
	}
	row("Frames", "%d (time order %s)", fi.Frames, order)
	row("Bytes", "%d on the wire, %d captured", fi.Bytes, fi.Captured)
	switch {
	case fi.Stats:
		var drops uint64
		for _, ifc := range fi.Interfaces {
			drops += ifc.Drops
		}
		row("Dropped", "%d (pcapng interface statistics)", drops)
	default:
		row("Dropped", "unknown (the file records no drop counts)")
	}
	if fi.Truncated {
		row("Truncated", "the file ends inside a frame")
	}
	if fi.Warnings > 0 {
		row("Malformed", "%d block(s) or record(s) skipped", fi.Warnings)
	}
}

// describe is one interface's line.
func (ifc *ifaceInfo) describe(format pcaps.Format) string {
	var parts []string
	if format == pcaps.FormatPcapng {
		name := ifc.Name
		if name == "" {
			name = "unknown"
		}
		if ifc.Description != "" {
			name += " (" + ifc.Description + ")"
		}
		parts = append(parts, name)
	}
	parts = append(parts, fmt.Sprintf("%s (link type %d)", ifc.LinkType, int(ifc.LinkType)))
	if ifc.SnapLen > 0 {
		parts = append(parts, fmt.Sprintf("snaplen %d", ifc.SnapLen))
	} else {
		parts = append(parts, "no snaplen")
	}
	parts = append(parts, fmt.Sprintf("%d frames", ifc.Frames))
	if ifc.HasISB {
		parts = append(parts, fmt.Sprintf("%d dropped", ifc.Drops))
	}
	if ifc.Filter != "" {
		parts = append(parts, "filter "+ifc.Filter)
	}
	return strings.Join(parts, ", ")
}

// formatTime is a packet time as capinfos shows it (local time), with
// prec decimals.
func formatTime(t time.Time, prec int) string {
	layout := "2006-01-02 15:04:05.000000"
	if prec == 9 {
		layout += "000"
	}
	return t.Local().Format(layout)
}
