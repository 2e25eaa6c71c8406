package output

import (
	"strconv"

	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
)

// briefValue is the most of a value the one-line summary shows.
const briefValue = 80

// appendBriefValue appends to the Info text the value of a record whose
// format was named (a keyring rule, the content type, the Sparkplug
// topic), shortened, or why it did not decode. Values recognised by their
// content (JSON) are left out: the summary does not decode payloads.
func appendBriefValue(b []byte, r *session.Record) []byte {
	if !r.Value.Claimed {
		return b
	}
	f, js, err := r.DecodedValue()
	switch {
	case err != nil:
		b = append(b, " ["...)
		b = append(b, f.String()...)
		if e := r.ValueError(); e != nil && e.Limit {
			b = append(b, ": not decoded, a limit was reached]"...)
		} else {
			b = append(b, ": malformed]"...)
		}
	case js != nil:
		b = append(b, ' ')
		b = append(b, f.String()...)
		b = append(b, ' ')
		b = payload.Brief(b, js, briefValue)
	}
	return b
}

// appendValueTree appends the value branch of the detail tree at depth:
// the payload format (and what named it), then the value's members, or
// why it did not decode.
func appendValueTree(b []byte, depth int, r *session.Record) []byte {
	f, js, err := r.DecodedValue()
	if f == payload.None {
		return b
	}
	b = appendTitle(b, depth, session.FieldPayloadFormat)
	b = append(b, f.String()...)
	if why := r.Value.Why; why != "" {
		b = append(b, " ("...)
		b = append(b, why...)
		b = append(b, ')')
	}
	b = append(b, '\n')
	if err != nil {
		b = appendIndent(b, depth+1)
		b = append(b, "Malformed: "...)
		b = append(b, err.Error()...)
		return append(b, '\n')
	}
	payload.TreeRaw(js, func(d int, key []byte, index int, v []byte) {
		b = appendIndent(b, depth+d)
		start := len(b)
		switch {
		case d == 0:
			b = append(b, session.FieldValue.Title...)
		case key != nil:
			b = payload.AppendUnquoted(b, key)
		default:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(index), 10)
			b = append(b, ']')
		}
		switch payload.KindOf(v) {
		case payload.KindObject, payload.KindArray:
		default:
			b = append(b, ": "...)
			b = payload.AppendUnquoted(b, v)
		}
		b = escapeControls(b, start)
		b = append(b, '\n')
	})
	return b
}
