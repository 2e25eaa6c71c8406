package brokertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// relay is one WebSocket connection and its TCP connection to the broker.
type relay struct {
	b      *wsServer
	ws     *websocket.Conn
	broker net.Conn
	tcp    *countingConn // the client's TCP connection (nil if unknown)
	done   chan struct{}

	mu    sync.Mutex
	stats WSConnStats
	up    stream // client to broker
	why   string // why the connection ended (the first reason)
	once  sync.Once
}

// snapshot copies the statistics.
func (r *relay) snapshot() WSConnStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Offered = append([]string(nil), s.Offered...)
	s.Sent = r.up.counts
	s.ClientID = r.up.clientID
	return s
}

// end records why the connection ends (first caller wins) and closes both
// sides.
func (r *relay) end(why string) {
	r.mu.Lock()
	if r.why == "" {
		r.why = why
	}
	r.mu.Unlock()
	r.once.Do(func() { close(r.done) })
	r.broker.Close()
}

// abort closes both TCP connections without a WebSocket Close frame.
func (r *relay) abort() {
	r.end("the bridge closed")
	r.ws.CloseNow()
}

// run relays until either side ends, then logs the connection's counts.
func (r *relay) run() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.up2broker()
	}()
	r.down2client()
	wg.Wait()
	s := r.snapshot()
	r.mu.Lock()
	r.stats.Closed = true
	why := r.why
	r.mu.Unlock()
	r.b.logf("connection %d from %s closed (%s): client %q sent %s; received %s",
		s.N, s.Client, why, s.ClientID, s.Sent, s.Received)
}

// up2broker copies each message of the client to the broker.
func (r *relay) up2broker() {
	ctx := context.Background()
	buf := make([]byte, 32<<10)
	for {
		typ, rd, err := r.ws.Reader(ctx)
		if err != nil {
			r.end(closeReason("the client", err))
			r.ws.CloseNow()
			return
		}
		if typ != websocket.MessageBinary {
			r.end("the client sent a Text message")
			r.ws.Close(websocket.StatusUnsupportedData, "MQTT travels in Binary messages (MQTT-6.0.0-1)")
			return
		}
		for {
			n, err := rd.Read(buf)
			if n > 0 {
				r.mu.Lock()
				r.up.write(buf[:n])
				r.mu.Unlock()
				if _, werr := r.broker.Write(buf[:n]); werr != nil {
					r.end(fmt.Sprintf("writing to the broker: %v", werr))
					r.ws.Close(websocket.StatusGoingAway, "the broker went away")
					return
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.end(closeReason("the client", err))
				r.ws.CloseNow()
				return
			}
		}
	}
}

// closeReason says why reading from a side failed.
func closeReason(side string, err error) string {
	if s := websocket.CloseStatus(err); s != -1 {
		return fmt.Sprintf("%s closed the WebSocket: %v", side, s)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return side + " closed the connection"
	}
	return fmt.Sprintf("%s: %v", side, err)
}

// down2client reads the broker's packets and frames them for the client.
func (r *relay) down2client() {
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	var pkts [][]byte
	for {
		n, err := r.broker.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err == nil && r.b.opts.Framing.Join {
			buf, err = r.gather(buf, tmp)
		}
		pkts = pkts[:0]
		used := 0
		for used < len(buf) {
			total, _, perr := PacketLen(buf[used:])
			if errors.Is(perr, ErrShortHeader) {
				break
			}
			if perr == nil && total > r.b.opts.MaxPacket {
				perr = fmt.Errorf("a packet of %d bytes, over the bridge's cap of %d (WSBridgeOptions.MaxPacket)", total, r.b.opts.MaxPacket)
			}
			if perr != nil {
				r.end("the broker sent " + perr.Error())
				r.ws.Close(websocket.StatusInternalError, "bad MQTT from the broker")
				return
			}
			if len(buf)-used < total {
				break
			}
			pkts = append(pkts, buf[used:used+total])
			used += total
		}
		if werr := r.send(pkts); werr != nil {
			r.end(closeReason("writing to the client", werr))
			r.ws.CloseNow()
			return
		}
		buf = append(buf[:0], buf[used:]...)
		if err != nil {
			select {
			case <-r.done: // the client side ended first and closes the WebSocket
			default:
				r.end("the broker closed the connection")
				r.ws.Close(websocket.StatusNormalClosure, "")
			}
			return
		}
	}
}

// joinWait is how long Framing.Join waits for more of the broker's
// packets, and joinMax how many bytes it gathers at most.
const (
	joinWait = 100 * time.Millisecond
	joinMax  = 64 << 10
)

// gather reads what the broker sends until it is quiet for joinWait.
func (r *relay) gather(buf, tmp []byte) ([]byte, error) {
	for len(buf) < joinMax {
		r.broker.SetReadDeadline(time.Now().Add(joinWait))
		n, err := r.broker.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			r.broker.SetReadDeadline(time.Time{})
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return buf, nil
			}
			return buf, err
		}
	}
	r.broker.SetReadDeadline(time.Time{})
	return buf, nil
}

// send frames the packets the broker sent together.
func (r *relay) send(pkts [][]byte) error {
	f := r.b.opts.Framing
	ctx := context.Background()
	var joined []byte
	flush := func() error {
		if joined == nil {
			return nil
		}
		err := r.ws.Write(ctx, websocket.MessageBinary, joined)
		r.count(1, 0)
		joined = nil
		return err
	}
	for _, p := range pkts {
		r.mu.Lock()
		r.stats.Received[p[0]>>4]++
		r.mu.Unlock()
		switch {
		case f.splits(p[0] >> 4):
			if err := flush(); err != nil {
				return err
			}
			if err := r.sendSplit(ctx, p); err != nil {
				return err
			}
		case f.Join:
			joined = append(joined, p...)
		default:
			if err := r.ws.Write(ctx, websocket.MessageBinary, p); err != nil {
				return err
			}
			r.count(1, 0)
		}
	}
	return flush()
}

// sendSplit sends one packet in fragments of the sizes of Framing.Cuts,
// with a Ping after the first one when Framing.Ping is set.
func (r *relay) sendSplit(ctx context.Context, p []byte) error {
	cuts := r.b.opts.Framing.Cuts
	if cuts == nil {
		cuts = []int{1}
	}
	w, err := r.ws.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		return err
	}
	frames := 0
	for i := 0; len(p) > 0; i++ {
		n := len(p)
		if i < len(cuts) {
			n = min(cuts[i], n)
		}
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		frames++
		p = p[n:]
		if i == 0 && r.b.opts.Framing.Ping && len(p) > 0 {
			r.ping(ctx)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	r.count(frames+1, 0)
	return nil
}

// ping sends a Ping frame and returns once it is written (the Pong comes
// later, to the reader): the frames written before it are flushed with
// it, so it lands between them and the next.
func (r *relay) ping(ctx context.Context) {
	before := int64(0)
	if r.tcp != nil {
		before = r.tcp.writes.Load()
	}
	go func() {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		r.ws.Ping(pctx)
	}()
	r.count(0, 1)
	deadline := time.Now().Add(2 * time.Second)
	for r.tcp != nil && r.tcp.writes.Load() == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// count adds data frames and pings sent to the client.
func (r *relay) count(frames, pings int) {
	r.mu.Lock()
	r.stats.Frames += frames
	r.stats.Pings += pings
	r.mu.Unlock()
}
