// Package tomllines finds the line of each key of a TOML document. The
// keyring and the terminal UI's configuration name "FILE:LINE" in their
// error messages with it.
package tomllines

import (
	"strconv"
	"strings"
)

// Lines maps the key paths of a TOML document to the line where each
// is defined: "rule[2]" is the third [[rule]] header, "rule[2].hmac" and
// "rule[2].hmac.key_hex" its keys (inline table, dotted key or [rule.hmac]
// sub-table alike), "tls.keylog" a key of [tls], "tls.keylog[1]" an
// element of a multi-line array. BurntSushi/toml does not expose positions
// (and keeps one per key name, not per array element), so the loaders
// scan the text themselves for their messages. The document has already
// been parsed by the toml package; on text that is not valid TOML the
// scan still ends, with some lines unknown.
type Lines map[string]int

// Scan scans data and returns the line of every key path.
func Scan(data []byte) Lines {
	sc := &lineScanner{s: data, line: 1, out: Lines{}, arrays: map[string]int{}}
	sc.document()
	return sc.out
}

// Line returns the line of path, or of its nearest ancestor that has one
// ("rule[0].hmac.algorithm" falls back to "rule[0].hmac", then
// "rule[0]"), 0 if none.
func (l Lines) Line(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Join joins two parts of a key path with '.': Join("rule[0]", "hmac")
// is "rule[0].hmac", Join("", "tls") is "tls".
func Join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// lineScanner is the state of Scan.
type lineScanner struct {
	s      []byte
	i      int
	line   int
	out    Lines
	arrays map[string]int // [[array]] path -> number of elements so far
}

// record keeps the first line seen for path.
func (p *lineScanner) record(path string, line int) {
	if _, ok := p.out[path]; !ok {
		p.out[path] = line
	}
}

// document scans table headers and key/value lines.
func (p *lineScanner) document() {
	prefix := ""
	for p.i < len(p.s) {
		start := p.i
		p.skipSpace(true)
		if p.i >= len(p.s) {
			return
		}
		switch {
		case p.s[p.i] == '[' && p.i+1 < len(p.s) && p.s[p.i+1] == '[':
			line := p.line
			p.i += 2
			prefix = p.arrayTable(p.keyPath(), line)
			p.skipLine()
		case p.s[p.i] == '[':
			line := p.line
			p.i++
			prefix = p.table(p.keyPath(), line)
			p.skipLine()
		default:
			line := p.line
			keys := p.keyPath()
			path := p.recordKeys(prefix, keys, line)
			p.skipSpace(false)
			if p.i < len(p.s) && p.s[p.i] == '=' {
				p.i++
				p.value(path)
			}
			p.skipLine()
		}
		if p.i == start {
			p.i++ // never stall on unexpected input
		}
	}
}

// recordKeys records a dotted key under prefix and returns its path.
func (p *lineScanner) recordKeys(prefix string, keys []string, line int) string {
	path := prefix
	for _, k := range keys {
		path = Join(path, k)
		p.record(path, line)
	}
	return path
}

// resolve turns header keys into a path, indexing each array of tables
// on the way by its last element.
func (p *lineScanner) resolve(keys []string) string {
	path := ""
	for _, k := range keys {
		path = Join(path, k)
		if n, ok := p.arrays[path]; ok && n > 0 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

// arrayTable handles [[a.b]]: a new element of the array a.b.
func (p *lineScanner) arrayTable(keys []string, line int) string {
	if len(keys) == 0 {
		return ""
	}
	parent := p.resolve(keys[:len(keys)-1])
	base := Join(parent, keys[len(keys)-1])
	n := p.arrays[base]
	p.arrays[base] = n + 1
	p.record(base, line)
	path := base + "[" + strconv.Itoa(n) + "]"
	p.record(path, line)
	return path
}

// table handles [a.b].
func (p *lineScanner) table(keys []string, line int) string {
	path := p.resolve(keys)
	p.record(path, line)
	return path
}

// keyPath reads a dotted key (bare or quoted parts) and returns its parts.
func (p *lineScanner) keyPath() []string {
	var keys []string
	for {
		p.skipSpace(false)
		if p.i >= len(p.s) {
			return keys
		}
		switch c := p.s[p.i]; {
		case c == '"' || c == '\'':
			keys = append(keys, p.quoted())
		case isBareKeyChar(c):
			j := p.i
			for j < len(p.s) && isBareKeyChar(p.s[j]) {
				j++
			}
			keys = append(keys, string(p.s[p.i:j]))
			p.i = j
		default:
			return keys
		}
		p.skipSpace(false)
		if p.i >= len(p.s) || p.s[p.i] != '.' {
			return keys
		}
		p.i++
	}
}

// isBareKeyChar reports a character of a bare TOML key.
func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// quoted reads a one-line quoted key and returns its content (escapes
// are kept as written, which is enough for the keys mqtap's files use).
func (p *lineScanner) quoted() string {
	q := p.s[p.i]
	p.i++
	j := p.i
	for j < len(p.s) && p.s[j] != q && p.s[j] != '\n' {
		if q == '"' && p.s[j] == '\\' {
			j++
		}
		j++
	}
	if j > len(p.s) {
		j = len(p.s)
	}
	k := string(p.s[p.i:j])
	p.i = j
	if p.i < len(p.s) && p.s[p.i] == q {
		p.i++
	}
	return k
}

// value skips a value, recording the keys of inline tables and the lines
// of array elements under path.
func (p *lineScanner) value(path string) {
	p.skipSpace(false)
	if p.i >= len(p.s) {
		return
	}
	switch p.s[p.i] {
	case '"', '\'':
		p.skipString()
	case '[':
		p.i++
		for idx := 0; p.i < len(p.s); {
			p.skipSpace(true)
			if p.i >= len(p.s) {
				return
			}
			switch p.s[p.i] {
			case ']':
				p.i++
				return
			case ',':
				p.i++
				idx++
				continue
			}
			start := p.i
			elem := path + "[" + strconv.Itoa(idx) + "]"
			p.record(elem, p.line)
			p.value(elem)
			if p.i == start {
				p.i++
			}
		}
	case '{':
		p.i++
		for p.i < len(p.s) {
			p.skipSpace(true)
			if p.i >= len(p.s) {
				return
			}
			switch p.s[p.i] {
			case '}':
				p.i++
				return
			case ',':
				p.i++
				continue
			}
			start := p.i
			sub := p.recordKeys(path, p.keyPath(), p.line)
			p.skipSpace(false)
			if p.i < len(p.s) && p.s[p.i] == '=' {
				p.i++
				p.value(sub)
			}
			if p.i == start {
				p.i++
			}
		}
	default: // number, boolean, date: up to a delimiter
		for p.i < len(p.s) && !strings.ContainsRune(",]}#\n", rune(p.s[p.i])) {
			p.i++
		}
	}
}

// skipString skips a basic, literal or multi-line string, counting lines.
func (p *lineScanner) skipString() {
	q := p.s[p.i]
	if p.i+2 < len(p.s) && p.s[p.i+1] == q && p.s[p.i+2] == q {
		p.i += 3
		for p.i < len(p.s) {
			c := p.s[p.i]
			switch {
			case c == '\n':
				p.line++
			case c == '\\' && q == '"':
				p.i++
				if p.i < len(p.s) && p.s[p.i] == '\n' {
					p.line++
				}
			case c == q && p.i+2 < len(p.s) && p.s[p.i+1] == q && p.s[p.i+2] == q:
				p.i += 3
				for p.i < len(p.s) && p.s[p.i] == q { // up to two more quotes belong to the string
					p.i++
				}
				return
			}
			p.i++
		}
		return
	}
	p.i++
	for p.i < len(p.s) && p.s[p.i] != q && p.s[p.i] != '\n' {
		if q == '"' && p.s[p.i] == '\\' {
			p.i++
		}
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == q {
		p.i++
	}
}

// skipSpace skips blanks and, when newlines is set, line ends and
// comments too.
func (p *lineScanner) skipSpace(newlines bool) {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r':
			p.i++
		case '\n':
			if !newlines {
				return
			}
			p.line++
			p.i++
		case '#':
			if !newlines {
				return
			}
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

// skipLine skips to the end of the line (a comment, a header's closing
// brackets) and past its newline.
func (p *lineScanner) skipLine() {
	for p.i < len(p.s) && p.s[p.i] != '\n' {
		p.i++
	}
	if p.i < len(p.s) {
		p.line++
		p.i++
	}
}
