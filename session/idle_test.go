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
	for range 10 { // 1 ms apart: the quiet connection idles 11 ms
		p := publish("busy", 0, []byte("x"))
		frames = append(frames, testFrame{data: busy.frame(segment{fromClient: true, flags: "A", seq: seq, payload: p})})
		seq += uint32(len(p))
	}
	frames = append(frames, testFrame{data: quiet.frame(segment{fromClient: true, flags: "A", seq: uint32(len(connect311)), payload: publish("quiet", 0, []byte("y"))})})

	for _, tc := range []struct {
		closeAfter time.Duration
		quietAgain int // the stream of the quiet connection's PUBLISH
	}{
		{5 * time.Millisecond, 2}, // ended while idle: a new stream
		{time.Minute, 0},          // still open
	} {
		recs, _ := runFrames(t, Options{CloseAfter: tc.closeAfter, FlushAfter: time.Millisecond}, frames...)
		if len(recs) != 13 {
			t.Fatalf("CloseAfter %v: %d records, want 13", tc.closeAfter, len(recs))
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
