package payload

import (
	"errors"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// cborDecMode decodes the CBOR items the walker does not render itself,
// dates and bignums (tags 0 to 3) and strings of indefinite length:
// bignums to *big.Int, dates to time.Time, text checked for UTF-8. The
// nesting bound is far past what those items hold.
var cborDecMode, _ = cbor.DecOptions{
	MaxNestedLevels: 256,
	IntDec:          cbor.IntDecConvertNone,
	BigIntDec:       cbor.BigIntDecodePointer,
	DupMapKey:       cbor.DupMapKeyQuiet,
	UTF8:            cbor.UTF8RejectInvalid,
}.DecMode()

// AppendCBOR appends the JSON text of one CBOR data item (RFC 8949). Maps
// keep their order; see the package doc for byte strings, non-finite
// floats and keys that are not strings. Floats are written in the
// shortest form that reads back as the same half, single or double
// precision float. Tags are transparent except epoch and date-time tags
// (0, 1), which become RFC 3339 strings, and bignums (2, 3), numbers (an
// error with Limit set past 2048 bits).
// Bytes after the item are an error. An error's Offset is where the
// malformed item starts, len(data) when the data ends early.
func AppendCBOR(dst, data []byte, lim Limits) ([]byte, error) {
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

func trimCBOR(err error) string {
	s := strings.TrimPrefix(err.Error(), "cbor: ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// cborWalker renders a CBOR item, checking that it is well formed as it
// goes. It reads every head itself, and hands fxamacker/cbor only dates,
// bignums and strings of indefinite length.
type cborWalker struct {
	data []byte
	pos  int
	base int // len(dst) at the start: the output so far is b[base:]
	lim  Limits
}

// eof is the error of data that ends before the item does.
func (w *cborWalker) eof() *Error {
	return errorf(CBOR, len(w.data), "unexpected end of data")
}

// head reads the initial byte and argument at pos: major type, additional
// info (31: indefinite length, or for major type 7 a break) and argument.
func (w *cborWalker) head() (major, info byte, arg uint64, err *Error) {
	if w.pos >= len(w.data) {
		return 0, 0, 0, w.eof()
	}
	start := w.pos
	b := w.data[w.pos]
	major, info = b>>5, b&31
	w.pos++
	switch {
	case info < 24:
		arg = uint64(info)
	case info <= 27:
		n := 1 << (info - 24)
		if len(w.data)-w.pos < n {
			return major, info, 0, w.eof()
		}
		arg = be(w.data[w.pos : w.pos+n])
		w.pos += n
	case info == 31:
		if major == 0 || major == 1 || major == 6 {
			return major, info, 0, errorf(CBOR, start, "indefinite length for major type %d", major)
		}
	default:
		return major, info, 0, errorf(CBOR, start, "reserved additional information %d", info)
	}
	return major, info, arg, nil
}

// isBreak reports whether the next byte ends an indefinite-length item,
// and consumes it when it does.
func (w *cborWalker) isBreak() (bool, *Error) {
	if w.pos >= len(w.data) {
		return false, w.eof()
	}
	if w.data[w.pos] == 0xff {
		w.pos++
		return true, nil
	}
	return false, nil
}

// item appends the item at pos, depth arrays and maps deep.
func (w *cborWalker) item(b []byte, depth int) ([]byte, *Error) {
	if len(b)-w.base > w.lim.MaxSize {
		return b, limitf(CBOR, w.pos, "JSON larger than %d bytes", w.lim.MaxSize)
	}
	start := w.pos
	major, info, arg, err := w.head()
	for err == nil && major == 6 { // tags
		if arg <= 3 { // date-time string, epoch time, bignums
			return w.decoded(b, start)
		}
		start = w.pos
		major, info, arg, err = w.head()
	}
	if err != nil {
		return b, err
	}
	switch major {
	case 0:
		return appendUint(b, arg), nil
	case 1: // -1 - arg
		if arg == math.MaxUint64 {
			return append(b, "-18446744073709551616"...), nil
		}
		return appendDecimal(b, arg+1, true), nil
	case 2, 3:
		if info == 31 {
			return w.decoded(b, start)
		}
		return w.str(b, major, arg)
	case 4, 5:
		if depth >= w.lim.MaxDepth {
			return b, limitf(CBOR, start, "nested deeper than %d levels", w.lim.MaxDepth)
		}
		if major == 4 {
			return w.container(b, depth+1, arg, info == 31, false)
		}
		return w.container(b, depth+1, arg, info == 31, true)
	}
	return w.simple(b, start, info, arg)
}

// str appends a byte string (major type 2) or text string (3) of n bytes.
func (w *cborWalker) str(b []byte, major byte, n uint64) ([]byte, *Error) {
	if n > uint64(len(w.data)-w.pos) {
		return b, w.eof()
	}
	s := w.data[w.pos : w.pos+int(n)]
	if major == 2 {
		w.pos += int(n)
		return AppendBytes(b, s), nil
	}
	out, bad := appendUTF8(b, s)
	if bad >= 0 {
		return b, errorf(CBOR, w.pos+bad, "invalid UTF-8 in a text string")
	}
	w.pos += int(n)
	return out, nil
}

// container appends an array of n items (a map of n pairs when isMap), or
// of items (pairs) up to a break.
func (w *cborWalker) container(b []byte, depth int, n uint64, indef, isMap bool) ([]byte, *Error) {
	per := uint64(1) // every item takes a byte, every pair two
	opening, closing := byte('['), byte(']')
	if isMap {
		per, opening, closing = 2, '{', '}'
	}
	if !indef && n > uint64(len(w.data)-w.pos)/per {
		return b, w.eof()
	}
	b = append(b, opening)
	var err *Error
	for i := uint64(0); indef || i < n; i++ {
		if indef {
			if end, err := w.isBreak(); end || err != nil {
				if err != nil {
					return b, err
				}
				break
			}
		}
		if i > 0 {
			b = append(b, ',')
		}
		if isMap {
			if b, err = w.key(b, depth); err != nil {
				return b, err
			}
		}
		if b, err = w.item(b, depth); err != nil {
			return b, err
		}
	}
	return append(b, closing), nil
}

// key appends a map key and its colon: a key that is not a string as
// its JSON text, quoted.
func (w *cborWalker) key(b []byte, depth int) ([]byte, *Error) {
	key := len(b)
	b, err := w.item(b, depth)
	if err != nil {
		return b, err
	}
	return asKey(b, key), nil
}

// simple appends an item of major type 7: false, true, null, undefined
// (null), a float, or another simple value as its number.
func (w *cborWalker) simple(b []byte, start int, info byte, arg uint64) ([]byte, *Error) {
	switch info {
	case 20:
		return append(b, "false"...), nil
	case 21:
		return append(b, "true"...), nil
	case 22, 23:
		return append(b, "null"...), nil
	case 24:
		if arg < 32 {
			return b, errorf(CBOR, start, "simple value %d in two bytes", arg)
		}
	case 25:
		return appendHalf(b, uint16(arg)), nil
	case 26:
		return AppendFloat(b, float64(math.Float32frombits(uint32(arg))), 32), nil
	case 27:
		return AppendFloat(b, math.Float64frombits(arg), 64), nil
	case 31:
		return b, errorf(CBOR, start, "break outside an indefinite-length item")
	}
	return appendUint(b, arg), nil
}

// decoded appends the item at start decoded by fxamacker/cbor.
func (w *cborWalker) decoded(b []byte, start int) ([]byte, *Error) {
	var v any
	rest, err := cborDecMode.UnmarshalFirst(w.data[start:], &v)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return b, w.eof()
		}
		return b, errorf(CBOR, start, "%s", trimCBOR(err))
	}
	if x, ok := v.(*big.Int); ok && x.BitLen() > maxBignumBits {
		return b, limitf(CBOR, start, "bignum of %d bits, more than %d", x.BitLen(), maxBignumBits)
	}
	w.pos = len(w.data) - len(rest)
	return appendCBORScalar(b, v), nil
}

// maxBignumBits bounds the bignums written in decimal, which takes time
// quadratic in their size: a 1 MiB bignum would take seconds. 2048 bits
// hold every integer a float64 reaches.
const maxBignumBits = 2048

// appendCBORScalar appends a value fxamacker/cbor decoded.
func appendCBORScalar(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return AppendString(b, x)
	case []byte:
		return AppendBytes(b, x)
	case *big.Int:
		return x.Append(b, 10)
	case uint64:
		return appendUint(b, x)
	case int64:
		return appendInt(b, x)
	case time.Time:
		return AppendString(b, x.UTC().Format(time.RFC3339Nano))
	case cbor.Tag:
		return appendCBORScalar(b, x.Content)
	}
	return append(b, "null"...)
}

// halfFloat returns the value of a half-precision float.
func halfFloat(h uint16) float64 {
	sign, exp, frac := h>>15, int(h>>10&0x1f), float64(h&0x3ff)
	var f float64
	switch exp {
	case 0:
		f = math.Ldexp(frac, -24)
	case 0x1f:
		f = math.Inf(1)
		if frac != 0 {
			f = math.NaN()
		}
	default:
		f = math.Ldexp(1024+frac, exp-25)
	}
	if sign != 0 {
		f = -f
	}
	return f
}

// appendHalf appends a half-precision float in the shortest form that
// reads back as the same half: the fewest significant digits whose value
// is nearer to it than to either neighbour (a tie counting when its
// significand is even, as rounding to nearest even does).
func appendHalf(b []byte, h uint16) []byte {
	f := halfFloat(h)
	if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
		return AppendFloat(b, f, 64)
	}
	// The distances to the neighbours: the one above |f| is ulp away,
	// the one below too, but half that at a power of two.
	up := math.Ldexp(1, -24) // subnormal
	if e := int(h >> 10 & 0x1f); e > 0 {
		up = math.Ldexp(1, e-25)
	}
	down := up
	if h&0x3ff == 0 && h&0x7c00 > 0x400 {
		down = up / 2
	}
	abs := math.Abs(f)
	for prec := 1; prec < 17; prec++ {
		var tmp [32]byte
		g, _ := strconv.ParseFloat(string(strconv.AppendFloat(tmp[:0], f, 'e', prec-1, 64)), 64)
		d, ulp := math.Abs(g)-abs, up
		if d < 0 {
			d, ulp = -d, down
		}
		if d < ulp/2 || d == ulp/2 && h&1 == 0 {
			return AppendFloat(b, g, 64)
		}
	}
	return AppendFloat(b, f, 64)
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

// be is the big-endian integer of up to 8 bytes.
func be(p []byte) uint64 {
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v
}
