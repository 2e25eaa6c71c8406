package labpeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/mqtap/mqtap/session/source/tap"
)

// WSOptions make a peer speak MQTT over WebSocket (MQTT 5.0 section 6):
// an HTTP upgrade at Path offering the subprotocol "mqtt", then the MQTT
// packets in binary messages; with Config.TLS too it is wss://.
type WSOptions struct {
	// Path is the endpoint ("/mqtt" when empty).
	Path string
}

// DefaultWSPath is the usual endpoint of brokers' WebSocket listeners.
const DefaultWSPath = "/mqtt"

// ParseURL reads a broker URL for MQTT over WebSocket, ws://HOST[:PORT]/PATH
// or wss://… (port 80 or 443 when absent, path "/" when absent): the host
// and port to give Config, its WebSocket options, and whether it is wss://
// (then Config.TLS must be set).
func ParseURL(raw string) (host string, port int, ws *WSOptions, secure bool, err error) {
	u, err := tap.ParseWebSocketURL(raw)
	if err != nil {
		return "", 0, nil, false, err
	}
	if u.RawQuery != "" {
		return "", 0, nil, false, fmt.Errorf("broker URL %q: the lab peers send no query string", raw)
	}
	h, p, _ := net.SplitHostPort(u.Host)
	port, _ = strconv.Atoi(p)
	return h, port, &WSOptions{Path: u.Path}, u.Scheme == "wss", nil
}

// wsURL is the URL of the WebSocket endpoint of c.
func (c Config) wsURL() *url.URL {
	scheme, path := "ws", c.WebSocket.Path
	if c.TLS != nil {
		scheme = "wss"
	}
	if path == "" {
		path = DefaultWSPath
	}
	return &url.URL{Scheme: scheme, Host: c.addr(), Path: path}
}

// where names the broker in messages: host:port, or the URL over
// WebSocket.
func (c Config) where() string {
	if c.WebSocket != nil {
		return c.wsURL().String()
	}
	return c.addr()
}

// dialWS opens an MQTT-over-WebSocket connection (wss:// through dialTLS,
// with its key log and error messages) and describes it: "WebSocket,
// subprotocol mqtt" or "WebSocket in TLS 1.3, …".
func dialWS(ctx context.Context, cfg Config) (net.Conn, string, error) {
	u := cfg.wsURL()
	var o tap.DialOptions
	if cfg.TLS != nil {
		o.DialTLS = func(ctx context.Context, addr string) (net.Conn, error) {
			return dialTLS(ctx, *cfg.TLS, cfg.Host, addr)
		}
	}
	c, err := tap.DialWebSocket(ctx, u, o)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			reason := strings.Replace(dialReason(err), "see --host and --port", "see --url", 1)
			return nil, "", fmt.Errorf("cannot reach the MQTT broker at %s: %s", u, reason)
		}
		if cfg.TLS != nil && strings.Contains(err.Error(), "MQTT broker at") {
			return nil, "", err // dialTLS's own one-line message
		}
		return nil, "", fmt.Errorf("MQTT over WebSocket to %s: %w", u, err)
	}
	desc := fmt.Sprintf("WebSocket, subprotocol %q", c.Subprotocol)
	if c.TLS != nil {
		desc = fmt.Sprintf("WebSocket in %s, subprotocol %q", tlsState(*c.TLS, *cfg.TLS), c.Subprotocol)
	}
	if c.Subprotocol == "" {
		cfg.logf("warning: %s chose no WebSocket subprotocol (MQTT-6.0.0-4: it must choose \"mqtt\"); going on", u)
	}
	return c, desc, nil
}
