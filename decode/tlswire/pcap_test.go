package tlswire

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writePcap writes a recorded connection as an Ethernet/IPv4/TCP capture
// between 10.0.0.1:50000 (client) and 10.0.0.2:443 (server): the TCP
// handshake, then each write in segments of at most 1400 bytes.
func writePcap(t testing.TB, path string, w *wire) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pw := pcapgo.NewWriter(f)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	cliMAC := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	srvMAC := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	cliIP, srvIP := net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 2).To4()
	seqs := [2]uint32{1000, 5000} // client, server: next sequence number
	write := func(fromServer bool, tcp *layers.TCP, payload []byte) {
		eth := &layers.Ethernet{SrcMAC: cliMAC, DstMAC: srvMAC, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: cliIP, DstIP: srvIP}
		tcp.SrcPort, tcp.DstPort = 50000, 443
		from, to := 0, 1
		if fromServer {
			eth.SrcMAC, eth.DstMAC = srvMAC, cliMAC
			ip.SrcIP, ip.DstIP = srvIP, cliIP
			tcp.SrcPort, tcp.DstPort = 443, 50000
			from, to = 1, 0
		}
		tcp.Seq, tcp.Ack, tcp.Window = seqs[from], seqs[to], 65535
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		seqs[from] += uint32(len(payload))
		if tcp.SYN {
			seqs[from]++
		}
		ts = ts.Add(time.Millisecond)
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
		if err := pw.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	seqs[0]--
	seqs[1]--
	write(false, &layers.TCP{SYN: true}, nil)
	write(true, &layers.TCP{SYN: true, ACK: true}, nil)
	write(false, &layers.TCP{ACK: true}, nil)
	w.mu.Lock()
	chunks := w.chunks
	w.mu.Unlock()
	for _, c := range chunks {
		for p := c.data; len(p) > 0; {
			n := min(len(p), 1400)
			write(c.fromServer, &layers.TCP{ACK: true, PSH: true}, p[:n])
			p = p[n:]
		}
	}
}

// tsharkFields returns, for each field, every value tshark shows in the
// capture, in frame order.
func tsharkFields(t testing.TB, path string, fields ...string) map[string][]string {
	t.Helper()
	args := []string{"-r", path, "-n", "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tls.desegment_ssl_records:TRUE",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user preferences
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	res := map[string][]string{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		for i, v := range strings.Split(line, "\t") {
			if i >= len(fields) || v == "" {
				continue
			}
			for _, x := range strings.Split(v, ",") {
				res[fields[i]] = append(res[fields[i]], strings.ReplaceAll(x, ":", ""))
			}
		}
	}
	return res
}

func hex16(vs ...uint16) []string {
	var s []string
	for _, v := range vs {
		s = append(s, fmt.Sprintf("0x%04x", v))
	}
	return s
}

// crossCheckTshark writes w as a pcap and checks that tshark reads the same
// ClientHello, ServerHello and (when certs is not nil) certificates as this
// package did.
func crossCheckTshark(t *testing.T, w *wire, ch *ClientHelloMsg, sh *ServerHelloMsg, certs [][]byte) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is not installed (make deps installs it)")
	}
	path := filepath.Join(t.TempDir(), "tls.pcap")
	writePcap(t, path, w)
	got := tsharkFields(t, path, "tls.handshake.type", "tls.handshake.version", "tls.handshake.random",
		"tls.handshake.ciphersuite", "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
		"tls.handshake.extensions.supported_version", "tls.handshake.certificate")
	legacySH := sh.Version
	if sh.Version == 0x0304 {
		legacySH = 0x0303
	}
	want := map[string][]string{
		"tls.handshake.version":                      hex16(ch.Version, legacySH),
		"tls.handshake.random":                       {fmt.Sprintf("%x", ch.Random), fmt.Sprintf("%x", sh.Random)},
		"tls.handshake.ciphersuite":                  hex16(append(append([]uint16(nil), ch.CipherSuites...), sh.CipherSuite)...),
		"tls.handshake.extensions_server_name":       {ch.ServerName},
		"tls.handshake.extensions_alpn_str":          ch.ALPN,
		"tls.handshake.extensions.supported_version": hex16(ch.SupportedVersions...),
	}
	if sh.ALPN != "" {
		want["tls.handshake.extensions_alpn_str"] = append(append([]string(nil), ch.ALPN...), sh.ALPN)
	}
	if sh.Version == 0x0304 {
		want["tls.handshake.extensions.supported_version"] = append(want["tls.handshake.extensions.supported_version"], hex16(sh.Version)...)
	}
	for _, c := range certs {
		want["tls.handshake.certificate"] = append(want["tls.handshake.certificate"], fmt.Sprintf("%x", c))
	}
	for field, w := range want {
		g := got[field]
		if strings.Join(g, " ") != strings.Join(w, " ") {
			t.Errorf("tshark %s = %q\nthis package: %q", field, g, w)
		}
	}
	// The first two handshake messages tshark sees are ours too.
	if ty := got["tls.handshake.type"]; len(ty) < 2 || ty[0] != "1" || ty[1] != strconv.Itoa(int(ServerHello)) {
		t.Errorf("tshark handshake types = %v, want client_hello, server_hello first", ty)
	}
}
