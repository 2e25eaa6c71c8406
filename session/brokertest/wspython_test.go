package brokertest_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

var summaryRE = regexp.MustCompile(`(?m)^summary: sent (.*); received (.*)$`)

// TestPythonWebsockets runs scripts/wsmqtt.py (python3-websockets, which
// compresses like a browser) through the bridge in every compression mode,
// with the bridge splitting what the broker sends into fragments with
// pings between them: the script's own counts of what it sent and received
// are the bridge's, and the negotiated extension is as offered.
func TestPythonWebsockets(t *testing.T) {
	brokertest.CheckWebsockets(t)
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{
		Compression: brokertest.CompressionContextTakeover,
		Framing:     brokertest.Framing{SplitTypes: []byte{2, 3, 9}, Cuts: []int{1, 2}, Ping: true, Join: true},
	})
	actions := []string{"sub:py/#:1", "pub:py/a:0:bonjour", "pub:py/b:1:salut", "json:py/c:1:40", "json:py/c:1:40", "recv:4", "ping", "wsping"}
	for i, c := range []struct {
		args []string
		ext  string
	}{
		{[]string{"--split-connect", "1"}, "permessage-deflate"},
		{[]string{"--protocol", "3.1.1", "--compression", "no-context-takeover"}, "permessage-deflate; client_no_context_takeover; server_no_context_takeover"},
		{[]string{"--compression", "none", "--split-connect", "9"}, ""},
	} {
		args := append(append([]string{w.URL, "--client-id", "py-" + c.args[1]}, c.args...), actions...)
		log, code := brokertest.WSRun(t, 30*time.Second, args...)
		if code != 0 {
			t.Fatalf("wsmqtt.py %v: exit %d:\n%s\nbridge:\n%s", c.args, code, log, w.Log.String())
		}
		waitClosed(t, w, i+1)
		st := w.Conns()[i]
		m := summaryRE.FindStringSubmatch(log)
		if m == nil || m[1] != st.Sent.String() || m[2] != st.Received.String() {
			t.Errorf("%v: the script counted %q, the bridge sent %s; received %s", c.args, m, st.Sent, st.Received)
		}
		if st.Extensions != c.ext || !strings.Contains(log, "extensions '"+c.ext+"'") {
			t.Errorf("%v: extensions %q, want %q\n%s", c.args, st.Extensions, c.ext, log)
		}
		if st.Sent[3] != 4 || st.Received[3] != 4 || st.Pings == 0 || st.ClientID != "py-"+c.args[1] {
			t.Errorf("%v: %+v", c.args, st)
		}
	}
}

// TestPythonSubprotocols checks what the script offers and accepts.
func TestPythonSubprotocols(t *testing.T) {
	brokertest.CheckWebsockets(t)
	b := brokertest.StartBroker(t)
	chat := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Subprotocols: []string{"chat"}})
	force := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{ForceSubprotocol: "chat"})
	for _, c := range []struct {
		w       *brokertest.WSBridge
		args    []string
		code    int
		offered string
		want    string
	}{
		{chat, []string{"--subprotocol", "chat"}, 0, "chat", "handshake: subprotocol 'chat'"},
		{chat, []string{"--no-subprotocol"}, 0, "", "handshake: subprotocol ''"},
		{chat, nil, 0, "mqtt", "handshake: subprotocol ''"},
		{force, nil, 1, "mqtt", "WebSocket handshake refused: unsupported subprotocol: chat"},
	} {
		log, code := brokertest.WSRun(t, 20*time.Second, append([]string{c.w.URL, "ping"}, c.args...)...)
		if code != c.code || !strings.Contains(log, c.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", c.args, code, c.code, c.want, log)
		}
		cs := c.w.Conns()
		if got := strings.Join(cs[len(cs)-1].Offered, ","); got != c.offered {
			t.Errorf("%v: offered %q, want %q", c.args, got, c.offered)
		}
	}
	log, code := brokertest.WSRun(t, 20*time.Second, strings.Replace(chat.URL, "/mqtt", "/nope", 1), "ping")
	if code != 1 || strings.Count(log, "\n") != 1 || !strings.Contains(log, "HTTP 404 instead of a WebSocket upgrade") {
		t.Errorf("wrong path: exit %d, %q", code, log)
	}
}
