package tap_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/mqtap/mqtap/session/source/tap"
)

// BenchmarkRead measures reading MQTT PUBLISH packets (one binary message
// each, as brokers send them) through a Conn: the tap's hot path over
// WebSocket. The server is coder/websocket writing b.N messages.
func BenchmarkRead(b *testing.B) {
	pkt := append([]byte{0x30, 98, 0, 10}, []byte("capteurs/1")...)
	pkt = append(pkt, make([]byte, 86)...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	n := b.N
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for i := 0; i < n; i++ {
			if c.Write(context.Background(), websocket.MessageBinary, pkt) != nil {
				return
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	u, _ := tap.ParseWebSocketURL("ws://" + ln.Addr().String() + "/mqtt")
	c, err := tap.DialWebSocket(context.Background(), u, tap.DialOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 32<<10)
	want := n * len(pkt)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	got := 0
	for got < want {
		k, err := c.Read(buf)
		got += k
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if got != want {
		b.Fatalf("read %d bytes, want %d", got, want)
	}
}
