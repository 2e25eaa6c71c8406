// Checking a Config before anything is dialled: the broker URL, the topic
// filters, QoS, the CA file; defaults filled in.

package tap

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// newTapper checks cfg, fills in the defaults and prepares the TLS
// configuration; nothing is dialled.
func newTapper(cfg Config, out chan<- Chunk) (*tapper, error) {
	server, useTLS, ws, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if len(cfg.Topics) == 0 {
		cfg.Topics = []string{"#"}
	}
	for _, f := range cfg.Topics {
		if err := checkFilter(f); err != nil {
			return nil, err
		}
	}
	if cfg.QoS > 2 {
		return nil, fmt.Errorf("subscription QoS %d: QoS is 0, 1 or 2", cfg.QoS)
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = defaultKeepAlive
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	t := &tapper{
		cfg:      cfg,
		server:   server,
		ws:       ws,
		display:  server.String(),
		clientID: cfg.ClientID,
		out:      out,
		abandon:  make(chan struct{}),
		open:     make(map[*tapConn]struct{}),
		reasonCh: make(chan struct{}),
	}
	if t.clientID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("making a client ID: %w", err)
		}
		t.clientID = "mqtap-" + hex.EncodeToString(b[:])
	}
	if useTLS {
		t.tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("reading the CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s: no PEM certificate in it", cfg.CAFile)
			}
			t.tlsCfg.RootCAs = pool
		}
	} else if cfg.CAFile != "" || cfg.Insecure {
		return nil, fmt.Errorf("%s does not use TLS: a CA file or insecure mode needs mqtts:// or wss://", t.display)
	}
	return t, nil
}

// parseURL checks a broker URL and returns it as scheme://host:port (with
// the path for WebSocket), whether it is a TLS scheme and whether it is a
// WebSocket one.
func parseURL(raw string) (u *url.URL, useTLS, ws bool, err error) {
	const want = "mqtt://, tcp://, mqtts://, ssl://, tls://, ws:// or wss://"
	if raw == "" {
		return nil, false, false, fmt.Errorf("no broker URL (want %sHOST:PORT)", "mqtt://")
	}
	if !strings.Contains(raw, "://") {
		return nil, false, false, fmt.Errorf("broker URL %q has no scheme (want %s, e.g. mqtt://%s)", raw, want, raw)
	}
	u, err = url.Parse(raw)
	if err != nil {
		return nil, false, false, fmt.Errorf("broker URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	port := defaultTCPPort
	switch scheme {
	case "mqtt", "tcp":
	case "mqtts", "ssl", "tls":
		useTLS, port = true, defaultTLSPort
	case "ws", "wss":
		u, err := ParseWebSocketURL(raw)
		if err != nil {
			return nil, false, false, fmt.Errorf("broker URL: %w", err)
		}
		return u, scheme == "wss", true, nil
	default:
		return nil, false, false, fmt.Errorf("broker URL %q: unsupported scheme %q (want %s)", raw, u.Scheme, want)
	}
	host := u.Hostname()
	if host == "" {
		return nil, false, false, fmt.Errorf("broker URL %q has no host", raw)
	}
	if !validHost(host) {
		return nil, false, false, fmt.Errorf("broker URL %q: bad host %q (an IPv6 address goes in brackets, e.g. mqtt://[::1]:1883)", raw, host)
	}
	if u.User != nil {
		return nil, false, false, fmt.Errorf("broker URL %q: credentials in the URL are not supported (set the user name and password separately)", u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, false, false, fmt.Errorf("broker URL %q: unexpected path, query or fragment (want %sHOST:PORT; a path needs ws:// or wss://)", raw, scheme+"://")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, false, false, fmt.Errorf("broker URL %q: bad port %q", raw, p)
		}
		port = strconv.Itoa(n)
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}, useTLS, false, nil
}

// checkFilter rejects topic filters that no broker accepts.
func checkFilter(f string) error {
	switch {
	case f == "":
		return errors.New("empty topic filter")
	case strings.ContainsRune(f, 0):
		return fmt.Errorf("topic filter %q contains a NUL character", f)
	case len(f) > 65535:
		return fmt.Errorf("topic filter of %d bytes: at most 65535", len(f))
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("topic filter %q: # must be a whole level, the last one", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("topic filter %q: + must be a whole level", f)
		}
	}
	return nil
}
