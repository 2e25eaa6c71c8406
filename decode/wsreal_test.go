package decode

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Real WebSocket traffic for the decoders: github.com/coder/websocket and
// python3-websockets peers talk through a TCP relay that records every byte
// in the order it passed.

// wsChunk is what one read of the relay got.
type wsChunk struct {
	fromClient bool
	data       []byte
}

// wsTape is the recording of one TCP connection.
type wsTape struct {
	mu     sync.Mutex
	chunks []wsChunk
}

func (t *wsTape) add(fromClient bool, b []byte) {
	t.mu.Lock()
	t.chunks = append(t.chunks, wsChunk{fromClient, append([]byte(nil), b...)})
	t.mu.Unlock()
}

// stream returns all the bytes one side sent.
func (t *wsTape) stream(fromClient bool) []byte {
	var b []byte
	for _, c := range t.chunks {
		if c.fromClient == fromClient {
			b = append(b, c.data...)
		}
	}
	return b
}

// startRelay listens on loopback and relays the first connection to target,
// recording it. The tape arrives on the channel once both sides closed.
func startRelay(t *testing.T, target string) (string, <-chan *wsTape) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan *wsTape, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		tape := &wsTape{}
		var wg sync.WaitGroup
		wg.Add(2)
		go relayCopy(&wg, tape, true, s, c)
		go relayCopy(&wg, tape, false, c, s)
		wg.Wait()
		c.Close()
		s.Close()
		done <- tape
	}()
	return ln.Addr().String(), done
}

// relayCopy copies src to dst, recording each read before forwarding it.
func relayCopy(wg *sync.WaitGroup, tape *wsTape, fromClient bool, dst, src net.Conn) {
	defer wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			tape.add(fromClient, buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

// wsSent is a message a client sends; the servers echo it.
type wsSent struct {
	op    WSOpcode
	data  []byte
	parts int // > 1: sent as a fragmented message
}

// wsMessages returns the messages of every scenario: MQTT 5 packets in
// binary messages of many sizes (2 bytes, the 125/126 and 65535/65536
// length boundaries, 1 MiB), compressible and random payloads, a
// fragmented message and a text message.
func wsMessages() []wsSent {
	rng := rand.New(rand.NewPCG(6455, 7692))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	reading := func(n int) []byte {
		var sb strings.Builder
		for i := 0; sb.Len() < n; i++ {
			sb.WriteString(`{"sensor":"salle-1","t":20.` + string(rune('0'+i%10)) + `,"unit":"°C"}`)
		}
		return []byte(sb.String()[:n])
	}
	big := append(random(1<<19), reading(1<<19+7)...)
	msgs := []wsSent{
		{WSBinary, connect50, 1},
		{WSBinary, []byte{0xc0, 0x00}, 1},
		{WSText, []byte("hello, text frame ✓"), 1},
		{WSBinary, publishOfSize(125, reading), 1},
		{WSBinary, publishOfSize(126, reading), 1},
		{WSBinary, publishOfSize(65535, random), 1},
		{WSBinary, publishOfSize(65536, reading), 1},
		{WSBinary, pkt(0x82, u16(1), props(), s("mqtap/#"), []byte{1}), 1},
	}
	for i := range 5 {
		msgs = append(msgs, wsSent{WSBinary, publishOfSize(300+i, reading), 1})
	}
	msgs = append(msgs,
		wsSent{WSBinary, publishOfSize(3000, reading), 3},
		wsSent{WSBinary, publishOfSize(len(big)+20, func(n int) []byte { return big[:n] }), 1},
		wsSent{WSBinary, []byte{0xe0, 0x00}, 1},
	)
	return msgs
}

// publishOfSize returns an MQTT 5 QoS 0 PUBLISH of exactly n bytes whose
// payload comes from fill.
func publishOfSize(n int, fill func(int) []byte) []byte {
	topic := s("mqtap/ws/size")
	for vlen := 1; vlen <= 4; vlen++ {
		rem := n - 1 - vlen
		body := len(topic) + 1
		if rem >= body && len(enc(rem)) == vlen {
			return pkt(0x30, topic, props(), fill(rem-body))
		}
	}
	panic("no PUBLISH has this size")
}

// writeMessages writes msgs as the JSON file wspeer.py reads.
func writeMessages(t *testing.T, msgs []wsSent) string {
	t.Helper()
	type jm struct {
		Type  string `json:"type"`
		Hex   string `json:"hex"`
		Parts int    `json:"parts"`
	}
	var out []jm
	for _, m := range msgs {
		typ := "binary"
		if m.op == WSText {
			typ = "text"
		}
		out = append(out, jm{typ, hex.EncodeToString(m.data), m.parts})
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "messages.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startCoderServer serves an echo on loopback with github.com/coder/websocket
// under the given compression mode; it pings the client once, from its
// third message on.
func startCoderServer(t *testing.T, mode websocket.CompressionMode) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}, CompressionMode: mode})
		if err != nil {
			t.Errorf("coder server: %v", err)
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(8 << 20)
		ctx := r.Context()
		for i := 0; ; i++ {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if i == 2 {
				go c.Ping(ctx)
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// runCoderClient sends msgs to the echo at addr with github.com/coder/websocket
// and checks each echo, pings, and closes with a reason.
func runCoderClient(t *testing.T, addr string, mode websocket.CompressionMode, msgs []wsSent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/mqtt", &websocket.DialOptions{Subprotocols: []string{"mqtt"}, CompressionMode: mode})
	if err != nil {
		t.Fatalf("coder client: %v", err)
	}
	defer c.CloseNow()
	c.SetReadLimit(8 << 20)
	for i, m := range msgs {
		typ := websocket.MessageBinary
		if m.op == WSText {
			typ = websocket.MessageText
		}
		if err := coderSend(ctx, c, typ, m); err != nil {
			t.Fatalf("coder client: message %d: %v", i, err)
		}
		gotTyp, echo, err := c.Read(ctx)
		if err != nil || gotTyp != typ || string(echo) != string(m.data) {
			t.Fatalf("coder client: echo of message %d differs (%v)", i, err)
		}
	}
	read := make(chan error, 1)
	go func() { _, _, err := c.Read(ctx); read <- err }()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("coder client: ping: %v", err)
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye from the client"); err != nil {
		t.Fatalf("coder client: close: %v", err)
	}
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusNormalClosure && !errors.Is(err, net.ErrClosed) {
		t.Logf("coder client: last read: %v", err)
	}
}

// coderSend writes one message, in m.parts Writes when it is fragmented.
func coderSend(ctx context.Context, c *websocket.Conn, typ websocket.MessageType, m wsSent) error {
	if m.parts <= 1 {
		return c.Write(ctx, typ, m.data)
	}
	w, err := c.Writer(ctx, typ)
	if err != nil {
		return err
	}
	step := (len(m.data) + m.parts - 1) / m.parts
	for i := 0; i < len(m.data); i += step {
		if _, err := w.Write(m.data[i:min(i+step, len(m.data))]); err != nil {
			return err
		}
	}
	return w.Close()
}

// python returns the interpreter that has the Debian packages installed by
// scripts/install-deps.sh, failing when python3-websockets is missing.
func python(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import websockets").CombinedOutput(); err != nil {
		t.Fatalf("python3-websockets is required (apt-get install python3-websockets): %v\n%s", err, out)
	}
	return py
}

// runPythonClient runs testdata/wspeer.py as the client of addr.
func runPythonClient(t *testing.T, addr, mode string, msgs []wsSent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python(t), "testdata/wspeer.py", "client", "ws://"+addr+"/mqtt", writeMessages(t, msgs), mode)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wspeer.py client: %v\n%s", err, out)
	}
}

// startPythonServer runs testdata/wspeer.py as an echo server and returns
// its address.
func startPythonServer(t *testing.T, mode string) string {
	t.Helper()
	cmd := exec.Command(python(t), "testdata/wspeer.py", "server", mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("wspeer.py server: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "PORT ")
	if err != nil || !ok {
		t.Fatalf("wspeer.py server did not say its port: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return "127.0.0.1:" + port
}
