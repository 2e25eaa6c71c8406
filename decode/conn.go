package decode

// Conn is the protocol state of one MQTT connection, both directions: the
// protocol version (learned from CONNECT, inferred from the packets, or set
// with SetVersion), whether CONNECT was seen, the MQTT 5 topic alias table of
// each direction and the Topic Alias Maximum each side announced. The zero
// value is ready to use. A Conn is not safe for concurrent use.
//
// Version inference. While the version is unknown (no CONNECT captured and
// none set), Decode decodes every packet other than CONNECT twice without
// recording anything, once as MQTT 3.1.1 and once as MQTT 5.0, and then:
//   - when exactly one of the two decodes without a Malformed problem, that
//     version is the connection's version from then on (for example a PUBACK,
//     CONNACK or UNSUBACK longer than MQTT 3 allows, a DISCONNECT with a
//     reason code, an AUTH packet, a SUBSCRIBE whose MQTT 3 reading runs past
//     the end, or a PUBLISH whose payload does not parse as MQTT 5
//     properties);
//   - when both decode cleanly and the MQTT 5 reading found at least one
//     property and no protocol violation, MQTT 5.0 is the version from then
//     on (a PUBLISH with a topic alias or user properties);
//   - otherwise the packet is ambiguous: it is decoded with the version
//     whose reading has fewer protocol violations, MQTT 3.1.1 on a tie, and
//     the version stays unknown.
//
// MQTT 3.1 and 3.1.1 differ on the wire only in CONNECT (and in the fixed
// header flags MQTT 3.1 allows on PUBREL, SUBSCRIBE and UNSUBSCRIBE), so
// inference never yields 3.1. A CONNECT sets the version from its protocol
// name and level: MQIsdp/3 is 3.1, MQTT/4 is 3.1.1, MQTT/5 is 5.0.
type Conn struct {
	version     uint8
	inferred    bool
	connectSeen bool

	// Topic Alias Maximum announced by the client in CONNECT (the highest
	// alias the server may send) and by the server in CONNACK (the highest
	// alias the client may send), and whether each was seen.
	clientTAM, serverTAM           uint16
	clientTAMKnown, serverTAMKnown bool

	// unsure[dir] is set once bytes of the direction were not captured:
	// an alias may have been set in them, so one without a mapping is not
	// a protocol error.
	unsure [2]bool

	// aliases[0] maps the aliases the client sends, aliases[1] those the
	// server sends; aliasBytes counts the topic bytes held per direction.
	aliases    [2]map[uint16][]byte
	aliasBytes [2]int
}

// maxAliasBytes bounds the topic bytes a Conn keeps per direction for topic
// aliases, so that a hostile stream cannot grow the state without bound.
const maxAliasBytes = 1 << 20

// Version returns the protocol level of the connection (V31, V311 or V5), or
// 0 while it is unknown.
func (c *Conn) Version() uint8 { return c.version }

// Inferred reports whether the version was inferred from packets other than
// CONNECT rather than learned from CONNECT or set with SetVersion.
func (c *Conn) Inferred() bool { return c.version != 0 && c.inferred }

// SetVersion forces the protocol level (V31, V311 or V5; 0 makes it unknown
// again), for example from a user option. A later CONNECT still overrides it.
func (c *Conn) SetVersion(v uint8) {
	c.version = v
	c.inferred = false
}

// Decode decodes exactly one complete control packet raw (ParseHeader(raw)
// .Total() bytes; bytes beyond are ignored) sent by the client (fromClient) or
// by the server, into p. It reuses p's slices: p.Fields and p.Problems are
// truncated and refilled, and field values alias raw or the Conn's alias
// table, so p is valid until raw changes or the next Decode on this Conn.
// Decode never fails: malformations and protocol violations are reported in
// p.Problems, and a packet that cannot be parsed to its end keeps the fields
// decoded so far and a Malformed problem. It updates the Conn's state
// (version, CONNECT seen, topic aliases and maxima).
func (c *Conn) Decode(raw []byte, fromClient bool, p *Packet) { c.decode(raw, fromClient, p, false) }

// DecodeTruncated decodes a packet of which the capture holds only the
// first bytes, raw (the snap length cut its frame, or a gap in the capture
// followed them): the fields raw holds are decoded and checked as by
// Decode, running out of bytes is not a malformation, and p.Truncated is
// set when raw is shorter than the packet's remaining length says.
func (c *Conn) DecodeTruncated(raw []byte, fromClient bool, p *Packet) {
	c.decode(raw, fromClient, p, true)
}

func (c *Conn) decode(raw []byte, fromClient bool, p *Packet, cut bool) {
	p.reset()
	p.FromClient = fromClient
	p.Raw = raw
	if len(raw) == 0 {
		p.Version = c.current()
		p.Problems = append(p.Problems, Problem{Severity: Malformed, Text: "empty packet", short: true})
		return
	}
	p.Type = Type(raw[0] >> 4)
	p.Flags = raw[0] & 0x0f
	h, err := ParseHeader(raw)
	if err != nil {
		p.Version = c.current()
		d := decoder{p: p, c: c, b: raw, ver: p.Version, fromClient: fromClient, typ: p.Type, flags: p.Flags}
		d.headerFlags()
		if err == ErrShort {
			d.short("", "packet ends inside the remaining length field", 1, len(raw)-1)
		} else {
			d.bad("", "remaining length is encoded in more than 4 bytes", 1, 4)
		}
		return
	}
	if total := h.Total(); len(raw) > total {
		raw = raw[:total]
		p.Raw = raw
	}
	p.HeaderLen = h.HeaderLen
	p.Remaining = h.Remaining
	unknown := c.version == 0 && !c.connectSeen
	p.Unknown = unknown
	ver := c.pick(raw, h, fromClient)
	p.Version = ver
	p.Truncated = cut && len(raw) < h.Total()
	d := decoder{p: p, c: c, b: raw, ver: ver, fromClient: fromClient, typ: h.Type, flags: h.Flags, cut: p.Truncated, unknown: unknown}
	d.run(h)
}

// current returns the version to decode with when nothing else decides it.
func (c *Conn) current() uint8 {
	if c.version != 0 {
		return c.version
	}
	return V311
}

// pick chooses the version to decode a packet with, inferring the
// connection's version when it is unknown (see Conn).
func (c *Conn) pick(raw []byte, h FixedHeader, fromClient bool) uint8 {
	if h.Type == CONNECT {
		if v := connectLayout(raw, h.HeaderLen); v != 0 {
			return v
		}
	}
	if c.version != 0 {
		return c.version
	}
	r4 := c.dryRun(raw, h, fromClient, V311)
	r5 := c.dryRun(raw, h, fromClient, V5)
	switch {
	case !r5.malformed && r4.malformed:
		c.version, c.inferred = V5, true
		return V5
	case !r4.malformed && r5.malformed:
		c.version, c.inferred = V311, true
		return V311
	case !r4.malformed && !r5.malformed:
		if r5.props > 0 && r5.violations == 0 {
			c.version, c.inferred = V5, true
			return V5
		}
		if r5.violations < r4.violations {
			return V5
		}
	}
	return V311
}

// dryResult summarises a decode that recorded nothing.
type dryResult struct {
	malformed  bool
	violations int
	props      int
}

// dryRun decodes raw under version ver without recording fields or problems
// and without changing the Conn. A dry decoder has no Packet: every write to
// d.p is guarded by !d.dry.
func (c *Conn) dryRun(raw []byte, h FixedHeader, fromClient bool, ver uint8) dryResult {
	d := decoder{c: c, b: raw, ver: ver, fromClient: fromClient, typ: h.Type, flags: h.Flags, dry: true}
	d.run(h)
	return dryResult{d.malformed, d.violations, d.props}
}

// connectLayout returns the version a CONNECT at the start of raw announces
// (V31 for MQIsdp/3, V311 for MQTT/4, V5 for MQTT/5), or 0 when it cannot be
// read or is not one of those.
func connectLayout(raw []byte, hlen int) uint8 {
	if len(raw) < hlen+2 {
		return 0
	}
	n := int(raw[hlen])<<8 | int(raw[hlen+1])
	at := hlen + 2 + n
	if at >= len(raw) {
		return 0
	}
	return versionOf(raw[hlen+2:at], raw[at])
}

// versionOf maps a CONNECT protocol name and level to a version, or 0.
func versionOf(name []byte, level uint8) uint8 {
	switch {
	case string(name) == "MQIsdp" && level == V31:
		return V31
	case string(name) == "MQTT" && level == V311:
		return V311
	case string(name) == "MQTT" && level == V5:
		return V5
	}
	return 0
}

// SetAlias maps a Topic Alias to topic for the PUBLISH packets sent by the
// client (fromClient) or by the server, as a PUBLISH carrying both does. It
// lets a packet that uses the alias be decoded again outside its
// connection (the terminal UI decodes records on demand).
func (c *Conn) SetAlias(fromClient bool, alias uint16, topic []byte) {
	dir := 1
	if fromClient {
		dir = 0
	}
	c.setAlias(dir, alias, topic)
}

// Lost tells the Conn that bytes the client (fromClient) or the server sent
// were not captured: a gap in the capture, or a capture that started after
// the connection did. The topic aliases of that direction are forgotten (a
// lost PUBLISH may have changed them), and a topic alias used without a
// mapping is no longer reported as a protocol error.
func (c *Conn) Lost(fromClient bool) {
	dir := 1
	if fromClient {
		dir = 0
	}
	clear(c.aliases[dir])
	c.aliasBytes[dir] = 0
	c.unsure[dir] = true
}

// lookupAlias returns the topic mapped to alias in the direction dir.
func (c *Conn) lookupAlias(dir int, alias uint16) ([]byte, bool) {
	t, ok := c.aliases[dir][alias]
	return t, ok
}

// setAlias maps alias to a copy of topic in the direction dir, reusing the
// previous mapping's storage when it is large enough.
func (c *Conn) setAlias(dir int, alias uint16, topic []byte) {
	m := c.aliases[dir]
	if m == nil {
		m = make(map[uint16][]byte)
		c.aliases[dir] = m
	}
	old, ok := m[alias]
	if ok && cap(old) >= len(topic) {
		m[alias] = append(old[:0], topic...)
		return
	}
	if c.aliasBytes[dir]-cap(old)+len(topic) > maxAliasBytes {
		delete(m, alias)
		c.aliasBytes[dir] -= cap(old)
		return
	}
	buf := append([]byte(nil), topic...)
	c.aliasBytes[dir] += cap(buf) - cap(old)
	m[alias] = buf
}
