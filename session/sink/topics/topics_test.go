package topics

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// publish returns a PUBLISH record on topic with payload, sent by the
// client (published) or by the broker (delivered).
func publish(frame int, topic, data string, fromClient bool) *session.Record {
	return &session.Record{Frame: frame, Time: time.Unix(1700000000, int64(frame)*1e6),
		Packet: decode.Packet{Type: decode.PUBLISH, Topic: []byte(topic), Payload: []byte(data), FromClient: fromClient}}
}

func TestTableCountsEachMessageOnce(t *testing.T) {
	tb := NewTable()
	// a/t published twice and delivered twice: counted from the publisher
	tb.Observe(publish(1, "a/t", `{"t":20,"ok":true,"s":"x"}`, true))
	tb.Observe(publish(2, "a/t", `{"t":20,"ok":true,"s":"x"}`, false))
	tb.Observe(publish(3, "a/t", `{"t":26,"ok":false}`, true))
	tb.Observe(publish(4, "a/t", `{"t":26,"ok":false}`, false))
	// b only delivered (a subscriber's capture): counted from the broker
	tb.Observe(publish(5, "b", "21.5", false))
	tb.Observe(publish(6, "b", "22.5", false))
	// c has no numeric member
	tb.Observe(publish(7, "c", "hello", true))
	tb.Observe(&session.Record{Frame: 8, Packet: decode.Packet{Type: decode.PINGREQ}})

	got := tb.Topics()
	if len(got) != 3 {
		t.Fatalf("%d topics, want 3", len(got))
	}
	a := got[0].Stats()
	if a.Messages != 2 || a.Bytes != len(`{"t":20,"ok":true,"s":"x"}`)+len(`{"t":26,"ok":false}`) || a.Format.String() != "json" {
		t.Errorf("a/t: %d messages, %d bytes, format %s", a.Messages, a.Bytes, a.Format)
	}
	if len(a.Members) != 2 || a.Members[0].Path != "t" || a.Members[0].Min != 20 || a.Members[0].Max != 26 || a.Members[0].Mean() != 23 || a.Members[0].Last != 26 {
		t.Errorf("a/t members: %+v", a.Members)
	}
	if ok := a.Members[1]; ok.Path != "ok" || ok.Min != 0 || ok.Max != 1 {
		t.Errorf("a/t ok: %+v", ok)
	}
	if b := got[1].Stats(); b.Messages != 2 || len(b.Members) != 1 || b.Members[0].Path != "" || b.Members[0].Mean() != 22 {
		t.Errorf("b: %+v", b)
	}
	if !got[0].Stats().First.Equal(time.Unix(1700000000, 1e6)) || !got[0].Stats().Last.Equal(time.Unix(1700000000, 3e6)) {
		t.Errorf("a/t times %v %v", got[0].Stats().First, got[0].Stats().Last)
	}

	var buf bytes.Buffer
	if err := WriteTable(&buf, CSV, tb); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		tableColumns,
		{"a/t", "2", "45", "1700000000.001000000", "1700000000.003000000", "json", "t", "20", "26", "23", "26"},
		{"a/t", "2", "45", "1700000000.001000000", "1700000000.003000000", "json", "ok", "0", "1", "0.5", "0"},
		{"b", "2", "8", "1700000000.005000000", "1700000000.006000000", "text", "", "21.5", "22.5", "22", "22.5"},
		{"c", "1", "5", "1700000000.007000000", "1700000000.007000000", "", "", "", "", "", ""}, // text that is not a number has no format
	}
	if len(rows) != len(want) {
		t.Fatalf("CSV:\n%v\nwant\n%v", rows, want)
	}
	for i := range want {
		if strings.Join(rows[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("CSV row %d: %v, want %v", i, rows[i], want[i])
		}
	}

	buf.Reset()
	if err := WriteTable(&buf, JSON, tb); err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &objs); err != nil {
		t.Fatalf("JSON: %v\n%s", err, buf.String())
	}
	if len(objs) != 4 || objs[0]["mean"] != 23.0 || objs[3]["min"] != nil || objs[2]["member"] != "" {
		t.Errorf("JSON: %v", objs)
	}
}

func TestTableBounds(t *testing.T) {
	tb := NewTable()
	js := `[` + strings.TrimSuffix(strings.Repeat("1,", MaxMembers+10), ",") + `]`
	tb.Observe(publish(1, "many", js, true))
	if got := len(tb.Topics()[0].Stats().Members); got != MaxMembers {
		t.Errorf("%d members kept, want %d", got, MaxMembers)
	}
	if _, members := tb.Dropped(); members != 10 {
		t.Errorf("%d member values reported left out, want 10", members)
	}
	for i := range MaxTopics + 5 {
		tb.Observe(publish(i, "t/"+strconv.Itoa(i), "1", true))
	}
	if msgs, _ := tb.Dropped(); msgs != 6 { // "many" holds one of the MaxTopics
		t.Errorf("%d messages reported left out, want 6", msgs)
	}
}

func TestHistory(t *testing.T) {
	h := NewHistory("s")
	h.Observe(publish(1, "s", `{"a":1}`, false)) // delivered, left for the published ones
	h.Observe(publish(2, "s", `{"a":1}`, true))
	h.Observe(publish(3, "other", `{"a":9}`, true))
	h.Observe(publish(4, "s", `{"b":2,"a":3}`, true))
	h.Observe(publish(5, "s", `not json`, true))
	var buf bytes.Buffer
	if err := WriteHistory(&buf, CSV, h); err != nil {
		t.Fatal(err)
	}
	want := "frame,time,topic,a,b\n" +
		"2,1700000000.002000000,s,1,\n" +
		"4,1700000000.004000000,s,3,2\n" +
		"5,1700000000.005000000,s,,\n"
	if buf.String() != want {
		t.Errorf("history CSV:\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := WriteHistory(&buf, JSON, h); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		t.Fatalf("history JSON: %v\n%s", err, buf.String())
	}
	if len(rows) != 3 || rows[1]["b"] != 2.0 || rows[2]["a"] != nil || rows[0]["time"] != 1700000000.002 {
		t.Errorf("history JSON: %v", rows)
	}
}
