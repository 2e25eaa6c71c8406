package payload

import (
	"errors"
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
// Errors are *Error. With spec.Format None and no compression, a payload
// that is neither JSON nor a number is not an error: Decode returns None
// and dst.
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
		data = plain
		if f == None {
			if f = Sniff(data); f == None && utf8.Valid(data) {
				f = Text
			}
			if f == None {
				return dst, None, errorf(None, 0, "decompressed %s is neither JSON nor text", spec.Compression)
			}
		}
	}
	if f == None {
		if f = Sniff(data); f == None && spec.UTF8 {
			f = Text
		}
		if f == None {
			return dst, None, nil
		}
	}
	out, err := decodeAs(dst, data, f, spec.Schema, lim)
	return out, f, err
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
		return AppendText(dst, data)
	}
	return dst, errorf(f, 0, "unknown format")
}
