package tlswire

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
	"github.com/mqtap/mqtap/keys/tlskeys"
)

// Helpers that make real TLS handshakes and record their bytes.

// chunk is one write of one end of a connection.
type chunk struct {
	fromServer bool
	data       []byte
}

// wire records what both ends of a TCP connection write, in order.
type wire struct {
	mu     sync.Mutex
	chunks []chunk
}

func (w *wire) add(fromServer bool, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chunks = append(w.chunks, chunk{fromServer, append([]byte(nil), p...)})
}

// stream returns everything one end wrote.
func (w *wire) stream(fromServer bool) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b []byte
	for _, c := range w.chunks {
		if c.fromServer == fromServer {
			b = append(b, c.data...)
		}
	}
	return b
}

// recConn is a net.Conn that records what it writes.
type recConn struct {
	net.Conn
	w          *wire
	fromServer bool
}

func (c *recConn) Write(p []byte) (int, error) {
	c.w.add(c.fromServer, p) // before the peer can answer, to keep the order
	return c.Conn.Write(p)
}

// pki is a CA and a leaf certificate for broker.lab.
type pki struct {
	ca, leaf       *keytest.Cert
	caDER, leafDER []byte
	cert           tls.Certificate // the leaf and the CA, with the leaf's key
	roots          *x509.CertPool
}

func newPKI(t testing.TB, rsaLeaf bool) *pki {
	t.Helper()
	kt := keytest.KeyECDSA
	if rsaLeaf {
		kt = keytest.KeyRSA
	}
	ca := keytest.NewCA(t, "", keytest.KeyECDSA)
	leaf := ca.Issue(t, kt, []string{"broker.lab"})
	return &pki{
		ca: ca, leaf: leaf, caDER: ca.Certificate.Raw, leafDER: leaf.Certificate.Raw,
		cert: leaf.TLS(ca), roots: ca.Pool(),
	}
}

// writePEM writes the leaf, the CA and the leaf key as PEM files for
// OpenSSL.
func (p *pki) writePEM(t testing.TB, dir string) (cert, chain, key string) {
	t.Helper()
	cert, key = p.leaf.Write(t, dir, "leaf")
	chain, _ = p.ca.Write(t, dir, "ca")
	return cert, chain, key
}

// goResult is what one crypto/tls connection produced.
type goResult struct {
	wire          *wire
	client        tls.ConnectionState
	server        tls.ConnectionState
	hellos        []*tls.ClientHelloInfo // as the server saw them
	keyLog        map[string][]byte      // "LABEL client_random_hex" -> secret
	clientErr     error
	serverErr     error
	serverReadErr error
}

// goHandshake runs a crypto/tls client and server over loopback TCP. After
// the handshake the server writes "ok", the client reads it (taking in
// any post-handshake message first) and both close.
func goHandshake(t testing.TB, clientCfg, serverCfg *tls.Config) *goResult {
	t.Helper()
	res := &goResult{wire: &wire{}, keyLog: map[string][]byte{}}
	var keyLog bytes.Buffer
	clientCfg = clientCfg.Clone()
	clientCfg.KeyLogWriter = &keyLog
	serverCfg = serverCfg.Clone()
	var mu sync.Mutex
	serverCfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		res.hellos = append(res.hellos, h)
		return nil, nil
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			res.serverErr = err
			return
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		sc := tls.Server(&recConn{Conn: conn, w: res.wire, fromServer: true}, serverCfg)
		defer sc.Close()
		if res.serverErr = sc.Handshake(); res.serverErr != nil {
			return
		}
		res.server = sc.ConnectionState()
		if _, err := sc.Write([]byte("ok")); err != nil {
			res.serverErr = err
			return
		}
		_, res.serverReadErr = io.Copy(io.Discard, sc) // until the client's close_notify
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	cc := tls.Client(&recConn{Conn: conn, w: res.wire}, clientCfg)
	if res.clientErr = cc.Handshake(); res.clientErr == nil {
		res.client = cc.ConnectionState()
		buf := make([]byte, 2)
		if _, err := io.ReadFull(cc, buf); err != nil || string(buf) != "ok" {
			t.Fatalf("client read %q: %v", buf, err)
		}
	}
	cc.Close()
	<-done

	sc := bufio.NewScanner(&keyLog)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		secret, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatalf("key log line %q: %v", sc.Text(), err)
		}
		res.keyLog[f[0]+" "+f[1]] = secret
	}
	return res
}

// hsMessage is a handshake message as read off a stream.
type hsMessage struct {
	typ       HandshakeType
	body      []byte
	encrypted bool // came in a protected record (TLS 1.3)
}

// flow is what one direction of a connection holds, as this package reads
// it.
type flow struct {
	records  []Record
	messages []hsMessage
	alerts   [][2]byte // plaintext and decrypted alerts
	appData  [][]byte  // decrypted application data
	raw      []byte    // the plaintext handshake messages, headers included
}

// readPlaintext reads one direction of a TLS 1.2 or earlier connection up
// to its ChangeCipherSpec: handshake records go through a HandshakeReader,
// alerts through ParseAlert. What follows the ChangeCipherSpec is
// encrypted and only split into records.
func readPlaintext(t testing.TB, stream []byte) *flow {
	t.Helper()
	f := &flow{}
	var h HandshakeReader
	protected := false
	for b := stream; len(b) > 0; {
		r, rest, ok, err := NextRecord(b)
		if err != nil || !ok {
			t.Fatalf("NextRecord at offset %d: ok=%v err=%v", len(stream)-len(b), ok, err)
		}
		b = rest
		f.records = append(f.records, r)
		switch {
		case r.Type == ChangeCipherSpec:
			if !bytes.Equal(r.Body, []byte{1}) {
				t.Fatalf("ChangeCipherSpec body %x", r.Body)
			}
			protected = true
		case protected:
		case r.Type == Handshake:
			f.raw = append(f.raw, r.Body...)
			h.Add(r.Body)
			f.messages = drain(t, &h, f.messages, false, nil)
		case r.Type == Alert:
			level, desc, err := ParseAlert(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			f.alerts = append(f.alerts, [2]byte{level, desc})
		default:
			t.Fatalf("unexpected plaintext %s record", ContentTypeName(r.Type))
		}
	}
	if h.Buffered() != 0 {
		t.Fatalf("%d bytes of a partial handshake message left", h.Buffered())
	}
	return f
}

// drain appends the complete messages of h to msgs. after, when set, is
// called after each message.
func drain(t testing.TB, h *HandshakeReader, msgs []hsMessage, encrypted bool, after func(HandshakeType)) []hsMessage {
	t.Helper()
	for {
		typ, msg, ok, err := h.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return msgs
		}
		msgs = append(msgs, hsMessage{typ, msg, encrypted})
		if after != nil {
			after(typ)
		}
	}
}

func types(msgs []hsMessage) []HandshakeType {
	var ts []HandshakeType
	for _, m := range msgs {
		ts = append(ts, m.typ)
	}
	return ts
}

func find(t testing.TB, msgs []hsMessage, typ HandshakeType) []byte {
	t.Helper()
	for _, m := range msgs {
		if m.typ == typ {
			return m.body
		}
	}
	t.Fatalf("no %v message among %v", typ, types(msgs))
	return nil
}

// opener decrypts one direction's protected TLS 1.3 records with the keys
// package's decrypter.
type opener struct{ d *tlskeys.Decrypter }

func newOpener(t testing.TB, suite uint16, secret []byte) *opener {
	t.Helper()
	s, ok := tlskeys.SuiteByID(suite)
	if !ok {
		t.Fatalf("unknown suite %#04x", suite)
	}
	d, err := tlskeys.NewDecrypter13(s, secret)
	if err != nil {
		t.Fatal(err)
	}
	return &opener{d: d}
}

// open decrypts a protected record and returns its content and real type.
func (o *opener) open(t testing.TB, r Record) ([]byte, byte) {
	t.Helper()
	pt, typ, err := o.d.Decrypt(r.Header, r.Body)
	if err != nil {
		t.Fatalf("decrypting a record: %v", err)
	}
	return pt, typ
}

// readTLS13 reads one direction of a TLS 1.3 connection: plaintext
// handshake records, then records protected with the handshake secret up to
// this side's Finished, then with the application secret. It decrypts them
// with the key log's secrets for clientRandom.
func readTLS13(t testing.TB, stream []byte, suite uint16, keyLog map[string][]byte, clientRandom []byte, server bool) *flow {
	t.Helper()
	side := "CLIENT"
	if server {
		side = "SERVER"
	}
	secret := func(label string) []byte {
		s, ok := keyLog[side+"_"+label+" "+hex.EncodeToString(clientRandom)]
		if !ok {
			t.Fatalf("no %s_%s in the key log for client random %x (the parsed Random must match the key log's)", side, label, clientRandom)
		}
		return s
	}
	f := &flow{}
	var h HandshakeReader
	var o *opener
	for b := stream; len(b) > 0; {
		r, rest, ok, err := NextRecord(b)
		if err != nil || !ok {
			t.Fatalf("NextRecord at offset %d: ok=%v err=%v", len(stream)-len(b), ok, err)
		}
		b = rest
		f.records = append(f.records, r)
		switch r.Type {
		case Handshake:
			if o != nil {
				t.Fatal("plaintext handshake record after protected ones")
			}
			f.raw = append(f.raw, r.Body...)
			h.Add(r.Body)
			f.messages = drain(t, &h, f.messages, false, nil)
		case ChangeCipherSpec: // middlebox compatibility (RFC 8446 D.4)
		case ApplicationData:
			if o == nil {
				o = newOpener(t, suite, secret("HANDSHAKE_TRAFFIC_SECRET"))
			}
			content, typ := o.open(t, r)
			switch typ {
			case Handshake:
				h.Add(content)
				f.messages = drain(t, &h, f.messages, true, func(typ HandshakeType) {
					if typ == Finished {
						o = newOpener(t, suite, secret("TRAFFIC_SECRET_0"))
					}
				})
			case Alert:
				level, desc, err := ParseAlert(content)
				if err != nil {
					t.Fatal(err)
				}
				f.alerts = append(f.alerts, [2]byte{level, desc})
			case ApplicationData:
				f.appData = append(f.appData, content)
			default:
				t.Fatalf("protected record of type %d", typ)
			}
		default:
			t.Fatalf("unexpected %s record", ContentTypeName(r.Type))
		}
	}
	return f
}

// certsDER returns the DER of a connection's peer certificates.
func certsDER(cs tls.ConnectionState) [][]byte {
	var ders [][]byte
	for _, c := range cs.PeerCertificates {
		ders = append(ders, c.Raw)
	}
	return ders
}

func equalDER(a, b [][]byte) bool { return slices.EqualFunc(a, b, bytes.Equal) }

func hasExt(exts []uint16, typ uint16) bool { return slices.Contains(exts, typ) }

// checkClientHello compares a parsed ClientHello with what the crypto/tls
// server saw of it.
func checkClientHello(t testing.TB, ch *ClientHelloMsg, info *tls.ClientHelloInfo) {
	t.Helper()
	if len(ch.Random) != 32 {
		t.Errorf("ClientHello.Random is %d bytes", len(ch.Random))
	}
	if ch.Version != tls.VersionTLS12 {
		t.Errorf("ClientHello.Version = %#x, want legacy_version 0x0303", ch.Version)
	}
	if !slices.Equal(ch.CipherSuites, info.CipherSuites) {
		t.Errorf("ClientHello.CipherSuites = %#x, server saw %#x", ch.CipherSuites, info.CipherSuites)
	}
	if ch.ServerName != info.ServerName {
		t.Errorf("ClientHello.ServerName = %q, server saw %q", ch.ServerName, info.ServerName)
	}
	if !slices.Equal(ch.ALPN, info.SupportedProtos) {
		t.Errorf("ClientHello.ALPN = %q, server saw %q", ch.ALPN, info.SupportedProtos)
	}
	if hasExt(info.Extensions, 43) != (ch.SupportedVersions != nil) ||
		(ch.SupportedVersions != nil && !slices.Equal(ch.SupportedVersions, info.SupportedVersions)) {
		t.Errorf("ClientHello.SupportedVersions = %#x, server saw %#x (extension sent: %v)", ch.SupportedVersions, info.SupportedVersions, hasExt(info.Extensions, 43))
	}
	for _, e := range []struct {
		typ uint16
		got bool
	}{{23, ch.ExtendedMasterSecret}, {22, ch.EncryptThenMAC}, {35, ch.SessionTicket}, {41, ch.PSK}, {51, ch.KeyShareGroups != nil}} {
		if e.got != hasExt(info.Extensions, e.typ) {
			t.Errorf("ClientHello: extension %d parsed %v, server saw extensions %v", e.typ, e.got, info.Extensions)
		}
	}
	for _, g := range ch.KeyShareGroups {
		found := false
		for _, c := range info.SupportedCurves {
			found = found || uint16(c) == g
		}
		if !found {
			t.Errorf("ClientHello.KeyShareGroups %v holds %d, not among supported_groups %v", ch.KeyShareGroups, g, info.SupportedCurves)
		}
	}
}
