package decode

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The HTTP/1.x head of a WebSocket opening handshake (RFC 6455 section 4,
// RFC 9112 for the message syntax).

// MaxHTTPHead is the longest HTTP head ParseHTTPHead reads, the empty line
// that ends it included: 16 KiB. Past it the caller gives up on the
// connection being HTTP.
const MaxHTTPHead = 16 << 10

// maxMethod is the longest request method LooksLikeHTTPRequest accepts
// (the longest registered one, UPDATEREDIRECTREF, has 17 letters).
const maxMethod = 20

// HTTPHead is the head of an HTTP/1.x request or response: the start line
// and the header fields.
type HTTPHead struct {
	Request              bool
	Method, URI, Version string // request line (Version also for a response)
	Status               int    // status line
	Reason               string
	Headers              []HTTPHeader // in order, as sent
	Len                  int          // bytes of the head, the empty line that ends it included
}

// HTTPHeader is one header field. Name is as sent; a value folded over
// several lines (obs-fold) is joined with single spaces.
type HTTPHeader struct{ Name, Value string }

// ErrHTTPShort reports that the head is not complete yet: no empty line
// ends it in the bytes given.
var ErrHTTPShort = errors.New("decode: the HTTP head is not complete yet")

// ErrNotHTTP reports bytes that do not start like an HTTP/1.x request or
// response.
var ErrNotHTTP = errors.New("decode: not an HTTP/1.x request or response")

// ErrHTTPTooLong reports a head that has not ended within MaxHTTPHead bytes.
var ErrHTTPTooLong = errors.New("decode: HTTP head longer than 16 KiB")

// ErrHTTPMalformed reports a head whose header fields cannot be parsed.
var ErrHTTPMalformed = errors.New("decode: malformed HTTP head")

// LooksLikeHTTPRequest reports whether b starts like an HTTP request line:
// a method (capital letters, '-' or '_', at most 20) then a space. Only the
// bytes present are checked: "GE" looks like one, "" does not.
func LooksLikeHTTPRequest(b []byte) bool {
	for i, c := range b {
		if c == ' ' {
			return i > 0
		}
		if i >= maxMethod || !isMethodChar(c) {
			return false
		}
	}
	return len(b) > 0
}

func isMethodChar(c byte) bool { return c >= 'A' && c <= 'Z' || c == '-' || c == '_' }

// looksLikeHTTPResponse reports whether b starts with "HTTP/1.", as far as
// it goes.
func looksLikeHTTPResponse(b []byte) bool {
	const p = "HTTP/1."
	n := min(len(b), len(p))
	return n > 0 && string(b[:n]) == p[:n]
}

// ParseHTTPHead parses the HTTP/1.x request or response head at the start
// of b. It returns ErrHTTPShort while the head is incomplete, and an error
// wrapping ErrNotHTTP when b does not start like HTTP/1.x (checked on the
// bytes present, so a caller learns it early), ErrHTTPTooLong when no empty
// line ends the head within MaxHTTPHead bytes, or ErrHTTPMalformed for a
// header line it cannot read. Lines may end in CRLF or a bare LF; header
// names and values are trimmed of spaces and tabs; a folded line continues
// the previous value. The strings share one allocation.
func ParseHTTPHead(b []byte) (HTTPHead, error) {
	var h HTTPHead
	if len(b) == 0 {
		return h, ErrHTTPShort
	}
	if !looksLikeHTTPResponse(b) && !LooksLikeHTTPRequest(b) {
		return h, fmt.Errorf("%w: starts with %q", ErrNotHTTP, clip(b))
	}
	end := headEnd(b[:min(len(b), MaxHTTPHead)])
	if end < 0 {
		if line := bytes.IndexByte(b, '\n'); line >= 0 && line < MaxHTTPHead {
			if err := parseStartLine(&h, string(trimCR(b[:line]))); err != nil {
				return HTTPHead{}, err
			}
		}
		if len(b) >= MaxHTTPHead {
			return HTTPHead{}, ErrHTTPTooLong
		}
		return HTTPHead{}, ErrHTTPShort
	}
	s := string(b[:end])
	h.Len = end
	nl := strings.IndexByte(s, '\n')
	if err := parseStartLine(&h, strings.TrimSuffix(s[:nl], "\r")); err != nil {
		return HTTPHead{}, err
	}
	h.Headers = make([]HTTPHeader, 0, strings.Count(s, "\n")-2)
	for i, line := range strings.Split(s[nl+1:], "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if err := h.addLine(line); err != nil {
			return HTTPHead{}, fmt.Errorf("%w: header line %d: %w", ErrHTTPMalformed, i+1, err)
		}
	}
	return h, nil
}

// headEnd returns the length of the head in b (up to and including the
// empty line that ends it), or -1 when b holds no empty line.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

func trimCR(b []byte) []byte { return bytes.TrimSuffix(b, []byte{'\r'}) }

// clip returns the start of b for an error message.
func clip(b []byte) []byte { return b[:min(len(b), 24)] }

// parseStartLine reads a request line or a status line into h.
func parseStartLine(h *HTTPHead, line string) error {
	if c := badChar(line); c >= 0 {
		return fmt.Errorf("%w: start line has control character 0x%02x", ErrNotHTTP, line[c])
	}
	if strings.HasPrefix(line, "HTTP/") {
		ver, rest, _ := strings.Cut(line, " ")
		code, reason, _ := strings.Cut(rest, " ")
		n, err := strconv.Atoi(code)
		if !httpVersion(ver) || len(code) != 3 || err != nil || n < 100 {
			return fmt.Errorf("%w: status line %q", ErrNotHTTP, clip([]byte(line)))
		}
		h.Version, h.Status, h.Reason = ver, n, reason
		return nil
	}
	parts := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(parts) != 3 || !httpVersion(parts[2]) || !isToken(parts[0]) {
		return fmt.Errorf("%w: request line %q", ErrNotHTTP, clip([]byte(line)))
	}
	h.Request = true
	h.Method, h.URI, h.Version = parts[0], parts[1], parts[2]
	return nil
}

// httpVersion reports whether v is "HTTP/1." and a digit.
func httpVersion(v string) bool {
	return len(v) == 8 && strings.HasPrefix(v, "HTTP/1.") && v[7] >= '0' && v[7] <= '9'
}

// addLine adds a header line, or continues the last header's value when
// the line is folded (starts with a space or a tab).
func (h *HTTPHead) addLine(line string) error {
	if c := badChar(line); c >= 0 {
		return fmt.Errorf("control character 0x%02x", line[c])
	}
	if line[0] == ' ' || line[0] == '\t' {
		if len(h.Headers) == 0 {
			return errors.New("a folded line before any header")
		}
		last := &h.Headers[len(h.Headers)-1]
		if v := trimOWS(line); v != "" {
			if last.Value != "" {
				last.Value += " "
			}
			last.Value += v
		}
		return nil
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return errors.New("no colon")
	}
	name = trimOWS(name)
	if !isToken(name) {
		return fmt.Errorf("field name %q is not a token", name)
	}
	h.Headers = append(h.Headers, HTTPHeader{Name: name, Value: trimOWS(value)})
	return nil
}

// badChar returns the index of the first control character of s other
// than a tab, or -1.
func badChar(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return i
		}
	}
	return -1
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Get returns the value of the header name (case-insensitive); several
// headers of that name are joined with ", ". It is "" when there is none.
func (h *HTTPHead) Get(name string) string {
	var v string
	n := 0
	for i := range h.Headers {
		if strings.EqualFold(h.Headers[i].Name, name) {
			if n == 0 {
				v = h.Headers[i].Value
			} else {
				v += ", " + h.Headers[i].Value
			}
			n++
		}
	}
	return v
}
