package output

import (
	"io"
	"testing"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/brokertest"
)

// sampleRecords runs a sample capture through the pipeline and returns a
// copy of every record.
func sampleRecords(tb testing.TB, path string) []*session.Record {
	tb.Helper()
	recs, _ := brokertest.Records(tb, path, session.Options{})
	return recs
}

// BenchmarkWrite writes every record of the MQTT 5 sample in each format.
func BenchmarkWrite(b *testing.B) {
	recs := sampleRecords(b, "../../../pcaps/samples/mqtt5.pcapng")
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"text", Options{}},
		{"verbose", Options{Verbose: true}},
		{"json", Options{Format: NDJSON}},
		{"fields", Options{Format: Fields, FieldNames: []string{"frame.number", "ip.src", "mqtt.msgtype", "mqtt.topic", "mqtt.prop_number", "mqtap.type"}}},
	} {
		w, err := New(io.Discard, bc.opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range recs {
					if err := w.Write(r); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
