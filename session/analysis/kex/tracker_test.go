package kex

import (
	"crypto/rand"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

// modp2048 is the 2048-bit MODP group of RFC 3526 (generator 2): a real,
// safe-prime group small enough for quick tests.
func modp2048(t *testing.T) keys.DHGroup {
	p, ok := new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)
	if !ok {
		t.Fatal("bad prime")
	}
	return keys.DHGroup{P: p, G: big.NewInt(2)}
}

// lab simulates the wire of a secure MQTT lab run through a broker: each
// message is seen from its publisher and as the broker's copy to the peer.
type lab struct {
	t      *testing.T
	tr     *Tracker
	frame  int
	clock  time.Time
	conns  [2]decode.Conn // 0: requester's connection, 1: responder's
	got    []session.Record
	crypto []session.Crypto
}

func newLab(t *testing.T, store *keys.Store) *lab {
	l := &lab{t: t, tr: NewTracker(store), clock: time.Unix(1700000000, 0)}
	l.connect(0, "requester-1")
	l.connect(1, "responder-1")
	return l
}

func (l *lab) record(stream int, fromClient bool, raw []byte) *session.Record {
	l.frame++
	l.clock = l.clock.Add(10 * time.Millisecond)
	r := &session.Record{Frame: l.frame, Time: l.clock, Stream: stream,
		Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), SrcPort: uint16(40000 + stream), DstPort: 1884}
	if !fromClient {
		r.SrcPort, r.DstPort = r.DstPort, r.SrcPort
	}
	l.conns[stream].Decode(raw, fromClient, &r.Packet)
	if m := r.Packet.Malformed(); m != "" {
		l.t.Fatalf("test packet malformed: %s", m)
	}
	l.tr.Observe(r)
	return r
}

func (l *lab) connect(stream int, id string) {
	raw := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(id))}
	l.record(stream, true, append(raw, id...))
}

// publish sends payload on topic from side `from` (0 requester, 1
// responder) and delivers the broker's copy to the other side. It returns
// both records.
func (l *lab) publish(from int, topic string, payload []byte) [2]session.Record {
	raw := publishPacket(topic, payload)
	a := l.record(from, true, raw)
	out := [2]session.Record{*a}
	out[0].Crypto.Plaintext = append([]byte(nil), a.Crypto.Plaintext...)
	out[0].Findings = append([]session.Finding(nil), a.Findings...)
	b := l.record(1-from, false, raw)
	out[1] = *b
	out[1].Crypto.Plaintext = append([]byte(nil), b.Crypto.Plaintext...)
	out[1].Findings = append([]session.Finding(nil), b.Findings...)
	return out
}

// publishPacket encodes a QoS 1 PUBLISH with packet id 1.
func publishPacket(topic string, payload []byte) []byte {
	body := []byte{byte(len(topic) >> 8), byte(len(topic))}
	body = append(body, topic...)
	body = append(body, 0, 1)
	body = append(body, payload...)
	raw := decode.AppendVarint([]byte{0x32}, len(body))
	return append(raw, body...)
}

// party is one side's DH key and derived Fernet key.
type party struct {
	priv *keys.DHPrivateKey
	key  keys.FernetKey
}

func genKey(t *testing.T, g keys.DHGroup) *keys.DHPrivateKey {
	k, err := keys.GenerateDHKey(g, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// exchange runs one key exchange and one action round trip; variant picks
// the HKDF variant both peers use.
func (l *lab) exchange(netid string, req, res *keys.DHPrivateKey, variant keys.HKDFVariant, text, answer string) (reqMsgs, resMsgs [2]session.Record) {
	l.publish(0, netid+"/key-exchange/request", req.Public().MarshalPEM())
	l.publish(1, netid+"/key-exchange/response", res.Public().MarshalPEM())
	secret, err := req.SharedSecret(res.Public())
	if err != nil {
		l.t.Fatal(err)
	}
	var key keys.FernetKey
	for _, k := range keys.DeriveLabKeys(secret) {
		if k.Variant == variant {
			key = k
		}
	}
	tok, err := keys.EncryptFernet(key, []byte(text), l.clock)
	if err != nil {
		l.t.Fatal(err)
	}
	reqMsgs = l.publish(0, netid+"/uppercase/request", tok)
	tok, _ = keys.EncryptFernet(key, []byte(answer), l.clock)
	resMsgs = l.publish(1, netid+"/uppercase/response", tok)
	return
}

func storeOf(t *testing.T, ks ...*keys.DHPrivateKey) *keys.Store {
	dir := t.TempDir()
	for i, k := range ks {
		if err := os.WriteFile(filepath.Join(dir, "k"+string(rune('a'+i))+".pem"), k.MarshalPKCS8PEM(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := keys.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecryptsFromEitherSidesKey(t *testing.T) {
	g := modp2048(t)
	req, res := genKey(t, g), genKey(t, g)
	for _, c := range []struct {
		name string
		key  *keys.DHPrivateKey
		side string
	}{{"requester", req, "requester"}, {"responder", res, "responder"}} {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t, storeOf(t, c.key))
			rq, rs := l.exchange("le0nh4rt", req, res, keys.HKDFInfoZero, "Networking is the best!", "NETWORKING IS THE BEST!")
			for i, r := range append(rq[:], rs[:]...) {
				if r.Crypto.Decrypt != "ok" || r.Crypto.Session != "le0nh4rt#1" || r.Crypto.Scheme != "dh-fernet" {
					t.Fatalf("message %d: %+v", i, r.Crypto)
				}
			}
			if string(rq[0].Crypto.Plaintext) != "Networking is the best!" || string(rq[1].Crypto.Plaintext) != "Networking is the best!" || string(rs[1].Crypto.Plaintext) != "NETWORKING IS THE BEST!" {
				t.Errorf("plaintexts %q %q %q", rq[0].Crypto.Plaintext, rq[1].Crypto.Plaintext, rs[1].Crypto.Plaintext)
			}
			if rq[0].Crypto.Message == 0 || rq[0].Crypto.Message != rq[1].Crypto.Message || rq[0].Crypto.Message == rs[0].Crypto.Message {
				t.Errorf("logical message ids: request copies %d/%d, response %d", rq[0].Crypto.Message, rq[1].Crypto.Message, rs[0].Crypto.Message)
			}
			ex := l.tr.Exchanges()
			if len(ex) != 1 || ex[0].KeySide != c.side || ex[0].KDF != string(keys.HKDFInfoZero) || ex[0].Decrypted != 2 || ex[0].Status() != "ok" {
				t.Errorf("exchange %+v", ex[0])
			}
			if ex[0].Requester.ClientID != "requester-1" || len(ex[0].Responses) != 1 || ex[0].Responses[0].ClientID != "responder-1" {
				t.Errorf("parties %+v %+v", ex[0].Requester, ex[0].Responses)
			}
		})
	}
}

func TestNoKeyUnrelatedKeyAndInfoNone(t *testing.T) {
	g := modp2048(t)
	req, res, other := genKey(t, g), genKey(t, g), genKey(t, g)

	l := newLab(t, nil)
	rq, _ := l.exchange("n1", req, res, keys.HKDFInfoZero, "a", "A")
	if rq[0].Crypto.Decrypt != "no-key" || rq[0].Crypto.Reason == "" {
		t.Errorf("without keys: %+v", rq[0].Crypto)
	}

	l = newLab(t, storeOf(t, other))
	rq, _ = l.exchange("n1", req, res, keys.HKDFInfoZero, "a", "A")
	if rq[0].Crypto.Decrypt != "failed" || rq[0].Crypto.Reason == "" {
		t.Errorf("with an unrelated key: %+v", rq[0].Crypto)
	}

	l = newLab(t, storeOf(t, req))
	rq, _ = l.exchange("n1", req, res, keys.HKDFInfoNone, "old template", "OLD TEMPLATE")
	if rq[0].Crypto.Decrypt != "ok" || rq[0].Crypto.KDF != string(keys.HKDFInfoNone) {
		t.Errorf("info=None variant: %+v", rq[0].Crypto)
	}
}

func TestRekeyingMITMAndPlaintext(t *testing.T) {
	g := modp2048(t)
	req1, res1, req2, res2 := genKey(t, g), genKey(t, g), genKey(t, g), genKey(t, g)
	l := newLab(t, storeOf(t, req1, req2))
	l.exchange("cosmo", req1, res1, keys.HKDFInfoZero, "one", "ONE")
	rq, _ := l.exchange("cosmo", req2, res2, keys.HKDFInfoZero, "two", "TWO")
	if rq[0].Crypto.Session != "cosmo#2" || string(rq[0].Crypto.Plaintext) != "two" {
		t.Errorf("after re-keying: %+v", rq[0].Crypto)
	}

	// A second responder answers the same request.
	mitm := genKey(t, g)
	l.publish(0, "cosmo/key-exchange/request", req1.Public().MarshalPEM())
	l.publish(1, "cosmo/key-exchange/response", res1.Public().MarshalPEM())
	evil := l.publish(1, "cosmo/key-exchange/response", mitm.Public().MarshalPEM())
	if !hasFinding(evil[0], "kex.mitm") {
		t.Errorf("second answer not reported: %+v", evil[0].Findings)
	}
	ex := l.tr.Exchanges()
	if len(ex) != 3 || len(ex[2].Responses) != 2 || !slices.Contains(ex[2].Findings, "kex.mitm") || !slices.Contains(ex[2].Findings, "kex.key-reuse") {
		t.Fatalf("exchanges: %d, third %+v", len(ex), ex[len(ex)-1])
	}

	clear := l.publish(0, "cosmo/uppercase/request", []byte("hello in clear"))
	if clear[0].Crypto.Decrypt != "failed" || !hasFinding(clear[0], "payload.not-encrypted") {
		t.Errorf("clear-text request: %+v %+v", clear[0].Crypto, clear[0].Findings)
	}
}

func TestUnansweredAndWeakGroup(t *testing.T) {
	g := modp2048(t)
	req := genKey(t, g)
	l := newLab(t, nil)
	l.publish(0, "lonely/key-exchange/request", req.Public().MarshalPEM())
	fs := l.tr.Close()
	if len(fs) != 1 || fs[0].Code.String() != "kex.unanswered" || l.tr.Exchanges()[0].Status() != "unanswered" {
		t.Errorf("unanswered: %+v", fs)
	}

	small := keys.DHGroup{P: big.NewInt(2147483647), G: big.NewInt(7)} // a 31-bit prime
	weak := genKey(t, small)
	rec := l.publish(0, "weak/key-exchange/request", weak.Public().MarshalPEM())
	if !hasFinding(rec[0], "kex.weak-group") {
		t.Errorf("31-bit group not reported weak: %+v", rec[0].Findings)
	}
	bad := &keys.DHPublicKey{Group: g, Y: big.NewInt(1)}
	rec = l.publish(0, "bad/key-exchange/request", bad.MarshalPEM())
	if !hasFinding(rec[0], "kex.invalid-public-key") {
		t.Errorf("y=1 not reported: %+v", rec[0].Findings)
	}
}

func hasFinding(r session.Record, code string) bool {
	for _, f := range r.Findings {
		if f.Code.String() == code {
			return true
		}
	}
	return false
}

// BenchmarkTrackerDecrypt measures decrypting short lab messages through the
// tracker: topic matching, logical-message linking and Fernet, per message.
func BenchmarkTrackerDecrypt(b *testing.B) {
	t := &testing.T{}
	g := modp2048(t)
	req, res := genKey(t, g), genKey(t, g)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "req.pem"), req.MarshalPKCS8PEM(), 0o600)
	store, err := keys.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	l := &lab{t: t, tr: NewTracker(store), clock: time.Unix(1700000000, 0)}
	l.exchange("bench", req, res, keys.HKDFInfoZero, "warm up", "WARM UP")
	secret, _ := req.SharedSecret(res.Public())
	key := keys.DeriveLabKeys(secret)[0]
	// Distinct tokens, so every message is a new logical message.
	const n = 1024
	raws := make([][]byte, n)
	for i := range raws {
		tok, _ := keys.EncryptFernet(key, []byte("Networking is the best! #"+string(rune('a'+i%26))), l.clock)
		raws[i] = publishPacket("bench/uppercase/request", tok)
	}
	var r session.Record
	var c decode.Conn
	c.SetVersion(decode.V311)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Time = l.clock.Add(time.Duration(i) * time.Millisecond)
		r.Findings = r.Findings[:0]
		r.Crypto = session.Crypto{Plaintext: r.Crypto.Plaintext[:0]}
		c.Decode(raws[i%n], true, &r.Packet)
		l.tr.Observe(&r)
		if r.Crypto.Decrypt != "ok" {
			b.Fatalf("not decrypted: %+v", r.Crypto)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestReloadKeys: a key written after the tracker started (a live lab peer
// saving its key) is found when the exchange is answered, and only when
// ReloadKeys asked for it; a broken key file is reported once.
func TestReloadKeys(t *testing.T) {
	g := modp2048(t)
	for _, reload := range []bool{false, true} {
		dir := t.TempDir()
		store, err := keys.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		l := newLab(t, store)
		var reported []string
		if reload {
			l.tr.ReloadKeys(func(err error) { reported = append(reported, err.Error()) })
		}
		os.WriteFile(filepath.Join(dir, "broken.pem"), []byte("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"), 0o600)
		req, res := genKey(t, g), genKey(t, g)
		if err := os.WriteFile(filepath.Join(dir, "req.pem"), req.MarshalPKCS8PEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		reqMsgs, resMsgs := l.exchange("live", req, res, keys.HKDFInfoZero, "hello", "HELLO")
		for _, m := range append(reqMsgs[:], resMsgs[:]...) {
			want := "no-key"
			if reload {
				want = "ok"
			}
			if m.Crypto.Decrypt != want {
				t.Errorf("reload=%v: decrypt %q (%s), want %q", reload, m.Crypto.Decrypt, m.Crypto.Reason, want)
			}
		}
		if reload && (len(reported) != 1 || !strings.Contains(reported[0], "broken.pem")) {
			t.Errorf("reload errors reported: %q, want one naming broken.pem", reported)
		}
	}
}

// Forged responses cannot make mqtap compute without end: past
// maxSecretsPerExchange shared secrets an exchange's further responses are
// left without theirs, once reported as mqtap.limit, and the genuine
// response (among the first) still decrypts.
func TestForgedResponsesAreBounded(t *testing.T) {
	g := modp2048(t)
	req, res := genKey(t, g), genKey(t, g)
	l := newLab(t, storeOf(t, req))
	l.publish(0, "flood/key-exchange/request", req.Public().MarshalPEM())
	l.publish(1, "flood/key-exchange/response", res.Public().MarshalPEM())
	limited := 0
	for k := 0; k < 3*maxSecretsPerExchange; k++ {
		y, err := rand.Int(rand.Reader, new(big.Int).Sub(g.P, big.NewInt(4)))
		if err != nil {
			t.Fatal(err)
		}
		forged := &keys.DHPublicKey{Group: g, Y: y.Add(y, big.NewInt(2))}
		rec := l.publish(1, "flood/key-exchange/response", forged.MarshalPEM())
		if hasFinding(rec[0], "mqtap.limit") {
			limited++
			if k+2 != maxSecretsPerExchange+1 {
				t.Errorf("mqtap.limit on response %d, want %d", k+2, maxSecretsPerExchange+1)
			}
		}
	}
	if limited != 1 || l.tr.computed != maxSecretsPerExchange {
		t.Errorf("mqtap.limit raised %d times, %d secrets computed; want 1 and %d", limited, l.tr.computed, maxSecretsPerExchange)
	}
	secret, err := req.SharedSecret(res.Public())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.EncryptFernet(keys.DeriveLabKeys(secret)[0], []byte("still readable"), l.clock)
	if err != nil {
		t.Fatal(err)
	}
	msg := l.publish(0, "flood/uppercase/request", tok)
	if string(msg[0].Crypto.Plaintext) != "still readable" {
		t.Errorf("the genuine response's key: %+v", msg[0].Crypto)
	}
	if ex := l.tr.Exchanges(); len(ex) != 1 || !slices.Contains(ex[0].Findings, "mqtap.limit") {
		t.Errorf("exchange findings: %+v", ex)
	}
}
