package labpeer

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// wsConfig is a Config for the bridge w: ws://, or wss:// with its CA and
// the key log file keyLog.
func wsConfig(w *brokertest.WSBridge, log *brokertest.Buffer, keyLog string) Config {
	cfg := Config{Host: w.Host, Port: w.Port, WebSocket: &WSOptions{Path: "/mqtt"}, Log: log}
	if w.CAFile != "" {
		cfg.TLS = &TLSOptions{CAFile: w.CAFile, KeyLog: keyLog}
	}
	return cfg
}

// pyWSArgs are labpeer.py's options for the bridge w.
func pyWSArgs(w *brokertest.WSBridge, keyLog string) []string {
	args := []string{"--host", w.Host, "--port", strconv.Itoa(w.Port), "--transport", "websockets"}
	if w.CAFile != "" {
		args = append(args, "--tls", "--cafile", w.CAFile, "--keylog", keyLog)
	}
	return args
}

// splitAll cuts the broker's CONNACK, PUBLISH, PUBACK, SUBACK and PINGRESP
// after their first byte and two more, and joins the others it sends
// together. No pings: paho-mqtt 1.6 answers a Ping with an unmasked Pong,
// which the bridge (RFC 6455 5.1) refuses; pingAll adds them for the Go peer.
var (
	splitAll = brokertest.Framing{SplitTypes: []byte{2, 3, 4, 9, 13}, Cuts: []int{1, 2}, Join: true}
	pingAll  = brokertest.Framing{SplitTypes: []byte{2, 3, 4, 9, 13}, Cuts: []int{1, 2}, Join: true, Ping: true}
)

// TestWSGoRequestPythonRespond: the Go requester over ws:// and wss://,
// paho-mqtt's responder (MQTT 3.1.1, its own WebSocket transport) through
// the bridge, whose framing splits the broker's packets into fragments.
func TestWSGoRequestPythonRespond(t *testing.T) {
	brokertest.CheckPython(t)
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			t.Parallel()
			b := brokertest.StartBroker(t)
			w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{TLS: secure, Framing: splitAll})
			dir := t.TempDir()
			goLog, pyLog := filepath.Join(dir, "go.keylog"), filepath.Join(dir, "py.keylog")
			py := brokertest.StartPyResponder(t, append([]string{"ws2py", "--count", "2"}, pyWSArgs(w, pyLog)...)...)
			over := " over WebSocket"
			if secure {
				over = " over WebSocket in TLSv1.3, "
			}
			if !strings.Contains(py.Log.String(), over) || !strings.Contains(py.Log.String(), w.URL) {
				t.Errorf("ready line: %s", py.Log.String())
			}
			log := &brokertest.Buffer{}
			for _, action := range []string{"uppercase", "reverse"} {
				got, err := Request{Config: wsConfig(w, log, goLog), NetID: "ws2py", Action: action, Message: labText}.Run(context.Background())
				if err != nil {
					t.Fatalf("%s: %v\nPython responder:\n%s\nbridge:\n%s", action, err, py.Log.String(), w.Log.String())
				}
				checkAnswer(t, action, got)
			}
			if code := py.Wait(t, 10*time.Second); code != 0 {
				t.Fatalf("labpeer.py respond exited %d: %s", code, py.Log.String())
			}
			want := `over WebSocket, subprotocol "mqtt"`
			if secure {
				want = `over WebSocket in TLS 1.3, `
				checkKeyLog(t, goLog, "CLIENT_TRAFFIC_SECRET_0", 2)
				checkKeyLog(t, pyLog, "CLIENT_TRAFFIC_SECRET_0", 1)
			}
			if n := len(log.Lines("connected to " + w.URL + " " + want)); n != 2 {
				t.Errorf("Go requester logged %d connections %q, want 2:\n%s", n, want, log.String())
			}
			checkBridge(t, w, 3, false)
		})
	}
}

// TestWSGoBoth: the Go requester and responder over ws:// through the
// bridge, with a Ping inside every fragmented message.
func TestWSGoBoth(t *testing.T) {
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Framing: pingAll})
	rlog := &brokertest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Responder{Config: wsConfig(w, rlog, ""), NetIDs: []string{"go2go"}, Count: 1}.Run(ctx)
	}()
	if err := brokertest.WaitFor(rlog, "ready:", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	got, err := Request{Config: wsConfig(w, &brokertest.Buffer{}, ""), NetID: "go2go", Action: "title-case", Message: labText}.Run(ctx)
	if err != nil {
		t.Fatalf("%v\nresponder:\n%s", err, rlog.String())
	}
	checkAnswer(t, "title-case", got)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkBridge(t, w, 2, true)
}

// checkBridge checks that the bridge relayed n connections, each with a
// CONNECT, a CONNACK and, when pings is set, pings between fragments.
func checkBridge(t *testing.T, w *brokertest.WSBridge, n int, pings bool) {
	t.Helper()
	cs := w.Conns()
	if len(cs) != n {
		t.Fatalf("%d connections through the bridge, want %d:\n%s", len(cs), n, w.Log.String())
	}
	for _, c := range cs {
		if c.Sent[1] != 1 || c.Received[2] != 1 || (c.Pings > 0) != pings || c.Subprotocol != "mqtt" {
			t.Errorf("connection %+v", c)
		}
	}
}

// TestWSPythonRequestGoRespond: paho-mqtt's requester (MQTT 3.1.1 and 5)
// and the Go responder through the bridge.
func TestWSPythonRequestGoRespond(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{Framing: splitAll})
	log := &brokertest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Responder{Config: wsConfig(w, log, ""), NetIDs: []string{"py2ws"}, Count: 2}.Run(ctx)
	}()
	if err := brokertest.WaitFor(log, "ready:", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "at "+w.URL+" as ") {
		t.Errorf("ready line: %s", log.String())
	}
	for _, proto := range []string{"3.1.1", "5"} {
		args := append([]string{"request", "py2ws", "uppercase", labText, "--protocol", proto}, pyWSArgs(w, "")...)
		out, errOut, code := brokertest.PyRun(t, 20*time.Second, args...)
		if code != 0 {
			t.Fatalf("labpeer.py --protocol %s: exit %d: %s\nGo responder:\n%s", proto, code, errOut, log.String())
		}
		checkAnswer(t, "uppercase", strings.TrimSuffix(out, "\n"))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Go responder: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Go responder still running:\n%s", log.String())
	}
	checkBridge(t, w, 3, false)
}

// TestWSErrors: a WebSocket endpoint that is not there is one line from
// either peer.
func TestWSErrors(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	w := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{})
	chat := brokertest.StartWSBridge(t, b, brokertest.WSBridgeOptions{ForceSubprotocol: "chat"})
	free := brokertest.FreePort(t)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Host: "127.0.0.1", Port: free, WebSocket: &WSOptions{}}, fmt.Sprintf("cannot reach the MQTT broker at ws://127.0.0.1:%d/mqtt: connection refused (is the broker running? see --url)", free)},
		{Config{Host: w.Host, Port: w.Port, WebSocket: &WSOptions{Path: "/wrong"}}, "MQTT over WebSocket to " + strings.Replace(w.URL, "/mqtt", "/wrong", 1) + ": HTTP 404 Not Found: no WebSocket endpoint at /wrong"},
		{Config{Host: chat.Host, Port: chat.Port, WebSocket: &WSOptions{}}, `the server chose the WebSocket subprotocol "chat", not mqtt`},
		{Config{Host: w.Host, Port: w.Port, WebSocket: &WSOptions{}, TLS: &TLSOptions{}}, "TLS handshake with the MQTT broker at " + w.Addr().String() + " failed"},
	} {
		_, err := Request{Config: c.cfg, NetID: "x", Action: "uppercase", Message: "m", Timeout: time.Second}.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v; want one line with %q", c.cfg, err, c.want)
		}
	}
	_, errOut, code := brokertest.PyRun(t, 10*time.Second, "request", "x", "uppercase", "m", "--host", w.Host,
		"--port", strconv.Itoa(w.Port), "--transport", "websockets", "--ws-path", "/wrong")
	if want := "the WebSocket upgrade at ws://" + w.Addr().String() + "/wrong failed"; code != 1 || !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("labpeer.py --ws-path /wrong: exit %d, %q; want one line with %q", code, errOut, want)
	}
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in     string
		host   string
		port   int
		path   string
		secure bool
		err    string
	}{
		{in: "ws://localhost:8080/mqtt", host: "localhost", port: 8080, path: "/mqtt"},
		{in: "wss://broker.lab/mqtt", host: "broker.lab", port: 443, path: "/mqtt", secure: true},
		{in: "ws://[::1]", host: "::1", port: 80, path: "/"},
		{in: "mqtt://localhost:1883", err: "want ws:// or wss://"},
		{in: "ws://h/mqtt?x=1", err: "no query string"},
	} {
		host, port, ws, secure, err := ParseURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || host != c.host || port != c.port || ws.Path != c.path || secure != c.secure {
			t.Errorf("%q: %q %d %+v %v %v", c.in, host, port, ws, secure, err)
		}
	}
}

// FuzzParseURL checks that ParseURL never panics and gives a usable host
// and port for what it accepts.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"ws://localhost:8080/mqtt", "wss://[::1]/", "ws://h/p?q", "mqtt://h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, ws, _, err := ParseURL(s)
		if err != nil {
			return
		}
		if host == "" || port < 1 || port > 65535 || ws == nil || !strings.HasPrefix(ws.Path, "/") {
			t.Fatalf("%q: host %q, port %d, %+v", s, host, port, ws)
		}
	})
}
