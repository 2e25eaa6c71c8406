package labpeer

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/session/brokertest"
)

// labText exercises every Python case rule: contractions and digits in
// title(), final and non-final sigma, ß, İ, digraphs, ligatures, ŉ.
const labText = "Networking is the best! they're 1st: ΟΔΟΣ ὈΔΥΣΣΕΎΣ, straße İstanbul ǆemal ﬁne ŉ"

func TestTransformLabText(t *testing.T) {
	// Expected values printed by Python 3.11's str methods.
	want := map[string]string{
		"uppercase":  "NETWORKING IS THE BEST! THEY'RE 1ST: ΟΔΟΣ ὈΔΥΣΣΕΎΣ, STRASSE İSTANBUL ǄEMAL FINE ʼN",
		"lowercase":  "networking is the best! they're 1st: οδος ὀδυσσεύς, straße i̇stanbul ǆemal ﬁne ŉ",
		"title-case": "Networking Is The Best! They'Re 1St: Οδος Ὀδυσσεύς, Straße İstanbul ǅemal Fine ʼN",
		"reverse":    "ŉ enﬁ lameǆ lubnatsİ eßarts ,ΣΎΕΣΣΥΔὈ ΣΟΔΟ :ts1 er'yeht !tseb eht si gnikrowteN",
	}
	for action, w := range want {
		got, err := Transform(action, labText)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s:\n got %q\nwant %q", action, got, w)
		}
	}
	got, err := Transform("shuffle", labText)
	if err != nil {
		t.Fatal(err)
	}
	if !SameCharacters(got, labText) {
		t.Errorf("shuffle %q = %q: not a permutation", labText, got)
	}
	if _, err := Transform("upper", "x"); err == nil || !strings.Contains(err.Error(), "uppercase, lowercase, title-case, reverse, shuffle") {
		t.Errorf("unknown action: err = %v, want the list of actions", err)
	}
}

// TestTransformAgainstPython compares upper, lower, title and reverse with
// the real Python on random strings over an alphabet of cased,
// case-ignorable, special-cased and uncased characters, and on every
// special-cased code point alone.
func TestTransformAgainstPython(t *testing.T) {
	brokertest.CheckPython(t)
	alphabet := []rune("aZ Σσς'’.·:-_1éÉßİıŉǅǆǄﬁΐὈᾈᾀ\u0301\u0345\u00ad\u02b0ʼ\u2160\u24b6\U0001044f\U00010400!")
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for range 3000 {
		n := 1 + rng.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	for r := range pySpecial {
		inputs = append(inputs, string(r), "a"+string(r)+"b", "Σ"+string(r)+"Σ x")
	}
	inputs = append(inputs, labText, "", "ΣΑΣ ΣΑΣ'Σ Σ", "AΣ\u0301", "aΣ\u0301b", "Σ")
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(brokertest.Python, "-c", `
import json, sys
xs = json.load(sys.stdin)
json.dump([[x.upper(), x.lower(), x.title(), x[::-1]] for x in xs], sys.stdout)`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var want [][4]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	actions := []string{"uppercase", "lowercase", "title-case", "reverse"}
	bad := 0
	for i, s := range inputs {
		for k, a := range actions {
			got, _ := Transform(a, s)
			if got != want[i][k] && bad < 20 {
				bad++
				t.Errorf("%s(%q) = %q (%+q), Python %q (%+q)", a, s, got, got, want[i][k], want[i][k])
			}
		}
	}
}

func TestSameCharacters(t *testing.T) {
	if !SameCharacters("abca", "aacb") || SameCharacters("abc", "abd") || SameCharacters("ab", "abb") {
		t.Fatal("SameCharacters is wrong")
	}
}

// SameCharacters reports whether a and b hold the same multiset of
// characters (code points): the check for shuffle.
func SameCharacters(a, b string) bool {
	x, y := []rune(a), []rune(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
