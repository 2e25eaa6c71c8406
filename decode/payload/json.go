package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Limits bound the work and memory of decoding one payload.
type Limits struct {
	MaxDepth int // nesting of arrays, objects and messages
	MaxSize  int // bytes of decompressed input and of JSON output
	MaxRatio int // decompressed size over compressed size
}

// DefaultLimits are mqtap's bounds: 64 levels, 4 MiB (the largest packet
// mqtap keeps whole, session.DefaultMaxPacket), a ratio of 100.
var DefaultLimits = Limits{MaxDepth: 64, MaxSize: 4 << 20, MaxRatio: 100}

// Error is why a payload did not decode: the format it was decoded as, the
// offset in its (decompressed) bytes where decoding stopped, and the reason.
// Limit is set when a bound of Limits stopped it rather than bad input.
type Error struct {
	Format Format
	Offset int
	Msg    string
	Limit  bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: at byte %d: %s", e.Format, e.Offset, e.Msg)
}

// errorf returns an *Error.
func errorf(f Format, off int, format string, args ...any) *Error {
	return &Error{Format: f, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// limitf returns an *Error for a bound reached.
func limitf(f Format, off int, format string, args ...any) *Error {
	e := errorf(f, off, format, args...)
	e.Limit = true
	return e
}

// Valid reports whether data is one JSON value within the limits.
func Valid(data []byte, lim Limits) bool {
	return checkJSON(data, lim) == nil && json.Valid(data)
}

// AppendJSON appends data, a JSON text, compacted.
func AppendJSON(dst, data []byte, lim Limits) ([]byte, error) {
	if err := checkJSON(data, lim); err != nil {
		return dst, err
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, data); err != nil {
		off := len(data)
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 {
			off = int(se.Offset)
		}
		return dst, errorf(JSON, off, "%s", jsonReason(err))
	}
	return buf.Bytes(), nil
}

// jsonReason is encoding/json's message without its "invalid character"
// boilerplate when that is all there is.
func jsonReason(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// checkJSON checks what encoding/json does not: UTF-8, the nesting depth
// and the size.
func checkJSON(data []byte, lim Limits) *Error {
	if len(data) > lim.MaxSize {
		return limitf(JSON, lim.MaxSize, "larger than %d bytes", lim.MaxSize)
	}
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				return errorf(JSON, i, "invalid UTF-8")
			}
			i += n - 1
			escaped = false
			continue
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > lim.MaxDepth {
				return limitf(JSON, i, "nested deeper than %d levels", lim.MaxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// isNumber reports whether t is a number in JSON's syntax.
func isNumber(t []byte) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	switch {
	case i < len(t) && t[i] == '0':
		i++
	case i < len(t) && t[i] >= '1' && t[i] <= '9':
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(t) && t[i] == '.' {
		i++
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(t)
}

// AppendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// AppendBytes appends a byte string as a JSON string of lowercase hex.
func AppendBytes(b, data []byte) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range data {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '"')
}

// AppendFloat appends a float as a JSON number, in the shortest form that
// reads back the same (bits 32 or 64); NaN and the infinities, which JSON
// cannot hold, become the strings "NaN", "Infinity" and "-Infinity".
func AppendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, bits)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// AppendText appends a text payload's value: the number it holds when it
// is one (white space around it allowed), else the text as a JSON string.
// Text that is not UTF-8 is an error.
func AppendText(dst, data []byte) ([]byte, error) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return dst, errorf(Text, off, "invalid UTF-8")
	}
	if t := bytes.TrimSpace(data); isNumber(t) {
		return append(dst, t...), nil
	}
	return AppendString(dst, string(data)), nil
}
