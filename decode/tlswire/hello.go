package tlswire

import "strconv"

// Extension types read by the parsers (IANA TLS ExtensionType Values).
const (
	extServerName           uint16 = 0
	extALPN                 uint16 = 16
	extEncryptThenMAC       uint16 = 22
	extExtendedMasterSecret uint16 = 23
	extSessionTicket        uint16 = 35
	extPreSharedKey         uint16 = 41
	extSupportedVersions    uint16 = 43
	extKeyShare             uint16 = 51
)

// extName returns the RFC name of an extension type with its number, such
// as "server_name (0)", for error messages.
func extName(t uint16) string {
	var name string
	switch t {
	case 0:
		name = "server_name"
	case 1:
		name = "max_fragment_length"
	case 5:
		name = "status_request"
	case 10:
		name = "supported_groups"
	case 11:
		name = "ec_point_formats"
	case 13:
		name = "signature_algorithms"
	case 16:
		name = "application_layer_protocol_negotiation"
	case 18:
		name = "signed_certificate_timestamp"
	case 21:
		name = "padding"
	case 22:
		name = "encrypt_then_mac"
	case 23:
		name = "extended_master_secret"
	case 35:
		name = "session_ticket"
	case 41:
		name = "pre_shared_key"
	case 42:
		name = "early_data"
	case 43:
		name = "supported_versions"
	case 44:
		name = "cookie"
	case 45:
		name = "psk_key_exchange_modes"
	case 51:
		name = "key_share"
	case 65281:
		name = "renegotiation_info"
	default:
		return "extension type " + strconv.Itoa(int(t))
	}
	return name + " (" + strconv.Itoa(int(t)) + ")"
}

// helloRetryRequestRandom is the Random of a HelloRetryRequest, the SHA-256
// of "HelloRetryRequest" (RFC 8446 4.1.3).
const helloRetryRequestRandom = "\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91" +
	"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c"

// ClientHelloMsg is a parsed ClientHello message (RFC 5246 7.4.1.2,
// RFC 8446 4.1.2). Its slices are copies the caller owns.
type ClientHelloMsg struct {
	// Version is legacy_version: 0x0303 for TLS 1.2 and TLS 1.3 (which
	// offers its versions in SupportedVersions).
	Version uint16
	// Random is the 32-byte client random.
	Random []byte
	// SessionID is legacy_session_id, nil when empty.
	SessionID []byte
	// CipherSuites are the offered cipher suites, in the client's order.
	CipherSuites []uint16
	// ServerName is the host_name of the server_name extension (SNI), ""
	// when absent.
	ServerName string
	// ALPN are the offered application protocols, in the client's order.
	ALPN []string
	// SupportedVersions are the versions of the supported_versions
	// extension (43), nil when absent.
	SupportedVersions []uint16
	// ExtendedMasterSecret reports the extended_master_secret extension (23).
	ExtendedMasterSecret bool
	// EncryptThenMAC reports the encrypt_then_mac extension (22).
	EncryptThenMAC bool
	// SessionTicket reports the session_ticket extension (35).
	SessionTicket bool
	// PSK reports the pre_shared_key extension (41): a TLS 1.3 resumption
	// attempt.
	PSK bool
	// KeyShareGroups are the groups of the key_share extension's entries.
	KeyShareGroups []uint16
}

// extSet records the extension types seen in one extensions block, to find
// duplicates (RFC 8446 4.2: at most one of each type per block).
type extSet [1 << 16 / 64]uint64

// add marks t as seen and reports whether it was seen before.
func (s *extSet) add(t uint16) (dup bool) {
	w, bit := t/64, uint64(1)<<(t%64)
	dup = s[w]&bit != 0
	s[w] |= bit
	return dup
}

// forEachExt walks an extensions block, calling f with each extension's type
// and data. It fails on a malformed header, a duplicate type, or a
// pre_shared_key extension that is not the last (RFC 8446 4.2.11) when
// pskLast is set.
func (c *cursor) forEachExt(block []byte, pskLast bool, f func(typ uint16, data []byte)) {
	var seen extSet
	e := c.inItem(block, "", 0)
	for i := 1; e.err == nil && c.err == nil && len(e.b) > 0; i++ {
		e.itemName, e.item = "extension", i
		typ := e.u16("extension type")
		data := e.vec(2, 0, 65535, "extension data")
		if e.err != nil {
			break
		}
		e.itemName = ""
		if seen.add(typ) {
			e.fail("%s extension appears twice", extName(typ))
			break
		}
		if pskLast && typ == extPreSharedKey && len(e.b) > 0 {
			e.fail("%s extension is not the last one (%d bytes follow it)", extName(typ), len(e.b))
			break
		}
		f(typ, data)
	}
	c.take(&e)
}

// ParseClientHello parses the body of a ClientHello message (msg, without
// the 4-byte handshake header).
func ParseClientHello(msg []byte) (*ClientHelloMsg, error) {
	c := cursor{b: msg, msg: "ClientHello"}
	ch := &ClientHelloMsg{Version: c.u16("legacy_version")}
	random := c.fixed(32, "random")
	sid := c.vec(1, 0, 32, "legacy_session_id")
	suites := c.vec(2, 2, 65534, "cipher_suites")
	c.vec(1, 1, 255, "legacy_compression_methods")
	if c.err == nil && len(suites)%2 != 0 {
		c.fail("cipher_suites length %d is odd", len(suites))
	}
	var exts []byte
	if c.err == nil && len(c.b) > 0 { // SSL 3.0 and TLS 1.0 may omit them
		exts = c.vec(2, 0, 65535, "extensions")
		c.end("extensions")
	}
	if c.err != nil {
		return nil, c.err
	}
	ch.Random = clone(random)
	ch.SessionID = clone(sid)
	ch.CipherSuites = make([]uint16, len(suites)/2)
	for i := range ch.CipherSuites {
		ch.CipherSuites[i] = uint16(suites[2*i])<<8 | uint16(suites[2*i+1])
	}
	c.forEachExt(exts, true, func(typ uint16, data []byte) {
		d := c.inExt(data, typ)
		switch typ {
		case extServerName:
			ch.ServerName = d.serverName()
		case extALPN:
			ch.ALPN = d.alpn()
		case extSupportedVersions:
			list := d.vec(1, 2, 254, "versions")
			if d.err == nil && len(list)%2 != 0 {
				d.fail("versions length %d is odd", len(list))
			}
			if d.err == nil {
				ch.SupportedVersions = make([]uint16, len(list)/2)
				for i := range ch.SupportedVersions {
					ch.SupportedVersions[i] = uint16(list[2*i])<<8 | uint16(list[2*i+1])
				}
			}
		case extExtendedMasterSecret:
			ch.ExtendedMasterSecret = true
		case extEncryptThenMAC:
			ch.EncryptThenMAC = true
		case extSessionTicket:
			ch.SessionTicket = true
			d.b = nil // the ticket, opaque
		case extPreSharedKey:
			ch.PSK = true
			d.b = nil // identities and binders
		case extKeyShare:
			ch.KeyShareGroups = d.keyShareGroups()
		default:
			d.b = nil
		}
		d.end("the extension data")
		c.take(&d)
	})
	if c.err != nil {
		return nil, c.err
	}
	return ch, nil
}

// serverName reads a ClientHello's server_name extension data and returns
// its first host_name (RFC 6066 3).
func (c *cursor) serverName() string {
	list := c.vec(2, 1, 65535, "server_name_list")
	l := c.inItem(list, "", 0)
	name := ""
	for i := 1; l.err == nil && len(l.b) > 0; i++ {
		l.itemName, l.item = "entry", i
		typ := l.u8("name_type")
		v := l.vec(2, 1, 65535, "name")
		if l.err == nil && typ == 0 && name == "" {
			name = string(v)
		}
	}
	c.take(&l)
	return name
}

// alpn reads a ClientHello's application_layer_protocol_negotiation
// extension data (RFC 7301 3.1).
func (c *cursor) alpn() []string {
	list := c.vec(2, 2, 65535, "protocol_name_list")
	if c.err != nil {
		return nil
	}
	n := 0
	for p := list; len(p) > 0; n++ { // count first, to allocate once
		p = p[min(len(p), 1+int(p[0])):]
	}
	names := make([]string, 0, n)
	l := c.inItem(list, "", 0)
	for i := 1; l.err == nil && len(l.b) > 0; i++ {
		l.itemName, l.item = "protocol name", i
		v := l.vec(1, 1, 255, "name")
		if l.err == nil {
			names = append(names, string(v))
		}
	}
	c.take(&l)
	if c.err != nil {
		return nil
	}
	return names
}

// keyShareGroups reads a ClientHello's key_share extension data (RFC 8446
// 4.2.8) and returns the groups of its entries.
func (c *cursor) keyShareGroups() []uint16 {
	list := c.vec(2, 0, 65535, "client_shares")
	if c.err != nil {
		return nil
	}
	l := c.inItem(list, "", 0)
	var groups []uint16
	for i := 1; l.err == nil && len(l.b) > 0; i++ {
		l.itemName, l.item = "entry", i
		g := l.u16("group")
		l.vec(2, 1, 65535, "key_exchange")
		if l.err == nil {
			groups = append(groups, g)
		}
	}
	c.take(&l)
	if c.err != nil {
		return nil
	}
	return groups
}

// ServerHelloMsg is a parsed ServerHello message (RFC 5246 7.4.1.3,
// RFC 8446 4.1.3), a HelloRetryRequest included. Its slices are copies the
// caller owns.
type ServerHelloMsg struct {
	// Version is the negotiated version: the supported_versions extension's
	// (43) when present, else legacy_version.
	Version uint16
	// Random is the 32-byte server random.
	Random []byte
	// SessionID is legacy_session_id_echo, nil when empty.
	SessionID []byte
	// CipherSuite is the selected cipher suite.
	CipherSuite uint16
	// ExtendedMasterSecret reports the extended_master_secret extension.
	ExtendedMasterSecret bool
	// EncryptThenMAC reports the encrypt_then_mac extension.
	EncryptThenMAC bool
	// HelloRetryRequest reports that Random is the special value of a
	// HelloRetryRequest (RFC 8446 4.1.3).
	HelloRetryRequest bool
	// PSK reports that the server accepted a PSK: a TLS 1.3 resumption.
	PSK bool
	// ALPN is the selected application protocol (TLS 1.2 and earlier: TLS
	// 1.3 sends it in EncryptedExtensions), "" when none.
	ALPN string
}

// ParseServerHello parses the body of a ServerHello message (msg, without
// the 4-byte handshake header).
func ParseServerHello(msg []byte) (*ServerHelloMsg, error) {
	c := cursor{b: msg, msg: "ServerHello"}
	sh := &ServerHelloMsg{Version: c.u16("legacy_version")}
	random := c.fixed(32, "random")
	sid := c.vec(1, 0, 32, "legacy_session_id_echo")
	sh.CipherSuite = c.u16("cipher_suite")
	c.u8("legacy_compression_method")
	var exts []byte
	if c.err == nil && len(c.b) > 0 {
		exts = c.vec(2, 0, 65535, "extensions")
		c.end("extensions")
	}
	if c.err != nil {
		return nil, c.err
	}
	sh.Random = clone(random)
	sh.SessionID = clone(sid)
	sh.HelloRetryRequest = string(random) == helloRetryRequestRandom
	c.forEachExt(exts, false, func(typ uint16, data []byte) {
		d := c.inExt(data, typ)
		switch typ {
		case extSupportedVersions:
			sh.Version = d.u16("selected_version")
		case extExtendedMasterSecret:
			sh.ExtendedMasterSecret = true
		case extEncryptThenMAC:
			sh.EncryptThenMAC = true
		case extPreSharedKey:
			sh.PSK = true
			d.u16("selected_identity")
		case extALPN:
			names := d.alpn()
			if d.err == nil && len(names) != 1 {
				d.fail("protocol_name_list holds %d names, want 1", len(names))
			}
			if d.err == nil {
				sh.ALPN = names[0]
			}
		default:
			d.b = nil
		}
		d.end("the extension data")
		c.take(&d)
	})
	if c.err != nil {
		return nil, c.err
	}
	return sh, nil
}

// ParseCertificate parses the body of a Certificate message (msg, without
// the 4-byte handshake header). tls13 selects the TLS 1.3 layout (RFC 8446
// 4.4.2: a certificate_request_context and extensions after each
// certificate) instead of TLS 1.2's (RFC 5246 7.4.2). It returns copies of
// the DER certificates, leaf first, or nil when the list is empty.
func ParseCertificate(msg []byte, tls13 bool) ([][]byte, error) {
	c := cursor{b: msg, msg: "Certificate"}
	if tls13 {
		c.vec(1, 0, 255, "certificate_request_context")
	}
	list := c.vec(3, 0, maxHandshakeLen, "certificate_list")
	c.end("certificate_list")
	if c.err != nil {
		return nil, c.err
	}
	// First pass: check the list and size the copies.
	n, total := 0, 0
	l := c.inItem(list, "", 0)
	for i := 1; l.err == nil && len(l.b) > 0; i++ {
		l.itemName, l.item = "certificate", i
		der := l.vec(3, 1, maxHandshakeLen, "cert_data")
		if tls13 {
			exts := l.vec(2, 0, 65535, "extensions")
			l.forEachExt(exts, false, func(uint16, []byte) {})
		}
		n, total = n+1, total+len(der)
	}
	c.take(&l)
	if c.err != nil {
		return nil, c.err
	}
	if n == 0 {
		return nil, nil
	}
	// Second pass: copy into one buffer, each certificate capped to its
	// own length.
	certs := make([][]byte, 0, n)
	buf := make([]byte, 0, total)
	l = c.inItem(list, "", 0)
	for len(l.b) > 0 {
		der := l.vec(3, 1, maxHandshakeLen, "cert_data")
		if tls13 {
			l.vec(2, 0, 65535, "extensions")
		}
		start := len(buf)
		buf = append(buf, der...)
		certs = append(certs, buf[start:len(buf):len(buf)])
	}
	return certs, nil
}

// ParseKeyUpdate parses the body of a KeyUpdate message (RFC 8446 4.6.3) and
// returns whether the peer requested an update in return.
func ParseKeyUpdate(msg []byte) (requestUpdate bool, err error) {
	c := cursor{b: msg, msg: "KeyUpdate"}
	v := c.u8("request_update")
	c.end("request_update")
	if c.err != nil {
		return false, c.err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	c.fail("request_update is %d, want 0 (update_not_requested) or 1 (update_requested)", v)
	return false, c.err
}

// clone copies b, returning nil for an empty b.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
