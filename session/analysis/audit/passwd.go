package audit

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// hashType is how a password_file entry is hashed.
type hashType uint8

const (
	// sha512Salted is "$6$": SHA-512(password || salt), mosquitto 1.x.
	sha512Salted hashType = 6
	// pbkdf2SHA512 is "$7$": PBKDF2-HMAC-SHA512, mosquitto 2.x's default.
	pbkdf2SHA512 hashType = 7
)

// The sizes mosquitto accepts: a 12-byte salt and a 64-byte hash.
const (
	saltLen = 12
	hashLen = 64
)

// pwEntry is one user of a password_file.
type pwEntry struct {
	kind       hashType
	iterations int
	salt       []byte
	hash       []byte
}

// Passwords is a parsed mosquitto password_file. Use ParsePasswd to make one;
// the zero value knows no user.
type Passwords struct {
	users map[string]pwEntry
}

// ParsePasswd reads a mosquitto password_file: one `user:hash` per line,
// where hash is $6$SALT$HASH (mosquitto 1.x, SHA-512 of the password followed
// by the salt) or $7$ITERATIONS$SALT$HASH (mosquitto 2.x, PBKDF2-HMAC-SHA512),
// SALT and HASH in base64 (12 and 64 bytes), as mosquitto_passwd writes them.
//
// Lines are read as mosquitto 2.0.11 reads them: a line starting with # and a
// line without ':' are ignored; the username and the hash are trimmed of
// white space; what follows a second ':' is ignored. An entry the broker
// would drop (a plain-text password, an unknown hash type, bad base64, wrong
// sizes) is an error naming FILE:LINE, as is a username given twice, since
// which of the two mosquitto uses is an accident of its hash table.
func ParsePasswd(path string) (*Passwords, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the password_file: %w", path, err)
	}
	p := &Passwords{users: make(map[string]pwEntry)}
	firstLine := make(map[string]int)
	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		line := cstr(string(raw))
		if line == "" || line[0] == '#' || !strings.Contains(line, ":") {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, i+1)
		// strtok_r(buf, ":") twice: empty fields are skipped.
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ':' })
		if len(fields) == 0 {
			continue
		}
		user := strings.Trim(fields[0], cSpace)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s: user %q has no password hash", where, user)
		}
		if prev, dup := firstLine[user]; dup {
			return nil, fmt.Errorf("%s: user %q is already defined on line %d", where, user, prev)
		}
		e, err := parseHash(strings.Trim(fields[1], cSpace))
		if err != nil {
			return nil, fmt.Errorf("%s: user %q: %w", where, user, err)
		}
		p.users[user] = e
		firstLine[user] = i + 1
	}
	return p, nil
}

// parseHash decodes "$6$SALT$HASH" or "$7$ITERATIONS$SALT$HASH" as
// mosquitto's unpwd__decode_passwords does (strtok on '$', so empty fields
// are skipped).
func parseHash(s string) (pwEntry, error) {
	var e pwEntry
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '$' })
	if len(fields) == 0 {
		return e, fmt.Errorf("empty password hash")
	}
	switch fields[0] {
	case "6":
		e.kind = sha512Salted
		fields = fields[1:]
	case "7":
		e.kind = pbkdf2SHA512
		if len(fields) < 2 {
			return e, fmt.Errorf("$7$ hash without an iteration count")
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil || n < 1 {
			return e, fmt.Errorf("$7$ hash with invalid iteration count %q", fields[1])
		}
		e.iterations = n
		fields = fields[2:]
	default:
		if !strings.HasPrefix(s, "$") {
			return e, fmt.Errorf("the password is not hashed (want $6$ or $7$; mosquitto_passwd -U hashes a file)")
		}
		return e, fmt.Errorf("unknown hash type $%s$ (want $6$ or $7$)", fields[0])
	}
	if len(fields) < 2 {
		return e, fmt.Errorf("hash without salt and digest (want $%d$...SALT$HASH)", e.kind)
	}
	salt, err := base64.StdEncoding.DecodeString(fields[0])
	if err != nil || len(salt) != saltLen {
		return e, fmt.Errorf("salt %q is not %d bytes of base64", fields[0], saltLen)
	}
	hash, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil || len(hash) != hashLen {
		return e, fmt.Errorf("digest is not %d bytes of base64", hashLen)
	}
	e.salt, e.hash = salt, hash
	return e, nil
}

// PasswordCheck is what a password_file says of a username and password.
type PasswordCheck uint8

const (
	// UnknownUser: the username is not in the file; mosquitto refuses it.
	UnknownUser PasswordCheck = iota
	// WrongPassword: the user exists, the password is not theirs.
	WrongPassword
	// ValidPassword: the broker accepts this username and password.
	ValidPassword
)

// String returns "unknown-user", "wrong-password" or "valid-password".
func (c PasswordCheck) String() string {
	switch c {
	case UnknownUser:
		return "unknown-user"
	case WrongPassword:
		return "wrong-password"
	case ValidPassword:
		return "valid-password"
	}
	return "password-check(" + strconv.Itoa(int(c)) + ")"
}

// Check reports whether password is user's password in the file, as
// mosquitto's default username/password check decides it: the password is
// used up to its first NUL byte (mosquitto handles it as a C string), a nil
// password (a CONNECT without the password flag) is wrong for a known user,
// and the digests are compared in constant time.
func (p *Passwords) Check(user string, password []byte) PasswordCheck {
	if p == nil {
		return UnknownUser
	}
	e, ok := p.users[user]
	if !ok {
		return UnknownUser
	}
	if password == nil {
		return WrongPassword
	}
	if i := bytes.IndexByte(password, 0); i >= 0 {
		password = password[:i]
	}
	var sum []byte
	switch e.kind {
	case sha512Salted:
		h := sha512.New()
		h.Write(password)
		h.Write(e.salt)
		sum = h.Sum(nil)
	case pbkdf2SHA512:
		var err error
		sum, err = pbkdf2.Key(sha512.New, string(password), e.salt, e.iterations, hashLen)
		if err != nil {
			return WrongPassword
		}
	default:
		return WrongPassword
	}
	if subtle.ConstantTimeCompare(sum, e.hash) == 1 {
		return ValidPassword
	}
	return WrongPassword
}
