package payload

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// pathDoc is the JSON the path tests read, compact as this package
// writes it.
const pathDoc = `{"t":21.5,"ok":true,"name":"s\"1","metrics":{"Temperature":{"value":3},"Temperature.max":4},` +
	`"readings":[{"v":1,"u":"C"},{"v":2},{"w":3},[{"v":4}]],"grid":[[1,2],[3,[4,5]]],"e":[],"o":{},` +
	`"esc\u0041ped":"x","a\/b":1,"dup":1,"dup":2,"n":null,"":"empty","0":"zero"}`

func lookupAll(js, path string) []string {
	var got []string
	Lookup([]byte(js), path, func(v []byte) { got = append(got, string(v)) })
	return got
}

func TestLookup(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"t", []string{`21.5`}},
		{"ok", []string{`true`}},
		{"name", []string{`"s\"1"`}},
		{"metrics.Temperature.value", []string{`3`}},
		{"metrics.Temperature", []string{`{"value":3}`}},
		{"metrics.Temperature.max", nil}, // a dot always separates
		{"readings.v", []string{`1`, `2`, `4`}},
		{"readings.u", []string{`"C"`}},
		{"readings.0", []string{`{"v":1,"u":"C"}`}},
		{"readings.1.v", []string{`2`}},
		{"readings.3.0.v", []string{`4`}},
		{"readings.4", nil},
		{"readings.-1", nil},
		{"readings", []string{`{"v":1,"u":"C"}`, `{"v":2}`, `{"w":3}`, `[{"v":4}]`}},
		{"grid", []string{`[1,2]`, `[3,[4,5]]`}},
		{"grid.1", []string{`3`, `[4,5]`}},
		{"grid.1.1", []string{`4`, `5`}},
		{"grid.0.1", []string{`2`}},
		{"e", nil},
		{"o", []string{`{}`}},
		{"escAped", []string{`"x"`}},
		{"a/b", []string{`1`}},
		{"dup", []string{`1`}},
		{"n", []string{`null`}},
		{"0", []string{`"zero"`}},
		{"missing", nil},
		{"t.x", nil},
		{"name.x", nil},
		{"metrics.missing.value", nil},
		{"", []string{pathDoc}},
	}
	for _, tt := range tests {
		if got := lookupAll(pathDoc, tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := lookupAll(`[1,[2,3]]`, ""); !reflect.DeepEqual(got, []string{`[1,[2,3]]`}) {
		t.Errorf("Lookup of the empty path in an array = %q", got)
	}
	if got := lookupAll(`{"":{"":5}}`, "."); !reflect.DeepEqual(got, []string{`{"":5}`}) {
		t.Errorf(`Lookup(".") = %q`, got)
	}
	if got := lookupAll(`5`, "a"); got != nil {
		t.Errorf("Lookup in a number = %q", got)
	}
}

func TestNumbers(t *testing.T) {
	var got []string
	Numbers([]byte(pathDoc), func(path string, f float64) { got = append(got, fmt.Sprintf("%s=%g", path, f)) })
	want := []string{
		"t=21.5", "ok=1", "metrics.Temperature.value=3", "metrics.Temperature.max=4",
		"readings.0.v=1", "readings.1.v=2", "readings.2.w=3", "readings.3.0.v=4",
		"grid.0.0=1", "grid.0.1=2", "grid.1.0=3", "grid.1.1.0=4", "grid.1.1.1=5",
		"a/b=1", "dup=1", "dup=2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Numbers = %q\nwant %q", got, want)
	}
	got = nil
	Numbers([]byte(`[false,-1e400,"NaN",1e-400,true]`), func(path string, f float64) { got = append(got, fmt.Sprintf("%s=%g", path, f)) })
	if want := []string{"0=0", "1=-Inf", "3=0", "4=1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Numbers = %q, want %q", got, want)
	}
	got = nil
	Numbers([]byte(`7`), func(path string, f float64) { got = append(got, fmt.Sprintf("%q=%g", path, f)) })
	if want := []string{`""=7`}; !reflect.DeepEqual(got, want) {
		t.Errorf("Numbers(7) = %q", got)
	}
}

func TestTree(t *testing.T) {
	var got []string
	Tree([]byte(`{"a":1,"b":[true,{"c":"x"}],"d":{},"e\n":[]}`), func(depth int, name string, v []byte) {
		got = append(got, fmt.Sprintf("%d %q %s", depth, name, v))
	})
	want := []string{
		`0 "" {"a":1,"b":[true,{"c":"x"}],"d":{},"e\n":[]}`,
		`1 "a" 1`,
		`1 "b" [true,{"c":"x"}]`,
		`2 "[0]" true`,
		`2 "[1]" {"c":"x"}`,
		`3 "c" "x"`,
		`1 "d" {}`,
		`1 "e\n" []`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Tree = %q\nwant %q", got, want)
	}
	// It stops descending past depth 256.
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	max := 0
	Tree([]byte(deep), func(depth int, _ string, _ []byte) { max = depth })
	if max != 257 {
		t.Errorf("Tree of 300 levels went %d deep", max)
	}
}

func TestMembersElements(t *testing.T) {
	var got []string
	Members([]byte(`{"a":1,"b\u0021":[2],"c":{"d":3}}`), func(name string, m []byte) bool {
		got = append(got, name+"="+string(m))
		return name != "b!"
	})
	if want := []string{"a=1", "b!=[2]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Members = %q, want %q", got, want)
	}
	got = nil
	Elements([]byte(`[1,"a,b",[2,3],{"x":"]"}]`), func(i int, e []byte) bool {
		got = append(got, fmt.Sprint(i, "=", string(e)))
		return true
	})
	if want := []string{"0=1", `1="a,b"`, "2=[2,3]", `3={"x":"]"}`}; !reflect.DeepEqual(got, want) {
		t.Errorf("Elements = %q, want %q", got, want)
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`""`, ""},
		{`"q\" b\\ s\/ n\n t\t r\r b\b f\f"`, "q\" b\\ s/ n\n t\t r\r b\b f\f"},
		{`"\u0041\u00e9\u20ac"`, "Aé€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\uD83D\uDE00!"`, "😀!"},
		{`"a\/\ud83d\ude00"`, "a/😀"},
		{`"\ud83d"`, "\ufffd"},        // a lone high surrogate
		{`"\ude00x"`, "\ufffdx"},      // a lone low surrogate
		{`"\ud83d\u0041"`, "\ufffdA"}, // a high surrogate without its low one
		{`"\u0000"`, "\x00"},
		{`"é😀"`, "é😀"},
		{`12`, "12"},
		{`null`, "null"},
		{`{"a":1}`, `{"a":1}`},
		{``, ``},
		{`"`, ``}, // cut short: no panic
		{`"\`, ``},
		{`"\u12"`, "\ufffd"},
	}
	for _, tt := range tests {
		if got := Unquote([]byte(tt.in)); got != tt.want {
			t.Errorf("Unquote(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{`21.5`, 21.5, true},
		{`-0`, math.Copysign(0, -1), true},
		{`1e400`, math.Inf(1), true},
		{`-1e400`, math.Inf(-1), true},
		{`18446744073709551616`, 18446744073709551616, true},
		{`"Infinity"`, math.Inf(1), true},
		{`"-Infinity"`, math.Inf(-1), true},
		{`"12"`, 0, false},
		{`"nan"`, 0, false},
		{`true`, 0, false},
		{`null`, 0, false},
		{`[1]`, 0, false},
		{`-`, 0, false},
		{``, 0, false},
	}
	for _, tt := range tests {
		got, ok := Number([]byte(tt.in))
		if ok != tt.ok || got != tt.want || math.Signbit(got) != math.Signbit(tt.want) {
			t.Errorf("Number(%s) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if f, ok := Number([]byte(`"NaN"`)); !ok || !math.IsNaN(f) {
		t.Errorf(`Number("NaN") = %v, %v`, f, ok)
	}
}

func TestKindOf(t *testing.T) {
	for in, want := range map[string]Kind{
		`null`: KindNull, `true`: KindBool, `false`: KindBool, `-1`: KindNumber, `0`: KindNumber,
		`"s"`: KindString, `[]`: KindArray, `{}`: KindObject, ``: KindInvalid, ` 1`: KindInvalid, `x`: KindInvalid,
	} {
		if got := KindOf([]byte(in)); got != want {
			t.Errorf("KindOf(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestBrief(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{`"short"`, 7, `"short"`},
		{`"short"`, 100, `"short"`},
		{`"short"`, 3, `"sh…`},
		{`"é"`, 2, `"…`}, // not in the middle of é
		{`"é"`, 3, `"é…`},
		{`"😀😀"`, 4, `"…`},
		{`"😀😀"`, 5, `"😀…`},
		{`"😀😀"`, 8, `"😀…`},
		{`"😀😀"`, 9, `"😀😀…`},
		{`[1,2]`, 0, `…`},
		{`[1,2]`, -1, `…`},
	}
	for _, tt := range tests {
		got := string(Brief([]byte("x"), []byte(tt.in), tt.max))
		if got != "x"+tt.want || !utf8.ValidString(got) {
			t.Errorf("Brief(%s, %d) = %q, want %q", tt.in, tt.max, got, "x"+tt.want)
		}
	}
}

func TestTreeRawAndAppendUnquoted(t *testing.T) {
	js := []byte(`{"a":1,"b\u00e9":[true,"x\ny"],"c":{"d":null}}`)
	var got []string
	var walk []string
	Tree(js, func(depth int, name string, v []byte) {
		walk = append(walk, strconv.Itoa(depth)+":"+name+"="+string(v))
	})
	TreeRaw(js, func(depth int, key []byte, index int, v []byte) {
		name := ""
		switch {
		case key != nil:
			name = string(AppendUnquoted(nil, key))
		case index >= 0:
			name = "[" + strconv.Itoa(index) + "]"
		}
		got = append(got, strconv.Itoa(depth)+":"+name+"="+string(v))
	})
	if strings.Join(got, "|") != strings.Join(walk, "|") {
		t.Errorf("TreeRaw:\n%v\nTree:\n%v", got, walk)
	}
	for in, want := range map[string]string{`"plain"`: "plain", `"e\u00e9\n"`: "eé\n", `12.5`: "12.5", `null`: "null", `""`: ""} {
		if got := string(AppendUnquoted([]byte(">"), []byte(in))); got != ">"+want {
			t.Errorf("AppendUnquoted(%s) = %q, want %q", in, got, ">"+want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		TreeRaw(js, func(int, []byte, int, []byte) {})
	}); n != 0 {
		t.Errorf("TreeRaw allocates %v times", n)
	}
}
