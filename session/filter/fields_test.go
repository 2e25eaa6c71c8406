package filter

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/session"
)

// canonical writes a value as text that does not depend on where it came
// from.
func canonical(v *val) string {
	switch v.k {
	case vUint:
		return "u:" + strconv.FormatUint(v.u, 10)
	case vBytes:
		return "b:" + hex.EncodeToString(v.b)
	case vTime:
		return "t:" + strconv.FormatInt(v.t, 10)
	case vAddr:
		return "a:" + v.a.String()
	case vFloat:
		return "f:" + strconv.FormatFloat(v.f, 'g', -1, 64)
	}
	return "none"
}

// viaEach returns the values of field name as Record.Each shows them, and
// the parts of the derived fields (ip.addr: ip.src and ip.dst, ...).
func viaEach(r *session.Record, name string) []string {
	parts := map[string][]string{
		"ip.addr": {"ip.src", "ip.dst"}, "ipv6.addr": {"ipv6.src", "ipv6.dst"},
		"tcp.port": {"tcp.srcport", "tcp.dstport"},
	}[name]
	if parts == nil {
		parts = []string{name}
	}
	var out []string
	for _, part := range parts {
		r.Each(func(f *decode.Field) {
			if f.Name != part {
				return
			}
			switch f.Kind {
			case decode.KindUint, decode.KindBool:
				out = append(out, "u:"+strconv.FormatUint(f.Uint, 10))
			case decode.KindString, decode.KindBytes:
				if a, err := netip.ParseAddr(string(f.Bytes)); err == nil && (part[:3] == "ip." || part[:5] == "ipv6.") {
					out = append(out, "a:"+a.String())
				} else {
					out = append(out, "b:"+hex.EncodeToString(f.Bytes))
				}
			case session.KindJSON:
				var v val
				jsonValue(f.Bytes, &v)
				out = append(out, canonical(&v))
			case session.KindNumber:
				ns, _ := parseSeconds(f.Bytes)
				out = append(out, "t:"+strconv.FormatInt(ns, 10))
			case decode.KindNone:
				out = append(out, "none")
			}
		})
	}
	return out
}

// TestFieldsAgreeWithEach checks that the values the filter reads straight
// from a Record (without calling Head or Tail) are the values Record.Each
// shows, for every record field and every decoded field.
func TestFieldsAgreeWithEach(t *testing.T) {
	recs := readRecords(t, samples+"mqtt5.pcapng")
	recs = append(recs, readRecords(t, samples+"cooked-sll2.pcap.gz")...)
	recs = append(recs, publish, subscribe, pingreq, publish5, decrypted)
	// a record whose plaintext is not UTF-8, verified but not decrypted
	binary := cloneRecord(decrypted)
	binary.Crypto = session.Crypto{Verify: "ok", Plaintext: []byte{0xff, 0xfe, 0}, Scheme: "ecdsa", Key: "k.pem", KDF: "hkdf", Kex: "request"}
	// a failed decryption, an IPv4-mapped address, a malformed packet
	failed := cloneRecord(decrypted)
	failed.Crypto = session.Crypto{Decrypt: "failed", Reason: "bad token", Plaintext: []byte("x")}
	failed.Src = netip.MustParseAddr("::ffff:10.0.0.1")
	malformed := record(decode.V311, []byte{0x30, 0x05, 0x00, 0x09, 'a'})
	recs = append(recs, binary, failed, malformed)
	if malformed.Packet.Malformed() == "" {
		t.Fatal("the malformed record is not malformed")
	}

	names := session.RecordFields()
	names = append(names, "ip.addr", "ipv6.addr", "tcp.port")
	for _, r := range recs {
		for _, f := range r.Packet.Fields {
			if !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	checked := 0
	for _, name := range names {
		d := lookupField(name)
		if d == nil {
			t.Errorf("%s: unknown to the filter", name)
			continue
		}
		for _, r := range recs {
			var got []string
			var c cursor
			var v val
			for d.next([]*session.Record{r}, &c, &v) {
				got = append(got, canonical(&v))
			}
			want := viaEach(r, name)
			if !slices.Equal(got, want) {
				t.Errorf("frame %d %s: %s = %v, Each shows %v", r.Frame, r.Packet.Type, name, got, want)
			}
			checked += len(got)
		}
	}
	if checked < 1000 {
		t.Errorf("only %d values checked", checked)
	}
}

// TestUntypedRecordFields checks the fallback for record fields the table
// does not type (fields added to session.Record later): they are read from
// Head and Tail and compared by the kind of their values.
func TestUntypedRecordFields(t *testing.T) {
	hidden := []string{"frame.time_epoch", "frame.number", "ip.src", "mqtap.session", "mqtap.findings", "mqtap.token_time", "mqtap.message"}
	saved := map[string]*fieldDef{}
	for _, name := range hidden {
		saved[name] = fieldDefs[name]
		delete(fieldDefs, name)
	}
	defer func() {
		for name, d := range saved {
			fieldDefs[name] = d
		}
	}()
	for _, tc := range []struct {
		filter string
		rec    *session.Record
		want   bool
	}{
		{`frame.number == 7`, publish, true},
		{`frame.number > 0x6 && frame.number < '\x08'`, publish, true},
		{`frame.number in {1..6}`, publish, false},
		{`frame.time_epoch == 1795458474.583138551`, publish, true},
		{`frame.time_epoch > 1795458474`, publish, true},
		{`ip.src == 10.1.2.3`, publish, true},
		{`ip.src == 10.0.0.0/8`, publish, true},
		{`ip.src`, publish5, false},
		{`mqtap.session == "le0nh4rt#1"`, decrypted, true},
		{`mqtap.session contains "#"`, decrypted, true},
		{`mqtap.session matches "^LE0"`, decrypted, true},
		{`mqtap.session[0:2] == "le"`, decrypted, true},
		{`len(mqtap.session) == 10`, decrypted, true},
		{`mqtap.session == le0nh4rt#1`, decrypted, false}, // lexed as le0nh4rt, then an error
		{`mqtap.findings != "kex.mitm"`, decrypted, false},
		{`count(mqtap.findings) == 2`, decrypted, true},
		{`mqtap.token_time == 1795458000`, decrypted, true},
		{`mqtap.message == 4`, decrypted, true},
		{`mqtap.message == mqtap.message`, decrypted, true},
		{`mqtap.message == "4"`, decrypted, false},
		{`mqtap.session`, publish, false},
	} {
		f, err := Compile(tc.filter)
		if err != nil {
			if tc.filter == `mqtap.session == le0nh4rt#1` {
				continue
			}
			t.Errorf("Compile(%s): %v", tc.filter, err)
			continue
		}
		if got := f.Match(tc.rec); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// TestDeclaredFields checks that every declared field resolves in the
// filter to its declaration (the record's fields read from Head and Tail
// stay untyped) and compiles as a presence test, and that the filter knows
// no name that is not declared.
func TestDeclaredFields(t *testing.T) {
	check := func(name string, want *decode.FieldDef) {
		d := lookupField(name)
		switch {
		case d == nil:
			t.Errorf("%s: unknown to the filter", name)
		case want != nil && d.FieldDef != want:
			t.Errorf("%s: the filter does not use its declaration", name)
		case want == nil && d.Type != typeAny:
			t.Errorf("%s: read from Head and Tail but typed %v", name, typeName(d.Type))
		}
		if _, err := Compile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	n := 0
	for _, f := range decode.Fields() {
		check(f.Name, f)
		n++
	}
	for _, f := range session.Fields() {
		if f.Source == session.FromHeadTail || f.Type == session.TypeJSON {
			check(f.Name, nil)
		} else {
			check(f.Name, &f.FieldDef)
		}
		n++
	}
	if len(fieldDefs) != n {
		t.Errorf("the filter knows %d names, %d are declared", len(fieldDefs), n)
	}
}
