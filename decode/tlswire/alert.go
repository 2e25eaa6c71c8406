package tlswire

import (
	"fmt"
	"strconv"
)

// Alert levels (RFC 5246 7.2).
const (
	// AlertWarning is the level of a warning alert.
	AlertWarning byte = 1
	// AlertFatal is the level of a fatal alert.
	AlertFatal byte = 2
)

// ParseAlert parses the body of a plaintext Alert record: one alert, a level
// and a description. Use AlertName for the description's name. A body that is
// not 2 bytes long (an encrypted alert, for one) or whose level is neither
// warning nor fatal is an error; level and desc are still returned when the
// body holds at least 2 bytes.
func ParseAlert(body []byte) (level, desc byte, err error) {
	if len(body) < 2 {
		return 0, 0, fmt.Errorf("Alert: body is %d bytes, want 2 (level and description)", len(body))
	}
	level, desc = body[0], body[1]
	if len(body) != 2 {
		return level, desc, fmt.Errorf("Alert: body is %d bytes, want 2 (encrypted, or several alerts in one record)", len(body))
	}
	if level != AlertWarning && level != AlertFatal {
		return level, desc, fmt.Errorf("Alert: level %d is neither warning (1) nor fatal (2)", level)
	}
	return level, desc, nil
}

// AlertName returns the RFC name of an alert description, such as
// "close_notify" or "handshake_failure", or "alert(N)" for an unassigned one.
func AlertName(desc byte) string {
	switch desc {
	case 0:
		return "close_notify"
	case 10:
		return "unexpected_message"
	case 20:
		return "bad_record_mac"
	case 21:
		return "decryption_failed"
	case 22:
		return "record_overflow"
	case 30:
		return "decompression_failure"
	case 40:
		return "handshake_failure"
	case 41:
		return "no_certificate"
	case 42:
		return "bad_certificate"
	case 43:
		return "unsupported_certificate"
	case 44:
		return "certificate_revoked"
	case 45:
		return "certificate_expired"
	case 46:
		return "certificate_unknown"
	case 47:
		return "illegal_parameter"
	case 48:
		return "unknown_ca"
	case 49:
		return "access_denied"
	case 50:
		return "decode_error"
	case 51:
		return "decrypt_error"
	case 60:
		return "export_restriction"
	case 70:
		return "protocol_version"
	case 71:
		return "insufficient_security"
	case 80:
		return "internal_error"
	case 86:
		return "inappropriate_fallback"
	case 90:
		return "user_canceled"
	case 100:
		return "no_renegotiation"
	case 109:
		return "missing_extension"
	case 110:
		return "unsupported_extension"
	case 111:
		return "certificate_unobtainable"
	case 112:
		return "unrecognized_name"
	case 113:
		return "bad_certificate_status_response"
	case 114:
		return "bad_certificate_hash_value"
	case 115:
		return "unknown_psk_identity"
	case 116:
		return "certificate_required"
	case 120:
		return "no_application_protocol"
	case 121:
		return "ech_required"
	}
	return "alert(" + strconv.Itoa(int(desc)) + ")"
}
