package payload

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodeSniffs(t *testing.T) {
	deep := []byte(strings.Repeat("[", 70) + strings.Repeat("]", 70))
	tests := []struct {
		name string
		in   []byte
		spec Spec
		lim  Limits
		f    Format
		want string
	}{
		{"JSON", []byte(" {\"a\": [1, 2]}\n"), Spec{}, DefaultLimits, JSON, `{"a":[1,2]}`},
		{"array", []byte("[true,null]"), Spec{UTF8: true}, DefaultLimits, JSON, `[true,null]`},
		{"number", []byte("  12.5\n"), Spec{}, DefaultLimits, Text, `12.5`},
		{"negative", []byte("-3e2"), Spec{UTF8: true}, DefaultLimits, Text, `-3e2`},
		{"text", []byte("hello"), Spec{}, DefaultLimits, None, ``},
		{"text UTF-8", []byte("hello\n"), Spec{UTF8: true}, DefaultLimits, Text, `"hello\n"`},
		{"12abc", []byte("12abc"), Spec{}, DefaultLimits, None, ``},
		{"12abc UTF-8", []byte("12abc"), Spec{UTF8: true}, DefaultLimits, Text, `"12abc"`},
		{"broken JSON", []byte(`{"a":`), Spec{}, DefaultLimits, None, ``},
		{"broken JSON UTF-8", []byte(`{"a":`), Spec{UTF8: true}, DefaultLimits, Text, `"{\"a\":"`},
		{"JSON string", []byte(`"s"`), Spec{}, DefaultLimits, None, ``},
		{"JSON string UTF-8", []byte(`"s"`), Spec{UTF8: true}, DefaultLimits, Text, `"\"s\""`},
		{"binary", []byte{0xa1, 0x61, 0x61, 0x01}, Spec{}, DefaultLimits, None, ``},
		{"empty", nil, Spec{}, DefaultLimits, None, ``},
		{"empty UTF-8", nil, Spec{UTF8: true}, DefaultLimits, Text, `""`},
		{"vertical tab", []byte("\v{}"), Spec{}, DefaultLimits, None, ``},
		// The caller's limits, not the default ones, say what is JSON.
		{"deep", deep, Spec{}, Limits{MaxDepth: 70, MaxSize: 1 << 10}, JSON, string(deep)},
	}
	for _, tt := range tests {
		out, f, err := Decode([]byte("dst"), tt.in, tt.spec, tt.lim)
		if err != nil || f != tt.f || string(out) != "dst"+tt.want {
			t.Errorf("%s: Decode(%q, %+v) = %q, %q, %v; want %q, %q", tt.name, tt.in, tt.spec, out, f, err, "dst"+tt.want, tt.f)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := []byte(strings.Repeat("[", 70) + strings.Repeat("]", 70))
	tests := []struct {
		name  string
		in    []byte
		spec  Spec
		lim   Limits
		f     Format
		off   int
		limit bool
		msg   string
	}{
		// JSON past the limits is JSON that does not decode.
		{"deep", deep, Spec{}, DefaultLimits, JSON, 64, true, "nested deeper than 64 levels"},
		{"large", []byte(`[1, 2, 3]`), Spec{}, Limits{MaxDepth: 2, MaxSize: 8}, JSON, 8, true, "larger than 8 bytes"},
		{"not UTF-8", []byte("caf\xc3\xa9 \xff"), Spec{UTF8: true}, DefaultLimits, Text, 6, false, "invalid UTF-8"},
		{"text too large", []byte("hello"), Spec{Format: Text}, Limits{MaxSize: 6}, Text, 5, true, "JSON larger than 6 bytes"},
		{"JSON named", []byte(`{"a":`), Spec{Format: JSON}, DefaultLimits, JSON, 5, false, "unexpected end"},
		{"CBOR named", []byte{0x82, 0x01}, Spec{Format: CBOR}, DefaultLimits, CBOR, 2, false, "unexpected end"},
		{"MsgPack named", []byte{0x92, 0x01}, Spec{Format: MsgPack}, DefaultLimits, MsgPack, 2, false, "unexpected end"},
		{"unknown format", []byte{1}, Spec{Format: Format(99)}, DefaultLimits, Format(99), 0, false, "unknown format"},
		{"corrupt zlib", []byte("not zlib"), Spec{Compression: Zlib}, DefaultLimits, None, 2, false, "zlib: zlib: invalid header"},
		{"corrupt zlib CBOR", []byte("not zlib"), Spec{Format: CBOR, Compression: Zlib}, DefaultLimits, CBOR, 2, false, "zlib: "},
	}
	for _, tt := range tests {
		out, f, err := Decode([]byte("dst"), tt.in, tt.spec, tt.lim)
		if f != tt.f || string(out) != "dst" {
			t.Errorf("%s: Decode = %q, %q, want dst, %q", tt.name, out, f, tt.f)
		}
		t.Run(tt.name, func(t *testing.T) { wantErr(t, err, tt.f, tt.off, tt.limit, tt.msg) })
	}
}

func TestDecodeCompressed(t *testing.T) {
	for _, c := range compressions {
		tests := []struct {
			plain []byte
			spec  Spec
			f     Format
			want  string
		}{
			{[]byte(` {"a": 1} `), Spec{Compression: c}, JSON, `{"a":1}`},
			{[]byte(" 7 "), Spec{Compression: c}, Text, `7`},
			{[]byte("hello"), Spec{Compression: c}, Text, `"hello"`},
			{[]byte(`{"a":`), Spec{Compression: c}, Text, `"{\"a\":"`},
			{[]byte{0x82, 0x01, 0xf5}, Spec{Compression: c, Format: CBOR}, CBOR, `[1,true]`},
			{[]byte{0x92, 0x01, 0xc3}, Spec{Compression: c, Format: MsgPack}, MsgPack, `[1,true]`},
			{[]byte(`{"b" : 2}`), Spec{Compression: c, Format: JSON}, JSON, `{"b":2}`},
			{compressible, Spec{Compression: c}, Text, string(AppendString(nil, string(compressible)))},
		}
		for _, tt := range tests {
			out, f, err := Decode([]byte("dst"), compress(t, c, tt.plain), tt.spec, DefaultLimits)
			if err != nil || f != tt.f || string(out) != "dst"+tt.want {
				t.Errorf("%s %q: Decode = %q, %q, %v; want %q, %q", c, tt.plain, out, f, err, "dst"+tt.want, tt.f)
			}
		}
		// Not JSON and not UTF-8: an error, whatever the spec says.
		for _, spec := range []Spec{{Compression: c}, {Compression: c, UTF8: true}} {
			out, f, err := Decode([]byte("dst"), compress(t, c, []byte{0xa1, 0xff}), spec, DefaultLimits)
			if f != None || string(out) != "dst" {
				t.Errorf("%s binary: Decode = %q, %q", c, out, f)
			}
			wantErr(t, err, None, 0, false, "decompressed "+c.String()+" is neither JSON nor text")
		}
		// A bomb is an error of the format named, with Limit.
		bomb := compress(t, c, bytes.Repeat([]byte{'a'}, 1<<20))
		_, f, err := Decode(nil, bomb, Spec{Compression: c, Format: Text}, DefaultLimits)
		if f != Text {
			t.Errorf("%s bomb: format %q", c, f)
		}
		wantErrRange(t, err, Text, len(bomb), true, "a compression bomb")
	}
}
