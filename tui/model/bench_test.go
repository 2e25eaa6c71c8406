package model

import (
	"context"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/source/file"
)

// benchPackets is the size of the capture BenchmarkOpen1M opens.
const benchPackets = 1_000_000

// millionCapture is a capture of benchPackets MQTT packets
// (pcaps.Synthesize), written once in the temporary directory, or the
// capture MQTAP_BENCH_CAPTURE names (scripts/bench.sh: real traffic).
func millionCapture(b *testing.B) string {
	b.Helper()
	if path := os.Getenv("MQTAP_BENCH_CAPTURE"); path != "" {
		return path
	}
	path, err := pcaps.SyntheticFile(os.TempDir(), benchPackets)
	if err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpen1M indexes a 1,000,000-packet capture as mqtap tui does and
// reports the time until the first screen's rows are readable, the time to
// index everything, and the peak heap.
func BenchmarkOpen1M(b *testing.B) {
	path := millionCapture(b)
	for b.Loop() {
		var peak atomic.Uint64
		stop := make(chan struct{})
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
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		c, err := New("bench", Options{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- readAll(path, c) }()
		var first time.Duration
		for c.Len() < 60 {
			time.Sleep(time.Millisecond)
		}
		for i := 0; i < 60; i++ { // the rows of a first screen
			if _, err := c.Row(i); err != nil {
				b.Fatal(err)
			}
		}
		first = time.Since(start)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)
		if _, err := c.Row(c.Len() - 1); err != nil { // the end of the list
			b.Fatal(err)
		}
		close(stop)
		<-sampled
		if c.Len() != benchPackets && os.Getenv("MQTAP_BENCH_CAPTURE") == "" {
			b.Fatalf("%d records, want %d", c.Len(), benchPackets)
		}
		c.Close()
		b.ReportMetric(float64(first.Microseconds())/1000, "first-screen-ms")
		b.ReportMetric(all.Seconds(), "index-s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	}
}

// readAll runs a capture file through the pipeline into c, as mqtap tui
// does (the file source's frame loop).
func readAll(path string, c *Capture) error {
	src, err := file.Open(path, file.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	if err := src.Run(context.Background(), session.New(session.Options{}, c.Handler())); err != nil {
		return err
	}
	c.Finish(nil)
	return nil
}

// BenchmarkSelect1M applies a display filter to the 1,000,000 records, as
// the filter bar does.
func BenchmarkSelect1M(b *testing.B) {
	path := millionCapture(b)
	c, err := New("bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := readAll(path, c); err != nil {
		b.Fatal(err)
	}
	expr := `mqtt.topic contains "sensor-7" && mqtt.msg contains "temp"`
	if e := os.Getenv("MQTAP_BENCH_FILTER"); e != "" {
		expr = e
	}
	f, err := filter.Compile(expr)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sel, err := c.Select(context.Background(), f, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(sel) != 110000 && os.Getenv("MQTAP_BENCH_CAPTURE") == "" {
			b.Fatalf("%d records selected, want 110000", len(sel))
		}
	}
}
