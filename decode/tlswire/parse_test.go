package tlswire

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseClientHello(t *testing.T) {
	msg := fullClientHello()
	ch, err := ParseClientHello(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := &ClientHelloMsg{
		Version:              0x0303,
		Random:               seq(1, 32),
		SessionID:            seq(100, 32),
		CipherSuites:         []uint16{0x1301, 0xc02f, 0x00ff},
		ServerName:           "broker.lab",
		ALPN:                 []string{"mqtt", "mqtt/5"},
		SupportedVersions:    []uint16{0x0304, 0x0303},
		ExtendedMasterSecret: true,
		EncryptThenMAC:       true,
		SessionTicket:        true,
		PSK:                  true,
		KeyShareGroups:       []uint16{29, 23},
	}
	if !reflect.DeepEqual(ch, want) {
		t.Fatalf("ParseClientHello =\n%+v\nwant\n%+v", ch, want)
	}
	// The result is a copy: the caller may reuse its buffer.
	clear(msg)
	if !reflect.DeepEqual(ch, want) {
		t.Fatal("ClientHello changed when the message buffer was cleared")
	}

	// No extensions at all (SSL 3.0, TLS 1.0), an empty session ID, and an
	// empty extensions block.
	for _, body := range [][]byte{
		cat(u16b(0x0300), seq(1, 32), vec8(), vec16(u16s(0x000a)), vec8(u8b(0))),
		cat(u16b(0x0301), seq(1, 32), vec8(), vec16(u16s(0x000a)), vec8(u8b(0)), vec16()),
	} {
		ch, err := ParseClientHello(body)
		if err != nil {
			t.Fatal(err)
		}
		if ch.SessionID != nil || ch.ServerName != "" || ch.ALPN != nil || ch.SupportedVersions != nil ||
			ch.PSK || ch.SessionTicket || !slices.Equal(ch.CipherSuites, []uint16{0x000a}) {
			t.Errorf("minimal ClientHello = %+v", ch)
		}
	}

	// A server_name list whose first entry is not a host_name.
	ch, err = ParseClientHello(clientHelloBody(ext(0, vec16(u8b(7), vec16([]byte("x")), u8b(0), vec16([]byte("b.lab"))))))
	if err != nil || ch.ServerName != "b.lab" {
		t.Errorf("server_name with an unknown name type first: %q, %v", ch.ServerName, err)
	}
}

func TestParseClientHelloErrors(t *testing.T) {
	base := clientHelloBody()
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "ClientHello: message ends before legacy_version"},
		{"short random", cat(u16b(0x0303), seq(0, 10)), "ClientHello: random needs 32 bytes, only 10 left"},
		{"long session id", cat(u16b(0x0303), seq(0, 32), vec8(seq(0, 33))), "ClientHello: legacy_session_id length 33 is outside 0..32"},
		{"session id past the end", cat(u16b(0x0303), seq(0, 32), u8b(20), seq(0, 3)), "ClientHello: legacy_session_id length 20 exceeds the message (3 bytes left)"},
		{"odd suites", cat(u16b(0x0303), seq(0, 32), vec8(), vec16(seq(0, 3)), vec8(u8b(0))), "ClientHello: cipher_suites length 3 is odd"},
		{"no suites", cat(u16b(0x0303), seq(0, 32), vec8(), vec16(), vec8(u8b(0))), "ClientHello: cipher_suites length 0 is outside 2..65534"},
		{"no compression", cat(u16b(0x0303), seq(0, 32), vec8(), vec16(u16b(1)), vec8()), "ClientHello: legacy_compression_methods length 0 is outside 1..255"},
		{"extensions past the end", cat(base, u16b(300), seq(0, 120)), "ClientHello: extensions length 300 exceeds the message (120 bytes left)"},
		{"one byte of extensions length", cat(base, u8b(1)), "ClientHello: extensions length needs 2 bytes, only 1 left"},
		{"trailing bytes", cat(base, vec16(), seq(0, 4)), "ClientHello: 4 bytes left over after extensions"},
		{"truncated extension header", clientHelloBody(u16b(0)), "ClientHello: extension 1: message ends before extension data length"},
		{"extension data past the block", clientHelloBody(u16b(16), u16b(10), seq(0, 4)), "ClientHello: extension 1: extension data length 10 exceeds the message (4 bytes left)"},
		{"duplicate", clientHelloBody(ext(23), ext(10, vec16(u16s(29))), ext(23)), "ClientHello: extended_master_secret (23) extension appears twice"},
		{"psk not last", clientHelloBody(ext(41, seq(0, 4)), ext(23)), "ClientHello: pre_shared_key (41) extension is not the last one (4 bytes follow it)"},
		{"sni list past the end", clientHelloBody(ext(0, u16b(9), u8b(0))), "ClientHello: server_name (0) extension: server_name_list length 9 exceeds the message (1 bytes left)"},
		{"sni empty name", clientHelloBody(ext(0, vec16(u8b(0), vec16()))), "ClientHello: server_name (0) extension: entry 1: name length 0 is outside 1..65535"},
		{"sni trailing", clientHelloBody(ext(0, vec16(u8b(0), vec16([]byte("a"))), u8b(0))), "ClientHello: server_name (0) extension: 1 bytes left over after the extension data"},
		{"alpn empty name", clientHelloBody(ext(16, vec16(vec8([]byte("mqtt")), vec8()))), "ClientHello: application_layer_protocol_negotiation (16) extension: protocol name 2: name length 0 is outside 1..255"},
		{"alpn name past the list", clientHelloBody(ext(16, vec16(u8b(9), []byte("mqtt")))), "ClientHello: application_layer_protocol_negotiation (16) extension: protocol name 1: name length 9 exceeds the message (4 bytes left)"},
		{"versions odd", clientHelloBody(ext(43, vec8(u16b(0x0304), u8b(3)))), "ClientHello: supported_versions (43) extension: versions length 3 is odd"},
		{"versions empty", clientHelloBody(ext(43, vec8())), "ClientHello: supported_versions (43) extension: versions length 0 is outside 2..254"},
		{"key share truncated", clientHelloBody(ext(51, vec16(u16b(29), u16b(32), seq(0, 5)))), "ClientHello: key_share (51) extension: entry 1: key_exchange length 32 exceeds the message (5 bytes left)"},
		{"ems with data", clientHelloBody(ext(23, u8b(0))), "ClientHello: extended_master_secret (23) extension: 1 bytes left over after the extension data"},
		{"etm with data", clientHelloBody(ext(22, u8b(0))), "ClientHello: encrypt_then_mac (22) extension: 1 bytes left over after the extension data"},
	} {
		ch, err := ParseClientHello(tc.msg)
		if err == nil || err.Error() != tc.want || ch != nil {
			t.Errorf("%s: ParseClientHello = %v, %v\nwant error %q", tc.name, ch, err, tc.want)
		}
	}
}

func TestParseServerHello(t *testing.T) {
	// TLS 1.2 with ALPN, EMS and ETM.
	msg := cat(u16b(0x0303), seq(50, 32), vec8(seq(1, 16)), u16b(0xc027), u8b(0),
		vec16(ext(65281, u8b(0)), ext(23), ext(22), ext(16, vec16(vec8([]byte("mqtt")))), ext(11, vec8(u8b(0)))))
	sh, err := ParseServerHello(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := &ServerHelloMsg{Version: 0x0303, Random: seq(50, 32), SessionID: seq(1, 16), CipherSuite: 0xc027,
		ExtendedMasterSecret: true, EncryptThenMAC: true, ALPN: "mqtt"}
	if !reflect.DeepEqual(sh, want) {
		t.Fatalf("TLS 1.2 ServerHello =\n%+v\nwant\n%+v", sh, want)
	}
	clear(msg)
	if !reflect.DeepEqual(sh, want) {
		t.Fatal("ServerHello changed when the message buffer was cleared")
	}

	// TLS 1.3 resumption: supported_versions and pre_shared_key.
	sh, err = ParseServerHello(serverHelloBody(seq(0, 32), ext(43, u16b(0x0304)), ext(51, u16b(29), vec16(seq(0, 32))), ext(41, u16b(0))))
	if err != nil || sh.Version != 0x0304 || !sh.PSK || sh.HelloRetryRequest || sh.CipherSuite != 0x1301 {
		t.Errorf("TLS 1.3 ServerHello = %+v, %v", sh, err)
	}

	// HelloRetryRequest.
	sh, err = ParseServerHello(serverHelloBody([]byte(helloRetryRequestRandom), ext(43, u16b(0x0304)), ext(51, u16b(23))))
	if err != nil || !sh.HelloRetryRequest || sh.Version != 0x0304 {
		t.Errorf("HelloRetryRequest = %+v, %v", sh, err)
	}

	// TLS 1.0 without extensions.
	sh, err = ParseServerHello(cat(u16b(0x0301), seq(0, 32), vec8(), u16b(0x002f), u8b(0)))
	if err != nil || sh.Version != 0x0301 || sh.SessionID != nil || sh.CipherSuite != 0x002f {
		t.Errorf("TLS 1.0 ServerHello = %+v, %v", sh, err)
	}

	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"short", u16b(0x0303), "ServerHello: message ends before random"},
		{"no suite", cat(u16b(0x0303), seq(0, 32), vec8(), u8b(0xc0)), "ServerHello: cipher_suite needs 2 bytes, only 1 left"},
		{"no compression", cat(u16b(0x0303), seq(0, 32), vec8(), u16b(1)), "ServerHello: message ends before legacy_compression_method"},
		{"two alpn names", serverHelloBody(seq(0, 32), ext(16, vec16(vec8([]byte("a")), vec8([]byte("b"))))), "ServerHello: application_layer_protocol_negotiation (16) extension: protocol_name_list holds 2 names, want 1"},
		{"short supported_versions", serverHelloBody(seq(0, 32), ext(43, u8b(3))), "ServerHello: supported_versions (43) extension: selected_version needs 2 bytes, only 1 left"},
		{"long supported_versions", serverHelloBody(seq(0, 32), ext(43, u16s(0x0304, 0x0303))), "ServerHello: supported_versions (43) extension: 2 bytes left over after the extension data"},
		{"duplicate", serverHelloBody(seq(0, 32), ext(43, u16b(0x0304)), ext(43, u16b(0x0304))), "ServerHello: supported_versions (43) extension appears twice"},
		{"extensions past the end", cat(serverHelloBody(seq(0, 32)), u16b(50), seq(0, 2)), "ServerHello: extensions length 50 exceeds the message (2 bytes left)"},
	} {
		sh, err := ParseServerHello(tc.msg)
		if err == nil || err.Error() != tc.want || sh != nil {
			t.Errorf("%s: ParseServerHello = %v, %v\nwant error %q", tc.name, sh, err, tc.want)
		}
	}
}

func TestParseCertificate(t *testing.T) {
	a, b := seq(1, 300), seq(2, 70000)
	tls12 := vec24(vec24(a), vec24(b))
	tls13 := cat(vec8(), vec24(vec24(a), vec16(ext(5, seq(0, 10))), vec24(b), vec16()))
	for _, tc := range []struct {
		msg   []byte
		tls13 bool
	}{{tls12, false}, {tls13, true}} {
		certs, err := ParseCertificate(tc.msg, tc.tls13)
		if err != nil {
			t.Fatalf("tls13=%v: %v", tc.tls13, err)
		}
		if len(certs) != 2 || !bytes.Equal(certs[0], a) || !bytes.Equal(certs[1], b) {
			t.Fatalf("tls13=%v: got %d certificates", tc.tls13, len(certs))
		}
		// Copies, each capped: appending to one does not overwrite the next.
		clear(tc.msg)
		_ = append(certs[0], 0xff)
		if !bytes.Equal(certs[0], a) || !bytes.Equal(certs[1], b) {
			t.Fatalf("tls13=%v: certificates share memory with the input or each other", tc.tls13)
		}
	}
	// Empty lists, as a client without a certificate sends; a TLS 1.3
	// request context.
	for _, tc := range []struct {
		msg   []byte
		tls13 bool
	}{{vec24(), false}, {cat(vec8(seq(0, 8)), vec24()), true}} {
		if certs, err := ParseCertificate(tc.msg, tc.tls13); err != nil || certs != nil {
			t.Errorf("empty list (tls13=%v) = %v, %v", tc.tls13, certs, err)
		}
	}

	for _, tc := range []struct {
		msg   []byte
		tls13 bool
		want  string
	}{
		{nil, false, "Certificate: message ends before certificate_list length"},
		{nil, true, "Certificate: message ends before certificate_request_context length"},
		{vec24(vec24(a)), true, "Certificate: certificate_list length 77568 exceeds the message (302 bytes left)"}, // a TLS 1.2 layout read as TLS 1.3
		{cat(u24b(100), seq(0, 10)), false, "Certificate: certificate_list length 100 exceeds the message (10 bytes left)"},
		{cat(vec24(vec24(a)), u8b(0)), false, "Certificate: 1 bytes left over after certificate_list"},
		{vec24(vec24(a), vec24()), false, "Certificate: certificate 2: cert_data length 0 is outside 1..16777215"},
		{vec24(vec24(a), u24b(5), seq(0, 2)), false, "Certificate: certificate 2: cert_data length 5 exceeds the message (2 bytes left)"},
		{cat(vec8(), vec24(vec24(a))), true, "Certificate: certificate 1: message ends before extensions length"},
		{cat(vec8(), vec24(vec24(a), vec16(ext(5), ext(5)))), true, "Certificate: status_request (5) extension appears twice"},
	} {
		certs, err := ParseCertificate(tc.msg, tc.tls13)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || certs != nil {
			t.Errorf("ParseCertificate(%d bytes, tls13=%v) = %d certs, %v\nwant error %q", len(tc.msg), tc.tls13, len(certs), err, tc.want)
		}
	}
}

func TestParseKeyUpdate(t *testing.T) {
	if r, err := ParseKeyUpdate([]byte{0}); r || err != nil {
		t.Errorf("update_not_requested: %v, %v", r, err)
	}
	if r, err := ParseKeyUpdate([]byte{1}); !r || err != nil {
		t.Errorf("update_requested: %v, %v", r, err)
	}
	for _, tc := range []struct {
		msg  []byte
		want string
	}{
		{nil, "KeyUpdate: message ends before request_update"},
		{[]byte{2}, "KeyUpdate: request_update is 2, want 0 (update_not_requested) or 1 (update_requested)"},
		{[]byte{1, 0}, "KeyUpdate: 1 bytes left over after request_update"},
	} {
		if r, err := ParseKeyUpdate(tc.msg); r || err == nil || err.Error() != tc.want {
			t.Errorf("ParseKeyUpdate(%x) = %v, %v, want error %q", tc.msg, r, err, tc.want)
		}
	}
}

func TestParseAlert(t *testing.T) {
	level, desc, err := ParseAlert([]byte{2, 40})
	if err != nil || level != AlertFatal || desc != 40 || AlertName(desc) != "handshake_failure" {
		t.Errorf("fatal handshake_failure: %d %d %v", level, desc, err)
	}
	level, desc, err = ParseAlert([]byte{1, 0})
	if err != nil || level != AlertWarning || AlertName(desc) != "close_notify" {
		t.Errorf("close_notify: %d %d %v", level, desc, err)
	}
	for _, tc := range []struct {
		body []byte
		want string
	}{
		{nil, "Alert: body is 0 bytes, want 2 (level and description)"},
		{[]byte{2}, "Alert: body is 1 bytes, want 2 (level and description)"},
		{seq(0, 26), "Alert: body is 26 bytes, want 2 (encrypted, or several alerts in one record)"},
		{[]byte{3, 0}, "Alert: level 3 is neither warning (1) nor fatal (2)"},
	} {
		if _, _, err := ParseAlert(tc.body); err == nil || err.Error() != tc.want {
			t.Errorf("ParseAlert(%x) = %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for desc, want := range map[byte]string{
		0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 42: "bad_certificate",
		48: "unknown_ca", 70: "protocol_version", 80: "internal_error", 86: "inappropriate_fallback",
		109: "missing_extension", 112: "unrecognized_name", 116: "certificate_required",
		120: "no_application_protocol", 200: "alert(200)",
	} {
		if got := AlertName(desc); got != want {
			t.Errorf("AlertName(%d) = %q, want %q", desc, got, want)
		}
	}
	for typ, want := range map[HandshakeType]string{
		ClientHello: "client_hello", ServerHello: "server_hello",
		NewSessionTicket: "new_session_ticket", EndOfEarlyData: "end_of_early_data",
		EncryptedExtensions: "encrypted_extensions", Certificate: "certificate",
		ServerKeyExchange: "server_key_exchange", CertificateRequest: "certificate_request",
		ServerHelloDone: "server_hello_done", CertificateVerify: "certificate_verify",
		ClientKeyExchange: "client_key_exchange", Finished: "finished",
		KeyUpdate: "key_update", 0: "hello_request", 254: "message_hash", 99: "handshake_type(99)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("HandshakeType(%d).String() = %q, want %q", uint8(typ), got, want)
		}
	}
	for typ, want := range map[byte]string{20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data", 24: "heartbeat", 25: "content_type(25)"} {
		if got := ContentTypeName(typ); got != want {
			t.Errorf("ContentTypeName(%d) = %q, want %q", typ, got, want)
		}
	}
}

func TestParsersDoNotAllocateNamesOnSuccess(t *testing.T) {
	msg := fullClientHello()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseClientHello(msg); err != nil {
			t.Fatal(err)
		}
	})
	// The struct, Random, SessionID, CipherSuites, ServerName, ALPN (slice
	// and two strings), SupportedVersions, KeyShareGroups (grows twice).
	if allocs > 13 {
		t.Errorf("ParseClientHello: %v allocations, want at most 13", allocs)
	}
	rec := rec(ApplicationData, 0x0303, seq(0, 100))
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = NextRecord(rec) }); n != 0 {
		t.Errorf("NextRecord: %v allocations, want 0", n)
	}
}
