package payload

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// python runs /usr/bin/python3 on a program that reads Python expressions,
// one a line, and prints encode(eval(expression)) in hex after an x, one a
// line; it
// returns the encodings. The encoders are those of the Debian packages
// python3-cbor2 and python3-msgpack, which CI installs: their absence is
// a failure, not a reason to skip.
func python(t *testing.T, imports, encode string, exprs []string) [][]byte {
	t.Helper()
	prog := "import sys, math, datetime, decimal, uuid\n" + imports + "\n" +
		"def encode(v):\n    return " + encode + "\n" +
		"for line in sys.stdin.read().split('\\n'):\n" +
		"    if line:\n        print('x' + encode(eval(line)).hex())\n"
	cmd := exec.Command("/usr/bin/python3", "-c", prog)
	cmd.Stdin = strings.NewReader(strings.Join(exprs, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("/usr/bin/python3 (%s; apt-get install python3-cbor2 python3-msgpack): %v\n%s", imports, err, stderr.Bytes())
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(exprs) {
		t.Fatalf("python printed %d encodings for %d expressions", len(lines), len(exprs))
	}
	encs := make([][]byte, len(lines))
	for i, l := range lines {
		if encs[i], err = hex.DecodeString(strings.TrimPrefix(l, "x")); err != nil {
			t.Fatal(err)
		}
	}
	return encs
}

// pyCase is a Python value, its encoding's options, and the JSON text
// it should decode to.
type pyCase struct{ expr, want string }

// checkPython encodes the cases' values with Python and checks the JSON
// that appendFn makes of them.
func checkPython(t *testing.T, imports, encode string, cases []pyCase, appendFn func(dst, data []byte, lim Limits) ([]byte, error)) {
	t.Helper()
	exprs := make([]string, len(cases))
	for i, c := range cases {
		exprs[i] = c.expr
	}
	for i, data := range python(t, imports, encode, exprs) {
		out, err := appendFn([]byte("dst"), data, DefaultLimits)
		if err != nil || string(out) != "dst"+cases[i].want {
			t.Errorf("%s\nencoded %x\ngot  %s, %v\nwant %s", cases[i].expr, data, out, err, cases[i].want)
		}
		if err == nil && !json.Valid(out[3:]) {
			t.Errorf("%s: invalid JSON %s", cases[i].expr, out)
		}
	}
}

func TestCBORPython(t *testing.T) {
	cases := []pyCase{
		{`{"a": 1, "b": [1, 2.5, "x"], "c": None, "d": True, "e": False}`, `{"a":1,"b":[1,2.5,"x"],"c":null,"d":true,"e":false}`},
		{`{"z": 1, "a": 2, "m": 3, "b": {"y": 1, "x": 2}}`, `{"z":1,"a":2,"m":3,"b":{"y":1,"x":2}}`},
		{`{1: "one", -2: "neg", b"\x01\x02": "b", 1.5: "f", (1, "a"): "t", None: "n", False: "x", "s": "s"}`,
			`{"1":"one","-2":"neg","0102":"b","1.5":"f","[1,\"a\"]":"t","null":"n","false":"x","s":"s"}`},
		{`{(1, cbor2.types.FrozenDict({"k": "v"})): 1}`, `{"[1,{\"k\":\"v\"}]":1}`},
		{`{"a": {"b": {"c": [[], {}, [[1]]]}}}`, `{"a":{"b":{"c":[[],{},[[1]]]}}}`},
		{`[b"\x00\xff\x10", b"", bytearray(b"\xab")]`, `["00ff10","","ab"]`},
		{`"q\" b\\ n\n t\t c\x01 d\x7f é 😀"`, `"q\" b\\ n\n t\t c\u0001 d\u007f é 😀"`},
		{`"x" * 300`, `"` + strings.Repeat("x", 300) + `"`},
		{`[1.5, -0.0, 16.1, 0.1, 1e300, 5e-324, 1234567.5, 1e-7]`, `[1.5,-0,16.1,0.1,1e+300,5e-324,1234567.5,1e-7]`},
		{`[float("nan"), float("inf"), float("-inf")]`, `["NaN","Infinity","-Infinity"]`},
		{`[0, 23, 24, 255, 256, 65535, 65536, 2**32-1, 2**32, 2**63-1, 2**64-1]`,
			`[0,23,24,255,256,65535,65536,4294967295,4294967296,9223372036854775807,18446744073709551615]`},
		{`[-1, -24, -25, -256, -257, -65537, -2**63, -2**63-1, -2**64]`,
			`[-1,-24,-25,-256,-257,-65537,-9223372036854775808,-9223372036854775809,-18446744073709551616]`},
		{`[2**64, -2**64-1, 2**100, -2**100]`,
			`[18446744073709551616,-18446744073709551617,1267650600228229401496703205376,-1267650600228229401496703205376]`},
		{`datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)`, `"2023-11-14T22:13:20Z"`},
		{`datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=datetime.timezone.utc)`, `"2023-11-14T22:13:20.5Z"`},
		{`datetime.datetime(2023, 11, 15, 0, 13, 20, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))`, `"2023-11-14T22:13:20Z"`},
		{`cbor2.CBORTag(1, 1700000000)`, `"2023-11-14T22:13:20Z"`},
		{`cbor2.CBORTag(1, 1700000000.25)`, `"2023-11-14T22:13:20.25Z"`},
		{`cbor2.CBORTag(1, -1)`, `"1969-12-31T23:59:59Z"`},
		{`cbor2.CBORTag(55799, [1, cbor2.CBORTag(1, 0)])`, `[1,"1970-01-01T00:00:00Z"]`},
		{`cbor2.CBORTag(100, cbor2.CBORTag(101, {"a": cbor2.CBORTag(32, "http://x")}))`, `{"a":"http://x"}`},
		{`cbor2.CBORTag(2, b"\x01\x00")`, `256`},
		{`cbor2.CBORTag(3, b"")`, `-1`},
		{`decimal.Decimal("273.15")`, `[-2,27315]`},
		{`uuid.UUID(int=0x0102)`, `"00000000000000000000000000000102"`},
		{`[cbor2.CBORSimpleValue(99), cbor2.CBORSimpleValue(19), cbor2.undefined]`, `[99,19,null]`},
		{`{cbor2.CBORTag(1, 0): datetime.date(2020, 1, 2) if False else 0}`, `{"1970-01-01T00:00:00Z":0}`},
		{`list(range(30))`, "[" + numbersTo(30) + "]"},
	}
	checkPython(t, "import cbor2, cbor2.types", "cbor2.dumps(v)", cases, AppendCBOR)

	// Canonical encoding writes floats in the fewest bytes that hold them.
	canonical := []pyCase{
		{`[1.5, 0.1, 65504.0, 100000.0, 16.1, -2.0, 0.0]`, `[1.5,0.1,65504,100000,16.1,-2,0]`},
		{`[float("nan"), float("-inf")]`, `["NaN","-Infinity"]`},
	}
	checkPython(t, "import cbor2", "cbor2.dumps(v, canonical=True)", canonical, AppendCBOR)
}

// numbersTo is "0,1,...,n-1".
func numbersTo(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return strings.Join(s, ",")
}

func TestCBORHandWritten(t *testing.T) {
	tests := []struct {
		in   string // hex
		want string
	}{
		// Indefinite lengths.
		{"9f0102ff", `[1,2]`},
		{"9fff", `[]`},
		{"bf6161016162806163a0ff", `{"a":1,"b":[],"c":{}}`},
		{"bfff", `{}`},
		{"9f9fffbfff9f01ffff", `[[],{},[1]]`},
		{"5f42010241 03ff", `"010203"`},
		{"7f626869612 1ff", `"hi!"`},
		{"5fff", `""`},
		{"829f01ff9f02ff", `[[1],[2]]`},
		// Floats of every size; halves in the fewest digits that read
		// back as the same half.
		{"f93c00", `1`},
		{"f93e00", `1.5`},
		{"f9c400", `-4`},
		{"f98000", `-0`},
		{"f97bff", `65500`}, // 65504, the largest half: 65500 is nearer to it than to 65472
		{"f92e66", `0.1`},
		{"f93555", `0.3333`},
		{"f90001", `6e-8`},
		{"f90400", `0.00006104`},
		{"f97e00", `"NaN"`},
		{"f97c00", `"Infinity"`},
		{"f9fc00", `"-Infinity"`},
		{"fa4180cccd", `16.1`},
		{"fa7f7fffff", `3.4028235e+38`},
		{"fa7fc00000", `"NaN"`},
		{"fb403019999999999a", `16.1`},
		// Simple values.
		{"f4", `false`}, {"f5", `true`}, {"f6", `null`}, {"f7", `null`},
		{"e0", `0`}, {"f3", `19`}, {"f820", `32`}, {"f8ff", `255`},
		// Heads in more bytes than needed.
		{"1b0000000000000001", `1`},
		{"3800", `-1`},
		{"780161", `"a"`},
		{"99000101", `[1]`},
		// Tags before dates and bignums, and nested.
		{"d9d9f7c100", `"1970-01-01T00:00:00Z"`},
		{"c07819" + hex.EncodeToString([]byte("2020-02-29T23:59:59+01:00")), `"2020-02-29T22:59:59Z"`},
		{"c1fb41d954fc40000000", `"2023-11-14T22:13:20Z"`},
		{"c25f4101ff", `1`},
	}
	for _, tt := range tests {
		in := hexBytes(t, tt.in)
		out, err := AppendCBOR(nil, in, DefaultLimits)
		if err != nil || string(out) != tt.want {
			t.Errorf("AppendCBOR(%s) = %s, %v; want %s", tt.in, out, err, tt.want)
		}
	}
}

// hexBytes decodes hex, ignoring spaces.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, " ", "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// TestCBORHalves checks every finite half-precision float against
// Python's shortest repr of it: the fewest significant digits that
// struct.pack('>e') packs back into the same half.
func TestCBORHalves(t *testing.T) {
	const prog = `import struct, sys
out = []
for h in range(0x10000):
    b = h.to_bytes(2, "big")
    f = struct.unpack(">e", b)[0]
    if f != f or f in (float("inf"), float("-inf")):
        out.append("-")
        continue
    for p in range(1, 18):
        s = "%.*e" % (p - 1, f)
        try:
            if struct.pack(">e", float(s)) == b:
                break
        except OverflowError:  # 7e+04 for 65504
            pass
    out.append(s)
print("\n".join(out))
`
	out, err := exec.Command("/usr/bin/python3", "-c", prog).Output()
	if err != nil {
		t.Fatalf("/usr/bin/python3: %v", err)
	}
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(want) != 0x10000 {
		t.Fatalf("python printed %d halves", len(want))
	}
	for h := 0; h < 0x10000; h++ {
		got := string(appendHalf(nil, uint16(h)))
		if want[h] == "-" {
			if !strings.HasPrefix(got, `"`) {
				t.Errorf("half %#04x = %s, want a string", h, got)
			}
			continue
		}
		g, err1 := strconv.ParseFloat(got, 64)
		w, err2 := strconv.ParseFloat(want[h], 64)
		if err1 != nil || err2 != nil || g != w || math.Signbit(g) != math.Signbit(w) {
			t.Errorf("half %#04x = %s, want %s", h, got, want[h])
		}
		if f := halfFloat(uint16(h)); f != float64(float32(f)) {
			t.Errorf("half %#04x = %v, not a float32", h, f)
		}
	}
}

// TestCBORGoEncoder checks values that fxamacker/cbor encodes.
func TestCBORGoEncoder(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{[]any{float32(16.1), float64(16.1), float32(0.5)}, `[16.1,16.1,0.5]`},
		{[]any{int8(-5), uint16(300), int64(math.MinInt64), uint64(math.MaxUint64)}, `[-5,300,-9223372036854775808,18446744073709551615]`},
		{[]any{"s", []byte{1, 2}, nil, true, cbor.Tag{Number: 1234, Content: "t"}}, `["s","0102",null,true,"t"]`},
		{time.Unix(1700000000, 5).UTC(), `"2023-11-14T22:13:20.000000005Z"`},
		{struct {
			Z int    `cbor:"z"`
			A string `cbor:"a"`
		}{1, "x"}, `{"z":1,"a":"x"}`},
	}
	em, err := cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		data, err := em.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := AppendCBOR(nil, data, DefaultLimits); err != nil || string(out) != tt.want {
			t.Errorf("AppendCBOR(%x) (%#v) = %s, %v; want %s", data, tt.v, out, err, tt.want)
		}
	}
}

func TestCBORMalformed(t *testing.T) {
	tests := []struct {
		in  string // hex
		off int
		msg string
	}{
		// An unexpected end is reported at the end.
		{"", 0, "unexpected end"},
		{"8201", 2, "unexpected end"},
		{"a2616101a1", 5, "unexpected end"},
		{"a16161", 3, "unexpected end"},
		{"636162", 3, "unexpected end"},
		{"4401", 2, "unexpected end"},
		{"1901", 2, "unexpected end"},
		{"fb4009", 3, "unexpected end"},
		{"9f01", 2, "unexpected end"},
		{"bf6161", 3, "unexpected end"},
		{"c1", 1, "unexpected end"},
		{"d864", 2, "unexpected end"},
		{"c24201", 3, "unexpected end"},
		{"7f6161", 3, "unexpected end"},
		{"5f", 1, "unexpected end"},
		// A count or length past the end fails at once.
		{"9bffffffffffffffff", 9, "unexpected end"},
		{"9affffffff00", 6, "unexpected end"},
		{"baffffffff", 5, "unexpected end"},
		{"a30102", 3, "unexpected end"},
		{"5bffffffffffffffff", 9, "unexpected end"},
		{"7affffffff", 5, "unexpected end"},
		// Bytes after the item.
		{"0102", 1, "1 bytes after the data item"},
		{"80ff", 1, "1 bytes after the data item"},
		{"a0a0a0", 1, "2 bytes after the data item"},
		// Malformed heads and items.
		{"1c", 0, "reserved additional information 28"},
		{"821e01", 1, "reserved additional information 30"},
		{"811f", 1, "indefinite length for major type 0"},
		{"3f", 0, "indefinite length for major type 1"},
		{"df", 0, "indefinite length for major type 6"},
		{"ff", 0, "break outside an indefinite-length item"},
		{"82ff01", 1, "break outside"},
		{"bf01ff", 2, "break outside"},
		{"f810", 0, "simple value 16 in two bytes"},
		{"62fffe", 1, "invalid UTF-8"},
		{"8263c3a96863c3a9ff", 8, "invalid UTF-8"},
		{"c16161", 0, "tag number 1 must be followed by integer or floating-point number"},
		{"c201", 0, "tag number 2 or 3 must be followed by byte string"},
		{"7f01ff", 0, "wrong element type"},
		{"7f62ffffff", 0, "invalid UTF-8"},
		{"820fc06161", 2, "cannot parse"},
	}
	for _, tt := range tests {
		in := hexBytes(t, tt.in)
		out, err := AppendCBOR([]byte("dst"), in, DefaultLimits)
		if string(out) != "dst" {
			t.Errorf("AppendCBOR(%s) changed dst: %q", tt.in, out)
		}
		t.Run(tt.in, func(t *testing.T) { wantErr(t, err, CBOR, tt.off, false, tt.msg) })
	}
}

func TestCBORLimits(t *testing.T) {
	lim := Limits{MaxDepth: 2, MaxSize: 100}
	ok := []struct{ in, want string }{
		{"818101", `[[1]]`},
		{"a16161a0", `{"a":{}}`},
		{"d86481d8648101", `[[1]]`}, // tags do not nest
		{"9f9fffff", `[[]]`},
	}
	for _, tt := range ok {
		if out, err := AppendCBOR(nil, hexBytes(t, tt.in), lim); err != nil || string(out) != tt.want {
			t.Errorf("AppendCBOR(%s) = %s, %v; want %s", tt.in, out, err, tt.want)
		}
	}
	tests := []struct {
		in  string
		lim Limits
		off int
		msg string
	}{
		{"818180", lim, 2, "nested deeper than 2 levels"},
		{"81818101", lim, 2, "nested deeper than 2 levels"},
		{"9f9f9fffffff", lim, 2, "nested deeper than 2 levels"},
		{"a16161a16162a0", lim, 6, "nested deeper than 2 levels"},
		{"8301020a", Limits{MaxDepth: 2, MaxSize: 6}, 4, "JSON larger than 6 bytes"},
		{"83616161626163", Limits{MaxDepth: 2, MaxSize: 8}, 5, "JSON larger than 8 bytes"},
		// Bignums past 2048 bits, slow to write in decimal.
		{"c259010101" + strings.Repeat("00", 256), lim, 0, "bignum of 2049 bits, more than 2048"},
		{"d864c35f4101590100" + strings.Repeat("00", 256) + "ff", lim, 2, "bignum of 2049 bits"},
		// A key's arrays and maps count, though its text is a string.
		{"a1818100", lim, 2, "nested deeper than 2 levels"},
		{"83616161626163", Limits{MaxDepth: 2, MaxSize: 5}, 5, "JSON larger than 5 bytes"},
	}
	for _, tt := range tests {
		_, err := AppendCBOR(nil, hexBytes(t, tt.in), tt.lim)
		t.Run(tt.in, func(t *testing.T) { wantErr(t, err, CBOR, tt.off, true, tt.msg) })
	}
	// The default limits: 64 levels, and arrays of any length.
	deep := append(bytes.Repeat([]byte{0x81}, 64), 0x01)
	if out, err := AppendCBOR(nil, deep, DefaultLimits); err != nil || string(out) != strings.Repeat("[", 64)+"1"+strings.Repeat("]", 64) {
		t.Errorf("64 levels: %.20s, %v", out, err)
	}
	_, err := AppendCBOR(nil, append([]byte{0x81}, deep...), DefaultLimits)
	wantErr(t, err, CBOR, 64, true, "nested deeper than 64 levels")
	// The largest bignum: 2048 bits.
	big := hexBytes(t, "c2590100"+strings.Repeat("ff", 256))
	if out, err := AppendCBOR(nil, big, DefaultLimits); err != nil || len(out) != 617 {
		t.Errorf("a bignum of 2048 bits: %d digits, %v", len(out), err)
	}
	long := append([]byte{0x9a, 0, 3, 0x0d, 0x40}, make([]byte, 200000)...)
	if out, err := AppendCBOR(nil, long, DefaultLimits); err != nil || len(out) != 400001 {
		t.Errorf("an array of 200000 items: %d bytes, %v", len(out), err)
	}
}
