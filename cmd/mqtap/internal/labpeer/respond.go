package labpeer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtap/mqtap/keys"
)

// Responder answers key exchanges and action requests for some netids or
// for any netid, keeping the latest derived key of each netid.
type Responder struct {
	Config
	// NetIDs limits the responder to these netids; empty answers any.
	NetIDs []string
	// Count stops the responder after this many answered action requests;
	// 0 runs until ctx is done.
	Count int
}

// Filters returns the topic filters the responder subscribes to: one
// <netid>/+/request per netid, or +/+/request. The key-exchange requests
// match them too: a separate +/key-exchange/request subscription would make
// mosquitto deliver every key-exchange request twice to an MQTT 5 client
// (one copy per matching subscription).
func (r Responder) Filters() []string {
	if len(r.NetIDs) == 0 {
		return []string{"+/+/request"}
	}
	out := make([]string, 0, len(r.NetIDs))
	for _, n := range r.NetIDs {
		out = append(out, n+"/+/request")
	}
	return out
}

// Run connects, subscribes, logs a line starting with "ready:" and answers
// requests until ctx is done (nil error) or Count action requests have been
// answered. It logs one line per handled message.
func (r Responder) Run(ctx context.Context) error {
	cfg := r.Config.withDefaults()
	for _, n := range r.NetIDs {
		if n == "" || strings.ContainsAny(n, "/+#") {
			return fmt.Errorf("netid %q is not a single topic level", n)
		}
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = fmt.Sprintf("mqtap-respond-%d", os.Getpid())
	}
	cn, err := connect(ctx, cfg, clientID)
	if err != nil {
		return err
	}
	defer cn.close()
	filters := r.Filters()
	if err := cn.subscribe(ctx, filters...); err != nil {
		return err
	}
	over := ""
	if cn.tls != "" {
		over = " over " + cn.tls
	}
	cfg.logf("ready: subscribed to %s at %s as %s%s", strings.Join(filters, ", "), cfg.where(), clientID, over)

	keysByNetID := map[string]keys.FernetKey{}
	answered := 0
	for r.Count <= 0 || answered < r.Count {
		var m *paho.Publish
		select {
		case <-ctx.Done():
			return nil
		case <-cn.lost:
			return cn.err
		case m = <-cn.msgs:
		}
		netid, action, kind, ok := splitTopic(m.Topic)
		if !ok || kind != "request" {
			cfg.logf("%s: ignored (not <netid>/<action>/request)", m.Topic)
			continue
		}
		if action == KeyExchange {
			fk, line, err := r.keyExchange(ctx, cfg, cn, netid, m.Payload)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				cfg.logf("%s %s: %v", netid, KeyExchange, err)
				continue
			}
			keysByNetID[netid] = fk
			cfg.logf("%s %s: %s", netid, KeyExchange, line)
			continue
		}
		line, err := r.action(ctx, cfg, cn, netid, action, m.Payload, keysByNetID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			cfg.logf("%s %s: %v", netid, action, err)
			continue
		}
		answered++
		cfg.logf("%s %s: %s", netid, action, line)
	}
	return nil
}

// keyExchange answers a key-exchange request with a new key of our own.
func (r Responder) keyExchange(ctx context.Context, cfg Config, cn *conn, netid string, payload []byte) (keys.FernetKey, string, error) {
	peer, err := keys.ParseDHPublicKeyPEM(payload)
	if err != nil {
		return keys.FernetKey{}, "", fmt.Errorf("ignored: %w", err)
	}
	if !peer.Group.Equal(cfg.Group) {
		return keys.FernetKey{}, "", fmt.Errorf("ignored: the requester's key is in another DH group (%d-bit p) than ours (%d-bit p; see --dhparams)",
			peer.Group.Bits(), cfg.Group.Bits())
	}
	priv, saved, err := cfg.newKey(rand.Reader, netid, "response")
	if err != nil {
		return keys.FernetKey{}, "", err
	}
	fk, err := cfg.deriveKey(priv, peer)
	if err != nil {
		return keys.FernetKey{}, "", fmt.Errorf("ignored: %w", err)
	}
	topic := netid + "/" + KeyExchange + "/response"
	if _, err := cn.publish(ctx, topic, priv.Public().MarshalPEM()); err != nil {
		return keys.FernetKey{}, "", err
	}
	line := fmt.Sprintf("answered requester key %s with key %s (%s)", peer.Fingerprint(), priv.Public().Fingerprint(), cfg.Variant)
	if saved != "" {
		line += ", private key saved to " + saved
	}
	return fk, line, nil
}

// action decrypts, transforms, encrypts and answers an action request.
func (r Responder) action(ctx context.Context, cfg Config, cn *conn, netid, action string, payload []byte, keysByNetID map[string]keys.FernetKey) (string, error) {
	if !IsAction(action) {
		return "", fmt.Errorf("ignored: unknown action (one of %s)", strings.Join(Actions, ", "))
	}
	fk, ok := keysByNetID[netid]
	if !ok {
		return "", errors.New("ignored: no key exchange with this netid yet")
	}
	res, err := keys.DecryptFernet(payload, []keys.FernetKey{fk})
	if err != nil {
		return "", fmt.Errorf("cannot decrypt the request: %w", err)
	}
	if !utf8.Valid(res.Plaintext) {
		return "", errors.New("ignored: the decrypted request is not UTF-8 text")
	}
	out, err := Transform(action, string(res.Plaintext))
	if err != nil {
		return "", err
	}
	token, err := keys.EncryptFernet(fk, []byte(out), time.Now())
	if err != nil {
		return "", err
	}
	if _, err := cn.publish(ctx, netid+"/"+action+"/response", token); err != nil {
		return "", err
	}
	return fmt.Sprintf("answered %q with %q", res.Plaintext, out), nil
}
