package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// wsServerPorts are the broker ports of the WebSocket samples.
var wsServerPorts = map[string]bool{"8080": true, "9001": true, "8081": true}

// wsSamples are the WebSocket samples and their keys.
var wsSamples = []string{"ws-plain", "ws-deflate", "wss-lab", "ws-midstream", "ws-subprotocol"}

// groundTruth reads pcaps/samples/ws-ground-truth.tsv: per sample and
// client id, what the client sent and received, counted by the bridge that
// relayed it ("CONNECT 1, PUBLISH 2").
func groundTruth(t *testing.T) map[string]map[string][2]map[string]int {
	t.Helper()
	b, err := os.ReadFile("../../pcaps/samples/ws-ground-truth.tsv")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][2]map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			t.Fatalf("ground truth line %q", l)
		}
		if out[f[0]] == nil {
			out[f[0]] = map[string][2]map[string]int{}
		}
		c := out[f[0]][f[1]]
		for k, list := range f[3:5] {
			if c[k] == nil {
				c[k] = map[string]int{}
			}
			for _, item := range strings.Split(list, ", ") {
				name, n, _ := strings.Cut(item, " ")
				name = strings.ToUpper(name)
				v, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("ground truth %q", item)
				}
				c[k][name] += v
			}
		}
		out[f[0]][f[1]] = c
	}
	return out
}

// counts renders type counts as "CONNECT 1, PUBLISH 2" in a stable order.
func counts(m map[string]int) string {
	var s []string
	for k, v := range m {
		s = append(s, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// TestWebSocketSamplesGroundTruth reads every WebSocket sample (ws, wss
// with its key log, permessage-deflate, mid-stream, other subprotocols)
// and counts, per client, the MQTT packets it sent and received: they must
// be what the bridge that relayed them counted.
func TestWebSocketSamplesGroundTruth(t *testing.T) {
	truth := groundTruth(t)
	for _, name := range wsSamples {
		capture := filepath.Join("../../pcaps/samples", name+".pcapng")
		recs := ndjson(t, append([]string{capture}, sampleKeys(capture)...)...)
		if len(recs) == 0 {
			t.Fatalf("%s: no records", name)
		}
		clientOf := map[string]string{} // tcp.stream -> client id
		for _, r := range recs {
			if field(r, "mqtap.type") == "CONNECT" {
				clientOf[field(r, "tcp.stream")] = field(r, "mqtt.clientid")
			}
		}
		got := map[string][2]map[string]int{}
		for _, r := range recs {
			client, ok := clientOf[field(r, "tcp.stream")]
			if !ok && len(truth[name]) == 1 {
				for id := range truth[name] {
					client = id // the mid-stream sample: one client, no CONNECT
				}
			}
			c := got[client]
			for k := range c {
				if c[k] == nil {
					c[k] = map[string]int{}
				}
			}
			dir := 1
			if wsServerPorts[field(r, "tcp.dstport")] {
				dir = 0
			}
			c[dir][strings.ToUpper(field(r, "mqtap.type"))]++
			got[client] = c
			if p := field(r, "frame.protocols"); !strings.Contains(p, ":websocket:mqtt") {
				t.Errorf("%s frame %s: frame.protocols %q", name, field(r, "frame.number"), p)
			}
		}
		for client, want := range truth[name] {
			for k, what := range []string{"sent", "received"} {
				if g, w := counts(got[client][k]), counts(want[k]); g != w {
					t.Errorf("%s: %s %s %s, the bridge counted %s", name, client, what, g, w)
				}
			}
		}
		if len(got) != len(truth[name]) {
			t.Errorf("%s: clients %v, ground truth %v", name, got, truth[name])
		}
	}
}

// TestWebSocketDecryptedExport writes each WebSocket sample as plain MQTT
// over TCP (export --decrypted): tshark decodes every packet of it as mqtap
// does, with no malformed packet and no TCP analysis warning, and it holds
// as many MQTT packets as the WebSocket capture.
func TestWebSocketDecryptedExport(t *testing.T) {
	for _, name := range wsSamples {
		capture := filepath.Join("../../pcaps/samples", name+".pcapng")
		keys := sampleKeys(capture)
		_, all, _ := mqtap(append([]string{"read", capture, "-T", "fields", "-e", "tcp.dstport"}, keys...)...)
		port := ""
		for _, l := range lines(all) {
			if wsServerPorts[l] {
				port = l
			}
		}
		out := filepath.Join(t.TempDir(), name+"-plain.pcapng")
		runExport(t, append([]string{capture, "-o", out, "--decrypted"}, keys...)...)
		if bad := tsharkOut(t, out, "-d", "tcp.port=="+port+",mqtt", "-Y", "tcp.analysis.flags"); bad != "" {
			t.Errorf("%s: tshark finds TCP problems in the export:\n%s", name, bad)
		}
		// Malformed packets only where the client sent them (the Go lab
		// peer's paho.golang interleaves the pieces of two packets it
		// writes at once, as the bridge saw too).
		_, sent, _ := mqtap(append([]string{"read", capture, "-Y", "mqtap.malformed"}, keys...)...)
		if bad := tsharkOut(t, out, "-d", "tcp.port=="+port+",mqtt", "-Y", "_ws.malformed"); len(lines(bad)) > len(lines(sent)) {
			t.Errorf("%s: tshark finds %d malformed frames in the export, the capture holds %d malformed packets:\n%s", name, len(lines(bad)), len(lines(sent)), bad)
		}
		cmp := exec.Command(filepath.Join(shared(t), "tools", "tshark-compare"), "--mqtap", mqtapBinary(t), "--port", port, out)
		res, err := cmp.CombinedOutput()
		want := fmt.Sprintf("%d/%d messages agree", len(lines(all)), len(lines(all)))
		if err != nil || !strings.Contains(string(res), want) {
			t.Errorf("%s: tshark-compare on the export: %v\n%s(want %s)", name, err, res, want)
		}
	}
}

// TestWebSocketLabThroughEveryLayer decrypts the lab over wss: TLS with the
// key log, WebSocket, MQTT, then the lab's Fernet with the DH keys.
func TestWebSocketLabThroughEveryLayer(t *testing.T) {
	capture := "../../pcaps/samples/wss-lab.pcapng"
	_, out, _ := mqtap(append([]string{"read", capture, "-Y", `mqtap.decrypt == "ok" && websocket && tls`, "-T", "fields", "-e", "mqtap.plaintext"}, sampleKeys(capture)...)...)
	if n := strings.Count(out, "NETWORKING IS THE BEST!"); n < 2 || !strings.Contains(out, "Networking is the best!") {
		t.Errorf("decrypted through TLS, WebSocket, MQTT and Fernet:\n%s", out)
	}
	_, out, errOut := mqtap("read", capture)
	if out != "" || !strings.Contains(errOut, "3 of 3 TLS connection(s) could not be decrypted") {
		t.Errorf("without the key log: stdout %q stderr %q", out, errOut)
	}
	_, out, _ = mqtap("sessions", "--tls", capture, "-T", "json")
	if strings.Count(out, `"decrypted": "no-key"`) != 3 {
		t.Errorf("sessions --tls without keys:\n%s", out)
	}
}

// TestWebSocketCommands: sessions --ws lists the handshakes, findings
// reports the subprotocols, -Y tests websocket and http, -V and the
// WebSocket fields show the frame.
func TestWebSocketCommands(t *testing.T) {
	_, out, _ := mqtap("sessions", "--ws", "../../pcaps/samples/ws-deflate.pcapng")
	if !strings.Contains(out, "permessage-deflate") && !strings.Contains(out, "true") || !strings.Contains(out, "/mqtt") || !strings.Contains(out, "101") {
		t.Errorf("sessions --ws:\n%s", out)
	}
	_, out, _ = mqtap("sessions", "--ws", "../../pcaps/samples/ws-midstream.pcapng")
	if !strings.Contains(out, "the handshake was not captured") {
		t.Errorf("sessions --ws of the mid-stream sample:\n%s", out)
	}
	_, out, _ = mqtap("findings", "../../pcaps/samples/ws-subprotocol.pcapng")
	if !strings.Contains(out, "websocket.not-mqtt") || !strings.Contains(out, "websocket.no-subprotocol") {
		t.Errorf("findings:\n%s", out)
	}
	_, all, _ := mqtap("read", "../../pcaps/samples/ws-plain.pcapng")
	_, ws, _ := mqtap("read", "../../pcaps/samples/ws-plain.pcapng", "-Y", "websocket && http")
	if all == "" || ws != all {
		t.Errorf("-Y websocket && http does not select every packet of ws-plain")
	}
	_, out, _ = mqtap("read", "../../pcaps/samples/ws-plain.pcapng", "-V", "-c", "1")
	if !strings.Contains(out, "WebSocket, Fin: True, Opcode: Binary") || !strings.Contains(out, "[Connection: GET /mqtt") {
		t.Errorf("-V:\n%s", out)
	}
	// The CONNECT in a masked binary frame from the client, the CONNACKs
	// in the broker's unmasked ones.
	_, out, _ = mqtap("read", "../../pcaps/samples/ws-plain.pcapng", "-Y", "mqtt.msgtype >= 1 && mqtt.msgtype <= 2", "-T", "fields", "-e", "mqtt.msgtype", "-e", "websocket.opcode", "-e", "websocket.mask", "-e", "websocket.fin", "-e", "websocket.payload_length")
	for _, l := range lines(out) {
		f := strings.Split(l, "\t")
		if f[1] != "2" && f[1] != "0" || (f[0] == "1") != (f[2] == "True") {
			t.Errorf("websocket fields: %q", l)
		}
	}
	if len(lines(out)) != 8 {
		t.Errorf("websocket fields of 4 CONNECT and 4 CONNACK:\n%s", out)
	}
}

// TestSniffWebSocketLive captures, with mqtap sniff on lo, a browser-style
// client (permessage-deflate) publishing through a WebSocket bridge in
// front of mosquitto: the MQTT inside the compressed frames is printed live.
func TestSniffWebSocketLive(t *testing.T) {
	needRoot(t)
	broker := brokertest.StartBroker(t)
	bridge := brokertest.StartWSBridge(t, broker, brokertest.WSBridgeOptions{Compression: brokertest.CompressionContextTakeover})
	port := strconv.Itoa(bridge.Port)
	run := startMqtap(t, "Capturing on", "sniff", "-i", "lo", "-d", "tcp.port=="+port+",websocket", "-T", "fields", "-e", "mqtt.topic", "-e", "frame.protocols", "-e", "mqtt.msg")
	if stderr, code := brokertest.WSRun(t, 20*time.Second, bridge.URL, "--client-id", "sniffed", "pub:live/ws:1:hello over websocket"); code != 0 {
		t.Fatalf("wsmqtt.py: exit %d: %s", code, stderr)
	}
	want := "live/ws\teth:ethertype:ip:tcp:websocket:mqtt\t" + fmt.Sprintf("%x", "hello over websocket")
	if err := brokertest.WaitFor(run.stdout, want, 10*time.Second, nil); err != nil {
		t.Fatalf("the PUBLISH inside the compressed WebSocket frames was not printed: %v", err)
	}
	if code := run.interrupt(t); code != 0 {
		t.Errorf("sniff exit %d", code)
	}
}

// TestTuiWebSocketSample opens a WebSocket sample in the terminal UI: the
// packets are listed, and the details have the WebSocket branch.
func TestTuiWebSocketSample(t *testing.T) {
	sample, _ := filepath.Abs("../../pcaps/samples/ws-deflate.pcapng")
	tm := startTmux(t, 160, 45, mqtapBinary(t)+" tui "+sample)
	tm.waitFor("the packets of the WebSocket sample", func(s string) bool {
		return strings.Contains(s, "Connect Command") && strings.Contains(s, "done")
	})
	tm.keys("Tab")
	time.Sleep(200 * time.Millisecond)
	tm.keys("e")
	tm.waitFor("the WebSocket branch", func(s string) bool {
		return strings.Contains(s, "WebSocket, Fin:") && strings.Contains(s, "WebSocket frame")
	})
	tm.keys("q")
	if s := tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED ") }); !strings.Contains(s, "EXITED 0") {
		t.Errorf("mqtap tui did not exit 0:\n%s", s)
	}
}
