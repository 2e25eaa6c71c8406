package filter

import (
	"bytes"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// agreement is one filter checked against tshark on one sample.
type agreement struct {
	filter string
	// perFrame marks filters whose answer depends on whether a frame's MQTT
	// packets are tested together (tshark) or one by one (mqtap): negations,
	// "!=", count() and tests combining several fields. For them, frames
	// carrying one MQTT packet must agree and frames carrying several must
	// agree with MatchFrame; mqtap may select such a frame when tshark does
	// not, or the reverse.
	perFrame bool
	// tshark, when set, is the same filter in the syntax tshark 4.0 accepts,
	// for the extensions it lacks (sets without commas, xor, lower-case
	// booleans).
	tshark string
}

// sampleAgreements lists, per sample, the filters the tshark agreement test
// runs, with the ports tshark must be told about.
var sampleAgreements = []struct {
	file    string
	ports   []uint16
	filters []agreement
}{
	{"mqtt5.pcapng", nil, []agreement{
		{filter: `mqtt`},
		{filter: `mqtt.topic contains "salle"`},
		{filter: `mqtt.topic contains "工場"`},
		{filter: `mqtt.topic matches "^capteurs/.*/salle-[0-9]+$"`},
		{filter: `mqtt.topic matches "CAPTEURS"`},
		{filter: `mqtt.topic matches "(?-i)CAPTEURS"`},
		{filter: `mqtt.topic ~ "humidit[ée]"`},
		{filter: `mqtt.topic == "vide/ping"`},
		{filter: `mqtt.topic != "capteurs/#"`, perFrame: true},
		{filter: `mqtt.topic === "capteurs/#"`, perFrame: true},
		{filter: `mqtt.topic !== "capteurs/#"`},
		{filter: `mqtt.topic > "工"`},
		{filter: `mqtt.topic in {"vide/ping", "will/#"}`},
		{filter: `mqtt.topic[0:4] == "vide"`},
		{filter: `mqtt.topic[0:4] == 76:69:64:65`},
		{filter: `len(mqtt.topic) > 20`},
		{filter: `count(mqtt.topic) >= 2`, perFrame: true},
		{filter: `not mqtt.topic`, perFrame: true},
		{filter: `!mqtt.topic && mqtt.msgtype != 12 && mqtt.msgtype != 13`, perFrame: true},
		{filter: `mqtt.msgtype == 3 && mqtt.qos == 1`, perFrame: true},
		{filter: `mqtt.msgtype eq 3 and not mqtt.qos eq 0`, perFrame: true},
		{filter: `!(mqtt.msgtype == 3)`, perFrame: true},
		{filter: `mqtt.msgtype == "Subscribe Request" || mqtt.msgtype == "unsubscribe request"`},
		{filter: `mqtt.msgtype in {8..11}`},
		{filter: `mqtt.retain == 1`},
		{filter: `mqtt.retain == True`},
		{filter: `mqtt.retain == 0 and mqtt.qos ge 1`, perFrame: true},
		{filter: `mqtt.dupflag == False && mqtt.qos == 2`, perFrame: true},
		{filter: `mqtt.qos == "Exactly once delivery (Assured Delivery)"`},
		{filter: `mqtt.hdrflags & 0x01`},
		{filter: `mqtt.hdrflags & 0x06 == 0x04`},
		{filter: `mqtt.msgid in {2..4}`},
		{filter: `mqtt.msgid >= 2 && mqtt.msgid <= 4`, perFrame: true},
		{filter: `mqtt.msgid == 010`},
		{filter: `mqtt.msgid == 0x2 or mqtt.msgid == 0b11`},
		{filter: `mqtt.len > 100`},
		{filter: `mqtt.len lt 3`},
		{filter: `mqtt.msg contains 7b:22`},
		{filter: `mqtt.msg contains "°C"`},
		{filter: `mqtt.msg[0:2] == 7b:22`},
		{filter: `mqtt.msg[-1] == "}"`},
		{filter: `mqtt.msg[2-3] == 2e:35`},
		{filter: `mqtt.msg == 32312e35`},
		{filter: `mqtt.msg matches "^2[0-9]\\."`},
		{filter: `len(mqtt.msg) == 4`},
		{filter: `mqtt.msg == ""`},
		{filter: `len(mqtt.msg) == 0`},
		{filter: `mqtt.msgtype == 3 && !mqtt.msg`, perFrame: true},
		{filter: `mqtt.clientid == ""`},
		{filter: `mqtt.prop_key == "unité"`},
		{filter: `mqtt.prop_value contains "°"`},
		{filter: `mqtt.prop_number == 3600`},
		{filter: `mqtt.prop_string contains "réponses"`},
		{filter: `mqtt.property.content_type contains "json"`},
		{filter: `mqtt.subscription_options_qos === 2`, perFrame: true},
		{filter: `mqtt.connack.reason_code == 0x87 || mqtt.suback.reason_code == 0x87`},
		{filter: `mqtt.connack.reason_code == "Bad authentication method"`},
		{filter: `mqtt.puback.reason_code == "No matching subscribers"`},
		{filter: `mqtt.disconnect.reason_code in {0x04, 0x95}`},
		{filter: `mqtt.unsuback.reason_code == 0x11`},
		{filter: `mqtt.conflag.willflag && mqtt.willtopic contains "mourant"`},
		{filter: `mqtt.username == "bob" or mqtt.username == carol`},
		{filter: `mqtt.passwd == "wonderland"`},
		{filter: `mqtt.clientid matches "^(abonne|carol)-"`},
		{filter: `mqtt.ver == "MQTT v5.0" && mqtt.kalive < 10`},
		{filter: `mqtt.subscription_options_qos == 2 and mqtt.subscription_options_retain == 2`},
		{filter: `mqtt.subscription_options_nl == 1`},
		{filter: `mqtt.properties`},
		{filter: `mqtt.will_properties`},
		{filter: `ip.addr == 127.0.0.1`},
		{filter: `ip.addr == 127.0.0.0/8 && ip.src != 10.0.0.1`},
		{filter: `ip`},
		{filter: `ipv6`},
		{filter: `tcp.port == 1883`},
		{filter: `tcp.srcport == 1883 and mqtt.msgtype == 3`, perFrame: true},
		{filter: `tcp.stream in {0, 2}`},
		{filter: `tcp.stream in {0 2}`, tshark: `tcp.stream in {0, 2}`},
		{filter: `mqtt.msgid in {1 3..4 0x10}`, tshark: `mqtt.msgid in {1, 3..4, 0x10}`},
		{filter: `mqtt.retain == true or mqtt.dupflag == true`, tshark: `mqtt.retain == True or mqtt.dupflag == True`},
		{filter: `mqtt.topic xor mqtt.msgid`, tshark: `(mqtt.topic && !mqtt.msgid) || (!mqtt.topic && mqtt.msgid)`, perFrame: true},
		{filter: `tcp.stream in {0, 2..3} or tcp.stream == 9`},
		{filter: `frame.number <= 50`},
		{filter: `frame.len > 100 and frame.number < 100`},
		{filter: `frame.time_relative < 0.05`},
		{filter: `frame.time_epoch >= 1795458474.66`},
		{filter: `mqtt contains "vide/ping"`},
		{filter: `mqtt[0] == 0x30`},
		{filter: `all mqtt.msgid == 1`, perFrame: true},
		{filter: `any mqtt.topic != "capteurs/#"`},
		{filter: `mqtt.topic == mqtt.willtopic`},
	}},
	{"mqtt311.pcapng", nil, []agreement{
		{filter: `mqtt.topic contains "température"`},
		{filter: `mqtt.msgtype == 3 and mqtt.retain == 1`, perFrame: true},
		{filter: `mqtt.conack.val == 5`},
		{filter: `mqtt.conack.val == "Connection Refused: not authorized"`},
		{filter: `mqtt.suback.qos == 0x80`},
		{filter: `mqtt.protoname == "MQTT" and mqtt.ver == 4`},
		{filter: `not mqtt.msgid`, perFrame: true},
		{filter: `mqtt.willmsg`},
		{filter: `mqtt.sub.qos == 2`},
	}},
	{"mqtt31.pcapng", nil, []agreement{
		{filter: `mqtt.protoname == "MQIsdp"`},
		{filter: `mqtt.topic matches "^will/"`},
	}},
	{"mqtt5-topic-alias.pcapng", nil, []agreement{
		{filter: `mqtt.property.topic_alias == 1`},
		{filter: `mqtt.topic == "capteurs/température/salle-1"`},
		{filter: `mqtt.topic contains "humidité" && mqtt.property.topic_alias`, perFrame: true},
		{filter: `mqtt.topic_len == 0`},
	}},
	{"port1884.pcapng", []uint16{1884}, []agreement{
		{filter: `tcp.port == 1884 && mqtt.msgtype == 3`, perFrame: true},
		{filter: `mqtt.topic matches "key-exchange"`},
		{filter: `mqtt.topic contains "response" and mqtt.qos == 1`, perFrame: true},
		{filter: `mqtt.msg contains "Networking"`},
		{filter: `mqtt.msg matches "BEST!$" and tcp.srcport == 1884`, perFrame: true},
	}},
	{"port17501.pcapng", []uint16{17501}, []agreement{
		{filter: `tcp.dstport == 17501`},
		{filter: `mqtt.ver == 3`},
		{filter: `mqtt.topic == "labo/v5" and mqtt.qos == 2`, perFrame: true},
	}},
	{"large-payload.pcapng", nil, []agreement{
		{filter: `mqtt.len > 100000`},
		{filter: `len(mqtt.msg) > 5000`},
		{filter: `mqtt.msg[-2:] == 39:37 or mqtt.msg == "fin"`},
		{filter: `mqtt.topic == "gros/relevés"`},
	}},
	{"cooked-sll2.pcap.gz", nil, []agreement{
		{filter: `ipv6.addr == ::1`},
		{filter: `ipv6.src == ::1/128 && mqtt.msgtype == 3`, perFrame: true},
		{filter: `ip.src == 127.0.0.1`},
		{filter: `ip`},
		{filter: `ipv6`},
		{filter: `mqtt.topic contains "é"`},
	}},
}

// TestAgainstTshark checks that the frames a filter selects on the samples
// (frames with at least one matching MQTT record) are the frames
// `tshark -Y "mqtt && (FILTER)"` selects (FILTER in tshark 4.0's syntax where
// mqtap accepts more). tshark 4.0 is required.
func TestAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatalf("tshark is required (apt-get install tshark): %v", err)
	}
	total := 0
	for _, s := range sampleAgreements {
		t.Run(s.file, func(t *testing.T) {
			recs := readRecords(t, samples+s.file, s.ports...)
			frames, group := byFrame(recs)
			// tshark takes a while to start: run it for every filter at once.
			wants := make([][]int, len(s.filters))
			errs := make([]error, len(s.filters))
			var wg sync.WaitGroup
			sem := make(chan struct{}, max(2, runtime.NumCPU()))
			for i, a := range s.filters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					filter := a.filter
					if a.tshark != "" {
						filter = a.tshark
					}
					wants[i], errs[i] = tsharkFrames(samples+s.file, s.ports, filter)
				}()
			}
			wg.Wait()
			for i, a := range s.filters {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				f, err := Compile(a.filter)
				if err != nil {
					t.Errorf("%s: %v", a.filter, err)
					continue
				}
				want := wants[i]
				var perPacket, perFrame []int
				for _, fr := range frames {
					for _, r := range group[fr] {
						if f.Match(r) {
							perPacket = append(perPacket, fr)
							break
						}
					}
					if f.MatchFrame(group[fr]) {
						perFrame = append(perFrame, fr)
					}
				}
				total++
				t.Logf("%-70s tshark %3d frames, Match %3d, MatchFrame %3d", a.filter, len(want), len(perPacket), len(perFrame))
				if !slices.Equal(perFrame, want) {
					t.Errorf("%s: MatchFrame selects %v\ntshark selects %v", a.filter, perFrame, want)
				}
				if slices.Equal(perPacket, want) {
					continue
				}
				if !a.perFrame {
					t.Errorf("%s: Match selects %v\ntshark selects %v", a.filter, perPacket, want)
					continue
				}
				for _, fr := range symmetricDifference(perPacket, want) {
					if len(group[fr]) < 2 {
						t.Errorf("%s: frame %d carries one MQTT packet, yet Match says %v and tshark %v",
							a.filter, fr, slices.Contains(perPacket, fr), slices.Contains(want, fr))
					}
				}
			}
		})
	}
	t.Logf("%d filters agree with tshark", total)
}

// tsharkFrames returns the frames tshark selects with mqtt && (filter).
func tsharkFrames(file string, ports []uint16, filter string) ([]int, error) {
	args := []string{"-n", "-r", file, "-Y", "mqtt && (" + filter + ")", "-T", "fields", "-e", "frame.number"}
	for _, p := range ports {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,mqtt", p))
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("tshark", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tshark -Y %q: %v\n%s", filter, err, stderr.String())
	}
	var frames []int
	for _, line := range strings.Fields(stdout.String()) {
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("tshark -Y %q printed %q", filter, line)
		}
		frames = append(frames, n)
	}
	return frames, nil
}

// symmetricDifference returns the members of exactly one of two sorted sets.
func symmetricDifference(a, b []int) []int {
	var out []int
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}
