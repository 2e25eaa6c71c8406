package tap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mqtap/mqtap/decode"
)

// refusedError is a CONNACK refusal.
type refusedError struct {
	server string
	code   byte
	reason string
	err    error // autopaho's *ConnackError
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s refused the connection: %s", e.server, connackText(e.code, e.reason))
}

func (e *refusedError) Unwrap() error { return e.err }

// subRefusedError is a SUBACK refusal.
type subRefusedError struct {
	server string
	topic  string
	code   byte
	reason string
	err    error // paho's error, if any
}

func (e *subRefusedError) Error() string {
	s := fmt.Sprintf("%s: subscription to %q refused: %s (0x%02X)", e.server, e.topic, reasonName(e.code), e.code)
	if e.reason != "" {
		s += fmt.Sprintf(", %q", e.reason)
	}
	return s
}

func (e *subRefusedError) Unwrap() error { return e.err }

// connackText is "bad user name or password (CONNACK reason 0x86)".
func connackText(code byte, reason string) string {
	s := fmt.Sprintf("%s (CONNACK reason 0x%02X", reasonName(code), code)
	if reason != "" {
		s += fmt.Sprintf(", %q", reason)
	}
	return s + ")"
}

// disconnectText is "session taken over (0x8E)".
func disconnectText(code byte, reason string) string {
	name := reasonName(code)
	if code == 0 {
		name = "normal disconnection"
	}
	s := fmt.Sprintf("%s (0x%02X)", name, code)
	if reason != "" {
		s += fmt.Sprintf(", %q", reason)
	}
	return s
}

// reasonName names an MQTT 5 error reason code of CONNACK, SUBACK or
// DISCONNECT by the specification's name, in lower case ("bad user name or
// password", "QoS not supported"); other codes by their number.
func reasonName(code byte) string {
	if code >= 0x80 {
		for _, t := range []decode.Type{decode.CONNACK, decode.SUBACK, decode.DISCONNECT} {
			if decode.ReasonName(t, code) != "" {
				return lowerWords(decode.ReasonSpecName(code))
			}
		}
	}
	return "reason code " + strconv.Itoa(int(code))
}

// lowerWords writes the words of a name in lower case, but for those with
// a capital after their first letter ("QoS").
func lowerWords(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if strings.ToLower(w[1:]) == w[1:] {
			words[i] = strings.ToLower(w)
		}
	}
	return strings.Join(words, " ")
}
