package filter

import (
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// publishRecord returns the first QoS 1 PUBLISH of the mqtt5 sample.
func publishRecord(tb testing.TB) *session.Record {
	tb.Helper()
	for _, r := range readRecords(tb, samples+"mqtt5.pcapng") {
		if r.Packet.Type == decode.PUBLISH && r.Packet.QoS == 1 {
			return r
		}
	}
	tb.Fatal("mqtt5.pcapng has no QoS 1 PUBLISH")
	return nil
}

// BenchmarkMatch evaluates typical filters on a PUBLISH record.
func BenchmarkMatch(b *testing.B) {
	r := publishRecord(b)
	r.Crypto = session.Crypto{Session: "le0nh4rt#1", Scheme: "dh-fernet", Decrypt: "ok", Plaintext: []byte("Networking is the best!")}
	r.Findings = []session.Finding{{Code: session.PayloadReplay}}
	for _, bc := range []struct{ name, filter string }{
		{"typical", `mqtt.msgtype == 3 && mqtt.topic contains "salle" && mqtt.qos >= 1`},
		{"any-of", `tcp.port in {1883, 8883} and ip.addr == 127.0.0.0/8`},
		{"matches", `mqtt.topic matches "^capteurs/.*/salle-[0-9]+$"`},
		{"negation", `not mqtt.msgid or mqtt.msgid != 7`},
		{"bytes", `mqtt.msg[0:2] == 32:31 or len(mqtt.msg) > 100`},
		{"time", `frame.time_relative < 10.5 and frame.time_epoch > 1795458474`},
		{"mqtap", `mqtap.decrypt == "ok" && mqtap.plaintext contains "best" && mqtap.findings == "payload.replay"`},
	} {
		f, err := Compile(bc.filter)
		if err != nil {
			b.Fatal(err)
		}
		if !f.Match(r) {
			b.Fatalf("%s does not match the PUBLISH", bc.filter)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Match(r)
			}
		})
	}
}
