package decode

import "testing"

// TestFieldDefs checks the declarations: unique names, a title for every
// field a packet can hold, a width for every integer and flag, value names
// only on one-byte integers, masks only on integers and flags.
func TestFieldDefs(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Fields() {
		if seen[f.Name] {
			t.Errorf("%s is declared twice", f.Name)
		}
		seen[f.Name] = true
		if LookupField(f.Name) != f || !KnownField(f.Name) {
			t.Errorf("%s: LookupField does not find its declaration", f.Name)
		}
		generic := f.Name == "mqtt.prop_number" || f.Name == "mqtt.prop_string"
		if (f.Title == "") != generic {
			t.Errorf("%s: title %q", f.Name, f.Title)
		}
		switch f.Type {
		case TypeUint:
			if f.Bits != 8 && f.Bits != 16 && f.Bits != 32 && f.Bits != 64 {
				t.Errorf("%s: %d bits", f.Name, f.Bits)
			}
		case TypeBool:
			if f.Bits != 1 {
				t.Errorf("%s: a flag of %d bits", f.Name, f.Bits)
			}
		case TypeNone, TypeString, TypeBytes:
			if f.Bits != 0 || f.Mask != 0 || f.Hex {
				t.Errorf("%s: %v with bits %d, mask %#x, hex %v", f.Name, f.Type, f.Bits, f.Mask, f.Hex)
			}
		default:
			t.Errorf("%s: the decoder has no %v fields", f.Name, f.Type)
		}
		if f.Vals != nil && (f.Type != TypeUint || f.Bits != 8) {
			t.Errorf("%s: value names on a %d-bit %v", f.Name, f.Bits, f.Type)
		}
	}
	if len(seen) < 90 {
		t.Errorf("only %d fields declared", len(seen))
	}
	if LookupField("nope") != nil || KnownField("nope") {
		t.Error("an unknown name is known")
	}
	for _, name := range []string{"mqtt.connack.reason_code", "mqtt.disconnect.reason_code", "mqtt.auth.reason_code"} {
		if f := LookupField(name); f == nil || f.Vals == nil || f.Vals(0) == "" {
			t.Errorf("%s: no value names", name)
		}
	}
	if got := LookupField("mqtt.suback.reason_code").Vals(0); got != "Granted QoS 0" {
		t.Errorf("mqtt.suback.reason_code 0 is %q", got)
	}
}

func TestReasonSpecName(t *testing.T) {
	for code, want := range map[uint8]string{
		0x00: "Success",
		0x86: "Bad User Name or Password",
		0x92: "Packet Identifier not found",
		0x9b: "QoS not supported",
		0x9e: "Shared Subscriptions not supported",
		0xa2: "Wildcard Subscriptions not supported",
		0x03: "",
		0xa3: "",
	} {
		if got := ReasonSpecName(code); got != want {
			t.Errorf("ReasonSpecName(0x%02x) = %q, want %q", code, got, want)
		}
	}
}
