package decode

import (
	"bytes"
	"testing"
)

func TestTopicAlias(t *testing.T) {
	c, p := run(t, tam5(5, 5)...)
	// The client registers alias 2, then uses it with an empty topic.
	c.Decode(pkt(0x30, s("a/b"), props(prop(0x23, u16(2))), []byte("1")), true, p)
	if string(p.Topic) != "a/b" || p.TopicAlias != 2 || len(p.Problems) != 0 {
		t.Fatalf("register: topic %q alias %d: %s", p.Topic, p.TopicAlias, problems(p))
	}
	raw := pkt(0x30, s(""), props(prop(0x23, u16(2))), []byte("2"))
	c.Decode(raw, true, p)
	f := p.Field("mqtt.topic")
	if string(p.Topic) != "a/b" || f == nil || string(f.Bytes) != "a/b" || f.Off != 4 || f.Len != 0 || len(p.Problems) != 0 {
		t.Fatalf("resolve: topic %q field %+v: %s", p.Topic, f, problems(p))
	}
	if Info(p) != "Publish Message [a/b]" || Label(p, f) != "Topic: a/b" {
		t.Errorf("Info %q label %q", Info(p), Label(p, f))
	}
	// The tables are per direction: the server has no alias 2 yet.
	c.Decode(raw, false, p)
	if len(p.Topic) != 0 || p.Violation() == "" {
		t.Errorf("server direction resolved %q", p.Topic)
	}
	// Re-mapping an alias replaces the topic, also with a longer one.
	c.Decode(pkt(0x30, s("a/much/longer/topic"), props(prop(0x23, u16(2)))), true, p)
	c.Decode(raw, true, p)
	if string(p.Topic) != "a/much/longer/topic" {
		t.Errorf("re-mapped alias resolves to %q", p.Topic)
	}
	c.Decode(pkt(0x30, s("x"), props(prop(0x23, u16(2)))), true, p)
	c.Decode(raw, true, p)
	if string(p.Topic) != "x" {
		t.Errorf("re-mapped alias resolves to %q", p.Topic)
	}
	// The raw bytes of the registering packet may be reused by the caller.
	reg := pkt(0x30, s("r/s"), props(prop(0x23, u16(1))))
	c.Decode(reg, false, p)
	copy(reg[4:], "zzz")
	c.Decode(pkt(0x30, s(""), props(prop(0x23, u16(1)))), false, p)
	if string(p.Topic) != "r/s" {
		t.Errorf("alias table aliases the caller's buffer: %q", p.Topic)
	}
}

func TestAliasMemoryBound(t *testing.T) {
	var c Conn
	var p Packet
	c.SetVersion(V5)
	topic := string(bytes.Repeat([]byte("t"), 60000))
	for a := 1; a <= 40; a++ {
		c.Decode(pkt(0x30, s(topic), props(prop(0x23, u16(a)))), true, &p)
	}
	if c.aliasBytes[0] > maxAliasBytes {
		t.Errorf("alias table holds %d bytes", c.aliasBytes[0])
	}
	if _, ok := c.lookupAlias(0, 1); !ok {
		t.Errorf("first alias dropped")
	}
	if _, ok := c.lookupAlias(0, 40); ok {
		t.Errorf("alias beyond the bound kept")
	}
	// Re-mapping kept aliases stays within the bound.
	for a := 1; a <= 40; a++ {
		c.Decode(pkt(0x30, s(topic+"x"), props(prop(0x23, u16(a)))), true, &p)
	}
	if c.aliasBytes[0] > maxAliasBytes {
		t.Errorf("alias table holds %d bytes", c.aliasBytes[0])
	}
}

func TestVersionInference(t *testing.T) {
	cases := []struct {
		name     string
		steps    []step
		want     uint8 // Conn.Version after the steps
		decoded  uint8 // version the last packet was decoded with
		inferred bool
	}{
		{"nothing yet", nil, 0, 0, false},
		{"CONNECT 3.1", []step{cli(connect31)}, V31, V31, false},
		{"CONNECT 3.1.1", []step{cli(connect311)}, V311, V311, false},
		{"CONNECT 5.0", []step{cli(connect50)}, V5, V5, false},
		{"PINGREQ is ambiguous", []step{cli(pkt(0xc0))}, 0, V311, false},
		{"short PUBACK is ambiguous", []step{srv(pkt(0x40, u16(1)))}, 0, V311, false},
		{"PUBACK with reason code", []step{cli(pkt(0xc0)), srv(pkt(0x40, u16(1), []byte{0x10}))}, V5, V5, true},
		{"UNSUBACK with reason codes", []step{srv(pkt(0xb0, u16(1), props(), []byte{0}))}, V5, V5, true},
		{"CONNACK with properties", []step{srv(pkt(0x20, []byte{0, 0}, props(prop(0x22, u16(3)))))}, V5, V5, true},
		{"3.1.1 CONNACK", []step{srv(pkt(0x20, []byte{0, 0}))}, V311, V311, true},
		{"DISCONNECT with reason code", []step{cli(pkt(0xe0, []byte{0}))}, V5, V5, true},
		{"AUTH", []step{cli(pkt(0xf0))}, V5, V5, true},
		{"PUBLISH with text payload", []step{cli(pkt(0x30, s("a"), []byte("hello world")))}, V311, V311, true},
		{"PUBLISH with empty payload", []step{cli(pkt(0x30, s("a")))}, V311, V311, true},
		{"PUBLISH with properties", []step{cli(pkt(0x30, s("a"), props(prop(0x23, u16(1)), userProp("k", "v")), []byte("hi")))}, V5, V5, true},
		{"PUBLISH with empty property block", []step{cli(pkt(0x30, s("a"), props(), []byte("hi")))}, 0, V311, false},
		{"v5 SUBSCRIBE", []step{cli(pkt(0x82, u16(1), props(), s("topicX"), []byte{1}))}, V5, V5, true},
		{"v3 SUBSCRIBE", []step{cli(pkt(0x82, u16(1), s("topicX"), []byte{1}))}, V311, V311, true},
		{"v5 SUBACK with codes looks like v3", []step{srv(pkt(0x90, u16(1), []byte{0, 1}))}, 0, V311, false},
		{"v3 SUBACK", []step{srv(pkt(0x90, u16(1), []byte{1}))}, V311, V311, true},
		{"server DISCONNECT prefers 5.0 without deciding", []step{srv(pkt(0xe0))}, 0, V5, false},
		{"decided version is kept", []step{srv(pkt(0x40, u16(1), []byte{0})), cli(pkt(0x30, s("a"), []byte("text")))}, V5, V5, true},
		{"CONNECT overrides inference", []step{srv(pkt(0x40, u16(1), []byte{0})), cli(connect311)}, V311, V311, false},
		{"malformed either way", []step{cli(pkt(0x40, u16(1), []byte{0, 5}))}, 0, V311, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, p := run(t, c.steps...)
			if conn.Version() != c.want || conn.Inferred() != c.inferred {
				t.Errorf("Version %d inferred %v, want %d %v", conn.Version(), conn.Inferred(), c.want, c.inferred)
			}
			if len(c.steps) > 0 && p.Version != c.decoded {
				t.Errorf("decoded as %d, want %d", p.Version, c.decoded)
			}
		})
	}
	// The inferred MQTT 5 decode shows the reason code.
	_, p := run(t, srv(pkt(0x40, u16(1), []byte{0x10})))
	if vals(p, "mqtt.puback.reason_code") != "16" || len(p.Problems) != 0 {
		t.Errorf("inferred PUBACK: %q %s", vals(p, "mqtt.puback.reason_code"), problems(p))
	}
}

func TestSetVersion(t *testing.T) {
	var c Conn
	var p Packet
	c.SetVersion(V5)
	c.Decode(pkt(0x40, u16(1)), false, &p)
	if c.Version() != V5 || c.Inferred() || p.Version != V5 {
		t.Errorf("forced 5.0: version %d inferred %v decoded %d", c.Version(), c.Inferred(), p.Version)
	}
	c.SetVersion(V31)
	c.Decode(pkt(0x6a, u16(1)), true, &p)
	if p.Version != V31 || vals(&p, "mqtt.retain_reserved") != "0" || len(p.Problems) != 0 {
		t.Errorf("forced 3.1: decoded %d: %s", p.Version, problems(&p))
	}
	c.SetVersion(0)
	if c.Version() != 0 {
		t.Errorf("version %d after SetVersion(0)", c.Version())
	}
	// A CONNECT overrides the forced version.
	c.SetVersion(V5)
	c.Decode(connect311, true, &p)
	if c.Version() != V311 {
		t.Errorf("version %d after a 3.1.1 CONNECT", c.Version())
	}
	// A CONNECT cut short after its protocol level still sets the version.
	c.Decode(pkt(0x10, s("MQTT"), []byte{5, 0xc2}, u16(0), props(), s("c"), s("u")), true, &p)
	if c.Version() != V5 || p.Malformed() == "" {
		t.Errorf("version %d after a truncated 5.0 CONNECT: %s", c.Version(), problems(&p))
	}
	c.Decode(connect311, true, &p)
	// An unknown protocol level does not change it.
	c.Decode(pkt(0x10, s("MQTT"), []byte{9, 2}, u16(0), s("c")), true, &p)
	if c.Version() != V311 || p.Malformed() == "" {
		t.Errorf("version %d after an unknown CONNECT: %s", c.Version(), problems(&p))
	}
}

func TestPlausible(t *testing.T) {
	pub := pkt(0x32, s("a/b"), u16(1), []byte("x"))
	pub5 := pkt(0x32, s("a/b"), u16(1), props(prop(0x23, u16(1))), []byte("x"))
	cases := []struct {
		name    string
		b       []byte
		version uint8
		max     int
		want    bool
	}{
		{"PUBLISH", pub, 0, 1 << 20, true},
		{"PUBLISH 3.1.1", pub, V311, 1 << 20, true},
		{"PUBLISH 5.0 as 5.0", pub5, V5, 1 << 20, true},
		{"PUBLISH header only", pub[:2], 0, 1 << 20, true},
		{"too short to tell", pub[:1], 0, 1 << 20, false},
		{"PUBLISH QoS 3", pkt(0x36, s("a"), u16(1)), 0, 1 << 20, false},
		{"over the maximum", pub, 0, 4, false},
		{"type 0", pkt(0x00), 0, 1 << 20, false},
		{"AUTH unknown version", pkt(0xf0), 0, 1 << 20, true},
		{"AUTH 5.0", pkt(0xf0, []byte{0x18}, props()), V5, 1 << 20, true},
		{"AUTH 3.1.1", pkt(0xf0), V311, 1 << 20, false},
		{"PUBACK flags", pkt(0x42, u16(1)), 0, 1 << 20, false},
		{"PUBREL 0x62", pkt(0x62, u16(1)), V311, 1 << 20, true},
		{"PUBREL 0x6a in 3.1", pkt(0x6a, u16(1)), V31, 1 << 20, true},
		{"PUBREL 0x6a in 3.1.1", pkt(0x6a, u16(1)), V311, 1 << 20, false},
		{"PUBREL 0x60", pkt(0x60, u16(1)), 0, 1 << 20, false},
		{"PINGREQ", pkt(0xc0), 0, 1 << 20, true},
		{"PINGREQ with body", pkt(0xc0, []byte{0}), 0, 1 << 20, false},
		{"PUBACK 3.1.1 too long", pkt(0x40, u16(1), []byte{0}), V311, 1 << 20, false},
		{"PUBACK 5.0 long", pkt(0x40, u16(1), []byte{0}), V5, 1 << 20, true},
		{"CONNACK 3.1.1", pkt(0x20, []byte{0, 0}), V311, 1 << 20, true},
		{"CONNACK 5.0 without properties", pkt(0x20, []byte{0, 0}), V5, 1 << 20, false},
		{"CONNECT", connect50, 0, 1 << 20, true},
		{"CONNECT unknown level", pkt(0x10, s("MQTT"), []byte{7, 2}, u16(0), s("c")), 0, 1 << 20, false},
		{"CONNECT too short", pkt(0x10, s("MQTT")), 0, 1 << 20, false},
		{"remaining length not minimal", []byte{0xc0, 0x80, 0x00}, 0, 1 << 20, false},
		{"remaining length over 4 bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, 1 << 30, false},
		{"malformed 3.1.1 PUBLISH", pkt(0x30, []byte{0, 9, 'a'}), 0, 1 << 20, false},
		{"malformed 5.0 properties", pkt(0x30, s("a"), []byte{5, 0x99}), V5, 1 << 20, false},
		{"SUBSCRIBE both versions fine", pkt(0x82, u16(1), s("a"), []byte{0}), 0, 1 << 20, true},
		{"SUBSCRIBE too short", pkt(0x82, u16(1)), 0, 1 << 20, false},
		{"text", []byte("GET / HTTP/1.1\r\n"), 0, 1 << 20, false},
	}
	for _, c := range cases {
		if got := Plausible(c.b, c.version, c.max); got != c.want {
			t.Errorf("%s: Plausible(% x, %d, %d) = %v", c.name, c.b, c.version, c.max, got)
		}
	}
}

// TestPlausibleConcurrent calls Plausible from several goroutines: it shares
// a Conn that dry runs only read (run with -race).
func TestPlausibleConcurrent(t *testing.T) {
	pk := pkt(0x30, s(""), props(prop(0x23, u16(3))), []byte("x"))
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && Plausible(pk, 0, 1<<20)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("not plausible")
		}
	}
}
