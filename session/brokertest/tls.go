package brokertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KeyType is the kind of key a test certificate carries.
type KeyType string

// Key types of test certificates.
const (
	// KeyECDSA is an ECDSA key on P-256 (certificates signed with
	// ECDSA-SHA256).
	KeyECDSA KeyType = "ecdsa-p256"
	// KeyRSA is a 2048-bit RSA key (certificates signed with
	// SHA256-RSA). RSA suites of TLS 1.2 (ECDHE-RSA-…, and RSA key
	// exchange such as AES128-SHA) need it.
	KeyRSA KeyType = "rsa-2048"
)

// DefaultHosts are the names a test server certificate is valid for
// unless TLSBrokerOptions.Hosts says otherwise.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// TLSBrokerOptions choose the certificate and the TLS settings of a
// mosquitto TLS listener (StartTLSBroker).
type TLSBrokerOptions struct {
	// SelfSigned makes the server certificate self-signed; otherwise a
	// fresh test CA ("mqtap test CA") signs it.
	SelfSigned bool
	// Key is the server's (and the CA's) key type; KeyECDSA when empty.
	Key KeyType
	// Hosts are the DNS names and IP addresses in the server
	// certificate's subjectAltName (the first one is also its common
	// name); DefaultHosts when empty.
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
		b.CertFile, b.KeyFile = SelfSignedCert(t, dir, "server", opts.Key, opts.Hosts)
		b.CAFile = b.CertFile
	} else {
		ca := NewCA(t, dir, "ca", opts.Key)
		b.CAFile = ca.CertFile
		b.CertFile, b.KeyFile = ca.Issue(t, dir, "server", opts.Key, opts.Hosts)
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

// CA is a test certificate authority whose certificate and key are PEM
// files.
type CA struct {
	// CertFile is the CA certificate (PEM), the file to pass as cafile.
	CertFile string
	// KeyFile is the CA's private key (PKCS#8 PEM).
	KeyFile string
	cert    *x509.Certificate
	key     crypto.Signer
}

// NewCA makes a CA ("mqtap test CA <name>", valid from an hour ago for a
// day) with a key of type kt (KeyECDSA when empty) and writes
// <dir>/<name>.pem and <dir>/<name>-key.pem.
func NewCA(t testing.TB, dir, name string, kt KeyType) *CA {
	t.Helper()
	key := newKey(t, kt)
	tmpl := template(t, "mqtap test CA "+name)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("creating the test CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{cert: cert, key: key}
	ca.CertFile, ca.KeyFile = writePair(t, dir, name, der, key)
	return ca
}

// Issue makes a server certificate signed by the CA for hosts (DNS names
// or IP addresses; DefaultHosts when empty) with a key of type kt
// (KeyECDSA when empty), writes <dir>/<name>.pem and <dir>/<name>-key.pem
// and returns their paths.
func (ca *CA) Issue(t testing.TB, dir, name string, kt KeyType, hosts []string) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t, kt)
	tmpl := serverTemplate(t, kt, hosts)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("issuing a test server certificate: %v", err)
	}
	return writePair(t, dir, name, der, key)
}

// SelfSignedCert makes a self-signed server certificate for hosts
// (DefaultHosts when empty) with a key of type kt (KeyECDSA when empty),
// as `openssl req -x509` does (basic constraints CA:TRUE, so that it can
// be its own trust anchor), writes <dir>/<name>.pem and
// <dir>/<name>-key.pem and returns their paths.
func SelfSignedCert(t testing.TB, dir, name string, kt KeyType, hosts []string) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t, kt)
	tmpl := serverTemplate(t, kt, hosts)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("creating a self-signed test certificate: %v", err)
	}
	return writePair(t, dir, name, der, key)
}

// serverTemplate is a TLS server certificate for hosts.
func serverTemplate(t testing.TB, kt KeyType, hosts []string) *x509.Certificate {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	tmpl := template(t, hosts[0])
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if kt == KeyRSA {
		// RSA key exchange (AES128-SHA and the like) encrypts the
		// premaster secret to this key.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	return tmpl
}

// template is a certificate named cn, valid from an hour ago for a day,
// with a random serial number.
func template(t testing.TB, cn string) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"mqtap tests"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

// newKey generates a key of type kt.
func newKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kt {
	case "", KeyECDSA:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key type %q (want %q or %q)", kt, KeyECDSA, KeyRSA)
	}
	if err != nil {
		t.Fatalf("generating a %s key: %v", kt, err)
	}
	return k
}

// writePair writes the certificate and its key as <dir>/<name>.pem and
// <dir>/<name>-key.pem (PKCS#8).
func writePair(t testing.TB, dir, name string, der []byte, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
