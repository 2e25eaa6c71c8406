package tlskeys

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
)

// tlsRecord is one record of a captured TLS stream.
type tlsRecord struct {
	header, body []byte
}

// splitTLSRecords splits a captured stream into records; a last record
// not complete (the capture stopped in it) is left out.
func splitTLSRecords(t testing.TB, stream []byte) []tlsRecord {
	t.Helper()
	var out []tlsRecord
	for len(stream) >= 5 {
		n := int(binary.BigEndian.Uint16(stream[3:5]))
		if len(stream) < 5+n {
			break
		}
		if stream[0] < 20 || stream[0] > 24 {
			t.Fatalf("record %d: content type %d: not a TLS stream", len(out), stream[0])
		}
		out = append(out, tlsRecord{stream[:5:5], stream[5 : 5+n : 5+n]})
		stream = stream[5+n:]
	}
	return out
}

// tlsHellos is what the test reads from the plaintext hellos.
type tlsHellos struct {
	clientRandom, serverRandom []byte
	suite                      uint16
	version                    uint16 // negotiated (supported_versions in TLS 1.3)
	etm                        bool   // encrypt_then_mac in the ServerHello
}

// helloRetryRandom is the ServerHello random of a HelloRetryRequest.
var helloRetryRandom, _ = hex.DecodeString("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

// handshakeMessages splits handshake messages (type, body); rest is an
// incomplete message at the end.
func handshakeMessages(buf []byte) (msgs [][2][]byte, rest []byte) {
	for len(buf) >= 4 {
		n := int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
		if len(buf) < 4+n {
			break
		}
		msgs = append(msgs, [2][]byte{buf[:1], buf[4 : 4+n]})
		buf = buf[4+n:]
	}
	return msgs, buf
}

// parseTLSHellos finds the ClientHello and the ServerHello (not a
// HelloRetryRequest) in the plaintext handshake records of each direction.
func parseTLSHellos(t testing.TB, c2s, s2c []tlsRecord) tlsHellos {
	t.Helper()
	var h tlsHellos
	find := func(recs []tlsRecord, want byte) []byte {
		var buf []byte
		for _, r := range recs {
			if r.header[0] == typeChangeCipherSpec {
				continue
			}
			if r.header[0] != typeHandshake {
				break
			}
			buf = append(buf, r.body...)
			msgs, _ := handshakeMessages(buf)
			for _, m := range msgs {
				if m[0][0] == want && (want != 2 || !bytes.Equal(m[1][2:34], helloRetryRandom)) {
					return m[1]
				}
			}
		}
		t.Fatalf("no handshake message of type %d in the plaintext records", want)
		return nil
	}
	ch := find(c2s, 1)
	h.clientRandom = ch[2:34]
	sh := find(s2c, 2)
	h.version = binary.BigEndian.Uint16(sh)
	h.serverRandom = sh[2:34]
	p := sh[34:]
	p = p[1+int(p[0]):] // session id
	h.suite = binary.BigEndian.Uint16(p)
	p = p[3:] // suite, compression
	if len(p) >= 2 {
		exts := p[2 : 2+int(binary.BigEndian.Uint16(p))]
		for len(exts) >= 4 {
			typ, n := binary.BigEndian.Uint16(exts), int(binary.BigEndian.Uint16(exts[2:]))
			data := exts[4 : 4+n]
			switch typ {
			case 43: // supported_versions
				h.version = binary.BigEndian.Uint16(data)
			case 22: // encrypt_then_mac
				h.etm = true
			}
			exts = exts[4+n:]
		}
	}
	return h
}

// tlsDecrypted is what decryptTLSCapture found in each direction (0:
// client to server, 1: server to client).
type tlsDecrypted struct {
	hellos     tlsHellos
	app        [2][]byte // application data, concatenated
	records    [2]int    // records decrypted
	finished   [2]bool   // a Finished message was decrypted
	keyUpdates [2]int    // KeyUpdate messages
	alerts     [2][]byte // alert records (level, description)
}

// decryptTLSCapture decrypts every protected record of both directions of
// a captured connection with the secrets of kl, failing the test on any
// error. Records cut at the end of a capture are left out.
func decryptTLSCapture(t testing.TB, kl *KeyLog, c2sStream, s2cStream []byte) tlsDecrypted {
	t.Helper()
	dirs := [2][]tlsRecord{splitTLSRecords(t, c2sStream), splitTLSRecords(t, s2cStream)}
	var out tlsDecrypted
	h := parseTLSHellos(t, dirs[0], dirs[1])
	out.hellos = h
	suite, ok := SuiteByID(h.suite)
	if !ok || !suite.CanDecrypt() {
		t.Fatalf("suite 0x%04x: known %v, can decrypt %v", h.suite, ok, suite.CanDecrypt())
	}
	secrets, ok := kl.Secrets(h.clientRandom)
	if !ok {
		t.Fatalf("no secrets for client random %x in the key log", h.clientRandom)
	}
	name := [2]string{"client", "server"}
	for dir, recs := range dirs {
		client := dir == 0
		var d *Decrypter
		var err error
		var next []byte // TLS 1.3: the application traffic secret
		if h.version == 0x0304 {
			first, second := secrets.ServerHandshake, secrets.ServerTraffic
			if client {
				first, second = secrets.ClientHandshake, secrets.ClientTraffic
			}
			d, err = NewDecrypter13(suite, first)
			next = second
		} else {
			d, err = NewDecrypter12(suite, h.version, secrets.Master, h.clientRandom, h.serverRandom, client, h.etm)
		}
		if err != nil {
			t.Fatalf("%s: %v", name[dir], err)
		}
		protected := false
		var hs []byte
		for i, r := range recs {
			typ := r.header[0]
			if h.version == 0x0304 {
				protected = typ == typeApplicationData
			} else if typ == typeChangeCipherSpec {
				protected = true
				continue
			}
			if !protected {
				continue
			}
			plain, ct, err := d.Decrypt(r.header, r.body)
			if err != nil {
				t.Fatalf("%s record %d (type %d, %d bytes, %s %s): %v", name[dir], i, typ, len(r.body), VersionName(h.version), suite.Name, err)
			}
			out.records[dir]++
			switch ct {
			case typeApplicationData:
				out.app[dir] = append(out.app[dir], plain...)
			case typeAlert:
				out.alerts[dir] = append(out.alerts[dir], plain...)
			case typeHandshake:
				var msgs [][2][]byte
				msgs, hs = handshakeMessages(append(hs, plain...))
				hs = append([]byte(nil), hs...)
				update := false
				for _, m := range msgs {
					switch m[0][0] {
					case 20: // Finished
						if h.version != 0x0304 && len(m[1]) != 12 {
							t.Fatalf("%s: Finished of %d bytes", name[dir], len(m[1]))
						}
						out.finished[dir] = true
						if next != nil {
							d, err = NewDecrypter13(suite, next)
							if err != nil {
								t.Fatal(err)
							}
							next = nil
						}
					case 24: // KeyUpdate
						out.keyUpdates[dir]++
						update = true
					}
				}
				if update {
					if err := d.KeyUpdate(); err != nil {
						t.Fatal(err)
					}
				}
			default:
				t.Fatalf("%s record %d: content type %d", name[dir], i, ct)
			}
		}
		if !out.finished[dir] {
			t.Fatalf("%s: no Finished message decrypted (%d records)", name[dir], len(recs))
		}
	}
	return out
}

// recordingConn records the bytes a net.Conn reads and writes.
type recordingConn struct {
	net.Conn
	mu          sync.Mutex
	read, wrote bytes.Buffer
}

// Read reads from the connection, recording what it read.
func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// Write writes to the connection, recording what it wrote.
func (c *recordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.wrote.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// testMessages returns messages of the given sizes with recognisable
// content.
func testMessages(prefix string, sizes ...int) [][]byte {
	var out [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(j*7 + i)
		}
		copy(b, fmt.Sprintf("%s message %d ", prefix, i))
		out = append(out, b)
	}
	return out
}

// goTLSRun is one Go client/server connection over TCP loopback.
type goTLSRun struct {
	c2s, s2c []byte // what went over the wire, recorded at the client
	keylog   []byte
	state    tls.ConnectionState
	sent     [2][]byte // application data each side sent
}

// runGoTLS connects a crypto/tls client and server over loopback, the
// client sending c2s messages and the server then s2c messages, the
// client logging its keys.
func runGoTLS(t *testing.T, cert *keytest.Cert, clientCfg, serverCfg *tls.Config, c2s, s2c [][]byte) goTLSRun {
	t.Helper()
	var run goTLSRun
	for _, m := range c2s {
		run.sent[0] = append(run.sent[0], m...)
	}
	for _, m := range s2c {
		run.sent[1] = append(run.sent[1], m...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverCfg.Certificates = []tls.Certificate{cert.TLS()}
	serverErr := make(chan error, 1)
	go func() {
		serverErr <- func() error {
			conn, err := ln.Accept()
			if err != nil {
				return err
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			srv := tls.Server(conn, serverCfg)
			got := make([]byte, len(run.sent[0]))
			if _, err := io.ReadFull(srv, got); err != nil {
				return fmt.Errorf("server read: %w", err)
			}
			if !bytes.Equal(got, run.sent[0]) {
				return errors.New("server received other data")
			}
			for _, m := range s2c {
				if _, err := srv.Write(m); err != nil {
					return fmt.Errorf("server write: %w", err)
				}
			}
			io.Copy(io.Discard, srv) // until the client's close_notify
			return srv.Close()
		}()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	rec := &recordingConn{Conn: raw}
	var keylog bytes.Buffer
	clientCfg.RootCAs, clientCfg.ServerName, clientCfg.KeyLogWriter = cert.Pool(), "localhost", &keylog
	cl := tls.Client(rec, clientCfg)
	for _, m := range c2s {
		if _, err := cl.Write(m); err != nil {
			t.Fatalf("client write: %v", err)
		}
	}
	got := make([]byte, len(run.sent[1]))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	run.state = cl.ConnectionState()
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-serverErr; err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	run.c2s, run.s2c = append([]byte(nil), rec.wrote.Bytes()...), append([]byte(nil), rec.read.Bytes()...)
	rec.mu.Unlock()
	run.keylog = keylog.Bytes()
	return run
}

// TestDecryptGo decrypts connections between Go's crypto/tls client
// and server with the keys the client logged, for each suite Go
// implements that mqtap decrypts, in TLS 1.0 to 1.3.
func TestDecryptGo(t *testing.T) {
	rsaCert := keytest.SelfSigned(t, keytest.KeyRSA, nil)
	ecCert := keytest.SelfSigned(t, keytest.KeyECDSA, nil)
	cases := []struct {
		suite   uint16
		version uint16
		ecdsa   bool
	}{
		{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, false},
		{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.VersionTLS12, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.VersionTLS12, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.VersionTLS12, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.VersionTLS12, false},
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, false},
		{tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.VersionTLS12, false},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, true},
		{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.VersionTLS12, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.VersionTLS12, true},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.VersionTLS11, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.VersionTLS10, false},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.VersionTLS10, true},
		{0, tls.VersionTLS13, false}, // Go chooses the suite
		{0, tls.VersionTLS13, true},
	}
	for _, tc := range cases {
		name := VersionName(tc.version) + "/" + tls.CipherSuiteName(tc.suite)
		if tc.suite == 0 {
			name = VersionName(tc.version) + "/Go's choice"
		}
		if tc.ecdsa {
			name += "/ECDSA"
		}
		t.Run(name, func(t *testing.T) {
			cfg := func() *tls.Config {
				c := &tls.Config{MinVersion: tc.version, MaxVersion: tc.version}
				if tc.suite != 0 {
					c.CipherSuites = []uint16{tc.suite}
				}
				return c
			}
			cert := rsaCert
			if tc.ecdsa {
				cert = ecCert
			}
			c2s := testMessages("client", 1, 300, 20000, 5)
			s2c := testMessages("server", 17, 40000, 16384, 1)
			run := runGoTLS(t, cert, cfg(), cfg(), c2s, s2c)
			if run.state.Version != tc.version || tc.suite != 0 && run.state.CipherSuite != tc.suite {
				t.Fatalf("negotiated %s %s", VersionName(run.state.Version), tls.CipherSuiteName(run.state.CipherSuite))
			}
			kl, err := ParseKeyLog(bytes.NewReader(run.keylog), "go.keylog")
			if err != nil {
				t.Fatal(err)
			}
			got := decryptTLSCapture(t, kl, run.c2s, run.s2c)
			if got.hellos.suite != run.state.CipherSuite || got.hellos.version != run.state.Version {
				t.Fatalf("hellos say %04x %04x, Go %04x %04x", got.hellos.suite, got.hellos.version, run.state.CipherSuite, run.state.Version)
			}
			for dir := range 2 {
				if !bytes.Equal(got.app[dir], run.sent[dir]) {
					t.Errorf("direction %d: decrypted %d bytes of application data, sent %d (equal prefix %v)",
						dir, len(got.app[dir]), len(run.sent[dir]), bytes.HasPrefix(run.sent[dir], got.app[dir]))
				}
			}
			// The client's close_notify: alert level 1, description 0.
			if !bytes.Equal(got.alerts[0], []byte{1, 0}) {
				t.Errorf("client alerts %x, want close_notify 0100", got.alerts[0])
			}
			t.Logf("%s %s: %d+%d records", VersionName(run.state.Version), tls.CipherSuiteName(run.state.CipherSuite), got.records[0], got.records[1])
		})
	}
}

// goTLS12Capture runs one TLS 1.2 connection with suite and returns the
// run and the parsed key log.
func goTLS12Capture(t *testing.T, suite uint16) (goTLSRun, *KeyLog) {
	t.Helper()
	cert := keytest.SelfSigned(t, keytest.KeyECDSA, nil)
	cfg := func() *tls.Config {
		return &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}
	}
	run := runGoTLS(t, cert, cfg(), cfg(), testMessages("c", 100), testMessages("s", 100))
	kl, err := ParseKeyLog(bytes.NewReader(run.keylog), "go.keylog")
	if err != nil {
		t.Fatal(err)
	}
	return run, kl
}

// TestDecryptErrors checks the reasons Decrypt gives, on records of a
// real connection.
func TestDecryptErrors(t *testing.T) {
	for _, id := range []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	} {
		suite, _ := SuiteByID(id)
		t.Run(suite.Name, func(t *testing.T) {
			run, kl := goTLS12Capture(t, id)
			recs := splitTLSRecords(t, run.c2s)
			h := parseTLSHellos(t, recs, splitTLSRecords(t, run.s2c))
			sec, _ := kl.Secrets(h.clientRandom)
			var finished tlsRecord // the first protected record
			for i, r := range recs {
				if r.header[0] == typeChangeCipherSpec {
					finished = recs[i+1]
					break
				}
			}
			fresh := func(master []byte) *Decrypter {
				d, err := NewDecrypter12(suite, h.version, master, h.clientRandom, h.serverRandom, true, false)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			// The right key.
			plain, ct, err := fresh(sec.Master).Decrypt(finished.header, finished.body)
			if err != nil || ct != typeHandshake || len(plain) != 16 || plain[0] != 20 {
				t.Fatalf("Finished: %x %d %v", plain, ct, err)
			}
			// The wrong key.
			wrong := bytes.Clone(sec.Master)
			wrong[0] ^= 1
			_, _, err = fresh(wrong).Decrypt(finished.header, finished.body)
			if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrPadding) {
				t.Errorf("wrong key: %v, want an authentication or padding error", err)
			}
			// The wrong direction.
			d, _ := NewDecrypter12(suite, h.version, sec.Master, h.clientRandom, h.serverRandom, false, false)
			if _, _, err = d.Decrypt(finished.header, finished.body); err == nil {
				t.Error("the server's keys decrypt the client's record")
			}
			// A corrupted record: every byte in turn would do; take a
			// few, including the last (tag or MAC or padding).
			for _, at := range []int{0, len(finished.body) / 2, len(finished.body) - 1} {
				body := bytes.Clone(finished.body)
				body[at] ^= 0x80
				_, _, err := fresh(sec.Master).Decrypt(finished.header, body)
				if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrPadding) {
					t.Errorf("byte %d flipped: %v", at, err)
				}
			}
			// A record decrypted out of order: the sequence number
			// advanced past it.
			d = fresh(sec.Master)
			d.Decrypt(finished.header, finished.body[:3])
			if _, _, err := d.Decrypt(finished.header, finished.body); !errors.Is(err, ErrAuth) && !errors.Is(err, ErrPadding) {
				t.Errorf("after a failed record, seq 1: %v", err)
			}
			// Short records, with a matching header.
			short := []int{0, 1, 8, 15}
			switch suite.cipher {
			case cipherAESGCM:
				short = append(short, 23)
			case cipherAESCBC:
				short = append(short, 16, 31, 32)
			}
			for _, n := range short {
				hdr := bytes.Clone(finished.header)
				binary.BigEndian.PutUint16(hdr[3:], uint16(n))
				_, _, err := fresh(sec.Master).Decrypt(hdr, finished.body[:n])
				if !errors.Is(err, ErrShort) && !errors.Is(err, ErrLength) {
					t.Errorf("%d-byte record: %v, want too short", n, err)
				}
			}
			// A header that disagrees with the body; a bad header.
			if _, _, err := fresh(sec.Master).Decrypt(finished.header, finished.body[1:]); !errors.Is(err, ErrLength) {
				t.Errorf("length mismatch: %v", err)
			}
			if _, _, err := fresh(sec.Master).Decrypt(finished.header[:4], finished.body); err == nil {
				t.Error("4-byte header accepted")
			}
		})
	}
}

// TestDecrypterArguments checks the constructors' errors.
func TestDecrypterArguments(t *testing.T) {
	gcm, _ := SuiteByID(0xC02F)
	cbc256, _ := SuiteByID(0xC027)
	tls13, _ := SuiteByID(0x1302)
	rc4, _ := SuiteByID(0x0005)
	master, r32 := make([]byte, 48), make([]byte, 32)
	bad := []struct {
		name string
		err  error
	}{
		{"nil suite", second(NewDecrypter12(nil, 0x0303, master, r32, r32, true, false))},
		{"TLS 1.3 suite", second(NewDecrypter12(tls13, 0x0303, master, r32, r32, true, false))},
		{"RC4", second(NewDecrypter12(rc4, 0x0303, master, r32, r32, true, false))},
		{"SSL 3.0", second(NewDecrypter12(gcm, 0x0300, master, r32, r32, true, false))},
		{"GCM in TLS 1.1", second(NewDecrypter12(gcm, 0x0302, master, r32, r32, true, false))},
		{"SHA-256 CBC in TLS 1.0", second(NewDecrypter12(cbc256, 0x0301, master, r32, r32, true, false))},
		{"short master", second(NewDecrypter12(gcm, 0x0303, master[:47], r32, r32, true, false))},
		{"short random", second(NewDecrypter12(gcm, 0x0303, master, r32[:31], r32, true, false))},
		{"TLS 1.2 suite in 1.3", second(NewDecrypter13(gcm, r32))},
		{"SHA-256 secret for a SHA-384 suite", second(NewDecrypter13(tls13, r32))},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
	d, err := NewDecrypter12(gcm, 0x0303, master, r32, r32, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.KeyUpdate(); err == nil {
		t.Error("KeyUpdate in TLS 1.2")
	}
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

// TestTLS13Vectors decrypts the protected records of RFC 8448 3 (Simple
// 1-RTT Handshake, TLS_AES_128_GCM_SHA256) with its traffic secrets, and
// checks the keys and IVs derived on the way.
func TestTLS13Vectors(t *testing.T) {
	suite, _ := SuiteByID(0x1301)
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const (
		clientHS       = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
		serverHS       = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
		clientApp      = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
		serverApp      = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"
		serverFlight   = "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd610928d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53370d2b"
		clientFinished = "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546"
		clientData     = "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4"
		serverData     = "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d"
		clientAlert    = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3"
		serverAlert    = "1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9"
	)
	// Keys and IVs: "derive write traffic keys for handshake data" and
	// "for application data".
	for _, kv := range []struct{ secret, key, iv string }{
		{serverHS, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"},
		{clientHS, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"},
		{serverApp, "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"},
		{clientApp, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"},
	} {
		key, err := hkdfExpandLabel(sha256.New, unhex(kv.secret), "key", nil, 16)
		if err != nil || hex.EncodeToString(key) != kv.key {
			t.Errorf("key of %s: %x %v, want %s", kv.secret[:8], key, err, kv.key)
		}
		d, err := NewDecrypter13(suite, unhex(kv.secret))
		if err != nil || hex.EncodeToString(d.fixedIV) != kv.iv {
			t.Errorf("iv of %s: %v, want %s", kv.secret[:8], err, kv.iv)
		}
	}
	open := func(d *Decrypter, record string) ([]byte, byte) {
		t.Helper()
		r := unhex(record)
		plain, ct, err := d.Decrypt(r[:5], r[5:])
		if err != nil {
			t.Fatalf("record %s...: %v", record[:16], err)
		}
		return plain, ct
	}
	payload := make([]byte, 50)
	for i := range payload {
		payload[i] = byte(i)
	}
	// The server's flight: EncryptedExtensions, Certificate,
	// CertificateVerify, Finished in one record.
	d, _ := NewDecrypter13(suite, unhex(serverHS))
	plain, ct := open(d, serverFlight)
	msgs, rest := handshakeMessages(plain)
	if ct != typeHandshake || len(msgs) != 4 || len(rest) != 0 || msgs[0][0][0] != 8 || msgs[3][0][0] != 20 ||
		hex.EncodeToString(msgs[3][1]) != "9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718" {
		t.Errorf("server flight: type %d, %d messages", ct, len(msgs))
	}
	// The client's Finished, data, alert.
	d, _ = NewDecrypter13(suite, unhex(clientHS))
	if plain, ct := open(d, clientFinished); ct != typeHandshake || hex.EncodeToString(plain) != "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61" {
		t.Errorf("client Finished: %d %x", ct, plain)
	}
	d, _ = NewDecrypter13(suite, unhex(clientApp))
	if plain, ct := open(d, clientData); ct != typeApplicationData || !bytes.Equal(plain, payload) {
		t.Errorf("client data: %d %x", ct, plain)
	}
	if plain, ct := open(d, clientAlert); ct != typeAlert || !bytes.Equal(plain, []byte{1, 0}) {
		t.Errorf("client alert: %d %x", ct, plain)
	}
	// The server's data is its second record under the application secret
	// (the first holds a NewSessionTicket, left out here): a record that
	// fails also uses up a sequence number.
	d, _ = NewDecrypter13(suite, unhex(serverApp))
	if _, _, err := d.Decrypt([]byte{23, 3, 3, 0, 17}, make([]byte, 17)); !errors.Is(err, ErrAuth) {
		t.Fatalf("zero record: %v", err)
	}
	if plain, ct := open(d, serverData); ct != typeApplicationData || !bytes.Equal(plain, payload) {
		t.Errorf("server data: %d %x", ct, plain)
	}
	// A change_cipher_spec between protected records is not protected and
	// uses up no sequence number.
	if _, _, err := d.Decrypt([]byte{20, 3, 3, 0, 1}, []byte{1}); err == nil || d.seq != 2 {
		t.Fatalf("change_cipher_spec: %v, seq %d", err, d.seq)
	}
	if plain, ct := open(d, serverAlert); ct != typeAlert || !bytes.Equal(plain, []byte{1, 0}) {
		t.Errorf("server alert: %d %x", ct, plain)
	}
	// KeyUpdate: a new secret of the same size, sequence 0, and the old
	// records no longer open.
	if err := d.KeyUpdate(); err != nil {
		t.Fatal(err)
	}
	want, _ := hkdfExpandLabel(sha256.New, unhex(serverApp), "traffic upd", nil, 32)
	if d.seq != 0 || !bytes.Equal(d.secret, want) {
		t.Fatalf("after KeyUpdate: seq %d secret %x", d.seq, d.secret)
	}
	r := unhex(serverAlert)
	if _, _, err := d.Decrypt(r[:5], r[5:]); !errors.Is(err, ErrAuth) {
		t.Errorf("old record after KeyUpdate: %v", err)
	}
}

// TestCCMVectors checks AES-CCM against NIST SP 800-38C Appendix C.
func TestCCMVectors(t *testing.T) {
	key, _ := hex.DecodeString("404142434445464748494a4b4c4d4e4f")
	block, _ := aes.NewCipher(key)
	cases := []struct{ nonce, ad, plain, ct string }{
		{"10111213141516", "0001020304050607", "20212223", "7162015b4dac255d"},
		{"1011121314151617", "000102030405060708090a0b0c0d0e0f", "202122232425262728292a2b2c2d2e2f", "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd"},
		{"101112131415161718191a1b", "000102030405060708090a0b0c0d0e0f10111213", "202122232425262728292a2b2c2d2e2f3031323334353637", "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951"},
	}
	tags := []int{4, 6, 8}
	for i, c := range cases {
		nonce, _ := hex.DecodeString(c.nonce)
		ad, _ := hex.DecodeString(c.ad)
		plain, _ := hex.DecodeString(c.plain)
		want, _ := hex.DecodeString(c.ct)
		a, err := newCCM(block, len(nonce), tags[i])
		if err != nil {
			t.Fatal(err)
		}
		got := a.Seal(nil, nonce, plain, ad)
		if !bytes.Equal(got, want) {
			t.Errorf("example %d: %x, want %x", i+1, got, want)
		}
		back, err := a.Open(nil, nonce, want, ad)
		if err != nil || !bytes.Equal(back, plain) {
			t.Errorf("example %d: open %x %v", i+1, back, err)
		}
		want[0] ^= 1
		if _, err := a.Open(nil, nonce, want, ad); err == nil {
			t.Errorf("example %d: corrupted ciphertext opens", i+1)
		}
	}
}

// FuzzDecrypt feeds random records to decrypters of every kind: they
// must fail cleanly, never panic.
func FuzzDecrypt(f *testing.F) {
	f.Add(byte(23), uint16(0x0303), []byte{})
	f.Add(byte(23), uint16(0x0303), bytes.Repeat([]byte{0}, 16))
	f.Add(byte(22), uint16(0x0301), bytes.Repeat([]byte{15}, 64))
	f.Add(byte(23), uint16(0x0303), bytes.Repeat([]byte{0xff}, 100))
	master, r32 := bytes.Repeat([]byte{1}, 48), bytes.Repeat([]byte{2}, 32)
	var decrypters []func() *Decrypter
	for _, id := range []uint16{0xC02F, 0xC030, 0xCCA8, 0xC013, 0xC028, 0xC0AC, 0xC0AE} {
		for _, v := range []uint16{0x0301, 0x0302, 0x0303} {
			for _, etm := range []bool{false, true} {
				s, _ := SuiteByID(id)
				if _, err := NewDecrypter12(s, v, master, r32, r32, true, etm); err != nil {
					continue
				}
				decrypters = append(decrypters, func() *Decrypter {
					d, _ := NewDecrypter12(s, v, master, r32, r32, true, etm)
					return d
				})
			}
		}
	}
	for _, id := range []uint16{0x1301, 0x1302, 0x1303, 0x1304, 0x1305} {
		s, _ := SuiteByID(id)
		decrypters = append(decrypters, func() *Decrypter {
			d, _ := NewDecrypter13(s, bytes.Repeat([]byte{3}, s.prf.Size()))
			return d
		})
	}
	f.Fuzz(func(t *testing.T, typ byte, version uint16, body []byte) {
		if len(body) > 1<<16-1 {
			body = body[:1<<16-1]
		}
		hdr := []byte{typ, byte(version >> 8), byte(version), byte(len(body) >> 8), byte(len(body))}
		for _, mk := range decrypters {
			d := mk()
			for range 2 {
				plain, _, err := d.Decrypt(hdr, body)
				if err == nil && len(plain) > len(body) {
					t.Fatalf("%d bytes of plaintext from %d", len(plain), len(body))
				}
			}
		}
	})
}
