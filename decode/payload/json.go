package payload

import (
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

// Error is "format: at byte N: reason".
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
func Valid(data []byte, lim Limits) bool { return checkJSON(data, lim) == nil }

// AppendJSON appends data, a JSON text, compacted: the white space between
// its tokens removed, everything else as it is (as encoding/json.Compact
// writes it). It also checks what encoding/json does not: that strings are
// UTF-8, the nesting depth and the size. An error's Offset is that of the
// first byte that cannot continue a JSON text, len(data) when the text
// ends early.
func AppendJSON(dst, data []byte, lim Limits) ([]byte, error) {
	out, err := scanJSON(dst, data, lim, true)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// checkJSON checks that data is one JSON text within lim: its syntax,
// UTF-8, the nesting depth and the size.
func checkJSON(data []byte, lim Limits) *Error {
	_, err := scanJSON(nil, data, lim, false)
	return err
}

// isSpace reports whether c is white space in JSON.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimSpace returns t without JSON white space around it.
func trimSpace(t []byte) []byte {
	for len(t) > 0 && isSpace(t[0]) {
		t = t[1:]
	}
	for len(t) > 0 && isSpace(t[len(t)-1]) {
		t = t[:len(t)-1]
	}
	return t
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
	if utf8.ValidString(s) {
		return appendValidString(b, s)
	}
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = appendEscaped(b, s[i:i+n])
		}
		i += n
	}
	return append(b, '"')
}

// appendStringBytes is AppendString for bytes, which it does not copy
// when they are UTF-8.
func appendStringBytes(b, s []byte) []byte {
	if out, bad := appendUTF8(b, s); bad < 0 {
		return out
	}
	return AppendString(b, string(s))
}

// appendUTF8 appends s as a JSON string when it is UTF-8, checking it as
// it goes, and returns the offset of its first byte that is not UTF-8, or
// -1.
func appendUTF8(b, s []byte) ([]byte, int) {
	b = append(b, '"')
	from := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, i
			}
			i += n
			continue
		case c >= ' ' && c != '"' && c != '\\' && c != 0x7f:
			i++
			continue
		}
		b = appendEscape(append(b, s[from:i]...), c)
		i++
		from = i
	}
	b = append(b, s[from:]...)
	return append(b, '"'), -1
}

// appendValidString appends s, valid UTF-8, as a JSON string.
func appendValidString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	return append(appendEscaped(b, s), '"')
}

// appendEscaped appends s, valid UTF-8, escaped for a JSON string: quote,
// backslash and the control characters (DEL as well); the runs of other
// bytes are copied as they are.
func appendEscaped[T string | []byte](b []byte, s T) []byte {
	from := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == '"' || c == '\\' || c == 0x7f {
			b = appendEscape(append(b, s[from:i]...), c)
			from = i + 1
		}
	}
	return append(b, s[from:]...)
}

// appendEscape appends the escape of c, an ASCII byte that JSON strings
// cannot hold as it is (or, for DEL, that mqtap does not show as it is).
func appendEscape(b []byte, c byte) []byte {
	const hexDigits = "0123456789abcdef"
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
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

// AppendFloat appends a float as a JSON number, with the fewest digits
// that read back as the same float (bits 32 or 64), as encoding/json
// writes it: in decimal, but in exponent form below 1e-6 and from 1e21.
// NaN and the infinities, which JSON cannot hold, become the strings
// "NaN", "Infinity" and "-Infinity".
func AppendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' { // e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
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
	if t := trimSpace(data); isNumber(t) {
		return append(dst, t...), nil
	}
	return appendValidString(dst, data), nil
}

// jsonScan is one pass over a JSON text that checks it and, when emit is
// set, appends it compacted to out: the bytes from `from` on are not yet
// copied, and every run of white space flushes those before it.
type jsonScan struct {
	data []byte
	out  []byte
	from int
	emit bool
}

// scanJSON checks data, one JSON text, within lim and appends it compacted
// to dst when emit is set. It keeps a stack of the open arrays and objects
// rather than recursing, so that no limit on the depth is needed for its
// own sake.
func scanJSON(dst, data []byte, lim Limits, emit bool) ([]byte, *Error) {
	if len(data) > lim.MaxSize {
		return dst, limitf(JSON, lim.MaxSize, "larger than %d bytes", lim.MaxSize)
	}
	s := jsonScan{data: data, out: dst, emit: emit}
	var stackBuf [32]byte
	stack := stackBuf[:0] // '{' or '[' for each open object or array
	var err *Error
	i := s.space(0)
	for {
		// A value starts at i.
		if i >= len(data) {
			return dst, s.eof()
		}
		if c := data[i]; c == '{' || c == '[' {
			if len(stack) >= lim.MaxDepth {
				return dst, limitf(JSON, i, "nested deeper than %d levels", lim.MaxDepth)
			}
			stack = append(stack, c)
			if i = s.space(i + 1); i >= len(data) || data[i] != c+2 { // '}' is '{'+2, ']' is '['+2
				if c == '{' {
					if i, err = s.key(i); err != nil {
						return dst, err
					}
				}
				continue
			}
			stack = stack[:len(stack)-1]
			i++
		} else if i, err = s.scalar(i); err != nil {
			return dst, err
		}
		// A value ends at i: close what it ends, find where the next starts.
		if i, err = s.next(i, &stack); err != nil {
			return dst, err
		}
		if len(stack) == 0 {
			if i = s.space(i); i < len(data) {
				return dst, s.invalid(i, "after top-level value")
			}
			if s.emit {
				s.out = append(s.out, data[s.from:]...)
			}
			return s.out, nil
		}
	}
}

// next skips the closing brackets and the separator after a value that
// ends at i, up to the start of the next value (or, for an object, of the
// next member's value); with the stack emptied, the top-level value ends.
func (s *jsonScan) next(i int, stack *[]byte) (int, *Error) {
	data := s.data
	for len(*stack) > 0 {
		if i = s.space(i); i >= len(data) {
			return i, s.eof()
		}
		top := (*stack)[len(*stack)-1]
		switch data[i] {
		case top + 2:
			*stack = (*stack)[:len(*stack)-1]
			i++
		case ',':
			if i = s.space(i + 1); top == '{' {
				return s.key(i)
			}
			return i, nil
		default:
			if top == '{' {
				return i, s.invalid(i, "after object key:value pair")
			}
			return i, s.invalid(i, "after array element")
		}
	}
	return i, nil
}

// key reads an object member's name and colon at i, and returns where its
// value starts.
func (s *jsonScan) key(i int) (int, *Error) {
	if i >= len(s.data) {
		return i, s.eof()
	}
	if s.data[i] != '"' {
		return i, s.invalid(i, "looking for beginning of object key string")
	}
	i, err := s.str(i)
	if err != nil {
		return i, err
	}
	if i = s.space(i); i >= len(s.data) {
		return i, s.eof()
	}
	if s.data[i] != ':' {
		return i, s.invalid(i, "after object key")
	}
	return s.space(i + 1), nil
}

// space returns the end of the white space at i, copying what comes before
// it to the output.
func (s *jsonScan) space(i int) int {
	if i >= len(s.data) || !isSpace(s.data[i]) {
		return i
	}
	if s.emit {
		s.out = append(s.out, s.data[s.from:i]...)
	}
	for i < len(s.data) && isSpace(s.data[i]) {
		i++
	}
	s.from = i
	return i
}

// scalar reads the string, number or literal at i and returns its end.
func (s *jsonScan) scalar(i int) (int, *Error) {
	switch c := s.data[i]; {
	case c == '"':
		return s.str(i)
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	}
	return i, s.invalid(i, "looking for beginning of value")
}

// str reads the string at i, checking its escapes and its UTF-8.
func (s *jsonScan) str(i int) (int, *Error) {
	data := s.data
	for i++; i < len(data); {
		switch c := data[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(data) {
				return i, s.eof()
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(data) {
						return k, s.eof()
					}
					if !isHex(data[k]) {
						return k, s.invalid(k, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return i, s.invalid(i+1, "in string escape code")
			}
		case c < ' ':
			return i, s.invalid(i, "in string literal")
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				if !utf8.FullRune(data[i:]) {
					return i, s.eof()
				}
				return i, errorf(JSON, i, "invalid UTF-8")
			}
			i += n
		}
	}
	return i, s.eof()
}

// number reads the number at i.
func (s *jsonScan) number(i int) (int, *Error) {
	data := s.data
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return i, s.eof()
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i = digits(data, i+1)
	default:
		return i, s.invalid(i, "in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		if i++; i >= len(data) {
			return i, s.eof()
		}
		if !isDigit(data[i]) {
			return i, s.invalid(i, "after decimal point in numeric literal")
		}
		i = digits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) {
			return i, s.eof()
		}
		if !isDigit(data[i]) {
			return i, s.invalid(i, "in exponent of numeric literal")
		}
		i = digits(data, i)
	}
	return i, nil
}

// literal reads true, false or null at i.
func (s *jsonScan) literal(i int, lit string) (int, *Error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(s.data) {
			return i + k, s.eof()
		}
		if s.data[i+k] != lit[k] {
			return i + k, s.invalid(i+k, fmt.Sprintf("in literal %s (expecting %s)", lit, quoteChar(lit[k])))
		}
	}
	return i + len(lit), nil
}

// eof is the error of a text that ends early.
func (s *jsonScan) eof() *Error {
	return errorf(JSON, len(s.data), "unexpected end of JSON input")
}

// invalid is the error of an unexpected byte at i, as encoding/json words
// it.
func (s *jsonScan) invalid(i int, context string) *Error {
	return errorf(JSON, i, "invalid character %s %s", quoteChar(s.data[i]), context)
}

// quoteChar quotes c for an error message.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// digits returns the end of the digits at i.
func digits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// asKey ends the map key written at b[key:] with its colon; a key that is
// not a string (CBOR and MessagePack allow any) becomes its JSON text,
// quoted.
func asKey(b []byte, key int) []byte {
	if b[key] != '"' {
		text := string(b[key:])
		b = appendValidString(b[:key], text)
	}
	return append(b, ':')
}
