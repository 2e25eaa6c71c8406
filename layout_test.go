// Package mqtap_test guards the layout of the repository: dependencies
// point one way, cmd -> tui -> session -> decode, keys, pcaps, and every
// package under session/ is part of the pipeline (it imports session).
package mqtap_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/mqtap/mqtap/"

// layers ranks the top-level folders: a package may import its own folder
// and the folders of lower rank. decode, keys and pcaps share the lowest
// rank but do not import each other (tests may).
var layers = map[string]int{"decode": 0, "keys": 0, "pcaps": 0, "session": 1, "tui": 2, "cmd": 3}

// goPackage is what go list says of a package.
type goPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages returns every package of the module.
func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	return pkgs
}

// folder returns the top-level folder of a package of the module and its
// path below the module ("" for packages outside it).
func folder(path string) (top, rel string) {
	rel, ok := strings.CutPrefix(path, module)
	if !ok {
		return "", ""
	}
	top, _, _ = strings.Cut(rel, "/")
	return top, rel
}

// TestDependenciesPointOneWay fails on any import of the module that runs
// against cmd -> tui -> session -> decode, keys, pcaps.
func TestDependenciesPointOneWay(t *testing.T) {
	for _, p := range listPackages(t) {
		top, rel := folder(p.ImportPath)
		rank, known := layers[top]
		if !known {
			if rel != "" { // the module root holds this test only
				t.Errorf("%s: top-level folder %q is not one of cmd, decode, keys, pcaps, session, tui", rel, top)
			}
			continue
		}
		check := func(imports []string, test bool) {
			for _, imp := range imports {
				itop, irel := folder(imp)
				if irel == "" {
					continue
				}
				irank := layers[itop]
				switch {
				case irank > rank:
					t.Errorf("%s imports %s: dependencies point cmd -> tui -> session -> decode, keys, pcaps", rel, irel)
				case irank == rank && itop != top && !test:
					t.Errorf("%s imports %s: decode, keys and pcaps do not depend on each other", rel, irel)
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
}

// TestSessionPackagesImportSession fails on a package under session/ that
// does not import session: it is not part of the pipeline and belongs
// elsewhere.
func TestSessionPackagesImportSession(t *testing.T) {
	for _, p := range listPackages(t) {
		_, rel := folder(p.ImportPath)
		if !strings.HasPrefix(rel, "session/") {
			continue
		}
		found := false
		for _, imp := range p.Imports {
			found = found || imp == module+"session"
		}
		if !found {
			t.Errorf("%s does not import session: every package under session/ is part of the pipeline", rel)
		}
	}
}
