package payload

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func TestMsgPackPython(t *testing.T) {
	cases := []pyCase{
		{`{"z": 1, "a": [1, 2.5, "x"], "n": None, "t": True, "f": False}`, `{"z":1,"a":[1,2.5,"x"],"n":null,"t":true,"f":false}`},
		{`{"b": {"y": 1, "x": {}}, "a": []}`, `{"b":{"y":1,"x":{}},"a":[]}`},
		{`{1: "a", -1: "b", b"\x01": "c", 1.5: "d", (1, 2): "e", None: "f", False: "g", "s": "h"}`,
			`{"1":"a","-1":"b","01":"c","1.5":"d","[1,2]":"e","null":"f","false":"g","s":"h"}`},
		{`{(1, "k"): 1}`, `{"[1,\"k\"]":1}`},
		{`{msgpack.ExtType(3, b"\x01"): 1}`, `{"{\"type\":3,\"data\":\"01\"}":1}`},
		// Integers of every width, at their bounds.
		{`[0, 127, 128, 255, 256, 65535, 65536, 2**32-1, 2**32, 2**64-1]`,
			`[0,127,128,255,256,65535,65536,4294967295,4294967296,18446744073709551615]`},
		{`[-1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31-1, -2**63]`,
			`[-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,-9223372036854775808]`},
		// Floats, 64 bits unless use_single_float (below).
		{`[16.1, 0.1, -0.0, 1e300, 5e-324, 1234567.5, 1e-7]`, `[16.1,0.1,-0,1e+300,5e-324,1234567.5,1e-7]`},
		{`[float("nan"), float("inf"), float("-inf")]`, `["NaN","Infinity","-Infinity"]`},
		// Strings and binary of every length header.
		{`["", "a", "é😀", "q\"\\\n\x01\x7f"]`, `["","a","é😀","q\"\\\n\u0001\u007f"]`},
		{`"x" * 31`, `"` + strings.Repeat("x", 31) + `"`},
		{`"y" * 40`, `"` + strings.Repeat("y", 40) + `"`},
		{`"z" * 300`, `"` + strings.Repeat("z", 300) + `"`},
		{`"w" * 70000`, `"` + strings.Repeat("w", 70000) + `"`},
		{`[b"", b"\x00\xff"]`, `["","00ff"]`},
		{`b"\xab" * 300`, `"` + strings.Repeat("ab", 300) + `"`},
		{`b"\xcd" * 70000`, `"` + strings.Repeat("cd", 70000) + `"`},
		// Arrays and maps of every length header.
		{`list(range(15))`, "[" + numbersTo(15) + "]"},
		{`list(range(16))`, "[" + numbersTo(16) + "]"},
		{`list(range(70000))`, "[" + numbersTo(70000) + "]"},
		{`{str(i): i for i in range(16)}`, mapTo(16)},
		{`{str(i): i for i in range(70000)}`, mapTo(70000)},
		// Extensions: fixext 1, 2, 4, 8, 16, ext 8, 16, negative types.
		{`[msgpack.ExtType(5, b"\x01"), msgpack.ExtType(5, b"\x01\x02"), msgpack.ExtType(127, b"abcd")]`,
			`[{"type":5,"data":"01"},{"type":5,"data":"0102"},{"type":127,"data":"61626364"}]`},
		{`[msgpack.ExtType(1, b"\x00" * 8), msgpack.ExtType(1, b"\x00" * 16), msgpack.ExtType(2, b"xyz"), msgpack.ExtType(2, b"")]`,
			`[{"type":1,"data":"0000000000000000"},{"type":1,"data":"00000000000000000000000000000000"},{"type":2,"data":"78797a"},{"type":2,"data":""}]`},
		{`msgpack.ExtType(9, b"\x07" * 300)`, `{"type":9,"data":"` + strings.Repeat("07", 300) + `"}`},
		// The timestamp extension, in 4, 8 and 12 bytes.
		{`msgpack.Timestamp(1700000000, 0)`, `"2023-11-14T22:13:20Z"`},
		{`msgpack.Timestamp(1700000000, 500)`, `"2023-11-14T22:13:20.0000005Z"`},
		{`msgpack.Timestamp(1700000000, 999999999)`, `"2023-11-14T22:13:20.999999999Z"`},
		{`msgpack.Timestamp(0, 0)`, `"1970-01-01T00:00:00Z"`},
		{`msgpack.Timestamp(-1, 0)`, `"1969-12-31T23:59:59Z"`},
		{`msgpack.Timestamp(2**34, 0)`, `"2514-05-30T01:53:04Z"`},
		{`msgpack.Timestamp(-2**40, 999999999)`, `"` + time.Unix(-1<<40, 999999999).UTC().Format(time.RFC3339Nano) + `"`},
		{`[msgpack.Timestamp(1, 0), {"at": msgpack.Timestamp(2, 0)}]`, `["1970-01-01T00:00:01Z",{"at":"1970-01-01T00:00:02Z"}]`},
	}
	checkPython(t, "import msgpack", "msgpack.packb(v)", cases, AppendMsgPack)
	single := []pyCase{
		{`[16.1, 0.5, 1e-7, 3.4028234663852886e38, float("nan")]`, `[16.1,0.5,1e-7,3.4028235e+38,"NaN"]`},
	}
	checkPython(t, "import msgpack", "msgpack.packb(v, use_single_float=True)", single, AppendMsgPack)
	// The old specification, without bin or str 8: raw strings.
	old := []pyCase{
		{`["a" * 40, b"\x01\x02"]`, `["` + strings.Repeat("a", 40) + `","\u0001\u0002"]`},
	}
	checkPython(t, "import msgpack", "msgpack.packb(v, use_bin_type=False)", old, AppendMsgPack)
}

// mapTo is the JSON object {"0":0,...,"n-1":n-1}.
func mapTo(n int) string {
	var b []byte
	b = append(b, '{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(appendInt(b, int64(i)), '"', ':')
		b = appendInt(b, int64(i))
	}
	return string(append(b, '}'))
}

// TestMsgPackGoEncoder checks values that vmihailenco/msgpack encodes,
// each in the narrowest code unless asked for a width.
func TestMsgPackGoEncoder(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{[]any{int8(-5), uint16(300), int64(math.MinInt64), uint64(math.MaxUint64)}, `[-5,300,-9223372036854775808,18446744073709551615]`},
		{[]any{float32(16.1), 16.1, float32(math.Inf(-1))}, `[16.1,16.1,"-Infinity"]`},
		{[]any{"s", []byte{1, 2}, nil, true, false}, `["s","0102",null,true,false]`},
		{time.Unix(1700000000, 5), `"2023-11-14T22:13:20.000000005Z"`},
		{map[string]any{"k": []any{}}, `{"k":[]}`},
	}
	for _, tt := range tests {
		data, err := msgpack.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := AppendMsgPack(nil, data, DefaultLimits); err != nil || string(out) != tt.want {
			t.Errorf("AppendMsgPack(%x) (%#v) = %s, %v; want %s", data, tt.v, out, err, tt.want)
		}
	}
	// Every width of integer, written with the code that names it.
	var b []byte
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	for _, write := range []func(e *msgpack.Encoder) error{
		func(e *msgpack.Encoder) error { return e.EncodeUint8(200) },
		func(e *msgpack.Encoder) error { return e.EncodeUint16(1) },
		func(e *msgpack.Encoder) error { return e.EncodeUint32(1) },
		func(e *msgpack.Encoder) error { return e.EncodeUint64(1) },
		func(e *msgpack.Encoder) error { return e.EncodeInt8(-100) },
		func(e *msgpack.Encoder) error { return e.EncodeInt16(-1) },
		func(e *msgpack.Encoder) error { return e.EncodeInt32(-1) },
		func(e *msgpack.Encoder) error { return e.EncodeInt64(-1) },
		func(e *msgpack.Encoder) error { return e.EncodeInt64(1) },
	} {
		var w strings.Builder
		enc.Reset(&w)
		if err := write(enc); err != nil {
			t.Fatal(err)
		}
		b = append(b, w.String()...)
	}
	data := append([]byte{0x99}, b...) // an array of the nine
	if out, err := AppendMsgPack(nil, data, DefaultLimits); err != nil || string(out) != `[200,1,1,1,-100,-1,-1,-1,1]` {
		t.Errorf("AppendMsgPack(%x) = %s, %v", data, out, err)
	}
}

func TestMsgPackHandWritten(t *testing.T) {
	tests := []struct{ in, want string }{
		{"c0", `null`},
		{"c2", `false`},
		{"c3", `true`},
		{"7f", `127`},
		{"e0", `-32`},
		{"ff", `-1`},
		{"cc ff", `255`},
		{"d0 80", `-128`},
		{"d1 80 00", `-32768`},
		{"d2 80 00 00 00", `-2147483648`},
		{"d3 ff ff ff ff ff ff ff fe", `-2`},
		{"cf ff ff ff ff ff ff ff ff", `18446744073709551615`},
		{"ca 41 80 cc cd", `16.1`},
		{"ca 7f c0 00 00", `"NaN"`},
		{"cb 40 30 19 99 99 99 99 9a", `16.1`},
		{"a3 61 ff 62", "\"a\ufffdb\""}, // invalid UTF-8
		{"dc 00 01 c0", `[null]`},       // array 16 for one element
		{"dd 00 00 00 00", `[]`},
		{"de 00 01 a1 6b c0", `{"k":null}`},
		{"df 00 00 00 00", `{}`},
		{"81 c0 c0", `{"null":null}`},
		{"81 81 01 02 03", `{"{\"1\":2}":3}`},
		{"d9 00", `""`},
		{"c4 00", `""`},
		{"c7 00 05", `{"type":5,"data":""}`},
		{"d5 fb 78 79", `{"type":-5,"data":"7879"}`}, // a reserved type, which Python refuses to write
		{"c7 03 80 78 79 7a", `{"type":-128,"data":"78797a"}`},
		{"d6 ff 00 00 00 00", `"1970-01-01T00:00:00Z"`},
	}
	for _, tt := range tests {
		in := hexBytes(t, tt.in)
		if out, err := AppendMsgPack([]byte("dst"), in, DefaultLimits); err != nil || string(out) != "dst"+tt.want {
			t.Errorf("AppendMsgPack(%s) = %s, %v; want %s", tt.in, out, err, tt.want)
		}
	}
}

func TestMsgPackMalformed(t *testing.T) {
	tests := []struct {
		in  string // hex
		off int
		msg string
	}{
		// An unexpected end is reported at the end.
		{"", 0, "unexpected end"},
		{"92 01", 2, "unexpected end"},
		{"93 01 a1 61 cd", 5, "unexpected end"},
		{"81 a1 61", 3, "unexpected end"},
		{"a3 61 62", 3, "unexpected end"},
		{"cd 01", 2, "unexpected end"},
		{"cb 40", 2, "unexpected end"},
		{"ca", 1, "unexpected end"},
		{"dc 00", 2, "unexpected end"},
		{"d9", 1, "unexpected end"},
		{"c4 02 01", 3, "unexpected end"},
		{"d4 01", 2, "unexpected end"},
		{"d6 ff 00", 3, "unexpected end"},
		{"c7 01", 2, "unexpected end"},
		// A length or count past the end fails at once, allocating nothing.
		{"dd ff ff ff ff", 5, "unexpected end"},
		{"df ff ff ff ff", 5, "unexpected end"},
		{"db ff ff ff ff", 5, "unexpected end"},
		{"c6 ff ff ff ff", 5, "unexpected end"},
		{"c9 ff ff ff ff 05", 6, "unexpected end"},
		{"dc 00 03 01 02", 5, "unexpected end"},
		{"83 01 02 03 04", 5, "unexpected end"},
		// Bytes after the object.
		{"01 02", 1, "1 bytes after the object"},
		{"90 90 90", 1, "2 bytes after the object"},
		// Malformed objects.
		{"c1", 0, "type code 0xc1, never used"},
		{"92 01 c1", 2, "type code 0xc1"},
		{"c7 03 ff 00 00 00", 0, "timestamp extension of 3 bytes"},
		{"91 d5 ff 00 00", 1, "timestamp extension of 2 bytes"},
	}
	for _, tt := range tests {
		in := hexBytes(t, tt.in)
		out, err := AppendMsgPack([]byte("dst"), in, DefaultLimits)
		if string(out) != "dst" {
			t.Errorf("AppendMsgPack(%s) changed dst: %q", tt.in, out)
		}
		t.Run(tt.in, func(t *testing.T) { wantErr(t, err, MsgPack, tt.off, false, tt.msg) })
	}
}

// TestMsgPackHugeLengths checks that lengths of up to 4 GiB in a few bytes
// fail before anything is allocated for them.
func TestMsgPackHugeLengths(t *testing.T) {
	for _, in := range []string{"dd ff ff ff ff", "df ff ff ff ff", "db ff ff ff ff", "c6 ff ff ff ff", "c9 ff ff ff ff 05", "91 dd ff ff ff ff"} {
		data := hexBytes(t, in)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		for i := 0; i < 100; i++ {
			if _, err := AppendMsgPack(nil, data, DefaultLimits); err == nil {
				t.Fatalf("%s: no error", in)
			}
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 100<<10 {
			t.Errorf("%s: 100 decodings allocated %d bytes", in, n)
		}
		if elapsed > time.Second {
			t.Errorf("%s: 100 decodings took %v", in, elapsed)
		}
	}
}

func TestMsgPackLimits(t *testing.T) {
	lim := Limits{MaxDepth: 2, MaxSize: 100}
	for _, tt := range []struct{ in, want string }{
		{"91 91 01", `[[1]]`},
		{"81 a1 61 90", `{"a":[]}`},
	} {
		if out, err := AppendMsgPack(nil, hexBytes(t, tt.in), lim); err != nil || string(out) != tt.want {
			t.Errorf("AppendMsgPack(%s) = %s, %v; want %s", tt.in, out, err, tt.want)
		}
	}
	tests := []struct {
		in  string
		lim Limits
		off int
		msg string
	}{
		{"91 91 90", lim, 2, "nested deeper than 2 levels"},
		{"91 91 91 01", lim, 2, "nested deeper than 2 levels"},
		{"81 91 91 01 02", lim, 2, "nested deeper than 2 levels"},
		{"93 01 02 0a", Limits{MaxDepth: 2, MaxSize: 6}, 4, "JSON larger than 6 bytes"},
		{"94 01 02 0a 0b", Limits{MaxDepth: 2, MaxSize: 6}, 4, "JSON larger than 6 bytes"},
		// The output of the last object counts as well.
		{"92 a5 61 62 63 64 65 a5 61 62 63 64 65", Limits{MaxDepth: 2, MaxSize: 10}, 13, "JSON larger than 10 bytes"},
	}
	for _, tt := range tests {
		_, err := AppendMsgPack(nil, hexBytes(t, tt.in), tt.lim)
		t.Run(tt.in, func(t *testing.T) { wantErr(t, err, MsgPack, tt.off, true, tt.msg) })
	}
}
