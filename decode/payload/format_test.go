package payload

import (
	"reflect"
	"testing"
)

func TestFromContentType(t *testing.T) {
	tests := []struct {
		ct string
		f  Format
		c  Compression
		ok bool
	}{
		{"application/json", JSON, NoCompression, true},
		{"Application/JSON", JSON, NoCompression, true},
		{" application/json ; charset=utf-8", JSON, NoCompression, true},
		{"application/json;charset=UTF-8", JSON, NoCompression, true},
		{"text/json", JSON, NoCompression, true},
		{"application/ld+json", JSON, NoCompression, true},
		{"application/vnd.example.reading+json; v=2", JSON, NoCompression, true},
		{"application/senml+json", JSON, NoCompression, true},
		{"+json", None, NoCompression, false}, // no type/subtype
		{"application/json+gzip", JSON, Gzip, true},
		{"application/JSON+GZIP", JSON, Gzip, true},
		{"application/json+zlib", JSON, Zlib, true},
		{"application/json+deflate", JSON, Deflate, true},
		{"application/vnd.x+json+gzip", JSON, Gzip, true},
		{"application/cbor", CBOR, NoCompression, true},
		{"application/cbor+zlib", CBOR, Zlib, true},
		{"application/msgpack", MsgPack, NoCompression, true},
		{"application/x-msgpack", MsgPack, NoCompression, true},
		{"application/vnd.msgpack", MsgPack, NoCompression, true},
		{"application/msgpack+deflate", MsgPack, Deflate, true},
		{"application/x-protobuf", Protobuf, NoCompression, true},
		{"application/protobuf", Protobuf, NoCompression, true},
		{"application/vnd.google.protobuf; proto=x.Reading", Protobuf, NoCompression, true},
		{"application/x-protobuffer", Protobuf, NoCompression, true},
		{"text/plain", Text, NoCompression, true},
		{"text/plain; charset=utf-8", Text, NoCompression, true},
		{"text/plain+gzip", Text, Gzip, true},
		{"application/zlib", None, Zlib, true},
		{"application/gzip", None, Gzip, true},
		{"application/x-gzip", None, Gzip, true},
		{"APPLICATION/GZIP; name=x", None, Gzip, true},
		{"application/deflate", None, Deflate, true},
		{"application/gzip+zlib", None, NoCompression, false}, // two compressions
		{"application/gzip+gzip", None, NoCompression, false},
		{"application/octet-stream", None, NoCompression, false},
		{"application/octet-stream+gzip", None, NoCompression, false},
		{"text/html", None, NoCompression, false},
		{"application/xml", None, NoCompression, false},
		{"json", None, NoCompression, false},
		{"", None, NoCompression, false},
		{";", None, NoCompression, false},
	}
	for _, tt := range tests {
		f, c, ok := FromContentType(tt.ct)
		if f != tt.f || c != tt.c || ok != tt.ok {
			t.Errorf("FromContentType(%q) = %q, %q, %v; want %q, %q, %v", tt.ct, f, c, ok, tt.f, tt.c, tt.ok)
		}
	}
}

func TestFormatNames(t *testing.T) {
	want := []string{"json", "cbor", "msgpack", "protobuf", "sparkplugb", "text"}
	if got := FormatNames(); !reflect.DeepEqual(got, want) {
		t.Fatalf("FormatNames() = %q, want %q", got, want)
	}
	names := FormatNames()
	names[0] = "changed"
	if FormatNames()[0] != "json" {
		t.Error("FormatNames shares its slice")
	}
	for f := JSON; f <= Text; f++ {
		g, ok := ParseFormat(f.String())
		if !ok || g != f {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", f.String(), g, ok, f)
		}
	}
	for _, s := range []string{"", "JSON", "Json", " json", "proto", "sparkplug", "none", "zlib"} {
		if f, ok := ParseFormat(s); ok || f != None {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, ok)
		}
	}
	if None.String() != "" || Format(200).String() != "" {
		t.Errorf("None and Format(200) are %q and %q, want \"\"", None, Format(200))
	}
}

func TestCompressionNames(t *testing.T) {
	for c, name := range map[Compression]string{Zlib: "zlib", Gzip: "gzip", Deflate: "deflate"} {
		if c.String() != name {
			t.Errorf("%d.String() = %q, want %q", c, c.String(), name)
		}
		got, ok := ParseCompression(name)
		if !ok || got != c {
			t.Errorf("ParseCompression(%q) = %q, %v", name, got, ok)
		}
	}
	for _, s := range []string{"", "GZIP", "gz", "x-gzip", "none", "json"} {
		if c, ok := ParseCompression(s); ok || c != NoCompression {
			t.Errorf("ParseCompression(%q) = %q, %v", s, c, ok)
		}
	}
	if NoCompression.String() != "" || Compression(9).String() != "" {
		t.Error("NoCompression and Compression(9) have names")
	}
}

func TestSparkplugTopics(t *testing.T) {
	tests := []struct {
		topic          string
		prefix, topicB bool
	}{
		{"spBv1.0/G/NDATA/E", true, true},
		{"spBv1.0/G/DDATA/E/D", true, true},
		{"spBv1.0/G/NBIRTH/E", true, true},
		{"spBv1.0/STATE/host", true, false},
		{"spBv1.0/", false, false},
		{"spBv1.0", false, false},
		{"spBv1.1/G/NDATA/E", false, false},
		{"spAv1.0/G/NDATA/E", false, false},
		{"sensors/t", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := HasSparkplugPrefix([]byte(tt.topic)); got != tt.prefix {
			t.Errorf("HasSparkplugPrefix(%q) = %v", tt.topic, got)
		}
		if got := IsSparkplugTopic([]byte(tt.topic)); got != tt.topicB {
			t.Errorf("IsSparkplugTopic(%q) = %v", tt.topic, got)
		}
	}
}
