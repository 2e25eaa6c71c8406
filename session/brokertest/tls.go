package brokertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/keys/keytest"
)

// TLSBrokerOptions choose the certificate and the TLS settings of a
// mosquitto TLS listener (StartTLSBroker).
type TLSBrokerOptions struct {
	// SelfSigned makes the server certificate self-signed; otherwise a
	// fresh test CA ("mqtap test CA ca") signs it.
	SelfSigned bool
	// Key is the server's (and the CA's) key type; keytest.KeyECDSA when
	// empty.
	Key keytest.KeyType
	// Hosts are the DNS names and IP addresses in the server
	// certificate's subjectAltName (the first one is also its common
	// name); keytest.DefaultHosts when empty.
	Hosts []string
	// TLSVersion is mosquitto's tls_version: the minimum version the
	// listener accepts ("tlsv1.2", "tlsv1.3"); mosquitto 2.0 has no
	// maximum, so TLS 1.3 stays possible with "tlsv1.2". Empty leaves
	// mosquitto's default (TLS 1.2 and 1.3).
	TLSVersion string
	// Ciphers is mosquitto's ciphers (OpenSSL names, colon-separated,
	// TLS 1.2 and earlier), e.g. "ECDHE-ECDSA-AES128-GCM-SHA256".
	Ciphers string
	// CiphersTLS13 is mosquitto's ciphers_tls1.3, e.g.
	// "TLS_CHACHA20_POLY1305_SHA256".
	CiphersTLS13 string
}

// StartTLSBroker starts mosquitto with one MQTT-over-TLS listener on a free
// 127.0.0.1 port (anonymous access, no persistence, no client
// certificates), with a server certificate made in t.TempDir() as opts
// say; it stops the broker when the test ends. The returned broker has
// TLS set and CAFile, the PEM file that verifies its certificate: the
// test CA's certificate, or with SelfSigned the server certificate itself.
// Failed handshakes are in Log() (mosquitto's notices).
func StartTLSBroker(t testing.TB, opts TLSBrokerOptions) *Broker {
	t.Helper()
	dir := t.TempDir()
	b := &Broker{Host: "127.0.0.1", Port: FreePort(t), TLS: true}
	if opts.SelfSigned {
		b.CertFile, b.KeyFile = keytest.SelfSigned(t, opts.Key, opts.Hosts).Write(t, dir, "server")
		b.CAFile = b.CertFile
	} else {
		ca := keytest.NewCA(t, "ca", opts.Key)
		b.CAFile, _ = ca.Write(t, dir, "ca")
		b.CertFile, b.KeyFile = ca.Issue(t, opts.Key, opts.Hosts).Write(t, dir, "server")
	}
	var l strings.Builder
	fmt.Fprintf(&l, "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n", b.Port, b.CertFile, b.KeyFile)
	for _, o := range []struct{ key, val string }{
		{"tls_version", opts.TLSVersion}, {"ciphers", opts.Ciphers}, {"ciphers_tls1.3", opts.CiphersTLS13},
	} {
		if o.val != "" {
			if strings.ContainsAny(o.val, " \n") {
				t.Fatalf("StartTLSBroker: %s %q: no spaces or newlines", o.key, o.val)
			}
			fmt.Fprintf(&l, "%s %s\n", o.key, o.val)
		}
	}
	startMosquitto(t, b, l.String(), "log_type notice\n")
	return b
}
