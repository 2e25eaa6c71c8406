package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session/brokertest"
)

// The structured payload tests publish real payloads through mosquitto
// with scripts/payloadpub.py, capture them on lo, and check that mqtap
// decodes each to what the publisher says it sent.

// plWillTopic is the Sparkplug NDEATH payloadpub.py leaves as the edge
// node's will: only the broker sends it (to the subscriber), when the
// node's connection is lost.
const plWillTopic = "spBv1.0/G1/NDEATH/E1"

// plFindingCodes are the findings of the payload stage; a message gets
// exactly those payloadpub.py announced for it.
var plFindingCodes = []string{"payload.malformed", "mqtap.limit", "sparkplug.seq-gap"}

// plKeyring is the keyring of the manual run: reading.proto beside it.
const plKeyring = `[[rule]]
topics = ["factory/+/reading"]
payload = { format = "protobuf", proto = "reading.proto", message = "factory.Reading" }

[[rule]]
topics = ["zip/#"]
payload = { format = "json" }
compression = "gzip"
`

// plMessage is one message payloadpub.py sent: its topic, the format and
// value mqtap must decode it to (Format "" for a payload that is only
// announced with findings), and the findings it must carry.
type plMessage struct {
	Topic    string
	Format   string
	Value    any // decoded from JSON: numbers are float64
	Findings []string
}

// copies is the number of PUBLISH packets of the message in the capture:
// the publisher's to the broker and the broker's to the one subscriber,
// or only the broker's for the will.
func (m *plMessage) copies() int {
	if m.Topic == plWillTopic {
		return 1
	}
	return 2
}

// plCapture is a capture of payloadpub.py's run.
type plCapture struct {
	path string
	port int
	sent []*plMessage
	keys string // the keyring (keys.toml, reading.proto beside it)
}

// plParseSent reads payloadpub.py's lines. A {"topic","finding"} line
// right after a {"topic","format","value"} line of the same topic is a
// finding of that message (the Sparkplug seq gap); any other is a message
// of its own.
func plParseSent(t *testing.T, out string) []*plMessage {
	t.Helper()
	var msgs []*plMessage
	prevValue := false
	for _, l := range lines(out) {
		var line struct {
			Topic   string          `json:"topic"`
			Format  string          `json:"format"`
			Value   json.RawMessage `json:"value"`
			Finding string          `json:"finding"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil || line.Topic == "" {
			t.Fatalf("payloadpub.py printed %q: %v", l, err)
		}
		if line.Finding != "" {
			if last := len(msgs) - 1; prevValue && msgs[last].Topic == line.Topic {
				msgs[last].Findings = append(msgs[last].Findings, line.Finding)
			} else {
				msgs = append(msgs, &plMessage{Topic: line.Topic, Findings: []string{line.Finding}})
			}
			prevValue = false
			continue
		}
		if line.Format == "" || line.Value == nil {
			t.Fatalf("payloadpub.py printed %q: neither a value nor a finding", l)
		}
		m := &plMessage{Topic: line.Topic, Format: line.Format}
		if err := json.Unmarshal(line.Value, &m.Value); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		prevValue = true
	}
	return msgs
}

// plCheckTools fails the test, naming the Debian packages, unless protoc
// and the Python libraries of payloadpub.py are installed.
func plCheckTools(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Fatal("protoc is not installed (apt-get install protobuf-compiler, or make deps)")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is not installed (apt-get install tshark, or make deps)")
	}
	if out, err := exec.Command(brokertest.Python, "-c", "import cbor2, msgpack, google.protobuf, paho.mqtt.client").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import payloadpub.py's libraries (apt-get install python3-cbor2 python3-msgpack python3-protobuf python3-paho-mqtt, or make deps): %v: %s",
			brokertest.Python, err, bytes.TrimSpace(out))
	}
}

// plRecordPayloads starts a broker and a capture, runs payloadpub.py
// through them (and more, when more is not nil, before the capture
// stops), and writes the test keyring.
func plRecordPayloads(t *testing.T, more func(b *brokertest.Broker)) *plCapture {
	t.Helper()
	needRoot(t)
	plCheckTools(t)
	scripts, err := filepath.Abs("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	pbDir := t.TempDir()
	if out, err := exec.Command("protoc", "--python_out="+pbDir, "-I", filepath.Join(scripts, "proto"), "sparkplug_b.proto", "reading.proto").CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	b := brokertest.StartBroker(t)
	capture := brokertest.StartCapture(t, b.Port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, brokertest.Python, filepath.Join(scripts, "payloadpub.py"), "--host", b.Host, "--port", strconv.Itoa(b.Port), "--pb-dir", pbDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("payloadpub.py: %v\nstderr: %s\nstdout: %s\nbroker: %s", err, stderr.String(), stdout.String(), b.Log())
	}
	if more != nil {
		more(b)
	}
	time.Sleep(300 * time.Millisecond) // the last acknowledgements reach tcpdump
	c := &plCapture{path: capture.Stop(t), port: b.Port, sent: plParseSent(t, stdout.String())}
	if len(c.sent) < 15 {
		t.Fatalf("payloadpub.py sent only %d messages:\n%s", len(c.sent), stdout.String())
	}
	dir := t.TempDir()
	c.keys = filepath.Join(dir, "keys.toml")
	if err := os.WriteFile(c.keys, []byte(plKeyring), 0o644); err != nil {
		t.Fatal(err)
	}
	proto, err := os.ReadFile(filepath.Join(scripts, "proto", "reading.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reading.proto"), proto, 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// decodeAs is the -d option mapping the capture's broker port to MQTT.
func (c *plCapture) decodeAs() string { return "tcp.port==" + strconv.Itoa(c.port) + ",mqtt" }

// read runs mqtap read on the capture with the keyring, the port mapping
// and args, and returns its standard output; an exit other than 0 fails.
func (c *plCapture) read(t *testing.T, args ...string) string {
	t.Helper()
	all := append([]string{"read", c.path, "--keys", c.keys, "-d", c.decodeAs()}, args...)
	code, out, errOut := mqtap(all...)
	if code != 0 {
		t.Fatalf("mqtap %s: exit %d: %s", strings.Join(all, " "), code, errOut)
	}
	return out
}

// plStrings is a field of an ndjson record as a list: one value or an array.
func plStrings(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

// plPayloadFindings is the findings of a record that the payload stage
// makes, sorted.
func plPayloadFindings(rec map[string]any) []string {
	var out []string
	for _, f := range plStrings(rec["mqtap.findings"]) {
		if slices.Contains(plFindingCodes, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// plKey names one PUBLISH packet of a capture.
func plKey(frame, topic, msgid string) string { return frame + " " + topic + " id " + msgid }

func plFrame(rec map[string]any) int {
	f, _ := rec["frame.number"].(float64)
	return int(f)
}

// plTemperature is the Sparkplug metric Temperature of a sent value.
func plTemperature(v any) (float64, bool) {
	obj, _ := v.(map[string]any)
	metrics, _ := obj["metrics"].(map[string]any)
	f, ok := metrics["Temperature"].(float64)
	return f, ok
}

// TestStructuredPayloads publishes every structured payload of
// payloadpub.py through mosquitto and checks that mqtap read decodes each
// copy of each message (publisher to broker, broker to subscriber) to
// the format and value sent, with the findings announced, and that the
// values work in -Y, -e and -V.
func TestStructuredPayloads(t *testing.T) {
	c := plRecordPayloads(t, nil)
	recs := ndjsonRecords(t, c.read(t, "-T", "ndjson"))

	// The PUBLISH records of each topic, by direction, in frame order.
	type copies struct{ toBroker, fromBroker []map[string]any }
	byTopic := map[string]*copies{}
	willConnect := false
	for _, r := range recs {
		if field(r, "mqtap.type") == "CONNECT" && field(r, "mqtt.clientid") == "edge-E1" {
			willConnect = field(r, "mqtt.willtopic") == plWillTopic
		}
		if field(r, "mqtap.type") != "PUBLISH" {
			continue
		}
		topic := field(r, "mqtt.topic")
		if byTopic[topic] == nil {
			byTopic[topic] = &copies{}
		}
		switch port := float64(c.port); {
		case r["tcp.dstport"] == port:
			byTopic[topic].toBroker = append(byTopic[topic].toBroker, r)
		case r["tcp.srcport"] == port:
			byTopic[topic].fromBroker = append(byTopic[topic].fromBroker, r)
		default:
			t.Errorf("frame %d: a PUBLISH neither to nor from the broker: %v", plFrame(r), r)
		}
	}
	if !willConnect {
		t.Errorf("no CONNECT of edge-E1 with the will %s", plWillTopic)
	}

	sentOn := map[string][]*plMessage{}
	for _, m := range c.sent {
		sentOn[m.Topic] = append(sentOn[m.Topic], m)
	}
	for topic := range byTopic {
		if sentOn[topic] == nil {
			t.Errorf("PUBLISH records on %s, where payloadpub.py sent nothing", topic)
		}
	}
	// msgOf is the message of each PUBLISH record, by plKey (a frame may
	// hold several).
	msgOf := map[string]*plMessage{}
	checked := 0
	for topic, msgs := range sentOn {
		got := byTopic[topic]
		if got == nil {
			got = &copies{}
		}
		wantTo, wantFrom := 0, 0
		for _, m := range msgs {
			wantTo += m.copies() - 1
			wantFrom++
		}
		if len(got.toBroker) != wantTo || len(got.fromBroker) != wantFrom {
			t.Errorf("%s: %d message(s) sent, %d PUBLISH record(s) to the broker and %d from it, want %d and %d",
				topic, len(msgs), len(got.toBroker), len(got.fromBroker), wantTo, wantFrom)
			continue
		}
		for i, m := range msgs {
			both := []map[string]any{got.fromBroker[i]}
			if m.copies() == 2 {
				both = append(both, got.toBroker[i])
			}
			for _, r := range both {
				checked++
				msgOf[plKey(field(r, "frame.number"), topic, field(r, "mqtt.msgid"))] = m
				where := fmt.Sprintf("%s message %d, frame %d (%s:%v → %s:%v)", topic, i+1, plFrame(r), field(r, "ip.src"), r["tcp.srcport"], field(r, "ip.dst"), r["tcp.dstport"])
				if m.Format != "" {
					if got := field(r, "mqtap.payload_format"); got != m.Format {
						t.Errorf("%s: mqtap.payload_format %q, want %q", where, got, m.Format)
					}
					v, ok := r["mqtap.value"]
					if !ok || !reflect.DeepEqual(v, m.Value) {
						gotJSON, _ := json.Marshal(v)
						wantJSON, _ := json.Marshal(m.Value)
						t.Errorf("%s: mqtap.value %s (present %v), want %s", where, gotJSON, ok, wantJSON)
					}
				}
				want := slices.Sorted(slices.Values(m.Findings))
				if got := plPayloadFindings(r); !slices.Equal(got, want) {
					t.Errorf("%s: payload findings %q (mqtap.findings %v), want %q", where, got, r["mqtap.findings"], want)
				}
			}
		}
	}
	if want := 2*len(c.sent) - 1; checked != want {
		t.Errorf("%d PUBLISH records checked, want %d (two per message sent, one for the will)", checked, want)
	}

	// -Y on a member of the value selects exactly the messages whose sent
	// value has t > 23, every copy of them.
	wantHot := map[string]int{}
	for _, m := range c.sent {
		if obj, ok := m.Value.(map[string]any); ok {
			if tv, ok := obj["t"].(float64); ok && tv > 23 {
				wantHot[m.Topic] += m.copies()
			}
		}
	}
	gotHot := map[string]int{}
	for _, l := range lines(c.read(t, "-Y", "mqtap.value.t > 23", "-T", "fields", "-e", "mqtt.topic")) {
		gotHot[l]++
	}
	if len(wantHot) < 3 || !reflect.DeepEqual(gotHot, wantHot) {
		t.Errorf("-Y 'mqtap.value.t > 23' selects (topic: records) %v, want %v", gotHot, wantHot)
	}

	// -T fields: a member of the value, the whole value as compact JSON,
	// and the Sparkplug sequence number, for every PUBLISH.
	temperatures := 0
	out := c.read(t, "-Y", "mqtt.msgtype == 3", "-T", "fields", "-e", "frame.number", "-e", "mqtap.value.metrics.Temperature", "-e", "mqtap.value", "-e", "mqtap.sparkplug.seq", "-e", "mqtt.topic", "-e", "mqtt.msgid")
	fieldsLines := lines(out)
	if len(fieldsLines) != len(msgOf) {
		t.Errorf("-T fields -Y 'mqtt.msgtype == 3': %d lines, want %d", len(fieldsLines), len(msgOf))
	}
	for _, l := range fieldsLines {
		f := strings.Split(l, "\t")
		if len(f) != 6 {
			t.Errorf("-T fields line %q: %d columns, want 6", l, len(f))
			continue
		}
		n, _ := strconv.Atoi(f[0])
		m := msgOf[plKey(f[0], f[4], f[5])]
		if m == nil {
			t.Errorf("-T fields: frame %s %s id %s is not a PUBLISH of the ndjson output", f[0], f[4], f[5])
			continue
		}
		if want, ok := plTemperature(m.Value); ok {
			temperatures++
			if got, err := strconv.ParseFloat(f[1], 64); err != nil || got != want {
				t.Errorf("frame %d (%s): -e mqtap.value.metrics.Temperature %q, want %v", n, m.Topic, f[1], want)
			}
		} else if f[1] != "" {
			t.Errorf("frame %d (%s): -e mqtap.value.metrics.Temperature %q, want nothing", n, m.Topic, f[1])
		}
		if m.Format != "" {
			var v any
			var compact bytes.Buffer
			if err := json.Unmarshal([]byte(f[2]), &v); err != nil || !reflect.DeepEqual(v, m.Value) {
				t.Errorf("frame %d (%s): -e mqtap.value %q, want the JSON of %v", n, m.Topic, f[2], m.Value)
			} else if json.Compact(&compact, []byte(f[2])); compact.String() != f[2] {
				t.Errorf("frame %d (%s): -e mqtap.value %q is not compact JSON", n, m.Topic, f[2])
			}
		}
		wantSeq := ""
		if obj, ok := m.Value.(map[string]any); ok && m.Format == "sparkplugb" {
			if s, ok := obj["seq"].(float64); ok {
				wantSeq = strconv.Itoa(int(s))
			}
		}
		if f[3] != wantSeq {
			t.Errorf("frame %d (%s): -e mqtap.sparkplug.seq %q, want %q", n, m.Topic, f[3], wantSeq)
		}
	}
	if temperatures != 4 { // NBIRTH and the first NDATA, each twice
		t.Errorf("%d records with a Temperature metric, want 4", temperatures)
	}

	// The DDATA carries aliases only: its metric names are the DBIRTH's
	// names of those aliases.
	const dbirth, ddata = "spBv1.0/G1/DBIRTH/E1/D1", "spBv1.0/G1/DDATA/E1/D1"
	out = c.read(t, "-Y", `mqtt.topic == "`+dbirth+`" || mqtt.topic == "`+ddata+`"`, "-T", "fields",
		"-e", "mqtt.topic", "-e", "mqtap.sparkplug.metric.name", "-e", "mqtap.sparkplug.metric.alias", "-e", "mqtt.msg")
	birthName := map[string]string{}
	var dataLines [][]string
	for _, l := range lines(out) {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			t.Fatalf("-T fields line %q", l)
		}
		names, aliases := strings.Split(f[1], ","), strings.Split(f[2], ",")
		if f[0] == dbirth {
			if len(names) != len(aliases) {
				t.Errorf("DBIRTH: names %q, aliases %q", f[1], f[2])
				continue
			}
			for i, a := range aliases {
				birthName[a] = names[i]
			}
			continue
		}
		dataLines = append(dataLines, f)
	}
	var wantNames []string
	for _, m := range sentOn[ddata] {
		obj, _ := m.Value.(map[string]any)
		metrics, _ := obj["metrics"].(map[string]any)
		for name := range metrics {
			wantNames = append(wantNames, name)
		}
	}
	slices.Sort(wantNames)
	if len(birthName) != 2 || len(dataLines) != 2 || len(wantNames) != 2 {
		t.Errorf("DBIRTH aliases %v, %d DDATA records (want 2), DDATA metrics sent %v:\n%s", birthName, len(dataLines), wantNames, out)
	}
	for _, f := range dataLines {
		names, aliases := strings.Split(f[1], ","), strings.Split(f[2], ",")
		for _, name := range wantNames {
			if strings.Contains(f[3], hex.EncodeToString([]byte(name))) {
				t.Errorf("the DDATA payload %s carries the name %q: it does not test alias resolution", f[3], name)
			}
		}
		if len(names) != len(aliases) || !slices.Equal(slices.Sorted(slices.Values(names)), wantNames) {
			t.Errorf("DDATA: -e mqtap.sparkplug.metric.name %q, aliases %q, want the names %v", f[1], f[2], wantNames)
			continue
		}
		for i, a := range aliases {
			if birthName[a] != names[i] {
				t.Errorf("DDATA: metric alias %s is named %q, the DBIRTH named it %q", a, names[i], birthName[a])
			}
		}
	}

	// -V shows the protobuf message decoded with the keyring's schema,
	// the enum by its name; without the keyring it is not.
	const reading = `mqtt.topic == "factory/line1/reading"`
	out = c.read(t, "-V", "-Y", reading)
	if strings.Count(out, "\n    Value\n") != 2 || strings.Count(out, "\n        status: OK\n") != 2 || strings.Count(out, "\n        sensor: s1\n") != 2 {
		t.Errorf("-V of the protobuf message: want a Value branch with status: OK in each of its 2 copies:\n%s", out)
	}
	code, out, errOut := mqtap("read", c.path, "-d", c.decodeAs(), "-V", "-Y", reading)
	if code != 0 || strings.Count(out, "MQ Telemetry Transport Protocol, Publish Message") != 2 || strings.Contains(out, "status: OK") {
		t.Errorf("-V without the keyring: exit %d, stderr %q: the message must not be decoded as factory.Reading:\n%s", code, errOut, out)
	}
}

// plEdgeTopics are published after payloadpub.py for the comparison with
// tshark. Wireshark's Sparkplug B dissector (packet-sparkplug.c, a
// heuristic on the MQTT topic, tried only when no Content Type dissector
// took the payload) splits the topic on "/" into at most 5 parts: the
// first must be "spBv1.0"; it adds namespace, then group id, message type
// and edge node id while there are parts, returning "not mine" at the
// first one missing (no sparkplugb:protobuf in frame.protocols, but the
// fields added stay in the tree); the device id is the rest of the topic.
var plEdgeTopics = []struct {
	topic, contentType string
	payload            []byte
}{
	{"spBv1.0/STATE/scada1", "", []byte(`{"online":true,"timestamp":1700000000000}`)},
	{"spBv1.0/G1/NCMD/E1", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1/DCMD/E1/D1", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1/NDATA", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1/DDATA/E1/D1/extra", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1/NDATA/E1/", "", []byte{0x08, 0x01}},
	{"spBv1.0//NDATA/E1", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1/BOGUS/E1", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1", "", []byte{0x08, 0x01}},
	{"spBv1.0", "", []byte{0x08, 0x01}},
	{"spBv1.0x/G1/NDATA/E1", "", []byte{0x08, 0x01}},
	{"SPBV1.0/G1/NDATA/E1", "", []byte{0x08, 0x01}},
	{"spBv1.0/G1/NDATA/E3", "application/json", []byte(`{"a":1}`)},
}

// plPublishEdgeTopics publishes plEdgeTopics with mosquitto_pub (MQTT 5
// for those with a Content Type).
func plPublishEdgeTopics(t *testing.T, b *brokertest.Broker) {
	t.Helper()
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub is not installed (apt-get install mosquitto-clients, or make deps)")
	}
	dir := t.TempDir()
	for i, e := range plEdgeTopics {
		file := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(file, e.payload, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-h", b.Host, "-p", strconv.Itoa(b.Port), "-q", "1", "-t", e.topic, "-f", file}
		if e.contentType != "" {
			args = append(args, "-V", "5", "-D", "publish", "content-type", e.contentType)
		}
		if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

// plSparkplugFields are compared with tshark's, frame by frame.
var plSparkplugFields = []string{"frame.number", "sparkplugb.namespace", "sparkplugb.groupid", "sparkplugb.messagetype", "sparkplugb.edgenodeid", "sparkplugb.deviceid", "frame.protocols"}

// TestSparkplugAgainstTshark captures payloadpub.py's messages and
// Sparkplug topics of every shape, and compares Wireshark's Sparkplug B
// topic fields and frame.protocols with mqtap's, frame by frame.
func TestSparkplugAgainstTshark(t *testing.T) {
	c := plRecordPayloads(t, func(b *brokertest.Broker) { plPublishEdgeTopics(t, b) })
	var eArgs []string
	for _, f := range plSparkplugFields {
		eArgs = append(eArgs, "-e", f)
	}
	targs := append([]string{"-n", "-r", c.path, "-d", c.decodeAs(), "-T", "fields"}, eArgs...)
	tout, err := exec.Command("tshark", targs...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", strings.Join(targs, " "), err)
	}
	tshark := map[int][]string{}
	for _, l := range lines(string(tout)) {
		f := strings.Split(l, "\t")
		n, err := strconv.Atoi(f[0])
		if err != nil || len(f) != len(plSparkplugFields) {
			t.Fatalf("tshark line %q", l)
		}
		tshark[n] = f[1:]
	}
	// mqtap prints one line per MQTT packet; tshark one per frame.
	mq := map[int][][]string{}
	var frames []int
	for _, l := range lines(c.read(t, append([]string{"-T", "fields"}, eArgs...)...)) {
		f := strings.Split(l, "\t")
		n, err := strconv.Atoi(f[0])
		if err != nil || len(f) != len(plSparkplugFields) {
			t.Fatalf("mqtap line %q", l)
		}
		if mq[n] == nil {
			frames = append(frames, n)
		}
		mq[n] = append(mq[n], f[1:])
	}
	// The topic and content type of each PUBLISH, to say which message a
	// frame holds.
	what := map[int]string{}
	for _, l := range lines(c.read(t, "-Y", "mqtt.msgtype == 3", "-T", "fields", "-e", "frame.number", "-e", "mqtt.topic", "-e", "mqtt.property.content_type")) {
		f := strings.Split(l, "\t")
		n, _ := strconv.Atoi(f[0])
		what[n] = fmt.Sprintf("PUBLISH %q", f[1])
		if f[2] != "" {
			what[n] += " content type " + f[2]
		}
	}
	compared, sparkplug, multi := 0, 0, 0
	for _, n := range frames {
		want, ok := tshark[n]
		if !ok {
			t.Errorf("frame %d: mqtap shows it, tshark has no such frame", n)
			continue
		}
		got := mq[n][0]
		if len(mq[n]) > 1 {
			// Several MQTT packets in one frame: tshark joins the values
			// of a field with commas, and its frame.protocols names mqtt
			// once, followed by the dissectors of each packet's payload
			// in turn ("mqtt:sparkplugb:protobuf:sparkplugb:protobuf").
			multi++
			t.Logf("frame %d holds %d MQTT packets: tshark %q, mqtap %q", n, len(mq[n]), want, mq[n])
			got = slices.Clone(got)
			for col := range len(got) - 1 {
				var vals []string
				for _, rec := range mq[n] {
					if rec[col] != "" {
						vals = append(vals, rec[col])
					}
				}
				got[col] = strings.Join(vals, ",")
			}
			for _, rec := range mq[n][1:] {
				chain := rec[len(rec)-1]
				if k := strings.Index(chain+":", ":mqtt:"); k >= 0 {
					got[len(got)-1] += chain[k+len(":mqtt"):]
				}
			}
		}
		compared++
		if want[0] != "" {
			sparkplug += len(strings.Split(want[0], ","))
		}
		if !slices.Equal(got, want) {
			var diffs []string
			for i := range want {
				if got[i] != want[i] {
					diffs = append(diffs, fmt.Sprintf("%s: tshark %q, mqtap %q", plSparkplugFields[i+1], want[i], got[i]))
				}
			}
			t.Errorf("frame %d (%s): %s", n, what[n], strings.Join(diffs, "; "))
		}
	}
	for n, f := range tshark {
		if mq[n] == nil && (strings.Contains(f[len(f)-1], ":mqtt") || f[0] != "") {
			t.Errorf("frame %d: tshark decodes MQTT (%q), mqtap shows nothing", n, f)
		}
	}
	t.Logf("%d frames compared (%d with several MQTT packets); tshark has Sparkplug B fields for %d MQTT packets", compared, multi, sparkplug)
	// payloadpub.py's 11 Sparkplug packets (the will once) and the edge
	// topics that start with the namespace and have no Content Type.
	if compared < 80 || sparkplug < 11+len(plEdgeTopics)-3 {
		t.Errorf("only %d frames compared, %d packets with Sparkplug B fields", compared, sparkplug)
	}
}

// TestEncryptedJSONValue runs a lab exchange (Python responder and
// requester, a Diffie-Hellman key exchange then Fernet) whose encrypted
// request is a JSON object: with the responder's key mqtap decrypts it
// and shows its value, in -T ndjson and in -Y; without keys there is no
// value.
func TestEncryptedJSONValue(t *testing.T) {
	needRoot(t)
	brokertest.CheckPython(t)
	const netid = "jsonlab"
	// The responder lowercases: the response is JSON too, and differs
	// from the request in the sensor's name.
	request := `{"sensor": "Lab-1", "t": 31.5, "ok": true, "tags": ["A", "b"], "n": null}`
	response := strings.ToLower(request)
	b := brokertest.StartBroker(t)
	port := strconv.Itoa(b.Port)
	capture := brokertest.StartCapture(t, b.Port)
	keyDir := t.TempDir()
	resp := brokertest.StartPyResponder(t, netid, "--host", b.Host, "--port", port, "--save-keys", keyDir, "--count", "1")
	out, errOut, code := brokertest.PyRun(t, 20*time.Second, "request", netid, "lowercase", request, "--host", b.Host, "--port", port)
	if code != 0 || out != response+"\n" {
		t.Fatalf("labpeer.py request: exit %d, stdout %q, stderr %q; responder:\n%s", code, out, errOut, resp.Log.String())
	}
	if code := resp.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("labpeer.py respond: exit %d:\n%s", code, resp.Log.String())
	}
	time.Sleep(300 * time.Millisecond)
	path := capture.Stop(t)
	decodeAs := "tcp.port==" + port + ",mqtt"

	var reqValue, respValue any
	if err := json.Unmarshal([]byte(request), &reqValue); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(response), &respValue)
	want := map[string]struct {
		text  string
		value any
	}{
		netid + "/lowercase/request":  {request, reqValue},
		netid + "/lowercase/response": {response, respValue},
	}
	readArgs := func(keys bool, args ...string) []string {
		all := []string{"read", path, "-d", decodeAs}
		if keys {
			all = append(all, "--keys", keyDir)
		}
		return append(all, args...)
	}
	code, out, errOut = mqtap(readArgs(true, "-T", "ndjson")...)
	if code != 0 {
		t.Fatalf("mqtap read: exit %d: %s", code, errOut)
	}
	frames := map[string][]string{} // topic → frame numbers of its PUBLISH records
	kex := 0
	for _, r := range ndjsonRecords(t, out) {
		if field(r, "mqtap.type") != "PUBLISH" {
			continue
		}
		topic := field(r, "mqtt.topic")
		if field(r, "mqtap.kex") != "" {
			kex++
			if _, ok := r["mqtap.value"]; ok {
				t.Errorf("frame %d: the key exchange message %s has a value %v", plFrame(r), topic, r["mqtap.value"])
			}
			continue
		}
		w, ok := want[topic]
		if !ok {
			t.Errorf("frame %d: unexpected PUBLISH on %s", plFrame(r), topic)
			continue
		}
		frames[topic] = append(frames[topic], field(r, "frame.number"))
		if field(r, "mqtap.decrypt") != "ok" || field(r, "mqtap.plaintext") != w.text {
			t.Errorf("frame %d (%s): mqtap.decrypt %q, plaintext %q, want ok and %q", plFrame(r), topic, field(r, "mqtap.decrypt"), field(r, "mqtap.plaintext"), w.text)
		}
		if field(r, "mqtap.payload_format") != "json" {
			t.Errorf("frame %d (%s): mqtap.payload_format %q, want json", plFrame(r), topic, field(r, "mqtap.payload_format"))
		}
		if v, ok := r["mqtap.value"]; !ok || !reflect.DeepEqual(v, w.value) {
			got, _ := json.Marshal(v)
			t.Errorf("frame %d (%s): mqtap.value %s, want %s", plFrame(r), topic, got, w.text)
		}
	}
	if kex != 4 || len(frames[netid+"/lowercase/request"]) != 2 || len(frames[netid+"/lowercase/response"]) != 2 {
		t.Fatalf("PUBLISH records: %d of the key exchange (want 4), action messages %v (want 2 of each)", kex, frames)
	}

	// -Y on a member of the decrypted value.
	selects := func(keys bool, filter string) string {
		t.Helper()
		code, out, errOut := mqtap(readArgs(keys, "-Y", filter, "-T", "fields", "-e", "frame.number")...)
		if code != 0 {
			t.Fatalf("mqtap read -Y %q: exit %d: %s", filter, code, errOut)
		}
		return strings.Join(lines(out), ",")
	}
	reqFrames := strings.Join(frames[netid+"/lowercase/request"], ",")
	respFrames := strings.Join(frames[netid+"/lowercase/response"], ",")
	for filter, wantFrames := range map[string]string{
		`mqtap.value.sensor == "Lab-1"`:                   reqFrames,
		`mqtap.value.sensor == "lab-1"`:                   respFrames,
		`mqtap.value.t == 31.5 && mqtap.value.ok == true`: reqFrames + "," + respFrames,
		`mqtap.value.t > 31.5 || mqtap.value.t < 31.5`:    "",
	} {
		if got := selects(true, filter); got != wantFrames {
			t.Errorf("-Y '%s' with the keys selects frames [%s], want [%s]", filter, got, wantFrames)
		}
	}
	// Without the keys the messages stay encrypted: no value to select.
	if got := selects(false, `mqtap.value.sensor == "Lab-1"`); got != "" {
		t.Errorf("-Y 'mqtap.value.sensor == \"Lab-1\"' without keys selects frames [%s]", got)
	}
	code, out, _ = mqtap(readArgs(false, "-Y", `mqtt.msgtype == 3 && mqtt.topic contains "lowercase"`, "-T", "fields", "-e", "mqtap.decrypt", "-e", "mqtap.payload_format")...)
	if code != 0 || out != strings.Repeat("no-key\t\n", 4) {
		t.Errorf("without keys: exit %d, mqtap.decrypt and mqtap.payload_format %q, want no-key and nothing, 4 times", code, out)
	}
}

// TestTopicsOnBroker runs mqtap topics on a broker subscription (which
// sees each message delivered) and on a live interface (which sees it
// published, nobody subscribing): the table is printed when it stops
// (Ctrl-C), each message counted once.
func TestTopicsOnBroker(t *testing.T) {
	t.Run("tap", func(t *testing.T) {
		b := brokertest.StartBroker(t)
		run := startMqtap(t, "subscribed", "topics", "mqtt://"+b.Addr(), "-T", "csv")
		checkLiveTopics(t, b, run)
	})
	t.Run("sniff", func(t *testing.T) {
		needRoot(t)
		b := brokertest.StartBroker(t)
		port := strconv.Itoa(b.Port)
		run := startMqtap(t, "Capturing on 'lo'", "topics", "-i", "lo", "-f", port, "-d", "tcp.port=="+port+",mqtt", "-T", "csv")
		checkLiveTopics(t, b, run)
	})
}

// checkLiveTopics publishes to b while run (mqtap topics -T csv on a live
// source) watches, stops it and checks its table.
func checkLiveTopics(t *testing.T, b *brokertest.Broker, run *liveRun) {
	t.Helper()
	for _, m := range []string{`{"t": 1, "s": "a"}`, `{"t": 2}`, `{"t": 6}`, `12.5`} {
		topic := "live/json"
		if m == `12.5` {
			topic = "live/num"
		}
		out, err := exec.Command("mosquitto_pub", "-h", b.Host, "-p", strconv.Itoa(b.Port), "-q", "1", "-t", topic, "-m", m).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if code := run.interrupt(t); code != 0 {
		t.Fatalf("topics exit %d; stderr %s", code, run.stderr.String())
	}
	rows, err := csv.NewReader(strings.NewReader(run.stdout.String())).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, run.stdout.String())
	}
	want := [][]string{
		{"topic", "messages", "bytes", "first_time", "last_time", "format", "member", "min", "max", "mean", "last"},
		{"live/json", "3", "34", "", "", "json", "t", "1", "6", "3", "6"},
		{"live/num", "1", "4", "", "", "text", "", "12.5", "12.5", "12.5", "12.5"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows:\n%v\nwant\n%v", rows, want)
	}
	for i := range want {
		for j := range want[i] {
			if j == 3 || j == 4 { // times: present
				if i > 0 && rows[i][j] == "" {
					t.Errorf("row %d: no %s", i, want[0][j])
				}
				continue
			}
			if rows[i][j] != want[i][j] {
				t.Errorf("row %d %s: %q, want %q", i, want[0][j], rows[i][j], want[i][j])
			}
		}
	}
	if !strings.Contains(run.stderr.String(), "MQTT packets from") {
		t.Errorf("no summary on stderr: %s", run.stderr.String())
	}
}
