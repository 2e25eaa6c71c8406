package tlswire

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests on real handshakes: crypto/tls and OpenSSL produce the bytes, this
// package reads them, and the result must equal what the endpoints
// configured and negotiated.

func tls12Configs(p *pki) (client, server *tls.Config) {
	server = &tls.Config{
		Certificates: []tls.Certificate{p.cert},
		NextProtos:   []string{"mqtt"},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
	}
	// Fixed ticket keys: goHandshake clones the configuration, and each
	// clone would otherwise make its own.
	server.SetSessionTicketKeys([][32]byte{{1, 2, 3}})
	client = &tls.Config{
		RootCAs:    p.roots,
		ServerName: "broker.lab",
		NextProtos: []string{"mqtt"},
		MaxVersion: tls.VersionTLS12,
	}
	return client, server
}

func TestGoTLS12(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rsa       bool
		suiteKind string
	}{{"RSA", true, "_RSA_"}, {"ECDSA", false, "_ECDSA_"}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t, tc.rsa)
			clientCfg, serverCfg := tls12Configs(p)
			clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(2)
			res := goHandshake(t, clientCfg, serverCfg)
			if res.clientErr != nil || res.serverErr != nil {
				t.Fatalf("handshake: client %v, server %v", res.clientErr, res.serverErr)
			}
			cs := res.client

			cliStream, srvStream := res.wire.stream(false), res.wire.stream(true)
			if !LooksLikeClientHello(cliStream) || !LooksLikeClientHello(cliStream[:6]) {
				t.Error("LooksLikeClientHello rejects the client's first bytes")
			}
			if LooksLikeClientHello(srvStream) {
				t.Error("LooksLikeClientHello accepts the server's first bytes")
			}
			cf, sf := readPlaintext(t, cliStream), readPlaintext(t, srvStream)
			if got, want := types(cf.messages), []HandshakeType{ClientHello, ClientKeyExchange}; !slices.Equal(got, want) {
				t.Errorf("client plaintext messages %v, want %v", got, want)
			}
			if got, want := types(sf.messages), []HandshakeType{ServerHello, Certificate, ServerKeyExchange, ServerHelloDone, NewSessionTicket}; !slices.Equal(got, want) {
				t.Errorf("server plaintext messages %v, want %v", got, want)
			}

			ch, err := ParseClientHello(find(t, cf.messages, ClientHello))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.hellos) != 1 {
				t.Fatalf("server saw %d ClientHellos", len(res.hellos))
			}
			checkClientHello(t, ch, res.hellos[0])
			if ch.ServerName != "broker.lab" || !slices.Equal(ch.ALPN, []string{"mqtt"}) || !ch.ExtendedMasterSecret || !ch.SessionTicket || ch.PSK || ch.EncryptThenMAC {
				t.Errorf("ClientHello = %+v", ch)
			}
			if !slices.Contains(ch.CipherSuites, cs.CipherSuite) {
				t.Errorf("negotiated suite %#x not among the offered %#x", cs.CipherSuite, ch.CipherSuites)
			}
			if _, ok := res.keyLog["CLIENT_RANDOM "+hex.EncodeToString(ch.Random)]; !ok {
				t.Errorf("ClientHello.Random %x is not the key log's client random", ch.Random)
			}

			sh, err := ParseServerHello(find(t, sf.messages, ServerHello))
			if err != nil {
				t.Fatal(err)
			}
			if sh.Version != cs.Version || sh.CipherSuite != cs.CipherSuite || sh.ALPN != cs.NegotiatedProtocol || sh.ALPN != "mqtt" {
				t.Errorf("ServerHello version %#x suite %#x ALPN %q, negotiated %#x %#x %q", sh.Version, sh.CipherSuite, sh.ALPN, cs.Version, cs.CipherSuite, cs.NegotiatedProtocol)
			}
			if !strings.Contains(tls.CipherSuiteName(sh.CipherSuite), tc.suiteKind) {
				t.Errorf("suite %s does not match a %s certificate", tls.CipherSuiteName(sh.CipherSuite), tc.name)
			}
			if len(sh.Random) != 32 || bytes.Equal(sh.Random, ch.Random) || !sh.ExtendedMasterSecret || sh.EncryptThenMAC || sh.HelloRetryRequest || sh.PSK {
				t.Errorf("ServerHello = %+v", sh)
			}

			certs, err := ParseCertificate(find(t, sf.messages, Certificate), false)
			if err != nil {
				t.Fatal(err)
			}
			if !equalDER(certs, certsDER(cs)) || !equalDER(certs, [][]byte{p.leafDER, p.caDER}) {
				t.Errorf("ParseCertificate: %d certificates, not the peer's %d", len(certs), len(cs.PeerCertificates))
			}

			checkResplit(t, sf)
			checkResplit(t, cf)
			if tc.rsa {
				t.Run("tshark", func(t *testing.T) { crossCheckTshark(t, res.wire, ch, sh, certs) })
			}

			// Resumption with the ticket: no Certificate, and the
			// ClientHello carries the ticket.
			res2 := goHandshake(t, clientCfg, serverCfg)
			if res2.clientErr != nil || !res2.client.DidResume {
				t.Fatalf("resumption: %v, resumed %v", res2.clientErr, res2.client.DidResume)
			}
			cf2, sf2 := readPlaintext(t, res2.wire.stream(false)), readPlaintext(t, res2.wire.stream(true))
			ch2, err := ParseClientHello(find(t, cf2.messages, ClientHello))
			if err != nil {
				t.Fatal(err)
			}
			checkClientHello(t, ch2, res2.hellos[0])
			if !ch2.SessionTicket || bytes.Equal(ch2.Random, ch.Random) {
				t.Errorf("resuming ClientHello = %+v", ch2)
			}
			if got := types(sf2.messages); slices.Contains(got, Certificate) || got[0] != ServerHello {
				t.Errorf("resumed server messages %v", got)
			}
		})
	}
}

// checkResplit feeds a direction's plaintext handshake bytes again, cut
// into records of many sizes (messages spanning records, several messages
// in one record), and expects the same messages.
func checkResplit(t *testing.T, f *flow) {
	t.Helper()
	var want []hsMessage
	for _, m := range f.messages {
		if !m.encrypted {
			want = append(want, m)
		}
	}
	for _, size := range []int{1, 2, 5, 64, 700, 16384} {
		var wireBytes []byte
		for p := f.raw; len(p) > 0; {
			n := min(size, len(p))
			wireBytes = append(wireBytes, rec(Handshake, 0x0303, p[:n])...)
			p = p[n:]
		}
		var h HandshakeReader
		var got []hsMessage
		for b := wireBytes; len(b) > 0; {
			r, rest, ok, err := NextRecord(b)
			if !ok || err != nil {
				t.Fatalf("size %d: NextRecord: ok=%v err=%v", size, ok, err)
			}
			h.Add(r.Body)
			got = drain(t, &h, got, false, nil)
			b = rest
		}
		if len(got) != len(want) {
			t.Fatalf("size %d: %v, want %v", size, types(got), types(want))
		}
		for i := range want {
			if got[i].typ != want[i].typ || !bytes.Equal(got[i].body, want[i].body) {
				t.Errorf("size %d: message %d differs", size, i)
			}
		}
	}
}

func TestGoTLS12Alerts(t *testing.T) {
	p := newPKI(t, false)

	// A client that does not accept the certificate's name sends a
	// plaintext fatal bad_certificate.
	clientCfg, serverCfg := tls12Configs(p)
	clientCfg.ServerName = "other.lab"
	res := goHandshake(t, clientCfg, serverCfg)
	if res.clientErr == nil {
		t.Fatal("handshake with a wrong server name succeeded")
	}
	cf := readPlaintext(t, res.wire.stream(false))
	if len(cf.alerts) != 1 || cf.alerts[0] != [2]byte{AlertFatal, 42} || AlertName(cf.alerts[0][1]) != "bad_certificate" {
		t.Errorf("client alerts %v, want fatal bad_certificate", cf.alerts)
	}

	// A server without a common application protocol sends
	// no_application_protocol.
	clientCfg, serverCfg = tls12Configs(p)
	serverCfg.NextProtos = []string{"other"}
	res = goHandshake(t, clientCfg, serverCfg)
	if res.serverErr == nil {
		t.Fatal("handshake without a common ALPN protocol succeeded")
	}
	sf := readPlaintext(t, res.wire.stream(true))
	if len(sf.alerts) != 1 || sf.alerts[0] != [2]byte{AlertFatal, 120} || AlertName(sf.alerts[0][1]) != "no_application_protocol" {
		t.Errorf("server alerts %v, want fatal no_application_protocol", sf.alerts)
	}
}

func tls13Configs(p *pki) (client, server *tls.Config) {
	server = &tls.Config{
		Certificates: []tls.Certificate{p.cert},
		NextProtos:   []string{"mqtt"},
		MinVersion:   tls.VersionTLS13,
	}
	server.SetSessionTicketKeys([][32]byte{{1, 2, 3}})
	client = &tls.Config{
		RootCAs:    p.roots,
		ServerName: "broker.lab",
		NextProtos: []string{"mqtt"},
	}
	return client, server
}

// tls13Flows reads both directions of a TLS 1.3 connection, decrypting with
// the key log, and parses the (first) ClientHello.
func tls13Flows(t *testing.T, res *goResult) (cf, sf *flow, ch *ClientHelloMsg) {
	t.Helper()
	if res.clientErr != nil || res.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", res.clientErr, res.serverErr)
	}
	cliStream := res.wire.stream(false)
	// The ClientHello is read first, for the client random that selects
	// the key log's secrets.
	r, _, ok, err := NextRecord(cliStream)
	if !ok || err != nil || r.Type != Handshake {
		t.Fatalf("first client record: ok=%v err=%v", ok, err)
	}
	var h HandshakeReader
	h.Add(r.Body)
	typ, msg, ok, err := h.Next()
	if !ok || err != nil || typ != ClientHello {
		t.Fatalf("first client message %v ok=%v err=%v", typ, ok, err)
	}
	ch, err = ParseClientHello(msg)
	if err != nil {
		t.Fatal(err)
	}
	suite := res.client.CipherSuite
	cf = readTLS13(t, cliStream, suite, res.keyLog, ch.Random, false)
	sf = readTLS13(t, res.wire.stream(true), suite, res.keyLog, ch.Random, true)
	return cf, sf, ch
}

func TestGoTLS13(t *testing.T) {
	p := newPKI(t, false)
	clientCfg, serverCfg := tls13Configs(p)
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(2)
	res := goHandshake(t, clientCfg, serverCfg)
	cf, sf, ch := tls13Flows(t, res)
	cs := res.client

	checkClientHello(t, ch, res.hellos[0])
	if !slices.Contains(ch.SupportedVersions, tls.VersionTLS13) || len(ch.KeyShareGroups) == 0 || ch.PSK ||
		ch.ServerName != "broker.lab" || !slices.Equal(ch.ALPN, []string{"mqtt"}) || len(ch.SessionID) != 32 {
		t.Errorf("ClientHello = %+v", ch)
	}
	if !slices.Contains(ch.KeyShareGroups, uint16(cs.CurveID)) {
		t.Errorf("negotiated group %v not among the key shares %v", cs.CurveID, ch.KeyShareGroups)
	}

	wantServer := []HandshakeType{ServerHello, EncryptedExtensions, Certificate,
		CertificateVerify, Finished, NewSessionTicket}
	if got := types(sf.messages); !slices.Equal(got, wantServer) {
		t.Fatalf("server messages %v, want %v", got, wantServer)
	}
	if got, want := types(cf.messages), []HandshakeType{ClientHello, Finished}; !slices.Equal(got, want) {
		t.Errorf("client messages %v, want %v", got, want)
	}
	for i, m := range sf.messages {
		if m.encrypted != (i > 0) {
			t.Errorf("server message %v encrypted=%v", m.typ, m.encrypted)
		}
	}
	if len(sf.appData) != 1 || string(sf.appData[0]) != "ok" {
		t.Errorf("server application data %q", sf.appData)
	}
	if len(cf.alerts) != 1 || cf.alerts[0] != [2]byte{AlertWarning, 0} {
		t.Errorf("client alerts %v, want close_notify", cf.alerts)
	}

	sh, err := ParseServerHello(sf.messages[0].body)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Version != tls.VersionTLS13 || sh.Version != cs.Version || sh.CipherSuite != cs.CipherSuite ||
		sh.HelloRetryRequest || sh.PSK || sh.ALPN != "" || !bytes.Equal(sh.SessionID, ch.SessionID) || len(sh.Random) != 32 {
		t.Errorf("ServerHello = %+v, negotiated version %#x suite %#x", sh, cs.Version, cs.CipherSuite)
	}
	certs, err := ParseCertificate(find(t, sf.messages, Certificate), true)
	if err != nil {
		t.Fatal(err)
	}
	if !equalDER(certs, certsDER(cs)) || !equalDER(certs, [][]byte{p.leafDER, p.caDER}) {
		t.Errorf("ParseCertificate: %d certificates, not the peer's", len(certs))
	}
	if certs12, err := ParseCertificate(find(t, sf.messages, Certificate), false); err == nil && equalDER(certs12, certs) {
		t.Error("a TLS 1.3 Certificate read with the TLS 1.2 layout gave the certificates")
	}
	checkResplit(t, sf)
	t.Run("tshark", func(t *testing.T) { crossCheckTshark(t, res.wire, ch, sh, nil) })

	// Resumption: the ClientHello offers a PSK and the server accepts it.
	res2 := goHandshake(t, clientCfg, serverCfg)
	if !res2.client.DidResume {
		t.Fatal("the second connection did not resume")
	}
	_, sf2, ch2 := tls13Flows(t, res2)
	checkClientHello(t, ch2, res2.hellos[0])
	if !ch2.PSK {
		t.Errorf("resuming ClientHello without pre_shared_key: %+v", ch2)
	}
	sh2, err := ParseServerHello(sf2.messages[0].body)
	if err != nil {
		t.Fatal(err)
	}
	if !sh2.PSK || sh2.Version != tls.VersionTLS13 {
		t.Errorf("resumed ServerHello = %+v", sh2)
	}
	if got := types(sf2.messages); slices.Contains(got, Certificate) {
		t.Errorf("resumed server messages %v hold a Certificate", got)
	}
}

func TestGoTLS13HelloRetryRequest(t *testing.T) {
	p := newPKI(t, false)
	clientCfg, serverCfg := tls13Configs(p)
	clientCfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	serverCfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
	res := goHandshake(t, clientCfg, serverCfg)
	cf, sf, ch1 := tls13Flows(t, res)
	if !res.client.HelloRetryRequest {
		t.Fatal("crypto/tls did not go through a HelloRetryRequest")
	}
	if got, want := types(cf.messages), []HandshakeType{ClientHello, ClientHello, Finished}; !slices.Equal(got, want) {
		t.Fatalf("client messages %v, want %v", got, want)
	}
	if got := types(sf.messages); len(got) < 2 || got[0] != ServerHello || got[1] != ServerHello {
		t.Fatalf("server messages %v, want two ServerHellos first", got)
	}
	ch2, err := ParseClientHello(cf.messages[1].body)
	if err != nil {
		t.Fatal(err)
	}
	// crypto/tls shows the server only the first ClientHello.
	checkClientHello(t, ch1, res.hellos[0])
	if !slices.Equal(ch1.CipherSuites, ch2.CipherSuites) || ch2.ServerName != ch1.ServerName || !slices.Equal(ch2.SupportedVersions, ch1.SupportedVersions) {
		t.Errorf("second ClientHello %+v differs from the first %+v beyond the key share", ch2, ch1)
	}
	if !slices.Equal(ch1.KeyShareGroups, []uint16{uint16(tls.X25519)}) || !slices.Equal(ch2.KeyShareGroups, []uint16{uint16(tls.CurveP256)}) {
		t.Errorf("key share groups %v then %v, want [29] then [23]", ch1.KeyShareGroups, ch2.KeyShareGroups)
	}
	if !bytes.Equal(ch1.Random, ch2.Random) {
		t.Error("the two ClientHellos' randoms differ")
	}
	hrr, err := ParseServerHello(sf.messages[0].body)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := ParseServerHello(sf.messages[1].body)
	if err != nil {
		t.Fatal(err)
	}
	if !hrr.HelloRetryRequest || hrr.Version != tls.VersionTLS13 || hrr.CipherSuite != res.client.CipherSuite {
		t.Errorf("HelloRetryRequest = %+v", hrr)
	}
	if sh.HelloRetryRequest || sh.Version != tls.VersionTLS13 || sh.CipherSuite != res.client.CipherSuite {
		t.Errorf("ServerHello after the retry = %+v", sh)
	}
}

// TestOpenSSLEncryptThenMAC records an OpenSSL s_client to s_server TLS 1.2
// handshake on a CBC suite through a proxy: both ends negotiate
// encrypt-then-MAC and extended master secret.
func TestOpenSSLEncryptThenMAC(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed (apt-get install openssl)")
	}
	const suiteName, suite = "ECDHE-RSA-AES128-SHA256", 0xc027
	p := newPKI(t, true)
	certFile, chainFile, keyFile := p.writePEM(t, t.TempDir())

	srv := exec.Command("openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
		"-cert", certFile, "-cert_chain", chainFile, "-key", keyFile,
		"-tls1_2", "-cipher", suiteName, "-alpn", "mqtt")
	srvIn, err := srv.StdinPipe() // s_server stops at the end of its input
	if err != nil {
		t.Fatal(err)
	}
	srvOut, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srvIn.Close()
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}()
	accept := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(srvOut)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
				accept <- a
			}
		}
		close(accept)
	}()
	var srvAddr string
	select {
	case a, ok := <-accept:
		if !ok {
			t.Fatal("s_server exited before listening")
		}
		srvAddr = a
	case <-time.After(10 * time.Second):
		t.Fatal("s_server did not listen")
	}

	// The recording proxy.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	w := &wire{}
	proxyDone := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			proxyDone <- err
			return
		}
		s, err := net.Dial("tcp", srvAddr)
		if err != nil {
			c.Close()
			proxyDone <- err
			return
		}
		deadline := time.Now().Add(20 * time.Second)
		_ = c.SetDeadline(deadline)
		_ = s.SetDeadline(deadline)
		var wg sync.WaitGroup
		pipe := func(dst, src net.Conn, fromServer bool) {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					w.add(fromServer, buf[:n])
					if _, err := dst.Write(buf[:n]); err != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			// Either end closing ends the session.
			c.Close()
			s.Close()
		}
		wg.Add(2)
		go pipe(s, c, false)
		go pipe(c, s, true)
		wg.Wait()
		proxyDone <- nil
	}()

	cli := exec.Command("openssl", "s_client", "-connect", ln.Addr().String(), "-servername", "broker.lab",
		"-alpn", "mqtt", "-tls1_2", "-cipher", suiteName, "-CAfile", chainFile, "-verify_return_error")
	cli.Stdin = strings.NewReader("") // end of input: close after the handshake
	out, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("s_client: %v\n%s", err, out)
	}
	for _, want := range []string{"Cipher is " + suiteName, "ALPN protocol: mqtt", "Verify return code: 0 (ok)", "Extended master secret: yes"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("s_client output lacks %q:\n%s", want, out)
		}
	}
	select {
	case err := <-proxyDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not finish")
	}

	cf, sf := readPlaintext(t, w.stream(false)), readPlaintext(t, w.stream(true))
	ch, err := ParseClientHello(find(t, cf.messages, ClientHello))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Version != tls.VersionTLS12 || len(ch.Random) != 32 || ch.ServerName != "broker.lab" || !slices.Equal(ch.ALPN, []string{"mqtt"}) ||
		!ch.EncryptThenMAC || !ch.ExtendedMasterSecret || !slices.Contains(ch.CipherSuites, suite) || ch.SupportedVersions != nil {
		t.Errorf("OpenSSL ClientHello = %+v", ch)
	}
	sh, err := ParseServerHello(find(t, sf.messages, ServerHello))
	if err != nil {
		t.Fatal(err)
	}
	if sh.Version != tls.VersionTLS12 || sh.CipherSuite != suite || sh.ALPN != "mqtt" || !sh.EncryptThenMAC ||
		!sh.ExtendedMasterSecret || sh.HelloRetryRequest || sh.PSK || len(sh.Random) != 32 {
		t.Errorf("OpenSSL ServerHello = %+v", sh)
	}
	certs, err := ParseCertificate(find(t, sf.messages, Certificate), false)
	if err != nil {
		t.Fatal(err)
	}
	if !equalDER(certs, [][]byte{p.leafDER, p.caDER}) {
		t.Errorf("ParseCertificate: %d certificates, not the configured leaf and CA", len(certs))
	}
	checkResplit(t, cf)
	checkResplit(t, sf)
	t.Run("tshark", func(t *testing.T) { crossCheckTshark(t, w, ch, sh, certs) })
}
