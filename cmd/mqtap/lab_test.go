package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
	"github.com/mqtap/mqtap/session/brokertest"
)

func TestLabUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"no subcommand", []string{"lab"}, "lab needs a subcommand: request or respond"},
		{"unknown subcommand", []string{"lab", "ask"}, `unknown lab subcommand "ask"`},
		{"no arguments", []string{"lab", "request"}, "request needs NETID ACTION MESSAGE..."},
		{"no message", []string{"lab", "request", "le0nh4rt", "uppercase"}, "request needs NETID ACTION MESSAGE..."},
		{"unknown action", []string{"lab", "request", "le0nh4rt", "upper", "x"}, `unknown action "upper": use one of uppercase, lowercase, title-case, reverse, shuffle`},
		{"netid with a slash", []string{"lab", "request", "le0n/h4rt", "uppercase", "x"}, "single MQTT topic level"},
		{"netid wildcard", []string{"lab", "respond", "le0nh4rt", "+"}, "single MQTT topic level"},
		{"hkdf info", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--hkdf-info", "one"}, "--hkdf-info: unknown HKDF info \"one\""},
		{"port", []string{"lab", "respond", "--port", "70000"}, "--port 70000 is not a TCP port"},
		{"timeout", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--timeout", "0s"}, "--timeout must be positive"},
		{"count", []string{"lab", "respond", "--count", "-1"}, "--count must not be negative"},
		{"unknown flag", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--qos", "2"}, "unknown flag: --qos"},
		{"cafile without tls", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--cafile", "ca.pem"}, "--cafile needs --tls (MQTT over TLS)"},
		{"insecure without tls", []string{"lab", "respond", "--insecure"}, "--insecure needs --tls"},
		{"keylog without tls", []string{"lab", "respond", "--keylog", "k"}, "--keylog needs --tls"},
		{"tls version", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--tls", "--tls-version", "1.1"}, `--tls-version: unknown TLS version "1.1": want 1.2 or 1.3`},
		{"openssl cipher name", []string{"lab", "respond", "--tls", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"}, `--ciphers: unknown TLS 1.2 cipher suite "ECDHE-RSA-AES128-GCM-SHA256" (that looks like an OpenSSL name; Go takes IANA names`},
		{"tls 1.3 cipher", []string{"lab", "respond", "--tls", "--ciphers", "TLS_AES_128_GCM_SHA256"}, "--ciphers: cipher suite TLS_AES_128_GCM_SHA256 is not a TLS 1.2 suite"},
		{"ciphers with tls 1.3", []string{"lab", "respond", "--tls", "--tls-version", "1.3", "--ciphers", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, "--ciphers chooses TLS 1.2 suites and --tls-version 1.3 rules TLS 1.2 out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := mqtap(c.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.HasPrefix(stderr, "mqtap: ") || !strings.Contains(stderr, c.msg) {
				t.Errorf("stderr %q does not say %q", stderr, c.msg)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 || stdout != "" {
				t.Errorf("want one line on stderr and nothing on stdout, got %q / %q", stderr, stdout)
			}
		})
	}
}

func TestLabRuntimeErrors(t *testing.T) {
	b := brokertest.StartBroker(t)
	port := brokertest.FreePort(t)
	missing := filepath.Join(t.TempDir(), "nope.pem")
	notParams := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(notParams, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644)
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unreachable", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--host", "127.0.0.1", "--port", strconv.Itoa(port)},
			fmt.Sprintf("mqtap: cannot reach the MQTT broker at 127.0.0.1:%d: connection refused", port)},
		{"respond unreachable", []string{"lab", "respond", "--host", "127.0.0.1", "--port", strconv.Itoa(port)},
			fmt.Sprintf("mqtap: cannot reach the MQTT broker at 127.0.0.1:%d: connection refused", port)},
		{"no responder", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--host", b.Host, "--port", strconv.Itoa(b.Port), "--timeout", "300ms"},
			"mqtap: no responder answered on le0nh4rt/key-exchange/response within 300ms (the broker reported no subscriber to le0nh4rt/key-exchange/request)"},
		{"dhparams missing", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--dhparams", missing}, "mqtap: --dhparams: reading DH parameters: open " + missing},
		{"dhparams not params", []string{"lab", "respond", "--dhparams", notParams}, "want \"DH PARAMETERS\""},
		{"cafile missing", []string{"lab", "respond", "--tls", "--cafile", missing}, "mqtap: --cafile: reading the CA file: open " + missing + ": no such file or directory"},
		{"cafile not a certificate", []string{"lab", "respond", "--tls", "--cafile", notParams}, "mqtap: --cafile: CA file " + notParams + " holds no PEM certificate"},
		{"tls to a plain listener", []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--host", b.Host, "--port", strconv.Itoa(b.Port), "--tls"},
			"mqtap: TLS handshake with the MQTT broker at " + b.Addr() + " failed: the broker closed the connection (a plain MQTT listener? then drop --tls)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := mqtap(c.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.msg) {
				t.Errorf("stderr %q does not say %q", stderr, c.msg)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 || stdout != "" {
				t.Errorf("want one line on stderr and nothing on stdout, got %q / %q", stderr, stdout)
			}
		})
	}
}

// TestLabRequestRespond runs both commands against each other and the
// Python peer through a real mosquitto: the response on stdout, nothing on
// stderr, the keys saved, the responder's log, --count.
func TestLabRequestRespond(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	port := strconv.Itoa(b.Port)
	dir := t.TempDir()
	respLog := &brokertest.Buffer{}
	respDone := make(chan int, 1)
	go func() {
		respDone <- run([]string{"lab", "respond", "le0nh4rt", "--host", b.Host, "--port", port, "--count", "2",
			"--save-keys", filepath.Join(dir, "responder"), "--client-id", "responder-go",
			"--dhparams", filepath.Join(shared(t), "captures", "lab", "dhparam4096.pem")}, &brokertest.Buffer{}, respLog)
	}()
	if err := brokertest.WaitFor(respLog, "ready: subscribed to le0nh4rt/+/request at "+b.Addr()+" as responder-go", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mqtap("lab", "request", "le0nh4rt", "uppercase", "Networking", "is", "the", "best!",
		"--host", b.Host, "--port", port, "--save-keys", filepath.Join(dir, "requester"))
	if code != 0 || stdout != "NETWORKING IS THE BEST!\n" || stderr != "" {
		t.Fatalf("request: exit %d, stdout %q, stderr %q; responder log:\n%s", code, stdout, stderr, respLog.String())
	}
	// the Python requester, MQTT 5, against the same responder
	out, errOut, pcode := brokertest.PyRun(t, 20*time.Second, "request", "le0nh4rt", "title-case", "they're 1st", "--host", b.Host, "--port", port, "--protocol", "5")
	if pcode != 0 || out != "They'Re 1St\n" {
		t.Fatalf("labpeer.py request: exit %d, stdout %q, stderr %q; responder log:\n%s", pcode, out, errOut, respLog.String())
	}
	select {
	case code := <-respDone:
		if code != 0 {
			t.Errorf("respond --count 2 exited %d: %s", code, respLog.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("respond --count 2 did not exit; log:\n%s", respLog.String())
	}
	lines := strings.Split(strings.TrimSpace(respLog.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "le0nh4rt key-exchange: answered requester key ") ||
		lines[2] != `le0nh4rt uppercase: answered "Networking is the best!" with "NETWORKING IS THE BEST!"` ||
		lines[4] != `le0nh4rt title-case: answered "they're 1st" with "They'Re 1St"` {
		t.Errorf("responder log:\n%s", respLog.String())
	}
	for side, n := range map[string]int{"requester": 1, "responder": 2} {
		files, _ := filepath.Glob(filepath.Join(dir, side, "le0nh4rt-*.pem"))
		if len(files) != n {
			t.Errorf("%s: %d saved keys, want %d: %v", side, len(files), n, files)
		}
	}
	// with a Python responder: -v reports progress on stderr
	brokertest.StartPyResponder(t, "cosmo42", "--host", b.Host, "--port", port)
	code, stdout, stderr = mqtap("lab", "request", "cosmo42", "reverse", "abc", "--host", b.Host, "--port", port, "-v")
	if code != 0 || stdout != "cba\n" || !strings.Contains(stderr, "key exchange done with responder key ") {
		t.Fatalf("request -v: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestLabTLS runs both commands over TLS through a mosquitto TLS listener
// with a CA-signed certificate, TLS 1.2 and 1.3, with the Python peer as
// the other requester, every peer writing a key log; then the certificate
// checks against a self-signed listener.
func TestLabTLS(t *testing.T) {
	brokertest.CheckPython(t)
	for _, c := range []struct {
		version, label string
		opts           brokertest.TLSBrokerOptions
	}{
		{"1.2", "CLIENT_RANDOM", brokertest.TLSBrokerOptions{Key: keytest.KeyRSA}},
		{"1.3", "CLIENT_TRAFFIC_SECRET_0", brokertest.TLSBrokerOptions{CiphersTLS13: "TLS_CHACHA20_POLY1305_SHA256"}},
	} {
		t.Run("tls"+c.version, func(t *testing.T) {
			b := brokertest.StartTLSBroker(t, c.opts)
			port := strconv.Itoa(b.Port)
			dir := t.TempDir()
			goLog, respLogFile, pyLog := filepath.Join(dir, "go-request.keylog"), filepath.Join(dir, "go-respond.keylog"), filepath.Join(dir, "py.keylog")
			tlsArgs := []string{"--host", b.Host, "--port", port, "--tls", "--cafile", b.CAFile, "--tls-version", c.version}
			respLog := &brokertest.Buffer{}
			respDone := make(chan int, 1)
			go func() {
				respDone <- run(append([]string{"lab", "respond", "le0nh4rt", "--count", "2", "--client-id", "responder-go", "--keylog", respLogFile}, tlsArgs...),
					&brokertest.Buffer{}, respLog)
			}()
			if err := brokertest.WaitFor(respLog, "ready: subscribed to le0nh4rt/+/request at "+b.Addr()+" as responder-go over TLS "+c.version+", ", 10*time.Second, nil); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := mqtap(append([]string{"lab", "request", "le0nh4rt", "uppercase", "Networking", "is", "the", "best!", "--keylog", goLog, "-v"}, tlsArgs...)...)
			if code != 0 || stdout != "NETWORKING IS THE BEST!\n" || !strings.Contains(stderr, "connected to "+b.Addr()+" over TLS "+c.version+", ") {
				t.Fatalf("request: exit %d, stdout %q, stderr %q; responder log:\n%s", code, stdout, stderr, respLog.String())
			}
			out, errOut, pcode := brokertest.PyRun(t, 20*time.Second, append([]string{"request", "le0nh4rt", "reverse", "abc", "--keylog", pyLog}, tlsArgs...)...)
			if pcode != 0 || out != "cba\n" {
				t.Fatalf("labpeer.py request: exit %d, stdout %q, stderr %q; responder log:\n%s", pcode, out, errOut, respLog.String())
			}
			select {
			case code := <-respDone:
				if code != 0 {
					t.Errorf("respond --count 2 exited %d: %s", code, respLog.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("respond --count 2 did not exit; log:\n%s", respLog.String())
			}
			for _, f := range []string{goLog, respLogFile, pyLog} {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, l := range strings.Split(string(data), "\n") {
					if strings.HasPrefix(l, c.label+" ") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%s: %d %s lines, want 1:\n%s", f, n, c.label, data)
				}
			}
		})
	}

	self := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{SelfSigned: true})
	args := []string{"lab", "request", "le0nh4rt", "uppercase", "x", "--host", self.Host, "--port", strconv.Itoa(self.Port), "--tls", "--timeout", "200ms"}
	code, stdout, stderr := mqtap(args...)
	want := "mqtap: the MQTT broker at " + self.Addr() + ` presented an untrusted certificate: self-signed certificate "localhost" (trust it by passing the certificate itself with --cafile, or skip verification with --insecure)` + "\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("self-signed without --insecure: exit %d, stdout %q, stderr %q\nwant exit 1 and %q", code, stdout, stderr, want)
	}
	// --insecure gets through TLS and MQTT, and times out on the missing responder
	code, _, stderr = mqtap(append(args, "--insecure")...)
	if code != 1 || !strings.HasPrefix(stderr, "mqtap: no responder answered on le0nh4rt/key-exchange/response within 200ms") {
		t.Errorf("self-signed with --insecure: exit %d, stderr %q", code, stderr)
	}
}

// TestLabHelpTLS: the TLS flags are documented.
func TestLabHelpTLS(t *testing.T) {
	for _, sub := range []string{"request", "respond"} {
		code, stdout, _ := mqtap("lab", sub, "--help")
		for _, f := range []string{"--tls ", "--cafile FILE", "--insecure", "--keylog FILE", "--tls-version", "--ciphers SUITES"} {
			if code != 0 || !strings.Contains(stdout, f) {
				t.Errorf("lab %s --help: exit %d, no %q", sub, code, f)
			}
		}
	}
	_, stdout, _ := mqtap("lab", "--help")
	if !strings.Contains(stdout, "CLIENT_TRAFFIC_SECRET_0") {
		t.Errorf("lab --help does not explain --keylog:\n%s", stdout)
	}
}
