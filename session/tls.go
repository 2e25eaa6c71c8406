package session

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/tlswire"
	"github.com/mqtap/mqtap/keys/tlskeys"
)

// TLS versions.
const (
	tls12 = 0x0303
	tls13 = 0x0304
)

// TLSInfo describes one TLS connection: its handshake, its certificate and
// whether mqtap could decrypt it (Stats.TLS, mqtap sessions --tls).
type TLSInfo struct {
	Stream      int            `json:"tcp_stream"`
	Frame       int            `json:"frame"` // the ClientHello's
	Client      netip.AddrPort `json:"client"`
	Server      netip.AddrPort `json:"server"`
	SNI         string         `json:"sni,omitempty"`
	ALPN        []string       `json:"alpn_offered,omitempty"`
	Version     string         `json:"version,omitempty"`
	Cipher      string         `json:"cipher_suite,omitempty"`
	Resumed     bool           `json:"resumed"`
	Certificate string         `json:"certificate,omitempty"` // the leaf's subject
	CertProblem string         `json:"certificate_problem,omitempty"`
	Decrypted   string         `json:"decrypted"` // "ok", "no-key", "failed" or "no" (a suite mqtap does not decrypt)
	Reason      string         `json:"reason,omitempty"`
	Records     int            `json:"mqtt_packets"` // MQTT packets decoded inside
}

// maxTLSInfos bounds the TLS connections Stats lists, and the WebSocket
// connections.
const maxTLSInfos = 100000

// tlsConnections copies the TLS connections seen so far, in order.
func (p *Pipeline) tlsConnections() []TLSInfo {
	out := make([]TLSInfo, len(p.tlsInfos))
	for i, t := range p.tlsInfos {
		out[i] = *t
	}
	return out
}

// tlsConn is the TLS layer of a connection: record framing, the handshake,
// the certificate audit, and decryption with the key log. The decrypted
// application data of each direction goes to the MQTT framing as if it had
// been the TCP payload.
type tlsConn struct {
	version      uint16
	suiteID      uint16
	suite        *tlskeys.Suite
	clientRandom []byte
	serverRandom []byte
	sni          string
	sessionID    []byte // the ClientHello's, to tell a TLS 1.2 resumption
	alpnOffered  bool   // the client offered ALPN "mqtt"
	etm          bool
	hasSecrets   bool
	secrets      tlskeys.Secrets
	halves       [2]tlsHalf
	certProblem  string   // why the server's certificate is untrusted ("" when trusted or not seen)
	accepted     bool     // tls.accepted-untrusted-certificate reported
	stopped      string   // why decryption stopped, once it did
	info         *TLSInfo // what Stats reports (a scratch one beyond maxTLSInfos)
}

// tlsHalf is one direction of a TLS connection.
type tlsHalf struct {
	buf       []byte // bytes of an incomplete record
	hs        tlswire.HandshakeReader
	protected bool               // records are protected from now on
	dec       *tlskeys.Decrypter // nil without keys
}

// pendingFinding waits for the next MQTT record of its connection
// (conn.aside); a connection that never carries one hands it to
// Options.OnFinding.
type pendingFinding struct {
	f     Finding
	frame int
}

// startTLS turns c into a TLS connection.
func (p *Pipeline) startTLS(c *conn, ctx *frameCtx) {
	c.kind = kindTLS
	cl, sv := c.endpoints(int(max(c.client, 0)))
	info := &TLSInfo{Stream: int(c.stream), Frame: ctx.frame, Client: cl, Server: sv, Decrypted: "no-key"}
	c.tls = &tlsConn{info: info}
	if len(p.tlsInfos) < maxTLSInfos {
		p.tlsInfos = append(p.tlsInfos, info)
	} else {
		p.unlisted(c, ctx, "TLS")
	}
	for i := range c.halves {
		c.halves[i].buf = c.halves[i].buf[:0]
	}
}

// tlsFeed takes the next in-order bytes of direction i of a TLS connection.
func (p *Pipeline) tlsFeed(c *conn, i int, data []byte, ctx *frameCtx) {
	t := c.tls
	h := &t.halves[i]
	b := data
	if len(h.buf) > 0 {
		h.buf = append(h.buf, data...)
		b = h.buf
	}
	for len(b) > 0 && c.kind == kindTLS && p.err == nil {
		rec, rest, ok, err := tlswire.NextRecord(b)
		if err != nil {
			// Not (or no longer) TLS: a capture gap or another protocol.
			t.stop(fmt.Sprintf("the stream is not TLS any more: %v", err))
			c.kind = kindOther
			p.flushPending(c)
			c.release()
			return
		}
		if !ok {
			break
		}
		b = rest
		p.tlsRecord(c, i, rec, ctx)
	}
	if c.kind != kindTLS {
		return
	}
	switch {
	case len(b) == 0:
		h.buf = h.buf[:0]
	case len(h.buf) > 0 && &b[0] == &h.buf[len(h.buf)-len(b)]:
		h.buf = h.buf[:copy(h.buf, b)]
	default:
		h.buf = append(h.buf[:0], b...)
	}
}

// tlsLost ends a TLS connection that lost n bytes of direction i: the
// records after a gap cannot be told apart nor decrypted (their sequence
// numbers are unknown).
func (p *Pipeline) tlsLost(c *conn, i, n int) {
	t := c.tls
	if t.halves[i].dec != nil {
		t.stop(fmt.Sprintf("%d bytes of the %s were not captured", n, side(c, i)))
		p.tlsFinding(c, &p.cur, Finding{Code: TLSDecryptFailed,
			Text: fmt.Sprintf("TLS connection %s: %s; the rest of it is not decoded", c.describe(), t.stopped)})
	} else if t.stopped == "" && t.info.Decrypted == "ok" {
		t.stop(fmt.Sprintf("%d bytes of the %s were not captured", n, side(c, i)))
	}
	c.kind = kindOther
	p.flushPending(c)
	c.release()
}

// stop records why decryption stopped, once.
func (t *tlsConn) stop(why string) {
	if t.stopped == "" {
		t.stopped = why
		t.info.Decrypted, t.info.Reason = "failed", why
	}
	for i := range t.halves {
		t.halves[i].dec = nil
	}
}

// tlsRecord handles one record of direction i.
func (p *Pipeline) tlsRecord(c *conn, i int, rec tlswire.Record, ctx *frameCtx) {
	t := c.tls
	h := &t.halves[i]
	body, typ := rec.Body, rec.Type
	if h.protected && (t.version != tls13 || typ == tlswire.ApplicationData) {
		if h.dec == nil {
			// No key for this connection: only the outer type is known.
			if typ == tlswire.ApplicationData && t.version != tls13 {
				p.tlsApplicationData(c, i, nil, ctx)
			}
			return
		}
		plain, inner, err := h.dec.Decrypt(rec.Header, rec.Body)
		if err != nil {
			t.stop(fmt.Sprintf("a record of the %s could not be decrypted: %v", side(c, i), err))
			p.tlsFinding(c, ctx, Finding{Code: TLSDecryptFailed,
				Text: fmt.Sprintf("TLS connection %s: %s; the rest of it is not decoded (a wrong or incomplete key log, or a capture gap)", c.describe(), t.stopped)})
			return
		}
		body, typ = plain, inner
	}
	switch typ {
	case tlswire.Handshake:
		h.hs.Add(body)
		for {
			ht, msg, ok, err := h.hs.Next()
			if err != nil {
				t.stop("garbled handshake: " + err.Error())
				return
			}
			if !ok {
				break
			}
			p.tlsHandshake(c, i, ht, msg, ctx)
		}
	case tlswire.ChangeCipherSpec:
		if t.version != tls13 && !h.protected {
			h.protected = true
			h.dec = p.tls12Decrypter(c, i)
		}
	case tlswire.ApplicationData:
		p.tlsApplicationData(c, i, body, ctx)
	}
}

// side names direction i of c: "client's data" or "broker's data".
func side(c *conn, i int) string {
	if c.client == int8(i) {
		return "client's data"
	}
	return "broker's data"
}

// describe names a connection: "10.0.0.2:51000 → 10.0.0.1:8883 (SNI broker.lab)".
func (c *conn) describe() string {
	cl, sv := c.key.a.AddrPort(), c.key.b.AddrPort()
	if c.client == 1 {
		cl, sv = sv, cl
	}
	s := cl.String() + " → " + sv.String()
	if c.tls != nil && c.tls.sni != "" {
		s += " (SNI " + c.tls.sni + ")"
	}
	return s
}

// tlsHandshake handles one handshake message of direction i.
func (p *Pipeline) tlsHandshake(c *conn, i int, typ tlswire.HandshakeType, msg []byte, ctx *frameCtx) {
	t := c.tls
	fromClient := c.client == int8(i)
	switch typ {
	case tlswire.ClientHello:
		ch, err := tlswire.ParseClientHello(msg)
		if err != nil {
			t.stop(err.Error())
			return
		}
		t.clientRandom, t.sni = ch.Random, ch.ServerName
		t.info.SNI, t.info.ALPN = ch.ServerName, ch.ALPN
		t.sessionID = ch.SessionID
		for _, a := range ch.ALPN {
			if a == "mqtt" {
				t.alpnOffered = true
			}
		}
	case tlswire.ServerHello:
		sh, err := tlswire.ParseServerHello(msg)
		if err != nil || sh.HelloRetryRequest {
			return
		}
		t.version, t.suiteID, t.serverRandom, t.etm = sh.Version, sh.CipherSuite, sh.Random, sh.EncryptThenMAC
		t.suite, _ = tlskeys.SuiteByID(sh.CipherSuite)
		t.info.Version = tlskeys.VersionName(sh.Version)
		t.info.Cipher = fmt.Sprintf("0x%04x", sh.CipherSuite)
		if t.suite != nil {
			t.info.Cipher = t.suite.Name
		}
		t.info.Resumed = sh.PSK || t.version != tls13 && len(sh.SessionID) > 0 && bytes.Equal(sh.SessionID, t.sessionID)
		p.tlsProtocolAudit(c, ctx)
		t.secrets, t.hasSecrets = p.tlsSecrets(t.clientRandom)
		switch {
		case t.suite == nil || !t.suite.CanDecrypt():
			t.info.Decrypted, t.info.Reason = "no", "mqtap does not decrypt the cipher suite "+t.info.Cipher
		case !t.hasSecrets:
			t.info.Reason = fmt.Sprintf("no key log entry for the client random %x…", t.clientRandom[:min(8, len(t.clientRandom))])
		default:
			t.info.Decrypted, t.info.Reason = "ok", ""
		}
		if t.version == tls13 {
			for j := range t.halves {
				t.halves[j].protected = true
			}
			if t.hasSecrets && t.suite != nil && t.suite.CanDecrypt() {
				t.halves[c.client].dec = p.tls13Decrypter(t, t.secrets.ClientHandshake)
				t.halves[1-c.client].dec = p.tls13Decrypter(t, t.secrets.ServerHandshake)
			}
		}
	case tlswire.Certificate:
		if fromClient {
			return
		}
		certs, err := tlswire.ParseCertificate(msg, t.version == tls13)
		if err == nil && len(certs) > 0 {
			p.tlsCertificateAudit(c, certs, ctx)
		}
	case tlswire.Finished:
		if t.version == tls13 && t.hasSecrets && t.suite != nil && t.suite.CanDecrypt() {
			secret := t.secrets.ServerTraffic
			if fromClient {
				secret = t.secrets.ClientTraffic
			}
			t.halves[i].dec = p.tls13Decrypter(t, secret)
		}
	case tlswire.KeyUpdate:
		if d := t.halves[i].dec; d != nil {
			if err := d.KeyUpdate(); err != nil {
				t.stop("key update: " + err.Error())
			}
		}
	}
}

// tlsSecrets looks the connection's secrets up in the key log, reading the
// key files again once when a live capture misses them.
func (p *Pipeline) tlsSecrets(clientRandom []byte) (tlskeys.Secrets, bool) {
	if p.opts.Keys == nil || len(clientRandom) == 0 {
		return tlskeys.Secrets{}, false
	}
	s, ok := p.opts.Keys.TLSKeyLog().Secrets(clientRandom)
	if !ok && p.opts.ReloadKeys {
		p.opts.Keys.Reload()
		s, ok = p.opts.Keys.TLSKeyLog().Secrets(clientRandom)
	}
	return s, ok
}

// tls12Decrypter makes the decrypter of direction i after its
// ChangeCipherSpec, nil without the master secret or a suite mqtap
// decrypts.
func (p *Pipeline) tls12Decrypter(c *conn, i int) *tlskeys.Decrypter {
	t := c.tls
	if !t.hasSecrets || len(t.secrets.Master) == 0 || t.suite == nil || !t.suite.CanDecrypt() || t.stopped != "" {
		return nil
	}
	d, err := tlskeys.NewDecrypter12(t.suite, t.version, t.secrets.Master, t.clientRandom, t.serverRandom, c.client == int8(i), t.etm)
	if err != nil {
		t.stop(err.Error())
		return nil
	}
	return d
}

func (p *Pipeline) tls13Decrypter(t *tlsConn, secret []byte) *tlskeys.Decrypter {
	if len(secret) == 0 || t.stopped != "" {
		return nil
	}
	d, err := tlskeys.NewDecrypter13(t.suite, secret)
	if err != nil {
		t.stop(err.Error())
		return nil
	}
	return d
}

// tlsApplicationData handles application data of direction i: plain is
// the decrypted data, nil when it could not be decrypted.
func (p *Pipeline) tlsApplicationData(c *conn, i int, plain []byte, ctx *frameCtx) {
	t := c.tls
	if c.client == int8(i) && t.certProblem != "" && !t.accepted {
		t.accepted = true
		p.tlsFinding(c, ctx, Finding{Code: TLSAcceptedUntrustedCertificate,
			Text: fmt.Sprintf("the client of %s went on sending application data after the broker presented an untrusted certificate (%s): it does not verify the broker's certificate", c.describe(), t.certProblem)})
	}
	if len(plain) == 0 {
		return
	}
	switch c.inner {
	case kindUnknown:
		// The port, the ALPN offer or a CONNECT says the inside is MQTT.
		switch {
		case p.carriesMQTT(c):
			c.inner = kindMQTT
		case c.client == int8(i) && decode.Type(plain[0]>>4) == decode.CONNECT && decode.Plausible(plain, 0, detectLimit):
			c.inner = kindMQTT
		case c.client != int8(i) && decode.Type(plain[0]>>4) == decode.CONNACK && decode.Plausible(plain, 0, detectLimit):
			c.inner = kindMQTT // the broker's answer decrypted before its client's CONNECT
		case c.client == int8(i) && decode.LooksLikeHTTPRequest(plain):
			p.startWS(c, ctx) // MQTT over WebSocket when the head is an upgrade
		case c.client != int8(i):
			return // the server spoke first: what the client sends tells
		default:
			c.inner = kindOther
			return
		}
	case kindOther:
		return
	}
	if c.inner == kindWS {
		p.wsFeed(c, i, plain, ctx)
		return
	}
	p.parse(c, i, plain, ctx)
}

// carriesMQTT reports whether a TLS connection is known to carry MQTT: on
// an MQTT port, offering ALPN "mqtt", or seen to once decrypted.
func (p *Pipeline) carriesMQTT(c *conn) bool {
	return p.IsMQTTPort(c.key.a.Port()) || p.IsMQTTPort(c.key.b.Port()) || c.tls.alpnOffered || c.inner == kindMQTT || c.inner == kindWS
}

// tlsFinding reports a finding about a TLS connection: it goes with the
// connection's next MQTT record.
func (p *Pipeline) tlsFinding(c *conn, ctx *frameCtx, f Finding) { c.report(ctx, f) }

// report notes a finding about a connection (its TLS or WebSocket layer):
// it goes with the connection's next MQTT record.
func (c *conn) report(ctx *frameCtx, f Finding) {
	a := c.setAside()
	a.waiting = append(a.waiting, pendingFinding{f: f, frame: ctx.frame})
}

// flushPending hands findings no record carried to Options.OnFinding.
// Those of a TLS connection that is not known to carry MQTT (another port,
// no ALPN "mqtt", not decrypted) are dropped: it may be any TLS traffic.
func (p *Pipeline) flushPending(c *conn) {
	waiting := c.takeWaiting()
	if c.tls != nil && !p.carriesMQTT(c) {
		return
	}
	for _, pf := range waiting {
		if p.opts.OnFinding != nil {
			p.opts.OnFinding(pf.f, pf.frame)
		}
	}
}

// tlsProtocolAudit reports a TLS version below 1.2 or a weak cipher suite.
func (p *Pipeline) tlsProtocolAudit(c *conn, ctx *frameCtx) {
	t := c.tls
	var why []string
	if t.version < tls12 {
		why = append(why, tlskeys.VersionName(t.version)+" (below TLS 1.2)")
	}
	if t.suite != nil && t.suite.Weak != "" {
		why = append(why, fmt.Sprintf("cipher suite %s (%s)", t.suite.Name, t.suite.Weak))
	}
	if len(why) > 0 {
		p.tlsFinding(c, ctx, Finding{Code: TLSWeakProtocol,
			Text: fmt.Sprintf("TLS connection %s uses %s", c.describe(), strings.Join(why, " and "))})
	}
}

// tlsCertificateAudit verifies the broker's chain against the keyring's
// CA file and the system roots at the capture time, and checks its key and
// signature.
func (p *Pipeline) tlsCertificateAudit(c *conn, der [][]byte, ctx *frameCtx) {
	t := c.tls
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		t.certProblem = "the certificate cannot be parsed: " + err.Error()
	} else {
		inter := x509.NewCertPool()
		for _, d := range der[1:] {
			if ic, err := x509.ParseCertificate(d); err == nil {
				inter.AddCert(ic)
			}
		}
		var problems []string
		opts := x509.VerifyOptions{Roots: p.roots(), Intermediates: inter, CurrentTime: ctx.at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := leaf.Verify(opts); err != nil {
			problems = append(problems, certError(leaf, err))
		}
		host := t.sni
		if host == "" {
			// Without SNI the client connected to an address.
			_, sv := c.endpoints(int(c.client))
			host = sv.Addr().Unmap().String()
		}
		if err := leaf.VerifyHostname(host); err != nil {
			problems = append(problems, fmt.Sprintf("it is not valid for %s", host))
		}
		if w := weakKey(leaf); w != "" {
			problems = append(problems, w)
		}
		switch leaf.SignatureAlgorithm {
		case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
			problems = append(problems, "it is signed with "+leaf.SignatureAlgorithm.String())
		}
		t.certProblem = strings.Join(dedupe(problems), "; ")
	}
	if leaf != nil {
		t.info.Certificate = leaf.Subject.String()
	}
	t.info.CertProblem = t.certProblem
	if t.certProblem == "" {
		return
	}
	subject := "?"
	if leaf != nil {
		subject = leaf.Subject.String()
		sum := sha256.Sum256(der[0])
		subject += fmt.Sprintf(", SHA-256 %x", sum[:8])
	}
	_, server := c.endpoints(int(c.client))
	name := server.String()
	if t.sni != "" {
		name += " (SNI " + t.sni + ")"
	}
	p.tlsFinding(c, ctx, Finding{Code: TLSUntrustedCertificate,
		Text: fmt.Sprintf("the broker at %s presents an untrusted certificate (%s): %s", name, subject, t.certProblem)})
}

// certError explains a verification error in a few words.
func certError(leaf *x509.Certificate, err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) && leaf.CheckSignatureFrom(leaf) == nil {
			return "it is self-signed"
		}
		return "its issuer (" + leaf.Issuer.String() + ") is not a trusted CA"
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			if time.Now().Before(leaf.NotBefore) || ci.Detail == "" {
				return fmt.Sprintf("it is not valid at the capture time (valid %s to %s)", leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
			}
			return "it has expired or is not yet valid: " + ci.Detail
		case x509.IncompatibleUsage:
			return "it is not for TLS servers"
		}
		return ci.Error()
	case errors.As(err, new(x509.HostnameError)):
		return "it does not name the host"
	}
	return err.Error()
}

// weakKey says why a certificate's public key is too weak, "" if it is not.
func weakKey(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Sprintf("its RSA key has only %d bits", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			return fmt.Sprintf("its ECDSA key has only %d bits", k.Curve.Params().BitSize)
		}
	}
	return ""
}

func dedupe(l []string) []string {
	var out []string
	for _, s := range l {
		dup := false
		for _, o := range out {
			dup = dup || o == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// roots is the pool certificates are verified against: the system roots
// and the keyring's [tls] cafile. It is built once.
func (p *Pipeline) roots() *x509.CertPool {
	if p.rootPool != nil {
		return p.rootPool
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if p.opts.Keys != nil {
		if f := p.opts.Keys.CAFile(); f != "" {
			if pem, err := os.ReadFile(f); err == nil {
				pool.AppendCertsFromPEM(pem)
			}
		}
	}
	p.rootPool = pool
	return pool
}

// unlisted reports, on the first connection past maxTLSInfos of a kind
// (TLS or WebSocket), that it and the later ones are decoded but not
// listed in Stats.
func (p *Pipeline) unlisted(c *conn, ctx *frameCtx, what string) {
	if p.capped[what] {
		return
	}
	if p.capped == nil {
		p.capped = make(map[string]bool)
	}
	p.capped[what] = true
	p.stats.Limits++
	c.report(ctx, Finding{Code: LimitReached, Text: fmt.Sprintf("the capture has more than %d %s connections: this one and the later ones are decoded but not listed among them", maxTLSInfos, what)})
}
