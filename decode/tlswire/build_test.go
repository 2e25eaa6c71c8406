package tlswire

// Builders of TLS wire structures for the tests.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u8b(v byte) []byte    { return []byte{v} }
func u16b(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
func u24b(v int) []byte    { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }

// vec8, vec16 and vec24 concatenate parts behind a 1-, 2- or 3-byte length.
func vec8(parts ...[]byte) []byte {
	b := cat(parts...)
	return cat(u8b(byte(len(b))), b)
}

func vec16(parts ...[]byte) []byte {
	b := cat(parts...)
	return cat(u16b(uint16(len(b))), b)
}

func vec24(parts ...[]byte) []byte {
	b := cat(parts...)
	return cat(u24b(len(b)), b)
}

// ext builds one extension.
func ext(typ uint16, data ...[]byte) []byte { return cat(u16b(typ), vec16(data...)) }

// hsMsg builds a handshake message with its header.
func hsMsg(typ HandshakeType, body []byte) []byte {
	return cat(u8b(byte(typ)), u24b(len(body)), body)
}

// rec builds a record.
func rec(typ byte, version uint16, body []byte) []byte {
	return cat(u8b(typ), u16b(version), u16b(uint16(len(body))), body)
}

// seq returns n bytes counting up from start.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func u16s(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = append(b, u16b(v)...)
	}
	return b
}

// clientHelloBody builds a ClientHello body with the given extensions block
// contents (nil: no extensions block at all).
func clientHelloBody(exts ...[]byte) []byte {
	b := cat(u16b(0x0303), seq(1, 32), vec8(seq(100, 32)), vec16(u16s(0x1301, 0xc02f, 0x00ff)), vec8(u8b(0)))
	if exts == nil {
		return b
	}
	return cat(b, vec16(exts...))
}

// fullClientHello builds a ClientHello body with every extension the parser
// reads.
func fullClientHello() []byte {
	return clientHelloBody(
		ext(0, vec16(u8b(0), vec16([]byte("broker.lab")))),
		ext(10, vec16(u16s(29, 23))),
		ext(16, vec16(vec8([]byte("mqtt")), vec8([]byte("mqtt/5")))),
		ext(22),
		ext(23),
		ext(35),
		ext(43, vec8(u16s(0x0304, 0x0303))),
		ext(51, vec16(u16b(29), vec16(seq(0, 32)), u16b(23), vec16(seq(0, 65)))),
		ext(0x0a0a, []byte{0}), // GREASE
		ext(41, vec16(vec16(seq(0, 8)), u16b(0), u16b(0)), vec16(vec8(seq(0, 32)))),
	)
}

// serverHelloBody builds a ServerHello body.
func serverHelloBody(random []byte, exts ...[]byte) []byte {
	b := cat(u16b(0x0303), random, vec8(seq(100, 32)), u16b(0x1301), u8b(0))
	if exts == nil {
		return b
	}
	return cat(b, vec16(exts...))
}
