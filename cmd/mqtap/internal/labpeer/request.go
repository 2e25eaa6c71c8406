package labpeer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtap/mqtap/keys"
)

// Request is one run of the lab's secure_mqtt_client.
type Request struct {
	Config
	// NetID, Action and Message are the client's arguments.
	NetID, Action, Message string
	// Timeout bounds each wait for an answer (DefaultTimeout when 0).
	Timeout time.Duration
}

// ErrTimeout is wrapped by the error Run returns when no answer came in
// time.
var ErrTimeout = errors.New("timed out")

// timeoutError says which topic stayed silent.
type timeoutError struct {
	topic   string
	timeout time.Duration
	note    string
}

func (e *timeoutError) Error() string {
	s := fmt.Sprintf("no responder answered on %s within %v", e.topic, e.timeout)
	if e.note != "" {
		s += " (" + e.note + ")"
	}
	return s
}

func (e *timeoutError) Unwrap() error { return ErrTimeout }

// Run performs the exchange: generate a DH key (saved first when SaveKeys
// is set), subscribe to the two response topics, publish the public key,
// derive the Fernet key from the first key-exchange response, publish the
// encrypted message, and return the decrypted response. Later key-exchange
// responses (a second responder on the broker) are reported on Log and
// otherwise ignored.
func (r Request) Run(ctx context.Context) (string, error) {
	cfg := r.Config.withDefaults()
	if r.NetID == "" || strings.ContainsAny(r.NetID, "/+#") {
		return "", fmt.Errorf("netid %q is not a single topic level", r.NetID)
	}
	if !IsAction(r.Action) {
		return "", fmt.Errorf("unknown action %q (one of %v)", r.Action, Actions)
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	priv, saved, err := cfg.newKey(rand.Reader, r.NetID, "request")
	if err != nil {
		return "", err
	}
	if saved != "" {
		cfg.logf("saved the requester's private key to %s", saved)
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = fmt.Sprintf("mqtap-request-%s-%d", r.NetID, os.Getpid())
	}
	cn, err := connect(ctx, cfg, clientID)
	if err != nil {
		return "", err
	}
	defer cn.close()
	if cn.tls != "" {
		cfg.logf("connected to %s over %s", cfg.where(), cn.tls)
	}
	if err := cn.subscribe(ctx, r.topic(KeyExchange, "response"), r.topic(r.Action, "response")); err != nil {
		return "", err
	}
	fk, err := r.exchange(ctx, cfg, cn, priv)
	if err != nil {
		return "", err
	}
	return r.ask(ctx, cfg, cn, fk)
}

// topic is the lab topic of an action's request or response.
func (r Request) topic(action, leg string) string {
	return r.NetID + "/" + action + "/" + leg
}

// noSubscriber is the note added to a timeout when the broker answered a
// publish with reason code 0x10 (no matching subscribers).
func noSubscriber(rc byte, topic string) string {
	if rc == 0x10 {
		return "the broker reported no subscriber to " + topic
	}
	return ""
}

// exchange publishes the requester's public key and derives the Fernet key
// from the first readable key-exchange response.
func (r Request) exchange(ctx context.Context, cfg Config, cn *conn, priv *keys.DHPrivateKey) (keys.FernetKey, error) {
	kexReq, kexResp := r.topic(KeyExchange, "request"), r.topic(KeyExchange, "response")
	rc, err := cn.publish(ctx, kexReq, priv.Public().MarshalPEM())
	if err != nil {
		return keys.FernetKey{}, err
	}
	note := noSubscriber(rc, kexReq)
	cfg.logf("published the public key %s on %s", priv.Public().Fingerprint(), kexReq)
	deadline := time.Now().Add(r.Timeout)
	for {
		m, err := r.wait(ctx, cn, deadline, r.Timeout, kexResp, note)
		if err != nil {
			return keys.FernetKey{}, err
		}
		if m.Topic != kexResp {
			cfg.logf("ignoring a message on %s before the key exchange", m.Topic)
			continue
		}
		peer, err := keys.ParseDHPublicKeyPEM(m.Payload)
		if err != nil {
			cfg.logf("ignoring an unreadable key-exchange response: %v", err)
			continue
		}
		fk, err := cfg.deriveKey(priv, peer)
		if err != nil {
			cfg.logf("ignoring a key-exchange response: %v", err)
			continue
		}
		cfg.logf("key exchange done with responder key %s (%s)", peer.Fingerprint(), cfg.Variant)
		return fk, nil
	}
}

// ask publishes the encrypted request and returns the decrypted response.
func (r Request) ask(ctx context.Context, cfg Config, cn *conn, fk keys.FernetKey) (string, error) {
	kexResp := r.topic(KeyExchange, "response")
	actReq, actResp := r.topic(r.Action, "request"), r.topic(r.Action, "response")
	token, err := keys.EncryptFernet(fk, []byte(r.Message), time.Now())
	if err != nil {
		return "", err
	}
	rc, err := cn.publish(ctx, actReq, token)
	if err != nil {
		return "", err
	}
	note := noSubscriber(rc, actReq)
	cfg.logf("published the encrypted request on %s", actReq)
	deadline := time.Now().Add(r.Timeout)
	for {
		m, err := r.wait(ctx, cn, deadline, r.Timeout, actResp, note)
		if err != nil {
			return "", err
		}
		if m.Topic == kexResp {
			if peer, err := keys.ParseDHPublicKeyPEM(m.Payload); err == nil {
				cfg.logf("warning: another key-exchange response (responder key %s): ignored; more than one responder on %s?", peer.Fingerprint(), kexResp)
			} else {
				cfg.logf("warning: another, unreadable key-exchange response: ignored")
			}
			continue
		}
		res, err := keys.DecryptFernet(m.Payload, []keys.FernetKey{fk})
		if err != nil {
			return "", fmt.Errorf("cannot decrypt the response on %s: %w", actResp, err)
		}
		return string(res.Plaintext), nil
	}
}

// wait returns the next message, or at the deadline a timeout error naming
// topic and the configured timeout.
func (r Request) wait(ctx context.Context, cn *conn, deadline time.Time, timeout time.Duration, topic, note string) (*paho.Publish, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case m := <-cn.msgs:
		return m, nil
	case <-t.C:
		return nil, &timeoutError{topic: topic, timeout: timeout, note: note}
	case <-cn.lost:
		return nil, cn.err
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while waiting on %s: %w", topic, context.Cause(ctx))
	}
}
