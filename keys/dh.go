package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
)

// OIDs of the two DH key formats Python cryptography (OpenSSL) writes.
var (
	oidDHKeyAgreement = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 3, 1} // PKCS#3
	oidDHPublicNumber = asn1.ObjectIdentifier{1, 2, 840, 10046, 2, 1}     // X9.42
)

// otherOIDs names key algorithms that are not DH, for error messages.
var otherOIDs = map[string]string{
	"1.2.840.113549.1.1.1":  "rsaEncryption",
	"1.2.840.113549.1.1.10": "RSASSA-PSS",
	"1.2.840.10045.2.1":     "id-ecPublicKey (EC)",
	"1.3.101.110":           "X25519",
	"1.3.101.111":           "X448",
	"1.3.101.112":           "Ed25519",
	"1.3.101.113":           "Ed448",
	"1.2.840.10040.4.1":     "DSA",
}

// maxDHBits is the largest modulus accepted, as OpenSSL's
// OPENSSL_DH_MAX_MODULUS_BITS; it bounds the cost of hostile input.
const maxDHBits = 10000

// minWeakBits is the modulus size under which a group is reported weak.
const minWeakBits = 2048

// DHGroup is a Diffie-Hellman group. Q is nil when the key did not carry it
// (PKCS#3 / dhKeyAgreement). A parsed group also remembers the optional
// fields that followed (privateValueLength, or X9.42 j and
// validationParms) so that its keys re-encode byte for byte; a group
// written as a literal has none. DHGroup values are comparable with ==
// (pointer identity); use Equal to compare the numbers.
type DHGroup struct {
	P, G, Q *big.Int

	// tail is the DER of the optional parameter fields that follow p, g
	// (and q) as parsed: privateValueLength for PKCS#3, j and
	// validationParms for X9.42. It is written back verbatim so that a key
	// re-encodes byte for byte as OpenSSL wrote it. A string keeps
	// DHGroup comparable.
	tail string
}

// Equal reports whether g and o have the same P and G.
func (g DHGroup) Equal(o DHGroup) bool {
	if g.P == nil || g.G == nil || o.P == nil || o.G == nil {
		return false
	}
	return g.P.Cmp(o.P) == 0 && g.G.Cmp(o.G) == 0
}

// Bits is the size of the modulus p in bits (0 when P is nil).
func (g DHGroup) Bits() int {
	if g.P == nil {
		return 0
	}
	return g.P.BitLen()
}

// byteLen is the byte length of p.
func (g DHGroup) byteLen() int { return (g.Bits() + 7) / 8 }

// x942 reports whether the group is written with the X9.42 OID: exactly
// when it has a q, as OpenSSL does.
func (g DHGroup) x942() bool { return g.Q != nil }

// check returns an error when the group cannot be computed with: p missing,
// not above 3 or larger than 10000 bits, g missing or negative, q not in
// [2, p-1]. Groups that are merely weak pass; see Weakness.
func (g DHGroup) check() error {
	switch {
	case g.P == nil:
		return errors.New("DH group has no p")
	case g.P.Cmp(big.NewInt(3)) <= 0:
		return fmt.Errorf("DH group p = %v is too small to be a modulus", g.P)
	case g.P.BitLen() > maxDHBits:
		return fmt.Errorf("DH group p has %d bits, more than the %d supported", g.P.BitLen(), maxDHBits)
	case g.G == nil:
		return errors.New("DH group has no g")
	case g.G.Sign() < 0:
		return errors.New("DH group g is negative")
	case g.Q != nil && (g.Q.Cmp(big.NewInt(2)) < 0 || g.Q.Cmp(g.P) >= 0):
		return errors.New("DH group q is not in [2, p-1]")
	}
	return nil
}

// Weakness returns "" or why the group is weak: p under 2048 bits, p not
// (probably) prime, g not in [2, p-2]. Cache-friendly: callers call it once
// per group. The primality test (Baillie-PSW plus one Miller-Rabin round)
// costs about 85 ms for a 4096-bit p; its result is also kept in a small
// package cache (the last 64 moduli), so repeated calls for one group are
// cheap. Safe for concurrent use.
func (g DHGroup) Weakness() string {
	if err := g.check(); err != nil {
		return err.Error()
	}
	var why []string
	if g.Bits() < minWeakBits {
		why = append(why, fmt.Sprintf("p has only %d bits (under %d)", g.Bits(), minWeakBits))
	}
	if !isPrime(g.P) {
		why = append(why, "p is not prime")
	}
	pm2 := new(big.Int).Sub(g.P, big.NewInt(2))
	if g.G.Cmp(big.NewInt(2)) < 0 || g.G.Cmp(pm2) > 0 {
		why = append(why, fmt.Sprintf("g = %s is not in [2, p-2]", shortInt(g.G)))
	}
	return strings.Join(why, "; ")
}

// primeCache remembers primality results of recent moduli, so that a
// capture with many exchanges in one group tests p once.
var primeCache = struct {
	sync.Mutex
	m map[[sha256.Size]byte]bool
}{m: map[[sha256.Size]byte]bool{}}

// primeCacheMax bounds primeCache; it is emptied when full.
const primeCacheMax = 64

// isPrime runs a Baillie-PSW test plus one Miller-Rabin round with a random
// base on p, or returns the cached result for p.
func isPrime(p *big.Int) bool {
	id := sha256.Sum256(p.Bytes())
	primeCache.Lock()
	prime, ok := primeCache.m[id]
	primeCache.Unlock()
	if ok {
		return prime
	}
	prime = p.ProbablyPrime(1)
	primeCache.Lock()
	if len(primeCache.m) >= primeCacheMax {
		clear(primeCache.m)
	}
	primeCache.m[id] = prime
	primeCache.Unlock()
	return prime
}

// shortInt formats n in decimal, abbreviated when long.
func shortInt(n *big.Int) string {
	s := n.String()
	if len(s) > 24 {
		return s[:10] + "…" + s[len(s)-10:] + fmt.Sprintf(" (%d bits)", n.BitLen())
	}
	return s
}

// DHPublicKey is a Diffie-Hellman public value y = g^x mod p with its group.
type DHPublicKey struct {
	Group DHGroup
	Y     *big.Int
}

// DHPrivateKey is a Diffie-Hellman private value x with its public value y.
type DHPrivateKey struct {
	Group DHGroup
	X, Y  *big.Int
	// Source is the file the key came from, "" if generated.
	Source string
}

// algorithmIdentifier is X.509's AlgorithmIdentifier with raw parameters.
type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// subjectPublicKeyInfo is X.509's SubjectPublicKeyInfo.
type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

// privateKeyInfo is PKCS#8's PrivateKeyInfo (RFC 5208) / OneAsymmetricKey
// (RFC 5958); the optional attributes and public key are not used.
type privateKeyInfo struct {
	Version    int
	Algorithm  algorithmIdentifier
	PrivateKey []byte
}

// x942ValidationParms is X9.42's ValidationParms.
type x942ValidationParms struct {
	Seed        asn1.BitString
	PgenCounter *big.Int
}

// parseDHParamsDER parses DER domain parameters: PKCS#3 DHParameter
// SEQUENCE{p, g[, privateValueLength]} when x942 is false, X9.42
// DomainParameters SEQUENCE{p, g, q[, j][, validationParms]} when true.
func parseDHParamsDER(der []byte, x942 bool) (DHGroup, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return DHGroup{}, fmt.Errorf("DH parameters: %w", err)
	}
	if len(rest) != 0 {
		return DHGroup{}, errors.New("DH parameters: trailing data after the parameters")
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return DHGroup{}, errors.New("DH parameters: not a SEQUENCE")
	}
	body := seq.Bytes
	names := []string{"p", "g"}
	if x942 {
		names = append(names, "q")
	}
	vals := make([]*big.Int, len(names))
	for i, name := range names {
		if len(body) == 0 {
			return DHGroup{}, fmt.Errorf("DH parameters: %s is missing", name)
		}
		if body, err = asn1.Unmarshal(body, &vals[i]); err != nil {
			return DHGroup{}, fmt.Errorf("DH parameters: %s: %w", name, err)
		}
	}
	g := DHGroup{P: vals[0], G: vals[1]}
	if x942 {
		g.Q = vals[2]
	}
	if len(body) > 0 {
		if err := checkParamsTail(body, x942); err != nil {
			return DHGroup{}, err
		}
		g.tail = string(body)
	}
	if err := g.check(); err != nil {
		return DHGroup{}, fmt.Errorf("DH parameters: %w", err)
	}
	return g, nil
}

// checkParamsTail checks the optional fields after p, g (and q).
func checkParamsTail(tail []byte, x942 bool) error {
	if !x942 {
		var l *big.Int
		rest, err := asn1.Unmarshal(tail, &l)
		if err != nil {
			return fmt.Errorf("DH parameters: privateValueLength: %w", err)
		}
		if len(rest) != 0 {
			return errors.New("DH parameters: unexpected fields after privateValueLength")
		}
		if l.Sign() < 0 || l.BitLen() > 31 {
			return fmt.Errorf("DH parameters: privateValueLength %v out of range", l)
		}
		return nil
	}
	if tail[0] == 0x02 { // j INTEGER
		var j *big.Int
		var err error
		if tail, err = asn1.Unmarshal(tail, &j); err != nil {
			return fmt.Errorf("DH parameters: j: %w", err)
		}
	}
	if len(tail) > 0 {
		var v x942ValidationParms
		rest, err := asn1.Unmarshal(tail, &v)
		if err != nil {
			return fmt.Errorf("DH parameters: validationParms: %w", err)
		}
		if len(rest) != 0 {
			return errors.New("DH parameters: unexpected fields after validationParms")
		}
	}
	return nil
}

// marshalParams encodes the group's domain parameters as DER.
func (g DHGroup) marshalParams() []byte {
	var body []byte
	ints := []*big.Int{g.P, g.G}
	if g.x942() {
		ints = append(ints, g.Q)
	}
	for _, n := range ints {
		b, err := asn1.Marshal(n)
		if err != nil {
			// Only a nil *big.Int fails; check() rules that out before.
			return nil
		}
		body = append(body, b...)
	}
	body = append(body, g.tail...)
	out, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	return out
}

// algorithm returns the AlgorithmIdentifier OpenSSL writes for the group.
func (g DHGroup) algorithm() algorithmIdentifier {
	oid := oidDHKeyAgreement
	if g.x942() {
		oid = oidDHPublicNumber
	}
	return algorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: g.marshalParams()}}
}

// parseAlgorithm turns an AlgorithmIdentifier into a DH group, or says why
// it is not one.
func parseAlgorithm(a algorithmIdentifier) (DHGroup, error) {
	var x942 bool
	switch {
	case a.Algorithm.Equal(oidDHKeyAgreement):
	case a.Algorithm.Equal(oidDHPublicNumber):
		x942 = true
	default:
		return DHGroup{}, &notDHError{oid: a.Algorithm.String()}
	}
	if len(a.Parameters.FullBytes) == 0 {
		return DHGroup{}, errors.New("DH key has no domain parameters")
	}
	return parseDHParamsDER(a.Parameters.FullBytes, x942)
}

// notDHError is returned for a well-formed key of another algorithm.
type notDHError struct{ oid string }

func (e *notDHError) Error() string {
	if name, ok := otherOIDs[e.oid]; ok {
		return fmt.Sprintf("not a DH key: algorithm %s (%s)", name, e.oid)
	}
	return fmt.Sprintf("not a DH key: algorithm OID %s", e.oid)
}

// decodeOnePEM decodes the single PEM block in data. Bytes after the block
// are an error unless they are whitespace.
func decodeOnePEM(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found (want -----BEGIN ...-----)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("unexpected data after the %s PEM block", block.Type)
	}
	return block, nil
}

// ParseDHPublicKeyPEM parses a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) with
// OID dhKeyAgreement 1.2.840.113549.1.3.1 (params SEQUENCE{p, g[,
// privateValueLength]}) or X9.42 dhpublicnumber 1.2.840.10046.2.1 (params
// SEQUENCE{p, g, q[, j][, validationParms]}), exactly what Python
// cryptography's public_bytes(PEM, SubjectPublicKeyInfo) writes for DH
// keys. Trailing bytes after the PEM block are an error only if they are
// not whitespace. The public value is not validated; see Validate.
func ParseDHPublicKeyPEM(data []byte) (*DHPublicKey, error) {
	block, err := decodeOnePEM(data)
	if err != nil {
		return nil, fmt.Errorf("DH public key: %w", err)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("DH public key: PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	k, err := parseDHPublicKeyDER(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("DH public key: %w", err)
	}
	return k, nil
}

// parseDHPublicKeyDER parses a DER SubjectPublicKeyInfo holding a DH key.
func parseDHPublicKeyDER(der []byte) (*DHPublicKey, error) {
	var spki subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil {
		return nil, fmt.Errorf("SubjectPublicKeyInfo: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after the SubjectPublicKeyInfo")
	}
	g, err := parseAlgorithm(spki.Algorithm)
	if err != nil {
		return nil, err
	}
	if spki.PublicKey.BitLength%8 != 0 {
		return nil, errors.New("public key BIT STRING is not a whole number of bytes")
	}
	var y *big.Int
	rest, err = asn1.Unmarshal(spki.PublicKey.Bytes, &y)
	if err != nil {
		return nil, fmt.Errorf("public value y: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after the public value y")
	}
	return &DHPublicKey{Group: g, Y: y}, nil
}

// Validate returns "" or why y is not a valid public value: y <= 1,
// y >= p-1, or y^q mod p != 1 when Q is known.
func (k *DHPublicKey) Validate() string {
	if k == nil || k.Y == nil {
		return "no public value"
	}
	if err := k.Group.check(); err != nil {
		return err.Error()
	}
	pm1 := new(big.Int).Sub(k.Group.P, big.NewInt(1))
	switch {
	case k.Y.Cmp(big.NewInt(1)) <= 0:
		return fmt.Sprintf("y = %s is not above 1", shortInt(k.Y))
	case k.Y.Cmp(pm1) == 0:
		return "y = p-1 (order 2: leaks one bit and forces a shared secret of 1 or p-1)"
	case k.Y.Cmp(pm1) > 0:
		return "y is not below p-1 (it is not reduced modulo p)"
	}
	if k.Group.Q != nil && !k.Group.inSubgroup(k.Y) {
		return "y^q mod p != 1: y is not in the subgroup of order q"
	}
	return ""
}

// inSubgroup reports whether y^q mod p = 1. With a safe prime (p = 2q+1)
// that is whether y is a quadratic residue modulo p, which the Jacobi
// symbol tells for a fraction of the cost of the exponentiation (a 4096-bit
// one takes tens of milliseconds, and a capture can carry any number of
// forged keys).
func (g DHGroup) inSubgroup(y *big.Int) bool {
	safe := new(big.Int).Lsh(g.Q, 1)
	if safe.Add(safe, big.NewInt(1)).Cmp(g.P) == 0 {
		return big.Jacobi(y, g.P) == 1
	}
	return new(big.Int).Exp(y, g.Q, g.P).Cmp(big.NewInt(1)) == 0
}

// marshalDER encodes k as a DER SubjectPublicKeyInfo.
func (k *DHPublicKey) marshalDER() ([]byte, error) {
	if k == nil || k.Y == nil {
		return nil, errors.New("DH public key has no public value")
	}
	if err := k.Group.check(); err != nil {
		return nil, err
	}
	y, err := asn1.Marshal(k.Y)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: k.Group.algorithm(),
		PublicKey: asn1.BitString{Bytes: y, BitLength: 8 * len(y)},
	})
}

// MarshalPEM writes SubjectPublicKeyInfo PEM with the same OID the key was
// parsed with (dhKeyAgreement by default, X9.42 dhpublicnumber when the
// group has Q), byte-identical to what Python cryptography writes for the
// same key. It returns nil for a key without a usable group or value.
func (k *DHPublicKey) MarshalPEM() []byte {
	der, err := k.marshalDER()
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Fingerprint is a short stable id of the key: first 8 bytes of SHA-256
// over the DER SubjectPublicKeyInfo, hex. It is "" for a key without a
// usable group or value.
func (k *DHPublicKey) Fingerprint() string {
	der, err := k.marshalDER()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// ParseDHPrivateKeyPEM parses PEM "PRIVATE KEY" (PKCS#8 with either DH OID,
// as Python cryptography's private_bytes(PEM, PKCS8, NoEncryption) writes).
// Y is computed as g^x mod p. An "ENCRYPTED PRIVATE KEY" gives an error
// saying passphrase-protected keys are not supported and how to remove the
// passphrase. Trailing bytes after the PEM block are an error only if they
// are not whitespace.
//
// There is no "DH PRIVATE KEY" PEM type in OpenSSL or Python cryptography
// (OpenSSL writes DH private keys only as PKCS#8), so that label is
// reported as unsupported with the command that converts a key to PKCS#8.
func ParseDHPrivateKeyPEM(data []byte) (*DHPrivateKey, error) {
	block, err := decodeOnePEM(data)
	if err != nil {
		return nil, fmt.Errorf("DH private key: %w", err)
	}
	k, err := parsePrivateBlock(block)
	if err != nil {
		return nil, fmt.Errorf("DH private key: %w", err)
	}
	return k, nil
}

// errEncrypted explains passphrase-protected keys.
var errEncrypted = errors.New("passphrase-protected (ENCRYPTED PRIVATE KEY) keys are not supported; " +
	"remove the passphrase with: openssl pkey -in KEY.pem -out KEY-plain.pem")

// parsePrivateBlock parses a PEM block holding a DH private key.
func parsePrivateBlock(block *pem.Block) (*DHPrivateKey, error) {
	switch block.Type {
	case "PRIVATE KEY":
		return parseDHPrivateKeyDER(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errEncrypted
	case "DH PRIVATE KEY", "X9.42 DH PRIVATE KEY":
		return nil, fmt.Errorf("PEM type %q is not a standard format (OpenSSL writes DH private keys as PKCS#8 \"PRIVATE KEY\"); "+
			"convert the key with: openssl pkey -in KEY.pem -out KEY-pkcs8.pem", block.Type)
	}
	return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", block.Type)
}

// parseDHPrivateKeyDER parses a DER PKCS#8 PrivateKeyInfo holding a DH key.
func parseDHPrivateKeyDER(der []byte) (*DHPrivateKey, error) {
	var pki privateKeyInfo
	rest, err := asn1.Unmarshal(der, &pki)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8 PrivateKeyInfo: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after the PKCS#8 PrivateKeyInfo")
	}
	if pki.Version != 0 && pki.Version != 1 {
		return nil, fmt.Errorf("PKCS#8 version %d is not supported", pki.Version)
	}
	g, err := parseAlgorithm(pki.Algorithm)
	if err != nil {
		return nil, err
	}
	var x *big.Int
	rest, err = asn1.Unmarshal(pki.PrivateKey, &x)
	if err != nil {
		return nil, fmt.Errorf("private value x: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after the private value x")
	}
	if x.Sign() <= 0 || x.Cmp(g.P) >= 0 {
		return nil, errors.New("private value x is not in [1, p-1]")
	}
	return &DHPrivateKey{Group: g, X: x, Y: new(big.Int).Exp(g.G, x, g.P)}, nil
}

// Public returns the public half of k (nil for a nil key).
func (k *DHPrivateKey) Public() *DHPublicKey {
	if k == nil {
		return nil
	}
	y := k.Y
	if y == nil && k.X != nil && k.Group.check() == nil {
		y = new(big.Int).Exp(k.Group.G, k.X, k.Group.P)
	}
	return &DHPublicKey{Group: k.Group, Y: y}
}

// MarshalPKCS8PEM writes k as unencrypted PKCS#8 "PRIVATE KEY" PEM, as
// Python cryptography's private_bytes(PEM, PKCS8, NoEncryption()) does. It
// returns nil for a key without a usable group or private value.
func (k *DHPrivateKey) MarshalPKCS8PEM() []byte {
	if k == nil || k.X == nil || k.Group.check() != nil {
		return nil
	}
	x, err := asn1.Marshal(k.X)
	if err != nil {
		return nil
	}
	der, err := asn1.Marshal(privateKeyInfo{Version: 0, Algorithm: k.Group.algorithm(), PrivateKey: x})
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// GenerateDHKey draws x uniformly in [2, p-2] (or [1, q-1] when Q is known)
// from rand, as cryptography does for these groups, and computes y = g^x
// mod p. A privateValueLength in the parameters is kept in the key's
// encoding but does not shorten x.
func GenerateDHKey(g DHGroup, rand io.Reader) (*DHPrivateKey, error) {
	if err := g.check(); err != nil {
		return nil, fmt.Errorf("generate DH key: %w", err)
	}
	if rand == nil {
		return nil, errors.New("generate DH key: no random source")
	}
	// x = lo + r, r uniform in [0, n).
	lo, n := big.NewInt(2), new(big.Int).Sub(g.P, big.NewInt(3))
	if g.Q != nil {
		lo, n = big.NewInt(1), new(big.Int).Sub(g.Q, big.NewInt(1))
	}
	r, err := randInt(rand, n)
	if err != nil {
		return nil, fmt.Errorf("generate DH key: %w", err)
	}
	x := r.Add(r, lo)
	return &DHPrivateKey{Group: g, X: x, Y: new(big.Int).Exp(g.G, x, g.P)}, nil
}

// randInt returns a uniform value in [0, n) by rejection sampling, n > 0.
func randInt(rand io.Reader, n *big.Int) (*big.Int, error) {
	bits := n.BitLen()
	buf := make([]byte, (bits+7)/8)
	mask := byte(0xff >> (uint(len(buf))*8 - uint(bits)))
	r := new(big.Int)
	for range 1000 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("reading random bytes: %w", err)
		}
		buf[0] &= mask
		r.SetBytes(buf)
		if r.Cmp(n) < 0 {
			return r, nil
		}
	}
	return nil, errors.New("random source is not random (1000 draws out of range)")
}

// ParseDHParamsPEM parses "DH PARAMETERS" (PKCS#3 {p, g[,
// privateValueLength]}) and "X9.42 DH PARAMETERS" ({p, g, q, ...}).
// Trailing bytes after the PEM block are an error only if they are not
// whitespace.
func ParseDHParamsPEM(data []byte) (DHGroup, error) {
	block, err := decodeOnePEM(data)
	if err != nil {
		return DHGroup{}, fmt.Errorf("DH parameters: %w", err)
	}
	return parseParamsBlock(block)
}

// parseParamsBlock parses a "DH PARAMETERS" or "X9.42 DH PARAMETERS" block.
func parseParamsBlock(block *pem.Block) (DHGroup, error) {
	switch block.Type {
	case "DH PARAMETERS":
		return parseDHParamsDER(block.Bytes, false)
	case "X9.42 DH PARAMETERS":
		return parseDHParamsDER(block.Bytes, true)
	}
	return DHGroup{}, fmt.Errorf("DH parameters: PEM block is %q, want \"DH PARAMETERS\" or \"X9.42 DH PARAMETERS\"", block.Type)
}

// SharedSecret is y_peer^x mod p as big-endian bytes left-padded to the
// byte length of p (PKCS#3 §8.3; what cryptography's exchange() returns).
// It is an error if the groups differ or the peer value is invalid.
func (k *DHPrivateKey) SharedSecret(peer *DHPublicKey) ([]byte, error) {
	if k == nil || k.X == nil {
		return nil, errors.New("DH exchange: no private value")
	}
	if err := k.Group.check(); err != nil {
		return nil, fmt.Errorf("DH exchange: %w", err)
	}
	if peer == nil || peer.Y == nil {
		return nil, errors.New("DH exchange: no peer public value")
	}
	if !k.Group.Equal(peer.Group) {
		return nil, fmt.Errorf("DH exchange: the peer key is in another group (%d-bit p) than the private key (%d-bit p)",
			peer.Group.Bits(), k.Group.Bits())
	}
	// Validate in our group, so that our q (if known) is the one checked.
	if why := (&DHPublicKey{Group: k.Group, Y: peer.Y}).Validate(); why != "" {
		return nil, fmt.Errorf("DH exchange: invalid peer public value: %s", why)
	}
	z := new(big.Int).Exp(peer.Y, k.X, k.Group.P)
	out := make([]byte, k.Group.byteLen())
	z.FillBytes(out)
	return out, nil
}
