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
//	mqtap-fleetgen -shape qos-ids|aliases|huge|tls|kex [-n N] -o shape.pcap
//
// The adversarial shapes (shapes.go) are captures a hostile or broken peer
// could produce: many outstanding QoS identifiers, thousands of topic
// aliases, packets that declare 256 MB, many TLS connections, a key
// exchange flooded with forged responses. It prints the number of frames
// and MQTT packets written, the ground truth the benchmark compares
// mqtap's count with.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
)

func main() {
	clients := flag.Int("clients", 200000, "number of devices")
	rate := flag.Int("rate", 10000, "frames per second of capture time")
	out := flag.String("o", "", "pcap file to write")
	shape := flag.String("shape", "fleet", "what to write: fleet, or an adversarial shape (see -help)")
	n := flag.Int("n", 0, "the size of an adversarial shape (0: its default)")
	keyDir := flag.String("keys", "", "kex shape: directory to write the requester's private key to")
	flag.StringVar(&dhParams, "dhparam", dhParams, "kex shape: the Diffie-Hellman group (PEM)")
	flag.Usage = usage
	flag.Parse()
	if *out == "" || *rate <= 0 {
		usage()
		os.Exit(2)
	}
	if *shape != "fleet" {
		frames, packets, err := writeShape(*out, *shape, *n, *rate, *keyDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mqtap-fleetgen:", err)
			os.Exit(1)
		}
		fmt.Printf("%d frames, %d MQTT packets\n", frames, packets)
		return
	}
	if *clients <= 0 || *clients >= 1<<24-1 {
		fmt.Fprintln(os.Stderr, "mqtap-fleetgen: -clients must be 1 to 16777214")
		os.Exit(2)
	}
	frames, err := write(*out, *clients, *rate)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqtap-fleetgen:", err)
		os.Exit(1)
	}
	fmt.Printf("%d frames, %d MQTT packets (%d CONNECT, %d PUBLISH QoS 1), %d connections\n", frames, frames, *clients, *clients, *clients)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mqtap-fleetgen [-clients N] [-rate FRAMES/S] -o FILE.pcap")
	fmt.Fprintln(os.Stderr, "       mqtap-fleetgen -shape NAME [-n N] [-keys DIR] [-dhparam FILE] -o FILE.pcap")
	fmt.Fprintln(os.Stderr, "shapes:")
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		fmt.Fprintf(os.Stderr, "  %-8s %s (default N %d)\n", name, shapes[name].help, shapes[name].n)
	}
	flag.PrintDefaults()
}

// device is one client of the fleet: its address, port and next sequence
// number.
type device struct {
	ip      net.IP
	port    uint16
	dport   uint16 // the broker's port (0: 1883)
	seq     uint32
	peerSeq uint32 // bytes the broker sent back
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
	c, err := newCapWriter(path, rate)
	if err != nil {
		return 0, err
	}
	lag := min(rate/2, clients) // devices between a device's CONNECT and its PUBLISH
	devs := make([]device, clients)
	for i := 0; i < clients+lag && err == nil; i++ {
		if i < clients {
			devs[i] = newDevice(i)
			err = c.send(&devs[i], true, connect(i))
		}
		if j := i - lag; j >= 0 && err == nil {
			err = c.send(&devs[j], true, publish(j))
		}
	}
	if cerr := c.close(); err == nil {
		err = cerr
	}
	return c.frames, err
}

var broker = net.IPv4(10, 255, 0, 1)

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
