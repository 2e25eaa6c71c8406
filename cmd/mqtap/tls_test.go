package main

import (
	"path/filepath"
	"strings"
	"testing"
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
