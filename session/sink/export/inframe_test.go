package export

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mqtap/mqtap/session"
)

// TestInFrameNeedsNoEarlierFrame checks Record.InFrame, on which Frames
// shortens (or skips) the pass that finds the earlier segments of the
// selected packets: on every sample and conformance capture, that pass
// stopped after the last packet not marked InFrame finds the frames it
// finds when it reads up to the last selected packet, whether every
// packet is selected or only those marked InFrame (no pass at all).
func TestInFrameNeedsNoEarlierFrame(t *testing.T) {
	shared := os.Getenv("MQTAP_SHARED")
	if shared == "" {
		t.Fatal("MQTAP_SHARED is not set: the conformance captures are in ../shared/captures/conformance")
	}
	var paths []string
	for _, glob := range []string{"../../../pcaps/samples/*.pcap*", "../../testdata/*.pcap*", filepath.Join(shared, "captures/conformance/*.pcap*")} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 40 {
		t.Fatalf("only %d captures found", len(paths))
	}
	trim := func(m bitmap) bitmap {
		for len(m) > 0 && m[len(m)-1] == 0 {
			m = m[:len(m)-1]
		}
		return m
	}
	needs := func(path string, c *Collector) (short, full bitmap) {
		short, _, err := plan(context.Background(), path, c, false, session.Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		saved := c.lastSplit
		c.lastSplit = c.maxFrame // as if every packet might need earlier frames
		full, _, err = plan(context.Background(), path, c, false, session.Options{})
		c.lastSplit = saved
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return trim(short), trim(full)
	}
	inFrame, all, shortened := 0, 0, 0
	for _, path := range paths {
		every := collect(t, path, nil, nil)
		all += every.Selected()
		if every.lastSplit < every.maxFrame {
			shortened++
		}
		if short, full := needs(path, every); !slices.Equal(short, full) {
			t.Errorf("%s, every packet: the pass up to frame %d finds %d frames, the whole pass %d", path, every.lastSplit, short.count(), full.count())
		}
		whole := collect(t, path, nil, func(r *session.Record) bool { return r.InFrame })
		inFrame += whole.Selected()
		if short, full := needs(path, whole); !slices.Equal(short, full) || whole.lastSplit == 0 && !slices.Equal(full, trim(whole.frames)) {
			t.Errorf("%s, the packets marked InFrame: the pass up to frame %d finds %d frames, the whole pass %d, of their own %d", path, whole.lastSplit, short.count(), full.count(), whole.frames.count())
		}
	}
	// Most packets of real captures come whole in a frame.
	if inFrame < all/2 || shortened == 0 {
		t.Errorf("%d of %d packets marked InFrame; %d captures with a shortened pass", inFrame, all, shortened)
	}
	t.Logf("%d of %d packets in %d captures marked InFrame; the pass was shortened on %d", inFrame, all, len(paths), shortened)
}
