package session

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
)

// TestFrameDecodedAsFrame: frames whose headers another LayerDecoder read
// (as the file source's reading goroutine does) give the records Frame
// gives, on every sample (fragments included, which FrameDecoded decodes
// again).
func TestFrameDecodedAsFrame(t *testing.T) {
	samples, err := filepath.Glob("../pcaps/samples/*.pcap*")
	if err != nil || len(samples) < 20 {
		t.Fatalf("samples: %v (%d)", err, len(samples))
	}
	decoded := 0
	for _, path := range samples {
		var want, got strings.Builder
		for _, ahead := range []bool{false, true} {
			out := &want
			if ahead {
				out = &got
			}
			p := New(Options{}, func(r *Record) error {
				fmt.Fprintf(out, "%d %d %s %s %v\n", r.Frame, r.Stream, r.Packet.Type, decode.Info(&r.Packet), r.Findings)
				return nil
			})
			r, err := pcaps.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			decs := map[int]*LayerDecoder{}
			r.SetHooks(pcaps.Hooks{Interface: func(f pcaps.Interface) {
				p.AddInterface(Interface{Index: f.Index, ID: f.ID, Name: f.Name, Link: f.LinkType, Described: f.Described})
				decs[f.Index], _ = NewLayerDecoder(f.LinkType)
			}})
			err = r.Each(func(data []byte, ci gopacket.CaptureInfo) error {
				d := decs[ci.InterfaceIndex]
				if !ahead || d == nil {
					return p.Frame(data, ci)
				}
				seg := d.Decode(data)
				if seg.TCP && !seg.Fragment {
					decoded++
				}
				return p.FrameDecoded(data, ci, &Decoded{Seg: seg, TCP: d.Header()})
			})
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if got.String() != want.String() {
			t.Errorf("%s: records with headers decoded ahead differ:\n%s\nwant\n%s", filepath.Base(path), got.String(), want.String())
		}
	}
	if decoded < 1000 {
		t.Errorf("%d frames decoded ahead", decoded)
	}
}
