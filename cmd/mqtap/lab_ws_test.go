package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

func TestLabURLUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--url", "ws://h/mqtt", "--host", "h"}, "--url names the broker and its transport: drop --host"},
		{[]string{"--url", "ws://h/mqtt", "--port", "8080"}, "drop --port"},
		{[]string{"--url", "ws://h/mqtt", "--tls"}, "drop --tls (wss:// is WebSocket over TLS)"},
		{[]string{"--url", "mqtt://h:1883"}, `--url: WebSocket URL "mqtt://h:1883": scheme "mqtt", want ws:// or wss://`},
		{[]string{"--url", "ws://h/mqtt", "--cafile", "ca.pem"}, "--cafile needs --tls (MQTT over TLS) or a wss:// --url"},
		{[]string{"--url", "ws://h/mqtt?a=b"}, "no query string"},
	} {
		args := append([]string{"lab", "request", "le0nh4rt", "uppercase", "x"}, c.args...)
		code, stdout, stderr := mqtap(args...)
		if code != 2 || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.msg)
		}
	}
}

// TestLabWebSocket runs mqtap lab respond and request, and labpeer.py,
// over ws:// and wss:// through the bridge (the broker's packets split
// into fragments with pings between them for the Go peers).
func TestLabWebSocket(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	frag := brokertest.Framing{SplitTypes: []byte{2, 3}, Cuts: []int{1, 2}, Join: true}
	for _, secure := range []bool{false, true} {
		w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: secure, Framing: frag})
		dir := t.TempDir()
		keyLog := filepath.Join(dir, "go.keylog")
		var tlsArgs, pyArgs []string
		pyArgs = []string{"--host", w.Host, "--port", strconv.Itoa(w.Port), "--transport", "websockets"}
		if secure {
			tlsArgs = []string{"--cafile", w.CAFile, "--keylog", keyLog}
			pyArgs = append(pyArgs, "--tls", "--cafile", w.CAFile)
		}
		respLog := &brokertest.Buffer{}
		respDone := make(chan int, 1)
		go func() {
			respDone <- run(append([]string{"lab", "respond", "le0nh4rt", "--count", "2", "--client-id", "responder-go", "--url", w.URL}, tlsArgs...), &brokertest.Buffer{}, respLog)
		}()
		if err := brokertest.WaitFor(respLog, "ready: subscribed to le0nh4rt/+/request at "+w.URL+" as responder-go over WebSocket", 10*time.Second, nil); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := mqtap(append([]string{"lab", "request", "le0nh4rt", "uppercase", "over", "WebSocket", "--url", w.URL, "-v"}, tlsArgs...)...)
		if code != 0 || stdout != "OVER WEBSOCKET\n" || !strings.Contains(stderr, "connected to "+w.URL+" over WebSocket") {
			t.Fatalf("%s: request: exit %d, stdout %q, stderr %q; responder:\n%s", w.URL, code, stdout, stderr, respLog.String())
		}
		out, errOut, pcode := brokertest.PyRun(t, 20*time.Second, append([]string{"request", "le0nh4rt", "reverse", "abc"}, pyArgs...)...)
		if pcode != 0 || out != "cba\n" {
			t.Fatalf("%s: labpeer.py: exit %d, %q %q; responder:\n%s", w.URL, pcode, out, errOut, respLog.String())
		}
		select {
		case code := <-respDone:
			if code != 0 {
				t.Errorf("%s: respond exited %d: %s", w.URL, code, respLog.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: respond --count 2 did not exit:\n%s", w.URL, respLog.String())
		}
		if secure {
			data, _ := os.ReadFile(keyLog)
			if n := strings.Count(string(data), "CLIENT_TRAFFIC_SECRET_0 "); n != 2 {
				t.Errorf("key log: %d CLIENT_TRAFFIC_SECRET_0 lines, want 2 (responder and requester):\n%s", n, data)
			}
		}
		if n := len(w.Conns()); n != 3 {
			t.Errorf("%s: %d connections through the bridge, want 3", w.URL, n)
		}
	}
}
