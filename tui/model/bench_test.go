package model

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
)

// benchPackets is the size of the capture BenchmarkOpen1M opens.
const benchPackets = 1_000_000

// millionCapture writes (once, cached in the temporary directory) a pcap
// of benchPackets MQTT packets: four connections, each opening with
// CONNECT/CONNACK, then one QoS 0 PUBLISH per frame.
func millionCapture(b *testing.B) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("mqtap-tui-bench-%d.pcap", benchPackets))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	const conns = 4
	seq := [conns][2]uint32{}
	t0 := time.Unix(1700000000, 0)
	n := 0
	buf := gopacket.NewSerializeBuffer()
	frame := func(conn int, fromClient bool, payload []byte) {
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
			b.Fatal(err)
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(n) * 50 * time.Microsecond), CaptureLength: len(data), Length: len(data)}
		if err := pw.WritePacket(ci, data); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for c := 0; c < conns; c++ {
		id := fmt.Sprintf("bench-%d", c)
		connect := append([]byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(id))}, id...)
		frame(c, true, connect)
		frame(c, false, []byte{0x20, 2, 0, 0})
	}
	for i := 0; n < benchPackets; i++ {
		topic := fmt.Sprintf("bench/%d/sensor-%d", i%conns, i%100)
		body := append([]byte{0, byte(len(topic))}, topic...)
		body = append(body, fmt.Sprintf(`{"seq":%d,"temp":21.5}`, i)...)
		pub := decode.AppendVarint([]byte{0x30}, len(body))
		frame(i%conns, true, append(pub, body...))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpen1M indexes a 1,000,000-packet capture as mqtap tui does and
// reports the time until the first screen's rows are readable, the time to
// index everything, and the peak heap.
func BenchmarkOpen1M(b *testing.B) {
	path := millionCapture(b)
	for b.Loop() {
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		c, err := New("bench", Options{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- readAll(path, c) }()
		var first time.Duration
		for c.Len() < 60 {
			time.Sleep(time.Millisecond)
		}
		for i := 0; i < 60; i++ { // the rows of a first screen
			if _, err := c.Row(i); err != nil {
				b.Fatal(err)
			}
		}
		first = time.Since(start)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)
		if _, err := c.Row(c.Len() - 1); err != nil { // the end of the list
			b.Fatal(err)
		}
		close(stop)
		<-sampled
		if c.Len() != benchPackets {
			b.Fatalf("%d records, want %d", c.Len(), benchPackets)
		}
		c.Close()
		b.ReportMetric(float64(first.Microseconds())/1000, "first-screen-ms")
		b.ReportMetric(all.Seconds(), "index-s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	}
}

// readAll runs a capture file through the pipeline into c.
func readAll(path string, c *Capture) error {
	r, err := pcaps.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := session.NewPipeline(r.LinkType(), session.Options{}, c.Handler())
	if err != nil {
		return err
	}
	for {
		data, ci, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := p.Frame(data, ci); err != nil {
			return err
		}
	}
	if err := p.Close(); err != nil {
		return err
	}
	c.Finish(nil)
	return nil
}

// BenchmarkSelect1M applies a display filter to the 1,000,000 records, as
// the filter bar does.
func BenchmarkSelect1M(b *testing.B) {
	path := millionCapture(b)
	c, err := New("bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := readAll(path, c); err != nil {
		b.Fatal(err)
	}
	f, err := filter.Compile(`mqtt.topic contains "sensor-7" && mqtt.msg contains "temp"`)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sel, err := c.Select(context.Background(), f, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(sel) != 110000 {
			b.Fatalf("%d records selected, want 110000", len(sel))
		}
	}
}
