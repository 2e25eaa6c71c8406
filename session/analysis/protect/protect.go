// Package protect applies the keyring's per-topic payload schemes.
//
// On the PUBLISH records of a capture, per-client HMAC is verified first (a
// bad MAC stops there, as the lab's listener drops the message before
// decrypting), then RSA-OAEP decryption, and ECDSA signatures with the
// timestamp rule against replays. It also notices any protected payload a
// client sends twice.
package protect

import (
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

// maxRemembered bounds the payloads remembered for payload.replay.
const maxRemembered = 1 << 20

// Checker applies keyring rules to records, in capture order.
type Checker struct {
	store  *keys.Store
	copies session.Linker[outcome]
	seen   map[uint64]int // hash of a protected payload sent by a client -> first frame
	// remember is how many payloads seen holds before it is cleared
	// (maxRemembered).
	remember int
	lastTS   map[string]int64  // topic -> newest verified ECDSA timestamp
	stats    map[string]*Stats // per scheme
}

// Stats counts what one scheme verified and decrypted.
type Stats struct {
	Messages, VerifyOK, VerifyBad, DecryptOK, DecryptFailed int
}

// outcome is the result for one logical message, shared by its copies.
type outcome struct {
	crypto   session.Crypto
	plain    []byte
	findings []session.Finding
}

// New returns a checker for the rules of store; nil when store has none.
func New(store *keys.Store) *Checker {
	if store == nil || len(store.Rules()) == 0 {
		return nil
	}
	return &Checker{store: store, remember: maxRemembered, seen: make(map[uint64]int), lastTS: make(map[string]int64), stats: make(map[string]*Stats)}
}

// Stats returns the counters per scheme.
func (c *Checker) Stats() map[string]*Stats { return c.stats }

// Observe verifies and decrypts one record when a rule covers its topic.
// Records already handled by another scheme (the lab's key exchange) are
// left alone.
func (c *Checker) Observe(r *session.Record) {
	p := &r.Packet
	if c == nil || p.Type != decode.PUBLISH || r.Crypto.Scheme != "" || p.Malformed() != "" || p.Truncated {
		return // a packet the capture cut short has no whole payload to verify
	}
	rule := c.store.RuleFor(p.Topic)
	if rule == nil {
		return
	}
	id, o, first := c.copies.Link(r)
	if !first {
		buf := r.Crypto.Plaintext[:0]
		r.Crypto = o.crypto
		r.Crypto.Plaintext = append(buf, o.plain...)
		r.Crypto.Copy = true
		for _, f := range o.findings {
			if f.Code != session.PayloadReplay { // the broker's copy is not a client sending again
				r.Findings = append(r.Findings, f)
			}
		}
		return
	}
	before := len(r.Findings)
	c.apply(r, rule)
	if p.FromClient {
		c.replay(r)
	}
	r.Crypto.Message = id
	o.crypto = r.Crypto
	o.crypto.Plaintext = nil
	o.plain = append(o.plain[:0], r.Crypto.Plaintext...)
	o.findings = append(o.findings[:0], r.Findings[before:]...)
}

// apply runs the rule's schemes in order on one message.
func (c *Checker) apply(r *session.Record, rule *keys.Rule) {
	cr := &r.Crypto
	cr.Scheme = rule.Scheme()
	st := c.stats[cr.Scheme]
	if st == nil {
		st = &Stats{}
		c.stats[cr.Scheme] = st
	}
	st.Messages++
	data := r.Packet.Payload
	if rule.HMAC != nil {
		d, ok, err := rule.HMAC.Verify(data)
		switch {
		case err != nil:
			c.bad(r, st, session.HMACBad, fmt.Sprintf("the payload cannot carry an HMAC-%s (%v); rule %s", rule.HMAC.Algorithm, err, rule.Source))
			return
		case !ok:
			c.bad(r, st, session.HMACBad, fmt.Sprintf("HMAC-%s mismatch under the key of rule %s: the message was altered or not sent by the key's owner, and is dropped before decryption", rule.HMAC.Algorithm, rule.Source))
			return
		}
		cr.Verify = "ok"
		st.VerifyOK++
		data = d
		cr.Plaintext = append(cr.Plaintext[:0], d...) // the verified message, until a decryption replaces it
	}
	if rule.RSA != nil {
		plain, err := rule.RSA.Decrypt(data)
		if err != nil {
			cr.Decrypt, cr.Reason = "failed", fmt.Sprintf("RSA-OAEP (%s) with %s: %v", rule.RSA.Hash, rule.RSA.File, err)
			st.DecryptFailed++
			return
		}
		cr.Decrypt = "ok"
		cr.Key = "RSA key " + rule.RSA.File
		st.DecryptOK++
		data = plain
		cr.Plaintext = append(cr.Plaintext[:0], plain...)
	}
	if rule.ECDSA != nil {
		msg, ts, err := rule.ECDSA.Verify(data)
		switch {
		case errors.Is(err, keys.ErrSigBad):
			c.bad(r, st, session.SigBad, fmt.Sprintf("the ECDSA signature does not verify under %s: the message was altered or signed by another key", rule.ECDSA.File))
			return
		case err != nil:
			c.bad(r, st, session.SigBad, fmt.Sprintf("the payload is not a %s signed message: %v", rule.ECDSA.Format, err))
			return
		}
		cr.Verify = "ok"
		cr.Key = "ECDSA key " + rule.ECDSA.File
		st.VerifyOK++
		cr.Plaintext = append(cr.Plaintext[:0], msg...)
		if ts != 0 {
			topic := string(r.Packet.Topic)
			if last, ok := c.lastTS[topic]; ok && ts <= last {
				r.Findings = append(r.Findings, session.Finding{Code: session.SigReplay,
					Text: fmt.Sprintf("a validly signed message on %s carries timestamp %d, not newer than the last accepted %d: a replay the receiver must reject", topic, ts, last)})
			} else {
				c.lastTS[topic] = ts
			}
		}
	}
}

// bad marks a message whose MAC or signature does not verify.
func (c *Checker) bad(r *session.Record, st *Stats, code session.FindingCode, text string) {
	r.Crypto.Verify = "bad"
	r.Crypto.Reason = text
	st.VerifyBad++
	r.Findings = append(r.Findings, session.Finding{Code: code, Text: text})
}

// replay reports a protected payload a client already sent.
func (c *Checker) replay(r *session.Record) {
	h := fnv.New64a()
	h.Write(r.Packet.Payload)
	k := h.Sum64()
	if first, ok := c.seen[k]; ok {
		r.Findings = append(r.Findings, session.Finding{Code: session.PayloadReplay,
			Text: fmt.Sprintf("this protected payload was already sent by a client in frame %d: a replayed message", first)})
		return
	}
	if len(c.seen) >= c.remember {
		clear(c.seen)
		r.Findings = append(r.Findings, session.Finding{Code: session.LimitReached,
			Text: fmt.Sprintf("%d protected payloads remembered for payload.replay: they are forgotten from here on, so a replay of one of them is no longer detected", c.remember)})
	}
	c.seen[k] = r.Frame
}
