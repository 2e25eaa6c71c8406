package live

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// testTcpdump is tcpdump's path; the tests that compare with it or fall
// back to it need it (the Makefile installs it).
func testTcpdump(t testing.TB) string {
	t.Helper()
	p := tcpdumpPath()
	if p == "" {
		t.Fatal("tcpdump is not installed (apt-get install tcpdump): the filter tests compare mqtap's compiler with it")
	}
	return p
}

// filterVM is a compiled filter ready to run.
type filterVM struct {
	vm *bpf.VM
}

func newFilterVM(t testing.TB, raw []bpf.RawInstruction) filterVM {
	t.Helper()
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program does not disassemble: %v", raw)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("program rejected by the VM: %v\n%v", err, ins)
	}
	return filterVM{vm}
}

func (f filterVM) run(t testing.TB, frame []byte) int {
	t.Helper()
	n, err := f.vm.Run(frame)
	if err != nil {
		t.Fatalf("running the filter: %v", err)
	}
	return n
}

// ---- frames

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func ethHdr(etherType uint16) []byte {
	return cat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, be16(etherType))
}

func tcpHdr(sport, dport uint16, flags byte) []byte {
	return cat(be16(sport), be16(dport), make([]byte, 8), []byte{5 << 4, flags}, be16(65535), make([]byte, 4))
}

func udpHdr(sport, dport uint16) []byte {
	return cat(be16(sport), be16(dport), be16(8), be16(0))
}

func sctpHdr(sport, dport uint16) []byte {
	return cat(be16(sport), be16(dport), make([]byte, 8))
}

func ip4(src, dst string, proto byte, frag uint16, options []byte, payload []byte) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	ihl := 5 + len(options)/4
	h := cat([]byte{byte(0x40 | ihl), 0}, be16(uint16(4*ihl+len(payload))), be16(1), be16(frag),
		[]byte{64, proto, 0, 0}, s[:], d[:], options)
	return cat(h, payload)
}

func ip6(src, dst string, nh byte, payload []byte) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	return cat([]byte{0x60, 0, 0, 0}, be16(uint16(len(payload))), []byte{nh, 64}, s[:], d[:], payload)
}

func arpBody(sender, target string) []byte {
	s, d := netip.MustParseAddr(sender).As4(), netip.MustParseAddr(target).As4()
	return cat(be16(1), be16(0x0800), []byte{6, 4}, be16(1), []byte{0, 1, 2, 3, 4, 5}, s[:],
		make([]byte, 6), d[:])
}

// namedFrame is a hand-made Ethernet frame.
type namedFrame struct {
	name  string
	frame []byte
}

const (
	tcpSYN = 0x02
	tcpACK = 0x10
)

func handFrames() []namedFrame {
	fragPayload := cat(be16(1883), be16(1883), make([]byte, 16)) // looks like ports, but is not a TCP header
	return []namedFrame{
		{"ipv4 tcp syn 127.0.0.1:50000 > 127.0.0.1:1883", cat(ethHdr(0x0800), ip4("127.0.0.1", "127.0.0.1", 6, 0x4000, nil, tcpHdr(50000, 1883, tcpSYN)))},
		{"ipv4 tcp ack 127.0.0.1:1883 > 127.0.0.1:50000", cat(ethHdr(0x0800), ip4("127.0.0.1", "127.0.0.1", 6, 0x4000, nil, tcpHdr(1883, 50000, tcpACK)))},
		{"ipv4 tcp 10.0.0.1:8883 > 10.1.2.3:40000", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.1.2.3", 6, 0, nil, tcpHdr(8883, 40000, tcpACK)))},
		{"ipv4 tcp 10.1.2.3:22 > 192.168.1.5:50000", cat(ethHdr(0x0800), ip4("10.1.2.3", "192.168.1.5", 6, 0, nil, tcpHdr(22, 50000, tcpACK)))},
		{"ipv4 tcp 192.168.1.5:1884 > 10.1.2.3:1883", cat(ethHdr(0x0800), ip4("192.168.1.5", "10.1.2.3", 6, 0, nil, tcpHdr(1884, 1883, tcpACK)))},
		{"ipv4 tcp 1879 > 1891", cat(ethHdr(0x0800), ip4("10.9.9.9", "10.9.9.8", 6, 0, nil, tcpHdr(1879, 1891, tcpACK)))},
		{"ipv4 tcp 1880 > 1891", cat(ethHdr(0x0800), ip4("10.9.9.9", "10.9.9.8", 6, 0, nil, tcpHdr(1880, 1891, tcpACK)))},
		{"ipv4 tcp 1879 > 1890", cat(ethHdr(0x0800), ip4("10.9.9.9", "10.9.9.8", 6, 0, nil, tcpHdr(1879, 1890, tcpACK)))},
		{"ipv4 tcp 0 > 0", cat(ethHdr(0x0800), ip4("10.9.9.9", "10.9.9.8", 6, 0, nil, tcpHdr(0, 0, tcpACK)))},
		{"ipv4 udp 10.0.0.1:1883 > 10.0.0.2:53", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 17, 0, nil, udpHdr(1883, 53)))},
		{"ipv4 udp 10.0.0.1:1883 > 10.0.0.2:5353", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 17, 0, nil, udpHdr(1883, 5353)))},
		{"ipv4 udp 192.168.0.1:5353 > 224.0.0.251:5353", cat(ethHdr(0x0800), ip4("192.168.0.1", "224.0.0.251", 17, 0, nil, udpHdr(5353, 5353)))},
		{"ipv4 sctp 10.0.0.5:1883 > 10.0.0.6:9", cat(ethHdr(0x0800), ip4("10.0.0.5", "10.0.0.6", 132, 0, nil, sctpHdr(1883, 9)))},
		{"ipv4 icmp 10.0.0.1 > 127.0.0.1", cat(ethHdr(0x0800), ip4("10.0.0.1", "127.0.0.1", 1, 0, nil, []byte{8, 0, 0, 0, 0, 1, 0, 1}))},
		{"ipv4 with options (IHL 6) tcp 10.0.0.1:1884 > 10.0.0.2:1885", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 6, 0, []byte{148, 4, 0, 0}, tcpHdr(1884, 1885, tcpSYN)))},
		{"ipv4 with options (IHL 6) tcp 10.0.0.1:22 > 10.0.0.2:50000", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 6, 0, []byte{148, 4, 0, 0}, tcpHdr(22, 50000, tcpACK)))},
		{"ipv4 first fragment tcp 10.0.0.1:1883 > 10.0.0.2:1", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 6, 0x2000, nil, tcpHdr(1883, 1, tcpACK)))},
		{"ipv4 non-first fragment tcp 10.0.0.1 > 10.0.0.2", cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 6, 100, nil, fragPayload))},
		{"ipv4 non-first fragment udp 127.0.0.1 > 127.0.0.1", cat(ethHdr(0x0800), ip4("127.0.0.1", "127.0.0.1", 17, 0x2000|7, nil, fragPayload))},
		{"ipv6 tcp ::1:1883 > ::1:50000", cat(ethHdr(0x86dd), ip6("::1", "::1", 6, tcpHdr(1883, 50000, tcpSYN)))},
		{"ipv6 tcp fe80::1:40000 > fe80::2:8883", cat(ethHdr(0x86dd), ip6("fe80::1", "fe80::2", 6, tcpHdr(40000, 8883, tcpACK)))},
		{"ipv6 tcp 2001:db8::1:22 > fe90::1:1884", cat(ethHdr(0x86dd), ip6("2001:db8::1", "fe90::1", 6, tcpHdr(22, 1884, tcpACK)))},
		{"ipv6 udp 2001:db8::1:1888 > 2001:db9::2:53", cat(ethHdr(0x86dd), ip6("2001:db8::1", "2001:db9::2", 17, udpHdr(1888, 53)))},
		{"ipv6 sctp ::ffff:10.0.0.1:9 > ::1:1883", cat(ethHdr(0x86dd), ip6("::ffff:10.0.0.1", "::1", 132, sctpHdr(9, 1883)))},
		{"ipv6 fragment header then tcp", cat(ethHdr(0x86dd), ip6("2001:db8::7", "::1", 44, cat([]byte{6, 0, 0, 1, 0, 0, 0, 9}, tcpHdr(1883, 1883, tcpSYN))))},
		{"ipv6 hop-by-hop header then tcp", cat(ethHdr(0x86dd), ip6("::1", "::1", 0, cat([]byte{6, 0, 1, 4, 0, 0, 0, 0}, tcpHdr(1883, 1883, tcpSYN))))},
		{"arp 10.0.0.1 asks for 127.0.0.1", cat(ethHdr(0x0806), arpBody("10.0.0.1", "127.0.0.1"))},
		{"arp 192.168.1.5 asks for 10.1.2.3", cat(ethHdr(0x0806), arpBody("192.168.1.5", "10.1.2.3"))},
		{"rarp 10.1.2.3", cat(ethHdr(0x8035), arpBody("10.1.2.3", "10.1.2.3"))},
		{"vlan-tagged ipv4 tcp 1883", cat(ethHdr(0x8100), be16(5), be16(0x0800), ip4("127.0.0.1", "127.0.0.1", 6, 0, nil, tcpHdr(1883, 50000, tcpSYN)))},
		{"short ipv4 (IP header cut)", cat(ethHdr(0x0800), []byte{0x45, 0, 0, 40, 0, 1})},
		{"runt", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
}

// frameNamed is the hand-made frame whose name starts with prefix.
func frameNamed(t testing.TB, prefix string) []byte {
	t.Helper()
	for _, f := range handFrames() {
		if strings.HasPrefix(f.name, prefix) {
			return f.frame
		}
	}
	t.Fatalf("no frame %q", prefix)
	return nil
}

// sampleFrames reads the sample captures as Ethernet frames; Linux cooked
// (SLL, SLL2) frames get an Ethernet header with their protocol.
func sampleFrames(t testing.TB) []namedFrame {
	t.Helper()
	files, err := filepath.Glob("../../../pcaps/samples/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample captures in ../../../pcaps/samples (%v)", err)
	}
	var out []namedFrame
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		var (
			link layers.LinkType
			next func() ([]byte, error)
		)
		if bytes.HasPrefix(data, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
			r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			link = r.LinkType()
			next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
		} else {
			r, err := pcapgo.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			link = r.LinkType()
			next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
		}
		if link != layers.LinkTypeEthernet && link != layers.LinkTypeLinuxSLL && link != layers.LinkTypeLinuxSLL2 {
			continue // NFLOG, 802.11 (link-*.pcapng): no Ethernet form, and never what live capture gives
		}
		n := 0
		for {
			d, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var frame []byte
			switch link {
			case layers.LinkTypeEthernet:
				frame = d
			case layers.LinkTypeLinuxSLL:
				if len(d) < 16 {
					continue
				}
				frame = cat(ethHdr(binary.BigEndian.Uint16(d[14:16])), d[16:])
			case layers.LinkTypeLinuxSLL2:
				if len(d) < 20 {
					continue
				}
				frame = cat(ethHdr(binary.BigEndian.Uint16(d[0:2])), d[20:])
			default:
				t.Fatalf("%s: unexpected link type %v", name, link)
			}
			n++
			out = append(out, namedFrame{fmt.Sprintf("%s #%d", filepath.Base(name), n), append([]byte(nil), frame...)})
		}
		if n == 0 {
			t.Fatalf("%s: no frames", name)
		}
	}
	return out
}

// oracleExprs are compiled by both mqtap and tcpdump and must agree.
var oracleExprs = []string{
	PortsExpr([]uint16{1883, 1884, 8883}),
	"",
	"tcp port 1883",
	"port 1883 or 8883",
	"src port 1883",
	"dst port 50000",
	"portrange 1880-1890",
	"tcp src portrange 1890-1880",
	"host 127.0.0.1",
	"dst host 127.0.0.1",
	"src host 10.0.0.1 and tcp",
	"not port 22",
	"tcp and (port 1883 or port 8883) and not host 10.1.2.3",
	"net 10.0.0.0/8",
	"src net 10.0.0.0/8 or dst net 192.168.0.0/16",
	"ip6",
	"ip",
	"tcp",
	"udp",
	"sctp",
	"host ::1",
	"net fe80::/10",
	"ip6 dst net 2001:db8::/32",
	"ip host 10.0.0.1",
	"ip and tcp port 1884",
	"udp port 1883",
	"sctp port 1883",
	"port 1883 and not 8883 or udp",
	"!(tcp || udp)",
	"not not tcp",
	"tcp && !port 22",
	"port (1883 or 8883)",
	"src or dst port 1883",
	"src and dst host 127.0.0.1",
	"host 10.0.0.1 or 10.1.2.3",
	"dst port 1883 or 8883 or 1884",
	"port 1883 and (tcp) or 8883",
	"port 1883 and not 50000",
	"net ::/0",
	"net 0.0.0.0/0",
	"tcp port 0",
	"host ::ffff:10.0.0.1",
	"src 10.0.0.1",
	"dst net 10.0.0.0/8",
	"(ip6 or ip) and not (udp or ip6 host ::1)",
	"tcp port 22 or tcp portrange 1880-1885 or tcp port 50000 or udp port 53 or port 5353",
	"src port 1883 or src port 22 or dst port 1883",
	"src and dst port 1883 or src and dst port 5353",
	"not (port 22 or port 1883) and (tcp port 8883 or tcp port 1884 or host ::1)",
}

func TestBPFMatchesTcpdump(t *testing.T) {
	tcpdump := testTcpdump(t)
	eth := append(sampleFrames(t), handFrames()...)
	var raw []namedFrame
	for _, f := range eth {
		if len(f.frame) >= 14 {
			raw = append(raw, namedFrame{f.name, f.frame[14:]})
		}
	}
	// A raw frame too short for the IPv4 header's protocol byte.
	raw = append(raw, namedFrame{"short raw ipv4", []byte{0x45, 0, 0}})
	links := []struct {
		link   Link
		frames []namedFrame
	}{{LinkEthernet, eth}, {LinkRaw, raw}}

	const snaplen = 262144
	compared, accepted := 0, 0
	for _, expr := range oracleExprs {
		for _, l := range links {
			mine, err := compileBuiltin(expr, l.link, snaplen)
			if err != nil {
				t.Errorf("%q (%v): the built-in compiler failed: %v", expr, l.link, err)
				continue
			}
			theirs, err := compileTcpdump(tcpdump, expr, l.link, snaplen)
			if err != nil {
				t.Fatalf("%q (%v): tcpdump: %v", expr, l.link, err)
			}
			mvm, tvm := newFilterVM(t, mine), newFilterVM(t, theirs)
			for _, f := range l.frames {
				m, th := mvm.run(t, f.frame), tvm.run(t, f.frame)
				if m != 0 && m != snaplen {
					t.Fatalf("%q (%v) on %s: accepted %d bytes, want 0 or %d", expr, l.link, f.name, m, snaplen)
				}
				if (m != 0) != (th != 0) {
					ins, _ := bpf.Disassemble(mine)
					t.Errorf("%q (%v) on %s: mqtap accepts=%v, tcpdump accepts=%v\nframe % x\nprogram %v",
						expr, l.link, f.name, m != 0, th != 0, f.frame, ins)
				}
				if m != 0 {
					accepted++
				}
				compared++
			}
		}
	}
	t.Logf("%d expressions × 2 link types: %d decisions compared (%d Ethernet frames, %d raw frames; %d accepted)",
		len(oracleExprs), compared, len(eth), len(raw), accepted)
	// The table must discriminate: neither everything nor nothing accepted.
	if accepted == 0 || accepted == compared {
		t.Errorf("accepted %d of %d: the frames do not exercise the filters", accepted, compared)
	}
}

func TestParsePortList(t *testing.T) {
	for _, c := range []struct {
		in    string
		ports []uint16
		ok    bool
		err   bool
	}{
		{"1883,8883", []uint16{1883, 8883}, true, false},
		{"1883 8883", []uint16{1883, 8883}, true, false},
		{"1883, 8883", []uint16{1883, 8883}, true, false},
		{" 1883 ,\t8883 ,1884 ", []uint16{1883, 8883, 1884}, true, false},
		{"1883", []uint16{1883}, true, false},
		{"65535", []uint16{65535}, true, false},
		{"", nil, false, false},
		{" , ", nil, false, false},
		{"tcp port 1883", nil, false, false},
		{"1883 or 8883", nil, false, false},
		{"1883,mqtt", nil, false, false},
		{"-1", nil, false, false},
		{"1883,0", nil, true, true},
		{"1883 70000", nil, true, true},
		{"99999999999999999999999", nil, true, true},
	} {
		ports, ok, err := ParsePortList(c.in)
		if ok != c.ok || (err != nil) != c.err || fmt.Sprint(ports) != fmt.Sprint(c.ports) {
			t.Errorf("ParsePortList(%q) = %v, %v, %v; want %v, %v, error %v", c.in, ports, ok, err, c.ports, c.ok, c.err)
		}
	}
}

func TestPortsExpr(t *testing.T) {
	for _, c := range []struct {
		in   []uint16
		want string
	}{
		{nil, "tcp"},
		{[]uint16{1883}, "tcp port 1883"},
		{[]uint16{1883, 1884}, "tcp port 1883 or tcp port 1884"},
		{[]uint16{1883, 8883, 1883}, "tcp port 1883 or tcp port 8883"},
	} {
		if got := PortsExpr(c.in); got != c.want {
			t.Errorf("PortsExpr(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCompileFilterErrors(t *testing.T) {
	tcpdump := testTcpdump(t)
	for _, c := range []struct {
		expr string
		want string // in the error without tcpdump
	}{
		{"port", "ends where a value was expected"},
		{"port 70000", "70000"},
		{"(tcp", "unbalanced parentheses"},
		{"tcp)", "unbalanced parentheses"},
		{"tcp and", `nothing after "and"`},
		{"or tcp", `"or"`},
		{"tcp and 1883", "no qualifier"},
		{"net 10.0.0.1/8", "non-network bits"},
		{"tcp host 10.0.0.1", `"tcp" qualifier`},
		{"dst 10.0.0.0/8", "a mask needs net"},
		{"host ::1/128", "a mask needs net"},
		{"vlan and port 1", `mqtap's built-in compiler does not understand "vlan" (it knows tcp, udp, sctp, ip, ip6, [src|dst] port, portrange, [src|dst] host, net, and, or, not, parentheses); install tcpdump for full tcpdump syntax`},
		{"tcp[tcpflags] & tcp-syn != 0", `does not understand "tcp[tcpflags]"`},
		{"port ((1883 or 8883))", "cannot start with"},
		{"host example.com", `does not understand "example.com"`},
		{"port mqtt", `does not understand "mqtt"`},
		{"port 01883", `does not understand "01883"`},
	} {
		for _, link := range []Link{LinkEthernet, LinkRaw} {
			// Without tcpdump.
			_, err := compileFilter(c.expr, link, 65535, "")
			if err == nil {
				t.Errorf("%q (%v), no tcpdump: no error", c.expr, link)
				continue
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, fmt.Sprintf("capture filter %q: ", c.expr)) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("%q (%v), no tcpdump: error %q, want one line with %q", c.expr, link, msg, c.want)
			}
		}
	}
	// With tcpdump, the errors it also finds are its own.
	for _, c := range []struct {
		expr string
		link Link
		want string
	}{
		{"port", LinkEthernet, "syntax error"},
		{"port 70000", LinkEthernet, "illegal port number 70000 > 65535"},
		{"(tcp", LinkRaw, "syntax error"},
		{"tcp and", LinkEthernet, "syntax error"},
		{"vlan", LinkRaw, "VLAN"},
		{"net 10.0.0.1/8", LinkEthernet, "non-network bits"},
		{"dst 10.0.0.0/8", LinkRaw, "Mask syntax for networks only"},
		{"no-such-primitive", LinkEthernet, "no-such-primitive"},
	} {
		_, err := compileFilter(c.expr, c.link, 65535, tcpdump)
		if err == nil {
			t.Errorf("%q (%v) with tcpdump: no error", c.expr, c.link)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, fmt.Sprintf("capture filter %q: ", c.expr)) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q (%v) with tcpdump: error %q, want one line with %q", c.expr, c.link, msg, c.want)
		}
	}
	if _, err := CompileFilter("tcp", Link(7), 65535); err == nil {
		t.Error("unknown link type: no error")
	}
	if _, err := CompileFilter("tcp", LinkEthernet, 0); err == nil {
		t.Error("snaplen 0: no error")
	}
	// Too deep for the built-in parser, and not a panic.
	deep := strings.Repeat("(", 5000) + "tcp" + strings.Repeat(")", 5000)
	if _, err := compileBuiltin(deep, LinkEthernet, 65535); err == nil {
		t.Error("5000 nested parentheses: no error")
	}
}

func TestCompileFilterSnaplen(t *testing.T) {
	tcpdump := testTcpdump(t)
	syn := frameNamed(t, "ipv4 tcp syn")
	for _, expr := range []string{"tcp", "", "not udp", "tcp[tcpflags] & tcp-syn != 0"} {
		for _, td := range []string{"", tcpdump} {
			if td == "" && strings.Contains(expr, "[") {
				continue
			}
			prog, err := compileFilter(expr, LinkEthernet, 1234, td)
			if err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			rets := 0
			for _, ins := range prog {
				if ins.Op == 0x06 {
					rets++
					if ins.K != 0 && ins.K != 1234 {
						t.Errorf("%q: ret #%d, want #1234 or #0", expr, ins.K)
					}
				}
			}
			if rets == 0 {
				t.Errorf("%q: no ret", expr)
			}
			if n := newFilterVM(t, prog).run(t, syn); n != 1234 {
				t.Errorf("%q on a TCP SYN: accepted %d bytes, want 1234", expr, n)
			}
		}
	}
	prog, err := CompileFilter("", LinkRaw, 99)
	if err != nil || len(prog) != 1 || prog[0].Op != 0x06 || prog[0].K != 99 {
		t.Errorf(`CompileFilter("") = %v, %v; want [ret #99]`, prog, err)
	}
}

func TestCompileFilterBuiltinFirst(t *testing.T) {
	// The default filter never needs tcpdump, and CompileFilter gives the
	// built-in compiler's program when it can.
	expr := PortsExpr([]uint16{1883, 8883})
	got, err := CompileFilter(expr, LinkEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	want, err := compileBuiltin(expr, LinkEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CompileFilter did not use the built-in compiler:\n%v\n%v", got, want)
	}
	if _, err := compileFilter(expr, LinkRaw, 262144, ""); err != nil {
		t.Errorf("%q without tcpdump: %v", expr, err)
	}
}

func TestCompileFilterFallback(t *testing.T) {
	tcpdump := testTcpdump(t)
	syn, ack := frameNamed(t, "ipv4 tcp syn"), frameNamed(t, "ipv4 tcp ack")
	vlan, other := frameNamed(t, "vlan-tagged"), frameNamed(t, "ipv4 tcp 10.0.0.1:8883")
	for _, c := range []struct {
		expr   string
		accept [][]byte
		reject [][]byte
		rawToo bool
	}{
		{"vlan", [][]byte{vlan}, [][]byte{syn, ack}, false},
		{"vlan and port 1883", [][]byte{vlan}, [][]byte{syn, ack}, false},
		{"tcp[tcpflags] & tcp-syn != 0", [][]byte{syn}, [][]byte{ack, vlan}, true},
		{"host localhost", [][]byte{syn, ack}, [][]byte{other}, true},
		{"port 03533", [][]byte{syn, ack}, [][]byte{other}, true}, // octal for tcpdump: port 1883
	} {
		if _, err := compileBuiltin(c.expr, LinkEthernet, 65535); err == nil {
			t.Errorf("%q: the built-in compiler should leave it to tcpdump", c.expr)
		}
		links := []Link{LinkEthernet}
		if c.rawToo {
			links = append(links, LinkRaw)
		}
		for _, link := range links {
			prog, err := compileFilter(c.expr, link, 65535, tcpdump)
			if err != nil {
				t.Errorf("%q (%v): %v", c.expr, link, err)
				continue
			}
			vm := newFilterVM(t, prog)
			strip := func(f []byte) []byte {
				if link == LinkRaw {
					return f[14:]
				}
				return f
			}
			for _, f := range c.accept {
				if n := vm.run(t, strip(f)); n != 65535 {
					t.Errorf("%q (%v): accepted %d bytes of a matching frame, want 65535", c.expr, link, n)
				}
			}
			for _, f := range c.reject {
				if n := vm.run(t, strip(f)); n != 0 {
					t.Errorf("%q (%v): accepted %d bytes of a frame that does not match", c.expr, link, n)
				}
			}
		}
	}
}

func TestCompileFilterTooLong(t *testing.T) {
	tcpdump := testTcpdump(t)
	var ports []uint16
	for p := uint16(2000); p < 2100; p++ {
		ports = append(ports, p)
	}
	match := cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 6, 0, nil, tcpHdr(50000, 2039, tcpACK)))
	match6 := cat(ethHdr(0x86dd), ip6("::1", "::2", 6, tcpHdr(2000, 50000, tcpACK)))
	other := cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 6, 0, nil, tcpHdr(50000, 2100, tcpACK)))
	udp := cat(ethHdr(0x0800), ip4("10.0.0.1", "10.0.0.2", 17, 0, nil, udpHdr(50000, 2039)))

	// 40 ports fit the built-in compiler: PortsExpr's ports share their
	// checks of IP version and protocol.
	prog, err := compileBuiltin(PortsExpr(ports[:40]), LinkEthernet, 65535)
	if err != nil {
		t.Fatalf("40 ports: %v", err)
	}
	if len(prog) > 4*40+30 {
		t.Errorf("40 ports: %d instructions", len(prog))
	}
	vm := newFilterVM(t, prog)
	if vm.run(t, match) == 0 || vm.run(t, match6) == 0 || vm.run(t, other) != 0 || vm.run(t, udp) != 0 {
		t.Error("40 ports, built-in: wrong decisions")
	}

	// 100 do not.
	expr := PortsExpr(ports)
	if _, err := compileBuiltin(expr, LinkEthernet, 65535); !errors.Is(err, errFilterTooLong) {
		t.Fatalf("100 ports, built-in: %v, want %v", err, errFilterTooLong)
	}
	_, err = compileFilter(expr, LinkEthernet, 65535, "")
	if err == nil || !strings.Contains(err.Error(), "filter too long") || !strings.Contains(err.Error(), "install tcpdump") {
		t.Errorf("100 ports without tcpdump: %v", err)
	}
	prog, err = compileFilter(expr, LinkEthernet, 65535, tcpdump)
	if err != nil {
		t.Fatalf("100 ports with tcpdump: %v", err)
	}
	vm = newFilterVM(t, prog)
	if vm.run(t, match) == 0 || vm.run(t, match6) == 0 || vm.run(t, other) != 0 || vm.run(t, udp) != 0 {
		t.Error("100 ports with tcpdump: wrong decisions")
	}
}

func FuzzCompileFilter(f *testing.F) {
	for _, e := range oracleExprs {
		f.Add(e)
	}
	for _, e := range []string{"port", "(tcp", "tcp and", "vlan", "tcp[13] & 2 != 0", "src or dst net ::/0 and not (1.2.3.4 or ::)",
		"port not (1 and not 2)", "portrange 0-65535", "!!!!(((tcp)))", "net 255.255.255.255/32", "host 1.2.3.4/24"} {
		f.Add(e)
	}
	frames := handFrames()
	f.Fuzz(func(t *testing.T, expr string) {
		for _, link := range []Link{LinkEthernet, LinkRaw} {
			prog, err := compileBuiltin(expr, link, 4096)
			if err != nil {
				if strings.Contains(err.Error(), "internal error") {
					t.Fatalf("%q: %v", expr, err)
				}
				continue
			}
			if len(prog) == 0 || len(prog) > filterMaxInstructions {
				t.Fatalf("%q: %d instructions", expr, len(prog))
			}
			vm := newFilterVM(t, prog)
			for _, fr := range frames {
				in := fr.frame
				if link == LinkRaw && len(in) >= 14 {
					in = in[14:]
				}
				if n := vm.run(t, in); n != 0 && n != 4096 {
					t.Fatalf("%q: returned %d", expr, n)
				}
			}
		}
	})
}

// exprGen makes random expressions of the built-in compiler's subset,
// mostly valid ones.
type exprGen struct{ r *rand.Rand }

func (g exprGen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

func (g exprGen) value(aq string) string {
	if g.r.Intn(10) == 0 { // often the wrong kind
		return g.pick("1883", "127.0.0.1", "::1", "10.0.0.0/8", "1880-1890")
	}
	switch aq {
	case "port":
		return g.pick("1883", "8883", "22", "50000", "5353", "53", "1884", "0")
	case "portrange":
		return g.pick("1880-1890", "1-1000", "5353-5353", "50000-40000")
	case "net":
		return g.pick("10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0", "::/0", "fe80::/10", "2001:db8::/32", "127.0.0.0/8", "::1/128", "10.1.2.3/32")
	}
	return g.pick("127.0.0.1", "10.0.0.1", "10.1.2.3", "::1", "fe80::1", "2001:db8::1", "224.0.0.251", "::ffff:10.0.0.1")
}

func (g exprGen) id(aq string, depth int) string {
	switch g.r.Intn(6) {
	case 0:
		return "not " + g.id(aq, depth)
	case 1:
		if depth < 3 {
			return "(" + g.value(aq) + " " + g.pick("and", "or") + " " + g.id(aq, depth+1) + ")"
		}
	}
	return g.value(aq)
}

func (g exprGen) term(depth int) (string, string) {
	switch g.r.Intn(7) {
	case 0:
		s, aq := g.term(depth + 1)
		return g.pick("not ", "!") + s, aq
	case 1:
		if depth < 4 {
			e, _ := g.expr(depth + 1)
			return "(" + e + ")", ""
		}
	case 2:
		return g.pick("tcp", "udp", "ip", "ip6", "sctp"), ""
	}
	aq := g.pick("port", "portrange", "host", "net", "")
	var head []string
	if g.r.Intn(3) == 0 {
		if aq == "port" || aq == "portrange" {
			head = append(head, g.pick("tcp", "udp", "sctp"))
		} else {
			head = append(head, g.pick("ip", "ip6"))
		}
	}
	if g.r.Intn(2) == 0 || aq == "" {
		head = append(head, g.pick("src", "dst", "src or dst", "src and dst"))
	}
	if aq != "" {
		head = append(head, aq)
	}
	return strings.Join(head, " ") + " " + g.id(aq, depth), aq
}

func (g exprGen) expr(depth int) (string, string) {
	s, aq := g.term(depth)
	for g.r.Intn(2) == 0 {
		op := g.pick("and", "or", "&&", "||")
		if aq != "" && g.r.Intn(3) == 0 {
			s += " " + op + " " + g.id(aq, depth) // reuses the qualifiers
			continue
		}
		var t string
		t, aq = g.term(depth)
		s += " " + op + " " + t
	}
	return s, aq
}

// TestBPFRandomMatchesTcpdump compares random expressions with tcpdump: both
// accept or reject the same expressions, and those compiled decide alike.
func TestBPFRandomMatchesTcpdump(t *testing.T) {
	tcpdump := testTcpdump(t)
	frames := handFrames()
	samples := sampleFrames(t)
	for i := 0; i < len(samples); i += 10 {
		frames = append(frames, samples[i])
	}
	g := exprGen{rand.New(rand.NewSource(1))}
	compared := 0
	for i := 0; i < 300; i++ {
		expr, _ := g.expr(0)
		for _, link := range []Link{LinkEthernet, LinkRaw} {
			mine, merr := compileBuiltin(expr, link, 100)
			theirs, terr := compileTcpdump(tcpdump, expr, link, 100)
			var be *builtinError
			switch {
			case merr != nil && terr != nil:
				continue
			case merr != nil && (errors.As(merr, &be) && be.unsupported || errors.Is(merr, errFilterTooLong)):
				continue // for tcpdump indeed
			case merr != nil:
				t.Errorf("%q (%v): built-in compiler: %v; tcpdump compiles it", expr, link, merr)
				continue
			case terr != nil && !strings.Contains(terr.Error(), "rejects all packets"):
				t.Errorf("%q (%v): tcpdump: %v; the built-in compiler compiles it", expr, link, terr)
				continue
			}
			mvm := newFilterVM(t, mine)
			var tvm filterVM
			if terr == nil {
				tvm = newFilterVM(t, theirs)
			}
			for _, f := range frames {
				in := f.frame
				if link == LinkRaw {
					in = in[min(14, len(in)):]
				}
				if len(in) < 14 || strings.HasPrefix(f.name, "short") {
					// tcpdump's optimizer drops the loads of tautologies,
					// which truncated frames make fail in the other program.
					continue
				}
				m, th := mvm.run(t, in) != 0, false
				if terr == nil {
					th = tvm.run(t, in) != 0
				}
				if m != th {
					t.Errorf("%q (%v) on %s: mqtap accepts=%v, tcpdump accepts=%v", expr, link, f.name, m, th)
					break
				}
			}
			compared++
		}
	}
	t.Logf("%d random expression compilations compared on %d frames", compared, len(frames))
	if compared < 200 {
		t.Errorf("only %d expressions compiled by both", compared)
	}
}
