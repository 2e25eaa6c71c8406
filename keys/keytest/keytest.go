// Package keytest makes keys and certificates for tests.
//
// Keys are ECDSA P-256 or RSA 2048 (KeyType). Certificates are valid from
// an hour ago for a day and carry random serial numbers: a test CA
// (NewCA) and the server certificates it issues (Cert.Issue), or
// self-signed server certificates (SelfSigned). A Cert is held in memory,
// as crypto/tls wants it (Cert.TLS, Cert.Pool), and written as PEM files
// for the programs under test (Cert.Write). Failures fail the test.
package keytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
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

// DefaultHosts are the names a test server certificate is valid for when
// no hosts are given.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// NewKey generates a key of type kt (KeyECDSA when empty).
func NewKey(t testing.TB, kt KeyType) crypto.Signer {
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

// Cert is a test certificate and its private key.
type Cert struct {
	// Certificate is the certificate; Certificate.Raw is its DER.
	Certificate *x509.Certificate
	// Key is its private key.
	Key crypto.Signer
}

// NewCA makes a CA certificate named "mqtap test CA <name>" ("mqtap test
// CA" when name is empty) with a key of type kt (KeyECDSA when empty).
func NewCA(t testing.TB, name string, kt KeyType) *Cert {
	t.Helper()
	cn := "mqtap test CA"
	if name != "" {
		cn += " " + name
	}
	tmpl := template(t, cn)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return create(t, tmpl, nil, NewKey(t, kt))
}

// Issue makes a server certificate signed by the CA c for hosts (DNS
// names or IP addresses, the first also its common name; DefaultHosts
// when empty) with a key of type kt (KeyECDSA when empty).
func (c *Cert) Issue(t testing.TB, kt KeyType, hosts []string) *Cert {
	t.Helper()
	return create(t, serverTemplate(t, kt, hosts), c, NewKey(t, kt))
}

// SelfSigned makes a self-signed server certificate for hosts
// (DefaultHosts when empty) with a key of type kt (KeyECDSA when empty),
// as `openssl req -x509` does (basic constraints CA:TRUE, so that it can
// be its own trust anchor).
func SelfSigned(t testing.TB, kt KeyType, hosts []string) *Cert {
	t.Helper()
	tmpl := serverTemplate(t, kt, hosts)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	return create(t, tmpl, nil, NewKey(t, kt))
}

// create signs tmpl with the key of parent, or with key itself when
// parent is nil (self-signed).
func create(t testing.TB, tmpl *x509.Certificate, parent *Cert, key crypto.Signer) *Cert {
	t.Helper()
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Certificate, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatalf("creating the test certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Certificate: cert, Key: key}
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
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

// CertPEM is the certificate as PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Raw})
}

// KeyPEM is the certificate's private key as PKCS#8 PEM.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	return KeyPEM(t, c.Key)
}

// KeyPEM is key as PKCS#8 PEM.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLS is the certificate and its key for tls.Config.Certificates,
// followed by the chain (the CA, for a server that sends it).
func (c *Cert) TLS(chain ...*Cert) tls.Certificate {
	tc := tls.Certificate{Certificate: [][]byte{c.Certificate.Raw}, PrivateKey: c.Key, Leaf: c.Certificate}
	for _, ca := range chain {
		tc.Certificate = append(tc.Certificate, ca.Certificate.Raw)
	}
	return tc
}

// Pool is a certificate pool that trusts c alone, for
// tls.Config.RootCAs.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Certificate)
	return p
}

// Write writes the certificate as <dir>/<name>.pem and its key as
// <dir>/<name>-key.pem (PKCS#8) and returns their paths.
func (c *Cert) Write(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, c.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// KeyLogLine returns an NSS key log line (with its newline) for label,
// with a client random of 32 bytes random and a secret of n bytes secret.
func KeyLogLine(label string, random, secret byte, n int) string {
	return fmt.Sprintf("%s %x %x\n", label, bytes.Repeat([]byte{random}, 32), bytes.Repeat([]byte{secret}, n))
}
