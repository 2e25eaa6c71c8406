package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// readingProto is the schema of the tests and of FuzzProtobufSchema.
const readingProto = `syntax = "proto3";

package factory;

import "google/protobuf/timestamp.proto";

enum State {
  STATE_UNKNOWN = 0;
  RUNNING = 1;
  STOPPED = 2;
}

message Reading {
  int64 id = 1;
  sint32 delta = 2;
  double temp = 3;
  State state = 4;
  Location loc = 5;
  repeated uint32 samples = 6;
  map<string, int32> counts = 7;
  bytes raw = 8;
  oneof source {
    string sensor = 9;
    uint64 device = 10;
  }
  float ratio = 11;
  fixed64 big = 12;
  bool ok = 13;
  repeated Location path = 14;
  google.protobuf.Timestamp at = 15;
  optional int32 level = 16;
  repeated State states = 17;
  map<int32, Reading> children = 18;

  message Location {
    string site = 1;
    int32 line = 2;
  }
}
`

// compileReading writes readingProto to a temporary directory and compiles
// factory.Reading.
func compileReading(tb testing.TB) *Schema {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "reading.proto")
	if err := os.WriteFile(path, []byte(readingProto), 0o600); err != nil {
		tb.Fatal(err)
	}
	s, err := CompileProto(path, "factory.Reading")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// set sets the fields of a dynamic message by name.
func set(m *dynamicpb.Message, fields map[string]any) *dynamicpb.Message {
	fds := m.Descriptor().Fields()
	for name, v := range fields {
		fd := fds.ByName(protoreflect.Name(name))
		switch v := v.(type) {
		case protoreflect.Value:
			m.Set(fd, v)
		default:
			m.Set(fd, protoreflect.ValueOf(v))
		}
	}
	return m
}

func TestCompileProto(t *testing.T) {
	s := compileReading(t)
	if s.Name() != "factory.Reading" {
		t.Errorf("Name %q", s.Name())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "reading.proto")
	if err := os.WriteFile(path, []byte(readingProto), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Reading", ".factory.Reading", "factory.Reading.Location"} {
		if _, err := CompileProto(path, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"factory.Nope", "factory.State", "factory.Reading.CountsEntry", ""} {
		_, err := CompileProto(path, name)
		if err == nil || !strings.Contains(err.Error(), "message "+name+" not found in "+path) {
			t.Errorf("%q: %v", name, err)
		}
	}

	bad := filepath.Join(dir, "bad.proto")
	if err := os.WriteFile(bad, []byte("syntax = \"proto3\";\n\nmessage A {\n  int32 x = ;\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := CompileProto(bad, "A")
	if err == nil || !strings.Contains(err.Error(), "bad.proto:4:13") {
		t.Errorf("syntax error: %v, want bad.proto:4:13", err)
	}
	undef := filepath.Join(dir, "undef.proto")
	if err := os.WriteFile(undef, []byte("syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CompileProto(undef, "A"); err == nil || !strings.Contains(err.Error(), "undef.proto:3:3") {
		t.Errorf("undefined type: %v, want undef.proto:3:3", err)
	}
	_, err = CompileProto(filepath.Join(dir, "absent.proto"), "A")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}

	// Imports come from the file's directory.
	if err := os.WriteFile(filepath.Join(dir, "main.proto"), []byte("syntax = \"proto3\";\npackage m;\nimport \"reading.proto\";\nmessage Batch { repeated factory.Reading readings = 1; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := CompileProto(filepath.Join(dir, "main.proto"), "m.Batch"); err != nil || s.Name() != "m.Batch" {
		t.Errorf("import: %v", err)
	}
}

func TestAppendProtobufSchema(t *testing.T) {
	s := compileReading(t)
	md := s.md
	fd := md.Fields().ByName
	loc := fd("loc").Message()
	ts := fd("at").Message()
	m := set(dynamicpb.NewMessage(md), map[string]any{
		"id":     int64(-9007199254740993),
		"delta":  int32(-5),
		"temp":   21.5,
		"state":  protoreflect.ValueOfEnum(1),
		"loc":    protoreflect.ValueOfMessage(set(dynamicpb.NewMessage(loc), map[string]any{"site": "A", "line": int32(3)})),
		"raw":    []byte{0x00, 0xff},
		"sensor": "s1",
		"ratio":  float32(0.1),
		"big":    uint64(math.MaxUint64),
		"ok":     false, // a default: left out
		"at":     protoreflect.ValueOfMessage(set(dynamicpb.NewMessage(ts), map[string]any{"seconds": int64(5)})),
		"level":  int32(0), // explicit presence: kept
	})
	samples := m.Mutable(fd("samples")).List()
	for _, v := range []uint32{1, 2, 3} {
		samples.Append(protoreflect.ValueOfUint32(v))
	}
	counts := m.Mutable(fd("counts")).Map()
	counts.Set(protoreflect.ValueOfString("b").MapKey(), protoreflect.ValueOfInt32(2))
	counts.Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfInt32(1))
	path := m.Mutable(fd("path")).List()
	path.Append(protoreflect.ValueOfMessage(set(dynamicpb.NewMessage(loc), map[string]any{"site": "x"})))
	path.Append(protoreflect.ValueOfMessage(dynamicpb.NewMessage(loc)))
	states := m.Mutable(fd("states")).List()
	states.Append(protoreflect.ValueOfEnum(2))
	states.Append(protoreflect.ValueOfEnum(7)) // not in the enum: its number
	children := m.Mutable(fd("children")).Map()
	for _, k := range []int32{10, -1, 2} {
		children.Set(protoreflect.ValueOfInt32(k).MapKey(), protoreflect.ValueOfMessage(set(dynamicpb.NewMessage(md), map[string]any{"device": uint64(k + 1)})))
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	data = pbuf(data).varint(99, 1) // an unknown field, dropped

	want := `{"id":-9007199254740993,"delta":-5,"temp":21.5,"state":"RUNNING","loc":{"site":"A","line":3},` +
		`"samples":[1,2,3],"counts":{"a":1,"b":2},"raw":"00ff","sensor":"s1","ratio":0.1,` +
		`"big":18446744073709551615,"path":[{"site":"x"},{}],"at":{"seconds":5},"level":0,` +
		`"states":["STOPPED",7],"children":{"-1":{"device":0},"2":{"device":3},"10":{"device":11}}}`
	out, err := AppendProtobuf([]byte("x"), data, s, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "x"+want {
		t.Errorf("\n got %s\nwant x%s", got, want)
	}
	if !json.Valid(out[1:]) {
		t.Error("invalid JSON")
	}
	if out, err := AppendProtobuf(nil, nil, s, DefaultLimits); err != nil || string(out) != "{}" {
		t.Errorf("empty: %s %v", out, err)
	}
}

func TestAppendProtobufSchemaErrors(t *testing.T) {
	s := compileReading(t)
	var e *Error
	// loc (field 5) says 5 bytes and has 1.
	_, err := AppendProtobuf(nil, []byte{0x2a, 0x05, 0x08}, s, DefaultLimits)
	if !errors.As(err, &e) || e.Format != Protobuf || e.Offset != 1 || e.Limit {
		t.Errorf("truncated: %v", err)
	}
	// Within loc, line (field 2) is a varint cut short, at offset 3.
	out, err := AppendProtobuf([]byte("keep"), []byte{0x08, 0x01, 0x2a, 0x02, 0x10, 0x80}, s, DefaultLimits)
	if !errors.As(err, &e) || e.Offset != 5 || string(out) != "keep" {
		t.Errorf("nested: %v %+v, dst %q", err, e, out)
	}
	// A string that is not UTF-8: an error, offset unknown.
	_, err = AppendProtobuf(nil, pbuf(nil).str(9, "\xff"), s, DefaultLimits)
	if !errors.As(err, &e) || e.Offset != 0 || !strings.Contains(e.Msg, "factory.Reading") {
		t.Errorf("UTF-8: %v", err)
	}

	// children nest Readings: 1 + (map 2, entry... ) levels.
	nested := pbuf(nil).varint(1, 7)
	for i := 0; i < 10; i++ {
		entry := pbuf(nil).varint(1, 1).bytes(2, nested)
		nested = pbuf(nil).bytes(18, entry)
	}
	_, err = AppendProtobuf(nil, nested, s, Limits{MaxDepth: 8, MaxSize: 1 << 20})
	if !errors.As(err, &e) || !e.Limit {
		t.Errorf("depth: %v", err)
	}
	out, err = AppendProtobuf(nil, nested, s, Limits{MaxDepth: 21, MaxSize: 1 << 20})
	if err != nil || !Valid(out, Limits{MaxDepth: 21, MaxSize: 1 << 20}) {
		t.Errorf("depth 21: %v", err)
	}
	_, err = AppendProtobuf(nil, nested, s, Limits{MaxDepth: 21, MaxSize: 100})
	if !errors.As(err, &e) || !e.Limit {
		t.Errorf("size: %v", err)
	}
}

func TestAppendProtobufRaw(t *testing.T) {
	group := func(num protowire.Number, content pbuf) pbuf {
		b := protowire.AppendTag(nil, num, protowire.StartGroupType)
		b = append(b, content...)
		return protowire.AppendTag(b, num, protowire.EndGroupType)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, `{}`},
		{"varint", []byte{0x08, 0x96, 0x01}, `{"1":150}`},
		{"string", pbuf(nil).str(2, "testing"), `{"2":"testing"}`},
		{"nested", pbuf(nil).bytes(3, []byte{0x08, 0x96, 0x01}), `{"3":{"1":150}}`},
		{"repeated at first place", pbuf(nil).varint(1, 1).varint(2, 2).varint(1, 3).str(1, "x"), `{"1":[1,3,"x"],"2":2}`},
		{"fixed", pbuf(nil).fixed32(4, 0xffffffff).fixed64(5, math.MaxUint64), `{"4":4294967295,"5":18446744073709551615}`},
		{"negative varint", pbuf(nil).varint(1, math.MaxUint64), `{"1":18446744073709551615}`},
		{"hex", pbuf(nil).bytes(2, []byte{0xff, 0xfe}), `{"2":"fffe"}`},
		{"empty bytes", pbuf(nil).bytes(2, nil), `{"2":""}`},
		{"text", pbuf(nil).str(2, "hello world"), `{"2":"hello world"}`},
		{"group", group(1, pbuf(nil).varint(1, 1).bytes(2, group(3, nil))), `{"1":{"1":1,"2":{"3":{}}}}`},
		{"large field number", pbuf(nil).varint(protowire.MaxValidNumber, 0), `{"536870911":0}`},
	}
	for _, tt := range tests {
		out, err := AppendProtobuf(nil, tt.data, nil, DefaultLimits)
		if err != nil || string(out) != tt.want {
			t.Errorf("%s: %s %v, want %s", tt.name, out, err, tt.want)
		}
		if err == nil && !json.Valid(out) {
			t.Errorf("%s: invalid JSON %s", tt.name, out)
		}
	}

	// Past MaxDepth a message is left as bytes.
	deep := pbuf(nil).varint(1, 1)
	for i := 0; i < 3; i++ {
		deep = pbuf(nil).bytes(1, deep)
	}
	out, err := AppendProtobuf(nil, deep, nil, Limits{MaxDepth: 3, MaxSize: 1 << 20})
	if want := `{"1":{"1":{"1":"\u0008\u0001"}}}`; err != nil || string(out) != want {
		t.Errorf("depth: %s %v, want %s", out, err, want)
	}
	out, err = AppendProtobuf(nil, deep, nil, Limits{MaxDepth: 4, MaxSize: 1 << 20})
	if want := `{"1":{"1":{"1":{"1":1}}}}`; err != nil || string(out) != want {
		t.Errorf("depth 4: %s %v, want %s", out, err, want)
	}
	// Groups past MaxDepth are an error.
	g := pbuf(nil).varint(1, 1)
	for i := 0; i < 5; i++ {
		g = group(1, g)
	}
	var e *Error
	if _, err := AppendProtobuf(nil, g, nil, Limits{MaxDepth: 3, MaxSize: 1 << 20}); !errors.As(err, &e) || !e.Limit || e.Offset != 2 {
		t.Errorf("group depth: %v", err)
	}
	if _, err := AppendProtobuf(nil, bytes.Repeat([]byte{0x08, 0x01}, 100), nil, Limits{MaxDepth: 3, MaxSize: 50}); !errors.As(err, &e) || !e.Limit {
		t.Errorf("size: %v", err)
	}
}

func TestAppendProtobufRawErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		off  int
	}{
		{"truncated varint", []byte{0x08}, 1},
		{"field 0", []byte{0x08, 0x01, 0x00}, 2},
		{"end group alone", []byte{0x0c}, 0},
		{"group not ended", []byte{0x0b, 0x08, 0x01}, 3},
		{"wrong end group", []byte{0x0b, 0x14}, 1},
		{"wire type 7", []byte{0x0f}, 0},
		{"length past the end", []byte{0x12, 0x05, 0x01}, 1},
		{"fixed32 short", []byte{0x0d, 0x01, 0x02}, 1},
		{"inside a group", []byte{0x0b, 0x10, 0x80}, 2},
	}
	for _, tt := range tests {
		out, err := AppendProtobuf([]byte("dst"), tt.data, nil, DefaultLimits)
		var e *Error
		if !errors.As(err, &e) || e.Format != Protobuf || e.Offset != tt.off || e.Limit || string(out) != "dst" {
			t.Errorf("%s: %v (%+v), want offset %d", tt.name, err, e, tt.off)
		}
	}
	// A bad length-delimited value is not an error: it is bytes.
	if out, err := AppendProtobuf(nil, pbuf(nil).bytes(1, []byte{0x08}), nil, DefaultLimits); err != nil || string(out) != `{"1":"\u0008"}` {
		t.Errorf("bytes: %s %v", out, err)
	}
}

// TestProtocEncode checks the decoder against protoc: a text-format message
// encoded by protoc --encode, decoded with and without the schema. CI
// installs protoc, so its absence fails.
func TestProtocEncode(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Fatalf("protoc is needed for this test (apt-get install protobuf-compiler): %v", err)
	}
	// protoc ships no well-known types here: a schema without imports.
	const schema = `syntax = "proto3";
package factory;
enum State { STATE_UNKNOWN = 0; RUNNING = 1; }
message Reading {
  int64 id = 1;
  sint32 delta = 2;
  double temp = 3;
  State state = 4;
  message Location { string site = 1; int32 line = 2; }
  Location loc = 5;
  repeated uint32 samples = 6;
  map<string, int32> counts = 7;
  bytes raw = 8;
  oneof source { string sensor = 9; uint64 device = 10; }
}
`
	const text = `id: -42 delta: -3 temp: 0.5 state: RUNNING
loc { site: "hall 2" line: 7 }
samples: [4, 5]
counts { key: "ok" value: 9 }
raw: "\001\377"
device: 12345678901234
`
	dir := t.TempDir()
	path := filepath.Join(dir, "reading.proto")
	if err := os.WriteFile(path, []byte(schema), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(protoc, "-I", dir, "--encode=factory.Reading", path)
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("protoc --encode: %v: %s", err, stderr.Bytes())
	}
	s, err := CompileProto(path, "factory.Reading")
	if err != nil {
		t.Fatal(err)
	}
	out, err := AppendProtobuf(nil, data, s, DefaultLimits)
	want := `{"id":-42,"delta":-3,"temp":0.5,"state":"RUNNING","loc":{"site":"hall 2","line":7},` +
		`"samples":[4,5],"counts":{"ok":9},"raw":"01ff","device":12345678901234}`
	if err != nil || string(out) != want {
		t.Errorf("schema:\n got %s %v\nwant %s", out, err, want)
	}
	// Without the schema: id is the varint of -42, temp 0.5's bits, the
	// packed samples the bytes 04 05, and the map entry a message.
	out, err = AppendProtobuf(nil, data, nil, DefaultLimits)
	want = `{"1":18446744073709551574,"2":5,"3":4602678819172646912,"4":1,"5":{"1":"hall 2","2":7},` +
		`"6":"\u0004\u0005","7":{"1":"ok","2":9},"8":"01ff","10":12345678901234}`
	if err != nil || string(out) != want {
		t.Errorf("raw:\n got %s %v\nwant %s", out, err, want)
	}
}
