package session

import (
	"errors"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
)

// Value is what mqtap knows of a PUBLISH's application message as data:
// how to decode it (set by the payload stage of the analysis chain) and,
// once asked for (Record.DecodedValue), its decoded value. Decoding is
// lazy: reading a capture that never asks for a value costs nothing more.
type Value struct {
	// Spec says how to decode the payload: from a keyring rule, the MQTT 5
	// Content Type, or the Sparkplug B topic; Format None recognises JSON
	// and numbers by their content.
	Spec payload.Spec
	// Claimed is set when Spec.Format was named rather than recognised: a
	// payload that is not that format is a payload.malformed finding.
	Claimed bool
	// Why says what set Spec, for the detail tree: "rule FILE:LINE",
	// "content type application/cbor", "Sparkplug B topic".
	Why string
	// Sparkplug is the decoded Sparkplug B payload with metric names
	// resolved from the births, when the payload is one. It is shared by
	// copies and never modified once set.
	Sparkplug *payload.SparkplugPayload

	state  valueState
	format payload.Format
	json   []byte
	err    error
	// jsonChecked and jsonValid cache whether the payload is valid JSON,
	// for frame.protocols of a PUBLISH whose Content Type is
	// application/json (Record.validJSON).
	jsonChecked, jsonValid bool
}

// valueState is how far a Value was decoded.
type valueState uint8

const (
	valueUndecided valueState = iota // not decoded yet
	valueDecoded                     // format and json are set
	valueNone                        // the payload has no value (not JSON, no format named)
	valueFailed                      // err is set
)

// reset makes v the Value of a new record, keeping its buffer.
func (v *Value) reset() {
	*v = Value{json: v.json[:0]}
}

// SetDecoded stores a value decoded by the payload stage itself (a
// Sparkplug B payload whose aliases it resolved): its format and JSON.
func (v *Value) SetDecoded(f payload.Format, js []byte) {
	v.state, v.format, v.json, v.err = valueDecoded, f, append(v.json[:0], js...), nil
}

// SetFailed stores why the payload stage could not decode the value.
func (v *Value) SetFailed(f payload.Format, err error) {
	v.state, v.format, v.json, v.err = valueFailed, f, v.json[:0], err
}

// ValueInput is the bytes a record's value is decoded from: the plaintext
// mqtap decrypted or verified when it shows one, else the PUBLISH payload.
// Nil for other packets, and for a payload mqtap could not decrypt.
func (r *Record) ValueInput() []byte {
	if pt, ok := r.Plaintext(); ok {
		return pt
	}
	if r.Packet.Type != decode.PUBLISH {
		return nil
	}
	if r.Crypto.Decrypt != "" {
		return nil // ciphertext mqtap could not open: no value
	}
	return r.Packet.Payload
}

// DecodedValue decodes the record's value on first use and returns its
// format and compact JSON text (mqtap.payload_format, mqtap.value): format
// None and nil when the payload has none, and the decoding error when a
// payload does not decode as the format Spec names. The JSON is reused by
// the record.
func (r *Record) DecodedValue() (payload.Format, []byte, error) {
	v := &r.Value
	if v.state == valueUndecided {
		in := r.ValueInput()
		if in == nil {
			v.state = valueNone
			return payload.None, nil, nil
		}
		js, f, err := payload.Decode(v.json[:0], in, v.Spec, payload.DefaultLimits)
		switch {
		case err != nil:
			v.SetFailed(f, err)
		case f == payload.None:
			v.state = valueNone
		default:
			v.state, v.format, v.json = valueDecoded, f, js
		}
	}
	switch v.state {
	case valueDecoded:
		return v.format, v.json, nil
	case valueFailed:
		return v.format, nil, v.err
	}
	return payload.None, nil, nil
}

// ValueError returns the *payload.Error of a value that did not decode, or
// nil.
func (r *Record) ValueError() *payload.Error {
	_, _, err := r.DecodedValue()
	var e *payload.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
