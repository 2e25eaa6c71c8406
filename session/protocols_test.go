package session

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProtocolsAgreeWithTshark compares the protocol chain of every TCP
// segment of the link samples with tshark's frame.protocols, up to tcp
// (fragments are not reassembled here, as Decode does not).
func TestProtocolsAgreeWithTshark(t *testing.T) {
	compared := 0
	for _, name := range linkSamples {
		path := samplePath(name)
		link, frames := readFrames(t, path)
		out, err := exec.Command("tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields", "-e", "frame.protocols").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", path, err)
		}
		want := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(want) != len(frames) {
			t.Fatalf("%s: %d frames, tshark %d", name, len(frames), len(want))
		}
		d, err := NewLayerDecoder(link)
		if err != nil {
			t.Fatal(err)
		}
		for i, data := range frames {
			seg := d.Decode(data)
			if !seg.TCP {
				continue
			}
			w := want[i]
			if k := strings.Index(w+":", ":tcp:"); k >= 0 {
				w = w[:k+4]
			}
			if got := seg.Protocols.String(); got != w {
				t.Errorf("%s frame %d: protocols %q, tshark %q", filepath.Base(path), i+1, got, w)
			}
			compared++
		}
	}
	if compared < 500 {
		t.Errorf("only %d segments compared", compared)
	}
}
