package payload

import (
	"bytes"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// AppendMsgPack appends the JSON text of one MessagePack object. Maps keep
// their order; see the package doc for binary data, non-finite floats and
// keys that are not strings. The timestamp extension (-1) becomes an RFC
// 3339 string, other extensions {"type":T,"data":"<hex>"}. Bytes after the
// object are an error.
func AppendMsgPack(dst, data []byte, lim Limits) ([]byte, error) {
	r := bytes.NewReader(data)
	w := msgpackWalker{dec: msgpack.NewDecoder(r), r: r, n: len(data), lim: lim, base: len(dst)}
	out, err := w.object(dst, 0)
	if err != nil {
		return dst, err
	}
	if r.Len() != 0 {
		return dst, errorf(MsgPack, w.off(), "%d bytes after the object", r.Len())
	}
	return out, nil
}

// msgpackWalker renders MessagePack with vmihailenco/msgpack's decoder,
// reading map and array lengths itself so that map order is kept.
type msgpackWalker struct {
	dec  *msgpack.Decoder
	r    *bytes.Reader
	n    int
	base int
	lim  Limits
}

// off is the offset of the next byte to decode.
func (w *msgpackWalker) off() int { return w.n - w.r.Len() }

func (w *msgpackWalker) fail(off int, err error) error {
	msg := strings.TrimPrefix(err.Error(), "msgpack: ")
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return errorf(MsgPack, off, "%s", msg)
}

// object appends the object at the decoder's position.
func (w *msgpackWalker) object(b []byte, depth int) ([]byte, error) {
	if depth > w.lim.MaxDepth {
		return b, limitf(MsgPack, w.off(), "nested deeper than %d levels", w.lim.MaxDepth)
	}
	if len(b)-w.base > w.lim.MaxSize {
		return b, limitf(MsgPack, w.off(), "JSON larger than %d bytes", w.lim.MaxSize)
	}
	start := w.off()
	c, err := w.dec.PeekCode()
	if err != nil {
		return b, w.fail(start, err)
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := w.dec.DecodeMapLen()
		if err != nil {
			return b, w.fail(start, err)
		}
		return w.mapItems(b, depth, n)
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := w.dec.DecodeArrayLen()
		if err != nil {
			return b, w.fail(start, err)
		}
		return w.arrayItems(b, depth, n)
	}
	return w.scalar(b, start, c)
}

func (w *msgpackWalker) arrayItems(b []byte, depth, n int) ([]byte, error) {
	if n < 0 {
		return append(b, "null"...), nil
	}
	if n > w.r.Len() { // every element takes at least one byte
		return b, errorf(MsgPack, w.off(), "array of %d elements in %d bytes", n, w.r.Len())
	}
	b = append(b, '[')
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = w.object(b, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func (w *msgpackWalker) mapItems(b []byte, depth, n int) ([]byte, error) {
	if n < 0 {
		return append(b, "null"...), nil
	}
	if n > w.r.Len()/2 { // every pair takes at least two bytes
		return b, errorf(MsgPack, w.off(), "map of %d pairs in %d bytes", n, w.r.Len())
	}
	b = append(b, '{')
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		key := len(b)
		if b, err = w.object(b, depth+1); err != nil {
			return b, err
		}
		if b[key] != '"' {
			text := string(b[key:])
			b = AppendString(b[:key], text)
		}
		b = append(b, ':')
		if b, err = w.object(b, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// scalar appends a value that is neither a map nor an array.
func (w *msgpackWalker) scalar(b []byte, start int, c byte) ([]byte, error) {
	if msgpcode.IsExt(c) {
		return w.ext(b, start)
	}
	v, err := w.dec.DecodeInterface()
	if err != nil {
		return b, w.fail(start, err)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case int8:
		return appendInt(b, int64(x)), nil
	case int16:
		return appendInt(b, int64(x)), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case uint8:
		return appendUint(b, uint64(x)), nil
	case uint16:
		return appendUint(b, uint64(x)), nil
	case uint32:
		return appendUint(b, uint64(x)), nil
	case uint64:
		return appendUint(b, x), nil
	case float32:
		return AppendFloat(b, float64(x), 32), nil
	case float64:
		return AppendFloat(b, x, 64), nil
	case string:
		return AppendString(b, x), nil
	case []byte:
		return AppendBytes(b, x), nil
	}
	return b, errorf(MsgPack, start, "unexpected %T", v)
}

// ext appends an extension: the timestamp as a date, others as their type
// and data.
func (w *msgpackWalker) ext(b []byte, start int) ([]byte, error) {
	typ, n, err := w.dec.DecodeExtHeader()
	if err != nil {
		return b, w.fail(start, err)
	}
	if n < 0 || n > w.r.Len() {
		return b, errorf(MsgPack, w.off(), "extension of %d bytes in %d", n, w.r.Len())
	}
	data := make([]byte, n)
	if _, err := w.r.Read(data); err != nil && n > 0 {
		return b, w.fail(w.off(), err)
	}
	if typ == -1 {
		if t, ok := msgpackTime(data); ok {
			return AppendString(b, t.UTC().Format(time.RFC3339Nano)), nil
		}
		return b, errorf(MsgPack, start, "timestamp extension of %d bytes", n)
	}
	b = append(b, `{"type":`...)
	b = appendInt(b, int64(typ))
	b = append(b, `,"data":`...)
	b = AppendBytes(b, data)
	return append(b, '}'), nil
}

// msgpackTime decodes the timestamp extension's 4, 8 or 12 bytes.
func msgpackTime(d []byte) (time.Time, bool) {
	be := func(p []byte) uint64 {
		var v uint64
		for _, c := range p {
			v = v<<8 | uint64(c)
		}
		return v
	}
	switch len(d) {
	case 4:
		return time.Unix(int64(be(d)), 0), true
	case 8:
		v := be(d)
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)), true
	case 12:
		return time.Unix(int64(be(d[4:])), int64(be(d[:4]))), true
	}
	return time.Time{}, false
}
