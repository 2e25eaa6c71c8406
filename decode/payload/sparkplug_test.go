package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// pbuf builds protobuf wire data in tests.
type pbuf []byte

func (b pbuf) varint(num protowire.Number, v uint64) pbuf {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func (b pbuf) bytes(num protowire.Number, v []byte) pbuf {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func (b pbuf) str(num protowire.Number, s string) pbuf { return b.bytes(num, []byte(s)) }

func (b pbuf) fixed32(num protowire.Number, v uint32) pbuf {
	return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), v)
}

func (b pbuf) fixed64(num protowire.Number, v uint64) pbuf {
	return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v)
}

// Field numbers of the Sparkplug B schema used by the tests.
const (
	fPayloadTimestamp = 1
	fPayloadMetric    = 2
	fPayloadSeq       = 3
	fPayloadUUID      = 4
	fPayloadBody      = 5

	fName      = 1
	fAlias     = 2
	fTimestamp = 3
	fDatatype  = 4
	fNull      = 7
	fInt       = 10
	fLong      = 11
	fFloat     = 12
	fDouble    = 13
	fBool      = 14
	fString    = 15
	fBytes     = 16
	fDataSet   = 17
	fTemplate  = 18
	fExtension = 19
)

// named starts a metric with a name and a datatype.
func named(name string, typ uint32) pbuf {
	return pbuf(nil).str(fName, name).varint(fDatatype, uint64(typ))
}

// payloadOf wraps metrics in a payload.
func payloadOf(metrics ...pbuf) pbuf {
	var p pbuf
	for _, m := range metrics {
		p = p.bytes(fPayloadMetric, m)
	}
	return p
}

// spJSON decodes a payload and returns its JSON, checking it is valid.
func spJSON(t *testing.T, data []byte, lim Limits) string {
	t.Helper()
	p, err := DecodeSparkplug(data, lim)
	if err != nil {
		t.Fatalf("DecodeSparkplug: %v", err)
	}
	out := p.AppendJSON(nil)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	return string(out)
}

func TestParseSparkplugTopic(t *testing.T) {
	tests := []struct {
		topic string
		want  SparkplugTopic
		ok    bool
	}{
		{"spBv1.0/G1/NBIRTH/E1", SparkplugTopic{"spBv1.0", "G1", "NBIRTH", "E1", ""}, true},
		{"spBv1.0/G1/NDATA/E1", SparkplugTopic{"spBv1.0", "G1", "NDATA", "E1", ""}, true},
		{"spBv1.0/G1/NDEATH/E1", SparkplugTopic{"spBv1.0", "G1", "NDEATH", "E1", ""}, true},
		{"spBv1.0/G1/NCMD/E1", SparkplugTopic{"spBv1.0", "G1", "NCMD", "E1", ""}, true},
		{"spBv1.0/G1/DBIRTH/E1/D1", SparkplugTopic{"spBv1.0", "G1", "DBIRTH", "E1", "D1"}, true},
		{"spBv1.0/G1/DDATA/E1/D1", SparkplugTopic{"spBv1.0", "G1", "DDATA", "E1", "D1"}, true},
		{"spBv1.0/G1/DDEATH/E1/D1", SparkplugTopic{"spBv1.0", "G1", "DDEATH", "E1", "D1"}, true},
		{"spBv1.0/G1/DCMD/E1/D1", SparkplugTopic{"spBv1.0", "G1", "DCMD", "E1", "D1"}, true},
		{"spBv1.0/STATE/host-1", SparkplugTopic{"spBv1.0", "", "STATE", "host-1", ""}, true},
		{"spBv1.0/G1/NDATA/E1/D1", SparkplugTopic{}, false}, // device level on an N type
		{"spBv1.0/G1/DDATA/E1", SparkplugTopic{}, false},    // no device level on a D type
		{"spBv1.0/G1/XDATA/E1", SparkplugTopic{}, false},
		{"spBv1.0/G1/STATE/E1", SparkplugTopic{}, false},
		{"spBv1.0//NDATA/E1", SparkplugTopic{}, false},
		{"spBv1.0/G1/NDATA/", SparkplugTopic{}, false},
		{"spBv1.0/G1/DDATA/E1/", SparkplugTopic{}, false},
		{"spBv1.0/STATE/", SparkplugTopic{}, false},
		{"spBv1.0/STATE/h/x", SparkplugTopic{}, false},
		{"spAv1.0/G1/NDATA/E1", SparkplugTopic{}, false},
		{"spBv1.0/G1/DDATA/E1/D1/x", SparkplugTopic{}, false},
		{"spBv1.0", SparkplugTopic{}, false},
		{"", SparkplugTopic{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseSparkplugTopic([]byte(tt.topic))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseSparkplugTopic(%q) = %+v, %v; want %+v, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
	if IsSparkplugTopic([]byte("spBv1.0/STATE/h")) || !IsSparkplugTopic([]byte("spBv1.0/G/NDATA/E")) {
		t.Error("IsSparkplugTopic: STATE carries JSON, NDATA Sparkplug")
	}
}

func TestDataTypeName(t *testing.T) {
	for code, want := range map[uint32]string{
		0: "Unknown", 1: "Int8", 4: "Int64", 8: "UInt64", 9: "Float", 12: "String", 13: "DateTime",
		16: "DataSet", 19: "Template", 20: "PropertySet", 21: "PropertySetList", 22: "Int8Array",
		32: "BooleanArray", 33: "StringArray", 34: "DateTimeArray", 35: "Unknown", math.MaxUint32: "Unknown",
	} {
		if got := DataTypeName(code); got != want {
			t.Errorf("DataTypeName(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestSparkplugBirthThenData(t *testing.T) {
	birth := pbuf(nil).varint(fPayloadTimestamp, 1700000000000).
		bytes(fPayloadMetric, named("bdSeq", spInt64).varint(fAlias, 0).varint(fLong, 5)).
		bytes(fPayloadMetric, named("Temperature", spFloat).varint(fAlias, 1).varint(fTimestamp, 1700000000001).fixed32(fFloat, math.Float32bits(21.5))).
		bytes(fPayloadMetric, named("Node Control/Rebirth", spBoolean).varint(fAlias, 2).varint(fBool, 0)).
		varint(fPayloadSeq, 0)
	p, err := DecodeSparkplug(birth, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Metrics) != 3 || !p.HasSeq || p.Seq != 0 || !p.HasTimestamp || p.HasUUID || p.Body != nil {
		t.Fatalf("payload %+v", p)
	}
	m := p.Metrics[1]
	if m.Name != "Temperature" || !m.HasName || m.Alias != 1 || !m.HasAlias || m.Timestamp != 1700000000001 ||
		!m.HasTimestamp || m.Datatype != spFloat || m.IsNull || string(m.Value) != "21.5" {
		t.Errorf("metric %+v", m)
	}
	want := `{"timestamp":1700000000000,"seq":0,"metrics":{"bdSeq":5,"Temperature":21.5,"Node Control/Rebirth":false}}`
	if got := string(p.AppendJSON(nil)); got != want {
		t.Errorf("birth:\n got %s\nwant %s", got, want)
	}

	// Data messages carry aliases alone, and the datatype only in the birth:
	// a Float's value is still a float_value.
	data := pbuf(nil).varint(fPayloadTimestamp, 1700000001000).
		bytes(fPayloadMetric, pbuf(nil).varint(fAlias, 1).fixed32(fFloat, math.Float32bits(22.25))).
		bytes(fPayloadMetric, pbuf(nil).varint(fAlias, 7).varint(fInt, 0xffffffff)).
		varint(fPayloadSeq, 1)
	want = `{"timestamp":1700000001000,"seq":1,"metrics":{"1":22.25,"7":4294967295}}`
	if got := spJSON(t, data, DefaultLimits); got != want {
		t.Errorf("data:\n got %s\nwant %s", got, want)
	}
}

func TestSparkplugScalars(t *testing.T) {
	tests := []struct {
		name   string
		metric pbuf
		want   string
	}{
		{"Int8 sign-extended", named("m", spInt8).varint(fInt, 0xffffffff), "-1"},
		{"Int8 zero-extended", named("m", spInt8).varint(fInt, 0xff), "-1"},
		{"Int8 max", named("m", spInt8).varint(fInt, 127), "127"},
		{"Int16", named("m", spInt16).varint(fInt, 0xffff8000), "-32768"},
		{"Int32", named("m", spInt32).varint(fInt, 0x80000000), "-2147483648"},
		{"Int64", named("m", spInt64).varint(fLong, math.MaxUint64), "-1"},
		{"Int64 min", named("m", spInt64).varint(fLong, 1<<63), "-9223372036854775808"},
		{"UInt8", named("m", spUInt8).varint(fInt, 200), "200"},
		{"UInt16", named("m", spUInt16).varint(fInt, 65535), "65535"},
		{"UInt32", named("m", spUInt32).varint(fInt, 4294967295), "4294967295"},
		{"UInt32 in long_value", named("m", spUInt32).varint(fLong, 4000000000), "4000000000"},
		{"UInt64", named("m", spUInt64).varint(fLong, math.MaxUint64), "18446744073709551615"},
		{"int_value cut to 32 bits", named("m", spUInt64).varint(fInt, 1<<32|5), "5"},
		{"Float", named("m", spFloat).fixed32(fFloat, math.Float32bits(0.1)), "0.1"},
		{"Float NaN", named("m", spFloat).fixed32(fFloat, math.Float32bits(float32(math.NaN()))), `"NaN"`},
		{"Float -Inf", named("m", spFloat).fixed32(fFloat, math.Float32bits(float32(math.Inf(-1)))), `"-Infinity"`},
		{"Double", named("m", spDouble).fixed64(fDouble, math.Float64bits(2.5e300)), "2.5e+300"},
		{"Double integral", named("m", spDouble).fixed64(fDouble, math.Float64bits(-3)), "-3"},
		{"Boolean", named("m", spBoolean).varint(fBool, 1), "true"},
		{"String", named("m", spString).str(fString, "h\u00e9 \"q\"\n"), "\"h\u00e9 \\\"q\\\"\\n\""},
		{"Text", named("m", spText).str(fString, "long text"), `"long text"`},
		{"UUID", named("m", spUUID).str(fString, "e2b3c5d6-0000-4000-8000-000000000001"), `"e2b3c5d6-0000-4000-8000-000000000001"`},
		{"DateTime", named("m", spDateTime).varint(fLong, 1700000000123), "1700000000123"},
		{"Bytes", named("m", spBytes).bytes(fBytes, []byte{0x00, 0xff, 0x10}), `"00ff10"`},
		{"File", named("m", spFile).bytes(fBytes, []byte("PK")), `"504b"`},
		{"no datatype, int_value", pbuf(nil).str(fName, "m").varint(fInt, 5), "5"},
		{"no datatype, long_value", pbuf(nil).str(fName, "m").varint(fLong, 1<<40), "1099511627776"},
		{"no datatype, string", pbuf(nil).str(fName, "m").str(fString, "x"), `"x"`},
		{"unknown datatype, double", named("m", 99).fixed64(fDouble, math.Float64bits(1.25)), "1.25"},
		{"Int32 with a string_value", named("m", spInt32).str(fString, "7"), `"7"`},
		{"Boolean with an int_value", named("m", spBoolean).varint(fInt, 1), "1"},
		{"is_null", named("m", spInt32).varint(fNull, 1).varint(fInt, 5), "null"},
		{"no value", named("m", spInt32), "null"},
		{"last value field wins", named("m", spInt32).str(fString, "x").varint(fInt, 3), "3"},
		{"value with wrong wire type skipped", named("m", spInt32).str(fInt, "x"), "null"},
		{"extension_value read raw", named("m", spUnknown).bytes(fExtension, pbuf(nil).varint(1, 150).str(2, "ab")), `{"1":150,"2":"ab"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := payloadOf(tt.metric)
			p, err := DecodeSparkplug(data, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(p.Metrics[0].Value); got != tt.want {
				t.Errorf("value %s, want %s", got, tt.want)
			}
			want := `{"metrics":{"m":` + tt.want + `}}`
			if got := spJSON(t, data, DefaultLimits); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestSparkplugArrays(t *testing.T) {
	le := func(vs ...uint64) func(size int) []byte {
		return func(size int) []byte {
			var b []byte
			for _, v := range vs {
				for i := 0; i < size; i++ {
					b = append(b, byte(v>>(8*i)))
				}
			}
			return b
		}
	}
	f32 := func(f float32) uint64 { return uint64(math.Float32bits(f)) }
	f64 := func(f float64) uint64 { return math.Float64bits(f) }
	tests := []struct {
		typ  uint32
		data []byte
		want string
	}{
		{spInt8Array, []byte{0xff, 0x01, 0x80}, "[-1,1,-128]"},
		{spInt8Array, []byte{}, "[]"},
		{spInt16Array, le(0xffff, 0x7fff, 0x8000)(2), "[-1,32767,-32768]"},
		{spInt32Array, le(0xffffffff, 5)(4), "[-1,5]"},
		{spInt64Array, le(math.MaxUint64, 1<<62)(8), "[-1,4611686018427387904]"},
		{spUInt8Array, []byte{0, 255}, "[0,255]"},
		{spUInt16Array, le(0xffff, 1)(2), "[65535,1]"},
		{spUInt32Array, le(0xffffffff)(4), "[4294967295]"},
		{spUInt64Array, le(math.MaxUint64)(8), "[18446744073709551615]"},
		{spFloatArray, le(f32(1.5), f32(-2), f32(0.1))(4), "[1.5,-2,0.1]"},
		{spDoubleArray, le(f64(0.1), f64(math.Inf(1)))(8), `[0.1,"Infinity"]`},
		{spDateTimeArray, le(1700000000000, 0)(8), "[1700000000000,0]"},
		// The specification's example.
		{spBooleanArray, []byte{0x0c, 0, 0, 0, 0x34, 0xd0}, "[false,false,true,true,false,true,false,false,true,true,false,true]"},
		{spBooleanArray, []byte{0, 0, 0, 0}, "[]"},
		{spStringArray, []byte("ABC\x00hello\x00"), `["ABC","hello"]`},
		{spStringArray, []byte("\x00"), `[""]`},
		{spStringArray, []byte{}, `[]`},
	}
	for _, tt := range tests {
		data := payloadOf(named("a", tt.typ).bytes(fBytes, tt.data))
		want := `{"metrics":{"a":` + tt.want + `}}`
		if got := spJSON(t, data, DefaultLimits); got != want {
			t.Errorf("%s % x: got %s, want %s", DataTypeName(tt.typ), tt.data, got, want)
		}
	}
}

// dataSet is a DataSet of three columns, its types packed or not, and two
// rows, the second with an empty (null) value.
func dataSet(packed bool) pbuf {
	row := func(vals ...pbuf) pbuf {
		var r pbuf
		for _, v := range vals {
			r = r.bytes(1, v)
		}
		return r
	}
	ds := pbuf(nil).varint(1, 3).str(2, "a").str(2, "b").str(2, "c")
	if packed {
		ds = ds.bytes(3, []byte{byte(spInt32), byte(spString), byte(spBoolean)})
	} else {
		ds = ds.varint(3, uint64(spInt32)).varint(3, uint64(spString)).varint(3, uint64(spBoolean))
	}
	return ds.
		bytes(4, row(pbuf(nil).varint(1, 0xffffffff), pbuf(nil).str(6, "x"), pbuf(nil).varint(5, 1))).
		bytes(4, row(pbuf(nil).varint(1, 2), pbuf(nil), pbuf(nil).varint(5, 0), pbuf(nil).fixed64(4, math.Float64bits(0.5))))
}

func TestSparkplugDataSet(t *testing.T) {
	want := `{"metrics":{"table":{"columns":["a","b","c"],"types":["Int32","String","Boolean"],"rows":[[-1,"x",true],[2,null,false,0.5]]}}}`
	for _, packed := range []bool{true, false} {
		data := payloadOf(named("table", spDataSet).bytes(fDataSet, dataSet(packed)))
		if got := spJSON(t, data, DefaultLimits); got != want {
			t.Errorf("packed %v:\n got %s\nwant %s", packed, got, want)
		}
	}
	empty := payloadOf(named("t", spDataSet).bytes(fDataSet, nil))
	if got, want := spJSON(t, empty, DefaultLimits), `{"metrics":{"t":{"columns":[],"types":[],"rows":[]}}}`; got != want {
		t.Errorf("empty: got %s, want %s", got, want)
	}
}

func TestSparkplugTemplate(t *testing.T) {
	param := pbuf(nil).str(1, "unit").varint(2, uint64(spString)).str(8, "rpm")
	definition := pbuf(nil).varint(5, 1).
		bytes(2, named("speed", spUInt16).varint(fInt, 0)).
		bytes(3, param)
	inner := pbuf(nil).str(4, "Bearing").bytes(2, named("wear", spDouble).fixed64(fDouble, math.Float64bits(1.25)))
	instance := pbuf(nil).str(1, "1.0").str(4, "Motor").varint(5, 0).
		bytes(2, named("speed", spUInt16).varint(fInt, 1200)).
		bytes(2, named("on", spBoolean).varint(fBool, 1)).
		bytes(2, named("bearing", spTemplate).bytes(fTemplate, inner)).
		bytes(2, pbuf(nil).varint(fAlias, 9).varint(fDatatype, uint64(spInt8)).varint(fInt, 0xfe)).
		bytes(2, named("speed", spUInt16).varint(fInt, 1300)). // again: last value, first place
		bytes(3, param).
		bytes(3, pbuf(nil).str(1, "poles").varint(2, uint64(spInt32)).varint(3, 0xfffffffc))
	data := payloadOf(
		named("Motor", spTemplate).bytes(fTemplate, definition),
		named("m1", spTemplate).bytes(fTemplate, instance),
		named("empty", spTemplate).bytes(fTemplate, nil),
	)
	want := `{"metrics":{` +
		`"Motor":{"is_definition":true,"metrics":{"speed":0},"parameters":{"unit":"rpm"}},` +
		`"m1":{"version":"1.0","template_ref":"Motor","is_definition":false,` +
		`"metrics":{"speed":1300,"on":true,"bearing":{"template_ref":"Bearing","metrics":{"wear":1.25}},"9":-2},` +
		`"parameters":{"unit":"rpm","poles":-4}},` +
		`"empty":{}}}`
	if got := spJSON(t, data, DefaultLimits); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestSparkplugPayloadMembers(t *testing.T) {
	data := pbuf(nil).str(fPayloadUUID, "u-1").bytes(fPayloadBody, []byte{1, 2}).
		varint(fPayloadSeq, 255).
		bytes(fPayloadMetric, named("a", spInt32).varint(fInt, 1)).
		bytes(fPayloadMetric, named("b", spInt32).varint(fInt, 2)).
		bytes(fPayloadMetric, named("a", spInt32).varint(fInt, 3)).
		bytes(fPayloadMetric, pbuf(nil).varint(fInt, 4)). // neither name nor alias
		varint(99, 1).                                    // unknown fields are skipped
		str(98, "x").
		fixed32(fPayloadSeq, 7) // a known field with another wire type too
	p, err := DecodeSparkplug(data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Metrics) != 4 || string(p.Metrics[0].Value) != "1" || string(p.Metrics[2].Value) != "3" {
		t.Errorf("metrics %+v", p.Metrics)
	}
	want := `{"seq":255,"uuid":"u-1","body":"0102","metrics":{"a":3,"b":2,"":4}}`
	if got := string(p.AppendJSON(nil)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := spJSON(t, nil, DefaultLimits); got != `{"metrics":{}}` {
		t.Errorf("empty payload: %s", got)
	}
	if got := spJSON(t, pbuf(nil).bytes(fPayloadBody, nil), DefaultLimits); got != `{"body":"","metrics":{}}` {
		t.Errorf("empty body: %s", got)
	}
	// The metric skips unknown groups as well.
	grp := protowire.AppendTag(named("g", spInt32).varint(fInt, 8), 50, protowire.StartGroupType)
	grp = protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(grp, 1, protowire.VarintType), 1), 50, protowire.EndGroupType)
	if got := spJSON(t, payloadOf(grp), DefaultLimits); got != `{"metrics":{"g":8}}` {
		t.Errorf("group: %s", got)
	}
}

func TestSparkplugErrors(t *testing.T) {
	metric := func(m pbuf) pbuf { return payloadOf(m) }
	// arrayAt is the offset of the bytes_value content of a metric "a"
	// alone in a payload: payload tag and length, name, datatype, then the
	// bytes_value's two-byte tag and its length.
	arrayAt := 2 + 3 + 2 + 2 + 1
	tests := []struct {
		name string
		data []byte
		off  int
		msg  string
	}{
		{"field number 0", []byte{0x00}, 0, "invalid field number"},
		{"truncated varint", []byte{0x08, 0x80}, 1, "unexpected EOF"},
		{"varint overflow", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1, "overflow"},
		{"metric longer than the payload", []byte{0x12, 0x05, 0x0a}, 1, "unexpected EOF"},
		{"reserved wire type", []byte{0x08, 0x01, 0x0e}, 2, "payload: reserved wire type 6"},
		{"end group alone", []byte{0x0c}, 0, "payload: end of group 1 not started"},
		{"group not ended", []byte{0x0b, 0x08, 0x01}, 1, "unexpected EOF"},
		{"name longer than the metric", []byte{0x12, 0x02, 0x0a, 0x03}, 3, "metric: unexpected EOF"},
		{"Int16Array of 3 bytes", metric(named("a", spInt16Array).bytes(fBytes, []byte{1, 2, 3})), arrayAt + 2, "Int16Array of 3 bytes"},
		{"DoubleArray of 9 bytes", metric(named("a", spDoubleArray).bytes(fBytes, make([]byte, 9))), arrayAt + 8, "DoubleArray"},
		{"BooleanArray without count", metric(named("a", spBooleanArray).bytes(fBytes, []byte{1, 0})), arrayAt, "no 4-byte count"},
		{"BooleanArray short of bits", metric(named("a", spBooleanArray).bytes(fBytes, []byte{9, 0, 0, 0, 0xff})), arrayAt, "9 booleans in 1 bytes"},
		{"StringArray without NUL", metric(named("a", spStringArray).bytes(fBytes, []byte("ab\x00cd"))), arrayAt + 3, "not ended by NUL"},
		{"bad packed types", metric(named("a", spDataSet).bytes(fDataSet, pbuf(nil).bytes(3, []byte{1, 0x80}))), 2 + 3 + 2 + 2 + 1 + 2 + 1, "dataset types"},
		{"bad row", metric(named("a", spDataSet).bytes(fDataSet, pbuf(nil).bytes(4, []byte{0x0a, 0x01}))), 2 + 3 + 2 + 2 + 1 + 2 + 1, "dataset row"},
		{"bad template metric", metric(named("a", spTemplate).bytes(fTemplate, pbuf(nil).bytes(2, []byte{0x08}))), 2 + 3 + 2 + 2 + 1 + 2 + 1, "metric: unexpected EOF"},
		{"bad extension", metric(named("a", spUnknown).bytes(fExtension, []byte{0x08})), arrayAt + 1, "unexpected EOF"},
	}
	for _, tt := range tests {
		_, err := DecodeSparkplug(tt.data, DefaultLimits)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v, want an *Error", tt.name, err)
			continue
		}
		if e.Format != SparkplugB || e.Offset != tt.off || e.Limit || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("%s: %+v, want offset %d and %q", tt.name, e, tt.off, tt.msg)
		}
	}
}

// nestedTemplates is a metric holding n templates, each the only metric
// of the one around it, the innermost holding an Int32.
func nestedTemplates(n int) pbuf {
	m := named("v", spInt32).varint(fInt, 1)
	for i := 0; i < n; i++ {
		m = named("t", spTemplate).bytes(fTemplate, pbuf(nil).bytes(2, m))
	}
	return m
}

func TestSparkplugLimits(t *testing.T) {
	// Levels: payload 1, metrics 2, template 3, its metrics 4, a template
	// within 5, its metrics 6, its value a scalar.
	data := payloadOf(nestedTemplates(2))
	want := `{"metrics":{"t":{"metrics":{"t":{"metrics":{"v":1}}}}}}`
	if got := spJSON(t, data, Limits{MaxDepth: 6, MaxSize: 1 << 20}); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !Valid([]byte(want), Limits{MaxDepth: 6, MaxSize: 1 << 20}) {
		t.Error("the output is deeper than the limit allowed")
	}
	_, err := DecodeSparkplug(data, Limits{MaxDepth: 5, MaxSize: 1 << 20})
	var e *Error
	// The inner template's metrics object, at level 6, is the first past
	// 5: it is reported at the inner template's content.
	innerAt := 2 + 3 + 2 + 3 + 2 + 3 + 2 + 3
	if !errors.As(err, &e) || !e.Limit || e.Format != SparkplugB || e.Offset != innerAt {
		t.Errorf("depth 5: %v (%+v), want a limit at %d", err, e, innerAt)
	}

	// An array is a level too.
	arr := payloadOf(named("a", spInt8Array).bytes(fBytes, []byte{1}))
	if _, err := DecodeSparkplug(arr, Limits{MaxDepth: 2, MaxSize: 1 << 20}); !errors.As(err, &e) || !e.Limit {
		t.Errorf("array at depth 3 of 2: %v", err)
	}
	if got := spJSON(t, arr, Limits{MaxDepth: 3, MaxSize: 1 << 20}); got != `{"metrics":{"a":[1]}}` {
		t.Errorf("array: %s", got)
	}
	if _, err := DecodeSparkplug(nil, Limits{MaxDepth: 1, MaxSize: 1 << 20}); !errors.As(err, &e) || !e.Limit || e.Offset != 0 {
		t.Errorf("depth 1: %v", err)
	}

	// Deep nesting stops at the limit, without exhausting the stack.
	deep := payloadOf(nestedTemplates(1000))
	if _, err := DecodeSparkplug(deep, DefaultLimits); !errors.As(err, &e) || !e.Limit {
		t.Errorf("1000 templates: %v", err)
	}

	// A BooleanArray of 8000 booleans is 8000 booleans of JSON: too large
	// for 10000 bytes.
	bools := append([]byte{0x40, 0x1f, 0, 0}, make([]byte, 1000)...)
	big := payloadOf(named("b", spBooleanArray).bytes(fBytes, bools))
	if _, err := DecodeSparkplug(big, Limits{MaxDepth: 8, MaxSize: 10000}); !errors.As(err, &e) || !e.Limit {
		t.Errorf("MaxSize: %v", err)
	}
	if p, err := DecodeSparkplug(big, Limits{MaxDepth: 8, MaxSize: 100000}); err != nil || len(p.Metrics[0].Value) != 8000*6-1+2 {
		t.Errorf("8000 booleans: %v", err)
	}
}

// sparkplugProto is the Sparkplug B schema (Eclipse Tahu's
// sparkplug_b.proto) reduced to the fields, for protoc.
const sparkplugProto = `syntax = "proto2";
package org.eclipse.tahu.protobuf;
message Payload {
  message Template {
    message Parameter {
      optional string name = 1;
      optional uint32 type = 2;
      oneof value {
        uint32 int_value = 3; uint64 long_value = 4; float float_value = 5;
        double double_value = 6; bool boolean_value = 7; string string_value = 8;
      }
    }
    optional string version = 1;
    repeated Metric metrics = 2;
    repeated Parameter parameters = 3;
    optional string template_ref = 4;
    optional bool is_definition = 5;
  }
  message DataSet {
    message DataSetValue {
      oneof value {
        uint32 int_value = 1; uint64 long_value = 2; float float_value = 3;
        double double_value = 4; bool boolean_value = 5; string string_value = 6;
      }
    }
    message Row { repeated DataSetValue elements = 1; }
    optional uint64 num_of_columns = 1;
    repeated string columns = 2;
    repeated uint32 types = 3;
    repeated Row rows = 4;
  }
  message Metric {
    optional string name = 1;
    optional uint64 alias = 2;
    optional uint64 timestamp = 3;
    optional uint32 datatype = 4;
    optional bool is_historical = 5;
    optional bool is_transient = 6;
    optional bool is_null = 7;
    oneof value {
      uint32 int_value = 10; uint64 long_value = 11; float float_value = 12;
      double double_value = 13; bool boolean_value = 14; string string_value = 15;
      bytes bytes_value = 16; DataSet dataset_value = 17; Template template_value = 18;
    }
  }
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
  optional string uuid = 4;
  optional bytes body = 5;
}
`

// TestSparkplugProtocEncode checks the field numbers against the schema:
// protoc encodes a text-format payload that DecodeSparkplug reads. CI
// installs protoc, so its absence fails.
func TestSparkplugProtocEncode(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Fatalf("protoc is needed for this test (apt-get install protobuf-compiler): %v", err)
	}
	const text = `timestamp: 1700000000000 seq: 0 uuid: "u" body: "\377"
metrics { name: "bdSeq" alias: 0 datatype: 4 long_value: 18446744073709551615 }
metrics { name: "temp" alias: 1 timestamp: 5 datatype: 9 float_value: 21.5 }
metrics { name: "on" alias: 2 datatype: 11 boolean_value: true is_transient: true }
metrics { name: "i8" alias: 3 datatype: 1 int_value: 4294967295 }
metrics { name: "s" datatype: 12 string_value: "x" is_historical: true }
metrics { name: "raw" datatype: 17 bytes_value: "\001\002" }
metrics { name: "arr" datatype: 23 bytes_value: "\377\377\001\000" }
metrics { name: "n" datatype: 3 is_null: true }
metrics { name: "ds" datatype: 16 dataset_value { num_of_columns: 2 columns: "a" columns: "b" types: 3 types: 12
  rows { elements { int_value: 4294967294 } elements { string_value: "q" } } } }
metrics { name: "tpl" datatype: 19 template_value { version: "v" template_ref: "T" is_definition: false
  metrics { name: "m" datatype: 10 double_value: 0.25 }
  parameters { name: "p" type: 7 int_value: 9 } } }
`
	dir := t.TempDir()
	path := filepath.Join(dir, "sparkplug_b.proto")
	if err := os.WriteFile(path, []byte(sparkplugProto), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(protoc, "-I", dir, "--encode=org.eclipse.tahu.protobuf.Payload", path)
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("protoc --encode: %v: %s", err, stderr.Bytes())
	}
	p, err := DecodeSparkplug(data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Metrics[2]; !m.IsTransient || m.IsHistorical || !p.Metrics[4].IsHistorical || p.Metrics[4].HasAlias {
		t.Errorf("flags: %+v %+v", m, p.Metrics[4])
	}
	want := `{"timestamp":1700000000000,"seq":0,"uuid":"u","body":"ff","metrics":{` +
		`"bdSeq":-1,"temp":21.5,"on":true,"i8":-1,"s":"x","raw":"0102","arr":[-1,1],"n":null,` +
		`"ds":{"columns":["a","b"],"types":["Int32","String"],"rows":[[-2,"q"]]},` +
		`"tpl":{"version":"v","template_ref":"T","is_definition":false,"metrics":{"m":0.25},"parameters":{"p":9}}}}`
	if got := string(p.AppendJSON(nil)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
