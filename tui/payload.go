// The payload view (p, :payload): the selected packet's payload (a
// PUBLISH's message, a CONNECT's will message) and its decrypted or
// verified plaintext, as text, hex, JSON or decoded base64.

package tui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/output"
)

// Payload view modes.
const (
	modeText = iota
	modeHex
	modeJSON
	modeBase64
	modeValue
	numModes
)

// modeName names a payload view mode.
func modeName(m int) string {
	switch m {
	case modeHex:
		return "hex"
	case modeJSON:
		return "JSON"
	case modeBase64:
		return "base64"
	case modeValue:
		return "value"
	}
	return "text"
}

// openPayload shows the selected packet's payload (p, :payload).
func (a *App) openPayload() {
	if a.cur == nil {
		a.setError("no packet selected")
		return
	}
	a.views.payloadRec = a.cur
	a.renderPayload()
	a.views.payloadBody.ScrollToBeginning()
	a.showPage(pagePayload, a.views.payloadBody)
}

// setPayloadMode switches the payload view's mode (1 2 3 4).
func (a *App) setPayloadMode(m int) {
	a.views.payloadMode = m
	a.renderPayload()
	a.views.payloadBody.ScrollToBeginning()
}

// cyclePayloadMode moves to the next (+1) or previous (-1) mode (Tab).
func (a *App) cyclePayloadMode(step int) {
	a.setPayloadMode(((a.views.payloadMode+step)%numModes + numModes) % numModes)
}

// payloadPart is one block of bytes the payload view shows.
type payloadPart struct {
	title string
	data  []byte
}

// payloadParts returns what the payload view shows of a record: a
// PUBLISH's payload and its plaintext, a CONNECT's will message.
func payloadParts(r *session.Record) []payloadPart {
	var parts []payloadPart
	switch r.Packet.Type {
	case decode.PUBLISH:
		parts = append(parts, payloadPart{"Payload", r.Packet.Payload})
	case decode.CONNECT:
		if f := r.Packet.Field("mqtt.willmsg"); f != nil {
			parts = append(parts, payloadPart{"Will message", f.Bytes})
		}
	}
	if pt := plaintextOf(r); pt != nil {
		title := "Decrypted plaintext"
		if r.Crypto.Decrypt == "" {
			title = "Verified message"
		}
		parts = append(parts, payloadPart{title, pt})
	}
	return parts
}

// renderPayload fills the payload view for the current mode.
func (a *App) renderPayload() {
	v := &a.views
	var head strings.Builder
	for m := 0; m < numModes; m++ {
		label := fmt.Sprintf(" %d %s ", m+1, modeName(m))
		if m == v.payloadMode {
			head.WriteString("[::r]" + label + "[::-]")
		} else {
			head.WriteString(label)
		}
		head.WriteString(" ")
	}
	head.WriteString(" (1-5 or Tab: mode, Esc: back)")
	v.payloadHead.SetText(head.String())

	r := v.payloadRec
	if r == nil {
		v.payloadBody.SetText("")
		return
	}
	title := "Payload of frame " + strconv.Itoa(r.Frame) + ", " + r.Packet.Type.String()
	if r.Packet.Topic != nil {
		title += " on " + sanitize(string(r.Packet.Topic))
	}
	setPaneTitle(v.payloadBody.Box, tview.Escape(title))
	v.payloadBody.SetWrap(v.payloadMode != modeHex)
	if v.payloadMode == modeValue {
		v.payloadBody.SetText(valueText(r))
		return
	}
	parts := payloadParts(r)
	if len(parts) == 0 {
		v.payloadBody.SetText("A " + r.Packet.Type.String() + " packet carries no payload.")
		return
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "── %s (%d bytes) ──\n", p.title, len(p.data))
		b.WriteString(renderMode(p.data, v.payloadMode))
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	v.payloadBody.SetText(b.String())
}

// valueText renders the decoded value of a record as an indented tree:
// its format, then one member per line.
func valueText(r *session.Record) string {
	f, js, err := r.DecodedValue()
	if f == payload.None {
		return "No decoded value: the payload is not JSON or a number, and no keyring rule, content type or Sparkplug B topic names its format.\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "── %s", f)
	if r.Value.Why != "" {
		fmt.Fprintf(&b, " (%s)", r.Value.Why)
	}
	b.WriteString(" ──\n")
	if err != nil {
		fmt.Fprintf(&b, "Malformed: %s\n", sanitize(err.Error()))
		return b.String()
	}
	payload.Tree(js, func(depth int, name string, v []byte) {
		if depth == 0 {
			if k := payload.KindOf(v); k != payload.KindObject && k != payload.KindArray {
				b.WriteString(sanitize(string(v)) + "\n")
			}
			return
		}
		b.WriteString(strings.Repeat("  ", depth-1) + sanitize(name))
		switch payload.KindOf(v) {
		case payload.KindObject, payload.KindArray:
		case payload.KindString:
			b.WriteString(": " + sanitize(payload.Unquote(v)))
		default:
			b.WriteString(": " + string(v))
		}
		b.WriteString("\n")
	})
	return b.String()
}

// renderMode renders bytes as text, a hex dump, indented JSON or decoded
// base64.
func renderMode(data []byte, mode int) string {
	if len(data) == 0 {
		return "(empty)\n"
	}
	switch mode {
	case modeHex:
		return hexDump(data)
	case modeJSON:
		var out bytes.Buffer
		if err := json.Indent(&out, bytes.TrimSpace(data), "", "  "); err != nil {
			return "not JSON: " + err.Error() + "\n"
		}
		return sanitizeText(out.Bytes()) + "\n"
	case modeBase64:
		dec, err := decodeBase64(data)
		if err != nil {
			return "not base64: " + err.Error() + "\n"
		}
		if output.Printable(dec) || utf8.Valid(dec) && !bytes.ContainsFunc(dec, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != '\r' }) {
			return fmt.Sprintf("decoded, %d bytes of text:\n%s\n", len(dec), sanitizeText(dec))
		}
		return fmt.Sprintf("decoded, %d bytes:\n%s", len(dec), hexDump(dec))
	}
	return sanitizeText(data) + "\n"
}

// decodeBase64 decodes standard or URL-safe base64, padded or not,
// ignoring white space.
func decodeBase64(data []byte) ([]byte, error) {
	s := strings.Join(strings.Fields(string(data)), "")
	var first error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		dec, err := enc.DecodeString(s)
		if err == nil {
			return dec, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// sanitizeText returns bytes as text, keeping line breaks and tabs and
// escaping other control characters and invalid UTF-8 as \xHH.
func sanitizeText(data []byte) string {
	var b strings.Builder
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "\\x%02x", data[0])
			size = 1
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			// dropped: CR LF line ends
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
		data = data[size:]
	}
	return b.String()
}

// hexDump returns a hex dump: offset, 16 bytes in hex, ASCII.
func hexDump(data []byte) string {
	var b strings.Builder
	ow := max(4, len(strconv.FormatInt(int64(max(len(data)-1, 0)), 16)))
	for off := 0; off < len(data); off += 16 {
		line := []byte(strings.Repeat(" ", hexLineWidth(16, ow)))
		label := strconv.FormatInt(int64(off), 16)
		copy(line[ow-len(label):], label)
		for i := range ow - len(label) {
			line[i] = '0'
		}
		end := min(off+16, len(data))
		for i, c := range data[off:end] {
			hx, ax := hexCellX(i, 16, ow)
			line[hx], line[hx+1] = hexDigits[c>>4], hexDigits[c&15]
			if c < 0x20 || c >= 0x7f {
				c = '.'
			}
			line[ax] = c
		}
		b.Write(bytes.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}
