package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// TestMain keeps every test of the package away from the developer's
// configuration and NO_COLOR: XDG_CONFIG_HOME points to an empty temporary
// directory (tests that need a configuration write one with t.Setenv).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mqtap-tui-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.Unsetenv("NO_COLOR")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// configHome gives a test its own XDG_CONFIG_HOME and returns the path of
// its configuration file.
func configHome(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	path := filepath.Join(dir, "mqtap", "config.toml")
	if got, err := DefaultConfigPath(); err != nil || got != path {
		t.Fatalf("DefaultConfigPath() = %q, %v; want %q", got, err, path)
	}
	return path
}

// writeConfig writes a configuration file.
func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseConfig(t *testing.T) {
	good := `# a comment
theme = "light"

[[column]]
builtin = "no"

[[column]]
field = "mqtt.topic"
title = "Topic"

[[column]]
field = "mqtap.value.temperature"

[[color]]
filter = 'mqtap.decrypt == "ok"'
fg = "green"
bold = true

[[color]]
filter = "tls"
fg = "#ff8800"
bg = "navy"
`
	cfg, err := ParseConfig("config.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Theme:   "light",
		Columns: []ColumnConfig{{Builtin: "no"}, {Field: "mqtt.topic", Title: "Topic"}, {Field: "mqtap.value.temperature"}},
		Colors:  []ColorConfig{{Filter: `mqtap.decrypt == "ok"`, Fg: "green", Bold: true}, {Filter: "tls", Fg: "#ff8800", Bg: "navy"}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parsed %+v\nwant %+v", cfg, want)
	}
	var cs configState
	cs.setDefaults()
	if err := cs.apply(cfg); err != nil {
		t.Fatal(err)
	}
	if got := len(cs.cols); got != 4 || cs.cols[3].kind != colInfo || cs.cols[1].header() != "Topic" || cs.cols[2].header() != "mqtap.value.temperature" {
		t.Errorf("columns %+v: want No., Topic, mqtap.value.temperature, then Info added last", cs.cols)
	}
	if cs.theme.name != "light" || len(cs.rules) != 2 {
		t.Errorf("theme %s, %d rules", cs.theme.name, len(cs.rules))
	}

	// No [[color]]: the defaults; color = []: no rules.
	if cfg, err := ParseConfig("c", []byte(`theme = "dark"`)); err != nil || cfg.Colors != nil || cfg.Columns != nil {
		t.Errorf("a file without columns nor colours: %+v, %v", cfg, err)
	}
	if cfg, err := ParseConfig("c", []byte("color = []\n")); err != nil || cfg.Colors == nil || len(cfg.Colors) != 0 {
		t.Errorf("color = []: %+v, %v", cfg, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"syntax", "theme = \"dark\"\n\n[[column]]\nfield = \"mqtt.topic\n", "/x/config.toml:4:"},
		{"unknown field in the second column", "[[column]]\nfield = \"mqtt.topic\"\n\n[[column]]\nfield = \"mqtt.nope\"\n", `/x/config.toml:5: [[column]] 2: unknown field "mqtt.nope"`},
		{"bad colour filter", "[[color]]\nfilter = \"tls\"\nfg = \"cyan\"\n\n[[color]]\nfg = \"red\"\nfilter = \"mqtt.qos ==\"\n", `/x/config.toml:7: [[color]] 2: filter "mqtt.qos =="`},
		{"unknown colour", "[[color]]\nfilter = \"tls\"\n\nbg = \"reddish\"\n", `/x/config.toml:4: [[color]] 1: bg: unknown colour "reddish"`},
		{"unknown key", "theme = \"dark\"\n[[color]]\nfilter = \"tls\"\n[[color]]\nfilter = \"tls\"\nforeground = \"red\"\n", `/x/config.toml:6: [[color]] 2: unknown key "foreground"`},
		{"unknown top-level key", "\ntheme = \"dark\"\ncolumns = 3\n", `/x/config.toml:3: unknown key "columns"`},
		{"unknown theme", "\n\ntheme = \"solarized\"\n", `/x/config.toml:3: unknown theme "solarized"`},
		{"unknown builtin", "[[column]]\nbuiltin = \"number\"\n", `/x/config.toml:2: [[column]] 1: unknown builtin column "number"`},
		{"column without field", "[[column]]\ntitle = \"T\"\n", `/x/config.toml:1: [[column]] 1: no field`},
		{"wrong type in the first of two rules", "[[color]]\nfilter = \"tls\"\nbold = \"yes\"\n[[color]]\nfilter = \"tls\"\nbold = true\n", "/x/config.toml:3: [[color]] 1: bold must be true or false"},
		{"a number for a string", "[[column]]\nbuiltin = \"no\"\n[[column]]\nfield = 3\n", "/x/config.toml:4: [[column]] 2: field must be a string"},
		{"a table for an array of tables", "[column]\nfield = \"mqtt.topic\"\n", "/x/config.toml:1: column must be [[column]] tables"},
		{"theme not a string", "theme = 1\n", "/x/config.toml:1: theme must be a string"},
	} {
		_, err := ParseConfig("/x/config.toml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error on several lines: %q", tc.name, err)
		}
	}
}

// TestConfigWriteRoundTrip writes a configuration and reads it back, also
// one turning the colour rules off.
func TestConfigWriteRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "config.toml")
	var cs configState
	cs.setDefaults()
	cs.theme = themeByName("light")
	cs.cols = infoLast(append(cs.cols, column{kind: colCustom, field: "mqtt.topic", title: "Topic"},
		column{kind: colCustom, field: "mqtt.clientid", title: "Bob's \"client\"\tid \\"}))
	want := cs.config()
	want.Colors = append(want.Colors, ColorConfig{Filter: `mqtt.topic matches "^a'b\\d"`, Fg: "#00ff00", Bg: "darkorange"})
	if err := WriteConfig(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		b, _ := os.ReadFile(path)
		t.Errorf("read back %+v\nwant %+v\nfile:\n%s", got, want, b)
	}
	off := &Config{Theme: "dark", Columns: want.Columns, Colors: []ColorConfig{}}
	if err := WriteConfig(path, off); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadConfig(path); err != nil || got.Colors == nil || len(got.Colors) != 0 || len(got.Columns) != len(want.Columns) {
		t.Errorf("colours off read back as %+v, %v", got, err)
	}
	if got, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml")); got != nil || err != nil {
		t.Errorf("a missing file: %+v, %v; want nil, nil", got, err)
	}
}

// TestMalformedConfig starts the UI with a malformed configuration file:
// one error on the status line names the file and the line, and the
// default columns are used.
func TestMalformedConfig(t *testing.T) {
	path := configHome(t)
	writeConfig(t, path, "theme = \"dark\"\n[[column]]\nfield = \"mqtt.nope\"\n")
	c := load(t, labSession, labKeys)
	u := start(t, c, 250, 40, Options{})
	u.waitText(path + ":3: [[column]] 1: unknown field \"mqtt.nope\"")
	u.waitText("using the default columns, colours and theme")
	s := u.text()
	for _, want := range []string{"No.", "Time", "Source", "Destination", "Type", "Length", "Info"} {
		if !strings.Contains(s, want) {
			t.Errorf("default column %q missing:\n%s", want, s)
		}
	}
	// :columns changes do not overwrite the malformed file.
	u.typeText(":columns add mqtt.topic Topic")
	u.key(tcell.KeyEnter)
	u.waitText("not saved: " + path + " has errors")
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "mqtt.nope") {
		t.Errorf("the malformed file was overwritten:\n%s", b)
	}
}
