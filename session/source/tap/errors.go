package tap

import (
	"fmt"
	"strconv"
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

// reasonName names an MQTT 5 reason code of CONNACK, SUBACK or DISCONNECT.
func reasonName(code byte) string {
	switch code {
	case 0x80:
		return "unspecified error"
	case 0x81:
		return "malformed packet"
	case 0x82:
		return "protocol error"
	case 0x83:
		return "implementation specific error"
	case 0x84:
		return "unsupported protocol version"
	case 0x85:
		return "client identifier not valid"
	case 0x86:
		return "bad user name or password"
	case 0x87:
		return "not authorized"
	case 0x88:
		return "server unavailable"
	case 0x89:
		return "server busy"
	case 0x8A:
		return "banned"
	case 0x8B:
		return "server shutting down"
	case 0x8C:
		return "bad authentication method"
	case 0x8D:
		return "keep alive timeout"
	case 0x8E:
		return "session taken over"
	case 0x8F:
		return "topic filter invalid"
	case 0x90:
		return "topic name invalid"
	case 0x91:
		return "packet identifier in use"
	case 0x93:
		return "receive maximum exceeded"
	case 0x94:
		return "topic alias invalid"
	case 0x95:
		return "packet too large"
	case 0x96:
		return "message rate too high"
	case 0x97:
		return "quota exceeded"
	case 0x98:
		return "administrative action"
	case 0x99:
		return "payload format invalid"
	case 0x9A:
		return "retain not supported"
	case 0x9B:
		return "QoS not supported"
	case 0x9C:
		return "use another server"
	case 0x9D:
		return "server moved"
	case 0x9E:
		return "shared subscriptions not supported"
	case 0x9F:
		return "connection rate exceeded"
	case 0xA0:
		return "maximum connect time"
	case 0xA1:
		return "subscription identifiers not supported"
	case 0xA2:
		return "wildcard subscriptions not supported"
	}
	return "reason code " + strconv.Itoa(int(code))
}
