package session

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/mqtap/mqtap/pcaps"
)

// captured is one frame of a capture held in memory.
type captured struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// readCapture reads every frame of a capture file into memory.
func readCapture(t *testing.T, path string) ([]captured, *pcaps.Reader) {
	t.Helper()
	r, err := pcaps.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var frames []captured
	for {
		data, ci, err := r.Next()
		if errors.Is(err, io.EOF) {
			return frames, r
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		frames = append(frames, captured{append([]byte(nil), data...), ci})
	}
}

// seen is what the gap test compares of a record.
type seen struct {
	frame     int
	src, dst  netip.AddrPort
	typ       string
	length    int
	id        uint16
	topic     string
	truncated bool
	// lossy: a compressed WebSocket direction that keeps its context: after
	// a lost message the next ones cannot be inflated.
	lossy bool
	// malformed: the packet is not valid MQTT (a client interleaving the
	// pieces of two packets): what a resynchronisation finds around it is
	// not a ground truth.
	malformed bool
}

func (s seen) String() string {
	s.lossy, s.malformed = false, false
	return fmt.Sprintf("%s@%d %v→%v len %d id %d %q", s.typ, s.frame, s.src, s.dst, s.length, s.id, s.topic)
}

// records runs frames (all but frame skip, numbered from 1; 0 keeps all)
// through a pipeline and returns what it reported, with frame numbers of
// the original capture.
func records(t *testing.T, link layers.LinkType, frames []captured, skip int) []seen {
	t.Helper()
	var got []seen
	var orig []int // frame number in the original capture of each frame fed
	p, err := NewPipeline(link, Options{}, func(r *Record) error {
		got = append(got, seen{frame: orig[r.Frame-1], src: netip.AddrPortFrom(r.Src, r.SrcPort), dst: netip.AddrPortFrom(r.Dst, r.DstPort),
			typ: r.Packet.Type.String(), length: len(r.Packet.Raw), id: r.Packet.PacketID, topic: string(r.Packet.Topic), truncated: r.Packet.Truncated,
			lossy: r.WebSocket != nil && r.WebSocket.ContextTakeover, malformed: r.Packet.Malformed() != ""})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if i+1 == skip {
			continue
		}
		orig = append(orig, i+1)
		if err := p.Frame(f.data, f.ci); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestEveryLostSegmentOfTheSamples drops, one at a time, every frame that
// carries TCP data from each sample capture, and checks the records
// against those of the whole capture (the ground truth): nothing of the
// other directions changes, nothing before the gap changes, the output
// stays in frame order, and decoding resumes at the first packet that
// starts after the lost bytes: only the packets with bytes in the lost
// frame are missing (one of them may be reported truncated).
func TestEveryLostSegmentOfTheSamples(t *testing.T) {
	files, _ := filepath.Glob("../pcaps/samples/*.pcap*")
	if dir := os.Getenv("MQTAP_SHARED"); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "captures", "conformance", "*.pcap"))
		files = append(files, more...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d captures found", len(files))
	}
	drops := 0
	for _, file := range files {
		frames, r := readCapture(t, file)
		link := r.LinkType()
		whole := records(t, link, frames, 0)
		dec, err := NewLayerDecoder(link)
		if err != nil {
			t.Fatal(err)
		}
		for k := 1; k <= len(frames); k++ {
			seg := dec.Decode(frames[k-1].data)
			if !seg.TCP || len(dec.TCP.Payload) == 0 {
				continue
			}
			src := netip.AddrPortFrom(seg.Src, uint16(dec.TCP.SrcPort))
			dst := netip.AddrPortFrom(seg.Dst, uint16(dec.TCP.DstPort))
			drops++
			checkDrop(t, fmt.Sprintf("%s without frame %d", filepath.Base(file), k), whole, records(t, link, frames, k), k, src, dst)
		}
	}
	if drops < 500 {
		t.Errorf("only %d frames dropped in all", drops)
	}
}

// sameAfterGap reports whether the records after a gap are the ground
// truth's, but for the topics that topic aliases set in the lost bytes
// would have given: those are unknown (empty).
func sameAfterGap(got, want []seen) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		g.lossy, w.lossy, g.malformed, w.malformed = false, false, false, false
		if g.topic == "" {
			g.topic = w.topic
		}
		if g != w {
			return false
		}
	}
	return true
}

// subsequence reports whether got is want with packets left out.
func subsequence(got, want []seen) bool {
	k := 0
	for _, w := range want {
		if k < len(got) && sameAfterGap(got[k:k+1], []seen{w}) {
			k++
		}
	}
	return k == len(got)
}

// checkDrop compares the records of a capture that lost frame k (data
// from src to dst) with those of the whole capture.
func checkDrop(t *testing.T, name string, whole, got []seen, k int, src, dst netip.AddrPort) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i].frame < got[i-1].frame {
			t.Errorf("%s: %v after %v: not in frame order", name, got[i], got[i-1])
			return
		}
	}
	affected := func(s seen) bool { return s.src == src && s.dst == dst && s.frame >= k }
	var want, have []seen
	completed := 0 // packets of the direction completed by the lost frame
	for _, s := range whole {
		if affected(s) {
			if s.frame == k {
				completed++
			}
			continue
		}
		want = append(want, s)
	}
	var after []seen
	cut := 0
	for _, s := range got {
		switch {
		case s.truncated && s.src == src && s.dst == dst:
			cut++ // the packet the gap cut, reported with the bytes captured
		case affected(s):
			after = append(after, s)
		default:
			have = append(have, s)
		}
	}
	if cut > 1 {
		t.Errorf("%s: %d packets reported truncated for one lost frame", name, cut)
	}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("%s: the records outside the gap changed:\n got %v\nwant %v", name, have, want)
		return
	}
	var rest []seen // the affected direction's packets after the lost frame
	lossy := false
	for _, s := range whole {
		if affected(s) && s.frame > k {
			rest = append(rest, s)
		}
		if affected(s) && (s.lossy || s.malformed) {
			lossy = true
		}
	}
	// The first packet that starts after the lost bytes may complete in
	// the frame after them: everything from the first packet found on is
	// the ground truth's tail.
	lostAfter := len(rest) - len(after)
	if lossy && subsequence(after, rest) {
		return // a direction whose next packets may be lost too: those found are right
	}
	if lostAfter < 0 || !sameAfterGap(after, rest[lostAfter:]) {
		t.Errorf("%s: after the gap\n got %v\nwant a tail of %v", name, after, rest)
		return
	}
	if lostAfter > 1 && !lossy {
		t.Errorf("%s: %d packets after the lost frame are missing (%d completed in it): decoding resumed late\n got %v\nwant %v", name, lostAfter, completed, after, rest)
	}
}
