package output

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

// sampleRecords runs a sample capture through the pipeline and returns a
// copy of every record.
func sampleRecords(tb testing.TB, path string) []*session.Record {
	tb.Helper()
	rd, err := pcaps.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer rd.Close()
	var recs []*session.Record
	p, err := session.NewPipeline(rd.LinkType(), session.Options{}, func(r *session.Record) error {
		c := *r
		c.Findings = slices.Clone(r.Findings)
		c.Crypto.Plaintext = slices.Clone(r.Crypto.Plaintext)
		pk := &c.Packet
		pk.Raw = slices.Clone(r.Packet.Raw)
		pk.Topic = slices.Clone(r.Packet.Topic)
		pk.Payload = slices.Clone(r.Packet.Payload)
		pk.Problems = slices.Clone(r.Packet.Problems)
		pk.Fields = make([]decode.Field, len(r.Packet.Fields))
		for i, f := range r.Packet.Fields {
			f.Bytes = slices.Clone(f.Bytes)
			pk.Fields[i] = f
		}
		recs = append(recs, &c)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for {
		data, ci, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := p.Frame(data, ci); err != nil {
			tb.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
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
