package tui

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/output"
	"github.com/mqtap/mqtap/tui/model"
)

// search opens the search bar, switches it to kind ("string", "hex" or
// "filter") with Tab and searches for text.
func (u *ui) search(kind, text string) {
	u.t.Helper()
	u.key(tcell.KeyCtrlF)
	u.waitText("Search ")
	var cur model.SearchKind
	u.do(func() { cur = u.app.search.kind })
	i := slices.Index(searchKinds, cur)
	for n := 0; n < len(searchKinds) && searchKinds[(i+n)%len(searchKinds)].String() != kind; n++ {
		u.key(tcell.KeyTab)
	}
	u.waitText("Search " + kind + " (Tab")
	u.key(tcell.KeyCtrlU) // the bar keeps the last search's text
	u.typeText(text)
	u.key(tcell.KeyEnter)
}

func TestSearchString(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.waitSelected(4)

	// In the plaintext of two decrypted responses only (the raw
	// packets are encrypted), whatever the case.
	u.search("string", "24CSOOM")
	u.waitText(`found "24CSOOM" in frame 258`)
	u.waitSelected(258)
	u.typeText("n")
	u.waitText(`found "24CSOOM" in frame 267`)
	u.waitSelected(267)
	u.typeText("n")
	u.waitText(`found "24CSOOM" in frame 258 (search wrapped around)`)
	u.waitSelected(258)
	u.typeText("N")
	u.waitText(`found "24CSOOM" in frame 267 (search wrapped around)`)
	u.waitSelected(267)
	u.typeText("N")
	u.waitText(`found "24CSOOM" in frame 258`)
	u.waitGone("wrapped")

	// Only in the detail tree: a field's title (CONNECT's keep alive).
	u.typeText(":goto 4")
	u.key(tcell.KeyEnter)
	u.waitSelected(4)
	u.search("string", "keep alive")
	u.waitText(`not found: "keep alive"`)
	u.search("details", "keep alive")
	u.waitText(`found "keep alive" (details) in frame 13`)
	u.waitSelected(13)
	u.typeText("N")
	u.waitText(`found "keep alive" (details) in frame 4`)
	u.waitSelected(4)
	u.typeText("n")
	u.waitText(`found "keep alive" (details) in frame 13`)

	// Not found: the selection stays.
	u.search("string", "no such text")
	u.waitText(`not found: "no such text"`)
	u.waitSelected(13)
	if u.app.search.running {
		t.Error("the search still runs after its answer")
	}
}

func TestSearchHexAndFilter(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.waitSelected(4)

	// Hex bytes: "24csoom" in the decrypted plaintext's bytes.
	u.search("hex", "32:34:63:73:6f:6f:6d")
	u.waitText("found bytes 32:34:63:73:6f:6f:6d in frame 258")
	u.waitSelected(258)
	u.search("hex", "32346373")
	u.waitText("found bytes 32346373 in frame 267")
	// A bad hex string is an error, not a search.
	u.search("hex", "7g")
	u.waitText("search: hex bytes")

	// A display filter (Tab twice from string), from the start.
	u.typeText("g")
	u.waitSelected(4)
	u.search("filter", "mqtt.msgtype == 14")
	u.waitText("found filter mqtt.msgtype == 14 in frame 61")
	u.waitSelected(61)
	u.typeText("n")
	u.waitText("found filter mqtt.msgtype == 14 in frame ")
	u.waitGone("in frame 61")
	u.search("filter", "mqtt.msgtype ==")
	u.waitText("search: filter:")
}

func TestSearchWithinFilter(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.typeText("/")
	u.typeText("mqtt.msgtype == 3")
	u.key(tcell.KeyEnter)
	u.waitText("filter: mqtt.msgtype == 3")
	u.settle()
	before := u.listedFrames()

	// CONNECT packets are hidden: not found, and the list is the same.
	u.search("details", "keep alive")
	u.waitText(`not found: "keep alive" (details)`)
	u.search("string", "24csoom")
	u.waitText(`found "24csoom" in frame 258`)
	u.waitSelected(258)
	u.waitText("filter: mqtt.msgtype == 3")
	if got := u.listedFrames(); len(got) == 0 || !slices.Contains(append(before, got...), 258) {
		t.Errorf("list shows %v after the search", got)
	}

	// :search and Esc in the bar.
	u.typeText(":search NETWORKING")
	u.key(tcell.KeyEnter)
	u.waitText(`found "NETWORKING" in frame `)
	u.key(tcell.KeyCtrlF)
	u.waitText("Search string")
	u.key(tcell.KeyEscape)
	u.waitGone("Search string")
	u.waitText("115 packets")
}

func TestPageDownKeys(t *testing.T) {
	c := load(t, labSession, labKeys)
	u := start(t, c, 120, 40, Options{})
	u.waitText("115 packets")
	u.waitSelected(4)
	u.key(tcell.KeyCtrlD)
	u.waitFor("a page down", func(string) bool { return frameOf(u.selectedRow()) > 13 })
	down := frameOf(u.selectedRow())
	u.key(tcell.KeyCtrlB)
	u.waitSelected(4)
	// ctrl-f searches now: it opens the search bar and leaves the list.
	u.key(tcell.KeyCtrlF)
	u.waitText("Search string (Tab: kind):")
	u.key(tcell.KeyEscape)
	u.waitGone("Search string")
	u.settle()
	if got := frameOf(u.selectedRow()); got != 4 {
		t.Errorf("ctrl-f moved the selection to frame %d (page down went to %d)", got, down)
	}
	// The help lists the new keys.
	u.typeText("?")
	u.waitText("Ctrl-F")
	for _, want := range []string{"Ctrl-D", "search the packets shown", ":search TEXT", ":marked"} {
		if !strings.Contains(u.app.helpText(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestFindMatchesDefinition checks the model's search, walking forward
// through every match, against what each kind is documented to search,
// computed here from the whole records: the string kind's summary columns,
// bytes and mqtap text; the details kind's -V text besides.
func TestFindMatchesDefinition(t *testing.T) {
	for _, tc := range []struct {
		path, keys string
		texts      []string
	}{
		{"../pcaps/samples/mqtt5.pcapng", "", []string{"salle-3", "Keep Alive", "content type: application/json", "°c", "PUBACK", "zzz-none"}},
		{labSession, labKeys, []string{"24CSOOM", "cosmo42#2", "127.0.0.1:44384", "Fernet token time", "Plaintext: n", "hkdf-sha256", "zzz-none"}},
	} {
		c := load(t, tc.path, tc.keys)
		for _, text := range tc.texts {
			for _, kind := range []model.SearchKind{model.SearchString, model.SearchDetails} {
				var want []int
				for i := 0; i < c.Len(); i++ {
					if holds(t, c, i, kind, text) {
						want = append(want, i)
					}
				}
				if got := findAll(t, c, kind, text); !slices.Equal(got, want) {
					t.Errorf("%s %s %q: found records %v, want %v", filepath.Base(tc.path), kind, text, got, want)
				}
				if len(want) == 0 && text != "zzz-none" && kind == model.SearchDetails {
					t.Errorf("%q is in no record of %s", text, tc.path)
				}
			}
		}
	}
}

// holds reports whether record i holds text where a search of kind looks.
func holds(t *testing.T, c *model.Capture, i int, kind model.SearchKind, text string) bool {
	t.Helper()
	r, err := c.Record(i)
	if err != nil {
		t.Fatal(err)
	}
	row, err := c.Row(i)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{row.Info, row.Src, row.Dst, row.Type.String(), row.Topic, string(r.Packet.Raw), string(r.Crypto.Plaintext),
		r.Crypto.Session, r.Crypto.Scheme, r.Crypto.Kex, r.Crypto.Verify, r.Crypto.Decrypt, r.Crypto.Reason, r.Crypto.Key, r.Crypto.KDF}
	for _, f := range r.Findings {
		parts = append(parts, f.Rule, f.Text)
	}
	if kind == model.SearchDetails {
		parts = append(parts, packetText(t, r))
	}
	for _, p := range parts {
		if strings.Contains(strings.ToLower(p), strings.ToLower(text)) {
			return true
		}
	}
	return false
}

// findAll walks forward from the last record through every match.
func findAll(t *testing.T, c *model.Capture, kind model.SearchKind, text string) []int {
	t.Helper()
	s, err := model.NewSearch(kind, text)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	after := c.Len() - 1
	for range c.Len() {
		idx, _, err := c.Find(context.Background(), s, nil, after, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if idx < 0 || (len(got) > 0 && idx == got[0]) {
			break
		}
		got = append(got, idx)
		after = idx
	}
	return got
}

// packetText returns a record as mqtap read -V prints it.
func packetText(t *testing.T, r *session.Record) string {
	t.Helper()
	var b strings.Builder
	w, err := output.New(&b, output.Options{Format: output.Text, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// BenchmarkSearch1M opens the 1,000,000-packet synthetic capture (or
// MQTAP_BENCH_CAPTURE) in the UI on a 120x40 simulation screen, indexed to
// the end, and reports how long ctrl-f, the text and Enter take to put the
// answer on the status line, from the first packet: a string in the next
// packets' Info, one only the last packet's payload holds, one no packet
// holds, hex bytes no packet holds, a display filter no packet matches,
// and the details kind: a field's title and value of a packet near the
// start, and text no packet holds (every packet's -V text is written).
func BenchmarkSearch1M(b *testing.B) {
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
	defer func() {
		a.Stop()
		if err := <-ran; err != nil {
			b.Fatal(err)
		}
	}()
	status := func() string {
		var s string
		a.app.QueueUpdate(func() { s = a.msg })
		return s
	}
	last, err := c.Row(c.Len() - 1)
	if err != nil {
		b.Fatal(err)
	}
	lastPayload := `"seq":` + strconv.Itoa(last.Frame-9) + `,`
	near := "sensor-3"
	if os.Getenv("MQTAP_BENCH_CAPTURE") != "" {
		// Another capture: the near text is a topic of its first packets,
		// and no text is known to be in the last packet only.
		lastPayload = ""
		near = ""
		for i := 0; i < min(c.Len(), 100) && near == ""; i++ {
			r, err := c.Row(i)
			if err != nil {
				b.Fatal(err)
			}
			near = r.Topic
		}
	}
	for _, bc := range []struct {
		name, kind, text, want string
	}{
		{"string-near", "", near, "found"},
		{"string-last", "", lastPayload, "found"},
		{"string-none", "", "no such text", "not found"},
		{"hex-none", "\t", "de:ad:be:ef:01", "not found"},
		{"filter-none", "\t\t", `mqtt.topic contains "no such topic"`, "not found"},
		{"details-near", "\t\t\t", "keep alive: 60", "found"},
		{"details-none", "\t\t\t", "no such text", "not found"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.text == "" {
				b.Skip("no such text in this capture")
			}
			for b.Loop() {
				a.app.QueueUpdate(func() {
					a.search.last = nil
					a.search.kind = model.SearchString
					if a.search.bar != nil {
						a.search.bar.SetText("")
					}
					a.selectPos(0)
					a.setMessage("")
				})
				screen.InjectKey(tcell.KeyCtrlF, 0, tcell.ModNone)
				for _, r := range bc.kind {
					screen.InjectKey(tcell.KeyTab, r, tcell.ModNone)
				}
				for _, r := range bc.text {
					screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
				}
				screen.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
				deadline := time.Now().Add(time.Minute)
				for {
					s := status()
					if strings.HasPrefix(s, "found") || strings.HasPrefix(s, "not found") || strings.HasPrefix(s, "search:") {
						if !strings.HasPrefix(s, bc.want) {
							b.Fatalf("status %q, want %s", s, bc.want)
						}
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("no answer; status %q", s)
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
}

// TestSearchDecodedValues: the string kind finds text that is not in the
// raw bytes but in a value decoded from a named payload format: a CBOR
// float, a protobuf enum's name, the inflated text of a compressed payload
// (all in the Info column, which shows the value's first 80 bytes), and a
// protobuf map past those 80 bytes (only in the value the index keeps as
// JSON).
func TestSearchDecodedValues(t *testing.T) {
	c := load(t, "../pcaps/samples/payloads.pcapng", "../pcaps/samples/keys/payloads")
	u := start(t, c, 120, 40, Options{})
	u.waitText("done")
	for _, want := range []struct {
		text  string
		frame int
	}{
		{`"t":24.5`, 42},
		{`"status":"OK"`, 54},
		{`"zipped":true`, 58},
		{`"labels":{"line":"1"}`, 54},
	} {
		u.do(func() { u.app.moveListTo(0) })
		u.search("string", want.text)
		u.waitText("found " + strconv.Quote(want.text) + " in frame " + strconv.Itoa(want.frame))
		u.waitSelected(want.frame)
	}
}
