package payload

import (
	"encoding/binary"
	"math/big"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// cborDecMode decodes CBOR scalars: integers to int64 or uint64 (bignums to
// *big.Int), tags kept as cbor.Tag, with the nesting bound of DefaultLimits
// (walkCBOR enforces the caller's own).
var cborDecMode, _ = cbor.DecOptions{
	MaxNestedLevels: 256,
	IntDec:          cbor.IntDecConvertNone,
	BigIntDec:       cbor.BigIntDecodePointer,
	DupMapKey:       cbor.DupMapKeyQuiet,
	UTF8:            cbor.UTF8RejectInvalid,
}.DecMode()

// AppendCBOR appends the JSON text of one CBOR data item (RFC 8949). Maps
// keep their order; see the package doc for byte strings, non-finite
// floats and keys that are not strings. Tags are transparent except
// epoch and date-time tags (0, 1), which become RFC 3339 strings. Bytes
// after the item are an error.
func AppendCBOR(dst, data []byte, lim Limits) ([]byte, error) {
	if err := cbor.Wellformed(data); err != nil {
		return dst, errorf(CBOR, cborOffset(data), "%s", trimCBOR(err))
	}
	w := cborWalker{data: data, lim: lim, base: len(dst)}
	out, err := w.item(dst, 0)
	if err != nil {
		return dst, err
	}
	if w.pos != len(data) {
		return dst, errorf(CBOR, w.pos, "%d bytes after the data item", len(data)-w.pos)
	}
	if len(out)-len(dst) > lim.MaxSize {
		return dst, limitf(CBOR, w.pos, "JSON larger than %d bytes", lim.MaxSize)
	}
	return out, nil
}

// cborOffset finds where well-formedness fails: the longest prefix of
// items that decode, scanning item by item.
func cborOffset(data []byte) int {
	rest := data
	for len(rest) > 0 {
		var raw cbor.RawMessage
		r, err := cbor.UnmarshalFirst(rest, &raw)
		if err != nil {
			break
		}
		rest = r
	}
	return len(data) - len(rest)
}

func trimCBOR(err error) string {
	s := strings.TrimPrefix(err.Error(), "cbor: ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// cborWalker renders a well-formed CBOR item, reading the heads of arrays,
// maps and tags itself so that map order is kept, and handing every other
// item to fxamacker/cbor.
type cborWalker struct {
	data []byte
	pos  int
	base int // len(dst) at the start: the output so far is b[base:]
	lim  Limits
}

// head reads the initial byte and argument at pos: major type, additional
// info, argument, and whether the length is indefinite.
func (w *cborWalker) head() (major, info byte, arg uint64, indefinite bool) {
	b := w.data[w.pos]
	major, info = b>>5, b&31
	w.pos++
	switch {
	case info < 24:
		arg = uint64(info)
	case info == 24:
		arg = uint64(w.data[w.pos])
		w.pos++
	case info == 25:
		arg = uint64(binary.BigEndian.Uint16(w.data[w.pos:]))
		w.pos += 2
	case info == 26:
		arg = uint64(binary.BigEndian.Uint32(w.data[w.pos:]))
		w.pos += 4
	case info == 27:
		arg = binary.BigEndian.Uint64(w.data[w.pos:])
		w.pos += 8
	case info == 31:
		indefinite = true
	}
	return major, info, arg, indefinite
}

// isBreak reports whether the next byte ends an indefinite-length item,
// and consumes it when it does.
func (w *cborWalker) isBreak() bool {
	if w.data[w.pos] == 0xff {
		w.pos++
		return true
	}
	return false
}

// item appends the item at pos.
func (w *cborWalker) item(b []byte, depth int) ([]byte, error) {
	if depth > w.lim.MaxDepth {
		return b, limitf(CBOR, w.pos, "nested deeper than %d levels", w.lim.MaxDepth)
	}
	if len(b)-w.base > w.lim.MaxSize {
		return b, limitf(CBOR, w.pos, "JSON larger than %d bytes", w.lim.MaxSize)
	}
	start := w.pos
	major := w.data[w.pos] >> 5
	switch major {
	case 4, 5, 6:
		_, _, arg, indef := w.head()
		switch major {
		case 4:
			return w.array(b, depth, arg, indef)
		case 5:
			return w.object(b, depth, arg, indef)
		}
		if arg <= 3 { // date-time string, epoch time, bignums
			return w.scalar(b, start)
		}
		return w.item(b, depth+1)
	}
	return w.scalar(b, start)
}

func (w *cborWalker) array(b []byte, depth int, n uint64, indef bool) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i := uint64(0); indef || i < n; i++ {
		if indef && w.isBreak() {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = w.item(b, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func (w *cborWalker) object(b []byte, depth int, n uint64, indef bool) ([]byte, error) {
	b = append(b, '{')
	for i := uint64(0); indef || i < n; i++ {
		if indef && w.isBreak() {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		key := len(b)
		var err error
		if b, err = w.item(b, depth+1); err != nil {
			return b, err
		}
		if b[key] != '"' { // a key that is not a string: its JSON text, quoted
			text := string(b[key:])
			b = AppendString(b[:key], text)
		}
		b = append(b, ':')
		if b, err = w.item(b, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// scalar decodes the item at start with fxamacker/cbor and appends it.
func (w *cborWalker) scalar(b []byte, start int) ([]byte, error) {
	var v any
	rest, err := cborDecMode.UnmarshalFirst(w.data[start:], &v)
	if err != nil {
		return b, errorf(CBOR, start, "%s", trimCBOR(err))
	}
	w.pos = len(w.data) - len(rest)
	return appendCBORScalar(b, v), nil
}

// appendCBORScalar appends a decoded scalar.
func appendCBORScalar(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case uint64:
		return appendUint(b, x)
	case int64:
		return appendInt(b, x)
	case float64:
		return AppendFloat(b, x, 64)
	case float32:
		return AppendFloat(b, float64(x), 32)
	case string:
		return AppendString(b, x)
	case []byte:
		return AppendBytes(b, x)
	case *big.Int:
		return x.Append(b, 10)
	case big.Int:
		return x.Append(b, 10)
	case time.Time:
		return AppendString(b, x.UTC().Format(time.RFC3339Nano))
	case cbor.SimpleValue:
		return appendUint(b, uint64(x))
	case cbor.Tag:
		return appendCBORScalar(b, x.Content)
	case cbor.ByteString:
		return AppendBytes(b, []byte(x))
	}
	return append(b, "null"...)
}

func appendUint(b []byte, u uint64) []byte { return appendDecimal(b, u, false) }

func appendInt(b []byte, i int64) []byte {
	if i < 0 {
		return appendDecimal(b, uint64(-(i+1))+1, true)
	}
	return appendDecimal(b, uint64(i), false)
}

// appendDecimal appends u in decimal, negated when neg.
func appendDecimal(b []byte, u uint64, neg bool) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		b = append(b, '-')
	}
	return append(b, tmp[i:]...)
}
