package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// wantErr fails unless err is an *Error of format f at offset off, with
// Limit as limit and a message containing msg.
func wantErr(t *testing.T, err error, f Format, off int, limit bool, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v, want an *Error", err, err)
	}
	if e.Format != f || e.Offset != off || e.Limit != limit || !strings.Contains(e.Msg, msg) {
		t.Fatalf("error %+v, want format %q, offset %d, limit %v, message with %q", *e, f, off, limit, msg)
	}
}

func TestAppendJSONCompacts(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{` { "a" : [ 1 , 2.5e-3 , -0 ] ,` + "\n\t\r" + `"b" : "x  y" } `, `{"a":[1,2.5e-3,-0],"b":"x  y"}`},
		{"\n\t[ ]\r\n ", `[]`},
		{`[ {} , [ ] , { "k" : { } } ]`, `[{},[],{"k":{}}]`},
		{`"\u00e9\n\/\"\\" `, `"\u00e9\n\/\"\\"`}, // escapes kept as written
		{` 12 `, `12`},
		{`true`, `true`},
		{` null`, `null`},
		{`"é 😀 \ud83d\ude00"`, `"é 😀 \ud83d\ude00"`},
		{`{"seq":1,"src":"p311q0","capteur":"salle-1","t":16.1}`, `{"seq":1,"src":"p311q0","capteur":"salle-1","t":16.1}`},
		{`[0, -1, 1.0, 1E5, 1e+5, 1e-05, -0.5E-0]`, `[0,-1,1.0,1E5,1e+5,1e-05,-0.5E-0]`},
	}
	for _, tt := range tests {
		out, err := AppendJSON([]byte("dst:"), []byte(tt.in), DefaultLimits)
		if err != nil || string(out) != "dst:"+tt.want {
			t.Errorf("AppendJSON(%q) = %q, %v; want %q", tt.in, out, err, "dst:"+tt.want)
		}
		var buf bytes.Buffer // the same as encoding/json.Compact
		if err := json.Compact(&buf, []byte(tt.in)); err != nil || buf.String() != tt.want {
			t.Errorf("json.Compact(%q) = %q, %v", tt.in, buf.String(), err)
		}
		if !Valid([]byte(tt.in), DefaultLimits) {
			t.Errorf("Valid(%q) = false", tt.in)
		}
	}
}

// TestAppendJSONCompactInPlace checks that a compact text is appended
// with no allocation.
func TestAppendJSONCompactInPlace(t *testing.T) {
	in := []byte(`{"a":[1,{"b":"c d"}],"e":null}`)
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { dst, _ = AppendJSON(dst[:0], in, DefaultLimits) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times", n)
	}
	if string(dst) != string(in) {
		t.Errorf("AppendJSON = %q", dst)
	}
}

func TestAppendJSONErrors(t *testing.T) {
	tests := []struct {
		in  string
		off int
		msg string
	}{
		// An unexpected end is reported at the end.
		{``, 0, "unexpected end of JSON input"},
		{"  \n", 3, "unexpected end"},
		{`{`, 1, "unexpected end"},
		{`{"a":1`, 6, "unexpected end"},
		{`{"a":`, 5, "unexpected end"},
		{`{"a"`, 4, "unexpected end"},
		{`{"a":1,`, 7, "unexpected end"},
		{`[1,2`, 4, "unexpected end"},
		{`[1,2 `, 5, "unexpected end"},
		{`"abc`, 4, "unexpected end"},
		{`"\`, 2, "unexpected end"},
		{`"\u12`, 5, "unexpected end"},
		{`tru`, 3, "unexpected end"},
		{`-`, 1, "unexpected end"},
		{`1.`, 2, "unexpected end"},
		{`1e`, 2, "unexpected end"},
		{`1e+`, 3, "unexpected end"},
		{"[\"\xe2\x82", 4, "unexpected end"}, // cut inside a character
		// Anything else at the byte that cannot continue the text.
		{`{"a" 1}`, 5, `invalid character '1' after object key`},
		{`{"a":1 "b":2}`, 7, `invalid character '"' after object key:value pair`},
		{`[1 2]`, 3, `invalid character '2' after array element`},
		{`[1,]`, 3, `invalid character ']' looking for beginning of value`},
		{`{,}`, 1, `looking for beginning of object key string`},
		{`{"a":1,}`, 7, `looking for beginning of object key string`},
		{`{1:2}`, 1, `looking for beginning of object key string`},
		{`[1,2,3,x]`, 7, `invalid character 'x' looking for beginning of value`},
		{`01`, 1, `after top-level value`},
		{`12abc`, 2, `invalid character 'a' after top-level value`},
		{`{"a":1}x`, 7, `after top-level value`},
		{`{"a":1} {}`, 8, `after top-level value`},
		{`+1`, 0, `looking for beginning of value`},
		{`.5`, 0, `looking for beginning of value`},
		{`-a`, 1, `in numeric literal`},
		{`1.e5`, 2, `after decimal point`},
		{`1e+x`, 3, `in exponent`},
		{`nulL`, 3, `in literal null (expecting 'l')`},
		{`fals`, 4, `unexpected end`},
		{"\"a\x01\"", 2, `invalid character '\x01' in string literal`},
		{"\"a\nb\"", 2, `in string literal`},
		{`"\q"`, 2, `in string escape code`},
		{`"\u12g4"`, 5, `in \u hexadecimal character escape`},
		{"\v{}", 0, `invalid character '\v' looking for beginning of value`},
		{"\xef\xbb\xbf{}", 0, `looking for beginning of value`}, // a byte order mark
		{`'a'`, 0, `invalid character '\''`},
		// UTF-8, checked in strings (a byte past ASCII is not JSON elsewhere).
		{"{\"a\":\"\xff\"}", 6, "invalid UTF-8"},
		{"[\"\xc3\"]", 2, "invalid UTF-8"},
		{"[\"\xed\xa0\x80\"]", 2, "invalid UTF-8"}, // a surrogate
		{"[\xff]", 1, "looking for beginning of value"},
	}
	for _, tt := range tests {
		out, err := AppendJSON([]byte("dst"), []byte(tt.in), DefaultLimits)
		if string(out) != "dst" {
			t.Errorf("AppendJSON(%q) changed dst: %q", tt.in, out)
		}
		t.Run("", func(t *testing.T) { wantErr(t, err, JSON, tt.off, false, tt.msg) })
		if Valid([]byte(tt.in), DefaultLimits) {
			t.Errorf("Valid(%q) = true", tt.in)
		}
	}
}

func TestAppendJSONLimits(t *testing.T) {
	lim := Limits{MaxDepth: 3, MaxSize: 24}
	ok := []string{`[[[1]]]`, `{"a":{"b":[]}}`, `[[[]],[[]],{"a":[]}]`, `"[[[[[[[[[[[[[[[[[[["`}
	for _, in := range ok {
		if out, err := AppendJSON(nil, []byte(in), lim); err != nil || string(out) != in {
			t.Errorf("AppendJSON(%q) = %q, %v", in, out, err)
		}
	}
	tests := []struct {
		in  string
		off int
		msg string
	}{
		{`[[[[]]]]`, 3, "nested deeper than 3 levels"},
		{`{"a":{"b":{"c":{}}}}`, 15, "nested deeper than 3 levels"},
		{`[[[1]],[[[2]]]]`, 9, "nested deeper than 3 levels"},
		{`[1,2,3,4,5,6,7,8,9,10,11,12]`, 24, "larger than 24 bytes"},
	}
	for _, tt := range tests {
		_, err := AppendJSON(nil, []byte(tt.in), lim)
		wantErr(t, err, JSON, tt.off, true, tt.msg)
		if Valid([]byte(tt.in), lim) {
			t.Errorf("Valid(%q) = true", tt.in)
		}
	}
	// The size is that of the input, white space included; exactly
	// MaxSize passes.
	in := `[1, 2, 3, 4, 5, 6, 7, 8]` // 24 bytes
	if out, err := AppendJSON(nil, []byte(in), lim); err != nil || string(out) != `[1,2,3,4,5,6,7,8]` {
		t.Errorf("AppendJSON(%q) = %q, %v", in, out, err)
	}
	// Deep nesting does not recurse: a million levels within the limit.
	deep := strings.Repeat("[", 1e6) + strings.Repeat("]", 1e6)
	if !Valid([]byte(deep), Limits{MaxDepth: 1e6, MaxSize: 4e6}) {
		t.Error("a million levels not valid")
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{`{"a":1}`, JSON},
		{"\n\t {\"a\": [1, 2]}\r\n", JSON},
		{`[]`, JSON},
		{`[1,2`, None},
		{`{"a":1}}`, None},
		{"{\"a\":\"\xff\"}", None},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), None}, // past the default depth
		{strings.Repeat("[", 64) + strings.Repeat("]", 64), JSON},
		{"  12.5\n", Text},
		{"-0", Text},
		{"1e-7", Text},
		{"12abc", None},
		{"012", None},
		{"1.", None},
		{"- 1", None},
		{`"text"`, None}, // a JSON string is not sniffed
		{"true", None},
		{"null", None},
		{"hello", None},
		{"", None},
		{" \t\r\n", None},
		{"\v12", None},         // not JSON's white space
		{"\u00a012", None},     // nor is a no-break space
		{"\xa4cseq\x01", None}, // CBOR
		{"\x84\xa3seq\x01", None},
		{"\x1f\x8b\x08\x00", None}, // gzip
		{"\x00\x01\x02", None},
	}
	for _, tt := range tests {
		if got := Sniff([]byte(tt.in)); got != tt.want {
			t.Errorf("Sniff(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain text", `"plain text"`},
		{"q\" b\\ n\n r\r t\t", `"q\" b\\ n\n r\r t\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f\u007f"`},
		{"é 😀 \u2028", "\"é 😀 \u2028\""},
		{"a\xffb\xc3", "\"a\ufffdb\ufffd\""},
		{"\xed\xa0\x80", "\"\ufffd\ufffd\ufffd\""},
		{"<&>'/", `"<&>'/"`},
	}
	for _, tt := range tests {
		if got := string(AppendString([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if got := string(appendStringBytes(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendStringBytes(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(tt.want)) {
			t.Errorf("%s: not JSON", tt.want)
		}
	}
	if got := string(AppendBytes(nil, []byte{0, 0xab, 0x10, 0xff})); got != `"00ab10ff"` {
		t.Errorf("AppendBytes = %s", got)
	}
	if got := string(AppendBytes(nil, nil)); got != `""` {
		t.Errorf("AppendBytes(nil) = %s", got)
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		f    float64
		bits int
		want string
	}{
		{0, 64, "0"},
		{math.Copysign(0, -1), 64, "-0"},
		{1, 64, "1"},
		{-25, 64, "-25"},
		{16.1, 64, "16.1"},
		{float64(float32(16.1)), 32, "16.1"},
		{float64(float32(16.1)), 64, "16.100000381469727"},
		{0.1, 64, "0.1"},
		{1e20, 64, "100000000000000000000"},
		{1e21, 64, "1e+21"},
		{123456789.125, 64, "123456789.125"},
		{1700000000.25, 64, "1700000000.25"},
		{1e-6, 64, "0.000001"},
		{9.99e-7, 64, "9.99e-7"},
		{1e-7, 64, "1e-7"},
		{float64(float32(1e-7)), 32, "1e-7"},
		{float64(float32(1e21)), 32, "1e+21"},
		{-1.5e-300, 64, "-1.5e-300"},
		{5e-324, 64, "5e-324"},
		{math.MaxFloat64, 64, "1.7976931348623157e+308"},
		{math.NaN(), 64, `"NaN"`},
		{math.Inf(1), 32, `"Infinity"`},
		{math.Inf(-1), 64, `"-Infinity"`},
	}
	for _, tt := range tests {
		got := string(AppendFloat(nil, tt.f, tt.bits))
		if got != tt.want || !json.Valid([]byte(got)) {
			t.Errorf("AppendFloat(%v, %d) = %s, want %s", tt.f, tt.bits, got, tt.want)
		}
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  12.5\n", "12.5"},
		{"-3", "-3"},
		{"1E+3", "1E+3"},
		{"12abc", `"12abc"`},
		{"hello\n", `"hello\n"`},
		{"", `""`},
		{"\v12", `"\u000b12"`},
		{"{\"a\":1", `"{\"a\":1"`},
	}
	for _, tt := range tests {
		if out, err := AppendText([]byte("x"), []byte(tt.in)); err != nil || string(out) != "x"+tt.want {
			t.Errorf("AppendText(%q) = %q, %v; want %q", tt.in, out, err, tt.want)
		}
	}
	out, err := AppendText([]byte("x"), []byte("caf\xc3\xa9 \xff!"))
	if string(out) != "x" {
		t.Errorf("AppendText changed dst: %q", out)
	}
	wantErr(t, err, Text, 6, false, "invalid UTF-8")
}

func TestErrorText(t *testing.T) {
	_, err := AppendJSON(nil, []byte(`{"a" 1}`), DefaultLimits)
	if got, want := err.Error(), `json: at byte 5: invalid character '1' after object key`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
