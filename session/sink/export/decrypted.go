package export

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
)

// Segment sizes of a synthesised connection.
const (
	// MSS is the most MQTT bytes one synthesised TCP segment carries, as on
	// Ethernet with a 1500-byte MTU; larger control packets are split.
	MSS = 1448
	// window is the receive window every synthesised segment advertises
	// (no window scaling); a receiver acknowledges before half of it is in
	// flight.
	window = 65535
)

// Decrypted is the second pass of a --decrypted export: it runs the
// capture at path through the pipeline and opts.Analysis again and writes
// to w a new Ethernet capture in which every connection c selected is
// rebuilt from its MQTT control packets: a SYN, SYN-ACK, ACK handshake at
// the time of the connection's first frame, then one TCP segment per
// control packet (split at MSS bytes) at the time of the frame that
// completed it, with the original addresses and ports, a pure ACK whenever
// half a window is unacknowledged, and a FIN exchange after its last
// packet. Every PUBLISH whose payload was decrypted carries the plaintext
// instead, its remaining length re-encoded and everything before the
// payload (topic, packet identifier, MQTT 5 properties) kept byte for byte;
// every other control packet is copied as it was. Packets whose length
// could not even be read (resynchronisation) are left out. Sequence and
// acknowledgement numbers follow the bytes written, IP lengths and
// checksums are computed, so Wireshark decodes the plaintext as MQTT.
func Decrypted(path string, w io.Writer, c *Collector, opts Options) (Stats, error) {
	var st Stats
	src, err := file.Open(path, file.Options{})
	if err != nil {
		return st, err
	}
	defer src.Close()
	out, err := pcaps.NewLinkWriter(w, layers.LinkTypeEthernet, "mqtap", opts.Info)
	if err != nil {
		return st, err
	}
	s := &synth{w: out, c: c, conns: make(map[int]*tcpConn), first: make(map[int]time.Time), st: &st}
	var analyze func(*session.Record)
	if opts.Analysis != nil {
		analyze = opts.Analysis()
	}
	popts := opts.Pipeline
	popts.OnTCPFrame = func(f session.TCPFrame) {
		if c.streams.has(f.Stream) && !s.started.has(f.Stream) {
			if _, ok := s.first[f.Stream]; !ok {
				s.first[f.Stream] = f.Time
			}
		}
	}
	p := session.New(popts, func(rec *session.Record) error {
		if analyze != nil {
			analyze(rec)
		}
		return s.record(rec)
	})
	if err := src.Run(context.Background(), p); err != nil {
		return st, err
	}
	st.Truncated = src.Truncated()
	if err := s.closeAll(); err != nil {
		return st, err
	}
	return st, out.Flush()
}

// synth rebuilds the selected connections while the records come.
type synth struct {
	w       *pcaps.Writer
	c       *Collector
	conns   map[int]*tcpConn  // open synthesised connections by tcp.stream
	first   map[int]time.Time // time of the first frame of selected connections not started yet
	started bitmap            // connections synthesised (open or closed)
	st      *Stats

	seen   []int32 // records seen per tcp.stream
	buf    gopacket.SerializeBuffer
	packet []byte // the control packet being rewritten
}

// tcpConn is one synthesised connection; side 0 is the client.
type tcpConn struct {
	ends  [2]netip.AddrPort
	next  [2]uint32 // next sequence number of each side
	acked [2]uint32 // highest acknowledgement the other side sent for each side's bytes
	ipID  [2]uint16
	mac   [2]net.HardwareAddr
	last  time.Time
}

// record takes one record of the second pass.
func (s *synth) record(r *session.Record) error {
	s.seen = grow(s.seen, r.Stream)
	s.seen[r.Stream]++
	if !s.c.streams.has(r.Stream) || r.Stream >= len(s.c.packets) {
		return nil
	}
	conn := s.conns[r.Stream]
	if conn == nil && s.started.has(r.Stream) {
		return nil // the connection was closed after the packets the first pass counted
	}
	raw := s.rewrite(r)
	if raw != nil {
		if conn == nil {
			var err error
			if conn, err = s.open(r); err != nil {
				return err
			}
		}
		side := 0
		if netip.AddrPortFrom(r.Src.Unmap(), r.SrcPort) != conn.ends[0] {
			side = 1
		}
		for len(raw) > 0 {
			n := min(len(raw), MSS)
			if conn.next[side]-conn.acked[side]+uint32(n) > window/2 {
				if err := s.segment(conn, 1-side, r.Time, layers.TCP{ACK: true}, nil); err != nil {
					return err
				}
			}
			if err := s.segment(conn, side, r.Time, layers.TCP{ACK: true, PSH: n == len(raw)}, raw[:n]); err != nil {
				return err
			}
			raw = raw[n:]
		}
		conn.last = r.Time
	}
	if conn != nil && int(s.seen[r.Stream]) == int(s.c.packets[r.Stream]) {
		return s.close(r.Stream, conn)
	}
	return nil
}

// rewrite returns the bytes of the control packet to write: the original,
// or a PUBLISH rebuilt around its plaintext; nil for bytes that are not a
// whole control packet.
func (s *synth) rewrite(r *session.Record) []byte {
	p := &r.Packet
	hdr, err := decode.ParseHeader(p.Raw)
	if err != nil || hdr.Total() != len(p.Raw) {
		return nil
	}
	if p.Type != decode.PUBLISH || r.Crypto.Decrypt != "ok" || p.PayloadOff < p.HeaderLen || p.PayloadOff > len(p.Raw) {
		return p.Raw
	}
	varHeader := p.Raw[p.HeaderLen:p.PayloadOff]
	remaining := len(varHeader) + len(r.Crypto.Plaintext)
	if remaining > 268435455 {
		return p.Raw
	}
	b := decode.AppendVarint(append(s.packet[:0], p.Raw[0]), remaining)
	b = append(b, varHeader...)
	b = append(b, r.Crypto.Plaintext...)
	s.packet = b
	s.st.Decrypted++
	return b
}

// open starts the synthesised connection of a record: SYN, SYN-ACK, ACK at
// the time of the connection's first frame, when the record is its CONNECT.
// A connection whose CONNECT the capture did not hold (caught mid-stream)
// starts without a handshake, as in the capture: a reader then finds MQTT
// from its packets instead of expecting a CONNECT.
func (s *synth) open(r *session.Record) (*tcpConn, error) {
	src, dst := netip.AddrPortFrom(r.Src.Unmap(), r.SrcPort), netip.AddrPortFrom(r.Dst.Unmap(), r.DstPort)
	conn := &tcpConn{ends: [2]netip.AddrPort{src, dst}}
	if !r.Packet.FromClient {
		conn.ends = [2]netip.AddrPort{dst, src}
	}
	if conn.ends[0].Addr().Is4() != conn.ends[1].Addr().Is4() {
		return nil, fmt.Errorf("frame %d: tcp.stream %d mixes IPv4 and IPv6 addresses", r.Frame, r.Stream)
	}
	for i, end := range conn.ends {
		// A locally administered MAC address per IP address, and an
		// initial sequence number per endpoint and connection.
		h := fnv.New32a()
		h.Write(end.Addr().AsSlice())
		sum := h.Sum32()
		conn.mac[i] = net.HardwareAddr{0x02, 0x00, byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}
		h.Write([]byte{byte(end.Port() >> 8), byte(end.Port()), byte(r.Stream), byte(r.Stream >> 8), byte(r.Stream >> 16), byte(r.Stream >> 24)})
		conn.next[i] = h.Sum32()
	}
	start, ok := s.first[r.Stream]
	if !ok || start.After(r.Time) {
		start = r.Time
	}
	delete(s.first, r.Stream)
	s.started.set(r.Stream)
	s.conns[r.Stream] = conn
	s.st.Connections++
	if r.Packet.Type != decode.CONNECT {
		return conn, nil
	}
	if err := s.segment(conn, 0, start, layers.TCP{SYN: true}, nil); err != nil {
		return nil, err
	}
	if err := s.segment(conn, 1, start, layers.TCP{SYN: true, ACK: true}, nil); err != nil {
		return nil, err
	}
	return conn, s.segment(conn, 0, start, layers.TCP{ACK: true}, nil)
}

// close ends a synthesised connection: FIN from the client, FIN from the
// server, last ACK.
func (s *synth) close(stream int, conn *tcpConn) error {
	delete(s.conns, stream)
	t := conn.last
	for _, seg := range []struct {
		side  int
		flags layers.TCP
	}{{0, layers.TCP{FIN: true, ACK: true}}, {1, layers.TCP{FIN: true, ACK: true}}, {0, layers.TCP{ACK: true}}} {
		if err := s.segment(conn, seg.side, t, seg.flags, nil); err != nil {
			return err
		}
	}
	return nil
}

// closeAll ends the connections still open at the end of the capture, in
// stream order.
func (s *synth) closeAll() error {
	for stream := range len(s.seen) {
		if conn := s.conns[stream]; conn != nil {
			if err := s.close(stream, conn); err != nil {
				return err
			}
		}
	}
	return nil
}

// segment writes one TCP segment of side (0: client) carrying payload with
// the given flags; it fills in the ports, sequence and acknowledgement
// numbers and the window, and advances the sequence numbers.
func (s *synth) segment(conn *tcpConn, side int, t time.Time, tcp layers.TCP, payload []byte) error {
	src, dst := conn.ends[side], conn.ends[1-side]
	tcp.SrcPort, tcp.DstPort = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port())
	tcp.Seq = conn.next[side]
	tcp.Window = window
	if tcp.SYN {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{MSS >> 8, MSS & 0xff}}}
	}
	if tcp.ACK {
		tcp.Ack = conn.next[1-side]
		conn.acked[1-side] = tcp.Ack
	}
	eth := layers.Ethernet{SrcMAC: conn.mac[side], DstMAC: conn.mac[1-side], EthernetType: layers.EthernetTypeIPv4}
	var network gopacket.SerializableLayer
	if src.Addr().Is4() {
		conn.ipID[side]++
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Flags: layers.IPv4DontFragment, Id: conn.ipID[side],
			Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		network = ip
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		network = ip
	}
	if s.buf == nil {
		s.buf = gopacket.NewSerializeBuffer()
	}
	if err := gopacket.SerializeLayers(s.buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&eth, network, &tcp, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("building a TCP segment of %s -> %s: %w", src, dst, err)
	}
	conn.next[side] += uint32(len(payload))
	if tcp.SYN || tcp.FIN {
		conn.next[side]++
	}
	data := s.buf.Bytes()
	if err := s.w.WriteFrame(data, gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(data), Length: len(data)}, nil); err != nil {
		return err
	}
	s.st.Frames++
	return nil
}
