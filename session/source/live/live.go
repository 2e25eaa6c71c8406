package live

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/mqtap/mqtap/pcaps"
)

// ErrTimeout is returned by a ring's Next when no frame arrived within the
// poll interval; the caller may do housekeeping and call Next again.
var ErrTimeout = errors.New("capture: no frame within the poll interval")

// ErrClosed is returned by a ring that was closed.
var ErrClosed = errors.New("capture: source closed")

// Options configure a live capture.
type Options struct {
	Interface   string // interface name, or "any" for all of them
	Filter      string // kernel filter, tcpdump syntax ("" for every frame)
	SnapLen     uint32 // bytes kept of each frame (0: 262144, as tshark)
	Promiscuous bool   // also capture frames addressed to other hosts
	BufferMB    int    // kernel ring size in MiB (0: 32)

	// Write names a pcapng file that receives every captured frame as it
	// arrives, flushed whenever the decoder is idle, so that a growing file
	// can be read ("": none). WriterInfo goes into its section header.
	Write      string
	WriterInfo pcaps.WriterInfo
	// Frames stops Run after this many captured frames (0: no limit).
	Frames int
}

func (o Options) withDefaults() Options {
	if o.SnapLen == 0 {
		o.SnapLen = 262144
	}
	if o.BufferMB <= 0 {
		o.BufferMB = 32
	}
	return o
}

// Stats counts a capture's frames.
type Stats struct {
	Received uint64 // frames handed to mqtap
	Dropped  uint64 // frames the kernel dropped because its buffer was full
}

// PermissionError is the error of a capture the process has no right to
// open.
type PermissionError struct {
	Interface  string
	Executable string
	Err        error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("capturing on %s needs root or the CAP_NET_RAW capability (%v): run mqtap as root, or grant it once with: sudo setcap cap_net_raw,cap_net_admin+ep %s",
		e.Interface, e.Err, e.Executable)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// Interface is a network interface frames can be captured on.
type Interface struct {
	Index       int
	Name        string
	Description string // "Loopback", "Pseudo-device that captures on all interfaces", ...
	Up          bool
	Addrs       []string
}

// Interfaces lists the interfaces that exist, in index order, followed by
// the pseudo-interface "any", as tshark -D does.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Index < ifs[j].Index })
	var out []Interface
	for _, i := range ifs {
		it := Interface{Index: i.Index, Name: i.Name, Up: i.Flags&net.FlagUp != 0}
		if i.Flags&net.FlagLoopback != 0 {
			it.Description = "Loopback"
		}
		if addrs, err := i.Addrs(); err == nil {
			for _, a := range addrs {
				it.Addrs = append(it.Addrs, a.String())
			}
		}
		out = append(out, it)
	}
	out = append(out, Interface{Name: "any", Description: "Pseudo-device that captures on all interfaces", Up: true})
	return out, nil
}

// String describes the interface as a line of tshark -D does, without its
// number: "lo (Loopback) 127.0.0.1/8 ::1/128", with " [down]" when it is
// down.
func (it Interface) String() string {
	line := it.Name
	if it.Description != "" {
		line += " (" + it.Description + ")"
	}
	if !it.Up {
		line += " [down]"
	}
	if len(it.Addrs) > 0 {
		line += " " + strings.Join(it.Addrs, " ")
	}
	return line
}

// noInterface is the error for an interface that does not exist.
func noInterface(name string) error {
	ifs, err := Interfaces()
	if err != nil {
		return fmt.Errorf("no interface %q", name)
	}
	names := make([]string, len(ifs))
	for i, it := range ifs {
		names[i] = it.Name
	}
	return fmt.Errorf("no interface %q: the interfaces are %s (mqtap sniff -D lists them)", name, strings.Join(names, ", "))
}
