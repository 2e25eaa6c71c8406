// Package payload decodes the application messages MQTT carries into JSON.
//
// It is pure, like package decode: bytes in, compact JSON text out, no I/O
// once a schema is compiled. Every format decodes to the same shape, a
// JSON value, so that one set of fields (mqtap.value, mqtap.value.<path>),
// one detail branch and one chart serve them all:
//
//   - JSON is checked and compacted (json.go);
//   - CBOR (cbor.go) and MessagePack (msgpack.go) keep map order; byte
//     strings become lowercase hex strings, non-finite floats the strings
//     "NaN", "Infinity" and "-Infinity", and map keys that are not strings
//     their JSON text;
//   - Protobuf (protobuf.go) with the user's own .proto compiled at start
//     (CompileProto), enums by name, 64-bit integers as numbers, bytes as
//     hex; without a schema, the wire format alone (as protoc --decode_raw);
//   - Sparkplug B (sparkplug.go) with its schema built in;
//   - Text: a UTF-8 number such as 23.5 is that number, other text a string.
//
// zlib, gzip or deflate compression may wrap any of them (compress.go).
//
// # Bounds
//
// Nesting deeper than Limits.MaxDepth, output larger than Limits.MaxSize and
// decompression past Limits.MaxSize or Limits.MaxRatio stop decoding with an
// *Error, which says where (the byte offset in the input) and why. A caller
// reports it and keeps the raw bytes.
//
// # Paths
//
// Lookup and Numbers read values back out of the JSON text by dotted path
// (path.go): "t", "metrics.Temperature", "readings.0".
package payload
