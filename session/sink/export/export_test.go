package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

const samples = "../../../pcaps/samples"

// loadStore loads test keys from pcaps/samples/keys.
func loadStore(t *testing.T, rel string) *keys.Store {
	t.Helper()
	if rel == "" {
		return nil
	}
	s, err := keys.Load(filepath.Join(samples, "keys", rel))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pass1 runs a capture through the pipeline, the analysis stages and fn,
// as mqtap read does.
func pass1(t *testing.T, path string, opts session.Options, store *keys.Store, fn func(*session.Record)) {
	t.Helper()
	r, err := pcaps.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	analysis, err := Analysis(store)
	if err != nil {
		t.Fatal(err)
	}
	analyze := analysis()
	p, err := session.NewPipeline(r.LinkType(), opts, func(rec *session.Record) error {
		analyze(rec)
		fn(rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Frame(data, ci)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// collect is the first pass of an export.
func collect(t *testing.T, path string, store *keys.Store, sel func(*session.Record) bool) *Collector {
	t.Helper()
	c := NewCollector(sel)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	pass1(t, path, c.Hook(session.Options{}), store, c.Observe)
	return c
}

// frameInfo is a frame of a capture with its comments.
type frameInfo struct {
	data     []byte
	ci       gopacket.CaptureInfo
	comments []string
}

func readBack(t *testing.T, b []byte) []frameInfo {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []frameInfo
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frameInfo{data, ci, opts.Comments})
	}
}

// originalFrames returns the frames of a capture by frame number (from 1).
func originalFrames(t *testing.T, path string) []frameInfo {
	t.Helper()
	r, err := pcaps.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := []frameInfo{{}}
	for {
		data, ci, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frameInfo{data: append([]byte(nil), data...), ci: ci})
	}
}

func TestComment(t *testing.T) {
	cases := []struct {
		crypto   session.Crypto
		findings []session.FindingCode
		want     string
	}{
		{session.Crypto{}, nil, ""},
		{session.Crypto{Session: "le0nh4rt#1", Scheme: "dh-fernet", Decrypt: "ok", Plaintext: []byte("Networking is the best!")}, nil,
			`mqtap: le0nh4rt#1 dh-fernet ok: "Networking is the best!"`},
		{session.Crypto{Scheme: "ecdsa", Verify: "ok", Plaintext: []byte("Testmessage_11")}, nil, `mqtap: ecdsa ok: "Testmessage_11"`},
		{session.Crypto{Scheme: "hmac-sha256+rsa-oaep", Verify: "ok", Decrypt: "ok", Plaintext: []byte("{\"a\":1}\n")}, nil,
			`mqtap: hmac-sha256+rsa-oaep ok: "{\"a\":1}\n"`},
		{session.Crypto{Scheme: "hmac-sha256+rsa-oaep", Verify: "bad", Reason: "HMAC mismatch"}, []session.FindingCode{session.HMACBad},
			`mqtap: hmac-sha256+rsa-oaep verify bad: HMAC mismatch [hmac.bad]`},
		{session.Crypto{Session: "x#2", Scheme: "dh-fernet", Decrypt: "no-key", Reason: "no key"}, nil, `mqtap: x#2 dh-fernet decrypt no-key: no key`},
		{session.Crypto{Scheme: "s", Verify: "ok", Decrypt: "failed", Reason: "r"}, nil, `mqtap: s verify ok, decrypt failed: r`},
		{session.Crypto{Session: "le0nh4rt#1", Scheme: "dh-fernet", Kex: "response"}, []session.FindingCode{session.KexMITM},
			`mqtap: le0nh4rt#1 dh-fernet key exchange response [kex.mitm]`},
		{session.Crypto{Scheme: "rsa-oaep", Decrypt: "ok", Plaintext: []byte{0xff, 0x00, 0x01}}, nil, `mqtap: rsa-oaep ok: hex ff0001`},
		{session.Crypto{Scheme: "rsa-oaep", Decrypt: "ok", Plaintext: []byte(strings.Repeat("a", 255) + "éé")}, nil,
			`mqtap: rsa-oaep ok: "` + strings.Repeat("a", 255) + `"… (259 bytes)`},
	}
	for _, c := range cases {
		r := &session.Record{Crypto: c.crypto}
		for _, f := range c.findings {
			r.Findings = append(r.Findings, session.Finding{Code: f})
		}
		if got := Comment(r); got != c.want {
			t.Errorf("Comment(%+v) =\n  %s\nwant\n  %s", c.crypto, got, c.want)
		}
	}
}

func TestBitmap(t *testing.T) {
	var m bitmap
	for _, i := range []int{0, 63, 64, 1000, 5} {
		m.set(i)
	}
	for _, i := range []int{0, 5, 63, 64, 1000} {
		if !m.has(i) {
			t.Errorf("has(%d) = false", i)
		}
	}
	for _, i := range []int{-1, 1, 62, 65, 999, 1001, 100000} {
		if m.has(i) {
			t.Errorf("has(%d) = true", i)
		}
	}
	if m.count() != 5 {
		t.Errorf("count = %d", m.count())
	}
}

// wiresharkFrames returns the frames Wireshark exports for a display
// filter with the frames they depend on: the frames that match and the
// segments of the MQTT packets reassembled in them (tcp.segment); plus, as
// mqtap adds them, the CONNECT of the MQTT 5 connections with a matching
// frame.
func wiresharkFrames(t *testing.T, path, filter string) map[int]bool {
	t.Helper()
	matched := map[string]bool{}
	for _, s := range strings.Fields(tshark(t, path, "-d", "tcp.port==1884,mqtt", "-Y", filter, "-T", "fields", "-e", "tcp.stream")) {
		matched[s] = true
	}
	var v5 []string
	for _, s := range strings.Fields(tshark(t, path, "-d", "tcp.port==1884,mqtt", "-Y", "mqtt.msgtype == 1 && mqtt.ver == 5", "-T", "fields", "-e", "tcp.stream")) {
		if matched[s] {
			v5 = append(v5, s)
		}
	}
	if len(v5) > 0 {
		filter = fmt.Sprintf("(%s) || mqtt.msgtype == 1 && tcp.stream in {%s}", filter, strings.Join(v5, ", "))
	}
	out := tshark(t, path, "-d", "tcp.port==1884,mqtt", "-Y", filter, "-T", "fields", "-e", "frame.number", "-e", "tcp.segment")
	frames := map[int]bool{}
	for _, f := range strings.FieldsFunc(out, func(r rune) bool { return r == '\t' || r == '\n' || r == ',' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("tshark: %q", f)
		}
		frames[n] = true
	}
	return frames
}

// TestFramesAnnotated exports the lab session with the requester's keys:
// the frames of every MQTT packet and the earlier segments of the packets
// they complete (Wireshark's depended upon frames), byte for byte with
// their capture info, and a comment on every frame whose payload was
// decrypted.
func TestFramesAnnotated(t *testing.T) {
	path := filepath.Join(samples, "lab-session.pcapng")
	store := loadStore(t, "lab-session/requester")
	c := collect(t, path, store, nil)
	want := map[int]int{}       // frame -> decrypted packets
	plain := map[int][]string{} // frame -> plaintexts
	pass1(t, path, session.Options{}, store, func(r *session.Record) {
		if r.Crypto.Decrypt == "ok" {
			want[r.Frame]++
			plain[r.Frame] = append(plain[r.Frame], string(r.Crypto.Plaintext))
		}
	})
	if len(want) < 10 {
		t.Fatalf("only %d decrypted frames in the sample", len(want))
	}
	frames := wiresharkFrames(t, path, "mqtt")
	var buf bytes.Buffer
	secret := []byte("CLIENT_RANDOM 00 11")
	st, err := Frames(path, &buf, c, Options{Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	got := readBack(t, buf.Bytes())
	orig := originalFrames(t, path)
	if len(got) != len(frames) || st.Frames != len(got) {
		t.Fatalf("%d frames exported (stats %d), want the %d frames Wireshark exports", len(got), st.Frames, len(frames))
	}
	// Frames come in order: match them to the originals by content and time.
	i := 0
	commented := 0
	for n := 1; n < len(orig); n++ {
		if !frames[n] {
			continue
		}
		g := got[i]
		i++
		if !bytes.Equal(g.data, orig[n].data) || !g.ci.Timestamp.Equal(orig[n].ci.Timestamp) || g.ci.Length != orig[n].ci.Length {
			t.Fatalf("export frame %d is not frame %d of the capture", i, n)
		}
		ok := 0
		for _, cm := range g.comments {
			if strings.Contains(cm, " dh-fernet ok: ") {
				ok++
			}
		}
		if ok != want[n] {
			t.Errorf("frame %d: comments %q, want %d decrypted", n, g.comments, want[n])
		}
		for _, p := range plain[n] {
			if !strings.Contains(strings.Join(g.comments, ";"), `"`+p+`"`) {
				t.Errorf("frame %d: comments %q lack %q", n, g.comments, p)
			}
		}
		if len(g.comments) > 0 {
			commented++
		}
	}
	if st.Commented != commented {
		t.Errorf("stats: %d commented, counted %d", st.Commented, commented)
	}
	f := filepath.Join(t.TempDir(), "x.pcapng")
	os.WriteFile(f, buf.Bytes(), 0o644)
	secrets, err := pcaps.ReadSecrets(f)
	if err != nil || len(secrets) != 1 || string(secrets[0].Data) != string(secret)+"\n" {
		t.Errorf("secrets %+v, %v", secrets, err)
	}
}

// TestFramesDependOnSegments selects packets split over several segments,
// in a capture with retransmitted and out-of-order segments: the export
// holds the frames Wireshark exports with their depended upon frames.
func TestFramesDependOnSegments(t *testing.T) {
	for _, c := range []struct {
		sample, filter string
		sel            func(*session.Record) bool
	}{
		{"lab-session.pcapng", `mqtt.msgtype == 3 && mqtt.topic contains "key-exchange"`, func(r *session.Record) bool {
			return r.Packet.Type == decode.PUBLISH && bytes.Contains(r.Packet.Topic, []byte("key-exchange"))
		}},
		{"large-payload.pcapng", "mqtt", nil},
		{"large-payload.pcapng", "mqtt.msgtype == 3", func(r *session.Record) bool { return r.Packet.Type == decode.PUBLISH }},
		{"mqtt5.pcapng", "mqtt", nil},
	} {
		path := filepath.Join(samples, c.sample)
		want := wiresharkFrames(t, path, c.filter)
		col := collect(t, path, nil, c.sel)
		var buf bytes.Buffer
		if _, err := Frames(path, &buf, col, Options{}); err != nil {
			t.Fatal(err)
		}
		got := readBack(t, buf.Bytes())
		orig := originalFrames(t, path)
		var missing, extra []int
		i := 0
		for n := 1; n < len(orig); n++ {
			in := i < len(got) && got[i].ci.Timestamp.Equal(orig[n].ci.Timestamp) && bytes.Equal(got[i].data, orig[n].data)
			if in {
				i++
			}
			switch {
			case want[n] && !in:
				missing = append(missing, n)
			case in && !want[n]:
				extra = append(extra, n)
			}
		}
		if len(missing) > 0 || len(extra) > 0 || i != len(got) {
			t.Errorf("%s -Y %q: missing frames %v, extra frames %v (%d of %d matched)", c.sample, c.filter, missing, extra, i, len(got))
		}
	}
}

func TestReceiveCountsNewBytes(t *testing.T) {
	b := dirBytes{started: true, next: 1000}
	steps := []struct {
		seq  uint32
		n    int
		want int64
	}{
		{1000, 100, 100}, // in order
		{1000, 100, 0},   // retransmission
		{1050, 100, 50},  // partial overlap
		{1300, 100, 100}, // a gap: 1150-1300 missing
		{1150, 50, 50},   // fills part of the hole
		{1150, 150, 100}, // fills the rest, overlapping
		{1400, 10, 10},
		{0xfffffff0 + 0, 4, 0}, // far behind: old
	}
	for i, s := range steps {
		if got := b.receive(s.seq, s.n); got != s.want {
			t.Errorf("step %d: %d new bytes, want %d (holes %v)", i, got, s.want, b.holes)
		}
	}
	if len(b.holes) != 0 || b.next != 1410 {
		t.Errorf("holes %v next %d", b.holes, b.next)
	}
	// Sequence numbers wrap.
	w := dirBytes{started: true, next: 0xffffff00}
	if n := w.receive(0xffffff00, 0x200); n != 0x200 || w.next != 0x100 {
		t.Errorf("wrap: %d bytes, next %#x", n, w.next)
	}
	if n := w.receive(0x100, 10); n != 10 {
		t.Errorf("after wrap: %d", n)
	}
}

// TestBookkeepingCapsAreCounted: past maxHoles gaps in one direction and
// maxChain frames without a packet boundary, what is left out is counted
// for the export's report.
func TestBookkeepingCapsAreCounted(t *testing.T) {
	b := dirBytes{started: true}
	for i := range maxHoles + 6 {
		b.receive(uint32(20*i+10), 5) // leaves a 10-byte gap before each segment
	}
	if len(b.holes) != maxHoles || b.holesLost != 6 {
		t.Errorf("%d holes kept, %d lost; want %d and 6", len(b.holes), b.holesLost, maxHoles)
	}
	c := NewCollector(nil)
	d := &depends{c: c, streams: make(map[int]*streamBytes)}
	src := netip.MustParseAddrPort("10.0.0.1:40000")
	for i := range maxChain + 9 {
		d.segment(session.TCPFrame{Frame: i + 1, Stream: 3, Src: src, Seq: uint32(1000 + 10*i), Payload: 10})
	}
	for _, s := range d.streams {
		d.count(s)
	}
	if d.st.ChainCut != 9 || d.st.HolesLost != 0 {
		t.Errorf("chain cut %d, holes lost %d; want 9 and 0", d.st.ChainCut, d.st.HolesLost)
	}
}

// TestFramesSelectionAndContext selects the PUBLISH packets of one topic:
// only their frames, or with context every frame of their connections.
func TestFramesSelectionAndContext(t *testing.T) {
	path := filepath.Join(samples, "lab-session.pcapng")
	sel := func(r *session.Record) bool {
		return r.Packet.Type == decode.PUBLISH && strings.HasSuffix(string(r.Packet.Topic), "/uppercase/request")
	}
	streams := map[int]bool{}
	pass1(t, path, session.Options{}, nil, func(r *session.Record) {
		if sel(r) {
			streams[r.Stream] = true
		}
	})
	// The two PUBLISH frames and the CONNECT of the requester's MQTT 5
	// connection (the responder's is MQTT 3.1.1).
	frames := wiresharkFrames(t, path, `mqtt.msgtype == 3 && mqtt.topic contains "uppercase/request"`)
	if len(frames) != 3 || len(streams) != 2 {
		t.Fatalf("selection: frames %v streams %v", frames, streams)
	}
	// Every frame of the selected streams in the original.
	context := map[int]bool{}
	syns := 0
	r, _ := pcaps.Open(path)
	stream := -1
	p, _ := session.NewPipeline(r.LinkType(), session.Options{OnTCPFrame: func(f session.TCPFrame) { stream = f.Stream }}, func(*session.Record) error { return nil })
	orig := originalFrames(t, path)
	for n := 1; n < len(orig); n++ {
		stream = -1
		p.Frame(orig[n].data, orig[n].ci)
		if streams[stream] {
			context[n] = true
			if tcp := tcpOf(orig[n].data); tcp != nil && tcp.SYN {
				syns++
			}
		}
	}
	r.Close()
	if syns != 4 {
		t.Fatalf("%d SYN and SYN-ACK in the selected connections of the capture, want 4", syns)
	}

	for _, withContext := range []bool{false, true} {
		c := collect(t, path, nil, sel)
		var buf bytes.Buffer
		if _, err := Frames(path, &buf, c, Options{WithContext: withContext}); err != nil {
			t.Fatal(err)
		}
		want := frames
		if withContext {
			want = context
		}
		got := readBack(t, buf.Bytes())
		if len(got) != len(want) {
			t.Errorf("with context %v: %d frames, want %d", withContext, len(got), len(want))
			continue
		}
		i, gotSyns := 0, 0
		for n := 1; n < len(orig); n++ {
			if !want[n] {
				continue
			}
			if !bytes.Equal(got[i].data, orig[n].data) || !got[i].ci.Timestamp.Equal(orig[n].ci.Timestamp) {
				t.Errorf("with context %v: export frame %d is not frame %d", withContext, i+1, n)
			}
			if tcp := tcpOf(got[i].data); tcp != nil && tcp.SYN {
				gotSyns++
			}
			i++
		}
		if withContext && gotSyns != syns {
			t.Errorf("%d SYNs kept, want %d", gotSyns, syns)
		}
	}
}

func tcpOf(data []byte) *layers.TCP {
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
	tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	return tcp
}

// rec is an MQTT record as the pipeline hands it, copied.
type rec struct {
	stream               int
	typ                  decode.Type
	topic, payload       []byte
	id                   uint16
	flags                uint8
	fields               []string // name=value of every field but the payload's and lengths
	decrypted, plaintext []byte
}

func records(t *testing.T, path string, store *keys.Store) []rec {
	t.Helper()
	var out []rec
	pass1(t, path, session.Options{}, store, func(r *session.Record) {
		x := rec{stream: r.Stream, typ: r.Packet.Type, topic: bytes.Clone(r.Packet.Topic), payload: bytes.Clone(r.Packet.Payload),
			id: r.Packet.PacketID, flags: r.Packet.Flags}
		for _, f := range r.Packet.Fields {
			if f.Name == "mqtt.msg" || f.Name == "mqtt.len" {
				continue
			}
			x.fields = append(x.fields, fmt.Sprintf("%s=%q/%d depth %d", f.Name, f.Bytes, f.Uint, f.Depth))
		}
		if r.Crypto.Decrypt == "ok" {
			x.plaintext = bytes.Clone(r.Crypto.Plaintext)
		}
		out = append(out, x)
	})
	return out
}

// TestDecryptedReadsBack rebuilds lab and keyring captures and reads the
// result with mqtap's own pipeline: the same MQTT packets in the same order
// and connections, every field equal, the decrypted payloads in plaintext.
func TestDecryptedReadsBack(t *testing.T) {
	for _, c := range []struct{ sample, keys string }{
		{"lab-session.pcapng", "lab-session/requester"},
		{"lab-mitm.pcapng", "lab-mitm"},
		{"protected-rsa-hmac.pcapng", "protected-rsa-hmac/keyring.toml"},
		{"mqtt5-topic-alias.pcapng", ""},
		{"large-payload.pcapng", ""},
	} {
		t.Run(c.sample, func(t *testing.T) {
			path := filepath.Join(samples, c.sample)
			store := loadStore(t, c.keys)
			col := collect(t, path, store, nil)
			var buf bytes.Buffer
			analysis, err := Analysis(store)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Decrypted(path, &buf, col, Options{Analysis: analysis})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "d.pcapng")
			os.WriteFile(out, buf.Bytes(), 0o644)
			before := records(t, path, store)
			after := records(t, out, nil)
			if len(before) != len(after) {
				t.Fatalf("%d MQTT packets, %d after", len(before), len(after))
			}
			decrypted := 0
			for i := range before {
				b, a := before[i], after[i]
				wantPayload := b.payload
				if b.plaintext != nil {
					wantPayload = b.plaintext
					decrypted++
				}
				if a.typ != b.typ || a.stream != b.stream || !bytes.Equal(a.topic, b.topic) || a.id != b.id || a.flags != b.flags || !bytes.Equal(a.payload, wantPayload) {
					t.Fatalf("packet %d: %v %q id %d payload %q, want %v %q id %d payload %q", i, a.typ, a.topic, a.id, a.payload, b.typ, b.topic, b.id, wantPayload)
				}
				if strings.Join(a.fields, "\n") != strings.Join(b.fields, "\n") {
					t.Fatalf("packet %d: fields differ:\n%s\nwant\n%s", i, strings.Join(a.fields, "\n"), strings.Join(b.fields, "\n"))
				}
			}
			if st.Decrypted != decrypted || c.keys != "" && decrypted == 0 {
				t.Errorf("stats %+v, %d decrypted", st, decrypted)
			}
			// Every synthesised segment has valid checksums.
			for i, f := range readBack(t, buf.Bytes()) {
				pkt := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.Default)
				ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if ip == nil || tcp == nil || pkt.ErrorLayer() != nil {
					t.Fatalf("frame %d does not decode: %v", i+1, pkt.ErrorLayer())
				}
				if int(ip.Length) != len(ip.Contents)+len(ip.Payload) {
					t.Fatalf("frame %d: IP length %d for %d bytes", i+1, ip.Length, len(ip.Contents)+len(ip.Payload))
				}
				if len(tcp.Payload) > MSS {
					t.Fatalf("frame %d: %d bytes of TCP payload", i+1, len(tcp.Payload))
				}
			}
		})
	}
}

// mqttPacket builds a control packet: first byte, remaining length, body.
func mqttPacket(b0 byte, body ...[]byte) []byte {
	all := bytes.Join(body, nil)
	out := decode.AppendVarint([]byte{b0}, len(all))
	return append(out, all...)
}

func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// TestDecryptedSynthesisIPv6 rebuilds a hand-made MQTT 5 connection over
// IPv6: a decrypted PUBLISH whose remaining length grows from one byte to
// two, with properties kept byte for byte, and a 100 KB PUBLISH split into
// segments. tshark decodes it without a malformed packet or a TCP analysis
// warning.
func TestDecryptedSynthesisIPv6(t *testing.T) {
	client := netip.MustParseAddrPort("[2001:db8::10]:50123")
	broker := netip.MustParseAddrPort("[2001:db8::1]:1883")
	props := bytes.Join([][]byte{{0x01, 1}, {0x03}, mqttString("text/plain"), {0x26}, mqttString("k"), mqttString("v")}, nil)
	ciphertext := bytes.Repeat([]byte{0xAA}, 60)
	plaintext := []byte(strings.Repeat("Networking is the best! ", 8))
	big := bytes.Repeat([]byte("0123456789"), 10000)
	packets := []struct {
		raw        []byte
		fromClient bool
		plain      []byte
	}{
		{mqttPacket(0x10, mqttString("MQTT"), []byte{5, 0x02, 0, 60, 0}, mqttString("c1")), true, nil},
		{mqttPacket(0x20, []byte{0, 0, 0}), false, nil},
		{mqttPacket(0x32, mqttString("a/b"), []byte{0, 7, byte(len(props))}, props, ciphertext), true, plaintext},
		{mqttPacket(0x40, []byte{0, 7}), false, nil},
		{mqttPacket(0x30, mqttString("big"), []byte{0}, big), false, nil},
		{mqttPacket(0xe0, []byte{0}), true, nil},
	}
	c := NewCollector(nil)
	c.streams.set(0)
	c.packets = []int32{int32(len(packets))}
	var st Stats
	var buf bytes.Buffer
	w, err := pcaps.NewLinkWriter(&buf, layers.LinkTypeEthernet, "test", pcaps.WriterInfo{})
	if err != nil {
		t.Fatal(err)
	}
	s := &synth{w: w, c: c, conns: make(map[int]*tcpConn), first: make(map[int]time.Time), st: &st}
	var mq decode.Conn
	t0 := time.Unix(1700000000, 0)
	for i, p := range packets {
		r := &session.Record{Frame: i + 1, Time: t0.Add(time.Duration(i) * time.Millisecond)}
		src, dst := client, broker
		if !p.fromClient {
			src, dst = broker, client
		}
		r.Src, r.Dst, r.SrcPort, r.DstPort = src.Addr(), dst.Addr(), src.Port(), dst.Port()
		mq.Decode(p.raw, p.fromClient, &r.Packet)
		if m := r.Packet.Malformed(); m != "" {
			t.Fatalf("packet %d: %s", i, m)
		}
		if p.plain != nil {
			r.Crypto = session.Crypto{Scheme: "test", Decrypt: "ok", Plaintext: p.plain}
		}
		if err := s.record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.closeAll(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if st.Connections != 1 || st.Decrypted != 1 || len(s.conns) != 0 {
		t.Fatalf("stats %+v, %d connections open", st, len(s.conns))
	}
	out := filepath.Join(t.TempDir(), "v6.pcapng")
	os.WriteFile(out, buf.Bytes(), 0o644)
	if warn := tshark(t, out, "-Y", "_ws.malformed || tcp.analysis.flags"); warn != "" {
		t.Errorf("tshark warns:\n%s", warn)
	}
	got := tshark(t, out, "-Y", "mqtt", "-T", "fields", "-E", "occurrence=a", "-e", "ipv6.src", "-e", "mqtt.msgtype", "-e", "mqtt.topic", "-e", "mqtt.msgid",
		"-e", "mqtt.property.content_type", "-e", "mqtt.prop_key", "-e", "mqtt.prop_value", "-e", "mqtt.len", "-e", "mqtt.msg")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	want := []string{
		"2001:db8::10\t1\t\t\t\t\t\t15\t",
		"2001:db8::1\t2\t\t\t\t\t\t3\t",
		fmt.Sprintf("2001:db8::10\t3\ta/b\t7\ttext/plain\tk\tv\t%d\t%x", 5+2+1+len(props)+len(plaintext), plaintext),
		"2001:db8::1\t4\t\t7\t\t\t\t2\t",
		fmt.Sprintf("2001:db8::1\t3\tbig\t\t\t\t\t%d\t%x", 5+1+len(big), big),
		"2001:db8::10\t14\t\t\t\t\t\t1\t",
	}
	if len(lines) != len(want) {
		t.Fatalf("tshark sees %d MQTT frames, want %d:\n%.2000s", len(lines), len(want), got)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("MQTT packet %d:\n got %.300s\nwant %.300s", i, lines[i], want[i])
		}
	}
}

// tshark runs tshark -n -r path with args and returns its output.
func tshark(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command("tshark", append([]string{"-n", "-r", path}, args...)...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s %v: %v", path, args, err)
	}
	return string(out)
}

// TestSpool keeps comments in a file, those of frames delivered late in
// memory, and hands them back in frame order.
func TestSpool(t *testing.T) {
	var s spool
	add := [][2]any{{3, "a"}, {3, "b"}, {5, "c"}, {4, "late"}, {9, "d"}, {5, "late too"}, {12, strings.Repeat("x", 300)}}
	for _, a := range add {
		s.add(a[0].(int), a[1].(string))
	}
	name := s.f.Name()
	for round := 0; round < 2; round++ {
		r, err := s.reader()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for f := 1; f <= 13; f++ {
			cs, err := r.comments(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) > 0 {
				got = append(got, fmt.Sprint(f, cs))
			}
		}
		want := []string{"3 [a b]", "4 [late]", "5 [c late too]", "9 [d]", "12 [" + strings.Repeat("x", 300) + "]"}
		if !slices.Equal(got, want) {
			t.Errorf("round %d: %q", round, got)
		}
	}
	// Skipping frames is fine.
	r, _ := s.reader()
	if cs, _ := r.comments(9); len(cs) != 1 || cs[0] != "d" {
		t.Errorf("comments(9) = %q", cs)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", name, err)
	}
	var empty spool
	r, err := empty.reader()
	if cs, _ := r.comments(1); err != nil || cs != nil || empty.close() != nil {
		t.Errorf("empty spool: %v %v", cs, err)
	}
}
