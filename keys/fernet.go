package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fernet/fernet-go"
)

// Fernet token layout (https://github.com/fernet/spec).
const (
	fernetVersion   = 0x80
	fernetTSOff     = 1
	fernetIVOff     = fernetTSOff + 8
	fernetCTOff     = fernetIVOff + aes.BlockSize
	fernetOverhead  = fernetCTOff + sha256.Size // version + time + IV + HMAC
	fernetMinRaw    = fernetOverhead + aes.BlockSize
	fernetMinLength = (fernetMinRaw + 2) / 3 * 4 // base64 of the shortest token
)

// Reasons a Fernet token does not decrypt. DecryptFernet wraps them with
// detail; test with errors.Is.
var (
	// ErrNotFernet: not a Fernet token: not base64url, wrong version byte,
	// too short, or ciphertext not a multiple of 16 bytes.
	ErrNotFernet = errors.New("not a Fernet token")
	// ErrHMAC: a well-formed token whose HMAC matches none of the keys
	// (wrong key, or the token was altered).
	ErrHMAC = errors.New("fernet HMAC mismatch")
	// ErrPadding: the HMAC is right but the decrypted plaintext's PKCS#7
	// padding is bad (the sender encrypted it wrongly).
	ErrPadding = errors.New("fernet plaintext has bad PKCS#7 padding")
)

// FernetResult is a decrypted token.
type FernetResult struct {
	// Plaintext is the decrypted message.
	Plaintext []byte
	// Time is the token's timestamp (UTC).
	Time time.Time
	// Key is the index into keys of the key that verified, -1 if none.
	Key int
}

// DecryptFernet verifies and decrypts token with each key in order (no
// TTL), returning which key verified. Errors wrap ErrNotFernet, ErrHMAC or
// ErrPadding with detail (e.g. "HMAC mismatch under 2 candidate keys").
// Surrounding ASCII whitespace is ignored, and so are line breaks inside
// the token, as Python's base64 decoder does. On ErrHMAC and ErrPadding the
// result still carries the token's Time, and on ErrPadding the Key that
// verified. The plaintext does not alias token.
//
// Padding is checked as Python cryptography does (pad length 1..16, all
// pad bytes equal), which is stricter than fernet-go's own decryption; see
// the package tests for the cross-check against fernet-go.
func DecryptFernet(token []byte, keys []FernetKey) (FernetResult, error) {
	res := FernetResult{Key: -1}
	raw, err := decodeFernet(token)
	if err != nil {
		return res, err
	}
	res.Time = time.Unix(int64(binary.BigEndian.Uint64(raw[fernetTSOff:])), 0).UTC()
	n := len(raw) - sha256.Size
	signed, tag := raw[:n], raw[n:]
	var sum [sha256.Size]byte
	for i := range keys {
		mac := hmac.New(sha256.New, keys[i].Raw[:16])
		mac.Write(signed)
		if !hmac.Equal(mac.Sum(sum[:0]), tag) {
			continue
		}
		res.Key = i
		block, err := aes.NewCipher(keys[i].Raw[16:])
		if err != nil {
			return res, fmt.Errorf("fernet: %w", err)
		}
		ct := raw[fernetCTOff:n]
		cipher.NewCBCDecrypter(block, raw[fernetIVOff:fernetCTOff]).CryptBlocks(ct, ct)
		pad := int(ct[len(ct)-1])
		if pad < 1 || pad > aes.BlockSize {
			return res, fmt.Errorf("%w: last byte is %d, want 1..16 (key %d verified)", ErrPadding, pad, i)
		}
		for _, b := range ct[len(ct)-pad:] {
			if int(b) != pad {
				return res, fmt.Errorf("%w: the last %d bytes are not all %d (key %d verified)", ErrPadding, pad, pad, i)
			}
		}
		res.Plaintext = ct[:len(ct)-pad]
		return res, nil
	}
	switch len(keys) {
	case 0:
		return res, fmt.Errorf("%w: no candidate key to verify with", ErrHMAC)
	case 1:
		return res, fmt.Errorf("%w under 1 candidate key", ErrHMAC)
	}
	return res, fmt.Errorf("%w under %d candidate keys", ErrHMAC, len(keys))
}

// decodeFernet base64url-decodes token and checks its structure, returning
// the raw token in a fresh buffer.
func decodeFernet(token []byte) ([]byte, error) {
	token = bytes.TrimSpace(token)
	if len(token) < fernetMinLength {
		return nil, fmt.Errorf("%w: %d bytes, the shortest token is %d", ErrNotFernet, len(token), fernetMinLength)
	}
	raw := make([]byte, base64.URLEncoding.DecodedLen(len(token)))
	n, err := base64.URLEncoding.Decode(raw, token)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w: not base64url (bad input at byte %d)", ErrNotFernet, int64(ce))
		}
		return nil, fmt.Errorf("%w: not base64url: %w", ErrNotFernet, err)
	}
	raw = raw[:n]
	switch {
	case raw[0] != fernetVersion:
		return nil, fmt.Errorf("%w: version byte is 0x%02x, want 0x80", ErrNotFernet, raw[0])
	case len(raw) < fernetMinRaw:
		return nil, fmt.Errorf("%w: %d bytes decoded, the shortest token is %d", ErrNotFernet, len(raw), fernetMinRaw)
	case (len(raw)-fernetOverhead)%aes.BlockSize != 0:
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, not a multiple of 16", ErrNotFernet, len(raw)-fernetOverhead)
	}
	return raw, nil
}

// LooksLikeFernet is a cheap check (length, base64url alphabet, 'gAAAAA'
// prefix) for "is this payload even a token". It wants the token on one
// line (surrounding whitespace aside) with a timestamp below 2^40 seconds
// (until the year 36812).
func LooksLikeFernet(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) < fernetMinLength || len(b)%4 != 0 || !bytes.HasPrefix(b, []byte("gAAAAA")) {
		return false
	}
	end := len(b)
	for end > len(b)-2 && b[end-1] == '=' {
		end--
	}
	for _, c := range b[:end] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// EncryptFernet encrypts plaintext with key at time now (for the lab
// peer), returning the base64url token. It uses fernet-go with a random IV
// from crypto/rand.
func EncryptFernet(key FernetKey, plaintext []byte, now time.Time) ([]byte, error) {
	k := fernet.Key(key.Raw)
	tok, err := fernet.EncryptAndSignAtTime(plaintext, &k, now)
	if err != nil {
		return nil, fmt.Errorf("fernet encrypt: %w", err)
	}
	return tok, nil
}
