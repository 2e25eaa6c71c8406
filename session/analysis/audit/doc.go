// Package audit is the broker audit, the last stage of the analysis chain.
//
// # Stage
//
// Only the findings report runs it (Auditor): it reports credentials sent
// in clear text, saying whether they are valid on the broker when it has
// the mosquitto password_file; anonymous clients subscribing to # or $SYS;
// the PUBLISH packets a broker carried although its acl_file forbids them;
// and QoS 1/2 flows that never complete. It also names the client of each
// connection for the report.
//
// # mosquitto
//
// The semantics of acl_file and password_file are those of mosquitto
// 2.0.11 (the Debian 12 package), taken from its source
// (src/security_default.c, src/security.c, lib/util_topic.c) and checked
// against the real broker by the tests:
//
//   - ACL: the per-user (or anonymous) `topic` entries are tried first, in
//     file order except that `deny` entries are moved to the front; then the
//     `pattern` entries, in the same order. The first entry whose topic
//     matches decides: a deny entry denies, an entry granting the access
//     allows, an entry granting another access is skipped. Nothing matching
//     denies.
//   - Patterns substitute %c (client id) and %u (username) anywhere in the
//     string, then match like a subscription filter; patterns with %u never
//     apply to anonymous clients; once patterns exist, a client whose
//     username or client id contains + or # is denied everything that its
//     own topic entries do not allow.
//   - Topics beginning with $ only match entries beginning with $ (so # does
//     not grant $SYS). Publishing to a topic that starts with "$SYS" (so
//     $SYSTEM/x too), except $SYS/broker/connection/+/state, or with "$share"
//     (so $shared/x too) is refused whatever the ACL says.
//   - Subscriptions are not checked: mosquitto 2.0 grants every SUBSCRIBE
//     (SUBACK 0x00-0x02, never 0x87) and instead checks Read for each message
//     it would deliver, retained ones included.
//   - Passwords: $6$ is SHA-512(password || salt), $7$ is
//     PBKDF2-HMAC-SHA512(password, salt, iterations, 64); salt and hash are
//     base64, the salt is 12 bytes and the password is used up to its first
//     NUL byte, as mosquitto handles it as a C string.
package audit

import "strconv"

// Access is what a client does with a topic. The values are mosquitto's
// MOSQ_ACL_* constants.
type Access uint8

const (
	// Read is receiving a message (mosquitto's MOSQ_ACL_READ): the broker
	// checks it for every message it would deliver to a client, retained
	// messages included.
	Read Access = 1
	// Write is publishing (MOSQ_ACL_WRITE).
	Write Access = 2
	// Subscribe is subscribing to a filter (MOSQ_ACL_SUBSCRIBE). mosquitto
	// 2.0's default ACL check allows every subscription; what the
	// subscription delivers is checked with Read.
	Subscribe Access = 4
)

// String returns "read", "write" or "subscribe".
func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	case Subscribe:
		return "subscribe"
	}
	return "access(" + strconv.Itoa(int(a)) + ")"
}
