package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
)

// HKDFVariant names one way the lab's templates derived the Fernet key from
// the DH shared secret.
type HKDFVariant string

// The HKDF variants the lab's templates used.
const (
	// HKDFInfoZero is the lab spec: HKDF-SHA256, length 32, salt 0x00,
	// info 0x00.
	HKDFInfoZero HKDFVariant = "hkdf-sha256 salt=00 info=00"
	// HKDFInfoNone is an earlier template: info=None (empty info).
	HKDFInfoNone HKDFVariant = "hkdf-sha256 salt=00 info=none"
)

// FernetKey is a derived Fernet key (32 bytes: 16 signing + 16 encryption)
// and how it was derived.
type FernetKey struct {
	Variant HKDFVariant
	Raw     [32]byte
}

// labSalt is the lab's HKDF salt, one zero byte.
var labSalt = []byte{0x00}

// labVariants lists the variants in the order DeriveLabKeys returns them.
var labVariants = []struct {
	v    HKDFVariant
	info string
}{
	{HKDFInfoZero, "\x00"},
	{HKDFInfoNone, ""},
}

// DeriveLabKeys returns the keys of both variants, the spec's first:
// HKDF-SHA256(secret, length 32, salt 0x00, info 0x00 / no info).
//
// crypto/hkdf can only fail for these inputs under GODEBUG=fips140=only;
// a variant that fails there is left out of the result.
func DeriveLabKeys(secret []byte) []FernetKey {
	out := make([]FernetKey, 0, len(labVariants))
	for _, lv := range labVariants {
		raw, err := hkdf.Key(sha256.New, secret, labSalt, lv.info, 32)
		if err != nil || len(raw) != 32 {
			continue
		}
		k := FernetKey{Variant: lv.v}
		copy(k.Raw[:], raw)
		out = append(out, k)
	}
	return out
}

// Encoded is the key as the lab hands it to Fernet: standard-alphabet
// base64 of Raw.
func (k FernetKey) Encoded() string {
	return base64.StdEncoding.EncodeToString(k.Raw[:])
}
