package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// mosquittoPub publishes one QoS 1 message on the broker's plain listener.
func mosquittoPub(t *testing.T, b *brokertest.Broker, topic, msg string) {
	t.Helper()
	out, err := exec.Command("mosquitto_pub", "-h", b.Host, "-p", strconv.Itoa(b.Port), "-q", "1", "-t", topic, "-m", msg).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

// TestTapWebSocket taps mosquitto through the WebSocket bridge, ws:// and
// wss://, while mosquitto_pub publishes: every message is printed, from
// the bridge, with the fields of a tap.
func TestTapWebSocket(t *testing.T) {
	b := brokertest.StartBroker(t)
	split := brokertest.Framing{SplitTypes: []byte{3}, Cuts: []int{1, 2}, Ping: true}
	ws := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Framing: split})
	wss := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: true, Framing: split})
	for _, c := range []struct {
		w    *brokertest.WSBridge
		args []string
	}{{ws, nil}, {wss, []string{"--cafile", wss.CAFile}}} {
		args := append([]string{"tap", c.w.URL, "-t", "capteurs/#", "-T", "ndjson"}, c.args...)
		run := startMqtap(t, "subscribed", args...)
		for i := 1; i <= 2; i++ {
			mosquittoPub(t, b, "capteurs/salle-"+strconv.Itoa(i), fmt.Sprintf("%d °C", 20+i))
		}
		if err := brokertest.WaitFor(run.stdout, "capteurs/salle-2", 10*time.Second, run.done); err != nil {
			t.Fatalf("%s: %v; stderr %s", c.w.URL, err, run.stderr.String())
		}
		if code := run.interrupt(t); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.w.URL, code, run.stderr.String())
		}
		var topics []string
		for _, r := range ndjsonRecords(t, run.stdout.String()) {
			if field(r, "mqtap.type") != "PUBLISH" {
				continue
			}
			topics = append(topics, field(r, "mqtt.topic")+"="+field(r, "mqtt.msg"))
			if field(r, "ip.src") != "127.0.0.1" || field(r, "tcp.srcport") != "" {
				t.Errorf("%s: record %v", c.w.URL, r)
			}
		}
		want := "capteurs/salle-1=323120c2b043|capteurs/salle-2=323220c2b043"
		if got := strings.Join(topics, "|"); got != want {
			t.Errorf("%s: PUBLISH %s, want %s", c.w.URL, got, want)
		}
		if !strings.Contains(run.stderr.String(), "connected to "+c.w.URL) || !strings.Contains(run.stderr.String(), "MQTT packets received from "+c.w.URL) {
			t.Errorf("%s: stderr %s", c.w.URL, run.stderr.String())
		}
	}
}

// TestTapWebSocketErrors checks the one-line errors of a tap that cannot
// reach an MQTT WebSocket endpoint.
func TestTapWebSocketErrors(t *testing.T) {
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	chat := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{ForceSubprotocol: "chat"})
	tlsw := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: true})
	free := brokertest.FreePort(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tap", fmt.Sprintf("ws://127.0.0.1:%d/mqtt", free)}, 1, "connection refused"},
		{[]string{"tap", fmt.Sprintf("ws://%s/wrong", w.Addr())}, 1, "HTTP 404 Not Found: no WebSocket endpoint at /wrong"},
		{[]string{"tap", chat.URL}, 1, `the server chose the WebSocket subprotocol "chat", not mqtt`},
		{[]string{"tap", "ws://" + b.Addr() + "/mqtt"}, 1, "without an HTTP answer"},
		{[]string{"tap", tlsw.URL}, 1, "certificate signed by unknown authority"},
		{[]string{"tap", w.URL, "--cafile", "ca.pem"}, 1, "needs mqtts:// or wss://"},
	} {
		code, stdout, stderr := mqtap(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and %q", c.args, code, stderr, stdout, c.code, c.msg)
		}
	}
}
