package decode

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const wsRequest = "GET /mqtt HTTP/1.1\r\n" +
	"Host: broker.example:8080\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Protocol: mqtt, mqttv3.1\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

func wsResponse(ext string) string {
	return "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: mqtt\r\n" +
		"Sec-WebSocket-Extensions: " + ext + "\r\n" +
		"\r\n"
}

func mustHead(t *testing.T, s string) HTTPHead {
	t.Helper()
	h, err := ParseHTTPHead([]byte(s))
	if err != nil {
		t.Fatalf("ParseHTTPHead(%q): %v", s, err)
	}
	return h
}

func TestParseHTTPHead(t *testing.T) {
	in := wsRequest + "\x82\x80" // a frame follows the head
	h := mustHead(t, in)
	if !h.Request || h.Method != "GET" || h.URI != "/mqtt" || h.Version != "HTTP/1.1" || h.Len != len(wsRequest) || len(h.Headers) != 7 {
		t.Fatalf("%+v", h)
	}
	if h.Headers[0] != (HTTPHeader{"Host", "broker.example:8080"}) || h.Get("sec-websocket-key") != "dGhlIHNhbXBsZSBub25jZQ==" || h.Get("Origin") != "" {
		t.Errorf("%+v", h.Headers)
	}
	r := mustHead(t, wsResponse("permessage-deflate"))
	if r.Request || r.Version != "HTTP/1.1" || r.Status != 101 || r.Reason != "Switching Protocols" {
		t.Errorf("%+v", r)
	}
	for k := range len(wsRequest) {
		if _, err := ParseHTTPHead([]byte(wsRequest[:k])); !errors.Is(err, ErrHTTPShort) {
			t.Fatalf("the first %d bytes: %v, want ErrHTTPShort", k, err)
		}
	}
}

func TestParseHTTPHeadLenient(t *testing.T) {
	// Bare LF, odd spacing, tabs, a folded value, repeated headers.
	in := "GET  /a%20b\tHTTP/1.0\n" +
		"Host:x\n" +
		"X-Long :  first part  \n" +
		" \t second part\n" +
		"\tthird\n" +
		"Sec-WebSocket-Protocol: mqtt\n" +
		"sec-websocket-protocol:   mqttv3.1 \n" +
		"Empty:\n" +
		"\n"
	h := mustHead(t, in)
	want := []HTTPHeader{{"Host", "x"}, {"X-Long", "first part second part third"},
		{"Sec-WebSocket-Protocol", "mqtt"}, {"sec-websocket-protocol", "mqttv3.1"}, {"Empty", ""}}
	if h.URI != "/a%20b" || h.Version != "HTTP/1.0" || h.Len != len(in) || !slices.Equal(h.Headers, want) {
		t.Fatalf("%+v", h)
	}
	if got := h.Get("SEC-WEBSOCKET-PROTOCOL"); got != "mqtt, mqttv3.1" {
		t.Errorf("Get joins %q", got)
	}
	r := mustHead(t, "HTTP/1.1 101\r\n\r\n")
	if r.Status != 101 || r.Reason != "" || r.Len != 16 || len(r.Headers) != 0 {
		t.Errorf("%+v", r)
	}
}

func TestParseHTTPHeadErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrHTTPShort},
		{"G", ErrHTTPShort},
		{"GET / HTTP/1.1\r\nHost: x\r\n", ErrHTTPShort},
		{"HTTP/1.1 101 Switching", ErrHTTPShort},
		{"\x10\x0c\x00\x04MQTT", ErrNotHTTP},
		{"get / HTTP/1.1\r\n\r\n", ErrNotHTTP},
		{"HTTP/2 200\r\n\r\n", ErrNotHTTP},
		{"PRI * HTTP/2.0\r\n", ErrNotHTTP},
		{"GET / HTTP/1.1 extra\r\n\r\n", ErrNotHTTP},
		{"GET /\r\n\r\n", ErrNotHTTP},
		{"HTTP/1.1 1010 x\r\n\r\n", ErrNotHTTP},
		{"HTTP/1.1 abc x\r\n\r\n", ErrNotHTTP},
		{"HTTP/1.1 099 x\r\n\r\n", ErrNotHTTP},
		{"GET /\x00 HTTP/1.1\r\n\r\n", ErrNotHTTP},
		{"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", ErrHTTPMalformed},
		{"GET / HTTP/1.1\r\n folded first\r\n\r\n", ErrHTTPMalformed},
		{"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", ErrHTTPMalformed},
		{"GET / HTTP/1.1\r\n: x\r\n\r\n", ErrHTTPMalformed},
		{"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", ErrHTTPMalformed},
		{"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", ErrHTTPMalformed},
	}
	for _, tt := range tests {
		_, err := ParseHTTPHead([]byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseHTTPHead(%q): %v, want %v", tt.in, err, tt.want)
		}
	}
}

func TestParseHTTPHeadCap(t *testing.T) {
	start := "GET / HTTP/1.1\r\n"
	pad := func(n int) string { // a head of exactly n bytes
		filler := n - len(start) - len("X: \r\n\r\n")
		return start + "X: " + strings.Repeat("a", filler) + "\r\n\r\n"
	}
	if h := mustHead(t, pad(MaxHTTPHead)); h.Len != MaxHTTPHead {
		t.Errorf("a head of MaxHTTPHead bytes: Len %d", h.Len)
	}
	if _, err := ParseHTTPHead([]byte(pad(MaxHTTPHead + 1))); !errors.Is(err, ErrHTTPTooLong) {
		t.Errorf("a head of MaxHTTPHead+1 bytes: %v", err)
	}
	if _, err := ParseHTTPHead([]byte(pad(MaxHTTPHead + 1)[:MaxHTTPHead-1])); !errors.Is(err, ErrHTTPShort) {
		t.Errorf("MaxHTTPHead-1 bytes of an unfinished head: %v", err)
	}
}

func TestLooksLikeHTTPRequest(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "G": true, "GE": true, "GET": true, "GET ": true, "GET /mqtt HTTP/1.1": true,
		"M-SEARCH * HTTP/1.1": true, "get /": false, " GET": false, "\x10\x0c": false,
		"UPDATEREDIRECTREF /": true, strings.Repeat("A", 21) + " /": false, strings.Repeat("A", 20) + " /": true,
		"HTTP/1.1 101": false,
	} {
		if got := LooksLikeHTTPRequest([]byte(in)); got != want {
			t.Errorf("LooksLikeHTTPRequest(%q) = %v", in, got)
		}
	}
}

func TestParseWSUpgrade(t *testing.T) {
	req := mustHead(t, wsRequest)
	resp := mustHead(t, wsResponse("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"))
	u, err := ParseWSUpgrade(&req, &resp)
	if err != nil {
		t.Fatal(err)
	}
	want := DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 9}
	if u.Path != "/mqtt" || u.Host != "broker.example:8080" || u.Status != 101 || u.Deflate == nil || *u.Deflate != want ||
		!slices.Equal(u.Offered, []string{"mqtt", "mqttv3.1"}) || !slices.Equal(u.Chosen, []string{"mqtt"}) ||
		u.ExtensionsOffered != "permessage-deflate; client_max_window_bits" ||
		u.ExtensionsAccepted != "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9" {
		t.Fatalf("%+v", u)
	}
	if got := WSAcceptKey(req.Get("Sec-WebSocket-Key")); got != resp.Get("Sec-WebSocket-Accept") {
		t.Errorf("WSAcceptKey of RFC 6455's example key: %q", got)
	}
	u, err = ParseWSUpgrade(&req, nil)
	if err != nil || u.Status != 0 || u.Deflate != nil || u.Chosen != nil || len(u.Offered) != 2 {
		t.Errorf("without a response: %+v %v", u, err)
	}
	refused := mustHead(t, "HTTP/1.1 401 Unauthorized\r\nSec-WebSocket-Extensions: permessage-deflate; bogus\r\n\r\n")
	if u, err = ParseWSUpgrade(&req, &refused); err != nil || u.Status != 401 || u.Deflate != nil {
		t.Errorf("refused: %+v %v", u, err)
	}
}

func TestParseWSUpgradeNotWebSocket(t *testing.T) {
	resp := mustHead(t, wsResponse("permessage-deflate"))
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n",
	} {
		req := mustHead(t, s)
		if _, err := ParseWSUpgrade(&req, &resp); !errors.Is(err, ErrNotWSUpgrade) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseWSUpgrade(&resp, &resp); !errors.Is(err, ErrNotWSUpgrade) {
		t.Errorf("a response as the request: %v", err)
	}
	if _, err := ParseWSUpgrade(nil, nil); !errors.Is(err, ErrNotWSUpgrade) {
		t.Errorf("no request: %v", err)
	}
	req := mustHead(t, "GET ws://host:80/mqtt?x=1 HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n")
	u, err := ParseWSUpgrade(&req, &req)
	if !errors.Is(err, ErrNotWSUpgrade) || u.Path != "" {
		t.Errorf("a request as the response: %+v %v", u, err)
	}
	if u, err = ParseWSUpgrade(&req, nil); err != nil || u.Path != "/mqtt?x=1" {
		t.Errorf("absolute form, token lists: %+v %v", u, err)
	}
}

func TestParseWSUpgradeDeflate(t *testing.T) {
	def := DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	with := func(edit func(*DeflateParams)) *DeflateParams { d := def; edit(&d); return &d }
	tests := []struct {
		offer, accept string
		want          *DeflateParams // nil with err false: not negotiated
		err           bool
	}{
		{"permessage-deflate", "", nil, false},
		{"permessage-deflate", "x-webkit-deflate-frame", nil, false},
		{"permessage-deflate", "permessage-deflate", &def, false},
		{"permessage-deflate", "PerMessage-Deflate; Server_No_Context_Takeover", with(func(d *DeflateParams) { d.ServerNoContextTakeover = true }), false},
		{"permessage-deflate", "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
			with(func(d *DeflateParams) { d.ServerNoContextTakeover, d.ClientNoContextTakeover = true, true }), false},
		{"permessage-deflate", `permessage-deflate; server_max_window_bits="12"`, with(func(d *DeflateParams) { d.ServerMaxWindowBits = 12 }), false},
		{"permessage-deflate", "permessage-deflate ; server_max_window_bits = 8", with(func(d *DeflateParams) { d.ServerMaxWindowBits = 8 }), false},
		{"x, permessage-deflate; client_max_window_bits", "foo, permessage-deflate; client_max_window_bits=11",
			with(func(d *DeflateParams) { d.ClientMaxWindowBits = 11 }), false},
		{"permessage-deflate", "permessage-deflate; client_max_window_bits=11", nil, true},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits", nil, true},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits", nil, true},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits=7", nil, true},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits=16", nil, true},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits=09", nil, true},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits=1x", nil, true},
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover=1", nil, true},
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", nil, true},
		{"permessage-deflate", "permessage-deflate; meow", nil, true},
		{"permessage-deflate", "permessage-deflate, permessage-deflate", nil, true},
		{"permessage-deflate", "permessage-deflate;", nil, true},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits=\"10", nil, true},
		{"permessage-deflate", "permessage-deflate x", nil, true},
	}
	req := mustHead(t, "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: "+tests[0].offer+"\r\n\r\n")
	for _, tt := range tests {
		req.Headers[2].Value = tt.offer
		resp := mustHead(t, wsResponse(tt.accept))
		u, err := ParseWSUpgrade(&req, &resp)
		switch {
		case tt.err && !errors.Is(err, ErrWSExtension):
			t.Errorf("%q: %v, want ErrWSExtension", tt.accept, err)
		case !tt.err && err != nil:
			t.Errorf("%q: %v", tt.accept, err)
		case !tt.err && (tt.want == nil) != (u.Deflate == nil):
			t.Errorf("%q: %+v, want %+v", tt.accept, u.Deflate, tt.want)
		case !tt.err && tt.want != nil && *u.Deflate != *tt.want:
			t.Errorf("%q: %+v, want %+v", tt.accept, *u.Deflate, *tt.want)
		}
	}
}

func TestOffersMQTT(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want bool
	}{
		{nil, false}, {[]string{"mqtt"}, true}, {[]string{"chat", "MQTT"}, true}, {[]string{"MQTTv3.1"}, true},
		{[]string{"mqttv5"}, false}, {[]string{"wamp", "mqtt.x"}, false},
	} {
		if got := OffersMQTT(tt.in); got != tt.want {
			t.Errorf("OffersMQTT(%q) = %v", tt.in, got)
		}
	}
}
