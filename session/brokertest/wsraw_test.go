package brokertest_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawClient is a WebSocket client written by hand: it sends the upgrade and
// its frames byte by byte and reads the bridge's frames one by one, so a
// test sees the framing exactly as it is on the wire.
type rawClient struct {
	t    testing.TB
	c    net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// frame is one WebSocket frame as read.
type frame struct {
	fin     bool
	rsv     byte
	opcode  byte
	masked  bool
	payload []byte
}

func (f frame) String() string {
	return fmt.Sprintf("{op %d fin %v rsv %d masked %v % x}", f.opcode, f.fin, f.rsv, f.masked, f.payload)
}

// dialRaw opens a TCP connection to addr and sends a WebSocket upgrade for
// path with the given extra header lines ("Sec-WebSocket-Protocol: mqtt").
func dialRaw(t testing.TB, addr, path string, headers ...string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var key [16]byte
	rand.Read(key[:])
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n",
		path, addr, base64.StdEncoding.EncodeToString(key[:]))
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{t: t, c: c, br: bufio.NewReader(c)}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rc.resp, err = http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade answer: %v", err)
	}
	return rc
}

// send writes one masked frame.
func (rc *rawClient) send(opcode byte, fin bool, payload []byte) {
	rc.t.Helper()
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	hdr := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 0x80|127), uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	hdr = append(hdr, key[:]...)
	body := make([]byte, len(payload))
	for i, b := range payload {
		body[i] = b ^ key[i%4]
	}
	if _, err := rc.c.Write(append(hdr, body...)); err != nil {
		rc.t.Fatalf("sending a frame: %v", err)
	}
}

// next reads one frame.
func (rc *rawClient) next() frame {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		rc.t.Fatalf("reading a frame header: %v", err)
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] >> 4 & 7, opcode: h[0] & 0x0F, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(rc.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(rc.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if f.masked {
		io.ReadFull(rc.br, key[:])
	}
	if n > 1<<20 {
		rc.t.Fatalf("a frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(rc.br, f.payload); err != nil {
		rc.t.Fatalf("reading a frame payload: %v", err)
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f
}

// message reads the frames of the next data message, answering Pings; it
// returns the message's frames (control frames included, in order) and
// its payload.
func (rc *rawClient) message() (frames []frame, data []byte) {
	rc.t.Helper()
	for {
		f := rc.next()
		frames = append(frames, f)
		switch f.opcode {
		case 9:
			rc.send(10, true, f.payload)
			continue
		case 10:
			continue
		case 8:
			rc.t.Fatalf("Close frame instead of a message: % x (after %v)", f.payload, frames)
		}
		data = append(data, f.payload...)
		if f.fin {
			return frames, data
		}
	}
}

// closed reads the Close frame that ends the connection, answers it as
// RFC 6455 wants and returns its status code (0 without one).
func (rc *rawClient) closed() int {
	rc.t.Helper()
	for {
		f := rc.next()
		switch f.opcode {
		case 9:
			rc.send(10, true, f.payload)
		case 8:
			rc.send(8, true, f.payload)
			if len(f.payload) < 2 {
				return 0
			}
			return int(f.payload[0])<<8 | int(f.payload[1])
		default:
			rc.t.Fatalf("%v instead of a Close frame", f)
		}
	}
}

// connectPacket is an MQTT 3.1.1 CONNECT (clean session, keepalive 60).
func connectPacket(clientID string) []byte {
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, byte(len(clientID) >> 8), byte(len(clientID))}, clientID...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

// subscribePacket is an MQTT 3.1.1 SUBSCRIBE of one filter.
func subscribePacket(id uint16, filter string, qos byte) []byte {
	body := []byte{byte(id >> 8), byte(id), byte(len(filter) >> 8), byte(len(filter))}
	body = append(append(body, filter...), qos)
	return append([]byte{0x82, byte(len(body))}, body...)
}

// header is the value of an answer's header, "" when absent.
func (rc *rawClient) header(name string) string {
	return strings.Join(rc.resp.Header.Values(name), ", ")
}
