package payload

import (
	"errors"
	"math"
	"unicode/utf8"
)

// Spec says how to decode a payload: its format (None: recognise it by
// its content, Sniff), the compression around it, and the schema of a
// protobuf payload (nil: the wire format alone).
type Spec struct {
	Format      Format
	Compression Compression
	Schema      *Schema
	// UTF8 declares the payload UTF-8 text (the MQTT 5 Payload Format
	// Indicator): with Format None, it is Text when it is not JSON.
	UTF8 bool
}

// Decode appends the JSON text of data decoded as spec says, and returns
// the format it was decoded as. A Sparkplug B payload's metrics keep the
// aliases it carries (names from births are the caller's to resolve).
// Errors are *Error.
//
// With spec.Format None, the payload is recognised by its content, as
// Sniff does but within lim rather than the default limits: a JSON object
// or array is JSON (and one past lim an error with Limit set), a number
// Text; other content is Text when spec.UTF8 declares it text, and
// otherwise not an error: Decode returns None and dst. Decompressed
// content that is not JSON is always Text, an error when not UTF-8.
func Decode(dst, data []byte, spec Spec, lim Limits) ([]byte, Format, error) {
	f := spec.Format
	if spec.Compression != NoCompression {
		plain, err := Inflate(nil, spec.Compression, data, lim)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Format = f
			}
			return dst, f, err
		}
		if f == None {
			if out, sniffed, err := sniffDecode(dst, plain, lim); sniffed != None {
				return out, sniffed, err
			}
			if !utf8.Valid(plain) {
				return dst, None, errorf(None, 0, "decompressed %s is neither JSON nor text", spec.Compression)
			}
			f = Text
		}
		data = plain
	}
	if f == None {
		if out, sniffed, err := sniffDecode(dst, data, lim); sniffed != None || !spec.UTF8 {
			return out, sniffed, err
		}
		f = Text
	}
	out, err := decodeAs(dst, data, f, spec.Schema, lim)
	return out, f, err
}

// sniffDecode appends data recognised by its content: a JSON object or
// array as JSON, a number as Text. It returns None, dst and no error for
// other content.
func sniffDecode(dst, data []byte, lim Limits) ([]byte, Format, error) {
	t := trimSpace(data)
	switch {
	case len(t) > 0 && (t[0] == '{' || t[0] == '['):
		out, err := scanJSON(dst, data, lim, true)
		if err == nil {
			return out, JSON, nil
		}
		if err.Limit && checkJSON(t, Limits{MaxDepth: math.MaxInt, MaxSize: math.MaxInt}) == nil {
			return dst, JSON, err // JSON, past the limits
		}
	case isNumber(t):
		return append(dst, t...), Text, nil
	}
	return dst, None, nil
}

// decodeAs appends data decoded as format f.
func decodeAs(dst, data []byte, f Format, schema *Schema, lim Limits) ([]byte, error) {
	switch f {
	case JSON:
		return AppendJSON(dst, data, lim)
	case CBOR:
		return AppendCBOR(dst, data, lim)
	case MsgPack:
		return AppendMsgPack(dst, data, lim)
	case Protobuf:
		return AppendProtobuf(dst, data, schema, lim)
	case SparkplugB:
		p, err := DecodeSparkplug(data, lim)
		if err != nil {
			return dst, err
		}
		return p.AppendJSON(dst), nil
	case Text:
		out, err := AppendText(dst, data)
		if err == nil && len(out)-len(dst) > lim.MaxSize {
			return dst, limitf(Text, len(data), "JSON larger than %d bytes", lim.MaxSize)
		}
		return out, err
	}
	return dst, errorf(f, 0, "unknown format")
}
