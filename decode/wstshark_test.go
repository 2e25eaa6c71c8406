package decode

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The recordings against tshark, the decoding oracle: every WebSocket frame
// header, every close code and reason, and the handshake heads.

// tsWS is one WebSocket frame as tshark's PDML shows it, or a decoded
// frame converted to that form.
type tsWS struct {
	fin, rsv, opcode, mask, key string
	length                      uint64
	opcodeLabel                 string // "Opcode: Binary (2)"
	closeCode, closeLabel       string // "1000", "Status code: Normal Closure (1000)"
	closeReason                 string
}

// tsHead is an HTTP head as tshark shows it: the start line's parts and
// the raw header lines.
type tsHead struct {
	start []string // method, URI, version or version, code, phrase
	lines []string
}

// tsConv is what tshark decoded of one recording.
type tsConv struct {
	req, resp      tsHead
	client, server []tsWS
}

// writeTapePcap writes a recording as a pcap of one TCP connection between
// port (the client) and 8080, in segments of at most 8 KiB, with text2pcap
// (Debian package wireshark-common), failing when it is missing.
func writeTapePcap(t *testing.T, chunks []wsChunk, port int) string {
	t.Helper()
	if _, err := exec.LookPath("text2pcap"); err != nil {
		t.Fatalf("text2pcap is required (apt-get install wireshark-common): %v", err)
	}
	var sb strings.Builder
	for _, c := range chunks {
		for i := 0; i < len(c.data); i += 8192 {
			dir := "O"
			if c.fromClient {
				dir = "I"
			}
			sb.WriteString(dir + " 000000")
			for _, b := range c.data[i:min(i+8192, len(c.data))] {
				fmt.Fprintf(&sb, " %02x", b)
			}
			sb.WriteString("\n")
		}
	}
	dir := t.TempDir()
	txt, pcap := filepath.Join(dir, "ws.txt"), filepath.Join(dir, "ws.pcap")
	if err := os.WriteFile(txt, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("text2pcap", "-q", "-D", "-T", fmt.Sprintf("%d,8080", port), txt, pcap)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("text2pcap: %v\n%s", err, out)
	}
	return pcap
}

// tsharkWS runs tshark on a recording written by writeTapePcap and returns
// its heads and WebSocket frames, per direction in order.
func tsharkWS(t *testing.T, pcap string, port int) tsConv {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatalf("tshark is required (apt-get install tshark): %v", err)
	}
	cmd := exec.Command("tshark", "-r", pcap, "-d", "tcp.port==8080,http", "-T", "pdml")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var conv tsConv
	dec := xml.NewDecoder(bytes.NewReader(out))
	var fromClient bool
	var cur *tsWS
	var head *tsHead
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return conv
		}
		if err != nil {
			t.Fatalf("tshark PDML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			a := attrs(el)
			switch {
			case el.Name.Local == "proto" && a["name"] == "websocket":
				cur, head = &tsWS{}, nil
			case el.Name.Local == "proto" && a["name"] == "http":
				cur, head = nil, &conv.resp
				if fromClient {
					head = &conv.req
				}
			case el.Name.Local == "proto":
				cur, head = nil, nil
			case el.Name.Local == "field" && a["name"] == "tcp.srcport":
				fromClient = a["show"] == strconv.Itoa(port)
			case el.Name.Local == "field" && cur != nil:
				cur.set(a)
			case el.Name.Local == "field" && head != nil:
				head.set(a)
			}
		case xml.EndElement:
			if el.Name.Local == "proto" && cur != nil {
				if fromClient {
					conv.client = append(conv.client, *cur)
				} else {
					conv.server = append(conv.server, *cur)
				}
				cur = nil
			}
		}
	}
}

func attrs(el xml.StartElement) map[string]string {
	m := make(map[string]string, len(el.Attr))
	for _, a := range el.Attr {
		m[a.Name.Local] = a.Value
	}
	return m
}

// set records one PDML field of a websocket proto.
func (w *tsWS) set(a map[string]string) {
	switch a["name"] {
	case "websocket.fin":
		w.fin = a["show"]
	case "websocket.rsv":
		w.rsv = a["show"]
	case "websocket.opcode":
		w.opcode = a["show"]
		_, w.opcodeLabel, _ = strings.Cut(a["showname"], " = ")
	case "websocket.mask":
		w.mask = a["show"]
	case "websocket.masking_key":
		w.key = a["value"]
	case "websocket.payload_length", "websocket.payload_length_ext_16", "websocket.payload_length_ext_64":
		w.length, _ = strconv.ParseUint(a["show"], 10, 64)
	case "websocket.payload.close.status_code":
		w.closeCode, w.closeLabel = a["show"], a["showname"]
	case "websocket.payload.close.reason":
		w.closeReason = a["show"]
	}
}

// set records one PDML field of an http proto.
func (h *tsHead) set(a map[string]string) {
	switch a["name"] {
	case "http.request.method", "http.request.uri", "http.request.version",
		"http.response.version", "http.response.code", "http.response.phrase":
		h.start = append(h.start, a["show"])
	case "http.request.line", "http.response.line":
		b, _ := hex.DecodeString(a["value"])
		h.lines = append(h.lines, string(b))
	}
}

// mineWS converts a decoded frame (and its payload, for a Close) to
// tshark's form.
func mineWS(f WSFrame, payload []byte) tsWS {
	w := tsWS{
		fin: b01(f.Fin), rsv: fmt.Sprintf("0x%02x", f.RSV), opcode: strconv.Itoa(int(f.Opcode)),
		mask: b01(f.Masked), length: f.PayloadLen,
		opcodeLabel: fmt.Sprintf("Opcode: %s (%d)", f.Opcode, f.Opcode),
	}
	if f.Masked {
		w.key = hex.EncodeToString(f.MaskKey[:])
	}
	if f.Opcode == WSClose && len(payload) >= 2 {
		code, reason, _ := ParseWSClose(payload)
		w.closeCode = strconv.Itoa(int(code))
		w.closeLabel = fmt.Sprintf("Status code: %s (%d)", WSCloseCodeName(code), code)
		w.closeReason = string(reason)
	}
	return w
}

func b01(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// mineHead converts a parsed head to tshark's form.
func mineHead(h *HTTPHead) tsHead {
	var out tsHead
	if h.Request {
		out.start = []string{h.Method, h.URI, h.Version}
	} else {
		out.start = []string{h.Version, strconv.Itoa(h.Status), h.Reason}
	}
	for _, f := range h.Headers {
		out.lines = append(out.lines, f.Name+": "+f.Value+"\r\n")
	}
	return out
}

// compareTshark checks a decoded recording against tshark: the heads, and
// every frame of both directions.
func compareTshark(t *testing.T, tape *wsTape, conv *wsConv, port int) {
	t.Helper()
	ts := tsharkWS(t, writeTapePcap(t, tape.chunks, port), port)
	compareHead(t, "request", ts.req, mineHead(&conv.req))
	compareHead(t, "response", ts.resp, mineHead(&conv.resp))
	compareFrames(t, "client", ts.client, conv.clientB)
	compareFrames(t, "server", ts.server, conv.serverB)
}

func compareHead(t *testing.T, what string, want, got tsHead) {
	t.Helper()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("%s head:\n got %q\nwant %q (tshark)", what, got, want)
	}
}

// compareFrames parses the frames of one direction and compares each with
// tshark's.
func compareFrames(t *testing.T, dir string, want []tsWS, b []byte) {
	t.Helper()
	var got []tsWS
	for len(b) > 0 {
		f, err := ParseWSFrame(b)
		total, ok := f.Total()
		if err != nil || !ok || total > len(b) {
			t.Fatalf("%s: frame %d: %v", dir, len(got), err)
		}
		payload := append([]byte(nil), b[f.HeaderLen:total]...)
		UnmaskWS(payload, payload, f.MaskKey, 0)
		if !f.Masked {
			payload = b[f.HeaderLen:total]
		}
		got = append(got, mineWS(f, payload))
		b = b[total:]
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, tshark %d", dir, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s frame %d:\n got %+v\nwant %+v (tshark)", dir, i, got[i], want[i])
		}
	}
	t.Logf("%s: %d frames agree with tshark", dir, len(got))
}

// TestWSEdgeFramesAgainstTshark compares hand-made frames with tshark:
// every opcode (reserved ones included), every RSV combination, lengths
// in non-minimal encodings and at the boundaries, fragmented and oversized
// control frames, and Close frames with every class of status code.
func TestWSEdgeFramesAgainstTshark(t *testing.T) {
	frame := func(f WSFrame, payload []byte) []byte {
		f.PayloadLen = uint64(len(payload))
		b := AppendWSFrame(nil, f)
		start := len(b)
		b = append(b, payload...)
		UnmaskWS(b[start:], b[start:], f.MaskKey, 0)
		return b
	}
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	var client []byte
	for op := range WSOpcode(16) {
		client = append(client, frame(WSFrame{Fin: op != 1, RSV: uint8(op) & 7, Opcode: op, Masked: true, MaskKey: key}, []byte("payload"))...)
	}
	for _, n := range []int{0, 125, 126, 127, 65535, 65536} {
		client = append(client, frame(WSFrame{Fin: true, Opcode: WSBinary, Masked: true, MaskKey: key}, make([]byte, n))...)
	}
	client = append(client, 0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e') // 5 in 16 bits
	client = append(client, 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x2c)                    // 300 in 64 bits, unmasked
	client = append(client, make([]byte, 300)...)
	client = append(client, frame(WSFrame{Opcode: WSPing, Masked: true, MaskKey: key}, make([]byte, 200))...)
	var server []byte
	for _, code := range []uint16{999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1015, 1016, 2999, 3000, 4999, 5000} {
		server = append(server, frame(WSFrame{Fin: true, Opcode: WSClose}, fmt.Appendf([]byte{byte(code >> 8), byte(code)}, "close %d ✓", code))...)
	}
	server = append(server, frame(WSFrame{Fin: true, Opcode: WSClose}, nil)...)
	chunks := []wsChunk{
		{true, []byte(wsRequest)},
		{false, []byte(wsResponse("permessage-deflate"))},
		{true, client},
		{false, server},
	}
	port := 51999
	ts := tsharkWS(t, writeTapePcap(t, chunks, port), port)
	for i := range ts.client {
		if op, _ := strconv.Atoi(ts.client[i].opcode); WSOpcode(op).Reserved() {
			// Wireshark calls them "Unknown (N)", mqtap "Reserved (N)".
			if want := fmt.Sprintf("Opcode: Unknown (%d)", op); ts.client[i].opcodeLabel != want {
				t.Errorf("tshark labels opcode %d %q", op, ts.client[i].opcodeLabel)
			}
			ts.client[i].opcodeLabel = fmt.Sprintf("Opcode: %s (%d)", WSOpcode(op), op)
		}
	}
	compareFrames(t, "client", ts.client, client)
	compareFrames(t, "server", ts.server, server)
}
