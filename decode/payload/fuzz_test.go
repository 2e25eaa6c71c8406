package payload

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
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
