package payload

import (
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// AppendMsgPack appends the JSON text of one MessagePack object. Maps keep
// their order; see the package doc for binary data, non-finite floats and
// keys that are not strings; invalid UTF-8 in a string becomes U+FFFD. The
// timestamp extension (-1) becomes an RFC 3339 string, other extensions
// {"type":T,"data":"<hex>"}. Bytes after the object are an error. An
// error's Offset is where the malformed object starts, len(data) when the
// data ends early; a length past the end of the data is found before
// anything is allocated for it.
func AppendMsgPack(dst, data []byte, lim Limits) ([]byte, error) {
	w := msgpackWalker{data: data, lim: lim, base: len(dst)}
	out, err := w.object(dst, 0)
	if err != nil {
		return dst, err
	}
	if w.pos != len(data) {
		return dst, errorf(MsgPack, w.pos, "%d bytes after the object", len(data)-w.pos)
	}
	if len(out)-len(dst) > lim.MaxSize {
		return dst, limitf(MsgPack, w.pos, "JSON larger than %d bytes", lim.MaxSize)
	}
	return out, nil
}

// msgpackWalker renders MessagePack (the 2017 specification): it reads the
// heads of objects in place, so that map order is kept and every declared
// length is checked against the data before anything is allocated, and
// hands numbers and timestamps to vmihailenco/msgpack.
type msgpackWalker struct {
	data []byte
	pos  int
	base int // len(dst) at the start: the output so far is b[base:]
	lim  Limits
}

// eof is the error of data that ends before the object does.
func (w *msgpackWalker) eof() *Error {
	return errorf(MsgPack, len(w.data), "unexpected end of data")
}

// uint reads an n-byte big-endian unsigned integer.
func (w *msgpackWalker) uint(n int) (uint64, *Error) {
	if len(w.data)-w.pos < n {
		return 0, w.eof()
	}
	v := be(w.data[w.pos : w.pos+n])
	w.pos += n
	return v, nil
}

// bytes reads n bytes; a length of more than is left is the end of the
// data.
func (w *msgpackWalker) bytes(n uint64) ([]byte, *Error) {
	if n > uint64(len(w.data)-w.pos) {
		return nil, w.eof()
	}
	p := w.data[w.pos : w.pos+int(n)]
	w.pos += int(n)
	return p, nil
}

// object appends the object at pos, depth arrays and maps deep.
func (w *msgpackWalker) object(b []byte, depth int) ([]byte, *Error) {
	if len(b)-w.base > w.lim.MaxSize {
		return b, limitf(MsgPack, w.pos, "JSON larger than %d bytes", w.lim.MaxSize)
	}
	if w.pos >= len(w.data) {
		return b, w.eof()
	}
	start := w.pos
	c := w.data[w.pos]
	w.pos++
	switch {
	case c <= 0x7f: // positive fixint
		return appendUint(b, uint64(c)), nil
	case c >= 0xe0: // negative fixint
		return appendInt(b, int64(int8(c))), nil
	case c <= 0x8f:
		return w.container(b, depth, start, 0xde, uint64(c&0x0f))
	case c <= 0x9f:
		return w.container(b, depth, start, 0xdc, uint64(c&0x0f))
	case c <= 0xbf:
		return w.str(b, uint64(c&0x1f))
	}
	switch c {
	case 0xc0:
		return append(b, "null"...), nil
	case 0xc2:
		return append(b, "false"...), nil
	case 0xc3:
		return append(b, "true"...), nil
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		n, err := w.uint(1 << (c - 0xc4))
		if err != nil {
			return b, err
		}
		p, err := w.bytes(n)
		if err != nil {
			return b, err
		}
		return AppendBytes(b, p), nil
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		n, err := w.uint(1 << (c - 0xc7))
		if err != nil {
			return b, err
		}
		return w.ext(b, start, n)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		return w.ext(b, start, 1<<(c-0xd4))
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		n, err := w.uint(1 << (c - 0xd9))
		if err != nil {
			return b, err
		}
		return w.str(b, n)
	case 0xdc, 0xdd, 0xde, 0xdf: // array 16, 32, map 16, 32
		n, err := w.uint(2 << (c & 1))
		if err != nil {
			return b, err
		}
		return w.container(b, depth, start, c&^1, n)
	}
	return w.number(b, start, c)
}

// number appends a float (0xca, 0xcb) or an integer (0xcc to 0xd3).
func (w *msgpackWalker) number(b []byte, start int, c byte) ([]byte, *Error) {
	var size int
	switch {
	case c == 0xca:
		size = 4
	case c == 0xcb:
		size = 8
	case c >= 0xcc && c <= 0xd3:
		size = 1 << (c & 3)
	default: // 0xc1
		return b, errorf(MsgPack, start, "type code 0x%02x, never used", c)
	}
	if _, err := w.uint(size); err != nil {
		return b, err
	}
	v, err := w.library(start)
	if err != nil {
		return b, err
	}
	switch x := v.(type) {
	case float32:
		return AppendFloat(b, float64(x), 32), nil
	case float64:
		return AppendFloat(b, x, 64), nil
	case uint8:
		return appendUint(b, uint64(x)), nil
	case uint16:
		return appendUint(b, uint64(x)), nil
	case uint32:
		return appendUint(b, uint64(x)), nil
	case uint64:
		return appendUint(b, x), nil
	case int8:
		return appendInt(b, int64(x)), nil
	case int16:
		return appendInt(b, int64(x)), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	}
	return b, errorf(MsgPack, start, "unexpected %T", v)
}

// library decodes the object the walker read from start to pos with
// vmihailenco/msgpack: the walker has checked its length against the
// data, so the library allocates nothing it was not given.
func (w *msgpackWalker) library(start int) (any, *Error) {
	var v any
	if err := msgpack.Unmarshal(w.data[start:w.pos], &v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "msgpack: ")
		return nil, errorf(MsgPack, start, "%s", msg)
	}
	return v, nil
}

// str appends a string of n bytes.
func (w *msgpackWalker) str(b []byte, n uint64) ([]byte, *Error) {
	p, err := w.bytes(n)
	if err != nil {
		return b, err
	}
	return appendStringBytes(b, p), nil
}

// container appends an array (code 0xdc) or a map (0xde) of n elements or
// pairs, which must fit in what is left of the data: an element takes a
// byte at least, a pair two.
func (w *msgpackWalker) container(b []byte, depth, start int, code byte, n uint64) ([]byte, *Error) {
	if depth >= w.lim.MaxDepth {
		return b, limitf(MsgPack, start, "nested deeper than %d levels", w.lim.MaxDepth)
	}
	left := uint64(len(w.data) - w.pos)
	if code == 0xdc && n > left || code == 0xde && n > left/2 {
		return b, w.eof()
	}
	if code == 0xdc {
		b = append(b, '[')
	} else {
		b = append(b, '{')
	}
	var err *Error
	for i := uint64(0); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		if code == 0xde {
			if b, err = w.key(b, depth+1); err != nil {
				return b, err
			}
		}
		if b, err = w.object(b, depth+1); err != nil {
			return b, err
		}
	}
	if code == 0xdc {
		return append(b, ']'), nil
	}
	return append(b, '}'), nil
}

// key appends a map key and its colon: a key that is not a string as its
// JSON text, quoted.
func (w *msgpackWalker) key(b []byte, depth int) ([]byte, *Error) {
	key := len(b)
	b, err := w.object(b, depth)
	if err != nil {
		return b, err
	}
	return asKey(b, key), nil
}

// ext appends an extension of n bytes after its type: the timestamp as a
// date, others as their type and data.
func (w *msgpackWalker) ext(b []byte, start int, n uint64) ([]byte, *Error) {
	t, err := w.uint(1)
	if err != nil {
		return b, err
	}
	data, err := w.bytes(n)
	if err != nil {
		return b, err
	}
	typ := int8(t)
	if typ == -1 {
		if len(data) != 4 && len(data) != 8 && len(data) != 12 {
			return b, errorf(MsgPack, start, "timestamp extension of %d bytes", n)
		}
		v, err := w.library(start)
		if err != nil {
			return b, err
		}
		if t, ok := v.(time.Time); ok {
			return AppendString(b, t.UTC().Format(time.RFC3339Nano)), nil
		}
		return b, errorf(MsgPack, start, "timestamp extension decoded as %T", v)
	}
	b = append(b, `{"type":`...)
	b = appendInt(b, int64(typ))
	b = append(b, `,"data":`...)
	b = AppendBytes(b, data)
	return append(b, '}'), nil
}
