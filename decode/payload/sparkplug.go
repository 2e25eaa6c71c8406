package payload

import (
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Sparkplug B payloads (Eclipse Sparkplug 3.0, schema
// org.eclipse.tahu.protobuf.Payload) are read here by hand, field by field,
// with protowire: no generated code. Unknown fields, and known fields with
// a wire type other than the schema's, are skipped as protobuf does; wire
// data that does not parse is an *Error at the offset where it stops.
//
// Each metric value becomes compact JSON as it is read, so that its errors
// carry their offsets. All values go to one buffer whose length, with the
// top-level metric names, is held to Limits.MaxSize: input of n bytes
// renders to at most about 48n bytes (a BooleanArray byte is eight
// "false"s) and never more than MaxSize.

// SparkplugTopic is a Sparkplug B topic: spBv1.0/GROUP/TYPE/EDGE[/DEVICE],
// or spBv1.0/STATE/HOST (Type "STATE", Edge the host id, Group empty).
type SparkplugTopic struct{ Namespace, Group, Type, Edge, Device string }

// ParseSparkplugTopic splits a Sparkplug B topic. ok is true only for the
// namespace spBv1.0, a known message type (NBIRTH NDEATH DBIRTH DDEATH
// NDATA DDATA NCMD DCMD, or STATE as spBv1.0/STATE/HOST), no empty level,
// a DEVICE level for the D types and none for the N types.
func ParseSparkplugTopic(topic []byte) (SparkplugTopic, bool) {
	parts := strings.Split(string(topic), "/")
	if len(parts) < 3 || len(parts) > 5 || parts[0] != SparkplugNamespace {
		return SparkplugTopic{}, false
	}
	for _, p := range parts {
		if p == "" {
			return SparkplugTopic{}, false
		}
	}
	if len(parts) == 3 {
		if parts[1] != "STATE" {
			return SparkplugTopic{}, false
		}
		return SparkplugTopic{Namespace: parts[0], Type: "STATE", Edge: parts[2]}, true
	}
	t := SparkplugTopic{Namespace: parts[0], Group: parts[1], Type: parts[2], Edge: parts[3]}
	switch t.Type {
	case "NBIRTH", "NDEATH", "NDATA", "NCMD":
		if len(parts) == 4 {
			return t, true
		}
	case "DBIRTH", "DDEATH", "DDATA", "DCMD":
		if len(parts) != 5 {
			return SparkplugTopic{}, false
		}
		t.Device = parts[4]
		return t, true
	}
	return SparkplugTopic{}, false
}

// SparkplugPayload is a decoded Sparkplug B payload. The Has fields say
// which optional fields were present; Body is nil when absent.
type SparkplugPayload struct {
	Timestamp    uint64
	HasTimestamp bool
	Seq          uint64
	HasSeq       bool
	UUID         string
	HasUUID      bool
	Body         []byte
	Metrics      []Metric
}

// Metric is one metric of a Sparkplug B payload, its value already
// rendered as JSON. Metadata and properties are not kept.
type Metric struct {
	Name         string
	HasName      bool
	Alias        uint64
	HasAlias     bool
	Timestamp    uint64
	HasTimestamp bool
	Datatype     uint32 // Sparkplug DataType code, DataTypeName names it
	IsHistorical bool
	IsTransient  bool
	IsNull       bool
	Value        []byte // the value as compact JSON: "null" when is_null or no value field
}

// Sparkplug DataType codes, as the specification numbers them.
const (
	spUnknown, spInt8, spInt16, spInt32, spInt64, spUInt8, spUInt16, spUInt32, spUInt64 uint32 = 0, 1, 2, 3, 4, 5, 6, 7, 8
	spFloat, spDouble, spBoolean, spString, spDateTime, spText, spUUID, spDataSet       uint32 = 9, 10, 11, 12, 13, 14, 15, 16
	spBytes, spFile, spTemplate, spPropertySet, spPropertySetList                       uint32 = 17, 18, 19, 20, 21
	spInt8Array, spInt16Array, spInt32Array, spInt64Array, spUInt8Array, spUInt16Array  uint32 = 22, 23, 24, 25, 26, 27
	spUInt32Array, spUInt64Array, spFloatArray, spDoubleArray, spBooleanArray           uint32 = 28, 29, 30, 31, 32
	spStringArray, spDateTimeArray                                                      uint32 = 33, 34
)

var dataTypeNames = [...]string{
	"Unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
	"Float", "Double", "Boolean", "String", "DateTime", "Text", "UUID", "DataSet", "Bytes",
	"File", "Template", "PropertySet", "PropertySetList", "Int8Array", "Int16Array",
	"Int32Array", "Int64Array", "UInt8Array", "UInt16Array", "UInt32Array", "UInt64Array",
	"FloatArray", "DoubleArray", "BooleanArray", "StringArray", "DateTimeArray",
}

// DataTypeName is the name of a Sparkplug DataType code, as the
// specification writes it ("Int8", "Template", "Int8Array"…), "Unknown"
// for a code it does not define.
func DataTypeName(code uint32) string {
	if code < uint32(len(dataTypeNames)) {
		return dataTypeNames[code]
	}
	return "Unknown"
}

// spKind is which member of a value oneof a field set.
type spKind uint8

const (
	kNone spKind = iota
	kInt
	kLong
	kFloat
	kDouble
	kBool
	kString
	kBytes
	kDataSet
	kTemplate
	kExtension
)

// The value oneofs: Metric's fields 10 to 19; Template.Parameter's 3 to 9
// and DataSet.DataSetValue's 1 to 7.
var (
	metricKinds = []spKind{kInt, kLong, kFloat, kDouble, kBool, kString, kBytes, kDataSet, kTemplate, kExtension}
	scalarKinds = []spKind{kInt, kLong, kFloat, kDouble, kBool, kString, kExtension}
)

// spValue is the value oneof of a metric, parameter or data set value.
type spValue struct {
	kind spKind
	u    uint64 // int (as uint32), long, float or double bits, bool
	b    []byte // string, bytes, data set, template or extension
	off  int    // offset of b in the payload
}

// spField is one field read off the wire.
type spField struct {
	num  protowire.Number
	typ  protowire.Type
	u    uint64 // varint, fixed32 or fixed64
	b    []byte // length-delimited content
	voff int    // offset of b in the payload
}

// spWireError is an *Error for a negative protowire length n at off.
func spWireError(off, n int, what string) *Error {
	return errorf(SparkplugB, off, "%s: %v", what, protowire.ParseError(n))
}

// spWalk calls fn for each field of the message b, whose first byte is at
// offset base of the payload; what names the message in errors.
func spWalk(b []byte, base int, what string, fn func(f *spField) error) error {
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return spWireError(base+i, n, what)
		}
		f := spField{num: num, typ: typ}
		j := i + n
		var scalar bool
		switch f.u, f.b, n, scalar = consumeScalar(typ, b[j:]); {
		case scalar:
			f.voff = base + j + n - len(f.b)
		case typ == protowire.StartGroupType:
			n = protowire.ConsumeFieldValue(num, typ, b[j:])
		case typ == protowire.EndGroupType:
			return errorf(SparkplugB, base+i, "%s: end of group %d not started", what, num)
		default:
			return errorf(SparkplugB, base+i, "%s: reserved wire type %d", what, typ)
		}
		if n < 0 {
			return spWireError(base+j, n, what)
		}
		if err := fn(&f); err != nil {
			return err
		}
		i = j + n
	}
	return nil
}

// setValue stores f in v if it is a member of the value oneof whose
// fields, numbered from first, have the kinds given.
func setValue(v *spValue, f *spField, kinds []spKind, first protowire.Number) {
	if f.num < first || f.num >= first+protowire.Number(len(kinds)) {
		return
	}
	k := kinds[f.num-first]
	want := protowire.BytesType
	switch k {
	case kInt, kLong, kBool:
		want = protowire.VarintType
	case kFloat:
		want = protowire.Fixed32Type
	case kDouble:
		want = protowire.Fixed64Type
	}
	if f.typ != want {
		return
	}
	*v = spValue{kind: k, u: f.u, b: f.b, off: f.voff}
	switch k {
	case kInt:
		v.u = uint64(uint32(f.u))
	case kBool:
		v.u = 0
		if f.u != 0 {
			v.u = 1
		}
	}
}

// parseMetric reads a Metric message.
func parseMetric(b []byte, base int) (Metric, spValue, error) {
	var m Metric
	var v spValue
	err := spWalk(b, base, "metric", func(f *spField) error {
		varint := f.typ == protowire.VarintType
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			m.Name, m.HasName = string(f.b), true
		case f.num == 2 && varint:
			m.Alias, m.HasAlias = f.u, true
		case f.num == 3 && varint:
			m.Timestamp, m.HasTimestamp = f.u, true
		case f.num == 4 && varint:
			m.Datatype = uint32(f.u)
		case f.num == 5 && varint:
			m.IsHistorical = f.u != 0
		case f.num == 6 && varint:
			m.IsTransient = f.u != 0
		case f.num == 7 && varint:
			m.IsNull = f.u != 0
		default:
			setValue(&v, f, metricKinds, 10)
		}
		return nil
	})
	return m, v, err
}

// parseParameter reads a Template.Parameter message.
func parseParameter(b []byte, base int) (name string, typ uint32, v spValue, err error) {
	err = spWalk(b, base, "template parameter", func(f *spField) error {
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			name = string(f.b)
		case f.num == 2 && f.typ == protowire.VarintType:
			typ = uint32(f.u)
		default:
			setValue(&v, f, scalarKinds, 3)
		}
		return nil
	})
	return name, typ, v, err
}

// metricKey is the key of a metric in JSON: its name, else its alias in
// decimal, else "".
func metricKey(m *Metric) string {
	switch {
	case m.HasName:
		return m.Name
	case m.HasAlias:
		return strconv.FormatUint(m.Alias, 10)
	}
	return ""
}

// spDecoder renders the values of one payload.
type spDecoder struct {
	lim  Limits
	keys int // bytes the top-level metric keys will take in the output
}

// full reports whether the output has grown past Limits.MaxSize.
func (d *spDecoder) full(dst []byte) bool { return len(dst)+d.keys > d.lim.MaxSize }

func (d *spDecoder) sizeError(off int) error {
	return limitf(SparkplugB, off, "output larger than %d bytes", d.lim.MaxSize)
}

func (d *spDecoder) depthError(off int) error {
	return limitf(SparkplugB, off, "nested deeper than %d levels", d.lim.MaxDepth)
}

// DecodeSparkplug decodes a Sparkplug B payload. Errors are *Error with
// Format SparkplugB and the offset in data where decoding stopped. The
// payload object and its metrics object count as two levels of
// Limits.MaxDepth; a value's own arrays and objects are nested below them.
func DecodeSparkplug(data []byte, lim Limits) (*SparkplugPayload, error) {
	d := &spDecoder{lim: lim}
	if lim.MaxDepth < 2 {
		return nil, d.depthError(0)
	}
	p := &SparkplugPayload{}
	var buf []byte
	var ends []int
	err := spWalk(data, 0, "payload", func(f *spField) error {
		varint, isBytes := f.typ == protowire.VarintType, f.typ == protowire.BytesType
		switch {
		case f.num == 1 && varint:
			p.Timestamp, p.HasTimestamp = f.u, true
		case f.num == 2 && isBytes:
			m, v, err := parseMetric(f.b, f.voff)
			if err != nil {
				return err
			}
			d.keys += len(m.Name) + 24 // quotes, colon, comma, an alias
			if buf, err = d.appendMetricValue(buf, m.Datatype, m.IsNull, v, 3); err != nil {
				return err
			}
			if d.full(buf) {
				return d.sizeError(f.voff)
			}
			p.Metrics = append(p.Metrics, m)
			ends = append(ends, len(buf))
		case f.num == 3 && varint:
			p.Seq, p.HasSeq = f.u, true
		case f.num == 4 && isBytes:
			p.UUID, p.HasUUID = string(f.b), true
		case f.num == 5 && isBytes:
			p.Body = append(make([]byte, 0, len(f.b)), f.b...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	start := 0
	for i, end := range ends {
		p.Metrics[i].Value = buf[start:end:end]
		start = end
	}
	return p, nil
}

// appendMetricValue appends the value of a metric or parameter of type
// typ; depth is the level its own array or object would be at.
func (d *spDecoder) appendMetricValue(dst []byte, typ uint32, isNull bool, v spValue, depth int) ([]byte, error) {
	if isNull || v.kind == kNone {
		return append(dst, "null"...), nil
	}
	return d.appendValue(dst, typ, v, depth)
}

// appendValue appends v read as type typ. Integers are sign-extended or
// cut to the type's width; arrays are unpacked from bytes; a value whose
// field does not fit its type, or of an unknown type, is rendered as its
// field says.
func (d *spDecoder) appendValue(dst []byte, typ uint32, v spValue, depth int) ([]byte, error) {
	switch v.kind {
	case kInt, kLong:
		if out, ok := appendInteger(dst, typ, v.u); ok {
			return out, nil
		}
	case kBytes:
		if typ >= spInt8Array && typ <= spDateTimeArray {
			return d.appendArray(dst, typ, v.b, v.off, depth)
		}
	}
	switch v.kind {
	case kInt, kLong:
		return strconv.AppendUint(dst, v.u, 10), nil
	case kFloat:
		return AppendFloat(dst, float64(math.Float32frombits(uint32(v.u))), 32), nil
	case kDouble:
		return AppendFloat(dst, math.Float64frombits(v.u), 64), nil
	case kBool:
		return strconv.AppendBool(dst, v.u != 0), nil
	case kString:
		return AppendString(dst, string(v.b)), nil
	case kBytes:
		return AppendBytes(dst, v.b), nil
	case kDataSet:
		return d.appendDataSet(dst, v.b, v.off, depth)
	case kTemplate:
		return d.appendTemplate(dst, v.b, v.off, depth)
	case kExtension:
		return d.appendExtension(dst, v.b, v.off, depth)
	}
	return append(dst, "null"...), nil
}

// appendInteger appends u as the integer type typ; ok is false for other
// types.
func appendInteger(dst []byte, typ uint32, u uint64) (out []byte, ok bool) {
	switch typ {
	case spInt8:
		return strconv.AppendInt(dst, int64(int8(u)), 10), true
	case spInt16:
		return strconv.AppendInt(dst, int64(int16(u)), 10), true
	case spInt32:
		return strconv.AppendInt(dst, int64(int32(u)), 10), true
	case spInt64:
		return strconv.AppendInt(dst, int64(u), 10), true
	case spUInt8:
		return strconv.AppendUint(dst, uint64(uint8(u)), 10), true
	case spUInt16:
		return strconv.AppendUint(dst, uint64(uint16(u)), 10), true
	case spUInt32:
		return strconv.AppendUint(dst, uint64(uint32(u)), 10), true
	case spUInt64, spDateTime:
		return strconv.AppendUint(dst, u, 10), true
	}
	return dst, false
}
