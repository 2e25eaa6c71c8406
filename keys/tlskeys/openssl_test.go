package tlskeys

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
)

// lockedBuffer collects a process's output for waitOutput.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written.
func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len returns the number of bytes written.
func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// waitGrowth waits until out holds more than n bytes.
func waitGrowth(t *testing.T, out *lockedBuffer, n int, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); out.Len() <= n; {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOutput waits until what has printed want.
func waitOutput(t *testing.T, out *lockedBuffer, want, what string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := out.String()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			if len(s) > 3000 {
				s = "..." + s[len(s)-3000:]
			}
			t.Fatalf("%s did not print %.60q within 20 s; it printed:\n%s", what, want, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tlsProxy relays one TCP connection from a loopback port to target,
// recording the bytes of each direction.
type tlsProxy struct {
	ln       net.Listener
	done     chan struct{}
	c2s, s2c lockedBuffer
}

// startTLSProxy listens on a loopback port and relays the first
// connection to target.
func startTLSProxy(t *testing.T, target string) *tlsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tlsProxy{ln: ln, done: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		defer close(p.done)
		client, err := ln.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer server.Close()
		var wg sync.WaitGroup
		relay := func(dst, src net.Conn, rec *lockedBuffer) {
			defer wg.Done()
			io.Copy(io.MultiWriter(dst, rec), src)
			dst.(*net.TCPConn).CloseWrite()
		}
		wg.Add(2)
		go relay(server, client, &p.c2s)
		go relay(client, server, &p.s2c)
		wg.Wait()
	}()
	return p
}

// opensslProcess is a running openssl s_server or s_client.
type opensslProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   lockedBuffer
	name  string
}

// startOpenSSL starts openssl with args, its output (stdout and stderr)
// collected, killed at the end of the test if still running.
func startOpenSSL(t *testing.T, name string, args ...string) *opensslProcess {
	t.Helper()
	p := &opensslProcess{name: name}
	p.cmd = exec.Command("openssl", args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	exited := make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			p.cmd.Process.Kill()
			<-exited
		}
	})
	return p
}

// send writes a line (or a command letter) to the process's stdin.
func (p *opensslProcess) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line); err != nil {
		t.Fatalf("writing to %s: %v", p.name, err)
	}
}

// TestDecryptOpenSSL decrypts connections between openssl s_client
// and s_server, captured by a TCP proxy between them, with the key log
// s_client writes: TLS 1.2 CBC suites with encrypt-then-MAC (OpenSSL's
// default) and without, GCM, ChaCha20-Poly1305 and CCM; TLS 1.3 with every
// suite, and KeyUpdates in both directions.
func TestDecryptOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("the openssl command is needed (apt-get install openssl): %v", err)
	}
	dir := t.TempDir()
	rsaCert, rsaKey := keytest.SelfSigned(t, keytest.KeyRSA, nil).Write(t, dir, "rsa")
	ecCert, ecKey := keytest.SelfSigned(t, keytest.KeyECDSA, nil).Write(t, dir, "ec")
	cases := []struct {
		name    string
		args    []string // for both s_server and s_client
		client  []string // for s_client only
		ecdsa   bool
		suite   uint16
		etm     bool
		version uint16
	}{
		{name: "AES256-SHA256", args: []string{"-tls1_2", "-cipher", "AES256-SHA256"}, suite: 0x003D, etm: true},
		{name: "ECDHE-RSA-AES256-SHA384", args: []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"}, suite: 0xC028, etm: true},
		{name: "ECDHE-RSA-AES128-SHA", args: []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"}, suite: 0xC013, etm: true},
		{name: "ECDHE-RSA-AES256-SHA384/no_etm", args: []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"}, client: []string{"-no_etm"}, suite: 0xC028},
		{name: "AES128-SHA/no_etm", args: []string{"-tls1_2", "-cipher", "AES128-SHA"}, client: []string{"-no_etm"}, suite: 0x002F},
		{name: "ECDHE-ECDSA-AES256-SHA", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"}, ecdsa: true, suite: 0xC00A, etm: true},
		{name: "TLS1.0/ECDHE-RSA-AES128-SHA", args: []string{"-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"}, suite: 0xC013, etm: true},
		{name: "TLS1.1/AES256-SHA", args: []string{"-tls1_1", "-cipher", "AES256-SHA:@SECLEVEL=0"}, suite: 0x0035, etm: true},
		{name: "TLS1.0/AES256-SHA/no_etm", args: []string{"-tls1", "-cipher", "AES256-SHA:@SECLEVEL=0"}, client: []string{"-no_etm"}, suite: 0x0035},
		{name: "ECDHE-RSA-AES128-GCM-SHA256", args: []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, suite: 0xC02F},
		{name: "DHE-RSA-AES256-GCM-SHA384", args: []string{"-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"}, suite: 0x009F},
		{name: "ECDHE-RSA-CHACHA20-POLY1305", args: []string{"-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"}, suite: 0xCCA8},
		{name: "ECDHE-ECDSA-AES256-GCM-SHA384", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"}, ecdsa: true, suite: 0xC02C},
		{name: "ECDHE-ECDSA-AES128-CCM", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-CCM"}, ecdsa: true, suite: 0xC0AC},
		{name: "ECDHE-ECDSA-AES256-CCM8", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-CCM8"}, ecdsa: true, suite: 0xC0AF},
		{name: "AES256-CCM", args: []string{"-tls1_2", "-cipher", "AES256-CCM"}, suite: 0xC09D},
		{name: "TLS_CHACHA20_POLY1305_SHA256", args: []string{"-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"}, suite: 0x1303},
		{name: "TLS_AES_256_GCM_SHA384", args: []string{"-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"}, suite: 0x1302},
		{name: "TLS_AES_128_GCM_SHA256/ECDSA", args: []string{"-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"}, ecdsa: true, suite: 0x1301},
		{name: "TLS_AES_128_CCM_SHA256", args: []string{"-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"}, suite: 0x1304},
		{name: "TLS_AES_128_CCM_8_SHA256", args: []string{"-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"}, suite: 0x1305},
	}
	accept := regexp.MustCompile(`ACCEPT 127\.0\.0\.1:(\d+)`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tls13 := tc.args[0] == "-tls1_3"
			cert, key := rsaCert, rsaKey
			if tc.ecdsa {
				cert, key = ecCert, ecKey
			}
			srvArgs := append([]string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
				"-cert", cert, "-key", key}, tc.args...)
			srv := startOpenSSL(t, "s_server", srvArgs...)
			m := accept.FindStringSubmatch(waitOutput(t, &srv.out, "ACCEPT", "s_server"))
			if m == nil {
				t.Fatalf("s_server: no port in %q", srv.out.String())
			}
			proxy := startTLSProxy(t, "127.0.0.1:"+m[1])
			keylog := filepath.Join(dir, strings.ReplaceAll(tc.name, "/", "_")+".keylog")
			cliArgs := append([]string{"s_client", "-connect", proxy.ln.Addr().String(), "-keylogfile", keylog}, tc.args...)
			cli := startOpenSSL(t, "s_client", append(cliArgs, tc.client...)...)
			waitOutput(t, &cli.out, "Verify return code", "s_client")

			var sent [2]bytes.Buffer
			n := 0
			fromClient := func(line string) {
				t.Helper()
				n++
				line = fmt.Sprintf("hello %d from the client %s\n", n, line)
				sent[0].WriteString(line)
				cli.send(t, line)
				waitOutput(t, &srv.out, line, "s_server")
			}
			fromServer := func(line string) {
				t.Helper()
				n++
				line = fmt.Sprintf("hello %d from the server %s\n", n, line)
				sent[1].WriteString(line)
				srv.send(t, line)
				waitOutput(t, &cli.out, line, "s_client")
			}
			fromClient("")
			fromServer("")
			fromClient(strings.Repeat("0123456789", 2000)) // > 16 KiB: two reads, two records
			fromServer(strings.Repeat("9876543210", 300))
			if tls13 {
				// K: the client updates its keys and requests the
				// server's update; k: the server updates its keys alone.
				cli.send(t, "K\n")
				waitOutput(t, &cli.out, "KEYUPDATE", "s_client")
				fromClient("after K")
				fromServer("after K")
				// s_server's own messages are buffered: wait for its
				// KeyUpdate on the wire before sending more to it.
				before := proxy.s2c.Len()
				srv.send(t, "k\n")
				waitGrowth(t, &proxy.s2c, before, "s_server's KeyUpdate")
				fromServer("after k")
				fromClient("after k")
			}
			cli.send(t, "Q\n")
			select {
			case <-proxy.done:
			case <-time.After(20 * time.Second):
				t.Fatal("the connection did not end after Q")
			}

			data, err := os.ReadFile(keylog)
			if err != nil {
				t.Fatal(err)
			}
			kl, err := ParseKeyLog(bytes.NewReader(data), keylog)
			if err != nil {
				t.Fatal(err)
			}
			got := decryptTLSCapture(t, kl, []byte(proxy.c2s.String()), []byte(proxy.s2c.String()))
			if got.hellos.suite != tc.suite || got.hellos.etm != tc.etm || (got.hellos.version == 0x0304) != tls13 {
				t.Fatalf("negotiated %s 0x%04x ETM %v, want 0x%04x ETM %v", VersionName(got.hellos.version), got.hellos.suite, got.hellos.etm, tc.suite, tc.etm)
			}
			for dir := range 2 {
				if !bytes.Equal(got.app[dir], sent[dir].Bytes()) {
					t.Errorf("direction %d: decrypted %q\nsent %q", dir, trimMiddle(got.app[dir]), trimMiddle(sent[dir].Bytes()))
				}
			}
			if tls13 && (got.keyUpdates[0] < 1 || got.keyUpdates[1] < 2) {
				t.Errorf("KeyUpdates: %d from the client, %d from the server; want 1 and 2", got.keyUpdates[0], got.keyUpdates[1])
			}
			if !bytes.Equal(got.alerts[0], []byte{1, 0}) {
				t.Errorf("client alerts %x, want close_notify 0100", got.alerts[0])
			}
			suite, _ := SuiteByID(got.hellos.suite)
			t.Logf("%s %s ETM %v: %d+%d records, %d+%d KeyUpdates, key log of %d lines", VersionName(got.hellos.version), suite.Name,
				got.hellos.etm, got.records[0], got.records[1], got.keyUpdates[0], got.keyUpdates[1], countLines(data))
		})
	}
}

// trimMiddle shortens long data for messages.
func trimMiddle(b []byte) []byte {
	if len(b) <= 200 {
		return b
	}
	return append(append(bytes.Clone(b[:100]), "..."...), b[len(b)-100:]...)
}

// countLines counts the lines of data.
func countLines(data []byte) int {
	n := 0
	for s := bufio.NewScanner(bytes.NewReader(data)); s.Scan(); {
		n++
	}
	return n
}
