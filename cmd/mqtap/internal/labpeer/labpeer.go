// Package labpeer is a spec-exact peer of the secure MQTT client lab.
//
// It holds a requester, the lab's secure_mqtt_client, and a
// responder for any netid, both on MQTT 5 with github.com/eclipse/paho.golang.
//
// The protocol: the requester publishes its Diffie-Hellman public key (PEM,
// SubjectPublicKeyInfo) on <netid>/key-exchange/request; a responder answers
// with its own on <netid>/key-exchange/response. Both compute the shared
// secret (left-padded to the byte length of p), derive a Fernet key with
// HKDF-SHA256 (length 32, salt 0x00, info 0x00, or no info for the earlier
// template), and the requester publishes the Fernet token of its text on
// <netid>/<action>/request; the responder decrypts it, transforms it, and
// publishes the token of the result on <netid>/<action>/response. Everything
// is QoS 1.
//
// Both peers can save every private key they generate as PKCS#8 PEM, so
// that mqtap can decrypt a capture of their traffic. With Config.TLS they
// speak MQTT over TLS (the lab's TLS variant) and can append their TLS secrets to an NSS
// key log file, which decrypts the TLS layer of such a capture.
package labpeer

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtap/mqtap/keys"
)

// dhParamsPEM is the lab's dhparam4096.pem (PKCS#3, 4096-bit p, g = 2).
//
//go:embed dhparam4096.pem
var dhParamsPEM []byte

// Defaults of the lab.
const (
	// DefaultHost is the broker host the lab's client uses by default.
	DefaultHost = "localhost"
	// DefaultPort is the lab's broker port.
	DefaultPort = 1884
	// DefaultTimeout is how long a requester waits for each answer.
	DefaultTimeout = 10 * time.Second
	// QoS is the quality of service of every subscription and publication.
	QoS = 1
)

// KeyExchange is the action slot of the key-exchange topics.
const KeyExchange = "key-exchange"

// Actions are the lab's actions, in the lab's order.
var Actions = []string{"uppercase", "lowercase", "title-case", "reverse", "shuffle"}

// IsAction reports whether a is one of Actions.
func IsAction(a string) bool {
	for _, x := range Actions {
		if x == a {
			return true
		}
	}
	return false
}

// LabGroup returns the lab's DH group, parsed from the embedded
// dhparam4096.pem.
func LabGroup() keys.DHGroup {
	g, err := keys.ParseDHParamsPEM(dhParamsPEM)
	if err != nil {
		// The embedded file is part of the build; a failure is a bug.
		panic("labpeer: embedded dhparam4096.pem: " + err.Error())
	}
	return g
}

// LoadGroup reads DH parameters ("DH PARAMETERS" or "X9.42 DH PARAMETERS"
// PEM) from path; an empty path means the lab's embedded parameters.
func LoadGroup(path string) (keys.DHGroup, error) {
	if path == "" {
		return LabGroup(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return keys.DHGroup{}, fmt.Errorf("reading DH parameters: %w", err)
	}
	g, err := keys.ParseDHParamsPEM(data)
	if err != nil {
		return keys.DHGroup{}, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// ParseVariant maps the --hkdf-info flag value to an HKDF variant: "zero"
// (info 0x00, the lab spec; also "" and "00") or "none" (no info, the
// earlier template).
func ParseVariant(s string) (keys.HKDFVariant, error) {
	switch strings.ToLower(s) {
	case "", "zero", "00", "0x00":
		return keys.HKDFInfoZero, nil
	case "none":
		return keys.HKDFInfoNone, nil
	}
	return "", fmt.Errorf("unknown HKDF info %q: want zero (info 0x00, the lab spec) or none (info=None, the earlier template)", s)
}

// Config is what both peers share.
type Config struct {
	// Host and Port of the broker (DefaultHost, DefaultPort when empty).
	Host string
	Port int
	// Group is the DH group keys are generated in (LabGroup when P is nil).
	Group keys.DHGroup
	// SaveKeys is a directory to write every generated private key to as
	// PKCS#8 PEM, before its public key is published; "" saves nothing.
	SaveKeys string
	// Variant is the HKDF variant (HKDFInfoZero when empty).
	Variant keys.HKDFVariant
	// ClientID is the MQTT client identifier; empty picks one.
	ClientID string
	// TLS, when not nil, connects with MQTT over TLS (the port stays
	// Port: DefaultPort unless set, not 8883).
	TLS *TLSOptions
	// WebSocket, when not nil, connects with MQTT over WebSocket to
	// Host:Port at its path: ws://, or wss:// when TLS is set too (see
	// ParseURL).
	WebSocket *WSOptions
	// Log receives progress and diagnostics, one line each; nil discards.
	Log io.Writer
}

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Group.P == nil {
		c.Group = LabGroup()
	}
	if c.Variant == "" {
		c.Variant = keys.HKDFInfoZero
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// addr is host:port of the broker.
func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// logf writes one line to the log.
func (c Config) logf(format string, a ...any) {
	fmt.Fprintf(c.Log, format+"\n", a...)
}

// deriveKey computes the Fernet key shared between priv and peer under the
// configured HKDF variant.
func (c Config) deriveKey(priv *keys.DHPrivateKey, peer *keys.DHPublicKey) (keys.FernetKey, error) {
	secret, err := priv.SharedSecret(peer)
	if err != nil {
		return keys.FernetKey{}, err
	}
	for _, k := range keys.DeriveLabKeys(secret) {
		if k.Variant == c.Variant {
			return k, nil
		}
	}
	return keys.FernetKey{}, fmt.Errorf("HKDF variant %q is not available", c.Variant)
}

// newKey generates a DH key and, when SaveKeys is set, writes it to
// <dir>/<netid>-<side>-<unix-ns>.pem. It returns the key and the file ("" if
// not saved).
func (c Config) newKey(rand io.Reader, netid, side string) (*keys.DHPrivateKey, string, error) {
	k, err := keys.GenerateDHKey(c.Group, rand)
	if err != nil {
		return nil, "", err
	}
	if c.SaveKeys == "" {
		return k, "", nil
	}
	pemBytes := k.MarshalPKCS8PEM()
	if pemBytes == nil {
		return nil, "", errors.New("cannot encode the generated DH key as PKCS#8")
	}
	if err := os.MkdirAll(c.SaveKeys, 0o755); err != nil {
		return nil, "", fmt.Errorf("saving the private key: %w", err)
	}
	name := filepath.Join(c.SaveKeys, fmt.Sprintf("%s-%s-%d.pem", safeName(netid), side, time.Now().UnixNano()))
	// Write under a name the key store skips, then rename: a live mqtap
	// reloading the directory never sees a half-written key.
	tmp, err := os.CreateTemp(c.SaveKeys, ".key-*.tmp")
	if err != nil {
		return nil, "", fmt.Errorf("saving the private key: %w", err)
	}
	_, werr := tmp.Write(pemBytes)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), name)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return nil, "", fmt.Errorf("saving the private key to %s: %w", name, werr)
	}
	return k, name, nil
}

// safeName makes a netid usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == 0 || r < ' ' {
			return '_'
		}
		return r
	}, s)
}

// conn is a connected paho client whose received PUBLISHes arrive on msgs.
type conn struct {
	c    *paho.Client
	msgs chan *paho.Publish
	// lost is closed when the connection ends; err then says why.
	lost chan struct{}
	err  error
	done chan struct{} // closed by close(): handlers stop delivering
	// tls describes the transport beyond TCP: the TLS session ("TLS
	// 1.3, TLS_AES_128_GCM_SHA256, certificate verified"), WebSocket
	// ("WebSocket, subprotocol \"mqtt\""); "" for plain MQTT over TCP.
	tls string
}

// connect dials the broker (with TLS when cfg.TLS is set), connects with
// MQTT 5 (clean start) and routes received PUBLISHes to the returned
// conn's msgs channel.
func connect(ctx context.Context, cfg Config, clientID string) (*conn, error) {
	addr := cfg.where() // in messages
	cn := &conn{
		msgs: make(chan *paho.Publish, 1024),
		lost: make(chan struct{}),
		done: make(chan struct{}),
	}
	nc, desc, err := dialBroker(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cn.tls = desc
	var lostOnce = make(chan struct{}, 1)
	markLost := func(err error) {
		select {
		case lostOnce <- struct{}{}:
			cn.err = err
			close(cn.lost)
		default:
		}
	}
	// paho's DefaultPinger sends a PINGREQ as soon as the connection is up
	// unless it has seen a packet go each way: mark both, so that pings
	// come only after the keepalive as with other clients.
	pinger := paho.NewDefaultPinger()
	pinger.PacketSent()
	pinger.PacketReceived()
	cn.c = paho.NewClient(paho.ClientConfig{
		Conn:        nc,
		PingHandler: pinger,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				select {
				case cn.msgs <- pr.Packet:
				case <-cn.done:
				}
				return true, nil
			},
		},
		OnClientError: func(err error) { markLost(fmt.Errorf("connection to %s lost: %w", addr, err)) },
		OnServerDisconnect: func(d *paho.Disconnect) {
			reason := fmt.Sprintf("reason 0x%02x", d.ReasonCode)
			if d.Properties != nil && d.Properties.ReasonString != "" {
				reason += ": " + d.Properties.ReasonString
			}
			markLost(fmt.Errorf("the broker at %s disconnected us (%s)", addr, reason))
		},
	})
	ca, err := cn.c.Connect(ctx, &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true})
	if err != nil {
		nc.Close()
		if ca != nil {
			return nil, fmt.Errorf("the MQTT broker at %s refused the connection: reason 0x%02x", addr, ca.ReasonCode)
		}
		hint := ""
		if cfg.TLS == nil && cfg.WebSocket == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			hint = " (the broker closed the connection: a TLS listener? then add --tls)"
		}
		return nil, fmt.Errorf("MQTT connect to %s: %w%s", addr, err, hint)
	}
	return cn, nil
}

// dialBroker opens the network connection to the broker: TCP, TLS or
// WebSocket, and describes what is beyond TCP ("" for plain TCP).
func dialBroker(ctx context.Context, cfg Config) (net.Conn, string, error) {
	switch {
	case cfg.WebSocket != nil:
		return dialWS(ctx, cfg)
	case cfg.TLS != nil:
		tc, err := dialTLS(ctx, *cfg.TLS, cfg.Host, cfg.addr())
		if err != nil {
			return nil, "", err
		}
		return tc, tlsState(tc.ConnectionState(), *cfg.TLS), nil
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", cfg.addr())
	if err != nil {
		return nil, "", fmt.Errorf("cannot reach the MQTT broker at %s: %s", cfg.addr(), dialReason(err))
	}
	return nc, "", nil
}

// dialReason is the short reason a dial failed ("connection refused").
func dialReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			if errors.Is(sys.Err, syscall.ECONNREFUSED) {
				return "connection refused (is the broker running? see --host and --port)"
			}
			return sys.Err.Error()
		}
		var dns *net.DNSError
		if errors.As(op.Err, &dns) {
			return "unknown host " + dns.Name
		}
		if op.Timeout() {
			return "timed out"
		}
		return op.Err.Error()
	}
	return err.Error()
}

// subscribe subscribes to filters at QoS 1 and checks every reason code.
func (cn *conn) subscribe(ctx context.Context, filters ...string) error {
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: QoS})
	}
	sa, err := cn.c.Subscribe(ctx, s)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", strings.Join(filters, ", "), err)
	}
	for i, rc := range sa.Reasons {
		if rc >= 0x80 && i < len(filters) {
			return fmt.Errorf("the broker refused the subscription to %s (reason 0x%02x)", filters[i], rc)
		}
	}
	return nil
}

// publish publishes payload on topic at QoS 1 and waits for the PUBACK,
// returning its reason code (0x10: no matching subscribers).
func (cn *conn) publish(ctx context.Context, topic string, payload []byte) (byte, error) {
	pr, err := cn.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: QoS, Payload: payload})
	if err != nil {
		return 0, fmt.Errorf("publishing on %s: %w", topic, err)
	}
	if pr == nil {
		return 0, nil
	}
	return pr.ReasonCode, nil
}

// close disconnects cleanly (DISCONNECT 0x00) and releases the client.
func (cn *conn) close() {
	select {
	case <-cn.done:
		return
	default:
	}
	close(cn.done)
	select {
	case <-cn.lost:
	default:
		_ = cn.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	}
	<-cn.c.Done()
}

// splitTopic splits <netid>/<action>/<kind> into its three parts; ok is
// false for any other shape.
func splitTopic(topic string) (netid, action, kind string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
