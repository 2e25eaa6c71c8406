// Command mqtap-loadgen is the traffic source of scripts/bench-live.sh.
//
// scripts/bench-live.sh is the benchmark of live capture (mqtap sniff). The
// generator measures nothing itself: it puts MQTT traffic on loopback at an
// exact, known rate, so that the script can compare what mqtap sniff reports
// with what was sent.
//
// Usage:
//
//	mqtap-loadgen [-mode sink|client] [-port 1883] [-rate MSG/S] [-conns 4]
//	              [-size 32] [-duration 5s | -count N]
//
// In sink mode (the default) it listens on 127.0.0.1:PORT itself, as a
// minimal MQTT "broker" that answers CONNECT with CONNACK and discards
// everything else it reads. In client mode it connects to a broker already
// listening there (mosquitto, or a test's reader) instead.
//
// It then opens -conns client connections. Each sends an MQTT 3.1.1 CONNECT
// (client identifier loadgen-N, N counting from 0) and waits for the CONNACK;
// then together they send PUBLISH QoS 0 packets on the topics
// bench/<conn>/<seq mod 100>, with a payload of -size bytes, at -rate
// messages per second in all, for -duration, or until -count messages were
// sent. Message i goes to connection i mod conns. Pacing works in ticks of
// 1 ms: at each tick every connection writes, in one Write, the messages
// due so far (rate x elapsed time) that it has not written yet. A generator
// that falls behind catches up with larger writes, and the run then takes
// longer than -duration: a duration run always sends exactly
// rate x duration messages, a count run exactly -count. -rate 0 sends as
// fast as possible.
//
// The connections end with a TCP close, without DISCONNECT: the traffic is
// exactly conns CONNECT, conns CONNACK and the PUBLISH packets. At the end it
// prints one line on stdout:
//
//	loadgen: sent N PUBLISH in D.DDDs (R msg/s)
//
// where D runs from the first PUBLISH tick to the last write.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mqtap/mqtap/decode"
)

// config is the command line.
type config struct {
	mode     string // "sink" or "client"
	port     int
	rate     uint64 // messages per second in all; 0: unpaced
	conns    int
	size     int
	duration time.Duration
	count    uint64 // 0: run for duration
}

// maxBatchBytes bounds one Write: a connection that is far behind writes its
// backlog in several writes of at most this size, back to back.
const maxBatchBytes = 1 << 20

// unpacedBatch is the number of messages per Write with -rate 0.
const unpacedBatch = 256

// maxSize bounds -size so that a PUBLISH stays well under MQTT's 256 MB.
const maxSize = 16 << 20

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mqtap-loadgen:", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqtap-loadgen:", err)
		os.Exit(1)
	}
	fmt.Println(res)
	if cfg.rate > 0 && res.elapsed >= time.Second && res.rate() < 0.98*float64(cfg.rate) {
		fmt.Fprintf(os.Stderr, "mqtap-loadgen: warning: %.0f msg/s is below the %d msg/s asked for (the generator fell behind)\n",
			res.rate(), cfg.rate)
	}
}

// parseFlags parses and checks the command line.
func parseFlags(args []string, errOut io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("mqtap-loadgen", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&cfg.mode, "mode", "sink", "sink: listen on 127.0.0.1:PORT as a minimal broker; client: connect to a broker there")
	fs.IntVar(&cfg.port, "port", 1883, "TCP port on 127.0.0.1")
	fs.Uint64Var(&cfg.rate, "rate", 10000, "PUBLISH messages per second, all connections together (0: as fast as possible)")
	fs.IntVar(&cfg.conns, "conns", 4, "client connections")
	fs.IntVar(&cfg.size, "size", 32, "payload bytes per PUBLISH")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long to publish (ignored with -count)")
	fs.Uint64Var(&cfg.count, "count", 0, "PUBLISH messages to send in all (0: run for -duration)")
	fs.Usage = func() {
		fmt.Fprintf(errOut, "usage: mqtap-loadgen [flags]\n\nSends MQTT 3.1.1 PUBLISH QoS 0 traffic on loopback at an exact rate (the traffic source of scripts/bench-live.sh).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cfg.mode != "sink" && cfg.mode != "client":
		return cfg, fmt.Errorf("-mode must be sink or client, not %q", cfg.mode)
	case cfg.port < 1 || cfg.port > 65535:
		return cfg, fmt.Errorf("-port %d out of range", cfg.port)
	case cfg.conns < 1 || cfg.conns > 10000:
		return cfg, fmt.Errorf("-conns must be between 1 and 10000, not %d", cfg.conns)
	case cfg.size < 0 || cfg.size > maxSize:
		return cfg, fmt.Errorf("-size must be between 0 and %d, not %d", maxSize, cfg.size)
	case cfg.count == 0 && cfg.duration <= 0:
		return cfg, errors.New("-duration must be positive (or give -count)")
	}
	return cfg, nil
}

// result is what a run sent.
type result struct {
	sent    uint64
	elapsed time.Duration
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.sent) / r.elapsed.Seconds()
}

func (r result) String() string {
	return fmt.Sprintf("loadgen: sent %d PUBLISH in %.3fs (%.0f msg/s)", r.sent, r.elapsed.Seconds(), r.rate())
}

// total returns the number of messages the run sends in all.
func (cfg config) total() uint64 {
	if cfg.count > 0 {
		return cfg.count
	}
	if cfg.rate == 0 {
		return 0 // unpaced duration run: until the deadline
	}
	return mulDiv(cfg.rate, uint64(cfg.duration), uint64(time.Second))
}

// mulDiv returns a*b/c rounded down (c > 0), saturating on overflow.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// share returns how many of the messages 0..n-1 go to connection k of conns
// (message i goes to connection i mod conns).
func share(n uint64, k, conns int) uint64 {
	if n <= uint64(k) {
		return 0
	}
	return (n-uint64(k)-1)/uint64(conns) + 1
}

// run runs the sink (in sink mode) and the clients, and returns what was sent
// once every connection is closed.
func run(cfg config) (result, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port))
	var sinkDone chan struct{}
	if cfg.mode == "sink" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return result{}, err
		}
		defer ln.Close()
		sinkDone = make(chan struct{})
		go func() {
			defer close(sinkDone)
			serveSink(ln, cfg.conns)
		}()
	}

	conns := make([]*net.TCPConn, 0, cfg.conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for k := 0; k < cfg.conns; k++ {
		c, err := dial(addr, k)
		if err != nil {
			return result{}, err
		}
		conns = append(conns, c)
	}

	total := cfg.total()
	var deadline time.Time
	start := time.Now()
	if cfg.count == 0 {
		deadline = start.Add(cfg.duration)
	}
	var (
		wg   sync.WaitGroup
		sent = make([]uint64, len(conns))
		ends = make([]time.Duration, len(conns)) // after start, of each connection's last write
		errs = make([]error, len(conns))
	)
	for k, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPublisher(k, cfg.size)
			sent[k], errs[k] = p.pace(c, cfg, k, total, start, deadline)
			ends[k] = time.Since(start)
		}()
	}
	wg.Wait()
	var res result
	for k := range conns {
		res.sent += sent[k]
		res.elapsed = max(res.elapsed, ends[k])
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}

	// Orderly close: FIN from every client, the sink reads to the end and
	// closes, the client sees EOF. Nothing is left unread, so no RST.
	for _, c := range conns {
		c.CloseWrite()
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c)
	}
	if sinkDone != nil {
		select {
		case <-sinkDone:
		case <-time.After(5 * time.Second):
		}
	}
	return res, nil
}

// dial connects client k and completes the MQTT handshake: CONNECT out,
// CONNACK (accepted) back.
func dial(addr string, k int) (*net.TCPConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := nc.(*net.TCPConn)
	if _, err := c.Write(appendConnect(nil, "loadgen-"+strconv.Itoa(k))); err != nil {
		c.Close()
		return nil, err
	}
	var ack [4]byte
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("connection %d: no CONNACK: %w", k, err)
	}
	c.SetReadDeadline(time.Time{})
	if ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("connection %d: CONNACK refused or malformed: % x", k, ack)
	}
	return c, nil
}

// publisher builds the PUBLISH packets of one connection.
type publisher struct {
	msgs [100][]byte // the packet for each seq mod 100
	seq  uint64
	buf  []byte
}

func newPublisher(conn, size int) *publisher {
	p := new(publisher)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for i := range p.msgs {
		topic := "bench/" + strconv.Itoa(conn) + "/" + strconv.Itoa(i)
		p.msgs[i] = appendPublish(nil, topic, payload)
	}
	return p
}

// batch returns the next n messages of the connection as one buffer.
func (p *publisher) batch(n uint64) []byte {
	b := p.buf[:0]
	for ; n > 0; n-- {
		b = append(b, p.msgs[p.seq%100]...)
		p.seq++
	}
	p.buf = b
	return b
}

// pace writes connection k's share of the total messages on c, paced by
// cfg.rate from start, and returns the number written.
func (p *publisher) pace(c net.Conn, cfg config, k int, total uint64, start, deadline time.Time) (uint64, error) {
	msgLen := uint64(len(p.msgs[99])) // the longest
	maxBatch := max(1, maxBatchBytes/msgLen)
	mine := share(total, k, cfg.conns)
	var done uint64

	if cfg.rate == 0 {
		untilDeadline := cfg.count == 0 // else exactly mine messages
		for untilDeadline || done < mine {
			if untilDeadline && !time.Now().Before(deadline) {
				break
			}
			n := uint64(unpacedBatch)
			if !untilDeadline {
				n = min(n, mine-done)
			}
			if _, err := c.Write(p.batch(n)); err != nil {
				return done, err
			}
			done += n
		}
		return done, nil
	}

	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for done < mine {
		due := mulDiv(cfg.rate, uint64(time.Since(start)), uint64(time.Second))
		want := min(share(due, k, cfg.conns), mine)
		if want <= done {
			<-tick.C
			continue
		}
		n := min(want-done, maxBatch)
		if _, err := c.Write(p.batch(n)); err != nil {
			return done, err
		}
		done += n
		if done == want { // caught up: wait for the next tick
			<-tick.C
		}
	}
	return done, nil
}

// serveSink accepts connections on ln until it is closed, answers each
// connection's CONNECT with a CONNACK and discards the rest. It returns once
// n connections were served to their end (or ln is closed).
func serveSink(ln net.Listener, n int) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			sinkConn(c)
		}()
	}
	wg.Wait()
}

// sinkConn serves one connection of the sink.
func sinkConn(c net.Conn) {
	buf := make([]byte, 256<<10)
	// Read the CONNECT (the client sends nothing else before the CONNACK).
	have := 0
	for {
		m, err := c.Read(buf[have:])
		have += m
		if total, ok := packetLen(buf[:have]); ok && have >= total {
			break
		}
		if err != nil || have == len(buf) {
			return
		}
	}
	if buf[0]>>4 != 1 {
		return // not a CONNECT
	}
	if _, err := c.Write([]byte{0x20, 2, 0, 0}); err != nil {
		return
	}
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// packetLen returns the total length of the MQTT packet starting b, and
// whether its fixed header is complete.
func packetLen(b []byte) (int, bool) {
	rem, mult := 0, 1
	for i := 1; i < len(b) && i <= 4; i++ {
		rem += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return 1 + i + rem, true
		}
		mult *= 128
	}
	return 0, false
}

// appendString appends an MQTT UTF-8 string: a two-byte length and s.
func appendString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}

// appendConnect appends an MQTT 3.1.1 CONNECT with a clean session, a
// keep-alive of 60 s and client identifier id.
func appendConnect(b []byte, id string) []byte {
	b = append(b, 0x10)
	b = decode.AppendVarint(b, 10+2+len(id))
	b = appendString(b, "MQTT")
	b = append(b, 4, 0x02, 0, 60) // level 4, clean session, keep alive
	return appendString(b, id)
}

// appendPublish appends an MQTT 3.1.1 PUBLISH QoS 0 of payload on topic.
func appendPublish(b []byte, topic string, payload []byte) []byte {
	b = append(b, 0x30)
	b = decode.AppendVarint(b, 2+len(topic)+len(payload))
	b = appendString(b, topic)
	return append(b, payload...)
}
