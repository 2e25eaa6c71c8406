package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
)

// The adversarial shapes of scripts/bench.sh: captures a hostile or broken
// peer could produce, each meant to make an inspector's cost or memory
// grow faster than the capture.
var shapes = map[string]struct {
	n     int // default count
	help  string
	write func(c *capWriter, n int, keyDir string) (packets int, err error)
}{
	"qos-ids": {65535, "one connection with N QoS 1 PUBLISHes, each with its own packet identifier, never acknowledged", qosIDs},
	"aliases": {20000, "one MQTT 5 connection that sets N topic aliases, then uses each", aliases},
	"huge":    {4, "N connections, each a PUBLISH that declares 256 MB and sends 24 MB of it", huge},
	"tls":     {120000, "N TLS connections (a ClientHello and an application data record each)", tlsConns},
	"kex":     {10000, "a lab key-exchange request answered by N forged responses (4096-bit group; -keys DIR gets the requester's private key)", forgedKex},
}

// capWriter writes frames to a pcap at a fixed rate of capture time.
type capWriter struct {
	f      *os.File
	bw     *bufio.Writer
	w      *pcapgo.Writer
	start  time.Time
	step   time.Duration
	frames int
}

func newCapWriter(path string, rate int) (*capWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	c := &capWriter{f: f, bw: bufio.NewWriterSize(f, 1<<20), start: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), step: time.Second / time.Duration(rate)}
	c.w = pcapgo.NewWriter(c.bw)
	if err := c.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// send writes payload from d to the broker (toBroker) or back, in segments
// of at most 1448 bytes.
func (c *capWriter) send(d *device, toBroker bool, payload []byte) error {
	for len(payload) > 0 {
		n := min(len(payload), 1448)
		data, err := frame(d, toBroker, payload[:n])
		if err != nil {
			return err
		}
		if toBroker {
			d.seq += uint32(n)
		} else {
			d.peerSeq += uint32(n)
		}
		ci := gopacket.CaptureInfo{Timestamp: c.start.Add(time.Duration(c.frames) * c.step), CaptureLength: len(data), Length: len(data)}
		c.frames++
		if err := c.w.WritePacket(ci, data); err != nil {
			return err
		}
		payload = payload[n:]
	}
	return nil
}

func (c *capWriter) close() error {
	if err := c.bw.Flush(); err != nil {
		c.f.Close()
		return err
	}
	return c.f.Close()
}

// writeShape writes the capture of a shape and returns the frames and MQTT
// packets written.
func writeShape(path, name string, n, rate int, keyDir string) (frames, packets int, err error) {
	s, ok := shapes[name]
	if !ok {
		return 0, 0, fmt.Errorf("unknown shape %q", name)
	}
	if n <= 0 {
		n = s.n
	}
	c, err := newCapWriter(path, rate)
	if err != nil {
		return 0, 0, err
	}
	packets, err = s.write(c, n, keyDir)
	if cerr := c.close(); err == nil {
		err = cerr
	}
	return c.frames, packets, err
}

// publishPacket is a PUBLISH of payload on topic with QoS qos and packet
// identifier id, and MQTT 5 properties props when not nil.
func publishPacket(topic string, qos byte, id uint16, props []byte, payload []byte) []byte {
	body := binary.BigEndian.AppendUint16(nil, uint16(len(topic)))
	body = append(body, topic...)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	if props != nil {
		body = decode.AppendVarint(body, len(props))
		body = append(body, props...)
	}
	body = append(body, payload...)
	return append(decode.AppendVarint([]byte{0x30 | qos<<1}, len(body)), body...)
}

func qosIDs(c *capWriter, n int, _ string) (int, error) {
	d := newDevice(0)
	var stream []byte
	stream = append(stream, connect(0)...)
	for id := 1; id <= n; id++ {
		stream = append(stream, publishPacket("flood/qos", 1, uint16(id), nil, []byte("1"))...)
	}
	return 1 + n, c.send(&d, true, stream)
}

// connect5 is an MQTT 5 CONNECT of client id "aliaser".
func connect5() []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0} // no properties
	body = append(body, 0, 7)
	body = append(body, "aliaser"...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

func aliases(c *capWriter, n int, _ string) (int, error) {
	n = min(n, 65535)
	d := newDevice(0)
	if err := c.send(&d, true, connect5()); err != nil {
		return 0, err
	}
	// CONNACK with Topic Alias Maximum 65535 (property 0x22).
	if err := c.send(&d, false, []byte{0x20, 6, 0, 0, 3, 0x22, 0xff, 0xff}); err != nil {
		return 1, err
	}
	var stream []byte
	for pass := range 2 {
		for a := 1; a <= n; a++ {
			topic := ""
			if pass == 0 {
				topic = fmt.Sprintf("alias/%d", a)
			}
			stream = append(stream, publishPacket(topic, 0, 0, []byte{0x23, byte(a >> 8), byte(a)}, []byte("v"))...)
		}
	}
	return 2 + 2*n, c.send(&d, true, stream)
}

func huge(c *capWriter, n int, _ string) (int, error) {
	devs := make([]device, n)
	for i := range devs {
		devs[i] = newDevice(i)
		if err := c.send(&devs[i], true, connect(i)); err != nil {
			return 0, err
		}
		head := decode.AppendVarint([]byte{0x30}, 268435455)
		head = append(head, 0, 4, 'h', 'u', 'g', 'e')
		if err := c.send(&devs[i], true, head); err != nil {
			return 0, err
		}
	}
	chunk := make([]byte, 64<<10)
	for k := 0; k < 24<<20; k += len(chunk) {
		for i := range devs {
			if err := c.send(&devs[i], true, chunk); err != nil {
				return 0, err
			}
		}
	}
	return 2 * n, nil
}

// clientHello is a minimal TLS 1.2 ClientHello record.
func clientHello() []byte {
	hello := []byte{3, 3}
	hello = append(hello, make([]byte, 32)...) // random
	hello = append(hello, 0)                   // session id
	hello = append(hello, 0, 2, 0xc0, 0x2f)    // one cipher suite
	hello = append(hello, 1, 0)                // null compression
	hello = append(hello, 0, 0)                // no extensions
	msg := append([]byte{1, 0, byte(len(hello) >> 8), byte(len(hello))}, hello...)
	return append([]byte{22, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

func tlsConns(c *capWriter, n int, _ string) (int, error) {
	hello := clientHello()
	app := append([]byte{23, 3, 3, 0, 32}, make([]byte, 32)...)
	for i := range n {
		d := newDevice(i)
		d.dport = 8883
		if err := c.send(&d, true, append(append([]byte(nil), hello...), app...)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// dhParams is the file of the Diffie-Hellman group of the kex shape
// (-dhparam): the lab's 4096-bit group by default.
var dhParams = "keys/testdata/lab/dhparam4096.pem"

func forgedKex(c *capWriter, n int, keyDir string) (int, error) {
	pem, err := os.ReadFile(dhParams)
	if err != nil {
		return 0, fmt.Errorf("the group of the kex shape (-dhparam): %w", err)
	}
	g, err := keys.ParseDHParamsPEM(pem)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", dhParams, err)
	}
	p := g.P
	req, err := keys.GenerateDHKey(g, rand.Reader)
	if err != nil {
		return 0, err
	}
	if keyDir != "" {
		if err := os.MkdirAll(keyDir, 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(keyDir, "requester.pem"), req.MarshalPKCS8PEM(), 0o600); err != nil {
			return 0, err
		}
	}
	requester, forger := newDevice(0), newDevice(1)
	if err := c.send(&requester, true, connect(0)); err != nil {
		return 0, err
	}
	if err := c.send(&forger, true, connect(1)); err != nil {
		return 0, err
	}
	if err := c.send(&requester, true, publishPacket("flood/key-exchange/request", 1, 1, nil, req.Public().MarshalPEM())); err != nil {
		return 0, err
	}
	limit := new(big.Int).Sub(p, big.NewInt(4))
	for i := range n {
		y, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return 0, err
		}
		forged := &keys.DHPublicKey{Group: g, Y: y.Add(y, big.NewInt(2))}
		if err := c.send(&forger, true, publishPacket("flood/key-exchange/response", 1, uint16(i%65535+1), nil, forged.MarshalPEM())); err != nil {
			return 0, err
		}
	}
	return 3 + n, nil
}

// frame is one Ethernet/IPv4/TCP frame between d and the broker.
func frame(d *device, toBroker bool, payload []byte) ([]byte, error) {
	port := d.dport
	if port == 0 {
		port = 1883
	}
	eth := layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: d.ip, DstIP: broker}
	tcp := layers.TCP{SrcPort: layers.TCPPort(d.port), DstPort: layers.TCPPort(port), Seq: d.seq, Ack: 1 + d.peerSeq, ACK: true, PSH: true, Window: 502}
	if !toBroker {
		eth.SrcMAC, eth.DstMAC = eth.DstMAC, eth.SrcMAC
		ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
		tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
		tcp.Seq, tcp.Ack = 1+d.peerSeq, d.seq
	}
	if err := tcp.SetNetworkLayerForChecksum(&ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, &eth, &ip, &tcp, gopacket.Payload(payload))
	return buf.Bytes(), err
}
