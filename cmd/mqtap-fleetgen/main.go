// Command mqtap-fleetgen writes the fleet capture of scripts/bench.sh.
//
// A fleet is many devices that each open a connection to one broker, send a
// CONNECT and a QoS 1 PUBLISH that is never acknowledged, and never close
// the connection; the capture starts after their handshakes (no SYN). The
// frames are Ethernet/IPv4/TCP, at a fixed rate of capture time, written
// straight to a pcap file.
//
// Usage:
//
//	mqtap-fleetgen -clients 200000 [-rate 10000] -o fleet.pcap
//
// It prints the number of frames and MQTT packets written, the ground truth
// the benchmark compares mqtap's count with.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	clients := flag.Int("clients", 200000, "number of devices")
	rate := flag.Int("rate", 10000, "frames per second of capture time")
	out := flag.String("o", "", "pcap file to write")
	flag.Parse()
	if *out == "" || *clients <= 0 || *clients >= 1<<24-1 || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "usage: mqtap-fleetgen -clients N (1 to 16777216) [-rate FRAMES/S] -o FILE.pcap")
		os.Exit(2)
	}
	frames, err := write(*out, *clients, *rate)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqtap-fleetgen:", err)
		os.Exit(1)
	}
	fmt.Printf("%d frames, %d MQTT packets (%d CONNECT, %d PUBLISH QoS 1), %d connections\n", frames, frames, *clients, *clients, *clients)
}

// device is one client of the fleet: its address, port and next sequence
// number.
type device struct {
	ip   net.IP
	port uint16
	seq  uint32
}

func newDevice(i int) device {
	return device{
		ip:   net.IPv4(10, byte((i+1)>>16), byte((i+1)>>8), byte(i+1)),
		port: uint16(20000 + i%40000),
		seq:  uint32(i) * 7919,
	}
}

// write writes the fleet: device i sends its CONNECT at frame 2i and its
// PUBLISH one rate-second later (interleaved with the CONNECTs of the
// devices after it), so that many connections are open at once.
func write(path string, clients, rate int) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	step := time.Second / time.Duration(rate)
	lag := min(rate/2, clients) // devices between a device's CONNECT and its PUBLISH
	frame := 0
	emit := func(d *device, payload []byte) error {
		data, err := segment(d, payload)
		if err != nil {
			return err
		}
		d.seq += uint32(len(payload))
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(frame) * step), CaptureLength: len(data), Length: len(data)}
		frame++
		return w.WritePacket(ci, data)
	}
	devs := make([]device, clients)
	for i := 0; i < clients+lag; i++ {
		if i < clients {
			devs[i] = newDevice(i)
			if err := emit(&devs[i], connect(i)); err != nil {
				return frame, err
			}
		}
		if j := i - lag; j >= 0 {
			if err := emit(&devs[j], publish(j)); err != nil {
				return frame, err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return frame, err
	}
	return frame, f.Close()
}

var broker = net.IPv4(10, 255, 0, 1)

// segment is one Ethernet/IPv4/TCP frame from d to the broker (port 1883).
func segment(d *device, payload []byte) ([]byte, error) {
	eth := layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: d.ip, DstIP: broker}
	tcp := layers.TCP{SrcPort: layers.TCPPort(d.port), DstPort: 1883, Seq: d.seq, Ack: 1, ACK: true, PSH: true, Window: 502}
	if err := tcp.SetNetworkLayerForChecksum(&ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, &eth, &ip, &tcp, gopacket.Payload(payload))
	return buf.Bytes(), err
}

// connect is device i's MQTT 3.1.1 CONNECT: clean session, keep-alive 60 s.
func connect(i int) []byte {
	id := fmt.Sprintf("dev-%07d", i)
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60}
	body = binary.BigEndian.AppendUint16(body, uint16(len(id)))
	body = append(body, id...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

// publish is device i's QoS 1 PUBLISH of a temperature, packet id 1.
func publish(i int) []byte {
	topic := fmt.Sprintf("fleet/dev-%07d/temp", i)
	body := binary.BigEndian.AppendUint16(nil, uint16(len(topic)))
	body = append(body, topic...)
	body = append(body, 0, 1)
	body = append(body, fmt.Sprintf("%d.%d", 15+i%20, i%10)...)
	return append([]byte{0x32, byte(len(body))}, body...)
}
