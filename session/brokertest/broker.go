// Package brokertest starts the real parts integration tests talk to and
// reads back what they carried.
//
// # Brokers and peers
//
// A mosquitto broker on a free loopback port (StartBroker; behind TLS,
// StartTLSBroker, with certificates of package keytest), and the Python
// peers (scripts/labpeer.py, scripts/wsmqtt.py) on /usr/bin/python3 with
// python3-cryptography, python3-paho-mqtt and python3-websockets. A
// missing part fails the test: these tests never skip.
//
// # WebSocket bridge
//
// Debian's mosquitto 2.0.11 cannot open a `protocol websockets` listener,
// so a WSBridge stands in front of a plain MQTT listener (StartWSBridge in
// tests, ListenWSBridge for cmd/mqtap-wsbridge and the sample scripts): it
// accepts the HTTP upgrade on one path with the subprotocol "mqtt" (or
// "mqttv3.1"), with or without permessage-deflate and TLS, and relays each
// WebSocket connection to its own TCP connection to the broker. The relay
// is faithful: the MQTT bytes each side sends reach the other unchanged;
// only their WebSocket framing towards the client is chosen (Framing: MQTT
// packets cut into several frames, packets sent together joined in one,
// pings between fragments). It counts the MQTT packets of each direction
// of each connection with its own reading of MQTT (PacketLen, not mqtap's
// decoder), which is the ground truth of a capture made through it. It is
// built on github.com/coder/websocket.
//
// # Captures
//
// StartCapture records what goes through a port of the loopback interface
// with tcpdump, and Records reads a capture back through the session
// pipeline, as mqtap read does.
package brokertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is the interpreter that has python3-cryptography and
// python3-paho-mqtt (Debian's packages install them for it).
const Python = "/usr/bin/python3"

// Broker is a running mosquitto.
type Broker struct {
	Host string
	Port int
	// TLS is set when the listener speaks MQTT over TLS (StartTLSBroker).
	TLS bool
	// CAFile verifies the broker's certificate (TLS only): the test CA's
	// certificate, or the self-signed server certificate itself.
	CAFile string
	// CertFile and KeyFile are the server's certificate and private key
	// (TLS only).
	CertFile, KeyFile string
	cmd               *exec.Cmd
	log               *Buffer
}

// Addr is host:port.
func (b *Broker) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// Log is what mosquitto has logged so far (errors and warnings; with TLS
// also notices, which name the OpenSSL error of a failed handshake).
func (b *Broker) Log() string { return b.log.String() }

// LogBuffer is mosquitto's log as it grows, for WaitFor.
func (b *Broker) LogBuffer() *Buffer { return b.log }

// StartBroker starts mosquitto (listener on a free 127.0.0.1 port,
// anonymous access, no persistence) and stops it when the test ends.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	port := FreePort(t)
	b := &Broker{Host: "127.0.0.1", Port: port}
	startMosquitto(t, b, fmt.Sprintf("listener %d 127.0.0.1\n", port), "")
	return b
}

// mosquittoBin finds the broker's executable.
func mosquittoBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err == nil {
		return bin
	}
	if _, e := os.Stat("/usr/sbin/mosquitto"); e == nil {
		return "/usr/sbin/mosquitto"
	}
	t.Fatalf("mosquitto is not installed (apt-get install mosquitto, or make deps): %v", err)
	return ""
}

// startMosquitto runs mosquitto with listener (its "listener" line and
// options) plus anonymous access, no persistence and logging to stderr,
// waits until b's port accepts connections, and stops it when the test
// ends. extraLog adds log_type lines.
func startMosquitto(t testing.TB, b *Broker, listener, extraLog string) {
	t.Helper()
	bin := mosquittoBin(t)
	dir := t.TempDir()
	conf := listener + "allow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n" + extraLog
	if os.Geteuid() == 0 {
		conf += "user root\n" // otherwise mosquitto drops to the mosquitto user
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.log = &Buffer{}
	b.cmd = exec.Command(bin, "-c", confPath)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("mosquitto exited at start: %s\nconfig:\n%s", b.log.String(), conf)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not listen on %s after 5s: %s", b.Addr(), b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on (at the
// time of the call), for servers that must be told their port (mosquitto).
// It is drawn at random below Linux's ephemeral range (32768 and up by
// default), so that the outgoing connections of tests running in parallel
// cannot take it before the server binds it, as they could a port the
// kernel picked.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 10000 + rand.IntN(22000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free TCP port of 127.0.0.1 between 10000 and 31999 in 100 tries")
	return 0
}

// Script is the path of scripts/labpeer.py in this checkout.
func Script() string { return scriptPath("labpeer.py") }

// scriptPath is the path of scripts/name in this checkout.
func scriptPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", name)
}

// CheckPython fails the test unless /usr/bin/python3 imports
// cryptography and paho.mqtt.
func CheckPython(t testing.TB) {
	t.Helper()
	checkImport(t, "cryptography, paho.mqtt.client", "python3-cryptography python3-paho-mqtt")
}

var (
	importsMu sync.Mutex
	imports   = map[string]error{}
)

// checkImport fails the test unless /usr/bin/python3 imports modules (a
// Python import list); packages names the Debian packages that provide
// them. Each list is tried once per test binary.
func checkImport(t testing.TB, modules, packages string) {
	t.Helper()
	importsMu.Lock()
	err, tried := imports[modules]
	if !tried {
		out, runErr := exec.Command(Python, "-c", "import "+modules).CombinedOutput()
		if runErr != nil {
			err = fmt.Errorf("%s cannot import %s (apt-get install %s, or make deps): %w: %s",
				Python, modules, packages, runErr, bytes.TrimSpace(out))
		}
		imports[modules] = err
	}
	importsMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

// PyRun runs labpeer.py with args and returns its stdout, stderr and exit
// code.
func PyRun(t testing.TB, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	CheckPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Python, append([]string{Script()}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("labpeer.py %s: still running after %v; stderr: %s", strings.Join(args, " "), timeout, e.String())
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return o.String(), e.String(), ee.ExitCode()
		}
		t.Fatalf("labpeer.py: %v", err)
	}
	return o.String(), e.String(), 0
}

// PyResponder is a running `labpeer.py respond`.
type PyResponder struct {
	cmd    *exec.Cmd
	Log    *Buffer
	exited chan struct{}
}

// StartPyResponder starts `labpeer.py respond ARGS...` and returns once it
// has logged its "ready:" line; it is stopped (SIGTERM) when the test ends.
func StartPyResponder(t testing.TB, args ...string) *PyResponder {
	t.Helper()
	CheckPython(t)
	p := &PyResponder{Log: &Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(Python, append([]string{Script(), "respond"}, args...)...)
	p.cmd.Stderr = p.Log
	p.cmd.Stdout = p.Log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting labpeer.py respond: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	if err := WaitFor(p.Log, "ready:", 10*time.Second, p.exited); err != nil {
		t.Fatalf("labpeer.py respond %s: %v", strings.Join(args, " "), err)
	}
	return p
}

// Wait waits for the responder to exit (as after --count) and returns its
// exit code.
func (p *PyResponder) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("labpeer.py respond still running after %v; log:\n%s", timeout, p.Log.String())
	}
	return -1
}

// WaitFor waits until b contains s; it gives up at the timeout or when
// stop (may be nil) is closed.
func WaitFor(b *Buffer, s string, timeout time.Duration, stop <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(b.String(), s) {
		select {
		case <-stop:
			if strings.Contains(b.String(), s) {
				return nil
			}
			return fmt.Errorf("exited before logging %q; log:\n%s", s, b.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q after %v; log:\n%s", s, timeout, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Buffer is a goroutine-safe bytes.Buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns the contents.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Lines returns the lines that contain s.
func (b *Buffer) Lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

var _ io.Writer = (*Buffer)(nil)
