package payload

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Schema is a protobuf message type compiled from the user's .proto. It is
// not changed after CompileProto: decoders may share it.
type Schema struct {
	md protoreflect.MessageDescriptor
}

// Name is the message's full name, such as factory.Reading.
func (s *Schema) Name() string { return string(s.md.FullName()) }

// CompileProto compiles the .proto file at path, importing from its
// directory and the well-known types protoc ships, and returns its message
// named message: a full name such as "factory.Reading" (a name without a
// dot is also looked up in the file's package). Compile errors name the
// file and line:column as protocompile reports them.
func CompileProto(path, message string) (*Schema, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{filepath.Dir(path)},
		}),
	}
	files, err := c.Compile(context.Background(), filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", path, err)
	}
	f := files[0]
	name := protoreflect.FullName(strings.TrimPrefix(message, "."))
	d := f.FindDescriptorByName(name)
	if d == nil && !strings.Contains(string(name), ".") && f.Package() != "" && name.IsValid() {
		d = f.FindDescriptorByName(f.Package().Append(protoreflect.Name(name)))
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok || md.IsMapEntry() {
		return nil, fmt.Errorf("message %s not found in %s", message, path)
	}
	return &Schema{md: md}, nil
}

// AppendProtobuf appends a protobuf message as compact JSON.
//
// With a schema, fields are written in declaration order, only those set
// (proto3 fields without presence are left out at their default values, as
// protojson does), keyed by their names in the .proto: enums by value name
// (the number when unknown), 64-bit integers as numbers, floats with
// AppendFloat, bytes as hex, maps as objects with sorted keys, repeated
// fields as arrays. Unknown fields are dropped; missing required fields are
// allowed. A message that does not parse is an *Error whose offset is found
// on a best-effort basis (0 if unknown).
//
// Without a schema (s == nil) it reads the wire format alone, as
// protoc --decode_raw does: an object keyed by field number, a number seen
// more than once an array of its values at its first position; varints and
// fixed-size values as unsigned numbers; a length-delimited value as a
// message when it parses as one (within Limits.MaxDepth), else as a string
// when it is UTF-8, else as hex; groups as objects. Each input byte renders
// to at most about 8 output bytes.
//
// On error dst is returned unchanged.
func AppendProtobuf(dst, data []byte, s *Schema, lim Limits) ([]byte, error) {
	if s == nil {
		r := rawDecoder{lim: lim, limit: len(dst) + lim.MaxSize}
		out, err := r.appendMessage(dst, data, 0, 1)
		if err != nil {
			return dst, err
		}
		return out, nil
	}
	msg := dynamicpb.NewMessage(s.md)
	opts := proto.UnmarshalOptions{AllowPartial: true, DiscardUnknown: true, RecursionLimit: max(lim.MaxDepth, 1)}
	if err := opts.Unmarshal(data, msg); err != nil {
		off, limit, ok := wireOffset(data, 0, s.md, 1, lim.MaxDepth)
		if !ok {
			off, limit = 0, strings.Contains(err.Error(), "recursion")
		}
		e := errorf(Protobuf, off, "%s: %v", s.Name(), err)
		e.Limit = limit
		return dst, e
	}
	w := pbWriter{lim: lim, limit: len(dst) + lim.MaxSize}
	out, err := w.appendMessage(dst, msg, 1)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// wireOffset looks for where the message b, at offset base, stops being
// wire data that md can read, descending into its message fields: the
// offset, whether nesting deeper than maxDepth was why, and ok true if it
// found the place.
func wireOffset(b []byte, base int, md protoreflect.MessageDescriptor, depth, maxDepth int) (off int, limit, ok bool) {
	if depth > maxDepth {
		return base, true, true
	}
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return base + i, false, true
		}
		j := i + n
		fd := md.Fields().ByNumber(num)
		if typ == protowire.BytesType && fd != nil && fd.Kind() == protoreflect.MessageKind {
			v, k := protowire.ConsumeBytes(b[j:])
			if k < 0 {
				return base + j, false, true
			}
			if off, limit, ok := wireOffset(v, base+j+k-len(v), fd.Message(), depth+1, maxDepth); ok {
				return off, limit, true
			}
			i = j + k
			continue
		}
		k := protowire.ConsumeFieldValue(num, typ, b[j:])
		if k < 0 {
			return base + j, false, true
		}
		i = j + k
	}
	return 0, false, false
}

// pbWriter writes a dynamicpb message as JSON.
type pbWriter struct {
	lim   Limits
	limit int // the largest len(dst) allowed
}

func (w *pbWriter) depthError() error {
	return limitf(Protobuf, 0, "nested deeper than %d levels", w.lim.MaxDepth)
}

func (w *pbWriter) sizeError() error {
	return limitf(Protobuf, 0, "output larger than %d bytes", w.lim.MaxSize)
}

// appendMessage appends m as an object at depth.
func (w *pbWriter) appendMessage(dst []byte, m protoreflect.Message, depth int) ([]byte, error) {
	if depth > w.lim.MaxDepth {
		return dst, w.depthError()
	}
	dst = append(dst, '{')
	fields := m.Descriptor().Fields()
	n := 0
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(AppendString(dst, string(fd.Name())), ':')
		var err error
		switch {
		case fd.IsMap():
			dst, err = w.appendMap(dst, m.Get(fd).Map(), fd, depth+1)
		case fd.IsList():
			dst, err = w.appendList(dst, m.Get(fd).List(), fd, depth+1)
		default:
			dst, err = w.appendValue(dst, m.Get(fd), fd, depth+1)
		}
		if err != nil {
			return dst, err
		}
		if len(dst) > w.limit {
			return dst, w.sizeError()
		}
	}
	return append(dst, '}'), nil
}

// appendList appends a repeated field as an array at depth.
func (w *pbWriter) appendList(dst []byte, l protoreflect.List, fd protoreflect.FieldDescriptor, depth int) ([]byte, error) {
	if depth > w.lim.MaxDepth {
		return dst, w.depthError()
	}
	dst = append(dst, '[')
	for i := 0; i < l.Len(); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = w.appendValue(dst, l.Get(i), fd, depth+1); err != nil {
			return dst, err
		}
		if len(dst) > w.limit {
			return dst, w.sizeError()
		}
	}
	return append(dst, ']'), nil
}

// appendMap appends a map field as an object at depth, its keys as text
// in their order (numeric for integers, false before true).
func (w *pbWriter) appendMap(dst []byte, mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) ([]byte, error) {
	if depth > w.lim.MaxDepth {
		return dst, w.depthError()
	}
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	kind := fd.MapKey().Kind()
	sort.Slice(keys, func(i, j int) bool { return mapKeyLess(kind, keys[i], keys[j]) })
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(AppendString(dst, k.String()), ':')
		var err error
		if dst, err = w.appendValue(dst, mp.Get(k), fd.MapValue(), depth+1); err != nil {
			return dst, err
		}
		if len(dst) > w.limit {
			return dst, w.sizeError()
		}
	}
	return append(dst, '}'), nil
}

// mapKeyLess orders map keys of a kind.
func mapKeyLess(kind protoreflect.Kind, a, b protoreflect.MapKey) bool {
	switch kind {
	case protoreflect.BoolKind:
		return !a.Bool() && b.Bool()
	case protoreflect.StringKind:
		return a.String() < b.String()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return a.Uint() < b.Uint()
	}
	return a.Int() < b.Int()
}

// appendValue appends one value of field fd (an element of a list, the
// value of a map, or a singular field); a message is an object at depth.
func (w *pbWriter) appendValue(dst []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, v.Bool()), nil
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return append(dst, "null"...), nil
		}
		if ev := ed.Values().ByNumber(v.Enum()); ev != nil {
			return AppendString(dst, string(ev.Name())), nil
		}
		return strconv.AppendInt(dst, int64(v.Enum()), 10), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(dst, v.Uint(), 10), nil
	case protoreflect.FloatKind:
		return AppendFloat(dst, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return AppendFloat(dst, v.Float(), 64), nil
	case protoreflect.StringKind:
		return AppendString(dst, v.String()), nil
	case protoreflect.BytesKind:
		return AppendBytes(dst, v.Bytes()), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.appendMessage(dst, v.Message(), depth)
	}
	return append(dst, "null"...), nil
}

// rawField is one field of a message read without a schema.
type rawField struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // varint, fixed32 or fixed64
	b   []byte // length-delimited or group content
	off int    // offset of b
	tag int    // offset of the field's tag
}

// rawDecoder reads messages without a schema, as protoc --decode_raw.
type rawDecoder struct {
	lim     Limits
	limit   int  // the largest len(dst) allowed
	tooBig  bool // the output reached limit
	scratch []rawField
}

// consumeScalar reads the value of a varint, fixed32, fixed64 or
// length-delimited field from b: u for the numbers, bs for the bytes, n the
// bytes read (negative on an error, as protowire's). scalar is false for
// the other wire types, which the caller reads.
func consumeScalar(typ protowire.Type, b []byte) (u uint64, bs []byte, n int, scalar bool) {
	switch typ {
	case protowire.VarintType:
		u, n = protowire.ConsumeVarint(b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(b)
		u = uint64(v)
	case protowire.Fixed64Type:
		u, n = protowire.ConsumeFixed64(b)
	case protowire.BytesType:
		bs, n = protowire.ConsumeBytes(b)
	default:
		return 0, nil, 0, false
	}
	return u, bs, n, true
}

func rawWireError(off, n int) *Error {
	return errorf(Protobuf, off, "%v", protowire.ParseError(n))
}

// scan reads the fields of the message b, at offset base, whose object
// is at depth: up to its end, or, when group is not 0, up to the end-group
// tag of field group. It returns the bytes read, and when collect is set
// the fields appended to fields.
func (r *rawDecoder) scan(fields []rawField, b []byte, base int, group protowire.Number, depth int, collect bool) ([]rawField, int, error) {
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return fields, 0, rawWireError(base+i, n)
		}
		f := rawField{num: num, typ: typ, tag: base + i}
		j := i + n
		var scalar bool
		switch f.u, f.b, n, scalar = consumeScalar(typ, b[j:]); {
		case scalar:
			f.off = base + j + n - len(f.b)
		case typ == protowire.StartGroupType:
			if depth+1 > r.lim.MaxDepth {
				return fields, 0, limitf(Protobuf, base+i, "nested deeper than %d levels", r.lim.MaxDepth)
			}
			var err error
			if _, n, err = r.scan(nil, b[j:], base+j, num, depth+1, false); err != nil {
				return fields, 0, err
			}
			f.b, f.off = b[j:j+n-protowire.SizeTag(num)], base+j
		case typ == protowire.EndGroupType:
			if num == group {
				return fields, j, nil
			}
			return fields, 0, errorf(Protobuf, base+i, "end of group %d not started", num)
		default:
			return fields, 0, errorf(Protobuf, base+i, "reserved wire type %d", typ)
		}
		if n < 0 {
			return fields, 0, rawWireError(base+j, n)
		}
		if collect {
			fields = append(fields, f)
		}
		i = j + n
	}
	if group != 0 {
		return fields, 0, errorf(Protobuf, base+len(b), "group %d not ended", group)
	}
	return fields, len(b), nil
}

// appendMessage appends the message b, at offset base, as an object at
// depth.
func (r *rawDecoder) appendMessage(dst, b []byte, base, depth int) ([]byte, error) {
	if depth > r.lim.MaxDepth {
		return dst, limitf(Protobuf, base, "nested deeper than %d levels", r.lim.MaxDepth)
	}
	mark := len(r.scratch)
	fields, _, err := r.scan(r.scratch, b, base, 0, depth, true)
	r.scratch = fields
	defer func() { r.scratch = r.scratch[:mark] }()
	if err != nil {
		return dst, err
	}
	fields = fields[mark:]
	if len(fields) > 1 {
		first := make(map[protowire.Number]int, len(fields))
		for i := range fields {
			if _, ok := first[fields[i].num]; !ok {
				first[fields[i].num] = i
			}
		}
		sort.SliceStable(fields, func(i, j int) bool { return first[fields[i].num] < first[fields[j].num] })
	}
	dst = append(dst, '{')
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].num == fields[i].num {
			j++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(strconv.AppendUint(append(dst, '"'), uint64(fields[i].num), 10), '"', ':')
		if dst, err = r.appendValues(dst, fields[i:j], depth+1); err != nil {
			return dst, err
		}
		if len(dst) > r.limit {
			r.tooBig = true
			return dst, limitf(Protobuf, fields[i].tag, "output larger than %d bytes", r.lim.MaxSize)
		}
		i = j
	}
	return append(dst, '}'), nil
}

// appendValues appends the values of one field number: the value alone,
// or an array of them at depth when there are more than one.
func (r *rawDecoder) appendValues(dst []byte, fields []rawField, depth int) ([]byte, error) {
	if len(fields) == 1 {
		return r.appendValue(dst, &fields[0], depth)
	}
	if depth > r.lim.MaxDepth {
		return dst, limitf(Protobuf, fields[0].tag, "nested deeper than %d levels", r.lim.MaxDepth)
	}
	dst = append(dst, '[')
	for i := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = r.appendValue(dst, &fields[i], depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendValue appends one field's value; a message is an object at depth.
func (r *rawDecoder) appendValue(dst []byte, f *rawField, depth int) ([]byte, error) {
	switch f.typ {
	case protowire.StartGroupType:
		return r.appendMessage(dst, f.b, f.off, depth)
	case protowire.BytesType:
		if len(f.b) > 0 && depth <= r.lim.MaxDepth {
			out, err := r.appendMessage(dst, f.b, f.off, depth)
			if err == nil || r.tooBig {
				return out, err
			}
		}
		if utf8.Valid(f.b) {
			return AppendString(dst, string(f.b)), nil
		}
		return AppendBytes(dst, f.b), nil
	}
	return strconv.AppendUint(dst, f.u, 10), nil
}
