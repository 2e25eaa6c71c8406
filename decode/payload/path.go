package payload

import (
	"bytes"
	"strconv"
	"strings"
)

// Kind is the kind of a JSON value, told by its first byte.
type Kind uint8

// Kinds of JSON values.
const (
	KindInvalid Kind = iota
	KindNull
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// KindOf returns the kind of the JSON value v.
func KindOf(v []byte) Kind {
	if len(v) == 0 {
		return KindInvalid
	}
	switch c := v[0]; {
	case c == 'n':
		return KindNull
	case c == 't' || c == 'f':
		return KindBool
	case c == '"':
		return KindString
	case c == '[':
		return KindArray
	case c == '{':
		return KindObject
	case c == '-' || c >= '0' && c <= '9':
		return KindNumber
	}
	return KindInvalid
}

// Number returns the value of a JSON number, or of a string holding
// "NaN", "Infinity" or "-Infinity".
func Number(v []byte) (float64, bool) {
	switch KindOf(v) {
	case KindNumber:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil || isRange(err)
	case KindString:
		switch string(v) {
		case `"NaN"`, `"Infinity"`, `"-Infinity"`:
			f, _ := strconv.ParseFloat(strings.Trim(string(v), `"`), 64)
			return f, true
		}
	}
	return 0, false
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// Unquote returns the text of a JSON string (its escapes decoded), and v
// itself for other values.
func Unquote(v []byte) string {
	if KindOf(v) != KindString {
		return string(v)
	}
	if len(v) < 2 {
		return "" // a string cut short: not from this package
	}
	if bytes.IndexByte(v[1:len(v)-1], '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	s, err := strconv.Unquote(string(v))
	if err != nil { // JSON escapes Go does not read: \/ and surrogate pairs
		return unquoteJSON(v)
	}
	return s
}

// Lookup calls fn with each value at the dotted path in the JSON text js
// (valid, as this package writes it): members of objects by name, elements
// of arrays by index; a name applied to an array applies to each of its
// elements, and an array reached at the end of the path yields each
// element. The empty path is js itself.
func Lookup(js []byte, path string, fn func(v []byte)) {
	if path == "" {
		fn(js)
		return
	}
	lookup(js, path, fn, 0)
}

func lookup(v []byte, path string, fn func(v []byte), depth int) {
	if depth > 256 {
		return
	}
	if path == "" {
		if KindOf(v) == KindArray {
			eachElement(v, func(_ int, e []byte) bool { fn(e); return true })
			return
		}
		fn(v)
		return
	}
	seg, rest, _ := strings.Cut(path, ".")
	switch KindOf(v) {
	case KindObject:
		eachMemberRaw(v, func(key, m []byte) bool {
			if nameIs(key, seg) {
				lookup(m, rest, fn, depth+1)
				return false
			}
			return true
		})
	case KindArray:
		if idx, err := strconv.Atoi(seg); err == nil {
			eachElement(v, func(i int, e []byte) bool {
				if i == idx {
					lookup(e, rest, fn, depth+1)
					return false
				}
				return true
			})
			return
		}
		eachElement(v, func(_ int, e []byte) bool { lookup(e, path, fn, depth+1); return true })
	}
}

// Numbers calls fn with the dotted path and value of every number in js
// (and every boolean, as 0 or 1), in document order; array elements are
// numbered from 0.
func Numbers(js []byte, fn func(path string, f float64)) {
	numbers(js, "", fn, 0)
}

func numbers(v []byte, path string, fn func(string, float64), depth int) {
	if depth > 256 {
		return
	}
	join := func(seg string) string {
		if path == "" {
			return seg
		}
		return path + "." + seg
	}
	switch KindOf(v) {
	case KindNumber:
		if f, ok := Number(v); ok {
			fn(path, f)
		}
	case KindBool:
		f := 0.0
		if v[0] == 't' {
			f = 1
		}
		fn(path, f)
	case KindObject:
		eachMemberRaw(v, func(key, m []byte) bool {
			if k := KindOf(m); k != KindString && k != KindNull { // names only where numbers may be
				numbers(m, join(Unquote(key)), fn, depth+1)
			}
			return true
		})
	case KindArray:
		eachElement(v, func(i int, e []byte) bool { numbers(e, join(strconv.Itoa(i)), fn, depth+1); return true })
	}
}

// Members calls fn with each member of the JSON object v in order.
func Members(v []byte, fn func(name string, m []byte) bool) { eachMember(v, fn) }

// Elements calls fn with each element of the JSON array v in order.
func Elements(v []byte, fn func(i int, e []byte) bool) { eachElement(v, fn) }

// eachMember walks the members of an object until fn returns false.
func eachMember(v []byte, fn func(name string, m []byte) bool) {
	eachMemberRaw(v, func(key, m []byte) bool { return fn(Unquote(key), m) })
}

// nameIs reports whether the JSON string key is name.
func nameIs(key []byte, name string) bool {
	if len(key) >= 2 && bytes.IndexByte(key, '\\') < 0 {
		return string(key[1:len(key)-1]) == name
	}
	return Unquote(key) == name
}

// eachMemberRaw walks the members of an object, their names as JSON
// strings, until fn returns false.
func eachMemberRaw(v []byte, fn func(key, m []byte) bool) {
	i := 1
	for i < len(v) && v[i] != '}' {
		kend := skip(v, i)
		key := v[i:kend]
		i = kend + 1 // ':'
		end := skip(v, i)
		if end <= i || !fn(key, v[i:end]) {
			return
		}
		i = end
		if i < len(v) && v[i] == ',' {
			i++
		}
	}
}

// eachElement walks the elements of an array until fn returns false.
func eachElement(v []byte, fn func(i int, e []byte) bool) {
	i, n := 1, 0
	for i < len(v) && v[i] != ']' {
		end := skip(v, i)
		if end <= i || !fn(n, v[i:end]) {
			return
		}
		n++
		i = end
		if i < len(v) && v[i] == ',' {
			i++
		}
	}
}

// skip returns the end of the compact JSON value starting at i.
func skip(v []byte, i int) int {
	if i >= len(v) {
		return i
	}
	switch v[i] {
	case '"':
		for j := i + 1; j < len(v); j++ {
			switch v[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(v)
	case '{', '[':
		depth := 0
		for j := i; j < len(v); j++ {
			switch v[j] {
			case '"':
				j = skip(v, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(v)
	}
	j := i
	for j < len(v) && v[j] != ',' && v[j] != '}' && v[j] != ']' {
		j++
	}
	return j
}

// unquoteJSON decodes a JSON string's escapes, including \/ and UTF-16
// surrogate pairs, which strconv.Unquote rejects.
func unquoteJSON(v []byte) string {
	var b strings.Builder
	s := string(v[1 : len(v)-1])
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, n := decodeU(s[i+1:])
			b.WriteRune(r)
			i += n
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// decodeU decodes the hex digits after \u, with a following low surrogate
// when the first is a high one; it returns the rune and the bytes used.
func decodeU(s string) (rune, int) {
	if len(s) < 4 {
		return '\ufffd', len(s)
	}
	u, err := strconv.ParseUint(s[:4], 16, 16)
	if err != nil {
		return '\ufffd', 4
	}
	r := rune(u)
	if r >= 0xd800 && r < 0xdc00 && len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if lo, err := strconv.ParseUint(s[6:10], 16, 16); err == nil && lo >= 0xdc00 && lo < 0xe000 {
			return (r-0xd800)<<10 + (rune(lo) - 0xdc00) + 0x10000, 10
		}
	}
	if r >= 0xd800 && r < 0xe000 {
		return '\ufffd', 4
	}
	return r, 4
}

// Tree calls fn for js and, depth first, every member of it: its depth
// (js itself is 0), its name (the member name, "[i]" for the elements of
// an array, "" for js) and its value; an object or array comes before its
// members. It stops descending past depth 256.
func Tree(js []byte, fn func(depth int, name string, v []byte)) {
	tree(js, 0, "", fn)
}

func tree(v []byte, depth int, name string, fn func(int, string, []byte)) {
	fn(depth, name, v)
	if depth > 256 {
		return
	}
	switch KindOf(v) {
	case KindObject:
		eachMember(v, func(n string, m []byte) bool { tree(m, depth+1, n, fn); return true })
	case KindArray:
		eachElement(v, func(i int, e []byte) bool { tree(e, depth+1, "["+strconv.Itoa(i)+"]", fn); return true })
	}
}

// Brief appends v shortened to at most max bytes of its JSON text, cut at
// a UTF-8 boundary and ended with "…" when cut.
func Brief(b, v []byte, max int) []byte {
	if len(v) <= max {
		return append(b, v...)
	}
	cut := max
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && v[cut]&0xc0 == 0x80 {
		cut--
	}
	b = append(b, v[:cut]...)
	return append(b, "…"...)
}

// AppendUnquoted appends the text of the JSON string v, its escapes
// decoded, or v itself for other values. It allocates only for a string
// with escapes.
func AppendUnquoted(b, v []byte) []byte {
	if KindOf(v) != KindString {
		return append(b, v...)
	}
	if len(v) >= 2 && bytes.IndexByte(v[1:len(v)-1], '\\') < 0 {
		return append(b, v[1:len(v)-1]...)
	}
	return append(b, Unquote(v)...)
}

// TreeRaw is Tree for writers that append names themselves: an object's
// member comes with its name as written (the JSON string, quotes included:
// see AppendUnquoted) and index -1; an array's element with a nil key and
// its index; js itself with a nil key and index -1. It does not allocate.
func TreeRaw(js []byte, fn func(depth int, key []byte, index int, v []byte)) {
	treeRaw(js, 0, nil, -1, fn)
}

func treeRaw(v []byte, depth int, key []byte, index int, fn func(int, []byte, int, []byte)) {
	fn(depth, key, index, v)
	if depth > 256 {
		return
	}
	switch KindOf(v) {
	case KindObject:
		eachMemberRaw(v, func(k, m []byte) bool { treeRaw(m, depth+1, k, -1, fn); return true })
	case KindArray:
		eachElement(v, func(i int, e []byte) bool { treeRaw(e, depth+1, nil, i, fn); return true })
	}
}
