package decode

// Helpers that build MQTT packets for the tests.

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// enc encodes a variable byte integer.
func enc(n int) []byte { return AppendVarint(nil, n) }

// pkt builds a control packet from its first byte and body parts.
func pkt(b0 byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat([]byte{b0}, enc(len(b)), b)
}

// s is a length-prefixed string.
func s(v string) []byte { return cat(u16(len(v)), []byte(v)) }

func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

func u32(v int) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// props builds a property block.
func props(ps ...[]byte) []byte {
	b := cat(ps...)
	return cat(enc(len(b)), b)
}

// prop builds one property.
func prop(id byte, val ...[]byte) []byte { return cat([]byte{id}, cat(val...)) }

// userProp builds a user property.
func userProp(k, v string) []byte { return prop(0x26, s(k), s(v)) }

// connect5 is a minimal MQTT 5 CONNECT with the given properties.
func connect5(p []byte) []byte {
	return pkt(0x10, s("MQTT"), []byte{5, 2}, u16(60), p, s("c"))
}

var (
	connect31  = pkt(0x10, s("MQIsdp"), []byte{3, 2}, u16(60), s("c"))
	connect311 = pkt(0x10, s("MQTT"), []byte{4, 2}, u16(60), s("c"))
	connect50  = connect5(props())
)
