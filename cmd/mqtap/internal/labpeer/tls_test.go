package labpeer

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
	"github.com/mqtap/mqtap/session/brokertest"
)

// tlsCase is one TLS setup of the interop tests.
type tlsCase struct {
	name    string
	version string // --tls-version
	opts    brokertest.TLSBrokerOptions
	// secret is the key log label every connection must have written.
	secret string
	// suite is the suite the broker must have chosen (Go's name).
	suite string
}

var tlsCases = []tlsCase{
	{"tls1.2-rsa", "1.2", brokertest.TLSBrokerOptions{Key: keytest.KeyRSA, Ciphers: "ECDHE-RSA-AES128-GCM-SHA256"},
		"CLIENT_RANDOM", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	{"tls1.3-ecdsa", "1.3", brokertest.TLSBrokerOptions{Key: keytest.KeyECDSA, TLSVersion: "tlsv1.3", CiphersTLS13: "TLS_CHACHA20_POLY1305_SHA256"},
		"CLIENT_TRAFFIC_SECRET_0", "TLS_CHACHA20_POLY1305_SHA256"},
}

// keyLogLines returns the lines of the NSS key log file with this label,
// checking that each is "LABEL <64 hex client random> <hex secret>".
func keyLogLines(t *testing.T, file, label string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("key log: %v", err)
	}
	// OpenSSL adds "RSA <8 bytes of the encrypted premaster> <premaster>"
	// lines for RSA key exchange.
	line := regexp.MustCompile(`^([A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,128}|RSA [0-9a-f]{16} [0-9a-f]{96})$`)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue // Python writes a comment line when it creates the file
		}
		if !line.MatchString(l) {
			t.Errorf("%s: not an NSS key log line: %q", file, l)
		}
		if strings.HasPrefix(l, label+" ") {
			out = append(out, l)
		}
	}
	return out
}

// checkKeyLog fails unless file has exactly n lines of label (one per TLS
// connection) and, for TLS 1.3, the other three secrets of each.
func checkKeyLog(t *testing.T, file, label string, n int) {
	t.Helper()
	labels := []string{label}
	if label == "CLIENT_TRAFFIC_SECRET_0" {
		labels = append(labels, "SERVER_TRAFFIC_SECRET_0", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET")
	}
	for _, l := range labels {
		if got := len(keyLogLines(t, file, l)); got != n {
			data, _ := os.ReadFile(file)
			t.Errorf("%s: %d %s lines, want %d:\n%s", file, got, l, n, data)
		}
	}
	if label == "CLIENT_TRAFFIC_SECRET_0" {
		if got := len(keyLogLines(t, file, "CLIENT_RANDOM")); got != 0 {
			t.Errorf("%s: %d CLIENT_RANDOM lines in a TLS 1.3 key log", file, got)
		}
	}
}

// TestTLSGoRequestPythonRespond: the Go requester and the Python responder
// through a mosquitto TLS listener with a CA-signed certificate, TLS 1.2
// (RSA, AES-128-GCM) and TLS 1.3 (ECDSA, ChaCha20-Poly1305 chosen by the
// broker), each writing its own key log.
func TestTLSGoRequestPythonRespond(t *testing.T) {
	brokertest.CheckPython(t)
	for _, c := range tlsCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := brokertest.StartTLSBroker(t, c.opts)
			dir := t.TempDir()
			pyLog, goLog := filepath.Join(dir, "py.keylog"), filepath.Join(dir, "go.keylog")
			py := brokertest.StartPyResponder(t, "go2py", "--host", b.Host, "--port", strconv.Itoa(b.Port), "--protocol", "5",
				"--tls", "--cafile", b.CAFile, "--keylog", pyLog, "--tls-version", c.version, "--count", "2")
			if !strings.Contains(py.Log.String(), " over TLSv"+c.version+", ") {
				t.Errorf("Python responder's ready line does not say TLS %s: %s", c.version, py.Log.String())
			}
			v, _ := ParseTLSVersion(c.version)
			log := &brokertest.Buffer{}
			for _, action := range []string{"uppercase", "reverse"} {
				got, err := Request{
					Config: Config{Host: b.Host, Port: b.Port, Log: log,
						TLS: &TLSOptions{CAFile: b.CAFile, KeyLog: goLog, MinVersion: v, MaxVersion: v}},
					NetID: "go2py", Action: action, Message: labText,
				}.Run(context.Background())
				if err != nil {
					t.Fatalf("%s: %v\nPython responder:\n%s\nbroker:\n%s", action, err, py.Log.String(), b.Log())
				}
				checkAnswer(t, action, got)
			}
			if code := py.Wait(t, 10*time.Second); code != 0 {
				t.Fatalf("labpeer.py respond exited %d: %s", code, py.Log.String())
			}
			want := "over TLS " + c.version + ", " + c.suite + ", certificate verified"
			if n := len(log.Lines(want)); n != 2 {
				t.Errorf("Go requester logged %d connections %q, want 2:\n%s", n, want, log.String())
			}
			checkKeyLog(t, goLog, c.secret, 2) // O_APPEND: both runs
			checkKeyLog(t, pyLog, c.secret, 1)
		})
	}
}

// TestTLSPythonRequestGoRespond: the Python requester (MQTT 3.1.1 and 5)
// and the Go responder, as above.
func TestTLSPythonRequestGoRespond(t *testing.T) {
	brokertest.CheckPython(t)
	for _, c := range tlsCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := brokertest.StartTLSBroker(t, c.opts)
			dir := t.TempDir()
			pyLog, goLog := filepath.Join(dir, "py.keylog"), filepath.Join(dir, "go.keylog")
			v, _ := ParseTLSVersion(c.version)
			g := startGoResponder(t, b, Responder{
				Config: Config{TLS: &TLSOptions{CAFile: b.CAFile, KeyLog: goLog, MinVersion: v, MaxVersion: v}},
				NetIDs: []string{"py2go"}, Count: 2,
			})
			if want := "over TLS " + c.version + ", " + c.suite + ", certificate verified"; !strings.Contains(g.log.String(), want) {
				t.Errorf("Go responder's ready line does not say %q: %s", want, g.log.String())
			}
			for i, proto := range []string{"3.1.1", "5"} {
				action := []string{"lowercase", "title-case"}[i]
				out, errOut, code := brokertest.PyRun(t, 20*time.Second, "request", "py2go", action, labText,
					"--host", b.Host, "--port", strconv.Itoa(b.Port), "--protocol", proto,
					"--tls", "--cafile", b.CAFile, "--keylog", pyLog, "--tls-version", c.version, "-v")
				if code != 0 {
					t.Fatalf("labpeer.py request exited %d: %s\nGo responder:\n%s\nbroker:\n%s", code, errOut, g.log.String(), b.Log())
				}
				checkAnswer(t, action, strings.TrimSuffix(out, "\n"))
				if !strings.Contains(errOut, "over TLSv"+c.version+", ") {
					t.Errorf("labpeer.py -v does not report TLS %s: %s", c.version, errOut)
				}
			}
			if err := g.wait(t); err != nil {
				t.Errorf("Go responder: %v", err)
			}
			checkKeyLog(t, goLog, c.secret, 1)
			checkKeyLog(t, pyLog, c.secret, 2)
		})
	}
}

// TestTLSVerification: certificate checks of both peers against a CA
// listener and a self-signed one whose certificate names another host
// (as in seed 004: the client connects by address): a one-line error
// naming the reason without --insecure, success with it.
func TestTLSVerification(t *testing.T) {
	brokertest.CheckPython(t)
	ca := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{})
	self := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{SelfSigned: true, Key: keytest.KeyRSA, Hosts: []string{"broker.lab.invalid"}})
	selfLocal := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{SelfSigned: true})
	other, _ := keytest.NewCA(t, "other", keytest.KeyECDSA).Write(t, t.TempDir(), "other")
	plain := brokertest.StartBroker(t)

	goRun := func(b *brokertest.Broker, o *TLSOptions) error {
		_, err := Request{Config: Config{Host: b.Host, Port: b.Port, TLS: o}, NetID: "nobody", Action: "uppercase", Message: "x",
			Timeout: 200 * time.Millisecond}.Run(context.Background())
		return err
	}
	// A request that got past TLS and MQTT fails later, on the missing
	// responder.
	const passed = "no responder answered on nobody/key-exchange/response"
	goCases := []struct {
		name string
		b    *brokertest.Broker
		o    *TLSOptions
		want string
	}{
		{"ca trusted", ca, &TLSOptions{CAFile: ca.CAFile}, passed},
		{"ca system roots", ca, &TLSOptions{}, "the MQTT broker at " + ca.Addr() + " presented an untrusted certificate: x509: certificate signed by unknown authority (trust its CA with --cafile CA.pem, or skip verification with --insecure)"},
		{"ca other CA", ca, &TLSOptions{CAFile: other}, "presented an untrusted certificate: x509: certificate signed by unknown authority (its issuer is not in " + other},
		{"ca insecure", ca, &TLSOptions{Insecure: true}, passed},
		{"self-signed", selfLocal, &TLSOptions{}, "the MQTT broker at " + selfLocal.Addr() + ` presented an untrusted certificate: self-signed certificate "localhost" (trust it by passing the certificate itself with --cafile, or skip verification with --insecure)`},
		{"self-signed other CA", selfLocal, &TLSOptions{CAFile: other}, `self-signed certificate "localhost"`},
		{"self-signed as CA", selfLocal, &TLSOptions{CAFile: selfLocal.CAFile}, passed},
		// crypto/x509 checks the name before the chain, OpenSSL the chain first.
		{"self-signed, wrong name", self, &TLSOptions{}, "the MQTT broker at " + self.Addr() + ` presented an untrusted certificate: self-signed certificate "broker.lab.invalid", not valid for 127.0.0.1 either: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs (trust it with --cafile and connect with --host set to a name it is valid for, or skip verification with --insecure)`},
		{"self-signed as CA, wrong name", self, &TLSOptions{CAFile: self.CAFile}, "the MQTT broker's certificate does not match 127.0.0.1: x509: cannot validate certificate for 127.0.0.1"},
		{"self-signed insecure", self, &TLSOptions{Insecure: true}, passed},
		{"self-signed insecure and cafile", self, &TLSOptions{Insecure: true, CAFile: other}, passed},
		{"plain listener", plain, &TLSOptions{}, "TLS handshake with the MQTT broker at " + plain.Addr() + " failed: the broker closed the connection (a plain MQTT listener? then drop --tls)"},
		{"tls listener, no tls", ca, nil, "MQTT connect to " + ca.Addr() + ": "},
	}
	for _, c := range goCases {
		t.Run("go/"+c.name, func(t *testing.T) {
			err := goRun(c.b, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v\nwant one line with %q", err, c.want)
			}
		})
	}
	if err := goRun(ca, nil); err == nil || !strings.HasSuffix(err.Error(), "(the broker closed the connection: a TLS listener? then add --tls)") {
		t.Errorf("plain MQTT to a TLS listener: err = %v, want a hint to --tls", err)
	}

	pyRun := func(b *brokertest.Broker, args ...string) (string, int) {
		_, errOut, code := brokertest.PyRun(t, 20*time.Second, append([]string{"request", "nobody", "uppercase", "x",
			"--host", b.Host, "--port", strconv.Itoa(b.Port), "--timeout", "200ms"}, args...)...)
		return errOut, code
	}
	pyPassed := "labpeer.py: no responder answered on nobody/key-exchange/response within 0.2s\n"
	pyCases := []struct {
		name string
		b    *brokertest.Broker
		args []string
		want string
	}{
		{"ca trusted", ca, []string{"--tls", "--cafile", ca.CAFile}, pyPassed},
		{"ca system roots", ca, []string{"--tls"}, "labpeer.py: the MQTT broker at " + ca.Addr() + " presented an untrusted certificate: unable to get local issuer certificate (trust its CA"},
		{"ca insecure", ca, []string{"--tls", "--insecure"}, pyPassed},
		{"self-signed", self, []string{"--tls"}, "labpeer.py: the MQTT broker at " + self.Addr() + " presented an untrusted certificate: self-signed certificate (trust its CA, or a self-signed certificate itself, with --cafile; or skip verification with --insecure)"},
		{"self-signed as CA", selfLocal, []string{"--tls", "--cafile", selfLocal.CAFile}, pyPassed},
		{"self-signed as CA, wrong name", self, []string{"--tls", "--cafile", self.CAFile}, "labpeer.py: the MQTT broker's certificate does not match 127.0.0.1: IP address mismatch, certificate is not valid for '127.0.0.1'. (use --host"},
		{"self-signed insecure", self, []string{"--tls", "--insecure", "--cafile", other}, pyPassed},
		{"plain listener", plain, []string{"--tls"}, "labpeer.py: TLS handshake with the MQTT broker at " + plain.Addr() + " failed: the broker closed the connection (a plain MQTT listener? then drop --tls)"},
	}
	for _, c := range pyCases {
		t.Run("python/"+c.name, func(t *testing.T) {
			errOut, code := pyRun(c.b, c.args...)
			if code != 1 || !strings.HasPrefix(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q\nwant exit 1 and one line starting %q", code, errOut, c.want)
			}
		})
	}
}

// TestTLSNegotiationErrors: a broker that will not speak the client's TLS
// version or any of its suites; a suite pinned on the client.
func TestTLSNegotiationErrors(t *testing.T) {
	brokertest.CheckPython(t)
	only13 := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{TLSVersion: "tlsv1.3"})
	gcm := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{Key: keytest.KeyRSA, Ciphers: "ECDHE-RSA-AES256-GCM-SHA384"})
	run := func(b *brokertest.Broker, o TLSOptions) (*brokertest.Buffer, error) {
		o.CAFile = b.CAFile
		log := &brokertest.Buffer{}
		_, err := Request{Config: Config{Host: b.Host, Port: b.Port, TLS: &o, Log: log}, NetID: "nobody", Action: "uppercase", Message: "x",
			Timeout: 200 * time.Millisecond}.Run(context.Background())
		return log, err
	}
	_, err := run(only13, TLSOptions{MaxVersion: tls.VersionTLS12})
	if want := "TLS handshake with the MQTT broker at " + only13.Addr() + ` failed: the broker sent alert "protocol version not supported" (see --tls-version)`; err == nil || err.Error() != want {
		t.Errorf("TLS 1.2 to a TLS 1.3 listener: err = %v\nwant %s", err, want)
	}
	cs, _ := ParseCipherSuites("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
	_, err = run(gcm, TLSOptions{MaxVersion: tls.VersionTLS12, CipherSuites: cs})
	if want := "TLS handshake with the MQTT broker at " + gcm.Addr() + ` failed: the broker sent alert "handshake failure" (no cipher suite in common? see --ciphers and --tls-version)`; err == nil || err.Error() != want {
		t.Errorf("no suite in common: err = %v\nwant %s", err, want)
	}
	cs, _ = ParseCipherSuites("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
	log, err := run(gcm, TLSOptions{MaxVersion: tls.VersionTLS12, CipherSuites: cs})
	if err == nil || !strings.HasPrefix(err.Error(), "no responder answered") || !strings.Contains(log.String(), "over TLS 1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,") {
		t.Errorf("pinned suite: err = %v, log %s", err, log.String())
	}
	// Without a maximum, the broker's ciphers (TLS 1.2 only) do not stop
	// TLS 1.3: mosquitto's tls_version is a minimum.
	log, err = run(gcm, TLSOptions{CipherSuites: cs})
	if err == nil || !strings.Contains(log.String(), "over TLS 1.3, ") {
		t.Errorf("TLS 1.2 suites without --tls-version: err = %v, log %s", err, log.String())
	}
	_, errOut, code := brokertest.PyRun(t, 20*time.Second, "request", "nobody", "uppercase", "x", "--host", gcm.Host, "--port", strconv.Itoa(gcm.Port),
		"--tls", "--cafile", gcm.CAFile, "--tls-version", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305")
	if code != 1 || !strings.HasPrefix(errOut, "labpeer.py: TLS handshake with the MQTT broker at "+gcm.Addr()+" failed: SSLV3_ALERT_HANDSHAKE_FAILURE (no cipher suite in common?") {
		t.Errorf("Python, no suite in common: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = brokertest.PyRun(t, 20*time.Second, "request", "nobody", "uppercase", "x", "--tls", "--ciphers", "TLS_RSA_WITH_AES_128_CBC_SHA")
	if code != 1 || !strings.HasPrefix(errOut, "labpeer.py: --ciphers 'TLS_RSA_WITH_AES_128_CBC_SHA': OpenSSL knows none of these TLS 1.2 ciphers") {
		t.Errorf("Python, IANA name: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = brokertest.PyRun(t, 20*time.Second, "request", "nobody", "uppercase", "x", "--keylog", "k")
	if code != 2 || !strings.Contains(errOut, "--keylog needs --tls") {
		t.Errorf("Python, --keylog without --tls: exit %d, stderr %q", code, errOut)
	}
}

// TestTLSMosquittoClients documents how mosquitto_pub 2.0.11 checks
// certificates, next to the lab peers: --cafile verifies the chain and the
// host name; --insecure skips only the host name (the chain must still
// verify, so a self-signed broker needs its own certificate as --cafile);
// --insecure alone does not even turn TLS on.
func TestTLSMosquittoClients(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		t.Fatalf("mosquitto_pub is not installed (apt-get install mosquitto-clients): %v", err)
	}
	ca := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{})
	self := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{SelfSigned: true, Hosts: []string{"broker.lab.invalid"}})
	other, _ := keytest.NewCA(t, "other", keytest.KeyECDSA).Write(t, t.TempDir(), "other")
	cases := []struct {
		name string
		b    *brokertest.Broker
		args []string
		ok   bool
		msg  string // on stderr when it fails
	}{
		{"ca", ca, []string{"--cafile", ca.CAFile}, true, ""},
		{"ca by name", ca, []string{"--cafile", ca.CAFile, "-h", "localhost"}, true, ""},
		{"ca other CA", ca, []string{"--cafile", other}, false, "certificate verify failed"},
		{"self-signed, other CA, insecure", self, []string{"--insecure", "--cafile", other}, false, "certificate verify failed"},
		// only -d (debug) says why: "host name verification failed"
		{"self-signed as CA", self, []string{"--cafile", self.CAFile}, false, "Error: host name verification failed."},
		{"self-signed as CA, insecure", self, []string{"--insecure", "--cafile", self.CAFile}, true, ""},
		{"insecure alone is plain MQTT", self, []string{"--insecure"}, false, "Error: The connection was lost."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-h", c.b.Host, "-p", strconv.Itoa(c.b.Port), "-t", "probe", "-m", "x", "-q", "1", "-d"}, c.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if c.ok && err != nil {
				t.Errorf("mosquitto_pub %s: %v: %s", strings.Join(args, " "), err, out)
			}
			if !c.ok && (err == nil || !strings.Contains(string(out), c.msg)) {
				t.Errorf("mosquitto_pub %s: err %v, output %q; want a failure saying %q", strings.Join(args, " "), err, out, c.msg)
			}
		})
	}
	// The alert the client sent, as the broker logs it: unknown_ca when the
	// chain does not verify, internal_error when libmosquitto's own host
	// name check fails (seed 004's "tlsv1 alert internal error").
	for _, want := range []string{"tlsv1 alert unknown ca", "tlsv1 alert internal error"} {
		if err := brokertest.WaitFor(self.LogBuffer(), want, 5*time.Second, nil); err != nil {
			t.Errorf("self-signed broker: %v", err)
		}
	}
}

func TestParseTLSOptions(t *testing.T) {
	for s, want := range map[string]uint16{"1.2": tls.VersionTLS12, "tlsv1.3": tls.VersionTLS13, "TLS1.2": tls.VersionTLS12} {
		if v, err := ParseTLSVersion(s); err != nil || v != want {
			t.Errorf("ParseTLSVersion(%q) = %x, %v", s, v, err)
		}
	}
	if _, err := ParseTLSVersion("1.1"); err == nil || err.Error() != `unknown TLS version "1.1": want 1.2 or 1.3` {
		t.Errorf("ParseTLSVersion(1.1): %v", err)
	}
	cs, err := ParseCipherSuites("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls_rsa_with_aes_128_cbc_sha")
	if err != nil || len(cs) != 2 || cs[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 || cs[1] != tls.TLS_RSA_WITH_AES_128_CBC_SHA {
		t.Errorf("ParseCipherSuites: %v, %v", cs, err)
	}
	for s, want := range map[string]string{
		"ECDHE-RSA-AES128-GCM-SHA256":  `unknown TLS 1.2 cipher suite "ECDHE-RSA-AES128-GCM-SHA256" (that looks like an OpenSSL name; Go takes IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); known: `,
		"TLS_CHACHA20_POLY1305_SHA256": "cipher suite TLS_CHACHA20_POLY1305_SHA256 is not a TLS 1.2 suite: Go does not let TLS 1.3 suites be chosen",
		",":                            "no cipher suite given",
	} {
		if _, err := ParseCipherSuites(s); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseCipherSuites(%q): %v, want %q", s, err, want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate\n"), 0o644)
	if err := (TLSOptions{CAFile: bad}).Check(); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Check(bad CA file): %v", err)
	}
	if err := (TLSOptions{MinVersion: tls.VersionTLS13, CipherSuites: cs}).Check(); err == nil {
		t.Error("Check(TLS 1.3 with TLS 1.2 suites): no error")
	}
}
