package tap

import "testing"

// TestReasonName checks the names of the reason codes in the tap's errors:
// the specification's, in lower case, for the error codes CONNACK, SUBACK
// and DISCONNECT may carry, and the number for the others.
func TestReasonName(t *testing.T) {
	for code, want := range map[byte]string{
		0x80: "unspecified error",
		0x86: "bad user name or password",
		0x8d: "keep alive timeout",
		0x91: "packet identifier in use",
		0x92: "reason code 146", // PUBREL and PUBCOMP only
		0x9b: "QoS not supported",
		0x9e: "shared subscriptions not supported",
		0xa2: "wildcard subscriptions not supported",
		0xa3: "reason code 163",
		0x04: "reason code 4",
		0x00: "reason code 0",
	} {
		if got := reasonName(code); got != want {
			t.Errorf("reasonName(0x%02x) = %q, want %q", code, got, want)
		}
	}
	if got, want := disconnectText(0, ""), "normal disconnection (0x00)"; got != want {
		t.Errorf("disconnectText(0) = %q, want %q", got, want)
	}
	if got, want := connackText(0x87, "no"), `not authorized (CONNACK reason 0x87, "no")`; got != want {
		t.Errorf("connackText = %q, want %q", got, want)
	}
}
