package filter

import (
	"testing"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/brokertest"
)

// samples is where the project's sample captures live.
const samples = "../../pcaps/samples/"

// cloneRecord copies a record the pipeline will reuse.
func cloneRecord(r *session.Record) *session.Record { return brokertest.CopyRecord(r) }

// readRecords runs a capture through the pipeline, as mqtap read does, and
// returns a copy of every record.
func readRecords(tb testing.TB, path string, ports ...uint16) []*session.Record {
	tb.Helper()
	recs, _ := brokertest.Records(tb, path, session.Options{Ports: ports})
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
