package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tLParen           // (
	tRParen           // )
	tLBrace           // {
	tRBrace           // }
	tLBracket         // [
	tRBracket         // ]
	tComma            // ,
	tOp               // == != === !== ~= ~ > < >= <= && || ^^ ! &
	tString           // "..." or r"..."; text holds the decoded value
	tChar             // '...'; num holds its value
	tWord             // anything else: names, numbers, addresses, byte strings
)

// token is one lexical token of a filter.
type token struct {
	kind tokKind
	text string // the operator, the word or the decoded string
	raw  string // the token as written
	num  uint64 // value of a character constant
	off  int    // byte offset in the filter
}

// describe names a token in error messages.
func (t token) describe() string {
	if t.kind == tEOF {
		return "end of filter"
	}
	return strconv.Quote(t.raw)
}

// isWordRune reports whether r may be part of an unquoted word: field
// names, numbers, addresses, CIDR blocks, byte strings, slice ranges.
func isWordRune(r rune) bool {
	switch r {
	case '_', '.', ':', '-', '/':
		return true
	}
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.IsSymbol(r)
}

// lex splits a filter into tokens.
func lex(expr string) ([]token, *SyntaxError) {
	var toks []token
	for i := 0; i < len(expr); {
		r, n := utf8.DecodeRuneInString(expr[i:])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		t, end, err := lexToken(expr, i, r, n)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i = end
	}
	toks = append(toks, token{kind: tEOF, off: len(expr)})
	return toks, nil
}

// lexToken reads the token at expr[i], whose first rune r is n bytes long,
// and returns it with the offset after it.
func lexToken(expr string, i int, r rune, n int) (token, int, *SyntaxError) {
	if k, ok := punctuation(r); ok {
		return token{kind: k, text: expr[i : i+1], raw: expr[i : i+1], off: i}, i + 1, nil
	}
	switch {
	case r == '"':
		return lexStringToken(expr, i, i+1, false)
	case r == '\'':
		v, end, err := lexChar(expr, i)
		if err != nil {
			return token{}, 0, err
		}
		return token{kind: tChar, num: v, raw: expr[i:end], off: i}, end, nil
	case r == 'r' && strings.HasPrefix(expr[i:], `r"`):
		return lexStringToken(expr, i, i+2, true)
	}
	if op := lexOp(expr[i:]); op != "" {
		return token{kind: tOp, text: op, raw: op, off: i}, i + len(op), nil
	}
	if r == utf8.RuneError && n == 1 {
		return token{}, 0, errAt(expr, i, "invalid UTF-8 in the filter")
	}
	if !isWordRune(r) {
		return token{}, 0, errAt(expr, i, "%s", badRune(r))
	}
	end := i
	for end < len(expr) {
		r, n := utf8.DecodeRuneInString(expr[end:])
		if !isWordRune(r) {
			break
		}
		end += n
	}
	return token{kind: tWord, text: expr[i:end], raw: expr[i:end], off: i}, end, nil
}

// punctuation returns the kind of a one-character token.
func punctuation(r rune) (tokKind, bool) {
	switch r {
	case '(':
		return tLParen, true
	case ')':
		return tRParen, true
	case '{':
		return tLBrace, true
	case '}':
		return tRBrace, true
	case '[':
		return tLBracket, true
	case ']':
		return tRBracket, true
	case ',':
		return tComma, true
	}
	return 0, false
}

// lexStringToken reads a string token starting at expr[start] whose
// contents start at expr[i] (after r" for a raw string).
func lexStringToken(expr string, start, i int, raw bool) (token, int, *SyntaxError) {
	s, end, err := lexString(expr, i, raw)
	if err != nil {
		return token{}, 0, err
	}
	return token{kind: tString, text: s, raw: expr[start:end], off: start}, end, nil
}

// badRune says why r cannot appear outside a string.
func badRune(r rune) string {
	switch r {
	case '=':
		return `"=" is not an operator: compare with ==`
	case '|':
		return `"|" is not an operator: use || (or)`
	case '^':
		return `"^" is not an operator: use ^^ (xor)`
	case '#':
		return `the layer operator "#" is not supported by mqtap`
	case '$':
		return `field references (${...}) are not supported by mqtap`
	case '+', '*', '%':
		return fmt.Sprintf("arithmetic (%q) is not supported by mqtap", string(r))
	}
	return fmt.Sprintf("%q is not allowed here: put text in double quotes", string(r))
}

// ops lists the operators, longest first.
var ops = []string{"===", "!==", "==", "!=", "~=", ">=", "<=", "&&", "||", "^^", "~", ">", "<", "!", "&"}

// lexOp returns the operator s starts with, or "".
func lexOp(s string) string {
	for _, op := range ops {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

// lexString decodes a double-quoted string whose content starts at i. It
// returns the value and the offset after the closing quote.
func lexString(expr string, i int, raw bool) (string, int, *SyntaxError) {
	open := i - 1
	if raw {
		open = i - 2
	}
	var sb strings.Builder
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '"':
			return sb.String(), i + 1, nil
		case c == '\\' && raw:
			if i+1 < len(expr) && expr[i+1] == '"' {
				sb.WriteString(`\"`)
				i += 2
				continue
			}
			sb.WriteByte(c)
			i++
		case c == '\\':
			v, n, err := lexEscape(expr, i)
			if err != nil {
				return "", 0, err
			}
			sb.WriteString(v)
			i += n
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return "", 0, errAt(expr, open, "the closing quote of this string is missing")
}

// lexEscape decodes the escape sequence at expr[i] (a backslash) and returns
// its bytes and length.
func lexEscape(expr string, i int) (string, int, *SyntaxError) {
	if i+1 >= len(expr) {
		return "", 0, errAt(expr, i, "a backslash ends the filter: escape it as \\\\")
	}
	switch c := expr[i+1]; c {
	case '\'', '"', '\\':
		return string(c), 2, nil
	case 'a':
		return "\a", 2, nil
	case 'b':
		return "\b", 2, nil
	case 'f':
		return "\f", 2, nil
	case 'n':
		return "\n", 2, nil
	case 'r':
		return "\r", 2, nil
	case 't':
		return "\t", 2, nil
	case 'v':
		return "\v", 2, nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n, v := 1, 0
		for n <= 3 && i+n < len(expr) && expr[i+n] >= '0' && expr[i+n] <= '7' {
			v = v*8 + int(expr[i+n]-'0')
			n++
		}
		if v > 0xff {
			return "", 0, errAt(expr, i, "octal escape %s is over \\377", expr[i:i+n])
		}
		return string([]byte{byte(v)}), n, nil
	case 'x':
		n, v := 2, 0
		for n <= 3 && i+n < len(expr) && isHex(expr[i+n]) {
			v = v*16 + hexVal(expr[i+n])
			n++
		}
		if n == 2 {
			return "", 0, errAt(expr, i, "\\x must be followed by one or two hex digits")
		}
		return string([]byte{byte(v)}), n, nil
	case 'u', 'U':
		digits := 4
		if c == 'U' {
			digits = 8
		}
		if i+2+digits > len(expr) {
			return "", 0, errAt(expr, i, "\\%c must be followed by %d hex digits", c, digits)
		}
		v, err := strconv.ParseUint(expr[i+2:i+2+digits], 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			return "", 0, errAt(expr, i, "%s is not a valid Unicode code point", expr[i:i+2+digits])
		}
		return string(rune(v)), 2 + digits, nil
	}
	_, n := utf8.DecodeRuneInString(expr[i+1:])
	return "", 0, errAt(expr, i, "\\%s is not a valid escape sequence (write \\\\ for a backslash)", expr[i+1:i+1+n])
}

// lexChar decodes a character constant such as 'a', '\n' or '\x0a' at
// expr[i] and returns its value and the offset after it.
func lexChar(expr string, i int) (uint64, int, *SyntaxError) {
	j := i + 1
	var v uint64
	switch {
	case j < len(expr) && expr[j] == '\\':
		s, n, err := lexEscape(expr, j)
		if err != nil {
			return 0, 0, err
		}
		r, _ := utf8.DecodeRuneInString(s)
		if len(s) == 1 {
			v = uint64(s[0])
		} else {
			v = uint64(r)
		}
		j += n
	case j < len(expr) && expr[j] != '\'':
		r, n := utf8.DecodeRuneInString(expr[j:])
		v = uint64(r)
		j += n
	default:
		return 0, 0, errAt(expr, i, "empty character constant")
	}
	if j >= len(expr) || expr[j] != '\'' {
		return 0, 0, errAt(expr, i, "the closing ' of this character constant is missing")
	}
	return v, j + 1, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c <= '9':
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}
