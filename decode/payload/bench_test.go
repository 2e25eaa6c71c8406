package payload

import (
	"testing"
)

// Benchmarks of the small payloads mqtap decodes by the million: one
// message per iteration, reported as msgs/s as well as ns/op. The target
// is 500k small JSON payloads a second per core (2 µs each).

// benchJSON is a small sensor reading, 53 bytes, compact.
var benchJSON = []byte(`{"seq":1,"src":"p311q0","capteur":"salle-1","t":16.1}`)

// benchCBOR and benchMsgPack are the same reading in CBOR and MessagePack
// (as cbor2.dumps and msgpack.packb write it).
var (
	benchCBOR    = []byte("\xa4cseq\x01csrcfp311q0gcapteurgsalle-1at\xfb@0\x19\x99\x99\x99\x99\x9a")
	benchMsgPack = []byte("\x84\xa3seq\x01\xa3src\xa6p311q0\xa7capteur\xa7salle-1\xa1t\xcb@0\x19\x99\x99\x99\x99\x9a")
)

// benchDecode decodes data as spec says, b.N times, into a reused buffer.
func benchDecode(b *testing.B, data []byte, spec Spec, want Format) {
	b.Helper()
	out, f, err := Decode(nil, data, spec, DefaultLimits)
	if err != nil || f != want || string(out) != string(benchJSON) {
		b.Fatalf("Decode = %s, %s, %v; want %s", out, f, err, benchJSON)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, _, _ = Decode(out[:0], data, spec, DefaultLimits)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDecodeJSONSmall sniffs and compacts a small JSON object.
func BenchmarkDecodeJSONSmall(b *testing.B) { benchDecode(b, benchJSON, Spec{}, JSON) }

// BenchmarkDecodeCBORSmall decodes the same reading in CBOR.
func BenchmarkDecodeCBORSmall(b *testing.B) { benchDecode(b, benchCBOR, Spec{Format: CBOR}, CBOR) }

// BenchmarkDecodeMsgPackSmall decodes the same reading in MessagePack.
func BenchmarkDecodeMsgPackSmall(b *testing.B) {
	benchDecode(b, benchMsgPack, Spec{Format: MsgPack}, MsgPack)
}

// BenchmarkLookup reads one member of the small reading, as a field
// mqtap.value.t does.
func BenchmarkLookup(b *testing.B) {
	var got float64
	fn := func(v []byte) { got, _ = Number(v) }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Lookup(benchJSON, "t", fn)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if got != 16.1 {
		b.Fatalf("Lookup t = %v", got)
	}
}

// BenchmarkNumbers lists the numbers of the small reading, as the chart
// does.
func BenchmarkNumbers(b *testing.B) {
	n := 0
	fn := func(string, float64) { n++ }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Numbers(benchJSON, fn)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if n != 2*b.N {
		b.Fatalf("Numbers found %d numbers in %d runs", n, b.N)
	}
}
