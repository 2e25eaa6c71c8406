package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	// Hashes named by RSA-OAEP and ECDSA rules, registered for crypto.Hash.New.
	_ "crypto/sha1"
	_ "crypto/sha256"
)

// oaepHashes are the OAEP hashes a keyring may name. The MGF1 hash is the
// same as the label hash, as in OpenSSL and Python cryptography's usual
// padding.OAEP(mgf=MGF1(H), algorithm=H).
var oaepHashes = map[string]crypto.Hash{
	"sha1":   crypto.SHA1,
	"sha256": crypto.SHA256,
}

// RSAOAEPKey is an RSA private key that decrypts RSA-OAEP payloads (seed
// 000). It is safe for concurrent use.
type RSAOAEPKey struct {
	// Hash is the OAEP hash (and MGF1 hash): "sha1", the default and what
	// OpenSSL's RSA_PKCS1_OAEP_PADDING uses (41 bytes of overhead), or
	// "sha256".
	Hash string
	// File is the PEM file the key came from ("" when parsed from memory).
	File string

	key  *rsa.PrivateKey
	hash crypto.Hash
}

// ParseRSAOAEPKey parses a PEM RSA private key, PKCS#1 ("RSA PRIVATE
// KEY") or PKCS#8 ("PRIVATE KEY"), for OAEP with hash ("" is sha1). Other
// PEM blocks before the key (e.g. parameters) are skipped. A public key, a
// key of another algorithm or a passphrase-protected key is an error that
// says so.
func ParseRSAOAEPKey(data []byte, hash string) (*RSAOAEPKey, error) {
	if hash == "" {
		hash = "sha1"
	}
	h, ok := oaepHashes[hash]
	if !ok {
		return nil, fmt.Errorf("unknown RSA-OAEP hash %q (want sha1 or sha256)", hash)
	}
	key, err := parseRSAPrivatePEM(data)
	if err != nil {
		return nil, err
	}
	return &RSAOAEPKey{Hash: hash, key: key, hash: h}, nil
}

// Size is the modulus size in bytes: the length of every ciphertext.
func (k *RSAOAEPKey) Size() int { return k.key.Size() }

// MaxPlaintext is the longest message the key can encrypt: the modulus
// size less 2*hash size+2 (41 bytes for SHA-1, 66 for SHA-256).
func (k *RSAOAEPKey) MaxPlaintext() int { return k.key.Size() - 2*k.hash.Size() - 2 }

// Public returns the public half, for tests and sample generators.
func (k *RSAOAEPKey) Public() *rsa.PublicKey { return &k.key.PublicKey }

// Decrypt decrypts one RSA-OAEP block. A payload longer or shorter than
// the modulus is an error that gives both sizes; otherwise a failure is a
// plain decryption error (wrong key, wrong hash or an altered payload,
// which OAEP cannot tell apart).
func (k *RSAOAEPKey) Decrypt(ciphertext []byte) ([]byte, error) {
	size := k.key.Size()
	switch {
	case len(ciphertext) > size:
		return nil, fmt.Errorf("payload of %d bytes is longer than the %d-byte RSA modulus", len(ciphertext), size)
	case len(ciphertext) < size:
		return nil, fmt.Errorf("payload of %d bytes is not a whole RSA block (%d bytes)", len(ciphertext), size)
	}
	out, err := rsa.DecryptOAEP(k.hash.New(), nil, k.key, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("RSA-OAEP (%s) decryption failed: wrong key, wrong hash or altered payload", k.Hash)
	}
	return out, nil
}

// Encrypt encrypts msg for the key with OAEP, as the seed's publisher does;
// tests and sample generators use it.
func (k *RSAOAEPKey) Encrypt(msg []byte) ([]byte, error) {
	if len(msg) > k.MaxPlaintext() {
		return nil, fmt.Errorf("message of %d bytes is longer than the %d bytes RSA-OAEP (%s) can encrypt with a %d-byte modulus",
			len(msg), k.MaxPlaintext(), k.Hash, k.key.Size())
	}
	out, err := rsa.EncryptOAEP(k.hash.New(), rand.Reader, &k.key.PublicKey, msg, nil)
	if err != nil {
		return nil, fmt.Errorf("RSA-OAEP encryption: %w", err)
	}
	return out, nil
}

// errEncryptedPEM explains a passphrase-protected key of any kind.
func errEncryptedPEM(kind string) error {
	return fmt.Errorf("passphrase-protected %s: mqtap cannot ask for the passphrase; "+
		"remove it with: openssl pkey -in KEY.pem -out KEY-plain.pem", kind)
}

// parseRSAPrivatePEM finds the first private or public key block in data
// and returns it as an RSA private key, or says why it is not one.
func parseRSAPrivatePEM(data []byte) (*rsa.PrivateKey, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		if isLegacyEncrypted(block) {
			return nil, errEncryptedPEM("RSA PRIVATE KEY (Proc-Type: 4,ENCRYPTED)")
		}
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("RSA PRIVATE KEY (PKCS#1): %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		if alg := pkcs8Algorithm(block.Bytes); alg != "" && alg != "rsaEncryption" {
			return nil, fmt.Errorf("the key is %s, want an RSA private key", alg)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PRIVATE KEY (PKCS#8): %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the key is a %T, want an RSA private key", k)
		}
		return rk, nil
	case "ENCRYPTED PRIVATE KEY":
		return nil, errEncryptedPEM("ENCRYPTED PRIVATE KEY (PKCS#8)")
	case "EC PRIVATE KEY":
		return nil, errors.New("the key is an EC private key (EC PRIVATE KEY), want an RSA private key")
	case "CERTIFICATE":
		return nil, errors.New("a certificate, want an RSA private key")
	case "RSA PUBLIC KEY":
		return nil, errors.New("an RSA public key; rsa_oaep needs the private key to decrypt")
	case "PUBLIC KEY":
		if alg := spkiAlgorithm(block.Bytes); alg != "" {
			return nil, fmt.Errorf("a public key (%s); rsa_oaep needs the RSA private key to decrypt", alg)
		}
		return nil, errors.New("a public key; rsa_oaep needs an RSA private key to decrypt")
	}
	return nil, fmt.Errorf("%s, want an RSA private key", pemKind(block))
}

// keyBlockTypes are the PEM types firstKeyBlock stops at.
var keyBlockTypes = map[string]bool{
	"RSA PRIVATE KEY": true, "PRIVATE KEY": true, "ENCRYPTED PRIVATE KEY": true,
	"EC PRIVATE KEY": true, "PUBLIC KEY": true, "RSA PUBLIC KEY": true,
	"DSA PRIVATE KEY": true, "CERTIFICATE": true, "DH PRIVATE KEY": true,
	"X9.42 DH PRIVATE KEY": true, "OPENSSH PRIVATE KEY": true,
}

// firstKeyBlock returns the first PEM block of data that holds a key or
// certificate, skipping parameter blocks ("EC PARAMETERS", as `openssl
// ecparam -genkey` writes before the key, or "DH PARAMETERS").
func firstKeyBlock(data []byte) (*pem.Block, error) {
	var first *pem.Block
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if first == nil {
			first = block
		}
		if keyBlockTypes[block.Type] {
			return block, nil
		}
	}
	if first == nil {
		return nil, errors.New("not a PEM file (no -----BEGIN ...----- block found)")
	}
	return first, nil
}

// isLegacyEncrypted reports an OpenSSL traditional encrypted PEM block.
func isLegacyEncrypted(block *pem.Block) bool {
	return strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
}

// pemKind describes a PEM block by its type, for messages.
func pemKind(block *pem.Block) string {
	return fmt.Sprintf("a PEM block of type %q", block.Type)
}

// algorithmName names an algorithm OID for messages.
func algorithmName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	switch {
	case oid.Equal(oidDHKeyAgreement):
		return "DH"
	case oid.Equal(oidDHPublicNumber):
		return "DH (X9.42)"
	}
	if name, ok := otherOIDs[s]; ok {
		return name
	}
	return "OID " + s
}

// pkcs8Algorithm names the algorithm of a DER PKCS#8 key, "" if it does
// not parse.
func pkcs8Algorithm(der []byte) string {
	var pki privateKeyInfo
	if _, err := asn1.Unmarshal(der, &pki); err != nil {
		return ""
	}
	if pki.Algorithm.Algorithm.Equal(oidRSA) {
		return "rsaEncryption"
	}
	return algorithmName(pki.Algorithm.Algorithm)
}

// spkiAlgorithm names the algorithm of a DER SubjectPublicKeyInfo, "" if
// it does not parse.
func spkiAlgorithm(der []byte) string {
	var spki subjectPublicKeyInfo
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return ""
	}
	if spki.Algorithm.Algorithm.Equal(oidRSA) {
		return "rsaEncryption (RSA)"
	}
	return algorithmName(spki.Algorithm.Algorithm)
}

// oidRSA is rsaEncryption.
var oidRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
