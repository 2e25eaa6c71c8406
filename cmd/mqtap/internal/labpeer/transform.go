package labpeer

//go:generate go run gen_pycase.go

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode"
)

// Transform applies a lab action to text exactly as a Python responder
// does: uppercase, lowercase and title-case are str.upper(), str.lower()
// and str.title() (full case mappings such as ß -> SS, the final-sigma rule,
// title-case words split at every uncased character as in "They'Re 1St");
// reverse reverses the characters (code points, as text[::-1]); shuffle is a
// random permutation of the characters.
func Transform(action, text string) (string, error) {
	switch action {
	case "uppercase":
		return pyUpper(text), nil
	case "lowercase":
		return pyLower(text), nil
	case "title-case":
		return pyTitle(text), nil
	case "reverse":
		r := []rune(text)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	case "shuffle":
		r := []rune(text)
		rand.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
		return string(r), nil
	}
	return "", fmt.Errorf("unknown action %q (one of %s)", action, strings.Join(Actions, ", "))
}

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// inRanges reports whether r is in the sorted ranges rs.
func inRanges(rs []runeRange, r rune) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	return i < len(rs) && rs[i].lo <= r
}

// pyUpper is Python's str.upper().
func pyUpper(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if sp, ok := pySpecial[r]; ok && sp.upper != "" {
			b.WriteString(sp.upper)
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// pyLower is Python's str.lower().
func pyLower(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := range rs {
		pyLowerAt(&b, rs, i)
	}
	return b.String()
}

// pyTitle is Python's str.title(): a character following a cased
// character is lowercased, any other is titlecased.
func pyTitle(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	prevCased := false
	for i, r := range rs {
		if prevCased {
			pyLowerAt(&b, rs, i)
		} else if sp, ok := pySpecial[r]; ok && sp.title != "" {
			b.WriteString(sp.title)
		} else {
			b.WriteRune(unicode.ToTitle(r))
		}
		prevCased = inRanges(pyCased, r)
	}
	return b.String()
}

// pyLowerAt writes the lowercase of rs[i], with the final-sigma rule of
// Python's lower_ucs4.
func pyLowerAt(b *strings.Builder, rs []rune, i int) {
	r := rs[i]
	if r == 'Σ' {
		if finalSigma(rs, i) {
			b.WriteRune('ς')
		} else {
			b.WriteRune('σ')
		}
		return
	}
	if sp, ok := pySpecial[r]; ok && sp.lower != "" {
		b.WriteString(sp.lower)
		return
	}
	b.WriteRune(unicode.ToLower(r))
}

// finalSigma reports whether the capital sigma at rs[i] ends a word:
// cased case-ignorable* Σ !(case-ignorable* cased), as CPython's
// handle_capital_sigma.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && inRanges(pyCaseIgnorable, rs[j]) {
		j--
	}
	if j < 0 || !inRanges(pyCased, rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && inRanges(pyCaseIgnorable, rs[j]) {
		j++
	}
	return j == len(rs) || !inRanges(pyCased, rs[j])
}
