package session_test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// updateDoc rewrites the generated sections of docs/ARCHITECTURE.md:
// go test ./session -run TestArchitecture -update-doc
var updateDoc = flag.Bool("update-doc", false, "rewrite the generated sections of docs/ARCHITECTURE.md")

const archDoc = "../docs/ARCHITECTURE.md"

// checkDocSection compares the section of docs/ARCHITECTURE.md between
// <!-- NAME:begin --> and <!-- NAME:end --> with want (or writes it with
// -update-doc).
func checkDocSection(t *testing.T, name, want string) {
	t.Helper()
	doc, err := os.ReadFile(archDoc)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %q ... %q section", archDoc, strings.TrimSpace(begin), end)
	}
	got := s[i+len(begin) : j]
	if got == want {
		return
	}
	if *updateDoc {
		if err := os.WriteFile(archDoc, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the %s section is not what the registry says; run go test ./session -run TestArchitecture -update-doc\n got:\n%s\nwant:\n%s", archDoc, name, got, want)
}

// TestArchitectureFindings checks the finding catalog of the architecture
// document against session's catalog.
func TestArchitectureFindings(t *testing.T) {
	var b strings.Builder
	b.WriteString("| Code | Severity | Title | Advice |\n|---|---|---|---|\n")
	for _, c := range session.FindingCodes() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c, c.Severity(), c.Title(), strings.ReplaceAll(c.Advice(), "|", `\|`))
	}
	checkDocSection(t, "findings", b.String())
}

// TestArchitectureFields checks the record field contract of the
// architecture document against the registries: decode's MQTT fields, then
// the fields a record adds.
func TestArchitectureFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("| Field | Type | Title | Declared in |\n|---|---|---|---|\n")
	row := func(d *decode.FieldDef, where string) {
		typ := d.Type.String()
		if d.Bits > 1 {
			typ += fmt.Sprintf(" (%d bits)", d.Bits)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, typ, d.Title, where)
	}
	for _, d := range decode.Fields() {
		row(d, "decode")
	}
	for _, f := range session.Fields() {
		row(&f.FieldDef, "session")
	}
	checkDocSection(t, "fields", b.String())
}

// notYetFields are the record fields DESIGN.md names that no record
// carries yet.
var notYetFields = []string{}

// designField matches a field name in DESIGN.md's Records section, with
// Wireshark-style brace lists: `mqtt.{puback,suback}.reason_code`.
var designField = regexp.MustCompile("`((?:frame|ip|tcp|mqtt|websocket|sparkplugb|mqtap)\\.[a-z0-9_.{},]+)`")

// TestDesignFieldsDeclared checks that every record field DESIGN.md promises
// is declared in the registries (decode's or session's), apart from the
// payload fields still to come.
func TestDesignFieldsDeclared(t *testing.T) {
	var names []string
	for _, m := range designField.FindAllStringSubmatch(session.DesignSection(t, "Records"), -1) {
		names = append(names, expandBraces(m[1])...)
	}
	if len(names) < 40 {
		t.Fatalf("only %d field names found in DESIGN.md's Records section: %v", len(names), names)
	}
	for _, name := range names {
		known := decode.LookupField(name) != nil || session.LookupField(name) != nil
		switch {
		case slices.Contains(notYetFields, name) && known:
			t.Errorf("%s: declared now: take it off notYetFields", name)
		case !slices.Contains(notYetFields, name) && !known:
			t.Errorf("%s: DESIGN.md names it, no registry declares it", name)
		}
	}
}

// expandBraces expands one brace list: a.{b,c}.d is a.b.d and a.c.d.
func expandBraces(s string) []string {
	i, j := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
	if i < 0 || j < i {
		return []string{s}
	}
	var out []string
	for _, alt := range strings.Split(s[i+1:j], ",") {
		out = append(out, s[:i]+alt+s[j+1:])
	}
	return out
}
