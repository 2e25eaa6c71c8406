package connections

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/brokertest"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.2:50000")
	brk = netip.MustParseAddrPort("10.0.0.1:1883")
	t0  = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
)

// feeder builds a connection's frames and records by hand, in capture
// order: a frame per packet, each direction's frame then its record.
type feeder struct {
	t      *Table
	stream int
	frame  int
}

func (f *feeder) at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// tcp feeds a frame without MQTT (a handshake, an ACK, a FIN or an RST).
func (f *feeder) tcp(sec float64, fromClient bool, flags string) {
	f.frame++
	src := brk
	if fromClient {
		src = cli
	}
	f.t.Frame(session.TCPFrame{Frame: f.frame, Time: f.at(sec), Stream: f.stream, Src: src, Len: 66,
		SYN: strings.Contains(flags, "S"), FIN: strings.Contains(flags, "F"), RST: strings.Contains(flags, "R")})
}

// mqtt feeds a frame carrying one MQTT packet and its record.
func (f *feeder) mqtt(sec float64, fromClient bool, typ decode.Type, version uint8, fields ...decode.Field) {
	f.frame++
	src, dst := brk, cli
	if fromClient {
		src, dst = cli, brk
	}
	f.t.Frame(session.TCPFrame{Frame: f.frame, Time: f.at(sec), Stream: f.stream, Src: src, Len: 100, Payload: 34})
	r := &session.Record{Frame: f.frame, Time: f.at(sec), Relative: f.at(sec).Sub(t0), FrameLen: 100,
		Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(), Stream: f.stream,
		Packet: decode.Packet{Type: typ, FromClient: fromClient, Version: version, Fields: fields}}
	f.t.Record(r)
}

func str(name, v string) decode.Field {
	return decode.Field{Name: name, Kind: decode.KindString, Bytes: []byte(v)}
}

func uint_(name string, v uint64) decode.Field {
	return decode.Field{Name: name, Kind: decode.KindUint, Uint: v}
}

// open feeds a handshake, a CONNECT with keep alive ka and its CONNACK.
func (f *feeder) open(sec float64, id string, version uint8, ka uint64) {
	f.tcp(sec, true, "S")
	f.tcp(sec, false, "SA")
	f.tcp(sec, true, "A")
	f.mqtt(sec, true, decode.CONNECT, version, str("mqtt.clientid", id), str("mqtt.username", "u-"+id), uint_("mqtt.kalive", ka))
	f.mqtt(sec, false, decode.CONNACK, version)
}

func only(t *testing.T, tb *Table, final bool) Conn {
	t.Helper()
	rows := tb.Rows(final)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1: %+v", len(rows), rows)
	}
	return rows[0]
}

// TestCounts: a connection's identity, addresses, packets, frames and
// bytes each way, start and duration.
func TestCounts(t *testing.T) {
	tb := &Table{}
	f := &feeder{t: tb, stream: 3}
	f.open(10, "sensor-1", decode.V311, 60)
	f.mqtt(11, true, decode.PUBLISH, decode.V311)
	f.mqtt(12, true, decode.DISCONNECT, decode.V311)
	f.tcp(12, true, "FA")
	f.tcp(12, false, "FA")
	f.tcp(12.5, true, "A")
	c := only(t, tb, true)
	if c.Stream != 3 || c.ClientID != "sensor-1" || c.UserName != "u-sensor-1" || c.Version != "3.1.1" || c.Transport != TransportTCP {
		t.Errorf("identity: %+v", c)
	}
	if c.Client != cli || c.Broker != brk {
		t.Errorf("client %v broker %v, want %v %v", c.Client, c.Broker, cli, brk)
	}
	// Client: SYN, ACK, CONNECT, PUBLISH, DISCONNECT, FIN, ACK; broker: SYN-ACK, CONNACK, FIN.
	if c.Packets != [2]int{3, 1} || c.Frames != [2]int{7, 3} || c.Bytes != [2]int64{4*66 + 3*100, 2*66 + 100} {
		t.Errorf("packets %v frames %v bytes %v", c.Packets, c.Frames, c.Bytes)
	}
	if c.Relative != 10*time.Second || c.Duration != 2500*time.Millisecond || c.Frame != 1 || c.KeepAlive != 60 {
		t.Errorf("start %v duration %v frame %d keep alive %d", c.Relative, c.Duration, c.Frame, c.KeepAlive)
	}
	if c.End != EndDisconnect || c.EndBy != "client" || c.EndFrame != 7 || c.EndText() != "DISCONNECT by client" {
		t.Errorf("end %q by %q frame %d: %q", c.End, c.EndBy, c.EndFrame, c.EndText())
	}
}

// TestEndings: each way a connection ends.
func TestEndings(t *testing.T) {
	cases := []struct {
		name  string
		feed  func(f *feeder)
		final bool
		want  string
	}{
		{"MQTT 5 DISCONNECT from the broker with its reason", func(f *feeder) {
			f.open(0, "a", decode.V5, 60)
			f.mqtt(1, false, decode.DISCONNECT, decode.V5, uint_("mqtt.disconnect.reason_code", 0x8e))
			f.tcp(1, false, "FA")
		}, true, "DISCONNECT by broker: Session taken over"},
		{"broker closed", func(f *feeder) {
			f.open(0, "a", decode.V311, 60)
			f.mqtt(1, true, decode.PINGREQ, decode.V311)
			f.tcp(2, false, "FA")
			f.tcp(2, true, "FA")
		}, true, EndBroker},
		{"client reset", func(f *feeder) {
			f.open(0, "a", decode.V311, 60)
			f.tcp(2, true, "R")
		}, true, EndClient + " (RST)"},
		{"keep-alive timeout: the broker closes a silent client", func(f *feeder) {
			f.open(0, "a", decode.V311, 2)
			f.tcp(3.5, false, "FA")
		}, true, EndKeepAlive},
		{"the broker closes within the keep alive", func(f *feeder) {
			f.open(0, "a", decode.V311, 2)
			f.tcp(1.5, false, "FA")
		}, true, EndBroker},
		{"the CONNACK's Server Keep Alive is the one in force", func(f *feeder) {
			f.open(0, "a", decode.V5, 60)
			f.mqtt(0.1, false, decode.CONNACK, decode.V5, uint_("mqtt.property.server_keep_alive", 1))
			f.tcp(5, false, "FA")
		}, true, EndKeepAlive},
		{"silent past 1.5 keep alives at the end", func(f *feeder) {
			f.open(0, "a", decode.V311, 2)
			f.tcp(3.1, false, "A")
		}, true, EndKeepAlive},
		{"open at the end", func(f *feeder) {
			f.open(0, "a", decode.V311, 2)
			f.mqtt(2.9, true, decode.PINGREQ, decode.V311)
			f.tcp(3.1, false, "A")
		}, true, EndCapture},
		{"open while the capture goes on", func(f *feeder) {
			f.open(0, "a", decode.V311, 0)
			f.tcp(300, false, "A")
		}, false, EndOpen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := &Table{}
			tc.feed(&feeder{t: tb})
			if c := only(t, tb, tc.final); c.EndText() != tc.want {
				t.Errorf("ended %q, want %q (%+v)", c.EndText(), tc.want, c)
			}
		})
	}
}

// TestRecordsOnly: without TCP frames (mqtap tap), frames and bytes are
// those of the records' frames, and the connection ends with the capture.
func TestRecordsOnly(t *testing.T) {
	tb := &Table{}
	for i, fromClient := range []bool{false, false, true} {
		r := &session.Record{Frame: i + 1, Time: t0.Add(time.Duration(i) * time.Second), FrameLen: 40 + i, Direct: true,
			Src: brk.Addr(), Dst: cli.Addr(), SrcPort: brk.Port(), DstPort: cli.Port(), Stream: 0,
			Packet: decode.Packet{Type: decode.PUBLISH, FromClient: fromClient, Version: decode.V5}}
		if fromClient {
			r.Src, r.Dst, r.SrcPort, r.DstPort = cli.Addr(), brk.Addr(), cli.Port(), brk.Port()
		}
		tb.Record(r)
	}
	c := only(t, tb, true)
	if c.Transport != TransportTap || c.Frames != [2]int{1, 2} || c.Bytes != [2]int64{42, 81} || c.Client != cli || c.End != EndCapture {
		t.Errorf("%+v", c)
	}
	if c.KeepAlive != -1 || c.Version != "5.0" {
		t.Errorf("keep alive %d version %q", c.KeepAlive, c.Version)
	}
}

// TestPendingAndCap: frames of a connection found not to be MQTT are
// forgotten; the connections past Max are counted, not listed.
func TestPendingAndCap(t *testing.T) {
	tb := &Table{Max: 2}
	other := &feeder{t: tb, stream: 0}
	other.tcp(0, true, "S")
	tb.Frame(session.TCPFrame{Frame: 2, Time: t0, Stream: 0, Src: cli, NotMQTT: true})
	if len(tb.pending) != 0 {
		t.Errorf("the frames of a connection that is not MQTT are kept: %v", tb.pending)
	}
	for s := 1; s <= 3; s++ {
		(&feeder{t: tb, stream: s, frame: 10 * s}).open(float64(s), "c", decode.V311, 0)
	}
	if tb.Len() != 2 || tb.Omitted() != 1 {
		t.Fatalf("%d rows, %d omitted; want 2 and 1", tb.Len(), tb.Omitted())
	}
	var b bytes.Buffer
	if err := Write(&b, "text", tb.Rows(true), tb.Omitted()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1 more MQTT connections past the first 2 are not listed") {
		t.Errorf("the cap is not mentioned:\n%s", b.String())
	}
}

// TestFindingsAndTransport: findings are counted by code; TLS and
// WebSocket are named.
func TestFindingsAndTransport(t *testing.T) {
	tb := &Table{}
	for i := range 3 {
		r := &session.Record{Frame: i + 1, Time: t0, Src: cli.Addr(), Dst: brk.Addr(), SrcPort: cli.Port(), DstPort: brk.Port(),
			TLSVersion: 0x0304, WebSocket: &session.WSInfo{TLS: true},
			Packet: decode.Packet{Type: decode.PUBLISH, FromClient: true, Version: decode.V311, Unknown: true}}
		r.Findings = []session.Finding{{Code: session.MQTTProtocolViolation}}
		if i == 2 {
			r.Findings = append(r.Findings, session.Finding{Code: session.AuthCleartextCredentials})
		}
		tb.Record(r)
	}
	c := only(t, tb, true)
	if got := c.FindingsText("×", ", "); got != "mqtt.protocol-violation×3, auth.cleartext-credentials×1" {
		t.Errorf("findings %q", got)
	}
	if c.Transport != TransportWSTLS || c.Version != "" {
		t.Errorf("transport %q version %q (a guessed version is not shown)", c.Transport, c.Version)
	}
}

// TestWriteFormats: text has a header and aligned columns, JSON stable
// snake_case keys, CSV a header and one line per connection.
func TestWriteFormats(t *testing.T) {
	tb := &Table{}
	f := &feeder{t: tb, stream: 0}
	f.open(0, "id,with \"quotes\"", decode.V5, 30)
	rows := tb.Rows(true)

	var text, js, cs bytes.Buffer
	for format, b := range map[string]*bytes.Buffer{"text": &text, "json": &js, "csv": &cs} {
		if err := Write(b, format, rows, 0); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(text.String(), "\n")
	if !strings.HasPrefix(lines[0], "STREAM  CLIENT ID") || !strings.Contains(lines[0], "BYTES C→B") || !strings.Contains(lines[1], "capture end") {
		t.Errorf("text:\n%s", text.String())
	}
	if strings.Index(lines[0], "CLIENT ID") != strings.Index(lines[1], "id,with") {
		t.Errorf("columns not aligned:\n%s", text.String())
	}
	var out []map[string]any
	if err := json.Unmarshal(js.Bytes(), &out); err != nil || len(out) != 1 {
		t.Fatalf("json: %v\n%s", err, js.String())
	}
	for _, k := range csvHeader {
		if _, ok := out[0][k]; !ok {
			t.Errorf("json lacks %q: %v", k, out[0])
		}
	}
	if out[0]["client_id"] != "id,with \"quotes\"" || out[0]["version"] != "5.0" || out[0]["frames_to_broker"] != 3.0 || out[0]["end"] != "capture end" {
		t.Errorf("json: %v", out[0])
	}
	recs, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(recs) != 2 || len(recs[0]) != len(csvHeader) || recs[1][1] != "id,with \"quotes\"" {
		t.Errorf("csv: %v %q", err, recs)
	}
	var empty bytes.Buffer
	if err := Write(&empty, "json", nil, 0); err != nil || strings.TrimSpace(empty.String()) != "[]" {
		t.Errorf("no connections in JSON: %q %v", empty.String(), err)
	}
	if err := Write(&empty, "xml", nil, 0); err == nil {
		t.Error("an unknown format is accepted")
	}
}

// TestLabSample: the lab sample's seven connections, with the frame and
// byte counts of `tshark -z conv,tcp` (per stream and direction: tshark
// -T fields -e tcp.stream -e tcp.srcport -e frame.len, summed).
func TestLabSample(t *testing.T) {
	tb := &Table{}
	// The records come after every frame here, as in the terminal UI,
	// whose index gets them later than the frames.
	recs, _ := brokertest.Records(t, "../../../pcaps/samples/lab-session.pcapng", tb.Hook(session.Options{}))
	if tb.Len() != 0 {
		t.Errorf("frames alone made %d rows", tb.Len())
	}
	for _, r := range recs {
		tb.Record(r)
	}
	want := map[int][4]int{ // stream: frames and bytes client → broker, broker → client
		0: {37, 7584, 34, 7336}, 1: {28, 5286, 23, 4905}, 2: {16, 2857, 12, 2514}, 3: {18, 2985, 13, 2578},
		4: {17, 2912, 14, 2644}, 5: {18, 2991, 12, 2515}, 6: {17, 2888, 14, 2622},
	}
	ids := map[int]string{0: "responder-py", 1: "responder-go", 2: "le0nh4rt", 3: "le0nh4rt", 4: "cosmo42", 5: "le0nh4rt", 6: "cosmo42"}
	rows := tb.Rows(true)
	if len(rows) != len(want) {
		t.Fatalf("%d connections, want %d", len(rows), len(want))
	}
	for _, c := range rows {
		if got := [4]int{c.Frames[0], int(c.Bytes[0]), c.Frames[1], int(c.Bytes[1])}; got != want[c.Stream] {
			t.Errorf("stream %d: frames and bytes %v, tshark %v", c.Stream, got, want[c.Stream])
		}
		if c.ClientID != ids[c.Stream] || c.Broker.Port() != 1884 || c.End != EndDisconnect || c.EndBy != "client" {
			t.Errorf("stream %d: %+v", c.Stream, c)
		}
	}
	if rows[0].Version != "3.1.1" || rows[1].Version != "5.0" || rows[1].EndReason != "Normal disconnection" {
		t.Errorf("versions %q %q, reason %q", rows[0].Version, rows[1].Version, rows[1].EndReason)
	}
}
