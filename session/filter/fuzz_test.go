package filter

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// FuzzCompile compiles arbitrary filters and evaluates those that compile
// on a few records: neither may panic, and a rejected filter must come with
// a one-line SyntaxError whose column lies within the filter.
func FuzzCompile(f *testing.F) {
	for _, s := range sampleAgreements {
		for _, a := range s.filters {
			f.Add(a.filter)
		}
	}
	for _, seed := range []string{
		``, `(`, `)`, `mqtt.msg[-1:]`, `mqtt.msg[0-0]`, `mqtt.msgid in {1..2 3 , 4}`, `"\`, `'\x`, `r"\"`,
		`mqtt.topic == "\u00e9\U0001F600\101\x41"`, `len(mqtt.topic) > count(tcp.port)`, `all any mqtt.topic`,
		`mqtt.hdrflags & 0x06 == 4`, `ipv6.addr == fe80::1%eth0`, `mqtap.token_time > -9223372036`,
		`not not not (mqtt or (tcp and (ip xor ipv6)))`, `mqtt.msg[2147483647:2147483647]`,
		`mqtt.msg[-2147483648]`, `frame.time_epoch in {1..2.5}`, `mqtt.prop_number in {0..0xffffffff}`,
	} {
		f.Add(seed)
	}
	mal := record(decode.V5, []byte{0x30, 0x05, 0x00, 0x09, 'a'})
	recs := []*session.Record{publish, subscribe, pingreq, publish5, decrypted, mal}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Compile(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): %T %v", expr, err, err)
			}
			if se.Col < 1 || se.Col > utf8.RuneCountInString(expr)+1 {
				t.Fatalf("Compile(%q): column %d out of range", expr, se.Col)
			}
			if msg := se.Error(); strings.ContainsAny(msg, "\n\r") && !strings.ContainsAny(expr, "\n\r") {
				t.Fatalf("Compile(%q): error on several lines: %q", expr, msg)
			}
			return
		}
		if flt.String() != expr {
			t.Fatalf("String() = %q, want %q", flt.String(), expr)
		}
		for _, r := range recs {
			flt.Match(r)
		}
		flt.MatchFrame(recs)
	})
}
