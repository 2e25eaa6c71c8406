package decode

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestAgainstTshark decodes the conformance captures and synthetic captures
// covering every packet type, property and version with the decoder and with
// tshark, and checks that both agree on every MQTT field tshark shows: name,
// value, byte range, tree depth and label, and on the Info column. tshark,
// text2pcap and mergecap (Debian packages tshark and wireshark-common) are
// required; the test fails when they are missing.
func TestAgainstTshark(t *testing.T) {
	for _, tool := range []string{"tshark", "text2pcap", "mergecap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install tshark): %v", tool, err)
		}
	}
	caps, err := filepath.Glob("../../shared/captures/conformance/*.pcap")
	if err != nil || len(caps) == 0 {
		t.Fatalf("no conformance captures in ../../shared/captures/conformance: %v", err)
	}
	dir := t.TempDir()
	for i, sc := range synthetic() {
		caps = append(caps, writeScenario(t, dir, 41000+i, sc))
	}
	all := filepath.Join(dir, "all.pcap")
	if out, err := exec.Command("mergecap", append([]string{"-a", "-F", "pcap", "-w", all}, caps...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v\n%s", err, out)
	}
	frames := tsharkPDML(t, all)
	infos := tsharkInfo(t, all)

	type dirKey struct {
		stream     string
		fromClient bool
	}
	bufs := map[dirKey][]byte{}
	conns := map[string]*Conn{}
	var p Packet
	compared, mqttFrames := 0, 0
	for _, fr := range frames {
		k := dirKey{fr.stream, isBrokerPort(fr.dstport)}
		buf := append(bufs[k], fr.payload...)
		c := conns[fr.stream]
		if c == nil {
			c = &Conn{}
			conns[fr.stream] = c
		}
		var got [][]tsField
		var gotInfo []string
		for {
			h, err := ParseHeader(buf)
			if err != nil || len(buf) < h.Total() {
				break
			}
			c.Decode(buf[:h.Total()], k.fromClient, &p)
			got = append(got, mine(&p))
			gotInfo = append(gotInfo, Info(&p))
			buf = buf[h.Total():]
		}
		bufs[k] = append([]byte(nil), buf...)
		if len(fr.pdus) > 0 {
			mqttFrames++
		}
		if len(got) != len(fr.pdus) {
			t.Errorf("frame %d: decoder found %d MQTT packets, tshark %d", fr.num, len(got), len(fr.pdus))
			continue
		}
		for i := range got {
			compared++
			comparePDU(t, fr.num, i, fr.pdus[i], got[i])
		}
		if len(got) > 0 {
			if want := infos[fr.num]; strings.Join(gotInfo, ", ") != want {
				t.Errorf("frame %d: Info %q, tshark %q", fr.num, strings.Join(gotInfo, ", "), want)
			}
		}
	}
	if compared < 200 || mqttFrames == 0 {
		t.Fatalf("only %d MQTT packets compared", compared)
	}
	t.Logf("%d MQTT packets in %d frames agree with tshark", compared, mqttFrames)
}

func isBrokerPort(p int) bool { return p == 1883 || p == 1884 || p == 8883 }

// tsField is one field as tshark's PDML shows it, or the decoder's field
// converted to that form.
type tsField struct {
	name, show, label string
	pos, size, depth  int
}

func (f tsField) String() string {
	return fmt.Sprintf("%s=%q @%d+%d d%d %q", f.name, f.show, f.pos, f.size, f.depth, f.label)
}

type tsFrame struct {
	num              int
	stream           string
	srcport, dstport int
	payload          []byte
	pdus             [][]tsField
}

// tsharkPDML runs tshark -T pdml on path and returns every TCP frame with
// its payload and MQTT packets (field positions relative to each packet).
func tsharkPDML(t *testing.T, path string) []tsFrame {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "pdml", "-d", "tcp.port==1884,mqtt").Output()
	if err != nil {
		t.Fatalf("tshark -T pdml: %v", err)
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	var frames []tsFrame
	var fr *tsFrame
	var pdu *[]tsField
	proto, pduPos, depth := "", 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			a := map[string]string{}
			for _, at := range e.Attr {
				a[at.Name.Local] = at.Value
			}
			switch e.Name.Local {
			case "packet":
				frames = append(frames, tsFrame{})
				fr = &frames[len(frames)-1]
			case "proto":
				proto = a["name"]
				if proto == "mqtt" {
					fr.pdus = append(fr.pdus, nil)
					pdu = &fr.pdus[len(fr.pdus)-1]
					pduPos, _ = strconv.Atoi(a["pos"])
					depth = 0
				}
			case "field":
				name := a["name"]
				switch {
				case proto == "geninfo" && name == "num":
					fr.num, _ = strconv.Atoi(a["show"])
				case name == "tcp.srcport":
					fr.srcport, _ = strconv.Atoi(a["show"])
				case name == "tcp.dstport":
					fr.dstport, _ = strconv.Atoi(a["show"])
				case name == "tcp.stream":
					fr.stream = a["show"]
				case name == "tcp.payload" && proto == "tcp":
					fr.payload, _ = hex.DecodeString(a["value"])
				case proto == "mqtt":
					if strings.HasPrefix(name, "mqtt.") && depth >= 0 {
						pos, _ := strconv.Atoi(a["pos"])
						size, _ := strconv.Atoi(a["size"])
						*pdu = append(*pdu, tsField{name, a["show"], a["showname"], pos - pduPos, size, depth})
						depth++
					} else {
						depth -= 1000 // skip expert info and its subtree
					}
				}
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "proto":
				proto = ""
			case "field":
				if proto == "mqtt" {
					if depth < 0 {
						depth += 1000
					} else {
						depth--
					}
				}
			}
		}
	}
	if len(frames) == 0 {
		t.Fatalf("tshark -T pdml %s: no frames", path)
	}
	// Keep TCP frames only (with or without payload), in order.
	kept := frames[:0]
	for _, f := range frames {
		if f.stream != "" {
			kept = append(kept, f)
		}
	}
	return kept
}

// tsharkInfo returns the Info column of every MQTT frame.
func tsharkInfo(t *testing.T, path string) map[int]string {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-Y", "mqtt", "-d", "tcp.port==1884,mqtt",
		"-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info").Output()
	if err != nil {
		t.Fatalf("tshark -T fields: %v", err)
	}
	m := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		num, info, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(num)
		m[n] = info
	}
	return m
}

// mine converts a decoded packet to tshark's view of it: typed property
// values become Wireshark's generic mqtt.prop_number / mqtt.prop_string
// fields, user property headings disappear, and an alias-resolved topic
// moves to where Wireshark puts its generated topic (after the properties).
func mine(p *Packet) []tsField {
	var out []tsField
	var aliasTopic *tsField
	userDepth := -1
	for i := range p.Fields {
		f := &p.Fields[i]
		if userDepth >= 0 && int(f.Depth) <= userDepth {
			userDepth = -1
		}
		depth := int(f.Depth)
		if userDepth >= 0 {
			depth--
		}
		label := Label(p, f)
		if f.Name == "mqtt.property_id" && f.Uint == uint64(PropMessageExpiryInterval) {
			label = "ID: Publication Expiry Interval (0x02)" // Wireshark's older name
		}
		tf := tsField{name: f.Name, show: showValue(f), label: label, pos: f.Off, size: f.Len, depth: depth}
		switch alias := WiresharkAlias(f.Name); {
		case f.Name == "mqtt.property.user_property":
			userDepth = int(f.Depth)
			continue
		case alias == "mqtt.prop_number":
			tf.name, tf.label = alias, "Value: "+strconv.FormatUint(f.Uint, 10)
		case alias == "mqtt.prop_string":
			out = append(out, tsField{"mqtt.prop_string_len", strconv.Itoa(f.Len - 2), "Length: " + strconv.Itoa(f.Len-2), f.Off, 2, depth})
			v := f.Bytes // Wireshark shows binary data as a C string
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			var sb labelBuf
			writeText(&sb, v)
			tf = tsField{alias, string(sb), "Value: " + string(sb), f.Off + 2, f.Len - 2, depth}
		case f.Name == "mqtt.topic" && f.Len == 0 && p.TopicAlias != 0:
			aliasTopic = &tf
			continue
		case f.Name == "mqtt.msg" && aliasTopic != nil:
			aliasTopic.pos = f.Off
			out = append(out, *aliasTopic)
		}
		if f.Kind == KindNone {
			tf.show = ""
		}
		out = append(out, tf)
	}
	return out
}

// showValue formats a value as PDML's show attribute does.
func showValue(f *Field) string {
	switch f.Kind {
	case KindUint:
		if FieldHex(f.Name) {
			return fmt.Sprintf("0x%02x", f.Uint)
		}
		return strconv.FormatUint(f.Uint, 10)
	case KindBool:
		return strconv.FormatUint(f.Uint, 10)
	case KindString:
		// PDML escapes control characters other than tab, CR and LF as \x%x.
		var sb strings.Builder
		for _, r := range string(f.Bytes) {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				fmt.Fprintf(&sb, "\\x%x", r)
			} else {
				sb.WriteRune(r)
			}
		}
		return sb.String()
	case KindBytes:
		h := hex.EncodeToString(f.Bytes)
		var sb strings.Builder
		for i := 0; i < len(h); i += 2 {
			if i > 0 {
				sb.WriteByte(':')
			}
			sb.WriteString(h[i : i+2])
		}
		return sb.String()
	}
	return ""
}

func comparePDU(t *testing.T, frame, idx int, want, got []tsField) {
	t.Helper()
	n := max(len(want), len(got))
	for i := 0; i < n; i++ {
		var w, g tsField
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("frame %d packet %d field %d:\n tshark  %v\n decoder %v", frame, idx, i, w, g)
			return
		}
	}
}

// frame is one synthetic TCP segment sent by the client ('I') or the broker
// ('O').
type frame struct {
	dir  byte
	data []byte
}

// scenario is a synthetic connection.
type scenario []frame

// writeScenario writes a scenario as a pcap through text2pcap, on client
// port port and broker port 1883.
func writeScenario(t *testing.T, dir string, port int, sc scenario) string {
	t.Helper()
	var sb strings.Builder
	for _, f := range sc {
		fmt.Fprintf(&sb, "%c 000000", f.dir)
		for _, b := range f.data {
			fmt.Fprintf(&sb, " %02x", b)
		}
		sb.WriteString("\n")
	}
	txt := filepath.Join(dir, fmt.Sprintf("s%d.txt", port))
	pcap := filepath.Join(dir, fmt.Sprintf("s%d.pcap", port))
	if err := os.WriteFile(txt, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("text2pcap", "-q", "-D", "-T", fmt.Sprintf("%d,1883", port), txt, pcap)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("text2pcap: %v\n%s", err, out)
	}
	return pcap
}

// synthetic returns connections that exercise every packet type, field and
// property of each version, including the MQTT 5 short forms.
func synthetic() []scenario {
	in := func(b ...[]byte) frame { return frame{'I', cat(b...)} }
	out := func(b ...[]byte) frame { return frame{'O', cat(b...)} }
	allConnect := props(
		prop(0x11, u32(3600)), prop(0x15, s("SCRAM-SHA-1")), prop(0x16, s("\x00\x01\xff")),
		prop(0x17, []byte{0}), prop(0x19, []byte{1}), prop(0x21, u16(20)), prop(0x22, u16(10)),
		userProp("k\tey", "v\x01al"), userProp("k2", "é"), prop(0x27, u32(1<<20)))
	allWill := props(prop(0x01, []byte{1}), prop(0x02, u32(77)), prop(0x03, s("text/plain")),
		prop(0x08, s("resp/topic")), prop(0x09, s("corr")), prop(0x18, u32(5)), userProp("wk", "wv"))
	allConnack := props(prop(0x11, u32(60)), prop(0x12, s("auto-1")), prop(0x13, u16(30)),
		prop(0x15, s("SCRAM-SHA-1")), prop(0x16, s("srv")), prop(0x1a, s("resp/info")), prop(0x1c, s("other:1883")),
		prop(0x1f, s("fine")), prop(0x21, u16(100)), prop(0x22, u16(5)), prop(0x24, []byte{1}),
		prop(0x25, []byte{1}), userProp("sk", "sv"), prop(0x27, u32(65536)), prop(0x28, []byte{1}),
		prop(0x29, []byte{0}), prop(0x2a, []byte{1}))
	long := bytes.Repeat([]byte("0123456789"), 30)
	v5 := scenario{
		in(pkt(0x10, s("MQTT"), []byte{5, 0xee}, u16(30), allConnect, s("client-5"), allWill, s("will/t"), s("bye"), s("user"), s("pw"))),
		out(pkt(0x20, []byte{1, 0}, allConnack)),
		in(pkt(0x32, s("a/b"), u16(7), props(prop(0x01, []byte{1}), prop(0x02, u32(9)), prop(0x03, s("json")),
			prop(0x08, s("r/t")), prop(0x09, s("cd")), prop(0x23, u16(3)), userProp("u", "v")), []byte(`{"x":1}`))),
		out(pkt(0x40, u16(7))),
		in(pkt(0x30, s(""), props(prop(0x23, u16(3))), []byte("via alias"))),
		in(pkt(0x39, s("a/b"), props(), long)),
		in(pkt(0x34, s("q2"), u16(8), props(), []byte{})),
		out(pkt(0x50, u16(8), []byte{0x10})),
		in(pkt(0x62, u16(8), []byte{0x92}, props(prop(0x1f, s("gone")), userProp("a", "b")))),
		out(pkt(0x70, u16(8), []byte{0})),
		out(pkt(0x32, s("srv/t"), u16(1), props(prop(0x0b, enc(5)), prop(0x0b, enc(300))), []byte("hi"))),
		in(pkt(0x40, u16(1), []byte{0x80}, props(prop(0x1f, s("nope"))))),
		in(pkt(0x82, u16(2), props(prop(0x0b, enc(5)), userProp("s", "1")),
			s("a/+/c"), []byte{0x2e}, s("#"), []byte{0x01}, s("$share/g/x/#"), []byte{0x1a})),
		out(pkt(0x90, u16(2), props(prop(0x1f, s("partly"))), []byte{1, 0x80, 0x9e})),
		in(pkt(0xa2, u16(3), props(userProp("x", "y")), s("a/+/c"), s("#"))),
		out(pkt(0xb0, u16(3), props(), []byte{0, 0x11})),
		in(pkt(0xc0)),
		out(pkt(0xd0)),
		in(pkt(0xf0)),
		out(pkt(0xf0, []byte{0x18})),
		in(pkt(0xf0, []byte{0x19}, props(prop(0x15, s("SCRAM-SHA-1")), prop(0x16, s("data")), prop(0x1f, s("again"))))),
		out(pkt(0xe0, []byte{0x8b}, props(prop(0x1f, s("shutdown")), prop(0x1c, s("elsewhere"))))),
		in(pkt(0xe0, []byte{0x04})),
		in(pkt(0xe0)),
		in(pkt(0x40, u16(9), []byte{0})),
		// two packets in one frame
		in(pkt(0xc0), pkt(0x30, s("x"), props(), []byte("y"))),
	}
	v311 := scenario{
		in(pkt(0x10, s("MQTT"), []byte{4, 0xee}, u16(10), s("c311"), s("will/x"), s("gone"), s("u"), s("p"))),
		out(pkt(0x20, []byte{1, 0})),
		in(pkt(0x3d, s("t/é"), u16(300), []byte("payload"))),
		out(pkt(0x50, u16(300))),
		in(pkt(0x62, u16(300))),
		out(pkt(0x70, u16(300))),
		in(pkt(0x30, s("empty"))),
		in(pkt(0x82, u16(4), s("a/#"), []byte{2}, s("+/b"), []byte{1}, s("c"), []byte{0})),
		out(pkt(0x90, u16(4), []byte{2, 1, 0x80})),
		in(pkt(0xa2, u16(5), s("a/#"), s("c"))),
		out(pkt(0xb0, u16(5))),
		in(pkt(0xc0)),
		out(pkt(0xd0)),
		in(pkt(0x40, u16(1)), pkt(0xc0)),
		in(pkt(0xe0)),
	}
	v31 := scenario{
		in(pkt(0x10, s("MQIsdp"), []byte{3, 0xf6}, u16(10), s("c31"), s("w"), s("m"), s("u"), s("p"))),
		out(pkt(0x20, []byte{0, 2})),
		in(pkt(0x34, s("t"), u16(2), []byte("x"))),
		out(pkt(0x50, u16(2))),
		in(pkt(0x6a, u16(2))),
		out(pkt(0x70, u16(2))),
		in(pkt(0x82, u16(3), s("a"), []byte{1})),
		out(pkt(0x90, u16(3), []byte{1})),
		in(pkt(0xa2, u16(4), s("a"))),
		out(pkt(0xb0, u16(4))),
		in(pkt(0xe0)),
	}
	malformed := scenario{
		in(connect311),
		in(pkt(0x32, s("xxxxxxxxxx"))),
		in(pkt(0x30, []byte{0, 9, 'a', 'b'})),
		in(pkt(0x82, u16(5), s(""), []byte{1}, s("q"), []byte{1}, s(""), []byte{2})),
		in(pkt(0x82, u16(6), s("q"), []byte{1}, []byte{0, 5, 'a'})),
		in(pkt(0x00)),
	}
	malformed5 := scenario{
		in(connect50),
		in(pkt(0x30, s("t"), []byte{5, 0x23, 0})),
		in(pkt(0x30, s("t"), props(prop(0x26, s("k"))))),
		out(pkt(0x30, s(""), props(prop(0x23, u16(4))), []byte("unknown alias"))),
		in(pkt(0x30, s("u"), props(prop(0x01, []byte{0}), prop(0x05, []byte("rest"))), []byte("payload"))),
		in(pkt(0x30, s("n"), props(prop(0x11, u32(5)), prop(0x24, []byte{1})), []byte("payload"))),
		out(pkt(0x20, []byte{0, 0})),
		in(pkt(0x10, s("MQTT"), []byte{5, 0xc2}, u16(0), props(), s("c"), s("u"))),
	}
	return []scenario{v5, v311, v31, malformed, malformed5}
}
