package file_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
)

const samples = "../../../pcaps/samples"

// run reads src through a new pipeline and returns the MQTT packet types in
// order with the pipeline's counters.
func run(t *testing.T, src *file.Source, opts session.Options) ([]string, session.Stats) {
	t.Helper()
	var types []string
	p := session.New(opts, func(r *session.Record) error {
		types = append(types, r.Packet.Type.String())
		return nil
	})
	if err := src.Run(context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return types, p.Stats()
}

func open(t *testing.T, path string, opts file.Options) *file.Source {
	t.Helper()
	src, err := file.Open(path, opts)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestRunWholeAndLimited reads a sample whole, then only its first frames.
func TestRunWholeAndLimited(t *testing.T) {
	path := filepath.Join(samples, "mqtt5.pcapng")
	all, st := run(t, open(t, path, file.Options{}), session.Options{})
	if len(all) < 10 || st.Packets != len(all) {
		t.Fatalf("whole sample: %d records, Stats.Packets %d", len(all), st.Packets)
	}
	if all[0] != "CONNECT" {
		t.Fatalf("first record %s, want CONNECT", all[0])
	}
	half := st.Frames / 2
	some, st2 := run(t, open(t, path, file.Options{Frames: half}), session.Options{})
	if st2.Frames != half {
		t.Fatalf("Options.Frames %d: read %d frames", half, st2.Frames)
	}
	if len(some) == 0 || len(some) >= len(all) {
		t.Fatalf("first %d frames gave %d records of %d", half, len(some), len(all))
	}
	for i := range some {
		if some[i] != all[i] {
			t.Fatalf("record %d: %s, whole read has %s", i, some[i], all[i])
		}
	}
}

// TestTruncated cuts a sample in the middle of a frame: the frames before
// the cut are read, Run succeeds and Truncated says so.
func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samples, "mqtt311.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	whole, st := run(t, open(t, filepath.Join(samples, "mqtt311.pcapng"), file.Options{}), session.Options{})
	cut := filepath.Join(t.TempDir(), "cut.pcapng")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	src := open(t, cut, file.Options{})
	got, st2 := run(t, src, session.Options{})
	if !src.Truncated() {
		t.Fatal("Truncated() is false for a file cut inside a frame")
	}
	if st2.Frames == 0 || st2.Frames >= st.Frames || len(got) == 0 || len(got) >= len(whole) {
		t.Fatalf("cut file: %d frames, %d records; whole: %d frames, %d records", st2.Frames, len(got), st.Frames, len(whole))
	}
}

// TestStdinKept reads standard input with Keep: the copy holds every byte.
func TestStdinKept(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samples, "lab-session.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := file.Open(file.Stdin, file.Options{Keep: true, Stdin: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if src.Name() != "standard input" {
		t.Errorf("Name() = %q, want standard input", src.Name())
	}
	types, _ := run(t, src, session.Options{})
	if len(types) == 0 {
		t.Fatal("no records from standard input")
	}
	kept, err := os.ReadFile(src.Path())
	if err != nil {
		t.Fatalf("reading the copy of standard input: %v", err)
	}
	if !bytes.Equal(kept, data) {
		t.Fatalf("the copy holds %d bytes, standard input had %d", len(kept), len(data))
	}
	src.Close()
	if _, err := os.Stat(src.Path()); !os.IsNotExist(err) {
		t.Fatalf("Close left the copy %s behind (%v)", src.Path(), err)
	}
}

// TestStdinIdle feeds standard input in two parts with a pause between: the
// pipeline's Idle runs while the source waits, after the first part's
// records were handed over.
func TestStdinIdle(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samples, "mqtt311.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:len(data)/2])
		time.Sleep(200 * time.Millisecond)
		pw.Write(data[len(data)/2:])
		pw.Close()
	}()
	src := open(t, file.Stdin, file.Options{Stdin: pr})
	records, atIdle := 0, -1
	p := session.New(session.Options{Idle: func() error {
		if atIdle < 0 {
			atIdle = records
		}
		return nil
	}}, func(*session.Record) error { records++; return nil })
	if err := src.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if atIdle <= 0 || atIdle >= records {
		t.Fatalf("Idle first ran after %d of %d records; want it between the two parts", atIdle, records)
	}
}

// longCapture writes a capture of n frames, a sample's frames over and
// over, and returns its path.
func longCapture(t *testing.T, n int) string {
	t.Helper()
	in, err := pcaps.Open(filepath.Join(samples, "mqtt311.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var frames [][]byte
	var infos []gopacket.CaptureInfo
	in.Each(func(data []byte, ci gopacket.CaptureInfo) error {
		frames, infos = append(frames, append([]byte(nil), data...)), append(infos, ci)
		return nil
	})
	var buf bytes.Buffer
	w, err := pcaps.NewLinkWriter(&buf, in.LinkType(), "lo", pcaps.WriterInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		ci := infos[i%len(infos)]
		ci.InterfaceIndex = 0
		if err := w.WriteFrame(frames[i%len(frames)], ci, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "long.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCanceled stops a read when its context is done: the source looks at
// the context every 1024 frames.
func TestCanceled(t *testing.T) {
	path := longCapture(t, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := open(t, path, file.Options{})
	p := session.New(session.Options{}, func(*session.Record) error { return nil })
	err := src.Run(ctx, p)
	if !errors.Is(err, context.Canceled) || p.Stats().Frames != 1023 {
		t.Fatalf("a canceled read: error %v after %d frames, want context.Canceled after 1023", err, p.Stats().Frames)
	}
}

// TestHandlerErrorStops: the handler's error ends the read (which runs
// ahead on its own goroutine) and comes back from Run; no record is handed
// after it.
func TestHandlerErrorStops(t *testing.T) {
	path := longCapture(t, 20000)
	stop := errors.New("enough")
	for _, at := range []int{1, 50, 3000} {
		n := 0
		p := session.New(session.Options{}, func(*session.Record) error {
			if n++; n == at {
				return stop
			}
			if n > at {
				t.Errorf("record %d handed after the error at %d", n, at)
			}
			return nil
		})
		err := open(t, path, file.Options{}).Run(context.Background(), p)
		if !errors.Is(err, stop) || n != at || p.Stats().Frames >= 20000 {
			t.Errorf("error at record %d: Run gave %v after %d records and %d frames", at, err, n, p.Stats().Frames)
		}
	}
}
