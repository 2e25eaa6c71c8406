package session

import (
	"testing"
	"time"
)

// TestIdleConnectionsEnd: a connection idle for longer than CloseAfter (in
// capture time) is ended, and its next segment opens a new stream, while a
// connection that keeps carrying segments stays open.
func TestIdleConnectionsEnd(t *testing.T) {
	quiet := &conversation{t: t, clientPort: 40001, serverPort: 1883, isn: [2]uint32{100, 200}}
	busy := &conversation{t: t, clientPort: 40002, serverPort: 1883, isn: [2]uint32{300, 400}}
	frames := []testFrame{{data: quiet.frame(segment{fromClient: true, flags: "A", payload: connect311})}}
	seq := uint32(len(connect311))
	frames = append(frames, testFrame{data: busy.frame(segment{fromClient: true, flags: "A", payload: connect311})})
	for range 50 { // 1 ms apart: the quiet connection idles 51 ms
		p := publish("busy", 0, []byte("x"))
		frames = append(frames, testFrame{data: busy.frame(segment{fromClient: true, flags: "A", seq: seq, payload: p})})
		seq += uint32(len(p))
	}
	frames = append(frames, testFrame{data: quiet.frame(segment{fromClient: true, flags: "A", seq: uint32(len(connect311)), payload: publish("quiet", 0, []byte("y"))})})

	for _, tc := range []struct {
		closeAfter time.Duration
		quietAgain int // the stream of the quiet connection's PUBLISH
	}{
		{5 * time.Millisecond, 2},  // ended while idle: a new stream
		{20 * time.Millisecond, 2}, // the same, later
		{time.Minute, 0},           // still open
	} {
		recs, _ := runFrames(t, Options{CloseAfter: tc.closeAfter, FlushAfter: time.Millisecond}, frames...)
		if len(recs) != 53 {
			t.Fatalf("CloseAfter %v: %d records, want 53", tc.closeAfter, len(recs))
		}
		for _, r := range recs {
			want := 1
			switch {
			case r.Topic == "quiet":
				want = tc.quietAgain
			case r.SrcPort == 40001:
				want = 0
			}
			if r.Stream != want {
				t.Errorf("CloseAfter %v: frame %d (%s %s) on stream %d, want %d", tc.closeAfter, r.Frame, r.Type, r.Topic, r.Stream, want)
			}
		}
	}
}

// TestIdleConnectionNotEndedEarly: a connection whose last segment is
// exactly CloseAfter old is not ended, even after a pause in which other
// connections carried every frame, and keeps its stream.
func TestIdleConnectionNotEndedEarly(t *testing.T) {
	late := &conversation{t: t, clientPort: 40003, serverPort: 1883, isn: [2]uint32{100, 200}}
	busy := &conversation{t: t, clientPort: 40004, serverPort: 1883, isn: [2]uint32{300, 400}}
	p1 := publish("late", 0, []byte("1"))
	frames := []testFrame{
		{data: late.frame(segment{fromClient: true, flags: "A", payload: connect311})},  // 1 ms
		{data: late.frame(segment{fromClient: true, flags: "A", seq: 20, payload: p1})}, // 2 ms
	}
	frames = append(frames, testFrame{data: busy.frame(segment{fromClient: true, flags: "A", payload: connect311})})
	seq := uint32(len(connect311))
	for range 15 { // 4 to 18 ms
		p := publish("busy", 0, []byte("x"))
		frames = append(frames, testFrame{data: busy.frame(segment{fromClient: true, flags: "A", seq: seq, payload: p})})
		seq += uint32(len(p))
	}
	// At 18 ms its last segment is exactly CloseAfter old: not ended. At
	// 19 ms its next segment comes before the expiry of that frame.
	frames = append(frames, testFrame{data: late.frame(segment{fromClient: true, flags: "A", seq: 20 + uint32(len(p1)), payload: publish("late", 0, []byte("2"))})})
	recs, _ := runFrames(t, Options{CloseAfter: 16 * time.Millisecond, FlushAfter: time.Millisecond}, frames...)
	if len(recs) != 19 {
		t.Fatalf("%d records, want 19", len(recs))
	}
	for _, r := range recs {
		want := 1
		if r.SrcPort == 40003 {
			want = 0 // never ended: one stream
		}
		if r.Stream != want {
			t.Errorf("frame %d (%s %s %q) on stream %d, want %d", r.Frame, r.Type, r.Topic, r.Payload, r.Stream, want)
		}
	}
}
