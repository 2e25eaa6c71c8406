package decode

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// WSUpgrade is a WebSocket opening handshake as negotiated (RFC 6455
// section 4).
type WSUpgrade struct {
	Path, Host         string   // the request's target and Host header
	Offered, Chosen    []string // Sec-WebSocket-Protocol of the request, of the response (usually one)
	ExtensionsOffered  string   // raw Sec-WebSocket-Extensions of the request
	ExtensionsAccepted string   // raw Sec-WebSocket-Extensions of the response
	Status             int      // the response's status: 101 when switched, 0 with no response
	// Deflate is permessage-deflate as the server accepted it with status
	// 101, nil when it did not.
	Deflate *DeflateParams
}

// DeflateParams are the parameters of permessage-deflate (RFC 7692 section
// 7.1) as the server accepted them. They come from the response alone: a
// client that asked for client_no_context_takeover may drop its context
// even when the server did not repeat it, and inflating as if it kept it
// gives the same bytes.
type DeflateParams struct {
	ServerNoContextTakeover, ClientNoContextTakeover bool
	ServerMaxWindowBits, ClientMaxWindowBits         int // 8..15, 15 when not given
}

// Inflater returns an Inflater for the messages of one direction of the
// connection (fromClient: the client's messages) with these parameters,
// capping each message at maxMessage bytes (see NewInflater).
func (p *DeflateParams) Inflater(fromClient bool, maxMessage int) *Inflater {
	if fromClient {
		return NewInflater(p.ClientMaxWindowBits, !p.ClientNoContextTakeover, maxMessage)
	}
	return NewInflater(p.ServerMaxWindowBits, !p.ServerNoContextTakeover, maxMessage)
}

// ErrNotWSUpgrade reports a request that is not a WebSocket upgrade.
var ErrNotWSUpgrade = errors.New("decode: not a WebSocket upgrade request")

// ErrWSExtension reports a permessage-deflate response with parameters
// RFC 7692 does not allow.
var ErrWSExtension = errors.New("decode: invalid permessage-deflate parameters in the handshake response")

// ParseWSUpgrade reads the WebSocket handshake from its request and its
// response; resp may be nil (not captured yet). It returns an error
// wrapping ErrNotWSUpgrade when req is not a request with "Upgrade:
// websocket" and "Connection: upgrade" (or resp is not a response), and
// one wrapping ErrWSExtension when the server accepted permessage-deflate
// twice or with invalid parameters (unknown or repeated ones, window bits
// outside 8..15, client_max_window_bits the client did not offer or without
// a value). A response other than 101 leaves Deflate nil and is no error.
func ParseWSUpgrade(req, resp *HTTPHead) (WSUpgrade, error) {
	var u WSUpgrade
	switch {
	case req == nil || !req.Request:
		return u, fmt.Errorf("%w: no request", ErrNotWSUpgrade)
	case !hasToken(req.Get("Upgrade"), "websocket"):
		return u, fmt.Errorf("%w: Upgrade is %q, not websocket", ErrNotWSUpgrade, req.Get("Upgrade"))
	case !hasToken(req.Get("Connection"), "upgrade"):
		return u, fmt.Errorf("%w: Connection is %q, without upgrade", ErrNotWSUpgrade, req.Get("Connection"))
	case resp != nil && resp.Request:
		return u, fmt.Errorf("%w: the response is a request", ErrNotWSUpgrade)
	}
	u.Path, u.Host = requestPath(req.URI), req.Get("Host")
	u.Offered = splitList(req.Get("Sec-WebSocket-Protocol"))
	u.ExtensionsOffered = req.Get("Sec-WebSocket-Extensions")
	if resp == nil {
		return u, nil
	}
	u.Status = resp.Status
	u.Chosen = splitList(resp.Get("Sec-WebSocket-Protocol"))
	u.ExtensionsAccepted = resp.Get("Sec-WebSocket-Extensions")
	if u.Status != 101 {
		return u, nil
	}
	d, err := acceptedDeflate(u.ExtensionsAccepted, u.ExtensionsOffered)
	if err != nil {
		return u, fmt.Errorf("%w: %w", ErrWSExtension, err)
	}
	u.Deflate = d
	return u, nil
}

// OffersMQTT reports whether a list of WebSocket subprotocols names MQTT:
// "mqtt" (MQTT 3.1.1 and 5.0) or "mqttv3.1" (MQTT 3.1), in any case.
func OffersMQTT(protocols []string) bool {
	for _, p := range protocols {
		if strings.EqualFold(p, "mqtt") || strings.EqualFold(p, "mqttv3.1") {
			return true
		}
	}
	return false
}

// WSAcceptKey returns the Sec-WebSocket-Accept a server must answer to the
// request's Sec-WebSocket-Key (RFC 6455 4.2.2).
func WSAcceptKey(key string) string {
	sum := sha1.Sum([]byte(strings.TrimSpace(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// requestPath returns the path of a request target, also of the absolute
// form ("ws://host/path" gives "/path").
func requestPath(uri string) string {
	_, rest, ok := strings.Cut(uri, "://")
	if !ok || strings.HasPrefix(uri, "/") {
		return uri
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return "/"
}

// splitList splits a comma-separated header value into its trimmed,
// non-empty elements.
func splitList(v string) []string {
	var out []string
	for e := range strings.SplitSeq(v, ",") {
		if e = trimOWS(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// hasToken reports whether the comma-separated list v holds token t, in any
// case.
func hasToken(v, t string) bool {
	for e := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(trimOWS(e), t) {
			return true
		}
	}
	return false
}

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params []extParam
}

type extParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions parses a Sec-WebSocket-Extensions value (RFC 6455 9.1):
// extensions separated by commas, each a name and parameters after ';',
// a parameter's value a token or a quoted string.
func parseExtensions(v string) ([]extension, error) {
	var out []extension
	p := extLexer{s: v}
	for {
		p.space()
		if p.done() {
			return out, nil
		}
		name := p.token()
		if name == "" {
			return nil, fmt.Errorf("extension name expected at %q", p.rest())
		}
		e := extension{name: name}
		for p.space(); p.take(';'); p.space() {
			p.space()
			var q extParam
			if q.name = p.token(); q.name == "" {
				return nil, fmt.Errorf("parameter name expected at %q", p.rest())
			}
			p.space()
			if p.take('=') {
				p.space()
				var ok bool
				if q.value, ok = p.value(); !ok {
					return nil, fmt.Errorf("parameter %s: value expected at %q", q.name, p.rest())
				}
				q.hasValue = true
			}
			e.params = append(e.params, q)
		}
		out = append(out, e)
		if !p.done() && !p.take(',') {
			return nil, fmt.Errorf("',' expected at %q", p.rest())
		}
	}
}

// extLexer reads the tokens of a Sec-WebSocket-Extensions value.
type extLexer struct {
	s string
	i int
}

func (l *extLexer) done() bool   { return l.i >= len(l.s) }
func (l *extLexer) rest() string { return l.s[l.i:min(len(l.s), l.i+24)] }

func (l *extLexer) space() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
}

func (l *extLexer) take(c byte) bool {
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

func (l *extLexer) token() string {
	j := l.i
	for j < len(l.s) && isToken(l.s[j:j+1]) {
		j++
	}
	t := l.s[l.i:j]
	l.i = j
	return t
}

// value reads a token or a quoted string (its content, escapes undone).
func (l *extLexer) value() (string, bool) {
	if !l.take('"') {
		t := l.token()
		return t, t != ""
	}
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && l.i < len(l.s):
			b.WriteByte(l.s[l.i])
			l.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// acceptedDeflate returns the permessage-deflate parameters of a response's
// Sec-WebSocket-Extensions, nil when it does not accept permessage-deflate.
// offered is the request's Sec-WebSocket-Extensions.
func acceptedDeflate(accepted, offered string) (*DeflateParams, error) {
	exts, err := parseExtensions(accepted)
	if err != nil {
		return nil, err
	}
	var d *DeflateParams
	for _, e := range exts {
		if !strings.EqualFold(e.name, "permessage-deflate") {
			continue
		}
		if d != nil {
			return nil, errors.New("permessage-deflate accepted twice")
		}
		d = &DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		if err := d.set(e.params, offersClientBits(offered)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// set applies the parameters of an accepted permessage-deflate (RFC 7692
// 7.1). clientBits says whether the client offered client_max_window_bits.
func (d *DeflateParams) set(params []extParam, clientBits bool) error {
	seen := map[string]bool{}
	for _, p := range params {
		name := strings.ToLower(p.name)
		if seen[name] {
			return fmt.Errorf("parameter %s repeated", name)
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return fmt.Errorf("parameter %s takes no value", name)
			}
			if name[0] == 's' {
				d.ServerNoContextTakeover = true
			} else {
				d.ClientNoContextTakeover = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			if name[0] == 'c' && !clientBits {
				return errors.New("client_max_window_bits accepted but not offered")
			}
			bits, ok := windowBits(p.value)
			if !p.hasValue || !ok {
				return fmt.Errorf("parameter %s must have a value from 8 to 15, not %q", name, p.value)
			}
			if name[0] == 's' {
				d.ServerMaxWindowBits = bits
			} else {
				d.ClientMaxWindowBits = bits
			}
		default:
			return fmt.Errorf("unknown parameter %q", p.name)
		}
	}
	return nil
}

// windowBits reads a max_window_bits value: 8 to 15, no leading zero.
func windowBits(v string) (int, bool) {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return int(v[0] - '0'), true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0'), true
	}
	return 0, false
}

// offersClientBits reports whether a permessage-deflate offer of the
// request has client_max_window_bits; an offer it cannot parse counts as
// having it (the server is not blamed for what cannot be read).
func offersClientBits(offered string) bool {
	exts, err := parseExtensions(offered)
	if err != nil {
		return true
	}
	for _, e := range exts {
		for _, p := range e.params {
			if strings.EqualFold(e.name, "permessage-deflate") && strings.EqualFold(p.name, "client_max_window_bits") {
				return true
			}
		}
	}
	return false
}
