package filter

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

// samples is where the project's sample captures live.
const samples = "../../pcaps/samples/"

// cloneRecord copies what Match reads of a record the pipeline will reuse.
func cloneRecord(r *session.Record) *session.Record {
	c := &session.Record{
		Frame: r.Frame, Time: r.Time, Relative: r.Relative, FrameLen: r.FrameLen,
		Src: r.Src, Dst: r.Dst, SrcPort: r.SrcPort, DstPort: r.DstPort,
		Stream: r.Stream, Index: r.Index, FirstSeen: r.FirstSeen,
		Packet:   r.Packet,
		Findings: slices.Clone(r.Findings),
		Crypto:   r.Crypto,
	}
	c.Crypto.Plaintext = slices.Clone(r.Crypto.Plaintext)
	p := &c.Packet
	p.Raw = slices.Clone(r.Packet.Raw)
	p.Topic = slices.Clone(r.Packet.Topic)
	p.Payload = slices.Clone(r.Packet.Payload)
	p.Problems = slices.Clone(r.Packet.Problems)
	p.Fields = make([]decode.Field, len(r.Packet.Fields))
	for i, f := range r.Packet.Fields {
		f.Bytes = slices.Clone(f.Bytes)
		p.Fields[i] = f
	}
	return c
}

// readRecords runs a capture through the pipeline, as mqtap read does, and
// returns a copy of every record.
func readRecords(tb testing.TB, path string, ports ...uint16) []*session.Record {
	tb.Helper()
	rd, err := pcaps.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer rd.Close()
	var recs []*session.Record
	p, err := session.NewPipeline(rd.LinkType(), session.Options{Ports: ports}, func(r *session.Record) error {
		recs = append(recs, cloneRecord(r))
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
			tb.Fatalf("%s: %v", path, err)
		}
		if err := p.Frame(data, ci); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
	}
	if err := p.Close(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if len(recs) == 0 {
		tb.Fatalf("%s: no MQTT records", path)
	}
	return recs
}

// byFrame groups records by frame number, in capture order.
func byFrame(recs []*session.Record) (frames []int, group map[int][]*session.Record) {
	group = map[int][]*session.Record{}
	for _, r := range recs {
		if group[r.Frame] == nil {
			frames = append(frames, r.Frame)
		}
		group[r.Frame] = append(group[r.Frame], r)
	}
	return frames, group
}
