package session

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// designOnly are the codes DESIGN.md lists that mqtap does not raise yet.
var designOnly = []string{}

// beyondDesign are the codes mqtap raises beyond DESIGN.md's list ("add
// codes as needed").
var beyondDesign = []string{
	"kex.unsolicited", "auth.anonymous-subscription", "tls.weak-protocol", "tls.decrypt-failed",
	"websocket.no-subprotocol", "ip.fragment-overlap", "ip.fragment-malformed", "ip.fragment-incomplete", "lab.qos",
	"mqtap.limit",
}

// codeName matches a finding code in DESIGN.md: `area.name`.
var codeName = regexp.MustCompile("`([a-z0-9]+\\.[a-z0-9-]+)`")

// DesignSection returns the text of DESIGN.md's section under "### heading"
// (up to the next heading). Exported for the black-box tests too.
func DesignSection(t *testing.T, heading string) string {
	t.Helper()
	dir := os.Getenv("MQTAP_SHARED")
	if dir == "" {
		dir = "../../shared"
	}
	b, err := os.ReadFile(filepath.Join(dir, "DESIGN.md"))
	if err != nil {
		t.Fatalf("DESIGN.md not found (set MQTAP_SHARED): %v", err)
	}
	_, section, ok := strings.Cut(string(b), "\n### "+heading+"\n")
	if !ok {
		t.Fatalf("DESIGN.md has no %s section", heading)
	}
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	return section
}

// designCodes reads the finding codes of DESIGN.md's Findings section.
func designCodes(t *testing.T) []string {
	t.Helper()
	var codes []string
	for _, m := range codeName.FindAllStringSubmatch(DesignSection(t, "Findings"), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) < 20 {
		t.Fatalf("only %d codes found in DESIGN.md's Findings section: %v", len(codes), codes)
	}
	return codes
}

// TestCatalogMatchesDesign: every code of DESIGN.md is in the catalog
// (or known not to be raised yet), every code of the catalog is in
// DESIGN.md (or known to be added since), and each entry is complete.
func TestCatalogMatchesDesign(t *testing.T) {
	design := designCodes(t)
	var names []string
	for c := FindingCode(1); int(c) < len(catalog); c++ {
		k := catalog[c]
		if k.name == "" || k.title == "" || !strings.HasSuffix(k.advice, ".") || k.severity > SevHigh {
			t.Errorf("code %d: incomplete catalog entry %+v", c, k)
		}
		if c.String() != k.name || c.Severity() != k.severity || c.Title() != k.title || c.Advice() != k.advice {
			t.Errorf("code %d: methods disagree with the catalog entry %+v", c, k)
		}
		if slices.Contains(names, k.name) {
			t.Errorf("%s: in the catalog twice", k.name)
		}
		names = append(names, k.name)
		if !slices.Contains(design, k.name) && !slices.Contains(beyondDesign, k.name) {
			t.Errorf("%s: in the catalog, not in DESIGN.md", k.name)
		}
	}
	for _, d := range design {
		if !slices.Contains(names, d) && !slices.Contains(designOnly, d) {
			t.Errorf("%s: in DESIGN.md, not in the catalog", d)
		}
	}
	for _, d := range designOnly {
		if slices.Contains(names, d) {
			t.Errorf("%s: raised now: take it off designOnly", d)
		}
	}
	for _, d := range beyondDesign {
		if slices.Contains(design, d) || !slices.Contains(names, d) {
			t.Errorf("%s: not a code beyond DESIGN.md's list any more: take it off beyondDesign", d)
		}
	}
	if s := FindingCode(0).String(); s != "FindingCode(0)" {
		t.Errorf("the zero code is %q", s)
	}
	if s := FindingCode(len(catalog)).String(); s != "FindingCode("+strconv.Itoa(len(catalog))+")" {
		t.Errorf("the code past the catalog is %q", s)
	}
}

func TestFindingSeverity(t *testing.T) {
	for _, c := range []struct {
		f    Finding
		want Severity
	}{
		{Finding{Code: MQTTMalformed}, SevMedium},
		{Finding{Code: AuthCleartextCredentials}, SevHigh},
		{Finding{Code: AuthCleartextCredentials, Lower: SevMedium}, SevMedium},
		{Finding{Code: QoSUnacknowledged, Lower: SevHigh}, SevLow}, // never raised
		{Finding{Code: TCPGap}, SevInfo},
	} {
		if got := c.f.Severity(); got != c.want {
			t.Errorf("%s (Lower %s): severity %s, want %s", c.f.Code, c.f.Lower, got, c.want)
		}
	}
}

// TestNoCodeByName: outside the catalog, no source file names a finding
// code by its string (to raise it or to compare with it), nor converts a
// number to a FindingCode.
func TestNoCodeByName(t *testing.T) {
	names := map[string]bool{}
	for c := FindingCode(1); int(c) < len(catalog); c++ {
		names[c.String()] = true
	}
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != ".." && (n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == filepath.Join("..", "session", "catalog.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil && names[s] {
					t.Errorf("%s: finding code %q named by a string: use its FindingCode", fset.Position(n.Pos()), s)
				}
			case *ast.CallExpr:
				if len(n.Args) != 1 || !isFindingCode(n.Fun) {
					break
				}
				if _, ok := n.Args[0].(*ast.BasicLit); ok {
					t.Errorf("%s: finding code made from a number: use its name", fset.Position(n.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d source files scanned: is the test run from the session folder?", files)
	}
}

// isFindingCode reports whether e names the type FindingCode.
func isFindingCode(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "FindingCode"
	case *ast.SelectorExpr:
		return e.Sel.Name == "FindingCode"
	}
	return false
}
