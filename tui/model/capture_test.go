package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
	"github.com/mqtap/mqtap/session/source/file"
)

// load indexes a capture file, and also returns every record as NDJSON and
// as text lines the way mqtap read prints them, for comparison.
func load(t testing.TB, path string, store *keys.Store) (c *Capture, ndjson []string, text []string) {
	t.Helper()
	c, err := New(filepath.Base(path), Options{Keys: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var jb, tb bytes.Buffer
	jw, _ := output.New(&jb, output.Options{Format: output.NDJSON})
	tw, _ := output.New(&tb, output.Options{Format: output.Text})
	h := c.Handler()
	src, err := file.Open(path, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := session.New(session.Options{Keys: store}, func(rec *session.Record) error {
		if err := h(rec); err != nil {
			return err
		}
		jw.Write(rec)
		return tw.Write(rec)
	})
	if err := src.Run(context.Background(), p); err != nil { // closes p
		t.Fatal(err)
	}
	c.Finish(nil)
	jw.Close()
	tw.Close()
	return c, lines(jb.String()), lines(tb.String())
}

// lines splits output into lines; no output is no lines.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func ndjsonOf(t testing.TB, r *session.Record) string {
	var b bytes.Buffer
	w, _ := output.New(&b, output.Options{Format: output.NDJSON})
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return strings.TrimSuffix(b.String(), "\n")
}

func labKeys(t testing.TB) *keys.Store {
	store, err := keys.Load("../../pcaps/samples/keys/lab-session/requester")
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// TestRecordsRoundTrip: every record read back from the index, rows and
// full records, prints exactly as the pipeline's own record did: every
// field, the decryption results and the findings, on every sample and
// conformance capture.
func TestRecordsRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../pcaps/samples/*.pcap*")
	conf, _ := filepath.Glob(filepath.Join(sharedDir(t), "captures", "conformance", "*.pcap"))
	files = append(files, conf...)
	if len(files) < 10 {
		t.Fatalf("only %d captures found", len(files))
	}
	total, keyed := 0, 0
	for _, f := range files {
		var store *keys.Store
		name := strings.SplitN(filepath.Base(f), ".", 2)[0]
		for _, k := range []string{"requester", "keyring.toml"} {
			p := filepath.Join("../../pcaps/samples/keys", name, k)
			if _, err := os.Stat(p); err == nil {
				if store, err = keys.Load(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		c, want, text := load(t, f, store)
		if c.Len() != len(want) || !c.State().Done {
			t.Fatalf("%s: %d records indexed, %d printed, state %+v", f, c.Len(), len(want), c.State())
		}
		for i := range want {
			r, err := c.Record(i)
			if err != nil {
				t.Fatalf("%s: record %d: %v", f, i, err)
			}
			if got := ndjsonOf(t, r); got != want[i] {
				t.Errorf("%s: record %d differs\n got %s\nwant %s", f, i, got, want[i])
			}
			row, err := c.Row(i)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(text[i], " "+row.Info) || !strings.Contains(text[i], row.Src+" → "+row.Dst) {
				t.Errorf("%s: row %d %+v does not match the text line %q", f, i, row, text[i])
			}
		}
		total += len(want)
		if store != nil {
			keyed++
		}
	}
	if keyed < 5 {
		t.Errorf("only %d captures read with keys", keyed)
	}
	t.Logf("%d records in %d captures", total, len(files))
}

func sharedDir(t testing.TB) string {
	t.Helper()
	dir := "../../../shared"
	if d := getenv("MQTAP_SHARED"); d != "" {
		dir = d
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// TestLabAggregates checks the views' data on the lab sample: sessions,
// topics, findings, statistics, selections and conversations.
func TestLabAggregates(t *testing.T) {
	c, want, _ := load(t, "../../pcaps/samples/lab-session.pcapng", labKeys(t))
	sessions := c.Sessions()
	if len(sessions) != 5 || sessions[0].ID != "le0nh4rt#1" || sessions[0].Status != "ok" || sessions[0].Decrypted == 0 || sessions[0].KeySide != "requester" {
		t.Errorf("sessions: %+v", sessions)
	}
	root := c.Topics()
	var le0n *TopicNode
	for _, ch := range root.Children {
		if ch.Name == "le0nh4rt" {
			le0n = ch
		}
	}
	if le0n == nil || le0n.Total == 0 || root.Total != c.Stats().ByType[3] {
		t.Fatalf("topic tree: root total %d, le0nh4rt %+v", root.Total, le0n)
	}
	found := false
	var walk func(n *TopicNode)
	walk = func(n *TopicNode) {
		if n.Path == "le0nh4rt/uppercase/response" && n.Last == "NETWORKING IS THE BEST!" && n.Messages > 0 && n.LastRecord >= 0 {
			found = true
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(root)
	if !found {
		t.Error("the topic tree has no decrypted last value for le0nh4rt/uppercase/response")
	}
	st := c.Stats()
	if st.Packets != len(want) || st.Streams == 0 || len(st.Topics) == 0 || len(st.Clients) == 0 || len(st.PerSecond) == 0 {
		t.Errorf("stats %+v", st)
	}
	sum := 0
	for _, n := range st.PerSecond {
		sum += n
	}
	if sum != st.Packets {
		t.Errorf("per-second buckets sum to %d, not %d", sum, st.Packets)
	}

	// Select agrees with the filter applied to the pipeline's records.
	f, err := filter.Compile(`mqtap.decrypt == "ok" && mqtt.topic contains "uppercase"`)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(context.Background(), f, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		in := strings.Contains(want[i], `"mqtap.decrypt":"ok"`) && strings.Contains(want[i], "uppercase")
		has := containsInt(sel, i)
		if in != has {
			t.Errorf("record %d: selected %v, want %v", i, has, in)
		}
	}
	if len(sel) == 0 {
		t.Fatal("empty selection")
	}
	later, _ := c.Select(context.Background(), f, sel[1], nil)
	if len(later) != len(sel)-1 {
		t.Errorf("selection from %d: %d records, want %d", sel[1], len(later), len(sel)-1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Select(ctx, f, 0, nil); err == nil {
		t.Error("a cancelled selection did not stop")
	}

	// A conversation is one stream, in order.
	row, _ := c.Row(sel[0])
	conv, err := c.Conversation(row.Stream)
	if err != nil || !containsInt(conv, sel[0]) {
		t.Fatalf("conversation of stream %d: %v %v", row.Stream, conv, err)
	}
	for _, i := range conv {
		if r, _ := c.Row(i); r.Stream != row.Stream {
			t.Errorf("record %d of stream %d in the conversation of %d", i, r.Stream, row.Stream)
		}
	}
	if i, ok := c.FindFrame(row.Frame); !ok || i > sel[0] {
		t.Errorf("FindFrame(%d) = %d %v", row.Frame, i, ok)
	}
	if _, ok := c.FindFrame(1 << 30); ok {
		t.Error("found a frame that does not exist")
	}
	if _, err := c.Row(c.Len()); err == nil {
		t.Error("a row past the end")
	}
}

// TestFindingsOrder: high severity first, and end-of-capture findings
// (kex.unanswered) are included.
func TestFindingsOrder(t *testing.T) {
	c, _, _ := load(t, "../../pcaps/samples/lab-unanswered.pcapng", nil)
	fs := c.Findings()
	unanswered := false
	for i, f := range fs {
		if i > 0 && f.Severity() > fs[i-1].Severity() {
			t.Fatalf("finding %d (%s) is more severe than the one before", i, f.Code)
		}
		if f.Code.String() == "kex.unanswered" && f.Record == -1 {
			unanswered = true
		}
	}
	if !unanswered {
		t.Errorf("no kex.unanswered among %d findings", len(fs))
	}
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func getenv(k string) string { return os.Getenv(k) }

// TestSelectAcrossChunks: Select reads records a chunk at a time; over
// several chunks and from an offset it picks what matching each record
// read on its own picks.
func TestSelectAcrossChunks(t *testing.T) {
	path, err := pcaps.SyntheticFile(t.TempDir(), 40000)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := load(t, path, nil)
	for _, q := range []struct {
		expr string
		from int
	}{
		{`mqtt.topic contains "sensor-7" || frame.number == 33333`, 5000},
		{`mqtt.topic == "bench/3/sensor-91"`, 5000}, // skips other PUBLISH records by their indexed topic
		{`frame.number > 100 and mqtt.topic eq "bench/3/sensor-7" and mqtt.msgtype == 3`, 5000},
		{`mqtt.msgtype == 2`, 0}, // skips the records of other types by their row
		{`mqtt.msgtype == 3 && frame.number > 30000`, 5000},
	} {
		expr, from := q.expr, q.from
		f, err := filter.Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Select(context.Background(), f, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		for i := from; i < c.Len(); i++ {
			r, err := c.Record(i)
			if err != nil {
				t.Fatal(err)
			}
			if f.Match(r) {
				want = append(want, i)
			}
		}
		if c.Len()-from < 2*16384 || len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: of %d records Select picked %d, one by one %d", expr, c.Len(), len(got), len(want))
		}
	}
}

// TestNameLimits: past 100,000 distinct topics and clients (and seconds of
// the rate chart), the counts stop growing for new ones and say how much
// they left out.
func TestNameLimits(t *testing.T) {
	c, err := New("names", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	add := c.Handler()
	const n = maxNames + 7
	var conn decode.Conn
	conn.SetVersion(decode.V311)
	for i := range n {
		topic := fmt.Sprintf("fleet/dev-%06d", i)
		raw := append([]byte{0x30, byte(2 + len(topic) + 1), 0, byte(len(topic))}, topic...)
		raw = append(raw, '1')
		r := &session.Record{Frame: i + 1, Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("10.255.0.1"),
			SrcPort: 40000, DstPort: 1883, Stream: i, FirstSeen: true, Relative: time.Duration(i) * time.Second}
		conn.Decode(raw, true, &r.Packet)
		if err := add(r); err != nil {
			t.Fatal(err)
		}
	}
	c.Finish(nil)
	root := c.Topics()
	if root.Total != maxNames || root.Uncounted != 7 || len(root.Children) != 1 || len(root.Children[0].Children) != maxNames {
		t.Errorf("topics: %d counted, %d uncounted, tree %d/%d; want %d and 7", root.Total, root.Uncounted, len(root.Children), len(root.Children[0].Children), maxNames)
	}
	if st := c.Stats(); st.ClientsUncounted != 7 || st.LatePackets != n-maxSeconds || len(st.PerSecond) != maxSeconds {
		t.Errorf("clients past the limit: %d packets uncounted, want 7; %d seconds, %d packets late, want %d and %d", st.ClientsUncounted, len(st.PerSecond), st.LatePackets, maxSeconds, n-maxSeconds)
	}
}

// TestIndexerFlushAndErrors: records handed to the capture are visible
// once Flush returns, in order; an error writing the index comes back from
// Flush and from the records handed after it.
func TestIndexerFlushAndErrors(t *testing.T) {
	c, err := New("flush", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	add := c.Handler()
	var conn decode.Conn
	conn.SetVersion(decode.V311)
	publish := func(i int) error {
		topic := fmt.Sprintf("t/%d", i)
		raw := append([]byte{0x30, byte(2 + len(topic) + 1), 0, byte(len(topic))}, topic...)
		raw = append(raw, 'x')
		r := &session.Record{Frame: i + 1, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 1883}
		conn.Decode(raw, true, &r.Packet)
		return add(r)
	}
	for i := range 1000 {
		if err := publish(i); err != nil {
			t.Fatal(err)
		}
		if i == 0 || i == 299 || i == 999 {
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			if c.Len() != i+1 {
				t.Fatalf("after %d records and a flush, %d visible", i+1, c.Len())
			}
		}
	}
	for _, i := range []int{0, 299, 999} {
		row, err := c.Row(i)
		if err != nil || row.Topic != fmt.Sprintf("t/%d", i) || row.Frame != i+1 {
			t.Errorf("record %d: %+v %v", i, row, err)
		}
	}
	c.blob.Close() // the spool can no longer be written
	if err := publish(1000); err != nil {
		t.Fatalf("a record before the flush failed: %v", err)
	}
	if err := c.Flush(); err == nil || !strings.Contains(err.Error(), "writing the index") {
		t.Fatalf("flush after the spool closed: %v", err)
	}
	if err := publish(1001); err == nil {
		t.Error("a record after a failed flush was accepted")
	}
}

// TestIndexReadsOnlyWhatItCopies: the index built from the part of each
// record the Handler copies (copyForIndex) is the one built from whole
// copies, byte for byte, with the same statistics, topics, findings and
// sessions, on every sample with its keys.
func TestIndexReadsOnlyWhatItCopies(t *testing.T) {
	samples, err := filepath.Glob("../../pcaps/samples/*.pcap*")
	if err != nil || len(samples) < 20 {
		t.Fatalf("samples: %v (%d)", err, len(samples))
	}
	part := copyForIndex
	defer func() { copyForIndex = part }()
	for _, path := range samples {
		var store *keys.Store
		if dir := filepath.Join("../../pcaps/samples/keys", strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), filepath.Ext(strings.TrimSuffix(filepath.Base(path), ".gz")))); dirExists(dir) {
			if store, err = keys.Load(dir); err != nil {
				t.Fatal(err)
			}
		}
		var spools [2][2][]byte
		var views [2]string
		for k, cp := range []func(r, dst *session.Record){part, (*session.Record).CopyTo} {
			copyForIndex = cp
			c, _, _ := load(t, path, store)
			for j, name := range []string{"rows", "blobs"} {
				if spools[k][j], err = os.ReadFile(filepath.Join(c.dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			view, err := json.Marshal([]any{c.Stats(), c.Topics(), c.Findings(), c.Sessions()})
			if err != nil {
				t.Fatal(err)
			}
			views[k] = string(view)
		}
		if !bytes.Equal(spools[0][0], spools[1][0]) || !bytes.Equal(spools[0][1], spools[1][1]) {
			t.Errorf("%s: the spool of partial copies differs from that of whole copies", filepath.Base(path))
		}
		if views[0] != views[1] {
			t.Errorf("%s: the aggregates of partial copies differ from those of whole copies:\n%s\n%s", filepath.Base(path), views[0], views[1])
		}
	}
}

func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
