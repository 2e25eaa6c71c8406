package payload

import "strings"

// Format is an encoding of application messages (mqtap.payload_format).
type Format uint8

// Formats; None is an undecided or unknown payload.
const (
	None Format = iota
	JSON
	CBOR
	MsgPack
	Protobuf
	SparkplugB
	Text
)

var formatNames = [...]string{None: "", JSON: "json", CBOR: "cbor", MsgPack: "msgpack", Protobuf: "protobuf", SparkplugB: "sparkplugb", Text: "text"}

// String is the format's name as mqtap.payload_format and keyring rules
// write it; "" for None.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return ""
}

// ParseFormat returns the format a keyring rule names.
func ParseFormat(s string) (Format, bool) {
	for f, name := range formatNames {
		if name != "" && name == s {
			return Format(f), true
		}
	}
	return None, false
}

// FormatNames lists the names ParseFormat accepts, for messages.
func FormatNames() []string { return append([]string(nil), formatNames[1:]...) }

// Compression is a compression wrapped around a payload.
type Compression uint8

// Compressions.
const (
	NoCompression Compression = iota
	Zlib
	Gzip
	Deflate
)

var compressionNames = [...]string{NoCompression: "", Zlib: "zlib", Gzip: "gzip", Deflate: "deflate"}

// String is the compression's name as keyring rules write it.
func (c Compression) String() string {
	if int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return ""
}

// ParseCompression returns the compression a keyring rule names.
func ParseCompression(s string) (Compression, bool) {
	for c, name := range compressionNames {
		if name != "" && name == s {
			return Compression(c), true
		}
	}
	return NoCompression, false
}

// FromContentType returns the format and compression an MQTT 5 Content
// Type names: application/json (and text/json, any +json suffix),
// application/cbor, application/msgpack (x-msgpack, vnd.msgpack),
// application/x-protobuf (protobuf, vnd.google.protobuf, x-protobuffer),
// text/plain; application/zlib, application/gzip and application/deflate
// (the format then comes from the content, Sniff), or a +zlib, +gzip or
// +deflate suffix (application/json+gzip). Parameters after ';' are
// ignored and case does not matter. ok is false for other types.
func FromContentType(ct string) (f Format, c Compression, ok bool) {
	t, _, _ := strings.Cut(ct, ";")
	t = strings.ToLower(strings.TrimSpace(t))
	for _, suffix := range []Compression{Zlib, Gzip, Deflate} {
		if base, cut := strings.CutSuffix(t, "+"+suffix.String()); cut {
			t, c = base, suffix
			break
		}
	}
	switch t {
	case "application/json", "text/json":
		return JSON, c, true
	case "application/cbor":
		return CBOR, c, true
	case "application/msgpack", "application/x-msgpack", "application/vnd.msgpack":
		return MsgPack, c, true
	case "application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf", "application/x-protobuffer":
		return Protobuf, c, true
	case "text/plain":
		return Text, c, true
	case "application/zlib":
		return noFormat(Zlib, c)
	case "application/gzip", "application/x-gzip":
		return noFormat(Gzip, c)
	case "application/deflate":
		return noFormat(Deflate, c)
	}
	if strings.HasSuffix(t, "+json") && strings.Contains(t, "/") {
		return JSON, c, true
	}
	return None, NoCompression, false
}

// noFormat is FromContentType's answer for a compression type: ok unless
// a suffix names a second compression (application/gzip+zlib).
func noFormat(c, suffix Compression) (Format, Compression, bool) {
	if suffix != NoCompression {
		return None, NoCompression, false
	}
	return None, c, true
}

// Sniff recognises a payload by its content alone: JSON when it is a JSON
// object or array (valid, within the default limits), Text when it is a
// number written in JSON's syntax, with JSON's white space (space, tab,
// CR, LF) around it allowed. Binary formats are never guessed: None
// otherwise.
func Sniff(data []byte) Format {
	t := trimSpace(data)
	if len(t) == 0 {
		return None
	}
	switch c := t[0]; {
	case c == '{' || c == '[':
		if Valid(t, DefaultLimits) {
			return JSON
		}
	case c == '-' || c >= '0' && c <= '9':
		if isNumber(t) {
			return Text
		}
	}
	return None
}

// SparkplugNamespace is the first topic level of Sparkplug B messages.
const SparkplugNamespace = "spBv1.0"

// HasSparkplugPrefix reports whether a topic starts with the Sparkplug B
// namespace, "spBv1.0/": a test that does not allocate, before parsing.
func HasSparkplugPrefix(topic []byte) bool {
	const prefix = SparkplugNamespace + "/"
	return len(topic) > len(prefix) && string(topic[:len(prefix)]) == prefix
}

// SparkplugLevels splits a topic as Wireshark's Sparkplug B dissector
// does, for its fields (sparkplugb.namespace, groupid, messagetype,
// edgenodeid, deviceid): by position, the fifth level taking the rest of
// the topic. n is the number of levels found (0 when the first is not
// spBv1.0); Wireshark shows the protocol for n >= 4 only.
func SparkplugLevels(topic []byte) (levels [5]string, n int) {
	if !HasSparkplugPrefix(topic) && string(topic) != SparkplugNamespace {
		return levels, 0
	}
	rest := string(topic)
	for n < 4 {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			levels[n] = rest
			return levels, n + 1
		}
		levels[n], rest = rest[:i], rest[i+1:]
		n++
	}
	levels[4] = rest
	return levels, 5
}

// IsSparkplugTopic reports whether a topic is in the Sparkplug B namespace
// and carries a Sparkplug B payload: spBv1.0/GROUP/TYPE/EDGE[/DEVICE], not
// the host application's spBv1.0/STATE/... whose payload is JSON.
func IsSparkplugTopic(topic []byte) bool {
	if !HasSparkplugPrefix(topic) {
		return false
	}
	t, ok := ParseSparkplugTopic(topic)
	return ok && t.Type != "STATE"
}
