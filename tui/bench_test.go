package tui

import (
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/tui/model"
)

// BenchmarkFirstScreen1M opens a 1,000,000-packet capture in the UI as
// mqtap tui does (indexing in the background) on a 120x40 simulation
// screen, and reports the time until the first packets are on the screen,
// how long G (the last packet) takes to redraw while indexing goes on, the
// time until the whole capture is indexed, and the peak heap.
func BenchmarkFirstScreen1M(b *testing.B) {
	path, err := pcaps.SyntheticFile(os.TempDir(), 1_000_000)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var peak atomic.Uint64
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stopSampling:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		c, err := model.New("bench", model.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		indexed := make(chan error, 1)
		go func() { indexed <- feed(c, path, nil) }()
		screen := tcell.NewSimulationScreen("UTF-8")
		if err := screen.Init(); err != nil {
			b.Fatal(err)
		}
		screen.SetSize(120, 40)
		a, err := New(c, screen, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ran := make(chan error, 1)
		go func() { ran <- a.Run() }()
		text := func() string {
			var sb strings.Builder
			a.app.QueueUpdate(func() {
				cells, w, h := screen.GetContents()
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						if rs := cells[y*w+x].Runes; len(rs) > 0 {
							sb.WriteString(string(rs))
						} else {
							sb.WriteByte(' ')
						}
					}
					sb.WriteByte('\n')
				}
			})
			return sb.String()
		}
		waitFor := func(what string, ok func(string) bool) {
			deadline := time.Now().Add(30 * time.Second)
			for !ok(text()) {
				if time.Now().After(deadline) {
					b.Fatalf("never saw %s:\n%s", what, text())
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		waitFor("the first packets", func(s string) bool { return strings.Contains(s, "bench/0/sensor-0") })
		first := time.Since(start)
		t0 := time.Now()
		before := text()
		screen.InjectKey(tcell.KeyRune, 'G', tcell.ModNone)
		waitFor("the selection move to the end", func(s string) bool { return s != before })
		jump := time.Since(t0)
		if err := <-indexed; err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)
		screen.InjectKey(tcell.KeyRune, 'G', tcell.ModNone)
		waitFor("the last packet", func(s string) bool { return strings.Contains(s, "1000000 ") })
		close(stopSampling)
		<-sampled
		a.Stop()
		if err := <-ran; err != nil {
			b.Fatal(err)
		}
		c.Close()
		b.ReportMetric(float64(first.Microseconds())/1000, "first-screen-ms")
		b.ReportMetric(float64(jump.Microseconds())/1000, "G-while-indexing-ms")
		b.ReportMetric(all.Seconds(), "index-s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	}
}
