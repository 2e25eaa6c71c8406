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

// tlsSamples are the samples of MQTT over TLS with the key logs of their
// clients (pcaps/samples/make-tls-samples.sh).
var tlsSamples = []string{"tls12-lab", "tls13-lab", "tls12-cbc"}

// TestTLSAgreesWithTshark decrypts the TLS samples with their key logs and
// compares every MQTT message with what tshark decrypts with the same key
// log, message for message and field for field.
func TestTLSAgreesWithTshark(t *testing.T) {
	for _, name := range tlsSamples {
		capture := filepath.Join("../../pcaps/samples", name+".pcapng")
		keyDir := filepath.Join("../../pcaps/samples/keys", name)
		keylog, _ := filepath.Abs(filepath.Join(keyDir, "tls.keylog"))
		total, agree, compared := compareWithTshark(t, capture, []string{"-o", "tls.keylog_file:" + keylog}, []string{"--keys", keyDir})
		t.Logf("%s: %d/%d messages agree (%d field values compared)", name, agree, total, compared)
		if total < 20 || agree != total {
			t.Errorf("%s: %d of %d messages agree; tshark decrypted %d", name, agree, total, total)
		}
	}
}

// TestTLSLabThroughBothLayers: the lab's Fernet messages inside TLS decrypt
// through both layers, and each record says which TLS protected it.
func TestTLSLabThroughBothLayers(t *testing.T) {
	for _, name := range tlsSamples {
		capture := filepath.Join("../../pcaps/samples", name+".pcapng")
		keyDir := filepath.Join("../../pcaps/samples/keys", name)
		code, out, stderr := mqtap("read", capture, "--keys", keyDir, "-Y", `mqtap.decrypt == "ok"`, "-T", "fields",
			"-e", "mqtap.plaintext", "-e", "mqtap.scheme", "-e", "mqtap.tls_version", "-e", "mqtap.tls_cipher")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 4 || !strings.Contains(out, "NETWORKING IS THE BEST!\tdh-fernet\tTLS 1.") {
			t.Errorf("%s: decrypted lab messages:\n%s", name, out)
		}
		version := map[string]string{"tls12-lab": "TLS 1.2", "tls13-lab": "TLS 1.3", "tls12-cbc": "TLS 1.2"}[name]
		for _, l := range lines {
			f := strings.Split(l, "\t")
			if len(f) != 4 || f[2] != version || f[3] == "" {
				t.Errorf("%s: %q lacks the TLS version %s or cipher", name, l, version)
			}
		}
		// mqtap.scheme is "tls" where TLS is the only protection.
		code, out, _ = mqtap("read", capture, "--keys", keyDir, "-Y", `mqtap.scheme == "tls" && mqtap.decrypt`)
		if code != 0 || out != "" {
			t.Errorf("%s: packets with both scheme tls and an end-to-end decryption:\n%s", name, out)
		}
		code, out, _ = mqtap("read", capture, "--keys", keyDir, "-Y", `mqtap.scheme == "tls"`, "-T", "fields", "-e", "mqtap.type")
		if code != 0 || !strings.Contains(out, "CONNECT\n") || strings.Contains(out, "dh-fernet") {
			t.Errorf("%s: scheme tls selects:\n%s", name, out)
		}
		// Without the key log nothing is decoded, and nothing is garbage.
		code, out, stderr = mqtap("read", capture)
		if code != 0 || out != "" {
			t.Errorf("%s without keys: exit %d, %d bytes of output, stderr %q", name, code, len(out), stderr)
		}
	}
}

// TestTLSCertificateAudit: the self-signed sample is flagged for the broker,
// and exactly the clients that went on after its certificate are flagged
// as accepting it.
func TestTLSCertificateAudit(t *testing.T) {
	code, out, stderr := mqtap("findings", "../../pcaps/samples/tls-selfsigned.pcapng", "-T", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `"code": "tls.untrusted-certificate"`) || !strings.Contains(out, "it is self-signed") {
		t.Errorf("no untrusted certificate finding:\n%s", out)
	}
	if n := strings.Count(out, `"code": "tls.accepted-untrusted-certificate"`); n != 2 {
		t.Errorf("%d accepting clients, want 2 (mosquitto_sub and mosquitto_pub):\n%s", n, out)
	}
	// With the CA-signed listener and its CA in the keyring: no finding.
	code, out, _ = mqtap("findings", "../../pcaps/samples/tls12-lab.pcapng", "--keys", "../../pcaps/samples/keys/tls12-lab")
	if code != 0 || strings.Contains(out, "tls.") {
		t.Errorf("findings on the CA-signed sample:\n%s", out)
	}
}

// TestTLSSessionsList: mqtap sessions --tls lists every TLS connection
// with its handshake, certificate and decryption, with and without keys.
func TestTLSSessionsList(t *testing.T) {
	code, out, stderr := mqtap("sessions", "--tls", "../../pcaps/samples/tls12-cbc.pcapng", "--keys", "../../pcaps/samples/keys/tls12-cbc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "CN=localhost,O=mqtap samples"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "  ok  "); n != 3 {
		t.Errorf("%d connections decrypted, want 3:\n%s", n, out)
	}
	code, out, _ = mqtap("sessions", "--tls", "../../pcaps/samples/tls13-lab.pcapng", "-T", "json")
	if code != 0 || strings.Count(out, `"decrypted": "no-key"`) != 3 || !strings.Contains(out, `"version": "TLS 1.3"`) ||
		!strings.Contains(out, `"cipher_suite": "TLS_CHACHA20_POLY1305_SHA256"`) || !strings.Contains(out, "no key log entry for the client random") {
		t.Errorf("sessions --tls -T json without keys:\n%s", out)
	}
	// read says why nothing is printed.
	_, out, stderr = mqtap("read", "../../pcaps/samples/tls13-lab.pcapng")
	if out != "" || !strings.Contains(stderr, "3 of 3 TLS connection(s) could not be decrypted") {
		t.Errorf("read without keys: stdout %q stderr %q", out, stderr)
	}
}

// TestSniffTLSLive: a live capture of a lab session over TLS decrypts as
// the clients append to their key log while mqtap runs.
func TestSniffTLSLive(t *testing.T) {
	needRoot(t)
	b := brokertest.StartTLSBroker(t, brokertest.TLSBrokerOptions{})
	port := strconv.Itoa(b.Port)
	dir := t.TempDir()
	keylog := filepath.Join(dir, "tls.keylog")
	os.WriteFile(keylog, nil, 0o600) // SSLKEYLOGFILE exists before the first connection
	run := startMqtap(t, "Capturing on 'lo'", "sniff", "-i", "lo", "-d", "tcp.port=="+port+",mqtt", "--keys", dir, "-T", "ndjson")
	respLog := &brokertest.Buffer{}
	go run2(respLog, "lab", "respond", "tlslive", "--host", "localhost", "--port", port, "--count", "1", "--tls", "--cafile", b.CAFile, "--keylog", keylog)
	if err := brokertest.WaitFor(respLog, "ready:", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mqtap("lab", "request", "tlslive", "uppercase", "inside tls", "--host", "localhost", "--port", port,
		"--tls", "--cafile", b.CAFile, "--keylog", keylog, "--save-keys", filepath.Join(dir, "dh"))
	if code != 0 || stdout != "INSIDE TLS\n" {
		t.Fatalf("lab request over TLS: exit %d %q %q", code, stdout, stderr)
	}
	waitForPlaintext(t, run, "INSIDE TLS")
	if code := run.interrupt(t); code != 0 {
		t.Fatalf("sniff exit %d: %s", code, run.stderr.String())
	}
	recs := ndjsonRecords(t, run.stdout.String())
	tlsRecs := 0
	for _, r := range recs {
		if field(r, "mqtap.tls_version") != "" {
			tlsRecs++
		}
	}
	if tlsRecs < 10 || tlsRecs != len(recs) {
		t.Errorf("%d of %d records came through TLS", tlsRecs, len(recs))
	}
}
