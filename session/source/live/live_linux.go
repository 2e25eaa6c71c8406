//go:build linux

package live

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Linux ARPHRD_* hardware types of /sys/class/net/NAME/type that carry an
// Ethernet header on an AF_PACKET raw socket.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// packetOutgoing is the kernel's PACKET_OUTGOING packet type.
const packetOutgoing = 4

// maxInstructions is the kernel's BPF_MAXINSNS.
const maxInstructions = 4096

// ring is a live capture on one interface (or all of them, "any"),
// through an AF_PACKET memory-mapped ring (TPACKET_V3), with the kernel
// filter attached. It needs no cgo and no libpcap.
type ring struct {
	tp       *afpacket.TPacket
	link     layers.LinkType
	name     string
	mu       sync.Mutex // serialises Next, Stats and Close: Close unmaps the ring
	closed   atomic.Bool
	received uint64
	since    time.Time // frames captured before are unfiltered: skipped
}

// openRing starts capturing on opts.Interface with the kernel filter
// opts.Filter (tcpdump syntax, "" for everything). Errors are one line: a
// missing interface names the interfaces that exist, and missing
// privileges say how to grant them.
func openRing(opts Options) (*ring, error) {
	opts = opts.withDefaults()
	name := opts.Interface
	socktype, link, filterLink := afpacket.SocketRaw, layers.LinkTypeEthernet, LinkEthernet
	loIndex := loopbackIndex()
	outgoingCheck := 0 // 0: none; >0: drop outgoing frames of this interface index
	if name == "any" {
		socktype, link, filterLink = afpacket.SocketDgram, layers.LinkTypeRaw, LinkRaw
		outgoingCheck = loIndex
	} else {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, noInterface(name)
		}
		switch hwType(name) {
		case arphrdEther, arphrdLoopback:
		default:
			// tun, WireGuard, PPP, GRE...: take frames from the IP header.
			socktype, link, filterLink = afpacket.SocketDgram, layers.LinkTypeRaw, LinkRaw
		}
		if ifc.Flags&net.FlagLoopback != 0 {
			outgoingCheck = ifc.Index
		}
	}
	prog, err := CompileFilter(opts.Filter, filterLink, opts.SnapLen)
	if err != nil {
		return nil, err
	}
	prog, err = dropLoopedBack(prog, outgoingCheck, name == "any")
	if err != nil {
		return nil, err
	}
	const blockSize = 1 << 20
	blocks := max(opts.BufferMB*(1<<20)/blockSize, 2)
	tpOpts := []any{
		afpacket.OptFrameSize(1 << 16),
		afpacket.OptBlockSize(blockSize),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(50 * time.Millisecond),
		afpacket.OptPollTimeout(100 * time.Millisecond),
		afpacket.TPacketVersion3,
		socktype,
	}
	if name != "any" {
		tpOpts = append(tpOpts, afpacket.OptInterface(name))
	}
	tp, err := afpacket.NewTPacket(tpOpts...)
	if err != nil {
		return nil, openError(name, err)
	}
	if err := tp.SetBPF(prog); err != nil {
		tp.Close()
		return nil, fmt.Errorf("capture on %s: attaching the capture filter: %w", name, err)
	}
	// The socket received frames from its creation on; those that came
	// before the filter was attached are dropped by Next.
	filtered := time.Now()
	if opts.Promiscuous && name != "any" {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("capture on %s: promiscuous mode: %w", name, err)
		}
	}
	return &ring{tp: tp, link: link, name: name, since: filtered}, nil
}

// dropLoopedBack prefixes prog with a check that drops the outgoing copy of
// frames on the loopback interface (index lo), which the kernel shows twice
// (as sent and as received), as libpcap does. With any set, only frames of
// that interface are checked.
func dropLoopedBack(prog []bpf.RawInstruction, lo int, any bool) ([]bpf.RawInstruction, error) {
	if lo <= 0 {
		return prog, nil
	}
	var pre []bpf.Instruction
	if any {
		pre = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: packetOutgoing, SkipTrue: 3},
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(lo), SkipTrue: 1},
			bpf.RetConstant{Val: 0},
		}
	} else {
		pre = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: packetOutgoing, SkipTrue: 1},
			bpf.RetConstant{Val: 0},
		}
	}
	raw, err := bpf.Assemble(pre)
	if err != nil {
		return nil, fmt.Errorf("capture filter: %w", err)
	}
	if len(raw)+len(prog) > maxInstructions {
		return nil, errors.New("capture filter: the program is too long")
	}
	return append(raw, prog...), nil
}

// loopbackIndex is the index of the loopback interface, 0 if none.
func loopbackIndex() int {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Index
		}
	}
	return 0
}

// hwType reads the interface's ARPHRD type, -1 when unknown.
func hwType(name string) int {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "type"))
	if err != nil {
		return -1
	}
	var t int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &t); err != nil {
		return -1
	}
	return t
}

// openError turns the socket's error into one line that says what to do.
func openError(name string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		exe, e := os.Executable()
		if e != nil {
			exe = "mqtap"
		}
		return &PermissionError{Interface: name, Executable: exe, Err: err}
	}
	return fmt.Errorf("capture on %s: %w", name, err)
}

// LinkType is the link type of the frames Next returns.
func (s *ring) LinkType() layers.LinkType { return s.link }

// Name is the interface captured on.
func (s *ring) Name() string { return s.name }

// Next returns the next frame. Its data is valid until the next call to
// Next. ErrTimeout means no frame arrived for a while (call again), and
// ErrClosed that the source was closed.
func (s *ring) Next() ([]byte, gopacket.CaptureInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, gopacket.CaptureInfo{}, ErrClosed
	}
	for {
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			return nil, ci, ErrTimeout
		case err != nil:
			return nil, ci, fmt.Errorf("capture on %s: %w", s.name, err)
		case ci.Timestamp.Before(s.since):
			continue
		}
		s.received++
		ci.InterfaceIndex = 0 // the only interface of this capture (afpacket gives the kernel's ifindex)
		return data, ci, nil
	}
}

// Stats returns the frames read and the frames the kernel dropped because
// the ring was full, since Open.
func (s *ring) Stats() (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return Stats{}, ErrClosed
	}
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return Stats{}, fmt.Errorf("capture on %s: statistics: %w", s.name, err)
	}
	return Stats{Received: s.received, Dropped: uint64(v3.Drops())}, nil
}

// Close stops the capture. It waits for a Next in progress (at most the
// poll timeout, 100 ms).
func (s *ring) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tp.Close()
}
