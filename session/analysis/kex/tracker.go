// Package kex rebuilds the key exchanges that clients run over MQTT.
//
// The exchange is the secure MQTT client lab's unauthenticated Diffie-Hellman
// exchange on <netid>/key-exchange/request|response followed by
// Fernet-encrypted <netid>/<action>/request|response messages. Given the
// private key of either side, kex decrypts every message of every exchange.
//
// A Tracker watches the records of a capture in order and annotates each lab
// message (Record.Crypto, Record.Findings). Every modular exponentiation
// runs once per exchange, never per message.
package kex

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

// Scheme is the mqtap.scheme of lab messages.
const Scheme = "dh-fernet"

// Party is one end of an exchange as seen on the wire.
type Party struct {
	ClientID string         `json:"client_id,omitempty"`
	Addr     netip.AddrPort `json:"address"`
	Frame    int            `json:"frame"`
	Key      string         `json:"public_key"` // fingerprint of the DH public key
}

// Exchange is one key exchange: a request and the response(s) to it, and
// the action messages bound to it until the next exchange of its netid.
type Exchange struct {
	ID        string    `json:"session"` // "<netid>#<n>"
	NetID     string    `json:"netid"`
	Requester Party     `json:"requester"`
	Responses []Party   `json:"responders"` // more than one: somebody else answered too (kex.mitm)
	Start     time.Time `json:"start"`
	GroupBits int       `json:"group_bits"`
	KeySide   string    `json:"key_side,omitempty"` // "requester" or "responder": whose private key decrypted it
	KeyFile   string    `json:"key_file,omitempty"`
	KDF       string    `json:"kdf,omitempty"` // the HKDF variant that verified
	Decrypted int       `json:"decrypted"`
	Failed    int       `json:"failed"`
	NoKey     int       `json:"no_key"`
	Findings  []string  `json:"findings"`

	reqKey   *keys.DHPublicKey
	resKeys  []*keys.DHPublicKey
	answers  map[string]bool // the public values of resKeys, big-endian
	pairings []pairing       // one per response, once a private key matched
	tried    int             // responses already looked up in the key store
	computed int             // shared secrets computed (exponentiations)
	limit    string          // why responses were left without their secret, once a limit is reached
	reported bool            // the limit's finding was raised
}

// Limits of the exponentiations a capture can make mqtap do: a 4096-bit
// shared secret costs tens of milliseconds, and anybody on the broker can
// answer a key exchange with as many public keys as they like.
const (
	maxSecretsPerExchange = 16
	maxSecrets            = 1024
)

// pairing is the key material of the request with one of its responses.
type pairing struct {
	response int
	side     string
	file     string
	keys     []keys.FernetKey
}

// Status sums up an exchange.
func (e *Exchange) Status() string {
	switch {
	case len(e.Responses) == 0:
		return "unanswered"
	case e.Failed > 0 && e.Decrypted == 0:
		return "failed"
	case len(e.pairings) == 0:
		return "no-key"
	}
	return "ok"
}

// Tracker rebuilds key exchanges from a stream of records.
type Tracker struct {
	store     *keys.Store
	netids    map[string][]*Exchange
	all       []*Exchange
	clientIDs []string // by tcp.stream: the client id from its CONNECT
	seenKeys  map[string]string
	weak      map[string]string // group (p, g) -> weakness, computed once per group
	copies    session.Linker[message]
	computed  int // shared secrets computed, all exchanges together

	reload     bool        // read the key store again when a key is missing (live)
	report     func(error) // receives reload errors
	reported   map[string]bool
	lastReload time.Time
}

// message is one logical lab message: the publisher's copy and the broker's
// copies share it and its decryption.
type message struct {
	ex      *Exchange
	crypto  session.Crypto
	plain   []byte
	finding []session.Finding
}

// NewTracker returns a tracker decrypting with the keys of store (nil: no
// keys, exchanges are still rebuilt and reported).
func NewTracker(store *keys.Store) *Tracker {
	return &Tracker{
		store:    store,
		netids:   make(map[string][]*Exchange),
		seenKeys: make(map[string]string),
		weak:     make(map[string]string),
	}
}

// Exchanges returns every exchange seen so far, in order of their requests.
func (t *Tracker) Exchanges() []*Exchange { return t.all }

// labTopic splits a lab topic "<netid>/<action>/<request|response>".
func labTopic(topic []byte) (netid, action string, request, ok bool) {
	i := bytes.IndexByte(topic, '/')
	if i <= 0 {
		return "", "", false, false
	}
	j := bytes.IndexByte(topic[i+1:], '/')
	if j <= 0 {
		return "", "", false, false
	}
	last := topic[i+1+j+1:]
	switch {
	case string(last) == "request":
		request = true
	case string(last) == "response":
	default:
		return "", "", false, false
	}
	return string(topic[:i]), string(topic[i+1 : i+1+j]), request, true
}

// clientID returns the client id the CONNECT of a tcp.stream carried.
func (t *Tracker) clientID(stream int) string {
	if stream >= 0 && stream < len(t.clientIDs) {
		return t.clientIDs[stream]
	}
	return ""
}

// Observe annotates one record. Records must come in capture order.
func (t *Tracker) Observe(r *session.Record) {
	p := &r.Packet
	if p.Type == decode.CONNECT && p.FromClient {
		if f := p.Field("mqtt.clientid"); f != nil && r.Stream >= 0 {
			if n := r.Stream + 1 - len(t.clientIDs); n > 0 {
				t.clientIDs = slices.Grow(t.clientIDs, n)[:r.Stream+1]
			}
			t.clientIDs[r.Stream] = string(f.Bytes)
		}
		return
	}
	if p.Type != decode.PUBLISH || p.Malformed() != "" || p.Truncated || len(p.Topic) == 0 {
		return // a packet the capture cut short has no whole payload to judge
	}
	// Cheap rejection before any allocation: lab topics end in /request or /response.
	if !bytes.HasSuffix(p.Topic, []byte("/request")) && !bytes.HasSuffix(p.Topic, []byte("/response")) {
		return
	}
	netid, action, request, ok := labTopic(p.Topic)
	if !ok {
		return
	}
	id, m, first := t.copies.Link(r)
	if !first {
		// The broker's copy (or a retransmission) of a message already
		// handled: same session, same outcome.
		buf := r.Crypto.Plaintext[:0]
		r.Crypto = m.crypto
		r.Crypto.Plaintext = append(buf, m.plain...)
		r.Crypto.Copy = true
		r.Findings = append(r.Findings, m.finding...)
		return
	}
	before := len(r.Findings)
	if action == "key-exchange" {
		t.keyExchange(r, m, netid, request)
	} else {
		t.action(r, m, netid, request)
	}
	if p.QoS != 1 {
		r.Findings = append(r.Findings, session.Finding{Code: session.LabQoS,
			Text: fmt.Sprintf("the secure MQTT lab requires QoS 1; this message was published with QoS %d", p.QoS)})
	}
	r.Crypto.Message = id
	m.crypto = r.Crypto
	m.crypto.Plaintext = nil
	m.plain = append(m.plain[:0], r.Crypto.Plaintext...)
	m.finding = append(m.finding[:0], r.Findings[before:]...)
}

// party describes the sender of a record.
func (t *Tracker) party(r *session.Record, key *keys.DHPublicKey) Party {
	p := Party{ClientID: t.clientID(r.Stream), Addr: netip.AddrPortFrom(r.Src, r.SrcPort), Frame: r.Frame}
	if !r.Packet.FromClient {
		// The broker's copy: the publisher is not this connection's peer.
		p.ClientID, p.Addr = "", netip.AddrPort{}
	}
	if key != nil {
		p.Key = key.Fingerprint()
	}
	return p
}

// keyExchange handles a public key on <netid>/key-exchange/request|response.
func (t *Tracker) keyExchange(r *session.Record, m *message, netid string, request bool) {
	c := &r.Crypto
	c.Scheme = Scheme
	c.Kex = "response"
	if request {
		c.Kex = "request"
	}
	pub, err := keys.ParseDHPublicKeyPEM(r.Packet.Payload)
	if err != nil {
		r.Findings = append(r.Findings, session.Finding{Code: session.KexInvalidPublicKey, Lower: session.SevMedium,
			Text: fmt.Sprintf("the %s of %s does not carry a Diffie-Hellman public key: %v", c.Kex, netid, err)})
		return
	}
	t.checkKey(r, pub, netid)
	list := t.netids[netid]
	if request {
		ex := &Exchange{ID: fmt.Sprintf("%s#%d", netid, len(list)+1), NetID: netid, Start: r.Time,
			GroupBits: pub.Group.Bits(), reqKey: pub, Requester: t.party(r, pub)}
		t.netids[netid] = append(list, ex)
		t.all = append(t.all, ex)
		t.reuse(r, ex, pub)
		m.ex = ex
		c.Session = ex.ID
		return
	}
	// A response answers the latest request of its netid.
	if len(list) == 0 {
		r.Findings = append(r.Findings, session.Finding{Code: session.KexUnsolicited,
			Text: fmt.Sprintf("a key-exchange response for %s without any request seen before it", netid)})
		return
	}
	ex := list[len(list)-1]
	m.ex = ex
	c.Session = ex.ID
	y := string(pub.Y.Bytes())
	if ex.answers[y] {
		return // the same answer again (a retransmission)
	}
	if ex.answers == nil {
		ex.answers = make(map[string]bool)
	}
	ex.answers[y] = true
	t.reuse(r, ex, pub)
	ex.resKeys = append(ex.resKeys, pub)
	ex.Responses = append(ex.Responses, t.party(r, pub))
	if len(ex.Responses) > 1 {
		f := session.Finding{Code: session.KexMITM,
			Text: fmt.Sprintf("request %s was answered with %d different public keys: any client of the broker can answer an unauthenticated key exchange and read what follows", ex.ID, len(ex.Responses))}
		r.Findings = append(r.Findings, f)
		addFinding(ex, f.Code)
	}
	t.pair(ex)
	if ex.limit != "" && !ex.reported {
		ex.reported = true
		r.Findings = append(r.Findings, session.Finding{Code: session.LimitReached, Text: ex.limit})
		addFinding(ex, session.LimitReached)
	}
}

// checkKey reports weak groups and invalid public values.
func (t *Tracker) checkKey(r *session.Record, pub *keys.DHPublicKey, netid string) {
	g := pub.Group.P.Text(16) + "/" + pub.Group.G.Text(16)
	weak, ok := t.weak[g]
	if !ok {
		weak = pub.Group.Weakness()
		t.weak[g] = weak
	}
	if weak != "" {
		r.Findings = append(r.Findings, session.Finding{Code: session.KexWeakGroup,
			Text: fmt.Sprintf("the Diffie-Hellman group of %s's key exchange is weak: %s", netid, weak)})
	}
	if why := pub.Validate(); why != "" {
		r.Findings = append(r.Findings, session.Finding{Code: session.KexInvalidPublicKey,
			Text: fmt.Sprintf("invalid Diffie-Hellman public value in %s's key exchange: %s", netid, why)})
	}
}

// reuse reports a public key already used in another exchange.
func (t *Tracker) reuse(r *session.Record, ex *Exchange, pub *keys.DHPublicKey) {
	fp := pub.Fingerprint()
	if first, ok := t.seenKeys[fp]; ok && first != ex.ID {
		f := session.Finding{Code: session.KexKeyReuse,
			Text: fmt.Sprintf("public key %s of %s was already used in %s: a reused key gives every session the same secret", fp, ex.ID, first)}
		r.Findings = append(r.Findings, f)
		addFinding(ex, f.Code)
		return
	}
	t.seenKeys[fp] = ex.ID
}

// ReloadKeys makes the tracker read the key store's paths again whenever
// an exchange has no matching private key, before it gives up: on a live
// capture the lab peers write their keys just before publishing, after
// mqtap started. report receives each distinct reload error once (a key
// file that cannot be parsed); it may be nil.
func (t *Tracker) ReloadKeys(report func(error)) {
	t.reload, t.report = t.store != nil, report
	t.reported = make(map[string]bool)
}

// reloadKeys reads the key store again, at most every 100 ms unless force,
// and reports whether new DH keys were found.
func (t *Tracker) reloadKeys(force bool) bool {
	if !t.reload || !force && time.Since(t.lastReload) < 100*time.Millisecond {
		return false
	}
	t.lastReload = time.Now()
	n, err := t.store.Reload()
	if err != nil && t.report != nil && !t.reported[err.Error()] {
		t.reported[err.Error()] = true
		t.report(err)
	}
	return n > 0
}

// pair derives the Fernet keys of new responses from whichever side's
// private key is in the store: one exponentiation per response.
func (t *Tracker) pair(ex *Exchange) {
	if t.store == nil {
		return
	}
	for ; ex.tried < len(ex.resKeys); ex.tried++ {
		res := ex.resKeys[ex.tried]
		var secret []byte
		var err error
		side, file := "", ""
		priv := t.store.FindDH(ex.reqKey)
		if priv == nil && t.store.FindDH(res) == nil && t.reloadKeys(true) {
			priv = t.store.FindDH(ex.reqKey)
		}
		if (priv != nil || t.store.FindDH(res) != nil) && !t.budget(ex) {
			return
		}
		if priv != nil {
			secret, err = priv.SharedSecret(res)
			side, file = "requester", priv.Source
		} else if priv := t.store.FindDH(res); priv != nil {
			secret, err = priv.SharedSecret(ex.reqKey)
			side, file = "responder", priv.Source
		} else {
			continue
		}
		if err != nil {
			addFinding(ex, session.KexInvalidPublicKey)
			continue
		}
		ex.pairings = append(ex.pairings, pairing{response: ex.tried, side: side, file: file, keys: keys.DeriveLabKeys(secret)})
	}
}

// budget reports whether one more shared secret of ex may be computed,
// and counts it; when not, it notes in ex which limit was reached.
func (t *Tracker) budget(ex *Exchange) bool {
	switch {
	case ex.computed >= maxSecretsPerExchange:
		ex.limit = fmt.Sprintf("%s has more than %d responses whose shared secret a private key of the store could compute: mqtap computed those of the first %d only", ex.ID, maxSecretsPerExchange, maxSecretsPerExchange)
	case t.computed >= maxSecrets:
		ex.limit = fmt.Sprintf("the capture has more than %d key-exchange responses whose shared secret a private key of the store could compute: mqtap computed the first %d only, and none of %s", maxSecrets, maxSecrets, ex.ID)
	default:
		ex.computed++
		t.computed++
		return true
	}
	return false
}

// Retry looks the exchanges without keys up again, after the key store was
// reloaded (live captures: a peer writes its key just before publishing).
func (t *Tracker) Retry() {
	for _, ex := range t.all {
		if len(ex.pairings) < len(ex.resKeys) {
			ex.tried = len(ex.pairings)
			t.pair(ex)
		}
	}
}

// dhKeys is the number of DH private keys loaded.
func (t *Tracker) dhKeys() int {
	if t.store == nil {
		return 0
	}
	return len(t.store.DHKeys())
}

// current is the exchange action messages of a netid are bound to: the
// latest one that has been answered.
func (t *Tracker) current(netid string) *Exchange {
	list := t.netids[netid]
	for i := len(list) - 1; i >= 0; i-- {
		if len(list[i].Responses) > 0 {
			return list[i]
		}
	}
	return nil
}

// action decrypts a Fernet token on <netid>/<action>/request|response.
func (t *Tracker) action(r *session.Record, m *message, netid string, request bool) {
	c := &r.Crypto
	ex := t.current(netid)
	payload := bytes.TrimSpace(r.Packet.Payload)
	token := keys.LooksLikeFernet(payload)
	if ex == nil {
		// No key exchange for this netid: a Fernet token is a lab message
		// whose exchange was not captured; anything else is some other
		// application's request/response topic, not ours to judge.
		if token {
			c.Scheme = Scheme
			c.Decrypt, c.Reason = "no-key", fmt.Sprintf("no answered key exchange for %s before this message", netid)
		}
		return
	}
	c.Scheme = Scheme
	if !token {
		c.Decrypt, c.Reason = "failed", "not a Fernet token"
		c.Session = ex.ID
		ex.Failed++
		kind := "response"
		if request {
			kind = "request"
		}
		f := session.Finding{Code: session.PayloadNotEncrypted,
			Text: fmt.Sprintf("the %s on %s is not a Fernet token: it travels in clear text where the lab expects ciphertext", kind, r.Packet.Topic)}
		r.Findings = append(r.Findings, f)
		addFinding(ex, f.Code)
		return
	}
	m.ex = ex
	c.Session = ex.ID
	if len(ex.pairings) == 0 && t.reloadKeys(false) {
		t.Retry()
	}
	if len(ex.pairings) == 0 {
		if n := t.dhKeys(); n > 0 {
			// Keys were given, and none of them belongs to this exchange.
			ex.Failed++
			c.Decrypt = "failed"
			c.Reason = fmt.Sprintf("none of the %d DH private keys loaded belongs to the requester (public key %s) or the responder (%s)", n, ex.Requester.Key, ex.Responses[0].Key)
			return
		}
		ex.NoKey++
		c.Decrypt = "no-key"
		c.Reason = fmt.Sprintf("no private key for the requester's public key %s nor the responder's %s (pass the key files with --keys)", ex.Requester.Key, ex.Responses[0].Key)
		return
	}
	var cands []keys.FernetKey
	for _, p := range ex.pairings {
		cands = append(cands, p.keys...)
	}
	res, err := keys.DecryptFernet(payload, cands)
	if err != nil {
		ex.Failed++
		c.Decrypt = "failed"
		switch {
		case errors.Is(err, keys.ErrHMAC):
			c.Reason = fmt.Sprintf("Fernet HMAC mismatch under every key of %s (%d candidates): the message was encrypted with another key", ex.ID, len(cands))
		default:
			c.Reason = err.Error()
		}
		return
	}
	ex.Decrypted++
	p := ex.pairings[0]
	for _, q := range ex.pairings {
		if res.Key < len(q.keys) {
			p = q
			break
		}
		res.Key -= len(q.keys)
	}
	k := p.keys[res.Key]
	ex.KeySide, ex.KeyFile, ex.KDF = p.side, p.file, string(k.Variant)
	c.Decrypt = "ok"
	c.Plaintext = append(c.Plaintext[:0], res.Plaintext...)
	c.Key = p.side + " key " + p.file
	c.KDF = string(k.Variant)
	c.TokenTime = res.Time
}

// Close ends the capture: exchanges never answered get kex.unanswered.
func (t *Tracker) Close() []session.Finding {
	var out []session.Finding
	for _, ex := range t.all {
		if len(ex.Responses) == 0 {
			addFinding(ex, session.KexUnanswered)
			out = append(out, session.Finding{Code: session.KexUnanswered,
				Text: fmt.Sprintf("key-exchange request %s (frame %d) was never answered", ex.ID, ex.Requester.Frame)})
		}
	}
	return out
}

// addFinding lists code among the exchange's findings, once.
func addFinding(ex *Exchange, code session.FindingCode) {
	name := code.String()
	if !slices.Contains(ex.Findings, name) {
		ex.Findings = append(ex.Findings, name)
	}
}

// Describe is one line about an exchange for text output.
func (e *Exchange) Describe() string {
	var resp []string
	for _, p := range e.Responses {
		resp = append(resp, p.String())
	}
	return fmt.Sprintf("%s %s -> %s", e.ID, e.Requester.String(), strings.Join(resp, ", "))
}

// String is "clientid@addr" or whichever is known.
func (p Party) String() string {
	switch {
	case p.ClientID != "" && p.Addr.IsValid():
		return p.ClientID + "@" + p.Addr.String()
	case p.ClientID != "":
		return p.ClientID
	case p.Addr.IsValid():
		return p.Addr.String()
	}
	return "?"
}
