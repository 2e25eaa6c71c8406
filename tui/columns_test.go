package tui

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/tui/model"
)

// command types a command line and runs it.
func (u *ui) command(line string) {
	u.typeText(":" + line)
	u.key(tcell.KeyEnter)
}

// columnText returns the text of the packet list column whose header is
// title in the row of frame, read from the screen ("" when either is not
// on the screen).
func (u *ui) columnText(title string, frame int) string {
	lines := u.lines()
	x := -1
	for _, l := range lines {
		if strings.Contains(l, "No.") && strings.Contains(l, "Info") {
			if i := strings.Index(l, " "+title+" "); i >= 0 {
				x = len([]rune(l[:i+1]))
			}
			break
		}
	}
	if x < 0 {
		return ""
	}
	for _, l := range lines {
		if frameOf(l) == frame {
			r := []rune(l)
			if x >= len(r) {
				return ""
			}
			f := strings.Fields(string(r[x:]))
			if len(f) == 0 {
				return ""
			}
			return f[0]
		}
	}
	return ""
}

// TestColumnsCommand adds, lists, removes and resets columns with
// :columns; each change is written to the configuration file.
func TestColumnsCommand(t *testing.T) {
	path := configHome(t)
	c := load(t, labSession, "")
	u := start(t, c, 200, 50, Options{})
	u.waitText("115 packets")
	u.command("columns")
	u.waitText("columns: 1 No., 2 Time, 3 Source, 4 Destination, 5 Type, 6 Length, 7 Info")

	u.command("columns add mqtt.topic Topic")
	u.waitText("added column 7 Topic=mqtt.topic; saved to " + path)
	u.waitFor("the topic of frame 31 in the Topic column", func(string) bool {
		return u.columnText("Topic", 31) == "le0nh4rt/key-exchange/request"
	})
	if got := u.columnText("Topic", 37); got != "Publish" { // a PUBACK has no topic: the next column starts there
		t.Errorf("Topic of a PUBACK reads %q, want an empty cell", got)
	}
	cfg, err := LoadConfig(path)
	if err != nil || cfg == nil {
		t.Fatalf("config after :columns add: %+v, %v", cfg, err)
	}
	if n := len(cfg.Columns); n != 8 || cfg.Columns[6] != (ColumnConfig{Field: "mqtt.topic", Title: "Topic"}) || cfg.Columns[7].Builtin != "info" {
		t.Errorf("saved columns %+v", cfg.Columns)
	}

	u.command("columns add mqtt.nope")
	u.waitText(`unknown field "mqtt.nope" (a column takes any field name of mqtap read -e)`)
	u.command("columns add mqtap.value.temperature")
	u.waitText("added column 8 mqtap.value.temperature")
	u.command("columns add")
	u.waitText(":columns add needs a field name")
	u.command("columns remove 9")
	u.waitText("Info is always the last column")
	u.command("columns remove 0")
	u.waitText(":columns remove needs a column number from 1 to 9")
	u.command("columns remove 7")
	u.waitText("removed column 7 Topic=mqtt.topic")
	u.waitFor("no Topic header", func(string) bool { return u.columnText("Topic", 31) == "" })
	u.command("columns remove 6")
	u.waitText("removed column 6 Length")
	u.command("columns")
	u.waitText("columns: 1 No., 2 Time, 3 Source, 4 Destination, 5 Type, 6 mqtap.value.temperature, 7 Info")
	u.command("columns frobnicate")
	u.waitText(":columns frobnicate: use :columns")

	u.command("columns reset")
	u.waitText("columns reset to the defaults; saved to " + path)
	u.waitText("Length")
	cfg, err = LoadConfig(path)
	if err != nil || cfg == nil {
		t.Fatalf("config after :columns reset: %+v, %v", cfg, err)
	}
	var def configState
	def.setDefaults()
	if !reflect.DeepEqual(cfg.Columns, def.config().Columns) {
		t.Errorf("saved columns after reset %+v", cfg.Columns)
	}
}

// TestTreeColumnAndFilter uses a, f and F on detail lines: a adds the
// line's field as a column, f applies FIELD == value, F puts it in the
// filter bar; a line without a field says so.
func TestTreeColumnAndFilter(t *testing.T) {
	configHome(t)
	c := load(t, "../pcaps/samples/mqtt5.pcapng", "")
	u := start(t, c, 200, 60, Options{})
	u.waitText("mqtt5.pcapng")
	u.command("goto 126")
	u.waitSelected(126)
	u.key(tcell.KeyTab)
	u.settle()
	u.downToTreeLine("Topic:", 40)
	u.typeText("a")
	u.waitText("added column 7 mqtt.topic")
	u.waitFor("the topic in the new column", func(string) bool {
		return u.columnText("mqtt.topic", 126) == "capteurs/température/salle-3"
	})

	u.typeText("f")
	want := `mqtt.topic == "capteurs/température/salle-3"`
	u.waitText("filter: " + want)
	u.waitFor("the filtered list", func(s string) bool { return regexp.MustCompile(`\d+/\d+ packets │ filter:`).MatchString(s) })
	var sel []int
	u.do(func() { sel = append(sel, u.app.flt.sel...) })
	if len(sel) < 2 {
		t.Errorf("%s selects %d packets, want the topic's (at least 2)", want, len(sel))
	}
	for _, idx := range sel {
		if r, err := c.Row(idx); err != nil || r.Topic != "capteurs/température/salle-3" {
			t.Errorf("record %d shown by %s: %+v, %v", idx, want, r, err)
		}
	}

	// F on a member of the decoded value: mqtap.value.<path> in the filter
	// bar, focused, not applied yet.
	u.downToTreeLine("unité: °C", 80)
	u.typeText("F")
	u.waitFor("the filter bar to edit", func(string) bool {
		var text string
		var focused bool
		u.do(func() { text, focused = u.app.filter.GetText(), u.app.app.GetFocus() == u.app.filter })
		return focused && text == `mqtap.value.unité == "°C"`
	})
	u.key(tcell.KeyEscape) // back to the list
	u.settle()
	u.key(tcell.KeyTab)
	u.settle()
	u.typeText("g") // the frame line: frame.number
	u.settle()
	u.typeText("j") // MQ Telemetry Transport Protocol: no field
	u.settle()
	u.typeText("f")
	u.waitText("this line has no field")
	u.typeText("a")
	u.waitText("this line has no field")
	u.typeText("k")
	u.settle()
	u.typeText("F")
	u.waitFor("frame.number in the filter bar", func(string) bool {
		var text string
		u.do(func() { text = u.app.filter.GetText() })
		return text == "frame.number == 126"
	})
}

// TestSaveConfig changes the theme and the columns, saves them with
// :save-config and reads them back, in the file and in a new UI.
func TestSaveConfig(t *testing.T) {
	path := configHome(t)
	c := load(t, labSession, labKeys)
	u := start(t, c, 200, 50, Options{})
	u.waitText("115 packets")
	u.command("theme light")
	u.waitText("theme: light")
	if _, err := os.Stat(path); err == nil {
		t.Fatal(":theme wrote the configuration file")
	}
	u.command("columns add mqtt.qos QoS")
	u.waitText("saved to " + path)
	u.command("save-config")
	u.waitText("saved the columns, colours and theme to " + path)
	cfg, err := LoadConfig(path)
	if err != nil || cfg == nil {
		t.Fatalf("saved config: %+v, %v", cfg, err)
	}
	if cfg.Theme != "light" || !reflect.DeepEqual(cfg.Colors, defaultColorRules()) || cfg.Columns[6] != (ColumnConfig{Field: "mqtt.qos", Title: "QoS"}) {
		t.Errorf("saved %+v", cfg)
	}

	u2 := start(t, c, 200, 50, Options{})
	u2.waitText("115 packets")
	u2.waitFor("the QoS column", func(string) bool { return u2.columnText("QoS", 31) == "1" })
	u2.command("goto 49")
	u2.waitSelected(49)
	u2.waitCell(47, "127.0.0.1", "green of the light theme", fgIs(tcell.ColorGreen))

	// An explicit ConfigPath is used instead of the default one.
	other := filepath.Join(t.TempDir(), "other.toml")
	writeConfig(t, other, "[[column]]\nfield = \"mqtt.msgid\"\ntitle = \"MsgID\"\n")
	u3 := start(t, c, 200, 50, Options{ConfigPath: other})
	u3.waitText("115 packets")
	u3.waitFor("the MsgID column alone", func(s string) bool {
		return regexp.MustCompile(`║ +MsgID +Info +║`).MatchString(s) && regexp.MustCompile(`║ +2 +Publish Message \(id=2\)`).MatchString(s)
	})
}

// BenchmarkScroll pages down a 200,000-packet capture (indexed) on a
// 200x60 simulation screen, with no colour rules and the default columns,
// with the default colour rules, and with them and two field columns;
// it reports the time per page down (until the screen shows it).
func BenchmarkScroll(b *testing.B) {
	path, err := pcaps.SyntheticFile(os.TempDir(), 200_000)
	if err != nil {
		b.Fatal(err)
	}
	c, err := model.New("bench", model.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := feed(c, path, nil); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, config string }{
		{"plain", "color = []\n"},
		{"colours", ""},
		{"colours+columns", "[[column]]\nbuiltin = \"no\"\n[[column]]\nfield = \"mqtt.topic\"\n[[column]]\nfield = \"mqtap.value.seq\"\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfgPath := filepath.Join(b.TempDir(), "config.toml")
			if err := os.WriteFile(cfgPath, []byte(bc.config), 0o644); err != nil {
				b.Fatal(err)
			}
			benchPages(b, c, cfgPath)
		})
	}
}

// benchPages pages down the list of c, timing each page.
func benchPages(b *testing.B, c *model.Capture, cfgPath string) {
	screen := tcell.NewSimulationScreen("UTF-8")
	if err := screen.Init(); err != nil {
		b.Fatal(err)
	}
	screen.SetSize(200, 60)
	a, err := New(c, screen, Options{ConfigPath: cfgPath})
	if err != nil {
		b.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- a.Run() }()
	defer func() {
		a.Stop()
		<-ran
	}()
	text := func() string {
		var sb strings.Builder
		a.app.QueueUpdate(func() {
			cells, _, _ := screen.GetContents()
			for _, cl := range cells {
				sb.WriteString(string(cl.Runes))
			}
		})
		return sb.String()
	}
	for !strings.Contains(text(), "200000 packets") {
		time.Sleep(time.Millisecond)
	}
	var pages int
	b.ResetTimer()
	for b.Loop() {
		before := text()
		screen.InjectKey(tcell.KeyPgDn, 0, tcell.ModNone)
		for text() == before {
		}
		pages++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(max(1, pages)), "ms/page")
}

// BenchmarkRowExtra measures what a row of the packet list costs beyond
// the model's Row when it shows for the first time: decoding its record
// again, the default colour rules and two field columns.
func BenchmarkRowExtra(b *testing.B) {
	path, err := pcaps.SyntheticFile(os.TempDir(), 200_000)
	if err != nil {
		b.Fatal(err)
	}
	c, err := model.New("bench", model.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := feed(c, path, nil); err != nil {
		b.Fatal(err)
	}
	cfgPath := filepath.Join(b.TempDir(), "config.toml")
	cfg := "[[column]]\nfield = \"mqtt.topic\"\n[[column]]\nfield = \"mqtap.value.seq\"\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	screen := tcell.NewSimulationScreen("UTF-8")
	if err := screen.Init(); err != nil {
		b.Fatal(err)
	}
	a, err := New(c, screen, Options{ConfigPath: cfgPath})
	if err != nil {
		b.Fatal(err)
	}
	defer screen.Fini()
	n := c.Len()
	i := 0
	for b.Loop() {
		if e := a.content.extra(i % n); e.err != nil || len(e.values) != 3 {
			b.Fatalf("row %d: %+v", i, e)
		}
		i++
	}
}

// TestTreeFilterLongValue: f on a 220 kB message refuses to build a
// filter of it, and a adds its column all the same.
func TestTreeFilterLongValue(t *testing.T) {
	configHome(t)
	c := load(t, "../pcaps/samples/large-payload.pcapng", "")
	u := start(t, c, 160, 50, Options{})
	u.waitText("done")
	u.command("goto 176")
	u.waitSelected(176)
	u.key(tcell.KeyTab)
	u.settle()
	u.downToTreeLine("Message:", 40)
	u.typeText("f")
	u.waitText("the value of mqtt.msg is too long for a filter (")
	u.typeText("a")
	u.waitText("added column 7 mqtt.msg")
}

func TestCellTextAndLiterals(t *testing.T) {
	long := strings.Repeat("a", maxCellText-1) + "é" + "tail"
	if got := cellText([]byte(long)); got != strings.Repeat("a", maxCellText-1)+"…" {
		t.Errorf("cellText cut %q", got[len(got)-8:])
	}
	if got := cellText([]byte("a\tb[red]")); got != `a\x09b[red[]` {
		t.Errorf("cellText = %q, want control characters replaced and tags escaped", got)
	}
	for _, tc := range []struct {
		f    decode.Field
		want string
	}{
		{decode.Field{Kind: decode.KindUint, Uint: 42}, "42"},
		{decode.Field{Kind: decode.KindBool, Uint: 1}, "True"},
		{decode.Field{Kind: decode.KindString, Bytes: []byte(`a "b"`)}, `"a \"b\""`},
		{decode.Field{Kind: decode.KindBytes, Bytes: []byte{0x7b, 0x22}}, "7b:22"},
		{decode.Field{Kind: decode.KindBytes}, `""`},
		{decode.Field{Kind: session.KindJSON, Bytes: []byte(`"x"`)}, `"x"`},
		{decode.Field{Kind: session.KindJSON, Bytes: []byte(`2.5`)}, "2.5"},
		{decode.Field{Kind: session.KindJSON, Bytes: []byte(`false`)}, "False"},
		{decode.Field{Kind: session.KindJSON, Bytes: []byte(`{"a":1}`)}, ""},
		{decode.Field{Kind: decode.KindNone}, ""},
	} {
		if got := fieldLiteral(&tc.f); got != tc.want {
			t.Errorf("fieldLiteral(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	if got := valueMember("mqtap.value", "[3]"); got != "mqtap.value.3" {
		t.Errorf("array element: %q", got)
	}
	if got := valueMember("mqtap.value.a", "b.c"); got != "" {
		t.Errorf("a member with a dot: %q", got)
	}
	if got := timeLiteral(1_700_000_000_000_000_123); got != "1700000000.000000123" {
		t.Errorf("timeLiteral = %q", got)
	}
}
