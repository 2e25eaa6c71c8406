package session

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/keys/keytest"
)

// recorder keeps the bytes a connection writes.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.out.Write(b)
	r.mu.Unlock()
	return r.Conn.Write(b)
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.out.Bytes()...)
}

// selfSigned makes a certificate for "broker.test", valid now.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	return keytest.SelfSigned(t, keytest.KeyECDSA, []string{"broker.test"}).TLS()
}

// goTLSSession runs MQTT over a real Go TLS connection with client
// configuration cfg (its KeyLogWriter set here) and returns what each side
// wrote and the key log file.
func goTLSSession(t *testing.T, cfg *tls.Config, cert tls.Certificate) (client, server []byte, keylog string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ca, sa := &recorder{Conn: a}, &recorder{Conn: b}
	var kl bytes.Buffer
	cfg.KeyLogWriter = &kl
	cfg.ServerName = "broker.test"
	cfg.InsecureSkipVerify = true
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"mqtt"}, CipherSuites: cfg.CipherSuites}
	connect := []byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 6, 'g', 'o', '-', 't', 'l', 's'}
	publish := append([]byte{0x30, 0x0c, 0, 5, 'a', '/', 't', 'l', 's'}, "hello"...)
	done := make(chan error, 1)
	go func() {
		s := tls.Server(sa, srvCfg)
		buf := make([]byte, len(connect)+len(publish))
		if _, err := io.ReadFull(s, buf); err != nil {
			done <- err
			return
		}
		_, err := s.Write([]byte{0x20, 2, 0, 0})
		s.Close()
		done <- err
	}()
	c := tls.Client(ca, cfg)
	if _, err := c.Write(append(append([]byte(nil), connect...), publish...)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
	keylog = filepath.Join(t.TempDir(), "go.keylog")
	if err := os.WriteFile(keylog, kl.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca.bytes(), sa.bytes(), keylog
}

// TestTLSSuitesThroughThePipeline decrypts MQTT from real Go TLS sessions
// of every suite Go offers, TLS 1.2 and 1.3, on the MQTT over TLS port and
// on another port where the client offers ALPN "mqtt".
func TestTLSSuitesThroughThePipeline(t *testing.T) {
	cert := selfSigned(t)
	cases := []struct {
		name    string
		cfg     *tls.Config
		port    uint16
		version uint16
	}{
		{"1.2 AES-128-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, 8883, tls12},
		{"1.2 AES-256-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, 8883, tls12},
		{"1.2 ChaCha20", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305}}, 8883, tls12},
		{"1.2 AES-128-CBC-SHA", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, 8883, tls12},
		{"1.2 AES-128-CBC-SHA256", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, 8883, tls12},
		{"1.3", &tls.Config{MinVersion: tls.VersionTLS13}, 8883, tls13},
		{"1.3 ALPN mqtt on another port", &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{"mqtt"}}, 9443, tls13},
		{"1.2 ALPN mqtt on another port", &tls.Config{MaxVersion: tls.VersionTLS12, NextProtos: []string{"mqtt"}}, 9443, tls12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, server, keylog := goTLSSession(t, tc.cfg, cert)
			store, err := keys.Load(keylog)
			if err != nil {
				t.Fatal(err)
			}
			c := &conversation{t: t, clientPort: 41000, serverPort: tc.port, isn: [2]uint32{1, 1}}
			hello := helloLen(client)
			segs := append(handshake(), segment{true, "A", 1, client[:hello]}, segment{false, "A", 1, server},
				segment{true, "A", 1 + uint32(hello), client[hello:]})
			got, st := c.run(Options{Keys: store}, segs...)
			// (The server's side was fed before the rest of the client's.)
			types := map[string]int{}
			for _, r := range got {
				types[r.Type]++
				if r.Type == "PUBLISH" && (r.Topic != "a/tls" || r.Payload != "hello") {
					t.Errorf("PUBLISH %+v", r)
				}
			}
			if len(got) != 3 || types["CONNECT"] != 1 || types["PUBLISH"] != 1 || types["CONNACK"] != 1 {
				t.Fatalf("records %v (%+v)", types, got)
			}
			if len(st.TLS) != 1 || st.TLS[0].Decrypted != "ok" || st.TLS[0].SNI != "broker.test" || st.TLS[0].Records != 3 || st.TLS[0].Certificate != "CN=broker.test" {
				t.Errorf("TLS info %+v", st.TLS)
			}
			// Without the key log: no record, and the handshake is reported.
			got, st = c.run(Options{}, segs...)
			if len(got) != 0 || len(st.TLS) != 1 || st.TLS[0].Decrypted != "no-key" {
				t.Errorf("without keys: %d records, TLS %+v", len(got), st.TLS)
			}
		})
	}
	// TLS on another port without ALPN mqtt: listed, and decoded as MQTT
	// once decrypted, from its CONNECT.
	client, server, keylog := goTLSSession(t, &tls.Config{MinVersion: tls.VersionTLS13}, cert)
	store, _ := keys.Load(keylog)
	c := &conversation{t: t, clientPort: 41000, serverPort: 9443, isn: [2]uint32{1, 1}}
	hello := helloLen(client)
	segs := append(handshake(), segment{true, "A", 1, client[:hello]}, segment{false, "A", 1, server},
		segment{true, "A", 1 + uint32(hello), client[hello:]})
	got, st := c.run(Options{Keys: store}, segs...)
	if len(got) != 3 || len(st.TLS) != 1 || st.TLS[0].Decrypted != "ok" {
		t.Errorf("TLS without ALPN mqtt on port 9443: %d records, TLS %+v", len(got), st.TLS)
	}
	var fs []string
	got, st = c.run(Options{OnFinding: func(f Finding, _ int) { fs = append(fs, f.Code.String()) }}, segs...)
	if len(got) != 0 || len(st.TLS) != 1 || st.TLS[0].Decrypted != "no-key" || len(fs) != 0 {
		t.Errorf("the same without the key log: %d records, TLS %+v, findings %v (not known to be MQTT: none)", len(got), st.TLS, fs)
	}
}
