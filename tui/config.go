// The configuration file: the packet list's columns, the colour rules of
// its rows and the theme, read at start from $XDG_CONFIG_HOME/mqtap/
// config.toml (~/.config/mqtap/config.toml) and written by :columns and
// :save-config. A malformed file is one status-line error naming the file
// and the line, and the defaults are used.

package tui

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mqtap/mqtap/keys/tomllines"
)

// Config is the content of the configuration file.
type Config struct {
	// Theme is "dark" or "light" ("" is dark).
	Theme string `toml:"theme,omitempty"`
	// Columns are the packet list's columns, in order; nil: the defaults.
	// Info is always the last one.
	Columns []ColumnConfig `toml:"column"`
	// Colors are the row colour rules, the first that matches a row wins;
	// nil: the defaults, an empty list: none.
	Colors []ColorConfig `toml:"color"`
}

// ColumnConfig is one [[column]]: a built-in column or a field.
type ColumnConfig struct {
	// Builtin names a built-in column: no, time, source, destination,
	// type, length or info.
	Builtin string `toml:"builtin,omitempty"`
	// Field is a field name as mqtap read -e takes it (mqtt.topic,
	// mqtap.decrypt, mqtap.value.temperature, ...).
	Field string `toml:"field,omitempty"`
	// Title is the column's header ("": the built-in title or the field
	// name).
	Title string `toml:"title,omitempty"`
}

// ColorConfig is one [[color]] rule: the rows a display filter matches
// get a foreground, a background and bold.
type ColorConfig struct {
	Filter string `toml:"filter"`
	Fg     string `toml:"fg,omitempty"`
	Bg     string `toml:"bg,omitempty"`
	Bold   bool   `toml:"bold,omitempty"`
}

// configFile names the file under the user's configuration directory.
const configFile = "mqtap/config.toml"

// DefaultConfigPath returns $XDG_CONFIG_HOME/mqtap/config.toml, or
// ~/.config/mqtap/config.toml when XDG_CONFIG_HOME is not set.
func DefaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the configuration directory: %w", err)
	}
	return filepath.Join(dir, filepath.FromSlash(configFile)), nil
}

// LoadConfig reads a configuration file. A missing file is no error: it
// returns nil. A malformed one is an error naming the file and the line.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and checks the text of a configuration file: TOML
// syntax, keys and their types, themes, columns (fields -e accepts), colour
// rules (display filters and colours). The error names path and the line.
func ParseConfig(path string, data []byte) (*Config, error) {
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, oneLine(pe.Message))
		}
		return nil, fmt.Errorf("%s: %s", path, oneLine(strings.TrimPrefix(err.Error(), "toml: ")))
	}
	cfg, key, err := configOf(raw)
	if err != nil {
		line := tomllines.Scan(data).Line(key)
		if line == 0 { // not placed: the top of the file
			line = 1
		}
		return nil, fmt.Errorf("%s:%d: %s", path, line, err.Error())
	}
	return cfg, nil
}

// configOf reads and checks the decoded TOML of a configuration file. On
// error, key is the tomllines path of the culprit ("column[1].field").
func configOf(raw map[string]any) (*Config, string, error) {
	cfg := &Config{}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		var err error
		switch k {
		case "theme":
			s, ok := v.(string)
			if !ok {
				return nil, k, fmt.Errorf("theme must be a string, \"dark\" or \"light\"")
			}
			if themeByName(s) == nil {
				return nil, k, fmt.Errorf("unknown theme %q: use dark or light", s)
			}
			cfg.Theme = s
		case "column":
			cfg.Columns = []ColumnConfig{}
			err = eachTable(v, k, func(t map[string]string, _ bool) (string, error) {
				c := ColumnConfig{Builtin: t["builtin"], Field: t["field"], Title: t["title"]}
				cfg.Columns = append(cfg.Columns, c)
				_, err := c.column()
				switch {
				case c.Field != "":
					return "field", err
				case c.Builtin != "":
					return "builtin", err
				}
				return "", err
			})
		case "color":
			cfg.Colors = []ColorConfig{}
			err = eachTable(v, k, func(t map[string]string, b bool) (string, error) {
				c := ColorConfig{Filter: t["filter"], Fg: t["fg"], Bg: t["bg"], Bold: b}
				cfg.Colors = append(cfg.Colors, c)
				_, key, err := c.rule(themeByName("dark"))
				return key, err
			})
		default:
			return nil, k, fmt.Errorf("unknown key %q (keys: theme, [[column]] builtin field title, [[color]] filter fg bg bold)", k)
		}
		if err != nil {
			var te *tableError
			if errors.As(err, &te) {
				return nil, te.key, te.err
			}
			return nil, k, err
		}
	}
	return cfg, "", nil
}

// sortedKeys returns the keys of a map in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tableError is an error in one table of an array of tables, with the
// tomllines path of the culprit.
type tableError struct {
	key string
	err error
}

func (e *tableError) Error() string { return e.err.Error() }

// tableKeys are the keys of each array of tables and whether each is the
// boolean one (the others are strings).
var tableKeys = map[string]map[string]bool{
	"column": {"builtin": false, "field": false, "title": false},
	"color":  {"filter": false, "fg": false, "bg": false, "bold": true},
}

// eachTable checks the tables of an array of tables ([[name]]): their keys
// and the types of their values, then calls fn with the strings and the
// boolean of each, which returns its error and the key at fault. Errors
// are *tableError, naming the table ("[[color]] 2") and locating the key.
func eachTable(v any, name string, fn func(strs map[string]string, b bool) (string, error)) error {
	var tables []map[string]any
	switch t := v.(type) {
	case []map[string]any:
		tables = t
	case []any:
		if len(t) > 0 {
			return fmt.Errorf("%s must be [[%s]] tables", name, name)
		}
	default:
		return fmt.Errorf("%s must be [[%s]] tables", name, name)
	}
	for i, t := range tables {
		at := name + "[" + strconv.Itoa(i) + "]"
		fail := func(key string, err error) error {
			if key != "" {
				at = tomllines.Join(at, key)
			}
			return &tableError{key: at, err: fmt.Errorf("[[%s]] %d: %w", name, i+1, err)}
		}
		strs, b := map[string]string{}, false
		for _, k := range sortedKeys(t) {
			isBool, known := tableKeys[name][k]
			switch val := t[k].(type) {
			case string:
				if known && !isBool {
					strs[k] = val
					continue
				}
			case bool:
				if known && isBool {
					b = val
					continue
				}
			}
			switch {
			case !known:
				return fail(k, fmt.Errorf("unknown key %q", k))
			case isBool:
				return fail(k, fmt.Errorf("%s must be true or false", k))
			}
			return fail(k, fmt.Errorf("%s must be a string", k))
		}
		if key, err := fn(strs, b); err != nil {
			return fail(strings.TrimPrefix(key, "."), err)
		}
	}
	return nil
}

// WriteConfig writes a configuration file, creating its directory.
func WriteConfig(path string, cfg *Config) error {
	var b bytes.Buffer
	b.WriteString("# mqtap terminal UI configuration, written by mqtap (:columns, :save-config).\n")
	b.WriteString("# theme: dark or light. [[column]]: builtin = no|time|source|destination|type|length|info,\n")
	b.WriteString("# or field = any field name of mqtap read -e; title is optional. Info is always the last column.\n")
	b.WriteString("# [[color]]: rows matching the display filter get fg, bg (red, green, yellow, blue, magenta,\n")
	b.WriteString("# cyan follow the theme; other names and #rrggbb are used as they are) and bold; the first\n")
	b.WriteString("# rule that matches wins. Without [[color]] the default rules apply; color = [] turns them off.\n\n")
	// Top-level keys first: a key after a table belongs to that table.
	if cfg.Theme != "" {
		b.WriteString("theme = " + tomlString(cfg.Theme) + "\n")
	}
	if cfg.Colors != nil && len(cfg.Colors) == 0 {
		b.WriteString("color = []\n")
	}
	for _, c := range cfg.Columns {
		b.WriteString("\n[[column]]\n")
		writeKey(&b, "builtin", c.Builtin)
		writeKey(&b, "field", c.Field)
		writeKey(&b, "title", c.Title)
	}
	for _, c := range cfg.Colors {
		b.WriteString("\n[[color]]\n")
		b.WriteString("filter = " + tomlString(c.Filter) + "\n")
		writeKey(&b, "fg", c.Fg)
		writeKey(&b, "bg", c.Bg)
		if c.Bold {
			b.WriteString("bold = true\n")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the configuration directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.toml")
	if err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	return nil
}

// writeKey writes key = "value" unless value is empty.
func writeKey(b *bytes.Buffer, key, value string) {
	if value != "" {
		b.WriteString(key + " = " + tomlString(value) + "\n")
	}
}

// tomlString returns s as a TOML string: a basic string ("...") when
// nothing in it needs escaping, else a literal string ('...', which reads
// best for display filters with quotes) when it can be one, else a basic
// string with escapes.
func tomlString(s string) string {
	control := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0
	switch {
	case !control && !strings.ContainsAny(s, `"\`):
		return `"` + s + `"`
	case !control && !strings.ContainsRune(s, '\''):
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// configState is what the configuration gives the UI: the packet list's
// columns, the colour rules and the theme, and where they are saved.
type configState struct {
	path    string // the configuration file; "" when there is none (no configuration directory)
	broken  bool   // the file did not load: :columns does not overwrite it (:save-config does)
	noColor bool   // NO_COLOR is set: rules show by their attributes only
	theme   *theme
	cols    []column
	rules   []colorRule
	// colorSpecs are the rules as configured (nil: the defaults), for
	// saving and for a change of theme.
	colorSpecs []ColorConfig
}

// loadConfig reads the configuration file (opts.ConfigPath, "": the
// default one) and sets up the columns, colours and theme; a malformed
// file is an error message, and the defaults are used.
func (a *App) loadConfig() error {
	cs := &a.cfg
	cs.noColor = os.Getenv("NO_COLOR") != ""
	cs.setDefaults()
	cs.path = a.opts.ConfigPath
	if cs.path == "" {
		var err error
		if cs.path, err = DefaultConfigPath(); err != nil {
			// Neither XDG_CONFIG_HOME nor HOME: no configuration, and
			// :save-config says why.
			cs.path = ""
			return nil
		}
	}
	cfg, err := LoadConfig(cs.path)
	if err != nil {
		cs.broken = true
		return fmt.Errorf("%w (using the default columns, colours and theme; :save-config overwrites the file)", err)
	}
	if cfg == nil {
		return nil
	}
	return cs.apply(cfg)
}

// setDefaults sets the default columns, colour rules and theme.
func (cs *configState) setDefaults() {
	cs.theme = themeByName("dark")
	cs.cols = defaultColumns()
	cs.colorSpecs = nil
	cs.rules = compileRules(defaultColorRules(), cs.theme)
}

// apply takes a checked configuration.
func (cs *configState) apply(cfg *Config) error {
	if t := themeByName(cfg.Theme); t != nil {
		cs.theme = t
	}
	if cfg.Columns != nil {
		cols := make([]column, 0, len(cfg.Columns)+1)
		for _, c := range cfg.Columns {
			col, err := c.column()
			if err != nil {
				return err
			}
			cols = append(cols, col)
		}
		cs.cols = infoLast(cols)
	}
	cs.colorSpecs = cfg.Colors
	cs.rules = compileRules(cs.ruleSpecs(), cs.theme)
	return nil
}

// ruleSpecs returns the colour rules in use, as configured.
func (cs *configState) ruleSpecs() []ColorConfig {
	if cs.colorSpecs == nil {
		return defaultColorRules()
	}
	return cs.colorSpecs
}

// config returns the configuration in use, as the file holds it.
func (cs *configState) config() *Config {
	cfg := &Config{Theme: cs.theme.name, Colors: cs.ruleSpecs()}
	for _, c := range cs.cols {
		cfg.Columns = append(cfg.Columns, c.config())
	}
	return cfg
}

// save writes the configuration in use to the configuration file.
func (cs *configState) save() error {
	if cs.path == "" {
		return errors.New("no configuration directory (set XDG_CONFIG_HOME or HOME)")
	}
	if err := WriteConfig(cs.path, cs.config()); err != nil {
		return err
	}
	cs.broken = false
	return nil
}

// saveConfig writes the columns, colour rules and theme to the
// configuration file (:save-config).
func (a *App) saveConfig() {
	if err := a.cfg.save(); err != nil {
		a.setError("saving the configuration: " + err.Error())
		return
	}
	a.setMessage("saved the columns, colours and theme to " + a.cfg.path)
}

// autosave writes the configuration after a change by a command (:columns)
// and returns what to add to the status message: where it was saved, or
// why not.
func (a *App) autosave() (string, bool) {
	if a.cfg.broken {
		return "not saved: " + a.cfg.path + " has errors (:save-config overwrites it)", false
	}
	if err := a.cfg.save(); err != nil {
		return "not saved: " + err.Error(), false
	}
	return "saved to " + a.cfg.path, true
}

// configHint names the configuration file for the help view.
func (a *App) configHint() string {
	if a.cfg.path != "" {
		return a.cfg.path
	}
	return "$XDG_CONFIG_HOME/mqtap/config.toml, ~/.config/mqtap/config.toml"
}
