package tui

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/export"
	"github.com/mqtap/mqtap/session/source/file"
	"github.com/mqtap/mqtap/tui/model"
)

// loadKeys loads a key directory.
func loadKeys(t testing.TB, dir string) *keys.Store {
	t.Helper()
	store, err := keys.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// referenceExport writes what mqtap export writes for the packets sel
// selects (nil: all) of the capture at path: its own first pass through
// the pipeline and the analysis, then the export's passes.
func referenceExport(t *testing.T, path string, store *keys.Store, sel func(*session.Record) bool, out string) export.Stats {
	t.Helper()
	opts := session.Options{Keys: store}
	analysis, err := export.Analysis(store)
	if err != nil {
		t.Fatal(err)
	}
	col := export.NewCollector(sel)
	defer col.Close()
	analyze := analysis()
	src, err := file.Open(path, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.Run(context.Background(), session.New(col.Hook(opts), func(r *session.Record) error {
		analyze(r)
		col.Observe(r)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := export.Create(out, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := export.Write(path, dst, col, export.Options{Pipeline: opts}, store, false)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tsharkFrames returns, one line per frame, the time, length and comments
// tshark reads in a pcapng file.
func tsharkFrames(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed")
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.comment").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// saveOptions is what mqtap tui gives the UI for a capture file.
func saveOptions(path string, store *keys.Store) Options {
	return Options{Save: SaveConfig{File: path, Pipeline: session.Options{Keys: store}, Keys: store, Application: "mqtap test"}}
}

// runCommandLine opens the command line, puts line in it (typed keys may
// be dropped when the simulation screen's queue is full) and runs it.
func (u *ui) runCommandLine(line string) {
	u.t.Helper()
	u.typeText(":")
	u.waitFor("the command line", func(string) bool {
		open := false
		u.do(func() { open = u.app.app.GetFocus() == u.app.cmdline })
		return open
	})
	u.do(func() { u.app.cmdline.SetText(line) })
	u.key(tcell.KeyEnter)
	u.waitFor("the command line closed", func(string) bool {
		open := true
		u.do(func() { open = u.app.app.GetFocus() == u.app.cmdline })
		return !open
	})
}

// TestWriteDisplayed: :w writes the packets shown (all of them, then the
// ones a display filter selects) as mqtap export writes them: the same
// frames, with the same comments on what was decrypted.
func TestWriteDisplayed(t *testing.T) {
	store := loadKeys(t, labKeys)
	c := load(t, labSession, labKeys)
	u := start(t, c, 250, 40, saveOptions(labSession, store))
	u.waitText("115 packets")
	dir := t.TempDir()

	all := filepath.Join(dir, "all.pcapng")
	u.runCommandLine("w " + all)
	u.waitText("to " + all)
	ref := filepath.Join(dir, "ref-all.pcapng")
	st := referenceExport(t, labSession, store, nil, ref)
	u.waitText("wrote " + strconv.Itoa(st.Frames) + " frames (115 MQTT packets) to " + all)
	got, want := tsharkFrames(t, all), tsharkFrames(t, ref)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf(":w wrote\n%s\nmqtap export writes\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(strings.Join(got, "\n"), "mqtap: le0nh4rt#"); n == 0 {
		t.Errorf("no comment on a decrypted message in\n%s", strings.Join(got, "\n"))
	}

	expr := `mqtt.topic contains "reverse"`
	u.runCommandLine("filter " + expr)
	u.waitText("filter: " + expr)
	some := filepath.Join(dir, "reverse.pcapng")
	u.runCommandLine("w " + some)
	u.waitText("to " + some)
	f, err := filter.Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	ref = filepath.Join(dir, "ref-reverse.pcapng")
	st = referenceExport(t, labSession, store, f.Match, ref)
	var shown int
	u.do(func() { shown = len(u.app.flt.sel) })
	u.waitText("wrote " + strconv.Itoa(st.Frames) + " frames (" + strconv.Itoa(shown) + " MQTT packets) to " + some)
	got, want = tsharkFrames(t, some), tsharkFrames(t, ref)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) >= 115 {
		t.Errorf(":w with a filter wrote\n%s\nmqtap export -Y writes\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWriteMarked: :w marked FILE writes the M-marked packets only.
func TestWriteMarked(t *testing.T) {
	store := loadKeys(t, labKeys)
	c := load(t, labSession, labKeys)
	all := rows(t, c)
	u := start(t, c, 250, 40, saveOptions(labSession, store))
	u.waitText("115 packets")
	dir := t.TempDir()
	out := filepath.Join(dir, "marked.pcapng")
	u.runCommandLine("w marked " + out)
	u.waitText("no packet is marked")

	// Mark the first packet and the third.
	u.waitSelected(all[0].Frame)
	u.typeText("M")
	u.typeText("jj")
	u.waitSelected(all[2].Frame)
	u.typeText("M")
	u.settle()
	u.runCommandLine("w marked " + out)
	u.waitText("to " + out)
	n := 0
	st := referenceExport(t, labSession, store, func(*session.Record) bool {
		n++
		return n == 1 || n == 3
	}, filepath.Join(dir, "ref.pcapng"))
	u.waitText("wrote " + strconv.Itoa(st.Frames) + " frames (2 marked MQTT packets) to " + out)
	if got := tsharkFrames(t, out); len(got) != st.Frames {
		t.Errorf("tshark reads %d frames in %s, want %d", len(got), out, st.Frames)
	}
}

// TestWriteErrors: a missing file name, an existing file (kept without
// !, overwritten with it), a directory that does not exist and a source
// without a capture file are one-line errors.
func TestWriteErrors(t *testing.T) {
	store := loadKeys(t, labKeys)
	c := load(t, labSession, labKeys)
	u := start(t, c, 250, 40, saveOptions(labSession, store))
	u.waitText("115 packets")
	dir := t.TempDir()

	u.runCommandLine("w")
	u.waitText(":w needs a file name")

	exists := filepath.Join(dir, "exists.pcapng")
	if err := os.WriteFile(exists, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.runCommandLine("w " + exists)
	u.waitText(exists + " exists (:w! overwrites it)")
	if b, _ := os.ReadFile(exists); string(b) != "keep me" {
		t.Errorf(":w overwrote an existing file")
	}
	u.runCommandLine("w! " + exists)
	u.waitText("MQTT packets) to " + exists)
	if b, _ := os.ReadFile(exists); len(b) < 1000 {
		t.Errorf(":w! left %d bytes in %s", len(b), exists)
	}

	u.runCommandLine("w /no/such/dir/out.pcapng")
	u.waitText("cannot write /no/such/dir/out.pcapng")

	u.runCommandLine("w! " + labSession)
	u.waitText("is the capture being read")

	u.do(func() { u.app.opts.Save.File, u.app.opts.Live = "", true })
	u.runCommandLine("w " + filepath.Join(dir, "live.pcapng"))
	u.waitText(":w needs a capture file: this live capture keeps none")
}

// opener is an Options.Open for tests: it opens sample captures as mqtap
// tui does, each filled by the real pipeline, and records the contexts of
// the fills.
type opener struct {
	t      *testing.T
	store  *keys.Store
	fills  chan context.Context
	hold   bool // each fill waits for its context to end after reading the file
	opened []*model.Capture
}

func (o *opener) open(path string) (Opened, error) {
	r, err := pcaps.Open(path)
	if err != nil {
		return Opened{}, err
	}
	r.Close()
	// The UI closes the captures it opened when it ends.
	c, err := model.New(filepath.Base(path), model.Options{Keys: o.store, Dir: o.t.TempDir()})
	if err != nil {
		return Opened{}, err
	}
	o.opened = append(o.opened, c)
	fill := func(ctx context.Context) error {
		o.fills <- ctx
		if err := feedUnfinished(c, path); err != nil {
			return err
		}
		if o.hold {
			<-ctx.Done()
		}
		return nil
	}
	return Opened{Capture: c, Fill: fill, Save: SaveConfig{File: path, Pipeline: session.Options{Keys: o.store}}}, nil
}

// feedUnfinished runs the pipeline over a capture file into c without
// finishing it (the UI's fill does).
func feedUnfinished(c *model.Capture, path string) error {
	src, err := file.Open(path, file.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	if err := src.Run(context.Background(), session.New(session.Options{}, c.Handler())); err != nil {
		return err
	}
	return c.Flush()
}

// TestOpenAnotherCapture: :e FILE shows another capture with the same
// keys, keeps the display filter, stops the old capture's fill; a file
// that cannot be opened is an error and the capture stays.
func TestOpenAnotherCapture(t *testing.T) {
	store := loadKeys(t, labKeys)
	o := &opener{t: t, store: store, fills: make(chan context.Context, 4), hold: true}
	c := load(t, "../pcaps/samples/mqtt5.pcapng", "")
	opts := saveOptions("../pcaps/samples/mqtt5.pcapng", nil)
	opts.Open = o.open
	u := start(t, c, 250, 40, opts)
	n5 := c.Len()
	u.waitText(strconv.Itoa(n5) + " packets")

	u.runCommandLine("e /no/such/file.pcapng")
	u.waitText(":e /no/such/file.pcapng: no such file")
	u.waitText("mqtt5.pcapng")

	u.runCommandLine(`filter mqtt.msgtype == 3`)
	u.waitText("filter: mqtt.msgtype == 3")
	u.runCommandLine("e " + labSession)
	first := <-o.fills
	u.waitText("opened " + labSession)
	// The lab sample has 40 PUBLISH packets of its 115, decrypted with the
	// same keys.
	u.waitText("40/115 packets")
	u.waitText("filter: mqtt.msgtype == 3")
	decrypted := 0
	u.do(func() {
		for i := range u.app.cap.Len() {
			if r, err := u.app.cap.Row(i); err == nil && r.Decrypt == "ok" {
				decrypted++
			}
		}
	})
	if decrypted == 0 {
		t.Errorf("no message of the capture :e opened was decrypted with the same keys")
	}
	if s := u.text(); strings.Contains(s, "mqtt5.pcapng") {
		t.Errorf("the old capture's name is still shown:\n%s", s)
	}

	// :w writes from the new capture's file.
	out := filepath.Join(t.TempDir(), "pub.pcapng")
	u.runCommandLine("w " + out)
	u.waitText("(40 MQTT packets) to " + out)

	// A second :e stops the first one's fill.
	u.runCommandLine("clear")
	u.runCommandLine("e ../pcaps/samples/mqtt311.pcapng")
	<-o.fills
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the fill of the capture switched away from was not cancelled")
	}
	u.waitText("opened ../pcaps/samples/mqtt311.pcapng")
	// ... and closes its spool.
	deadline := time.Now().Add(10 * time.Second)
	for _, err := o.opened[0].Record(0); err == nil; _, err = o.opened[0].Record(0) {
		if time.Now().After(deadline) {
			t.Fatal("the spool of the capture switched away from was not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	u.waitText("mqtt311.pcapng")
	if s := u.text(); strings.Contains(s, "/115 packets") || strings.Contains(s, " 115 packets") {
		t.Errorf("the lab capture's count is still shown:\n%s", s)
	}
}

// TestInfoMatchesCapinfos: what :info reads from a capture file agrees
// with capinfos: frames, first and last packet times, link types.
func TestInfoMatchesCapinfos(t *testing.T) {
	if _, err := exec.LookPath("capinfos"); err != nil {
		t.Skip("capinfos is not installed (wireshark-common)")
	}
	// capinfos' short names of the link types of the samples.
	encap := map[string]int{"ether": 1, "linux-sll": 113, "linux-sll2": 276, "ieee-802-11-radiotap": 127}
	for _, path := range []string{labSession, "../pcaps/samples/cooked-sll.pcap", "../pcaps/samples/cooked-sll2.pcap.gz",
		"../pcaps/samples/frag-ipv6.pcapng", "../pcaps/samples/link-radiotap.pcapng"} {
		out, err := exec.Command("capinfos", "-T", "-r", "-M", "-c", "-a", "-e", "-E", path).Output()
		if err != nil {
			t.Fatalf("capinfos %s: %v", path, err)
		}
		f := strings.Split(strings.TrimSpace(string(out)), "\t")
		if len(f) < 5 {
			t.Fatalf("capinfos %s: %q", path, out)
		}
		fi, err := readFileInfo(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		prec := 6
		if strings.Count(f[3], ".") == 1 && len(f[3])-strings.Index(f[3], ".") == 10 {
			prec = 9
		}
		if n, _ := strconv.Atoi(f[2]); n != fi.Frames {
			t.Errorf("%s: %d frames, capinfos says %s", path, fi.Frames, f[2])
		}
		if got := formatTime(fi.First, prec); got != f[3] {
			t.Errorf("%s: first packet %s, capinfos says %s", path, got, f[3])
		}
		if got := formatTime(fi.Last, prec); got != f[4] {
			t.Errorf("%s: last packet %s, capinfos says %s", path, got, f[4])
		}
		if lt, ok := encap[f[1]]; !ok || len(fi.Interfaces) == 0 || int(fi.Interfaces[0].LinkType) != lt {
			t.Errorf("%s: link type %v, capinfos says %s", path, fi.Interfaces, f[1])
		}
	}
}

// TestInfoView: :info shows the file, its format, interfaces and counts,
// and Esc goes back.
func TestInfoView(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 250, 40, saveOptions(labSession, nil))
	u.waitText("115 packets")
	u.runCommandLine("info")
	u.waitText("Capture information")
	u.waitText("Frames")
	s := u.text()
	for _, want := range []string{"lab-session.pcapng", "pcapng", "lo (Loopback), Ethernet (link type 1), snaplen 262144, 273 frames",
		"273 (time order strict)", "52617 on the wire", "MQTT packets       115", "MQTT connections", "62240 bytes", "Dropped"} {
		if !strings.Contains(s, want) {
			t.Errorf(":info lacks %q:\n%s", want, s)
		}
	}
	u.key(tcell.KeyEscape)
	u.waitGone("Capture information")
	u.waitText("Packets")
}

// BenchmarkWrite1M writes every packet of a 1,000,000-packet capture
// (MQTAP_BENCH_CAPTURE: another one) as :w does, from a model already
// indexed, and reports the time of each pass: the model feeding the
// export's Collector, then the export's passes over the file.
func BenchmarkWrite1M(b *testing.B) {
	path := os.Getenv("MQTAP_BENCH_CAPTURE")
	if path == "" {
		var err error
		if path, err = pcaps.SyntheticFile(os.TempDir(), 1_000_000); err != nil {
			b.Fatal(err)
		}
	}
	c, err := model.New("bench", model.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := feed(c, path, nil); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out.pcapng")
	for b.Loop() {
		dst, err := export.Create(out, path, nil)
		if err != nil {
			b.Fatal(err)
		}
		req := &writeRequest{cfg: SaveConfig{File: path}, cap: c, n: c.Len(), path: out, dst: dst}
		start := time.Now()
		var fed time.Duration
		st, packets, err := writeExport(context.Background(), req, nil, func() { fed = time.Since(start) })
		if err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)
		if packets != c.Len() || st.Frames == 0 {
			b.Fatalf("wrote %d frames of %d packets, want all %d", st.Frames, packets, c.Len())
		}
		b.ReportMetric(float64(fed.Milliseconds()), "model-ms")
		b.ReportMetric(float64((all - fed).Milliseconds()), "export-ms")
		b.ReportMetric(float64(all.Milliseconds()), "total-ms")
		b.ReportMetric(float64(packets), "packets")
	}
}

// TestInfoFollowsLiveCapture: :info on a live capture counts the MQTT
// packets again while the capture grows.
func TestInfoFollowsLiveCapture(t *testing.T) {
	c := newCapture(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{Live: true})
	u.waitText("live")
	u.typeText(":info")
	u.key(tcell.KeyEnter)
	u.waitText("Capture information")
	u.waitFor("no packet yet", func(s string) bool { return regexp.MustCompile(`MQTT packets +0\b`).MatchString(s) })
	release := make(chan struct{})
	fed := make(chan error, 1)
	go func() {
		n := 0
		fed <- feed(c, labSession, func() error {
			if n++; n == 100 {
				<-release // hold the capture half-way, with some packets in
			}
			return c.Flush()
		})
	}()
	u.waitFor("some packets counted on the open page", func(s string) bool {
		m := regexp.MustCompile(`MQTT packets +(\d+)\b`).FindStringSubmatch(s)
		return m != nil && m[1] != "0" && m[1] != "115"
	})
	close(release)
	if err := <-fed; err != nil {
		t.Fatal(err)
	}
	u.waitFor("every packet counted", func(s string) bool { return regexp.MustCompile(`MQTT packets +115\b`).MatchString(s) })
}
