package labpeer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

// TLSOptions make a peer speak MQTT over TLS (as to mosquitto's 8883
// listeners). The zero value verifies the broker's certificate
// against the system's roots and its name against Config.Host, and
// accepts TLS 1.2 and 1.3 with Go's default cipher suites.
type TLSOptions struct {
	// CAFile is a PEM file of CA certificates to trust instead of the
	// system's (a self-signed broker certificate is its own CA).
	CAFile string
	// Insecure skips every check of the broker's certificate: chain,
	// validity and name (crypto/tls InsecureSkipVerify). Unlike
	// mosquitto_pub's --insecure, which only skips the name check.
	Insecure bool
	// KeyLog is a file the TLS secrets of every connection are appended
	// to, in the NSS key log format (SSLKEYLOGFILE): CLIENT_RANDOM lines
	// for TLS 1.2, *_TRAFFIC_SECRET_* lines for TLS 1.3. Wireshark and
	// mqtap decrypt a capture of the connection with it.
	KeyLog string
	// MinVersion and MaxVersion bound the TLS version (tls.VersionTLS12,
	// tls.VersionTLS13); 0 means TLS 1.2 and TLS 1.3 respectively.
	MinVersion, MaxVersion uint16
	// CipherSuites are the TLS 1.2 cipher suites offered (see
	// ParseCipherSuites); nil means Go's defaults. Go does not let TLS
	// 1.3 suites be chosen.
	CipherSuites []uint16
}

// ParseTLSVersion maps "1.2" or "1.3" (also "tlsv1.2", "TLS1.3") to a
// crypto/tls version.
func ParseTLSVersion(s string) (uint16, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "tls"), "v")
	switch v {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q: want 1.2 or 1.3", s)
}

// ParseCipherSuites maps a comma-separated list of IANA names of TLS 1.2
// cipher suites (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, …) to their ids,
// including the ones Go considers insecure (TLS_RSA_WITH_AES_128_CBC_SHA,
// …). TLS 1.3 suites are refused: Go always offers all three.
func ParseCipherSuites(s string) ([]uint16, error) {
	byName := map[string]*tls.CipherSuite{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs
	}
	var out []uint16
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		cs, ok := byName[strings.ToUpper(name)]
		if !ok {
			hint := ""
			if !strings.HasPrefix(strings.ToUpper(name), "TLS_") {
				hint = " (that looks like an OpenSSL name; Go takes IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
			}
			return nil, fmt.Errorf("unknown TLS 1.2 cipher suite %q%s; known: %s", name, hint, strings.Join(tls12SuiteNames(byName), ", "))
		}
		tls12 := false
		for _, v := range cs.SupportedVersions {
			if v == tls.VersionTLS12 {
				tls12 = true
			}
		}
		if !tls12 {
			return nil, fmt.Errorf("cipher suite %s is not a TLS 1.2 suite: Go does not let TLS 1.3 suites be chosen (the broker can: mosquitto's ciphers_tls1.3)", cs.Name)
		}
		out = append(out, cs.ID)
	}
	if len(out) == 0 {
		return nil, errors.New("no cipher suite given")
	}
	return out, nil
}

// tls12SuiteNames lists the TLS 1.2 suites Go knows, sorted.
func tls12SuiteNames(byName map[string]*tls.CipherSuite) []string {
	var names []string
	for n, cs := range byName {
		for _, v := range cs.SupportedVersions {
			if v == tls.VersionTLS12 {
				names = append(names, n)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// Check validates the options without connecting: the versions and
// suites agree, and the CA file holds at least one certificate.
func (o TLSOptions) Check() error {
	_, err := o.clientConfig("localhost")
	return err
}

// clientConfig is the crypto/tls configuration to reach host with.
func (o TLSOptions) clientConfig(host string) (*tls.Config, error) {
	minV, maxV := o.MinVersion, o.MaxVersion
	if minV == 0 {
		minV = tls.VersionTLS12
	}
	if maxV == 0 {
		maxV = tls.VersionTLS13
	}
	if minV > maxV {
		return nil, fmt.Errorf("TLS minimum version %s is above the maximum %s", tls.VersionName(minV), tls.VersionName(maxV))
	}
	if len(o.CipherSuites) > 0 && minV == tls.VersionTLS13 {
		return nil, errors.New("TLS 1.2 cipher suites given with TLS 1.3 only: Go does not let TLS 1.3 suites be chosen")
	}
	cfg := &tls.Config{
		ServerName:         host,
		MinVersion:         minV,
		MaxVersion:         maxV,
		CipherSuites:       o.CipherSuites,
		InsecureSkipVerify: o.Insecure,
	}
	if o.CAFile != "" {
		data, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		n := 0
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("CA file %s: certificate %d: %w", o.CAFile, n+1, err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// dialTLS connects to addr and completes the TLS handshake, appending the
// connection's secrets to the key log file when one is set. Go writes
// every secret during the handshake, so the file is closed once it is
// done.
func dialTLS(ctx context.Context, o TLSOptions, host, addr string) (*tls.Conn, error) {
	cfg, err := o.clientConfig(host)
	if err != nil {
		return nil, err
	}
	if o.KeyLog != "" {
		f, err := os.OpenFile(o.KeyLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening the TLS key log: %w", err)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the MQTT broker at %s: %s", addr, dialReason(err))
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, handshakeError(addr, host, o, err)
	}
	return tc, nil
}

// handshakeError says in one line why the handshake with addr failed and
// what to do about it.
func handshakeError(addr, host string, o TLSOptions, err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		op       *net.OpError
		rec      tls.RecordHeaderError
	)
	cause := err
	if errors.As(err, &verify) {
		cause = verify.Err
	}
	switch {
	case errors.As(err, &unknown):
		how := "trust its CA with --cafile CA.pem"
		if o.CAFile != "" {
			how = "its issuer is not in " + o.CAFile + "; give the CA that signed it with --cafile"
		}
		if c := unknown.Cert; c != nil && c.Subject.String() == c.Issuer.String() {
			return fmt.Errorf("the MQTT broker at %s presented an untrusted certificate: self-signed certificate %q (trust it by passing the certificate itself with --cafile, or skip verification with --insecure)",
				addr, c.Subject.CommonName)
		}
		return fmt.Errorf("the MQTT broker at %s presented an untrusted certificate: %w (%s, or skip verification with --insecure)", addr, unknown, how)
	case errors.As(err, &hostname):
		// crypto/x509 checks the name before the chain: say when the
		// chain does not verify either.
		if c := hostname.Certificate; c != nil {
			var roots *x509.CertPool
			if cfg, err := o.clientConfig(host); err == nil {
				roots = cfg.RootCAs
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots}); errors.As(err, &unknown) {
				what := "a certificate from an unknown authority"
				if c.Subject.String() == c.Issuer.String() {
					what = fmt.Sprintf("self-signed certificate %q", c.Subject.CommonName)
				}
				return fmt.Errorf("the MQTT broker at %s presented an untrusted certificate: %s, not valid for %s either: %w (trust it with --cafile and connect with --host set to a name it is valid for, or skip verification with --insecure)",
					addr, what, host, hostname)
			}
		}
		return fmt.Errorf("the MQTT broker's certificate does not match %s: %w (use --host with a name it is valid for, or --insecure)", host, hostname)
	case errors.As(err, &invalid):
		return fmt.Errorf("the MQTT broker at %s presented an invalid certificate: %w", addr, invalid)
	case errors.As(err, &rec):
		return fmt.Errorf("TLS handshake with the MQTT broker at %s failed: it does not answer in TLS (a plain MQTT listener? then drop --tls)", addr)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF):
		// mosquitto's plain listeners take a ClientHello for a malformed
		// CONNECT and close the connection.
		return fmt.Errorf("TLS handshake with the MQTT broker at %s failed: the broker closed the connection (a plain MQTT listener? then drop --tls)", addr)
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports an alert from the peer as a *net.OpError
		// "remote error" whose Err prints "tls: <alert description>".
		alert := strings.TrimPrefix(op.Err.Error(), "tls: ")
		hint := ""
		switch alert {
		case "handshake failure":
			hint = " (no cipher suite in common? see --ciphers and --tls-version)"
		case "protocol version not supported":
			hint = " (see --tls-version)"
		case "certificate required", "bad certificate":
			hint = " (the listener wants a client certificate)"
		}
		return fmt.Errorf("TLS handshake with the MQTT broker at %s failed: the broker sent alert %q%s", addr, alert, hint)
	}
	msg := cause.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "no answer within 10s"
	}
	return fmt.Errorf("TLS handshake with the MQTT broker at %s failed: %s", addr, strings.ReplaceAll(msg, "\n", " "))
}

// tlsState describes a finished handshake: "TLS 1.3,
// TLS_AES_128_GCM_SHA256, certificate verified".
func tlsState(cs tls.ConnectionState, o TLSOptions) string {
	verified := "certificate verified"
	if o.Insecure {
		verified = "certificate NOT verified (--insecure)"
	}
	return fmt.Sprintf("%s, %s, %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), verified)
}
