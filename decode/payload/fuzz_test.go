package payload

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// ---------------------------------------------------------------------
// Sparkplug B and protobuf fuzzers: FuzzDecodeSparkplug, FuzzProtobufRaw,
// FuzzProtobufSchema. Their seeds are built with the helpers of
// sparkplug_test.go and protobuf_test.go; crashers found are kept under
// testdata/fuzz/<name>.
//
// Each checks that decoding never panics, that an error is an *Error of
// its format whose offset is within the input, and that a success is
// valid JSON no deeper than Limits.MaxDepth and no longer than a bound
// proportional to the input:
//
//   - Sparkplug B: 48 bytes per input byte, plus 16: a byte of a
//     BooleanArray is eight booleans, "false," six bytes each;
//   - protobuf without a schema: 8 bytes per input byte, plus 2: a control
//     character in a string is six (\u0001);
//   - protobuf with readingProto: 16 bytes per input byte, plus 16: a byte
//     of the packed repeated enum states is "STATE_UNKNOWN", 16 bytes.
// ---------------------------------------------------------------------

// fuzzLimits are the limits the fuzzers decode with: the default depth,
// and a size the fuzzer's inputs do not reach, so that the length bounds
// are what is checked.
var fuzzLimits = Limits{MaxDepth: 16, MaxSize: 1 << 22, MaxRatio: 100}

// fuzzCheckError fails unless err is an *Error of format f with an offset
// within an input of n bytes.
func fuzzCheckError(t *testing.T, err error, f Format, n int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v, want an *Error", err, err)
	}
	if e.Format != f || e.Offset < 0 || e.Offset > n {
		t.Fatalf("error %+v: format %s or offset outside 0..%d", e, f, n)
	}
}

// fuzzCheckJSON fails unless out is valid JSON within the depth limit and
// the length bound.
func fuzzCheckJSON(t *testing.T, out []byte, bound int) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %q", out)
	}
	if e := checkJSON(out, Limits{MaxDepth: fuzzLimits.MaxDepth, MaxSize: math.MaxInt}); e != nil {
		t.Fatalf("output past the limits (%v): %s", e, out)
	}
	if len(out) > bound {
		t.Fatalf("output of %d bytes, over the bound %d", len(out), bound)
	}
}

func FuzzDecodeSparkplug(f *testing.F) {
	seeds := []pbuf{
		nil,
		pbuf(nil).varint(fPayloadTimestamp, 1700000000000).varint(fPayloadSeq, 3).str(fPayloadUUID, "u").bytes(fPayloadBody, []byte{1}),
		payloadOf(named("bdSeq", spInt64).varint(fAlias, 0).varint(fLong, 5), pbuf(nil).varint(fAlias, 1).fixed32(fFloat, 0x40490fdb)),
		payloadOf(named("d", spDouble).fixed64(fDouble, math.Float64bits(-0.5)), named("s", spString).str(fString, "x\x00y"), named("n", spInt8).varint(fNull, 1)),
		payloadOf(named("b", spBooleanArray).bytes(fBytes, []byte{0x0c, 0, 0, 0, 0x34, 0xd0}), named("s", spStringArray).bytes(fBytes, []byte("ab\x00c\x00"))),
		payloadOf(named("f", spFloatArray).bytes(fBytes, []byte{0, 0, 0xc0, 0x3f}), named("i", spInt16Array).bytes(fBytes, []byte{0xff, 0xff})),
		payloadOf(named("t", spDataSet).bytes(fDataSet, dataSet(true))),
		payloadOf(nestedTemplates(3)),
		payloadOf(named("t", spTemplate).bytes(fTemplate, pbuf(nil).str(4, "M").bytes(3, pbuf(nil).str(1, "p").varint(2, 3).varint(3, 1)))),
		payloadOf(named("x", spUnknown).bytes(fExtension, pbuf(nil).varint(1, 1).str(2, "z"))),
		{0x12, 0x02, 0x0a, 0x03},
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeSparkplug(data, fuzzLimits)
		if err != nil {
			fuzzCheckError(t, err, SparkplugB, len(data))
			return
		}
		for _, m := range p.Metrics {
			if !json.Valid(m.Value) {
				t.Fatalf("metric %q: invalid JSON %q", m.Name, m.Value)
			}
		}
		out := p.AppendJSON([]byte("["))
		if out[0] != '[' {
			t.Fatal("AppendJSON lost dst")
		}
		fuzzCheckJSON(t, out[1:], 48*len(data)+16)
	})
}

func FuzzProtobufRaw(f *testing.F) {
	seeds := []pbuf{
		nil,
		{0x08, 0x96, 0x01},
		pbuf(nil).str(2, "testing").bytes(3, []byte{0x08, 0x96, 0x01}).varint(2, 1),
		pbuf(nil).fixed32(4, 1).fixed64(5, 2).bytes(6, []byte{0xff, 0x00}),
		{0x0b, 0x08, 0x01, 0x13, 0x14, 0x0c},
		{0x0b, 0x10, 0x80},
		{0x12, 0x05, 0x01},
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := AppendProtobuf([]byte("["), data, nil, fuzzLimits)
		if err != nil {
			fuzzCheckError(t, err, Protobuf, len(data))
			if string(out) != "[" {
				t.Fatalf("dst changed on error: %q", out)
			}
			return
		}
		fuzzCheckJSON(t, out[1:], 8*len(data)+2)
	})
}

func FuzzProtobufSchema(f *testing.F) {
	s := compileReading(f)
	seeds := []pbuf{
		nil,
		pbuf(nil).varint(1, math.MaxUint64).varint(2, 5).fixed64(3, math.Float64bits(1.5)).varint(4, 1),
		pbuf(nil).bytes(5, pbuf(nil).str(1, "A").varint(2, 3)).bytes(6, []byte{1, 2, 3}),
		pbuf(nil).bytes(7, pbuf(nil).str(1, "k").varint(2, 9)).bytes(8, []byte{0xff}).str(9, "s"),
		pbuf(nil).fixed32(11, 0x7fc00000).fixed64(12, 7).varint(13, 1).bytes(14, nil).bytes(15, pbuf(nil).varint(1, 5)),
		pbuf(nil).varint(16, 0).bytes(17, []byte{0, 1, 2, 9}).bytes(18, pbuf(nil).varint(1, 3).bytes(2, pbuf(nil).varint(10, 4))),
		pbuf(nil).varint(99, 1).str(9, "\xff"),
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := AppendProtobuf([]byte("["), data, s, fuzzLimits)
		if err != nil {
			fuzzCheckError(t, err, Protobuf, len(data))
			if string(out) != "[" {
				t.Fatalf("dst changed on error: %q", out)
			}
			return
		}
		fuzzCheckJSON(t, out[1:], 16*len(data)+16)
	})
}

// End of the Sparkplug B and protobuf fuzzers.
// ---------------------------------------------------------------------

// ---------------------------------------------------------------------
// JSON, CBOR, MessagePack, compression and path fuzzers: FuzzDecodeJSON,
// FuzzDecodeCBOR, FuzzDecodeMsgPack, FuzzInflate, FuzzLookup. Crashers
// found are kept under testdata/fuzz/<name>.
//
// The decoders must not panic; an error is an *Error of the format with
// its offset within the input, and leaves dst as it was; a success is
// valid JSON no deeper than fuzzLimits.MaxDepth, no longer than:
//
//   - JSON: the input (compaction only removes white space); it is also
//     encoding/json's Compact of the input, and the input is valid for
//     encoding/json and UTF-8 unless the error is a Limit;
//   - CBOR and MessagePack: 12 bytes per input byte, times 2^K for map
//     keys that are arrays or maps K levels deep, plus 2. A key that is
//     not a string is its JSON text, quoted: each level of such keys may
//     double the quotes and backslashes inside. Otherwise the most
//     per byte is a CBOR epoch date, c1 00 for "1970-01-01T00:00:00Z",
//     (23 bytes with a comma for 2), and a MessagePack fixext 1, d4 ff
//     00 for {"type":-1,"data":"00"} (26 bytes for 3);
//   - compression: lim.MaxSize and lim.MaxRatio times the input.
//
// And a proper prefix of an input that decodes (past white space for
// JSON, whose numbers are excepted) fails with an unexpected end at its
// end.
// ---------------------------------------------------------------------

// fuzzCheckPrefixes fails unless the two proper prefixes data[:len-1]
// and data[:len/2] of data, which decodes, fail with an unexpected end
// at their end: an item ends where its content says, never earlier.
func fuzzCheckPrefixes(t *testing.T, data []byte, appendFn func(dst, data []byte, lim Limits) ([]byte, error)) {
	t.Helper()
	for _, n := range []int{len(data) - 1, len(data) / 2} {
		if n < 0 || n == len(data) {
			continue
		}
		_, err := appendFn(nil, data[:n], fuzzLimits)
		var e *Error
		if !errors.As(err, &e) || e.Offset != n || !strings.Contains(e.Msg, "unexpected end") {
			t.Fatalf("%q cut to %d bytes: %v, want an unexpected end at byte %d", data, n, err, n)
		}
	}
}

// fuzzCheckDst fails unless out is dst as it was, "[".
func fuzzCheckDst(t *testing.T, out []byte) {
	t.Helper()
	if string(out) != "[" {
		t.Fatalf("dst changed on error: %q", out)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `[]`, ` {"a" : [1, 2.5e-3, -0, true, false, null], "b": {"c": "d\u00e9\n"}} `,
		`{"seq":1,"src":"p311q0","capteur":"salle-1","t":16.1}`, `"\ud83d\ude00\/"`, `12`, `-0.5E+10`,
		`[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]`, `{"a":1`, `[1,]`, `01`, "\"\xff\"", "[\"\xe2\x82", `nul`, "\t\n\r ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := AppendJSON([]byte("["), data, fuzzLimits)
		if err != nil {
			fuzzCheckError(t, err, JSON, len(data))
			fuzzCheckDst(t, out)
			if e := err.(*Error); !e.Limit && json.Valid(data) && utf8.Valid(data) {
				t.Fatalf("valid JSON refused: %v", err)
			}
		} else {
			fuzzCheckJSON(t, out[1:], len(data))
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil || !bytes.Equal(buf.Bytes(), out[1:]) {
				t.Fatalf("AppendJSON = %q, json.Compact = %q, %v", out[1:], buf.Bytes(), err)
			}
			if v := bytes.TrimRight(data, " \t\r\n"); KindOf(out[1:]) != KindNumber {
				fuzzCheckPrefixes(t, v, AppendJSON)
			}
		}
		if Valid(data, fuzzLimits) != (err == nil) {
			t.Fatalf("Valid = %v, AppendJSON error %v", !(err == nil), err)
		}
		if Sniff(data) == JSON {
			if _, err := AppendJSON(nil, data, DefaultLimits); err != nil {
				t.Fatalf("Sniff says JSON, AppendJSON: %v", err)
			}
		}
		js, f, err := Decode([]byte("["), data, Spec{UTF8: true}, fuzzLimits)
		if err == nil && !json.Valid(js[1:]) {
			t.Fatalf("Decode as %s: invalid JSON %q", f, js[1:])
		}
	})
}

// keyDepth returns how deep the keys of js nest in keys: 0 when no
// member name is itself a JSON array or object, else 1 more than the
// deepest such name's own keyDepth.
func keyDepth(t *testing.T, js []byte) int {
	depth := 0
	jsonTokens(t, js, func(tok json.Token, key bool) {
		if k, ok := tok.(string); ok && key && json.Valid([]byte(k)) && (k[0] == '[' || k[0] == '{') {
			depth = max(depth, 1+keyDepth(t, []byte(k)))
		}
	})
	return depth
}

// jsonTokens calls fn with each token of js, as encoding/json reads it,
// and whether it is a member name.
func jsonTokens(t *testing.T, js []byte, fn func(tok json.Token, key bool)) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var objects []bool // for each open container, whether it is an object
	keyNext := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", js, err)
		}
		d, _ := tok.(json.Delim)
		fn(tok, keyNext && d == 0)
		switch {
		case d == '}' || d == ']':
			objects = objects[:len(objects)-1]
		case keyNext:
			keyNext = false
			continue
		case d == '{' || d == '[':
			objects = append(objects, d == '{')
		}
		keyNext = len(objects) > 0 && objects[len(objects)-1]
	}
}

func TestKeyDepth(t *testing.T) {
	for js, want := range map[string]int{
		`{"a":1}`: 0, `{"[1]":{"{\"a\":1}":2}}`: 1, `[{"{\"[1]\":1}":0}]`: 2, `{"[":"[1]"}`: 0, `"[1]"`: 0,
	} {
		if got := keyDepth(t, []byte(js)); got != want {
			t.Errorf("keyDepth(%s) = %d, want %d", js, got, want)
		}
	}
}

// fuzzBinary is the body of the CBOR and MessagePack fuzzers.
func fuzzBinary(t *testing.T, data []byte, f Format, appendFn func(dst, data []byte, lim Limits) ([]byte, error)) {
	out, err := appendFn([]byte("["), data, fuzzLimits)
	if err != nil {
		fuzzCheckError(t, err, f, len(data))
		fuzzCheckDst(t, out)
		return
	}
	if !json.Valid(out[1:]) {
		t.Fatalf("invalid JSON: %q", out[1:])
	}
	k := keyDepth(t, out[1:])
	fuzzCheckJSON(t, out[1:], 12*len(data)<<k+2)
	fuzzCheckPrefixes(t, data, appendFn)
}

func FuzzDecodeCBOR(f *testing.F) {
	for _, s := range []string{
		"", "a4637365710163737263667033313171306763617074657572677361 6c6c652d316174fb403019999999999a",
		"9f0102ff", "bf6161016162806163a0ff", "5f4201024103ff", "7f626869612 1ff", "f93e00", "f97e00", "fa4180cccd",
		"c11a6553f100", "c0781b323032332d31312d31345432323a31333a32302e3530303030305a", "c249010000000000000000",
		"3bffffffffffffffff", "d9d9f78201c100", "a3016161208261628201616161a0", "a1818100f5", "f820", "f7",
		"9bffffffffffffffff", "1c", "ff", "62fffe", "8181818181818181818181818181818181",
		strings.Repeat("81", 15) + "80", strings.Repeat("81", 16) + "80", "a1" + strings.Repeat("81", 15) + "8000",
	} {
		f.Add(hexBytes(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzBinary(t, data, CBOR, AppendCBOR) })
}

func FuzzDecodeMsgPack(f *testing.F) {
	for _, s := range []string{
		"", "84a373657101a3737263a6703331317130a763617074657572a773616c6c652d31a174cb403019999999999a",
		"c0c2c3", "93 7f e0 ff", "cc ff d0 80 d1 80 00", "ca 41 80 cc cd", "cb 40 30 19 99 99 99 99 9a",
		"a3 61 ff 62", "dc 00 01 c0", "de 00 01 a1 6b c0", "81 81 01 02 03", "c4 02 00 ff", "d4 05 01",
		"d6 ff 65 53 f1 00", "d7 ff 00 00 07 d0 65 53 f1 00", "c7 0c ff 00 00 00 00 ff ff ff ff ff ff ff ff",
		"dd ff ff ff ff", "c1", "91919191919191919191919191919191919190", "81 92 01 81 c0 c0 c3",
		strings.Repeat("91", 15) + "90", strings.Repeat("91", 16) + "90", "81" + strings.Repeat("91", 15) + "90c0",
	} {
		f.Add(hexBytes(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzBinary(t, data, MsgPack, AppendMsgPack) })
}

func FuzzInflate(f *testing.F) {
	for i, c := range compressions {
		for _, plain := range [][]byte{nil, []byte(`{"a":1}`), bytes.Repeat([]byte("ab"), 2000)} {
			z := compress(f, c, plain)
			f.Add(byte(i), z)
			f.Add(byte(i), z[:len(z)/2])
		}
	}
	f.Add(byte(1), append(compress(f, Gzip, []byte("a")), compress(f, Gzip, []byte("b"))...))
	lim := Limits{MaxDepth: 16, MaxSize: 1 << 16, MaxRatio: 100}
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		c := compressions[int(which)%len(compressions)]
		out, err := Inflate([]byte("["), c, data, lim)
		if err != nil {
			fuzzCheckError(t, err, None, len(data))
			fuzzCheckDst(t, out)
			return
		}
		if n := len(out) - 1; n > lim.MaxSize || n > lim.MaxRatio*max(1, len(data)) {
			t.Fatalf("%s: %d bytes from %d", c, n, len(data))
		}
		if c == Zlib || c == Deflate { // the same as Go's reader
			var r io.Reader = flate.NewReader(bytes.NewReader(data))
			if c == Zlib {
				if r, err = zlib.NewReader(bytes.NewReader(data)); err != nil {
					t.Fatalf("zlib refuses what Inflate took: %v", err)
				}
			}
			if plain, err := io.ReadAll(r); err != nil || !bytes.Equal(plain, out[1:]) {
				t.Fatalf("%s: Inflate = %q, Go = %q, %v", c, out[1:], plain, err)
			}
		}
	})
}

func FuzzLookup(f *testing.F) {
	for _, s := range []struct{ js, path string }{
		{pathDoc, "readings.v"}, {pathDoc, "grid.1.1"}, {pathDoc, ""}, {`{"a":{"b":[1,{"c":2}]}}`, "a.b.c"},
		{`[[1,2],[3]]`, "0"}, {`{"a\/b":"\ud83d\ude00","":[]}`, "a/b"}, {`"x"`, "x"}, {`{"a": [ 1 , 2 ] }`, "a"},
	} {
		f.Add([]byte(s.js), s.path)
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		js, err := AppendJSON(nil, data, fuzzLimits)
		if err != nil {
			return
		}
		Lookup(js, path, func(v []byte) {
			if !json.Valid(v) {
				t.Fatalf("Lookup(%q) visits %q", path, v)
			}
		})
		numbers := 0
		Numbers(js, func(p string, f float64) {
			numbers++
		})
		values, scalars := 0, 0
		Tree(js, func(depth int, name string, v []byte) {
			values++
			if !json.Valid(v) {
				t.Fatalf("Tree visits %q", v)
			}
			switch KindOf(v) {
			case KindNumber, KindBool:
				scalars++
			case KindString:
				var s string
				if err := json.Unmarshal(v, &s); err != nil || Unquote(v) != s {
					t.Fatalf("Unquote(%s) = %q, encoding/json %q", v, Unquote(v), s)
				}
			}
		})
		tokens, tokenScalars := countValues(t, js)
		if values != tokens || numbers != scalars || scalars != tokenScalars {
			t.Fatalf("Tree visits %d values (%d numbers), Numbers %d; encoding/json finds %d (%d numbers)", values, scalars, numbers, tokens, tokenScalars)
		}
		if b := Brief(nil, js, len(path)); !utf8.Valid(b) || len(b) > len(path)+len("…") {
			t.Fatalf("Brief(%q, %d) = %q", js, len(path), b)
		}
	})
}

// countValues counts the values in js, and among them the numbers and
// booleans, with encoding/json.
func countValues(t *testing.T, js []byte) (values, numbers int) {
	jsonTokens(t, js, func(tok json.Token, key bool) {
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				values++
			}
		case json.Number, bool:
			values++
			numbers++
		default:
			if !key {
				values++
			}
		}
	})
	return values, numbers
}

// End of the JSON, CBOR, MessagePack, compression and path fuzzers.
// ---------------------------------------------------------------------
