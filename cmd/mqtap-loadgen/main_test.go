package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
)

// TestPacketsDecode checks that the CONNECT and the PUBLISH packets the
// generator builds decode cleanly with mqtap's decoder.
func TestPacketsDecode(t *testing.T) {
	var c decode.Conn
	var p decode.Packet
	c.Decode(appendConnect(nil, "loadgen-7"), true, &p)
	if p.Type != decode.CONNECT || p.Version != decode.V311 || len(p.Problems) > 0 {
		t.Fatalf("CONNECT: type %v version %d problems %v", p.Type, p.Version, p.Problems)
	}
	if f := p.Field("mqtt.clientid"); f == nil || string(f.Bytes) != "loadgen-7" {
		t.Fatalf("CONNECT client id: %+v", f)
	}

	for _, size := range []int{0, 32, 200, 20000} {
		pub := newPublisher(3, size)
		for i, raw := range pub.msgs {
			c.Decode(raw, true, &p)
			if p.Type != decode.PUBLISH || p.QoS != 0 || len(p.Problems) > 0 {
				t.Fatalf("size %d, seq %d: type %v qos %d problems %v", size, i, p.Type, p.QoS, p.Problems)
			}
			if len(p.Raw) != len(raw) {
				t.Fatalf("size %d, seq %d: decoded %d of %d bytes", size, i, len(p.Raw), len(raw))
			}
			if want := fmt.Sprintf("bench/3/%d", i); string(p.Topic) != want {
				t.Fatalf("size %d, seq %d: topic %q, want %q", size, i, p.Topic, want)
			}
			if len(p.Payload) != size {
				t.Fatalf("size %d, seq %d: payload of %d bytes", size, i, len(p.Payload))
			}
		}
	}
}

func TestShareAndTotal(t *testing.T) {
	for _, conns := range []int{1, 3, 4, 7} {
		for n := uint64(0); n < 50; n++ {
			var sum uint64
			for k := range conns {
				s := share(n, k, conns)
				sum += s
				if s > share(n, 0, conns) || share(n, 0, conns)-s > 1 {
					t.Fatalf("share(%d, %d, %d) = %d is unbalanced", n, k, conns, s)
				}
			}
			if sum != n {
				t.Fatalf("shares of %d messages over %d connections sum to %d", n, conns, sum)
			}
		}
	}
	cfg := config{rate: 500000, duration: 3 * time.Second}
	if got := cfg.total(); got != 1500000 {
		t.Fatalf("500000 msg/s for 3s: total %d", got)
	}
	cfg = config{rate: 7, duration: 1500 * time.Millisecond}
	if got := cfg.total(); got != 10 {
		t.Fatalf("7 msg/s for 1.5s: total %d, want 10", got)
	}
	cfg = config{rate: 500000, duration: time.Second, count: 42}
	if got := cfg.total(); got != 42 {
		t.Fatalf("-count 42: total %d", got)
	}
}

// broker is a test's MQTT server: it answers CONNECT with CONNACK, decodes
// every packet and counts the PUBLISH packets of each client.
type broker struct {
	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	pub map[string]int // client id -> PUBLISH packets
	err error
}

func newBroker(t *testing.T) *broker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &broker{ln: ln, pub: map[string]int{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				if err := b.serve(c); err != nil {
					b.mu.Lock()
					b.err = errors.Join(b.err, err)
					b.mu.Unlock()
				}
			}()
		}
	}()
	return b
}

func (b *broker) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// serve reads one connection to its end.
func (b *broker) serve(c net.Conn) error {
	r := bufio.NewReaderSize(c, 64<<10)
	var (
		dc     decode.Conn
		p      decode.Packet
		id     string
		n      int
		packet []byte
	)
	for {
		hdr, err := r.Peek(2)
		if err == io.EOF && len(hdr) == 0 {
			break
		}
		if err != nil {
			return err
		}
		h, err := decode.ParseHeader(hdr)
		for errors.Is(err, decode.ErrShort) {
			if hdr, err = r.Peek(len(hdr) + 1); err != nil {
				return err
			}
			h, err = decode.ParseHeader(hdr)
		}
		if err != nil {
			return err
		}
		if cap(packet) < h.Total() {
			packet = make([]byte, h.Total())
		}
		packet = packet[:h.Total()]
		if _, err := io.ReadFull(r, packet); err != nil {
			return err
		}
		dc.Decode(packet, true, &p)
		if len(p.Problems) > 0 {
			return fmt.Errorf("%s: %v", p.Type, p.Problems)
		}
		switch p.Type {
		case decode.CONNECT:
			id = string(p.Field("mqtt.clientid").Bytes)
			if _, err := c.Write([]byte{0x20, 2, 0, 0}); err != nil {
				return err
			}
		case decode.PUBLISH:
			k := id[len("loadgen-"):]
			if want := "bench/" + k + "/" + strconv.Itoa(n%100); string(p.Topic) != want {
				return fmt.Errorf("%s: PUBLISH %d on %q, want %q", id, n, p.Topic, want)
			}
			n++
		default:
			return fmt.Errorf("%s: unexpected %s", id, p.Type)
		}
	}
	b.mu.Lock()
	b.pub[id] += n
	b.mu.Unlock()
	return nil
}

// close stops the broker once every connection has ended.
func (b *broker) close() error {
	b.ln.Close()
	b.wg.Wait()
	return b.err
}

// TestRunCounted runs 200 messages at 10,000 msg/s against a broker that
// counts them.
func TestRunCounted(t *testing.T) {
	b := newBroker(t)
	cfg := config{mode: "client", port: b.port(), rate: 10000, conns: 4, size: 32, count: 200}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	if res.sent != 200 {
		t.Fatalf("run reports %d sent, want 200", res.sent)
	}
	total := 0
	for k := range 4 {
		n := b.pub["loadgen-"+strconv.Itoa(k)]
		if n != 50 {
			t.Errorf("loadgen-%d sent %d PUBLISH, want 50", k, n)
		}
		total += n
	}
	if total != 200 || len(b.pub) != 4 {
		t.Fatalf("broker counted %d PUBLISH from %d clients (%v), want 200 from 4", total, len(b.pub), b.pub)
	}
	// 200 messages at 10,000/s are due over 20 ms: pacing, not a burst.
	if res.elapsed < 19*time.Millisecond || res.elapsed > 2*time.Second {
		t.Fatalf("200 messages at 10000 msg/s took %v", res.elapsed)
	}
	t.Log(res)
}

// TestRunDuration checks a duration run: exactly rate x duration messages.
func TestRunDuration(t *testing.T) {
	b := newBroker(t)
	cfg := config{mode: "client", port: b.port(), rate: 20000, conns: 3, size: 10, duration: 100 * time.Millisecond}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range b.pub {
		total += n
	}
	if res.sent != 2000 || total != 2000 {
		t.Fatalf("sent %d, broker counted %d, want 2000", res.sent, total)
	}
}

// TestRunSink runs the generator with its own sink, paced and unpaced.
func TestRunSink(t *testing.T) {
	for _, rate := range []uint64{0, 50000} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cfg := config{mode: "sink", port: port, rate: rate, conns: 2, size: 300, count: 1001}
		res, err := run(cfg)
		if err != nil {
			t.Fatalf("rate %d: %v", rate, err)
		}
		if res.sent != 1001 {
			t.Fatalf("rate %d: sent %d, want 1001", rate, res.sent)
		}
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.mode != "sink" || cfg.port != 1883 || cfg.conns != 4 || cfg.size != 32 || cfg.duration != 5*time.Second || cfg.count != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, bad := range [][]string{{"-mode", "x"}, {"-port", "0"}, {"-conns", "0"}, {"-size", "-1"}, {"-duration", "0s"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
