package tui

import (
	"encoding/hex"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/tui/model"
)

const (
	labSession = "../pcaps/samples/lab-session.pcapng"
	labKeys    = "../pcaps/samples/keys/lab-session/requester"
)

// feed runs the real pipeline over a capture file into c, calling each
// (when set) after every frame.
func feed(c *model.Capture, path string, each func() error) error {
	r, err := pcaps.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := session.NewPipeline(r.LinkType(), session.Options{}, c.Handler())
	if err != nil {
		return err
	}
	for {
		data, ci, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := p.Frame(data, ci); err != nil {
			return err
		}
		if each != nil {
			if err := each(); err != nil {
				return err
			}
		}
	}
	if err := p.Close(); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	c.Finish(nil)
	return nil
}

// newCapture returns an empty capture with the keys of keyDir ("" none).
func newCapture(t *testing.T, path, keyDir string) *model.Capture {
	t.Helper()
	var store *keys.Store
	if keyDir != "" {
		var err error
		if store, err = keys.Load(keyDir); err != nil {
			t.Fatal(err)
		}
	}
	c, err := model.New(filepath.Base(path), model.Options{Keys: store, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// load returns a capture filled from a capture file.
func load(t *testing.T, path, keyDir string) *model.Capture {
	c := newCapture(t, path, keyDir)
	if err := feed(c, path, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// ui is a running App on a simulation screen.
type ui struct {
	t      *testing.T
	app    *App
	screen tcell.SimulationScreen
	done   chan error
}

// start runs the UI of c on a w×h simulation screen.
func start(t *testing.T, c *model.Capture, w, h int, opts Options) *ui {
	t.Helper()
	screen := tcell.NewSimulationScreen("UTF-8")
	if err := screen.Init(); err != nil {
		t.Fatal(err)
	}
	screen.SetSize(w, h)
	a, err := New(c, screen, opts)
	if err != nil {
		t.Fatal(err)
	}
	u := &ui{t: t, app: a, screen: screen, done: make(chan error, 1)}
	go func() { u.done <- a.Run() }()
	t.Cleanup(func() {
		a.Stop()
		select {
		case <-u.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after Stop")
		}
	})
	return u
}

// contents returns a copy of the screen's cells, read on the UI goroutine
// (tcell's simulation screen hands out its own buffer, which draws write).
func (u *ui) contents() (cells []tcell.SimCell, w, h int) {
	u.do(func() {
		var cs []tcell.SimCell
		cs, w, h = u.screen.GetContents()
		cells = make([]tcell.SimCell, len(cs))
		for i, c := range cs {
			cells[i] = tcell.SimCell{Runes: slices.Clone(c.Runes), Style: c.Style}
		}
	})
	return cells, w, h
}

// lines returns the screen's text, one string per row.
func (u *ui) lines() []string {
	return linesOf(u.contents())
}

// linesOf returns the text of screen cells, one string per row.
func linesOf(cells []tcell.SimCell, w, h int) []string {
	out := make([]string, h)
	for y := 0; y < h; y++ {
		var b strings.Builder
		for x := 0; x < w; x++ {
			rs := cells[y*w+x].Runes
			if len(rs) == 0 {
				b.WriteByte(' ')
				continue
			}
			b.WriteString(string(rs))
		}
		out[y] = b.String()
	}
	return out
}

// text returns the whole screen as text.
func (u *ui) text() string { return strings.Join(u.lines(), "\n") }

// waitFor waits until cond holds for the screen's text.
func (u *ui) waitFor(what string, cond func(screen string) bool) {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := u.text()
		if cond(s) {
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitText waits until the screen shows s.
func (u *ui) waitText(s string) {
	u.t.Helper()
	u.waitFor(strconv.Quote(s), func(screen string) bool { return strings.Contains(screen, s) })
}

// waitGone waits until the screen no longer shows s.
func (u *ui) waitGone(s string) {
	u.t.Helper()
	u.waitFor("no "+strconv.Quote(s), func(screen string) bool { return !strings.Contains(screen, s) })
}

// key presses a special key.
func (u *ui) key(k tcell.Key) { u.screen.InjectKey(k, 0, tcell.ModNone) }

// typeText types runes.
func (u *ui) typeText(s string) {
	for _, r := range s {
		u.screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
	}
}

// do runs fn on the UI goroutine and waits for it.
func (u *ui) do(fn func()) {
	done := make(chan struct{})
	go func() {
		u.app.app.QueueUpdate(fn)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		u.t.Fatal("the UI goroutine did not run an update")
	}
}

// settle waits until the UI has handled the events injected so far and
// drawn: the screen stays the same for a while.
func (u *ui) settle() {
	u.t.Helper()
	prev := ""
	same := 0
	for i := 0; i < 500 && same < 5; i++ {
		time.Sleep(10 * time.Millisecond)
		s := u.text()
		if s == prev {
			same++
		} else {
			same = 0
		}
		prev = s
	}
}

// selectedRow returns the packet list's highlighted (reversed) row, read
// from the screen.
func (u *ui) selectedRow() string {
	cells, w, h := u.contents()
	lines := linesOf(cells, w, h)
	for y := 0; y < h; y++ {
		if strings.Contains(lines[y], " Details ") {
			break
		}
		if !strings.Contains(lines[y], "127.0.0.1") {
			continue
		}
		_, _, attr := cells[y*w+5].Style.Decompose()
		if attr&tcell.AttrReverse != 0 {
			return lines[y]
		}
	}
	return ""
}

// frameOf returns the frame number (No. column) of a packet list line.
func frameOf(line string) int {
	f := strings.Fields(strings.Trim(line, "│║ "))
	for _, s := range f {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return -1
}

// waitSelected waits until the selected row is frame.
func (u *ui) waitSelected(frame int) {
	u.t.Helper()
	u.waitFor("frame "+strconv.Itoa(frame)+" selected", func(string) bool { return frameOf(u.selectedRow()) == frame })
}

// rows returns the records of a capture, as the model gives them.
func rows(t *testing.T, c *model.Capture) []model.Row {
	var out []model.Row
	for i := 0; i < c.Len(); i++ {
		r, err := c.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestPacketList(t *testing.T) {
	c := load(t, labSession, labKeys)
	all := rows(t, c)
	if len(all) != 115 {
		t.Fatalf("lab-session has %d records, want 115 (pcaps/samples/README.md)", len(all))
	}
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	s := u.text()
	for _, want := range []string{"No.", "Time", "Source", "Destination", "Type", "Length", "Info",
		"Packets", "Details", "Bytes", "115 packets", "done", "lab-session.pcapng", "Filter:"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	// The first packet is selected, and its detail tree shown.
	u.waitSelected(all[0].Frame)
	u.waitText("MQ Telemetry Transport Protocol, Connect Command")
	u.waitText("Frame " + strconv.Itoa(all[0].Frame) + ":")

	u.typeText("j")
	u.waitSelected(all[1].Frame)
	u.waitText("MQ Telemetry Transport Protocol, Connect Ack")
	u.typeText("j")
	u.waitSelected(all[2].Frame)
	u.typeText("k")
	u.waitSelected(all[1].Frame)
	u.typeText("G")
	u.waitSelected(all[len(all)-1].Frame)
	u.typeText("g")
	u.waitSelected(all[0].Frame)
	u.key(tcell.KeyPgDn)
	u.waitFor("page down", func(string) bool { return frameOf(u.selectedRow()) > all[10].Frame })
	u.key(tcell.KeyCtrlB)
	u.waitFor("page up", func(string) bool { return frameOf(u.selectedRow()) < all[5].Frame })
	u.key(tcell.KeyEnd)
	u.waitSelected(all[len(all)-1].Frame)
	u.key(tcell.KeyHome)
	u.waitSelected(all[0].Frame)

	// :goto selects a frame; an unknown command says so. Frame 56 is a
	// decrypted response: the list shows its plaintext.
	u.typeText(":goto 56")
	u.key(tcell.KeyEnter)
	u.waitSelected(56)
	// The Info column is too narrow for the plaintext at this width: l
	// scrolls it.
	for i := 0; i < 4 && !strings.Contains(u.selectedRow(), "NETWORKING IS THE BEST!"); i++ {
		u.typeText("l")
		u.settle()
	}
	if row := u.selectedRow(); !strings.Contains(row, `[le0nh4rt#1] "NETWORKING IS THE BEST!"`) {
		t.Errorf("row of frame 56: %q", row)
	}
	u.waitText("Info (from character")
	u.typeText("hhhh")
	u.waitGone("Info (from character")
	// The details pane ends with the mqtap branch: session, plaintext.
	u.key(tcell.KeyTab)
	u.typeText("G")
	u.waitText(`Plaintext: NETWORKING IS THE BEST!`)
	u.waitText(`Session: le0nh4rt#1`)
	u.key(tcell.KeyEscape)
	u.typeText(":frobnicate")
	u.key(tcell.KeyEnter)
	u.waitText("unknown command :frobnicate")
	u.typeText(":goto 3")
	u.key(tcell.KeyEnter)
	u.waitText("no MQTT packet in frame 3")

	// Rows of decrypted messages: the Info column ends with the plaintext.
	for _, line := range u.lines() {
		if strings.Contains(line, " Details ") {
			break
		}
		if strings.Contains(line, "NETWORKING IS THE BEST!") && !strings.Contains(line, "le0nh4rt#1") {
			t.Errorf("decrypted row without its session: %q", line)
		}
	}
}

func TestMouse(t *testing.T) {
	c := load(t, labSession, labKeys)
	all := rows(t, c)
	u := start(t, c, 120, 40, Options{})
	u.waitSelected(all[0].Frame)
	// Click the fourth packet row.
	y := -1
	for i, line := range u.lines() {
		if frameOf(line) == all[3].Frame && strings.Contains(line, "127.0.0.1") {
			y = i
			break
		}
	}
	if y < 0 {
		t.Fatalf("frame %d not on screen", all[3].Frame)
	}
	u.screen.InjectMouse(10, y, tcell.Button1, tcell.ModNone)
	u.screen.InjectMouse(10, y, tcell.ButtonNone, tcell.ModNone)
	u.waitSelected(all[3].Frame)
}

// hexRegion returns the rows of the bytes pane: from its title to the
// status line.
func (u *ui) hexRegion() (top, bottom int) {
	lines := u.lines()
	top, bottom = -1, len(lines)-1
	for y, l := range lines {
		if strings.Contains(l, " Bytes ") {
			top = y
		}
	}
	return top, bottom
}

// reversed returns the reversed characters of a column of the bytes pane
// (from inner column from, n bytes per line), split into hex digits and
// ASCII.
func (u *ui) reversed(from, n int) (hexText, ascii string) {
	cells, w, _ := u.contents()
	top, bottom := u.hexRegion()
	_, asciiX := hexCellX(0, n, 4)
	for y := top + 1; y < bottom; y++ {
		for x := 1 + from; x < min(w-1, 1+from+hexLineWidth(n, 4)); x++ {
			cl := cells[y*w+x]
			_, _, attr := cl.Style.Decompose()
			if attr&tcell.AttrReverse == 0 || len(cl.Runes) == 0 {
				continue
			}
			r := string(cl.Runes)
			if x-1-from >= asciiX {
				ascii += r
			} else if r != " " {
				hexText += r
			}
		}
	}
	return hexText, ascii
}

func TestHexHighlight(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.typeText(":goto 56")
	u.key(tcell.KeyEnter)
	u.waitSelected(56)

	// Go to the details pane, to the Topic line.
	u.key(tcell.KeyTab)
	u.settle()
	var raw, topic []byte
	var off int
	u.do(func() {
		raw = u.app.cur.Packet.Raw
		f := u.app.cur.Packet.Field("mqtt.topic")
		off, topic = f.Off, raw[f.Off:f.Off+f.Len]
	})
	if string(topic) != "le0nh4rt/uppercase/response" {
		t.Fatalf("frame 56 topic %q", topic)
	}
	u.downToTreeLine("Topic:", 30)
	u.settle()
	hexText, ascii := u.reversed(0, 16)
	if want := hex.EncodeToString(topic); hexText != want {
		t.Errorf("highlighted hex %q, want the topic's bytes %q (offset %d)", hexText, want, off)
	}
	if ascii != string(topic) {
		t.Errorf("highlighted ASCII %q, want %q", ascii, topic)
	}

	// The decrypted block, beside the raw bytes at this width, and its
	// highlight from the Plaintext line.
	u.waitText("Decrypted (23 bytes)")
	if top, _ := u.hexRegion(); !strings.Contains(u.lines()[top+1], "Decrypted (23 bytes)") {
		t.Errorf("decrypted block not beside the raw bytes:\n%s", u.text())
	}
	u.downToTreeLine("Plaintext:", 40)
	u.settle()
	hexText, ascii = u.reversed(hexLineWidth(16, 4)+gap, 8)
	if ascii != "NETWORKING IS THE BEST!" || hexText != hex.EncodeToString([]byte("NETWORKING IS THE BEST!")) {
		t.Errorf("plaintext highlight: hex %q ascii %q", hexText, ascii)
	}

	// A click on a byte of the topic selects the Topic line.
	u.do(func() { u.app.hex.scrollTo(0) })
	u.settle()
	top, _ := u.hexRegion()
	lineY := top + 1 + off/16
	hx, _ := hexCellX(off%16, 16, 4)
	u.screen.InjectMouse(1+hx, lineY, tcell.Button1, tcell.ModNone)
	u.screen.InjectMouse(1+hx, lineY, tcell.ButtonNone, tcell.ModNone)
	u.settle()
	var cur string
	u.do(func() { cur = u.app.tree.GetCurrentNode().GetText() })
	if !strings.HasPrefix(cur, "Topic:") {
		t.Errorf("click on byte %d selected %q, want the Topic line", off, cur)
	}
}

// filterCells returns the style of the filter bar's first field cell.
func (u *ui) filterStyle() tcell.Style {
	cells, w, h := u.contents()
	lines := linesOf(cells, w, h)
	for y := 0; y < h; y++ {
		if i := strings.Index(lines[y], "Filter: "); i >= 0 {
			x := len([]rune(lines[y][:i])) + len("Filter: ")
			return cells[y*w+x].Style
		}
	}
	return tcell.StyleDefault
}

func (u *ui) waitFilterBackground(want tcell.Color) {
	u.t.Helper()
	u.waitFor("filter background "+strconv.Itoa(int(want)), func(string) bool {
		_, bg, _ := u.filterStyle().Decompose()
		return bg == want
	})
}

// listedFrames returns the frame numbers of the packet list rows on screen.
func (u *ui) listedFrames() []int {
	var out []int
	for _, line := range u.lines() {
		if strings.Contains(line, " Details ") {
			break
		}
		if strings.Contains(line, "127.0.0.1") {
			out = append(out, frameOf(line))
		}
	}
	return out
}

func TestFilter(t *testing.T) {
	c := load(t, labSession, labKeys)
	// The records with a topic (PUBLISH topic or SUBSCRIBE filter)
	// containing "uppercase", found without the filter package.
	var want []int
	for i := 0; i < c.Len(); i++ {
		r, err := c.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Packet.Fields {
			if f.Name == "mqtt.topic" && strings.Contains(string(f.Bytes), "uppercase") {
				want = append(want, r.Frame)
				break
			}
		}
	}
	if len(want) < 3 {
		t.Fatalf("%d uppercase topics in the sample", len(want))
	}
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")

	u.typeText("/")
	u.typeText(`mqtt.topic contains "upper`)
	u.waitFilterBackground(tcell.ColorRed) // unterminated string
	u.waitText("filter: column")
	u.typeText(`case"`)
	u.waitFilterBackground(tcell.ColorGreen)
	u.waitGone("filter: column")
	u.key(tcell.KeyEnter)
	u.waitText(strconv.Itoa(len(want)) + "/115 packets")
	u.waitText(`filter: mqtt.topic contains "uppercase"`)
	u.settle()
	if got := u.listedFrames(); !slices.Equal(got, want) {
		t.Errorf("filtered list shows frames %v, want %v", got, want)
	}
	// Keys move within the selection.
	u.typeText("G")
	u.waitFor("last uppercase row", func(string) bool { return strings.Contains(u.selectedRow(), "uppercase") })

	// An invalid filter turns red and says why; Esc restores the applied one.
	u.typeText("/")
	u.key(tcell.KeyCtrlU)
	for range 40 {
		u.key(tcell.KeyBackspace2)
	}
	u.typeText("mqtt.topic ==")
	u.waitFilterBackground(tcell.ColorRed)
	u.waitText("filter: column 14")
	u.key(tcell.KeyEscape)
	u.waitText(`Filter: mqtt.topic contains "uppercase"`)
	u.waitText(strconv.Itoa(len(want)) + "/115 packets")

	// ↑ recalls the applied filters.
	u.typeText("/")
	for range 40 {
		u.key(tcell.KeyBackspace2)
	}
	u.typeText(`mqtap.decrypt == "ok"`)
	u.key(tcell.KeyEnter)
	u.waitText("20/115 packets")
	u.typeText("/")
	u.key(tcell.KeyUp)
	u.key(tcell.KeyUp)
	u.waitText(`Filter: mqtt.topic contains "uppercase"`)
	u.key(tcell.KeyDown)
	u.waitText(`Filter: mqtap.decrypt == "ok"`)
	u.key(tcell.KeyEscape)
	u.waitFor("the list focused", func(s string) bool { return strings.Contains(s, "╔") })

	// :clear shows every packet again, keeping the selected one.
	frame := frameOf(u.selectedRow())
	if frame <= 0 {
		t.Fatalf("no packet selected:\n%s", u.text())
	}
	u.typeText(":clear")
	u.key(tcell.KeyEnter)
	u.waitText("115 packets")
	u.waitGone("/115 packets")
	u.waitSelected(frame)

	// :filter applies a filter from the command line.
	u.typeText(`:filter mqtt.msgtype == 1`)
	u.key(tcell.KeyEnter)
	u.waitText("7/115 packets")
}

func TestInitialFilter(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{Filter: `mqtap.plaintext contains "NETWORKING"`, Status: "hello from the caller"})
	u.waitText("2/115 packets")
	u.waitText("hello from the caller")
	u.waitFilterBackground(tcell.ColorGreen)

	if _, err := New(c, nil, Options{Filter: "mqtt.topic =="}); err == nil {
		t.Error("New accepted an invalid filter")
	}
}

func TestSessionsView(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.typeText("S")
	u.waitText("Sessions (key exchanges)")
	for _, id := range []string{"le0nh4rt#1", "le0nh4rt#2", "le0nh4rt#3", "cosmo42#1", "cosmo42#2"} {
		u.waitText(id)
	}
	u.waitText("responder-py@127.0.0.1")
	// Enter on the first session filters the list on it.
	u.key(tcell.KeyEnter)
	u.waitText(`filter: mqtap.session == "le0nh4rt#1"`)
	u.waitGone("Sessions (key exchanges)")
	var sel []int
	u.do(func() { sel = append(sel, u.app.flt.sel...) })
	if len(sel) == 0 {
		t.Fatal("the session filter selects nothing")
	}
	for _, idx := range sel {
		r, err := c.Record(idx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Crypto.Session != "le0nh4rt#1" {
			t.Errorf("record %d of session %q in the le0nh4rt#1 list", idx, r.Crypto.Session)
		}
	}
	// :sessions opens it too, Esc goes back.
	u.typeText(":sessions")
	u.key(tcell.KeyEnter)
	u.waitText("Sessions (key exchanges)")
	u.key(tcell.KeyEscape)
	u.waitGone("Sessions (key exchanges)")
	u.waitText("Details")
}

func TestTopicsView(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.typeText("T")
	u.waitText("All topics  40 messages")
	u.waitText("le0nh4rt")
	u.waitText("cosmo42")
	u.waitText("key-exchange")
	// The decrypted last value of a leaf topic.
	u.waitText(`response  2/2  = "NETWORKING IS THE BEST!"`)

	// Walk to le0nh4rt/uppercase/response and press f: the list shows its
	// messages.
	u.downToTopic("le0nh4rt/uppercase/response", 40)
	u.typeText("f")
	u.waitText(`filter: mqtt.topic == "le0nh4rt/uppercase/response"`)
	// The two PUBLISHes, and the SUBSCRIBE with that topic filter.
	u.waitText("3/115 packets")

	// Enter on the topic jumps to its last message.
	u.typeText("T")
	u.waitText("All topics")
	u.key(tcell.KeyEnter)
	u.waitGone("All topics")
	u.waitSelected(58)

	// f on an inner topic filters on everything below it.
	u.typeText("T")
	u.waitText("All topics")
	u.typeText("g")
	u.typeText("j") // the first level: cosmo42
	u.settle()
	u.typeText("f")
	u.waitText(`filter: mqtt.topic matches "^cosmo42/"`)
}

func TestFindingsView(t *testing.T) {
	// lab-session has no findings; lab-mitm has a man in the middle.
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.typeText("!")
	u.waitText("no findings")
	u.typeText("q")
	u.waitGone("no findings")

	c2 := load(t, "../pcaps/samples/lab-mitm.pcapng", "../pcaps/samples/keys/lab-mitm")
	fs := c2.Findings()
	if len(fs) == 0 {
		t.Fatal("lab-mitm: no findings")
	}
	u2 := start(t, c2, 120, 40, Options{Filter: "mqtt.msgtype == 1"})
	u2.waitText("lab-mitm.pcapng")
	u2.waitText("filter: mqtt.msgtype == 1")
	u2.typeText(":findings")
	u2.key(tcell.KeyEnter)
	u2.waitText("kex.mitm")
	u2.waitText("high")
	first := fs[0]
	u2.key(tcell.KeyEnter)
	// The finding's packet is no CONNECT: the filter was cleared to show it.
	u2.waitText("display filter cleared")
	u2.waitSelected(first.Frame)
	found := ""
	u2.do(func() {
		u2.app.tree.GetRoot().Walk(func(n, _ *tview.TreeNode) bool {
			if strings.Contains(n.GetText(), "Finding: "+first.Code.String()) {
				found = n.GetText()
			}
			return true
		})
	})
	if !strings.Contains(found, "(high)") {
		t.Errorf("detail tree finding %q", found)
	}
	// Its row is marked.
	if !strings.Contains(u2.selectedRow(), "!") {
		t.Errorf("row of a high finding not marked: %q", u2.selectedRow())
	}
}

func TestFollowView(t *testing.T) {
	c := load(t, labSession, labKeys)
	all := rows(t, c)
	u := start(t, c, 120, 40, Options{})
	u.typeText(":goto 56")
	u.key(tcell.KeyEnter)
	u.waitSelected(56)
	var stream int
	for _, r := range all {
		if r.Frame == 56 {
			stream = r.Stream
		}
	}
	conv, err := c.Conversation(stream)
	if err != nil {
		t.Fatal(err)
	}
	u.typeText("c")
	u.waitText("Follow TCP stream " + strconv.Itoa(stream))
	u.waitText("client → broker")
	u.waitText("broker → client")
	u.waitText(`[le0nh4rt#1] "NETWORKING`)
	// Client lines are blue, broker lines red.
	cells, w, h := u.contents()
	blue, red := 0, 0
	for y, line := range linesOf(cells, w, h) {
		i := strings.Index(line, "→")
		if i < 0 {
			continue
		}
		x := len([]rune(line[:i]))
		fg, _, _ := cells[y*w+x].Style.Decompose()
		_, _, attr := cells[y*w+x].Style.Decompose()
		if attr&tcell.AttrReverse != 0 {
			continue
		}
		switch {
		case strings.Contains(line, "client → broker") && fg == tcell.ColorBlue:
			blue++
		case strings.Contains(line, "broker → client") && fg == tcell.ColorRed:
			red++
		default:
			t.Errorf("line %q colour %v", line, fg)
		}
	}
	if blue == 0 || red == 0 || blue+red < min(len(conv)-1, 30) {
		t.Errorf("%d blue and %d red lines for %d packets", blue, red, len(conv))
	}
	// Enter goes to the selected packet (the one the view was opened on).
	u.typeText("k")
	u.settle()
	u.key(tcell.KeyEnter)
	u.waitGone("client → broker")
	u.waitFor("a packet of the stream selected", func(string) bool {
		f := frameOf(u.selectedRow())
		return f > 0 && f < 56
	})
}

func TestStatsView(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.typeText("s")
	u.waitText("Packets per type")
	s := u.text()
	for _, re := range []string{`Packets 115\b`, `PUBLISH\s+40\s+█+`, `PUBACK\s+40`, `CONNECT\s+7\b`,
		`Top topics`, `le0nh4rt/key-exchange/request`, `Top clients`, `Packets over time`, `[▁▂▃▄▅▆▇█]`} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("statistics lack %s:\n%s", re, s)
		}
	}
	u.typeText("q")
	u.waitGone("Packets per type")
}

func TestPayloadView(t *testing.T) {
	c := load(t, "../pcaps/samples/mqtt5.pcapng", "")
	u := start(t, c, 120, 40, Options{})
	u.waitText("mqtt5.pcapng")
	u.typeText(":goto 126")
	u.key(tcell.KeyEnter)
	u.waitSelected(126)
	u.typeText("p")
	u.waitText("Payload of frame 126")
	u.waitText(`{"t":20.5,"unité":"°C"}`)
	u.typeText("3")
	u.waitText(`"t": 20.5,`)
	u.waitText(`"unité": "°C"`)
	u.typeText("2")
	u.waitText("0000  7b 22 74 22")
	u.typeText("4")
	u.waitText("not base64")
	u.key(tcell.KeyTab) // the decoded value, named by the MQTT 5 content type
	u.waitText("── json (content type application/json; charset=utf-8) ──")
	u.waitText("unité: °C")
	u.key(tcell.KeyTab) // from the last mode back to text
	u.waitGone("unité: °C")
	u.waitText(`{"t":20.5,"unité":"°C"}`)

	// A decrypted message shows its plaintext too; base64 decodes the
	// Fernet token.
	c2 := load(t, labSession, labKeys)
	u2 := start(t, c2, 120, 40, Options{})
	u2.typeText(":goto 56")
	u2.key(tcell.KeyEnter)
	u2.waitSelected(56)
	u2.typeText(":payload")
	u2.key(tcell.KeyEnter)
	u2.waitText("Decrypted plaintext (23 bytes)")
	u2.typeText("3")
	u2.waitText("not JSON")
	u2.typeText("4")
	u2.waitText("decoded, ")
}

func TestHelp(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 200, Options{})
	u.waitText("115 packets")
	u.typeText("?")
	u.waitText("mqtap: keys and commands")
	s := u.text()
	// Every binding and command of the tables is listed.
	for _, b := range keyTable() {
		if !strings.Contains(s, b.Desc) {
			t.Errorf("help lacks %q", b.Desc)
		}
		if !strings.Contains(s, b.Scope.title()) {
			t.Errorf("help lacks the section %q", b.Scope.title())
		}
	}
	for _, cmd := range commandTable() {
		if !strings.Contains(s, ":"+cmd.Names[0]) {
			t.Errorf("help lacks :%s", cmd.Names[0])
		}
	}
	if !regexp.MustCompile(`S\s+sessions \(key exchanges\)`).MatchString(s) {
		t.Error("help does not pair S with the sessions view")
	}
	u.key(tcell.KeyEscape)
	u.waitGone("mqtap: keys and commands")
}

func TestQuit(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 80, 24, Options{})
	u.waitText("115 packets")
	// q in a view goes back; q on the list quits and Run returns nil.
	u.typeText("S")
	u.waitText("Sessions")
	u.typeText("q")
	u.waitGone("Sessions (key")
	u.typeText("q")
	select {
	case err := <-u.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		u.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("q did not quit")
	}

	// :q and Ctrl-C quit as well.
	for _, keys := range []func(u *ui){
		func(u *ui) { u.typeText(":q"); u.key(tcell.KeyEnter) },
		func(u *ui) { u.key(tcell.KeyCtrlC) },
	} {
		u := start(t, c, 80, 24, Options{})
		u.waitText("115 packets")
		keys(u)
		select {
		case err := <-u.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
			u.done <- err
		case <-time.After(10 * time.Second):
			t.Fatal("did not quit")
		}
	}
}

func TestPanicRestoresTerminal(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 80, 24, Options{})
	u.waitText("115 packets")
	go u.app.app.QueueUpdate(func() { panic("boom") })
	select {
	case err := <-u.done:
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Run returned %v, want the panic", err)
		}
		u.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after a panic")
	}
	if w, h := u.screen.Size(); w != 0 || h != 0 {
		t.Errorf("screen not finalised: %dx%d", w, h)
	}
}

func TestSmallScreens(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 80, 24, Options{})
	u.waitText("115 packets")
	for _, size := range [][2]int{{20, 5}, {1, 1}, {0, 0}, {3, 2}, {80, 24}, {200, 60}} {
		u.screen.SetSize(size[0], size[1])
		u.screen.PostEvent(tcell.NewEventResize(size[0], size[1]))
		u.settle()
		if size == [2]int{20, 5} {
			// The filter bar and the status line keep their rows.
			lines := u.lines()
			if !strings.HasPrefix(lines[0], "Filter:") || !strings.HasPrefix(lines[4], "lab-session.pcapng") {
				t.Errorf("20x5 screen:\n%s", u.text())
			}
		}
		// Every view draws at every size.
		for _, k := range []string{"S", "q", "T", "q", "!", "q", "c", "q", "s", "q", "p", "q", "?", "q", "\t", "\t", "j", "\t"} {
			u.typeText(k)
		}
		u.settle()
	}
	u.screen.SetSize(80, 24)
	u.screen.PostEvent(tcell.NewEventResize(80, 24))
	u.waitText("No.")
	u.waitText("Info")
	u.waitText("Bytes")
	s := u.lines()
	if len(s) != 24 || len([]rune(s[0])) != 80 {
		t.Fatalf("screen %dx%d", len([]rune(s[0])), len(s))
	}
	select {
	case err := <-u.done:
		t.Fatalf("Run ended: %v", err)
	default:
	}
}

func TestLiveCapture(t *testing.T) {
	c := newCapture(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{Live: true, Filter: "mqtt.msgtype == 3"})
	u.waitText("live")
	u.waitText("tail")

	// Feed the capture while the UI runs, flushing after every frame.
	fed := make(chan error, 1)
	go func() {
		fed <- feed(c, labSession, func() error {
			time.Sleep(time.Millisecond)
			return c.Flush()
		})
	}()
	if err := <-fed; err != nil {
		t.Fatal(err)
	}
	u.waitText("done")
	// The filtered selection grew with the capture, and follow-tail kept
	// the last PUBLISH selected.
	u.waitText("40/115 packets")
	all := rows(t, c)
	lastPublish := 0
	for _, r := range all {
		if r.Type.String() == "PUBLISH" {
			lastPublish = r.Frame
		}
	}
	u.waitSelected(lastPublish)
	var sel []int
	u.do(func() { sel = append(sel, u.app.flt.sel...) })
	for i, idx := range sel {
		if all[idx].Type.String() != "PUBLISH" || i > 0 && idx <= sel[i-1] {
			t.Fatalf("selection %v is not the PUBLISH records in order", sel)
		}
	}

	// Moving up leaves follow-tail mode; F turns it on again.
	u.typeText("k")
	u.waitFor("tail off", func(s string) bool { return !strings.Contains(s, "│ tail │") })
	u.typeText("F")
	u.waitText("following the tail")
	u.waitSelected(lastPublish)
}

func TestRowErrors(t *testing.T) {
	// Reading rows of a closed capture fails: the error goes to the status
	// line, nothing panics.
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.do(func() { c.Close() })
	u.typeText("G")
	u.waitFor("an error on the status line", func(s string) bool {
		lines := u.lines()
		return strings.Contains(lines[len(lines)-1], "done │ reading record")
	})
	select {
	case err := <-u.done:
		t.Fatalf("Run ended: %v", err)
	default:
	}
}

// downToTreeLine moves the detail tree's selection down (j) until the
// selected line starts with prefix, at most max lines.
// downToTopic moves down the topics view (j) to the topic path, at most
// max steps; the test fails when it is not found.
func (u *ui) downToTopic(path string, max int) {
	u.t.Helper()
	for i := 0; i < max; i++ {
		var cur string
		u.do(func() {
			if _, tn := u.app.currentTopic(); tn != nil {
				cur = tn.Path
			}
		})
		if cur == path {
			return
		}
		u.typeText("j")
		u.settle()
	}
	u.t.Fatalf("topic %s not found in the tree:\n%s", path, u.text())
}

func (u *ui) downToTreeLine(prefix string, max int) {
	for i := 0; i < max; i++ {
		var cur string
		u.do(func() { cur = u.app.tree.GetCurrentNode().GetText() })
		if strings.HasPrefix(cur, prefix) {
			return
		}
		u.typeText("j")
		u.settle()
	}
}

// TestTopicsChart walks the topics view of the structured payload sample:
// the selected topic's numeric members are plotted (braille) with their
// min, max and last, its rate and bytes shown; a Sparkplug B topic plots
// its metrics by the names its births gave their aliases; a topic without
// numbers says so.
func TestTopicsChart(t *testing.T) {
	c := load(t, "../pcaps/samples/payloads.pcapng", "../pcaps/samples/keys/payloads")
	u := start(t, c, 200, 60, Options{})
	u.waitText("2483 packets")
	u.typeText("T")
	u.waitText("All topics")
	walkTo := func(path string) { u.downToTopic(path, 80) }
	walkTo("lab/cbor")
	u.waitText("t min 24.5 max 24.5 last 24.5")
	walkTo("lab/utf8")
	u.waitText("no numeric values")
	walkTo("plant/boiler/level")
	u.waitText("300 messages")
	u.waitText("600 bytes  text")
	u.waitText("(value) min 50 max 79 last 79")
	if !strings.ContainsAny(u.text(), "⡇⢸⠁⠈") {
		t.Errorf("no braille chart:\n%s", u.text())
	}
	walkTo("plant/boiler/temp")
	u.waitText("t min 45 max 75 last 70.31")
	u.waitText("p min 2 max 3.96 last 3.96")
	u.waitText("on min 0 max 1 last 1")
	walkTo("spBv1.0/G1/NDATA/E1")
	u.waitText("metrics.Temperature min 21.5 max 21.5 last 21.5")
	u.waitText("metrics.Pressure min 7 max 7 last 7")
}

// TestTimeFormats cycles the Time column with t: relative (tshark -t r),
// absolute time of day (-t a), delta from the previous packet (-t d),
// then relative again; the status line names each.
func TestTimeFormats(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 140, 30, Options{})
	u.waitText("115 packets")
	first, _ := c.Row(0)
	second, _ := c.Row(1)
	rel := formatSeconds(second.Relative)
	abs := second.Time.UTC().Format("15:04:05.000000")
	delta := formatSeconds(second.Time.Sub(first.Time))
	if rel == delta || rel == abs {
		t.Fatalf("the sample's second packet does not tell the formats apart: %s %s %s", rel, abs, delta)
	}
	no := strconv.Itoa(second.Frame)
	row2 := func() string {
		for _, l := range u.lines() {
			if f := strings.Fields(l); len(f) > 2 && f[1] == no {
				return l
			}
		}
		return ""
	}
	u.waitFor("relative time", func(string) bool { return strings.Contains(row2(), rel) })
	u.typeText("t")
	u.waitText("Time: absolute")
	u.waitFor("absolute time", func(string) bool { return strings.Contains(row2(), abs) })
	u.typeText("t")
	u.waitText("Time: delta")
	u.waitFor("delta time", func(string) bool { return strings.Contains(row2(), delta) && !strings.Contains(row2(), rel) })
	u.typeText("t")
	u.waitText("Time: relative")
	u.waitFor("relative time again", func(string) bool { return strings.Contains(row2(), rel) })
}

// TestCopy copies the selected detail line's value (y) and the whole
// packet (Y) to the terminal's clipboard (tcell sends OSC 52; the
// simulation screen keeps the data), and says so on the status line.
func TestCopy(t *testing.T) {
	c := load(t, "../pcaps/samples/mqtt5.pcapng", "")
	u := start(t, c, 120, 40, Options{})
	u.waitText("mqtt5.pcapng")
	u.typeText(":goto 126")
	u.key(tcell.KeyEnter)
	u.waitSelected(126)
	u.key(tcell.KeyTab)
	u.settle()
	u.downToTreeLine("Topic:", 40)
	u.typeText("y")
	u.waitText("copied the value (29 bytes): capteurs/température/salle-3")
	if got := string(u.screen.GetClipboardData()); got != "capteurs/température/salle-3" {
		t.Errorf("clipboard %q", got)
	}
	u.typeText("Y")
	u.waitText("copied frame 126")
	got := string(u.screen.GetClipboardData())
	for _, want := range []string{"Frame 126:", "MQ Telemetry Transport Protocol, Publish Message", "Topic: capteurs/température/salle-3", "Content Type: application/json; charset=utf-8", "unité: °C"} {
		if !strings.Contains(got, want) {
			t.Errorf("packet copied lacks %q:\n%s", want, got)
		}
	}
}
