package payload

// The Sparkplug B values that are more than a number or a string: arrays
// packed in bytes_value, DataSets, Templates and extensions.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// arrayElemSize is the bytes of one element of a fixed-size array type.
func arrayElemSize(typ uint32) int {
	switch typ {
	case spInt8Array, spUInt8Array:
		return 1
	case spInt16Array, spUInt16Array:
		return 2
	case spInt32Array, spUInt32Array, spFloatArray:
		return 4
	}
	return 8
}

// appendArray appends an array type's bytes_value, packed little-endian as
// the specification says, as a JSON array; b is at offset off.
func (d *spDecoder) appendArray(dst []byte, typ uint32, b []byte, off, depth int) ([]byte, error) {
	if depth > d.lim.MaxDepth {
		return dst, d.depthError(off)
	}
	switch typ {
	case spBooleanArray:
		return d.appendBooleanArray(dst, b, off)
	case spStringArray:
		return d.appendStringArray(dst, b, off)
	}
	size := arrayElemSize(typ)
	if r := len(b) % size; r != 0 {
		return dst, errorf(SparkplugB, off+len(b)-r, "%s of %d bytes: not a whole number of %d-byte elements", DataTypeName(typ), len(b), size)
	}
	dst = append(dst, '[')
	for i := 0; i < len(b); i += size {
		if i > 0 {
			dst = append(dst, ',')
		}
		var u uint64
		switch size {
		case 1:
			u = uint64(b[i])
		case 2:
			u = uint64(binary.LittleEndian.Uint16(b[i:]))
		case 4:
			u = uint64(binary.LittleEndian.Uint32(b[i:]))
		default:
			u = binary.LittleEndian.Uint64(b[i:])
		}
		switch typ {
		case spFloatArray:
			dst = AppendFloat(dst, float64(math.Float32frombits(uint32(u))), 32)
		case spDoubleArray:
			dst = AppendFloat(dst, math.Float64frombits(u), 64)
		case spDateTimeArray:
			dst = strconv.AppendUint(dst, u, 10)
		default:
			dst, _ = appendInteger(dst, typ-spInt8Array+spInt8, u)
		}
		if d.full(dst) {
			return dst, d.sizeError(off + i)
		}
	}
	return append(dst, ']'), nil
}

// appendBooleanArray appends a BooleanArray: a little-endian 4-byte count,
// then the booleans packed eight a byte, the first in the high bit.
func (d *spDecoder) appendBooleanArray(dst, b []byte, off int) ([]byte, error) {
	if len(b) < 4 {
		return dst, errorf(SparkplugB, off, "BooleanArray of %d bytes: no 4-byte count", len(b))
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	bits := b[4:]
	if n > 8*uint64(len(bits)) {
		return dst, errorf(SparkplugB, off, "BooleanArray of %d booleans in %d bytes", n, len(bits))
	}
	dst = append(dst, '[')
	for i := 0; i < int(n); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendBool(dst, bits[i/8]>>(7-i%8)&1 != 0)
		if i%1024 == 0 && d.full(dst) {
			return dst, d.sizeError(off + 4 + i/8)
		}
	}
	return append(dst, ']'), nil
}

// appendStringArray appends a StringArray: strings each ended by a NUL.
func (d *spDecoder) appendStringArray(dst, b []byte, off int) ([]byte, error) {
	dst = append(dst, '[')
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], 0)
		if j < 0 {
			return dst, errorf(SparkplugB, off+i, "StringArray: string not ended by NUL")
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, string(b[i:i+j]))
		if d.full(dst) {
			return dst, d.sizeError(off + i)
		}
		i += j + 1
	}
	return append(dst, ']'), nil
}

// appendDataSet appends a DataSet, b at offset base, as
// {"columns":[…],"types":[…],"rows":[[…],…]}: column names, type names
// and rows of values read as their column's type (num_of_columns is not
// checked; values past the last type are rendered as their field says).
func (d *spDecoder) appendDataSet(dst, b []byte, base, depth int) ([]byte, error) {
	if depth+1 > d.lim.MaxDepth {
		return dst, d.depthError(base)
	}
	var types []uint32
	n := 0
	dst = append(dst, `{"columns":[`...)
	err := spWalk(b, base, "dataset", func(f *spField) error {
		switch {
		case f.num == 2 && f.typ == protowire.BytesType:
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = AppendString(dst, string(f.b))
		case f.num == 3 && f.typ == protowire.VarintType:
			types = append(types, uint32(f.u))
		case f.num == 3 && f.typ == protowire.BytesType: // packed
			for i := 0; i < len(f.b); {
				v, k := protowire.ConsumeVarint(f.b[i:])
				if k < 0 {
					return spWireError(f.voff+i, k, "dataset types")
				}
				types = append(types, uint32(v))
				i += k
			}
		}
		if d.full(dst) {
			return d.sizeError(f.voff)
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	dst = append(dst, `],"types":[`...)
	for i, t := range types {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, DataTypeName(t))
	}
	dst = append(dst, `],"rows":[`...)
	n = 0
	err = spWalk(b, base, "dataset", func(f *spField) error {
		if f.num != 4 || f.typ != protowire.BytesType {
			return nil
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		var err error
		dst, err = d.appendRow(dst, f.b, f.voff, types, depth+2)
		return err
	})
	if err != nil {
		return dst, err
	}
	return append(dst, "]}"...), nil
}

// appendRow appends a DataSet.Row, b at offset base, as an array at depth.
func (d *spDecoder) appendRow(dst, b []byte, base int, types []uint32, depth int) ([]byte, error) {
	if depth > d.lim.MaxDepth {
		return dst, d.depthError(base)
	}
	dst = append(dst, '[')
	col := 0
	err := spWalk(b, base, "dataset row", func(f *spField) error {
		if f.num != 1 || f.typ != protowire.BytesType {
			return nil
		}
		var v spValue
		err := spWalk(f.b, f.voff, "dataset value", func(g *spField) error {
			setValue(&v, g, scalarKinds, 1)
			return nil
		})
		if err != nil {
			return err
		}
		typ := spUnknown
		if col < len(types) {
			typ = types[col]
		}
		if col > 0 {
			dst = append(dst, ',')
		}
		col++
		if dst, err = d.appendMetricValue(dst, typ, false, v, depth+1); err != nil {
			return err
		}
		if d.full(dst) {
			return d.sizeError(f.voff)
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	return append(dst, ']'), nil
}

// spMember is a template's metric or parameter, to be rendered.
type spMember struct {
	key    string
	typ    uint32
	isNull bool
	v      spValue
}

// spMembers are the members of a template's metrics or parameters object:
// a key that occurs again keeps its first position and takes the new value.
type spMembers struct {
	list  []spMember
	index map[string]int
}

func (s *spMembers) add(m spMember) {
	if i, ok := s.index[m.key]; ok {
		s.list[i] = m
		return
	}
	if s.index == nil {
		s.index = make(map[string]int)
	}
	s.index[m.key] = len(s.list)
	s.list = append(s.list, m)
}

// appendTemplate appends a Template, b at offset base, as an object with
// its present members of version, template_ref, is_definition, metrics
// (by name, else alias) and parameters (by name).
func (d *spDecoder) appendTemplate(dst, b []byte, base, depth int) ([]byte, error) {
	if depth > d.lim.MaxDepth {
		return dst, d.depthError(base)
	}
	var version, ref []byte
	var hasVersion, hasRef, hasDef, isDef bool
	var metrics, params spMembers
	err := spWalk(b, base, "template", func(f *spField) error {
		isBytes := f.typ == protowire.BytesType
		switch {
		case f.num == 1 && isBytes:
			version, hasVersion = f.b, true
		case f.num == 2 && isBytes:
			m, v, err := parseMetric(f.b, f.voff)
			if err != nil {
				return err
			}
			metrics.add(spMember{key: metricKey(&m), typ: m.Datatype, isNull: m.IsNull, v: v})
		case f.num == 3 && isBytes:
			name, typ, v, err := parseParameter(f.b, f.voff)
			if err != nil {
				return err
			}
			params.add(spMember{key: name, typ: typ, v: v})
		case f.num == 4 && isBytes:
			ref, hasRef = f.b, true
		case f.num == 5 && f.typ == protowire.VarintType:
			isDef, hasDef = f.u != 0, true
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	if hasVersion {
		dst = AppendString(appendKey(dst, "version"), string(version))
	}
	if hasRef {
		dst = AppendString(appendKey(dst, "template_ref"), string(ref))
	}
	if hasDef {
		dst = strconv.AppendBool(appendKey(dst, "is_definition"), isDef)
	}
	if len(metrics.list) > 0 {
		if dst, err = d.appendMembers(appendKey(dst, "metrics"), metrics.list, base, depth+1); err != nil {
			return dst, err
		}
	}
	if len(params.list) > 0 {
		if dst, err = d.appendMembers(appendKey(dst, "parameters"), params.list, base, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendKey appends an object member's key, after a comma unless it is
// the first member of the object dst ends in.
func appendKey(dst []byte, key string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	return append(AppendString(dst, key), ':')
}

// appendMembers appends a template's metrics or parameters as an object
// at depth.
func (d *spDecoder) appendMembers(dst []byte, list []spMember, base, depth int) ([]byte, error) {
	if depth > d.lim.MaxDepth {
		return dst, d.depthError(base)
	}
	dst = append(dst, '{')
	for i := range list {
		m := &list[i]
		var err error
		if dst, err = d.appendMetricValue(appendKey(dst, m.key), m.typ, m.isNull, m.v, depth+1); err != nil {
			return dst, err
		}
		if d.full(dst) {
			return dst, d.sizeError(m.v.off)
		}
	}
	return append(dst, '}'), nil
}

// appendExtension appends an extension_value, b at offset base, as
// protoc --decode_raw would read it.
func (d *spDecoder) appendExtension(dst, b []byte, base, depth int) ([]byte, error) {
	r := rawDecoder{lim: d.lim, limit: d.lim.MaxSize - d.keys}
	out, err := r.appendMessage(dst, b, base, depth)
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Format = SparkplugB
		return dst, &c
	}
	return out, err
}

// AppendJSON appends the payload as compact JSON:
// {"timestamp":T,"seq":S,"uuid":U,"body":HEX,"metrics":{…}}, with only the
// optional members present and metrics always. Metrics are keyed by name,
// else by alias in decimal (else ""); a key that occurs more than once
// takes its last value at its first position.
func (p *SparkplugPayload) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if p.HasTimestamp {
		dst = strconv.AppendUint(appendKey(dst, "timestamp"), p.Timestamp, 10)
	}
	if p.HasSeq {
		dst = strconv.AppendUint(appendKey(dst, "seq"), p.Seq, 10)
	}
	if p.HasUUID {
		dst = AppendString(appendKey(dst, "uuid"), p.UUID)
	}
	if p.Body != nil {
		dst = AppendBytes(appendKey(dst, "body"), p.Body)
	}
	dst = append(appendKey(dst, "metrics"), '{')
	var last map[string]int
	if len(p.Metrics) > 1 {
		last = make(map[string]int, len(p.Metrics))
		for i := range p.Metrics {
			last[metricKey(&p.Metrics[i])] = i
		}
	}
	for i := range p.Metrics {
		k, j := metricKey(&p.Metrics[i]), i
		if last != nil {
			if j = last[k]; j < 0 {
				continue
			}
			last[k] = -1
		}
		dst = appendKey(dst, k)
		if v := p.Metrics[j].Value; len(v) > 0 {
			dst = append(dst, v...)
		} else {
			dst = append(dst, "null"...)
		}
	}
	return append(dst, "}}"...)
}
