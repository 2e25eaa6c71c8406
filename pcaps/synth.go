package pcaps

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Synthesize writes a pcap of n MQTT 3.1.1 packets for benchmarks: four
// TCP connections to port 1883, each opening with CONNECT and CONNACK,
// then QoS 0 PUBLISH packets, one per frame, 50 µs apart, with small JSON
// payloads on 100 topics per connection (bench/<conn>/sensor-<k>).
func Synthesize(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	const conns = 4
	var seq [conns][2]uint32
	t0 := time.Unix(1700000000, 0)
	buf := gopacket.NewSerializeBuffer()
	written := 0
	frame := func(conn int, fromClient bool, payload []byte) error {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, byte(10 + conn)}, DstIP: net.IP{10, 0, 0, 1}}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + conn), DstPort: 1883, PSH: true, ACK: true, Window: 65535}
		dir := 0
		if !fromClient {
			ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
			tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
			dir = 1
		}
		tcp.Seq, tcp.Ack = seq[conn][dir], seq[conn][1-dir]
		seq[conn][dir] += uint32(len(payload))
		tcp.SetNetworkLayerForChecksum(ip)
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			return err
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(written) * 50 * time.Microsecond), CaptureLength: len(data), Length: len(data)}
		written++
		return pw.WritePacket(ci, data)
	}
	for c := 0; c < conns && written < n; c++ {
		id := fmt.Sprintf("bench-%d", c)
		connect := append([]byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(id))}, id...)
		if err := frame(c, true, connect); err != nil {
			return err
		}
		if written < n {
			if err := frame(c, false, []byte{0x20, 2, 0, 0}); err != nil {
				return err
			}
		}
	}
	for i := 0; written < n; i++ {
		topic := fmt.Sprintf("bench/%d/sensor-%d", i%conns, i%100)
		body := append([]byte{0, byte(len(topic))}, topic...)
		body = append(body, fmt.Sprintf(`{"seq":%d,"temp":21.5}`, i)...)
		pub := append([]byte{0x30}, byte(len(body))) // bodies stay below 128 bytes
		if err := frame(i%conns, true, append(pub, body...)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// SyntheticFile returns the path of a capture of n packets made by
// Synthesize in dir, writing it only when it is not there yet (benchmarks
// share it between runs).
func SyntheticFile(dir string, n int) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("mqtap-synthetic-%d.pcap", n))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	f, err := os.CreateTemp(dir, "mqtap-synthetic-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := Synthesize(f, n); err != nil {
		f.Close()
		return "", fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}
