package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Signed payload formats of an ecdsa rule.
const (
	// FormatTimestampColonBase64 is the ECDSA lab's python-ecdsa sender:
	// "<10-digit unix seconds><message>:<base64 signature>", the signature
	// over "<seconds><message>".
	FormatTimestampColonBase64 = "timestamp-colon-base64"
	// FormatDetachedBase64Suffix is "<message>:<base64 signature>", the
	// signature over "<message>", with no timestamp. The signature is the
	// field after the last ':' (base64 has no ':'), so the message may
	// itself contain ':'.
	FormatDetachedBase64Suffix = "detached-base64-suffix"
)

// Curves an ecdsa rule's key may be on.
const (
	CurveSecp256k1 = "secp256k1"
	CurveP256      = "P-256"
)

// Reasons ECDSAKey.Verify fails; test with errors.Is (format errors wrap
// ErrSigFormat with detail).
var (
	// ErrSigBad: a well-formed signature that does not verify (altered
	// message, or signed by another key).
	ErrSigBad = errors.New("ECDSA signature does not verify")
	// ErrSigFormat: the payload is not in the rule's format (no ':', bad
	// base64, timestamp not 10 digits, signature neither r||s nor DER).
	ErrSigFormat = errors.New("payload is not in the signed format")
)

// OIDs of EC public keys and named curves.
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// curveNames maps the names a keyring may use to the canonical ones.
var curveNames = map[string]string{
	"secp256k1":  CurveSecp256k1,
	"P-256":      CurveP256,
	"p-256":      CurveP256,
	"prime256v1": CurveP256,
	"secp256r1":  CurveP256,
}

// ecdsaHashes are the hashes an ecdsa rule may name.
var ecdsaHashes = map[string]bool{"sha1": true, "sha256": true}

// maxSigLen bounds a decoded signature: DER of two 33-byte integers is 72.
const maxSigLen = 80

// ECDSAKey is an ECDSA public key that verifies signed payloads (seed
// 002). It is safe for concurrent use.
type ECDSAKey struct {
	// Curve is CurveSecp256k1 or CurveP256, from the key.
	Curve string
	// Format is FormatTimestampColonBase64 (the default) or
	// FormatDetachedBase64Suffix.
	Format string
	// Hash is the message digest: "sha1" (python-ecdsa's default) or
	// "sha256".
	Hash string
	// File is the PEM file the key came from ("" when parsed from memory).
	File string

	k1   *secp256k1.PublicKey // when Curve is secp256k1
	p256 *ecdsa.PublicKey     // when Curve is P-256
}

// ParseECDSAKey parses a PEM EC public key ("PUBLIC KEY", as `openssl ec
// -pubout` writes it) on secp256k1 or P-256; a private key ("EC PRIVATE
// KEY" as `openssl ecparam -genkey` writes it, or PKCS#8) is accepted too
// and its public half used. format "" is FormatTimestampColonBase64, hash
// "" is sha1.
func ParseECDSAKey(data []byte, format, hash string) (*ECDSAKey, error) {
	if format == "" {
		format = FormatTimestampColonBase64
	}
	if hash == "" {
		hash = "sha1"
	}
	if format != FormatTimestampColonBase64 && format != FormatDetachedBase64Suffix {
		return nil, fmt.Errorf("unknown ECDSA format %q (want %s or %s)", format, FormatTimestampColonBase64, FormatDetachedBase64Suffix)
	}
	if !ecdsaHashes[hash] {
		return nil, fmt.Errorf("unknown ECDSA hash %q (want sha1 or sha256)", hash)
	}
	k := &ECDSAKey{Format: format, Hash: hash}
	if err := k.parsePEM(data); err != nil {
		return nil, err
	}
	return k, nil
}

// parsePEM sets the key from the first key block of data.
func (k *ECDSAKey) parsePEM(data []byte) error {
	block, err := firstKeyBlock(data)
	if err != nil {
		return err
	}
	switch block.Type {
	case "PUBLIC KEY":
		var spki subjectPublicKeyInfo
		if rest, err := asn1.Unmarshal(block.Bytes, &spki); err != nil || len(rest) != 0 {
			return fmt.Errorf("PUBLIC KEY: not a SubjectPublicKeyInfo: %w", errOrTrailing(err))
		}
		curve, err := ecCurve(spki.Algorithm)
		if err != nil {
			return err
		}
		return k.setPoint(curve, spki.PublicKey.RightAlign(), block.Bytes)
	case "EC PRIVATE KEY":
		if isLegacyEncrypted(block) {
			return errEncryptedPEM("EC PRIVATE KEY (Proc-Type: 4,ENCRYPTED)")
		}
		return k.setFromSEC1(block.Bytes, nil)
	case "PRIVATE KEY":
		var pki privateKeyInfo
		if rest, err := asn1.Unmarshal(block.Bytes, &pki); err != nil || len(rest) != 0 {
			return fmt.Errorf("PRIVATE KEY: not a PKCS#8 PrivateKeyInfo: %w", errOrTrailing(err))
		}
		curve, err := ecCurve(pki.Algorithm)
		if err != nil {
			return err
		}
		return k.setFromSEC1(pki.PrivateKey, curve)
	case "ENCRYPTED PRIVATE KEY":
		return errEncryptedPEM("ENCRYPTED PRIVATE KEY (PKCS#8)")
	case "RSA PRIVATE KEY", "RSA PUBLIC KEY":
		return fmt.Errorf("the key is an RSA key (%s), want an EC public key", block.Type)
	case "CERTIFICATE":
		return errors.New("a certificate, want an EC public key; extract it with: openssl x509 -in CERT.pem -pubkey -noout > public.pem")
	}
	return fmt.Errorf("%s, want an EC public key", pemKind(block))
}

// errOrTrailing is err, or "trailing data" when err is nil.
func errOrTrailing(err error) error {
	if err == nil {
		return errors.New("trailing data after the structure")
	}
	return err
}

// ecCurve returns the named curve of an id-ecPublicKey algorithm, or an
// error for another algorithm, explicit parameters or another curve.
func ecCurve(a algorithmIdentifier) (asn1.ObjectIdentifier, error) {
	if !a.Algorithm.Equal(oidECPublicKey) {
		if a.Algorithm.Equal(oidRSA) {
			return nil, errors.New("the key is an RSA key (rsaEncryption), want an EC public key")
		}
		return nil, fmt.Errorf("the key is %s, want an EC public key", algorithmName(a.Algorithm))
	}
	var curve asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(a.Parameters.FullBytes, &curve); err != nil || len(rest) != 0 {
		return nil, errors.New("EC key with explicit curve parameters, not a named curve; rewrite it with: " +
			"openssl ec -pubin -in KEY.pem -param_enc named_curve -pubout -out public.pem")
	}
	if !curve.Equal(oidSecp256k1) && !curve.Equal(oidP256) {
		return nil, fmt.Errorf("EC key on curve %s; only secp256k1 (1.3.132.0.10) and P-256 (1.2.840.10045.3.1.7) are supported", curve)
	}
	return curve, nil
}

// ecPrivateKey is SEC 1's ECPrivateKey.
type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// setFromSEC1 sets the key to the public half of a SEC 1 private key on
// curve (nil: the curve named inside).
func (k *ECDSAKey) setFromSEC1(der []byte, curve asn1.ObjectIdentifier) error {
	var ec ecPrivateKey
	if rest, err := asn1.Unmarshal(der, &ec); err != nil || len(rest) != 0 {
		return fmt.Errorf("EC private key: not a SEC 1 ECPrivateKey: %w", errOrTrailing(err))
	}
	if curve == nil {
		curve = ec.Curve
		if curve == nil {
			return errors.New("EC private key names no curve")
		}
		if _, err := ecCurve(algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: mustOID(curve)}}); err != nil {
			return err
		}
	}
	if len(ec.PublicKey.Bytes) > 0 {
		return k.setPoint(curve, ec.PublicKey.RightAlign(), nil)
	}
	if len(ec.PrivateKey) == 0 || len(ec.PrivateKey) > 32 {
		return fmt.Errorf("EC private key: private value of %d bytes, want 1 to 32", len(ec.PrivateKey))
	}
	if curve.Equal(oidSecp256k1) {
		k.Curve = CurveSecp256k1
		k.k1 = secp256k1.PrivKeyFromBytes(ec.PrivateKey).PubKey()
		return nil
	}
	var d [32]byte
	priv, err := ecdh.P256().NewPrivateKey(append(d[:32-len(ec.PrivateKey)], ec.PrivateKey...))
	if err != nil {
		return fmt.Errorf("EC private key: %w", err)
	}
	return k.setPoint(curve, priv.PublicKey().Bytes(), nil)
}

// mustOID returns the DER of an OID that asn1 can always marshal (a
// parsed one).
func mustOID(oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		return nil
	}
	return der
}

// setPoint sets the key to an encoded point on curve. spki is the DER of
// the whole SubjectPublicKeyInfo when there is one (P-256 goes through
// crypto/x509).
func (k *ECDSAKey) setPoint(curve asn1.ObjectIdentifier, point, spki []byte) error {
	if curve.Equal(oidSecp256k1) {
		pub, err := secp256k1.ParsePubKey(point)
		if err != nil {
			return fmt.Errorf("secp256k1 public key: %w", err)
		}
		k.Curve, k.k1 = CurveSecp256k1, pub
		return nil
	}
	if spki == nil {
		var err error
		spki, err = asn1.Marshal(subjectPublicKeyInfo{
			Algorithm: algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: mustOID(oidP256)}},
			PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
		})
		if err != nil {
			return fmt.Errorf("P-256 public key: %w", err)
		}
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return fmt.Errorf("P-256 public key: %w", err)
	}
	ep, ok := pub.(*ecdsa.PublicKey)
	if !ok || ep.Curve != elliptic.P256() {
		return errors.New("P-256 public key: not an ECDSA P-256 key")
	}
	k.Curve, k.p256 = CurveP256, ep
	return nil
}

// Verify checks a signed payload in the key's format and returns the
// message (without timestamp and signature; it aliases payload) and the
// timestamp (0 for FormatDetachedBase64Suffix).
//
// FormatTimestampColonBase64: "<10-digit unix seconds><message>:<base64
// sig>", the signature over "<seconds><message>" (the ECDSA lab's sender). The
// signature is the field after the last ':'; it is raw r||s (2*32 bytes,
// python-ecdsa's SigningKey.sign default) or DER. The digest is the key's
// Hash. High-S signatures (python-ecdsa does not normalise S) verify.
//
// A signature that decodes but does not verify returns ErrSigBad
// (message and ts are still set, for the report); a payload not in the
// format returns an error wrapping ErrSigFormat.
func (k *ECDSAKey) Verify(payload []byte) (message []byte, ts int64, err error) {
	i := bytes.LastIndexByte(payload, ':')
	if i < 0 {
		return nil, 0, fmt.Errorf("%w: no ':' before a base64 signature", ErrSigFormat)
	}
	signed, b64 := payload[:i], payload[i+1:]
	message = signed
	if k.Format == FormatTimestampColonBase64 {
		if len(signed) < 10 {
			return nil, 0, fmt.Errorf("%w: %d bytes before the ':', too short for a 10-digit timestamp", ErrSigFormat, len(signed))
		}
		for _, c := range signed[:10] {
			if c < '0' || c > '9' {
				return nil, 0, fmt.Errorf("%w: timestamp %q is not 10 digits", ErrSigFormat, signed[:10])
			}
			ts = ts*10 + int64(c-'0')
		}
		message = signed[10:]
	}
	var buf [maxSigLen]byte
	sig, err := decodeSigBase64(buf[:], b64)
	if err != nil {
		return nil, 0, err
	}
	var digest [sha256.Size]byte
	var d []byte
	if k.Hash == "sha256" {
		digest = sha256.Sum256(signed)
		d = digest[:]
	} else {
		s := sha1.Sum(signed)
		d = append(digest[:0], s[:]...)
	}
	ok, err := k.verifyDigest(d, sig)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return message, ts, ErrSigBad
	}
	return message, ts, nil
}

// decodeSigBase64 decodes a standard base64 signature (padded, or not)
// into buf.
func decodeSigBase64(buf, b64 []byte) ([]byte, error) {
	if len(b64) == 0 {
		return nil, fmt.Errorf("%w: empty signature after the ':'", ErrSigFormat)
	}
	if base64.StdEncoding.DecodedLen(len(b64)) > len(buf)+2 {
		return nil, fmt.Errorf("%w: signature of %d base64 characters is too long for ECDSA", ErrSigFormat, len(b64))
	}
	var tmp [maxSigLen + 3]byte
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	n, err := enc.Decode(tmp[:], b64)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64: %w", ErrSigFormat, err)
	}
	if n > len(buf) {
		return nil, fmt.Errorf("%w: signature of %d bytes is too long for ECDSA", ErrSigFormat, n)
	}
	return buf[:copy(buf, tmp[:n])], nil
}

// derSig is an ASN.1 ECDSA-Sig-Value.
type derSig struct{ R, S *big.Int }

// verifyDigest verifies sig (raw r||s or DER) over digest. ok false is a
// bad signature; err wraps ErrSigFormat.
func (k *ECDSAKey) verifyDigest(digest, sig []byte) (bool, error) {
	if len(sig) == 64 && k.verifyRS(digest, sig[:32], sig[32:]) {
		return true, nil
	}
	var ds derSig
	rest, err := asn1.Unmarshal(sig, &ds)
	if err != nil || len(rest) != 0 || ds.R == nil || ds.S == nil {
		if len(sig) == 64 {
			return false, nil // raw r||s that did not verify
		}
		return false, fmt.Errorf("%w: signature of %d bytes is neither raw r||s (64 bytes) nor DER", ErrSigFormat, len(sig))
	}
	if ds.R.Sign() <= 0 || ds.S.Sign() <= 0 || ds.R.BitLen() > 256 || ds.S.BitLen() > 256 {
		return false, nil
	}
	var r, s [32]byte
	return k.verifyRS(digest, ds.R.FillBytes(r[:]), ds.S.FillBytes(s[:])), nil
}

// verifyRS verifies big-endian r and s (at most 32 bytes each).
func (k *ECDSAKey) verifyRS(digest, r, s []byte) bool {
	if k.k1 != nil {
		var rs, ss secp256k1.ModNScalar
		if rs.SetByteSlice(r) || ss.SetByteSlice(s) {
			return false // r or s not below the group order
		}
		return k1ecdsa.NewSignature(&rs, &ss).Verify(digest, k.k1)
	}
	if k.p256 != nil {
		return ecdsa.Verify(k.p256, digest, new(big.Int).SetBytes(r), new(big.Int).SetBytes(s))
	}
	return false
}

// PublicPEM is the key as `openssl ec -pubout` writes it (SPKI with a
// named curve), for messages and sample generators.
func (k *ECDSAKey) PublicPEM() []byte {
	var point []byte
	oid := oidP256
	switch {
	case k.k1 != nil:
		point, oid = k.k1.SerializeUncompressed(), oidSecp256k1
	case k.p256 != nil:
		der, err := x509.MarshalPKIXPublicKey(k.p256)
		if err != nil {
			return nil
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	default:
		return nil
	}
	der, err := asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: mustOID(oid)}},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
