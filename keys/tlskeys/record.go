package tlskeys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// Reasons Decrypter.Decrypt fails; test with errors.Is (the errors
// returned wrap one of these with details).
var (
	// ErrAuth: the AEAD tag or the HMAC does not verify. With a key
	// from the key log this means the wrong key (another connection's
	// secrets, the wrong direction) or a record that was corrupted, lost
	// or decrypted out of order (the sequence number is part of the MAC).
	ErrAuth = errors.New("TLS record authentication failed (wrong key, or a record corrupted, missing or out of order)")
	// ErrPadding: the CBC padding of a MAC-then-encrypt record is not
	// TLS padding, which with a correct MAC key also means the wrong key
	// or a corrupted record.
	ErrPadding = errors.New("TLS record has bad CBC padding (wrong key, or a corrupted record)")
	// ErrShort: the record is shorter than its protection alone.
	ErrShort = errors.New("TLS record too short")
	// ErrLength: the record's length is impossible for its protection
	// (a CBC ciphertext that is not whole blocks) or disagrees with its
	// header.
	ErrLength = errors.New("TLS record has an impossible length")
)

// TLS record content types.
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23
)

// Decrypter removes the record protection of one direction of one
// connection, keeping the sequence number (and, in TLS 1.0 CBC, the IV
// chained from the previous record). Records must be given in the order
// they were sent. It is not safe for concurrent use.
type Decrypter struct {
	suite   *Suite
	version uint16 // negotiated version; 0x0304 for TLS 1.3
	seq     uint64

	// AEAD suites.
	aead    cipher.AEAD
	fixedIV []byte // GCM/CCM salt (TLS 1.2), or the IV XORed with seq

	// CBC suites.
	block   cipher.Block
	mac     hash.Hash // keyed HMAC
	chained []byte    // TLS 1.0: the IV of the next record
	etm     bool      // encrypt_then_mac (RFC 7366)

	secret []byte // TLS 1.3 traffic secret, for KeyUpdate
}

// NewDecrypter12 returns the decrypter of one direction of a TLS 1.0,
// 1.1 or 1.2 connection (client: the records the client sends, with the
// client's write keys). It expands master (the 48-byte master secret of a
// CLIENT_RANDOM key log line; with the extended master secret of RFC 7627
// too, which only changes how the peers computed it) and the 32-byte
// randoms of the hellos into the key block (RFC 5246 6.3), with the PRF of
// the version: P_SHA256, or P_SHA384 for *_SHA384 suites, in TLS 1.2; the
// MD5/SHA-1 PRF of RFC 2246 5 in TLS 1.0 and 1.1.
//
// AES-GCM and AES-CCM records carry an 8-byte explicit nonce after the
// 4-byte implicit salt (RFC 5288, 6655); ChaCha20-Poly1305 XORs its 12-byte
// IV with the sequence number (RFC 7905). CBC records carry an explicit IV
// in TLS 1.1 and 1.2, and chain the IV from the key block and the previous
// record in TLS 1.0; the HMAC covers seq|type|version|length|plaintext and
// comes before the padding, or, with encryptThenMAC (RFC 7366, the
// extension in both hellos), covers the IV and ciphertext and follows them.
func NewDecrypter12(s *Suite, version uint16, master, clientRandom, serverRandom []byte, client, encryptThenMAC bool) (*Decrypter, error) {
	if s == nil {
		return nil, errors.New("TLS decrypter: no cipher suite")
	}
	if s.TLS13 {
		return nil, fmt.Errorf("TLS decrypter: %s is a TLS 1.3 suite: use a traffic secret", s.Name)
	}
	if !s.CanDecrypt() {
		return nil, fmt.Errorf("TLS decrypter: mqtap does not decrypt %s records", s.Name)
	}
	if version < 0x0301 || version > 0x0303 {
		return nil, fmt.Errorf("TLS decrypter: version %s, want TLS 1.0, 1.1 or 1.2", VersionName(version))
	}
	aead := s.tagLen > 0
	if version < 0x0303 && (aead || s.mac != crypto.SHA1) {
		return nil, fmt.Errorf("TLS decrypter: %s needs TLS 1.2, the connection is %s", s.Name, VersionName(version))
	}
	if len(master) != 48 {
		return nil, fmt.Errorf("TLS decrypter: master secret is %d bytes, want 48", len(master))
	}
	if len(clientRandom) != 32 || len(serverRandom) != 32 {
		return nil, fmt.Errorf("TLS decrypter: randoms of %d and %d bytes, want 32", len(clientRandom), len(serverRandom))
	}

	macLen, ivLen := 0, s.fixedIV
	if !aead {
		macLen = s.mac.Size()
		if version == 0x0301 {
			ivLen = s.blockSize
		}
	}
	seed := make([]byte, 0, 64)
	seed = append(append(seed, serverRandom...), clientRandom...)
	n := 2 * (macLen + s.keyLen + ivLen)
	var kb []byte
	if version == 0x0303 {
		kb = prf12(hashFunc(s.prf), master, "key expansion", seed, n)
	} else {
		kb = prf10(master, "key expansion", seed, n)
	}
	take := func(l int) []byte {
		b := kb[:l:l]
		kb = kb[l:]
		return b
	}
	cMAC, sMAC := take(macLen), take(macLen)
	cKey, sKey := take(s.keyLen), take(s.keyLen)
	cIV, sIV := take(ivLen), take(ivLen)
	macKey, key, iv := sMAC, sKey, sIV
	if client {
		macKey, key, iv = cMAC, cKey, cIV
	}

	d := &Decrypter{suite: s, version: version, etm: encryptThenMAC}
	if aead {
		a, err := newAEAD(s, key)
		if err != nil {
			return nil, err
		}
		d.aead, d.fixedIV = a, iv
		return d, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("TLS decrypter: %w", err)
	}
	d.block = block
	d.mac = hmac.New(hashFunc(s.mac), macKey)
	if version == 0x0301 {
		d.chained = append([]byte(nil), iv...)
	}
	return d, nil
}

// NewDecrypter13 returns the decrypter of the records protected with a
// TLS 1.3 traffic secret (a handshake or application traffic secret of the
// key log), deriving key and IV with HKDF-Expand-Label "key" and "iv"
// (RFC 8446 7.3) and the suite's hash.
func NewDecrypter13(s *Suite, secret []byte) (*Decrypter, error) {
	if s == nil {
		return nil, errors.New("TLS decrypter: no cipher suite")
	}
	if !s.TLS13 {
		return nil, fmt.Errorf("TLS decrypter: %s is not a TLS 1.3 suite", s.Name)
	}
	if !s.CanDecrypt() {
		return nil, fmt.Errorf("TLS decrypter: mqtap does not decrypt %s records", s.Name)
	}
	if len(secret) != s.prf.Size() {
		return nil, fmt.Errorf("TLS decrypter: traffic secret is %d bytes, %s wants %d", len(secret), s.Name, s.prf.Size())
	}
	d := &Decrypter{suite: s, version: 0x0304}
	if err := d.setTrafficSecret(append([]byte(nil), secret...)); err != nil {
		return nil, err
	}
	return d, nil
}

// KeyUpdate moves a TLS 1.3 decrypter to the next generation of its
// traffic secret, HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)
// (RFC 8446 7.2), with sequence number 0. Call it after decrypting the
// record that holds the peer's KeyUpdate message.
func (d *Decrypter) KeyUpdate() error {
	if d.version != 0x0304 {
		return fmt.Errorf("TLS decrypter: KeyUpdate on a %s connection", VersionName(d.version))
	}
	next, err := hkdfExpandLabel(hashFunc(d.suite.prf), d.secret, "traffic upd", nil, len(d.secret))
	if err != nil {
		return fmt.Errorf("TLS decrypter: key update: %w", err)
	}
	return d.setTrafficSecret(next)
}

// setTrafficSecret derives the key and IV of a TLS 1.3 traffic secret and
// restarts the sequence numbers.
func (d *Decrypter) setTrafficSecret(secret []byte) error {
	h := hashFunc(d.suite.prf)
	key, err := hkdfExpandLabel(h, secret, "key", nil, d.suite.keyLen)
	if err != nil {
		return fmt.Errorf("TLS decrypter: deriving the key: %w", err)
	}
	iv, err := hkdfExpandLabel(h, secret, "iv", nil, d.suite.fixedIV)
	if err != nil {
		return fmt.Errorf("TLS decrypter: deriving the IV: %w", err)
	}
	a, err := newAEAD(d.suite, key)
	if err != nil {
		return err
	}
	d.aead, d.fixedIV, d.secret, d.seq = a, iv, secret, 0
	return nil
}

// Decrypt removes the protection of one record: header is its 5-byte
// header, body the rest (the ciphertext). It returns the plaintext (a new
// slice) and its content type: in TLS 1.3 the inner type, with the zero
// padding removed; before, the header's. The sequence number advances on
// success and on failure, as the peers' did, so that one damaged record
// does not stop the next from decrypting (except for a TLS 1.3 record
// whose outer type is not application_data, which is not protected: an
// error that uses up no sequence number). Errors wrap ErrAuth,
// ErrPadding, ErrShort or ErrLength.
func (d *Decrypter) Decrypt(header []byte, body []byte) (plain []byte, contentType byte, err error) {
	if len(header) != 5 {
		return nil, 0, fmt.Errorf("TLS record header of %d bytes, want 5", len(header))
	}
	if d.version == 0x0304 && header[0] != typeApplicationData {
		// TLS 1.3 protects only application_data records; a
		// change_cipher_spec (middlebox compatibility) or a plaintext alert
		// does not use up a sequence number.
		return nil, 0, fmt.Errorf("TLS 1.3 record of type %d is not protected (want %d)", header[0], typeApplicationData)
	}
	seq := d.seq
	d.seq++
	if n := int(binary.BigEndian.Uint16(header[3:])); n != len(body) {
		return nil, 0, fmt.Errorf("%w: header says %d bytes, body is %d", ErrLength, n, len(body))
	}
	switch {
	case d.version == 0x0304:
		return d.open13(seq, header, body)
	case d.aead != nil:
		plain, err = d.open12(seq, header, body)
	case d.etm:
		plain, err = d.openETM(seq, header, body)
	default:
		plain, err = d.openMtE(seq, header, body)
	}
	if err != nil {
		return nil, 0, err
	}
	return plain, header[0], nil
}

// open13 opens a TLS 1.3 record: the header is the additional data, the
// nonce the IV XOR the sequence number, and the plaintext ends with the
// real content type and zero padding (RFC 8446 5.2-5.4).
func (d *Decrypter) open13(seq uint64, header, body []byte) ([]byte, byte, error) {
	if len(body) < d.aead.Overhead()+1 {
		return nil, 0, fmt.Errorf("%w: %d bytes, a %s record has at least %d", ErrShort, len(body), d.suite.Name, d.aead.Overhead()+1)
	}
	plain, err := d.aead.Open(nil, d.seqNonce(seq), body, header)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s record %d", ErrAuth, d.suite.Name, seq)
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, fmt.Errorf("TLS 1.3 record %d is all padding, with no content type", seq)
	}
	return plain[:i], plain[i], nil
}

// open12 opens a TLS 1.2 AEAD record; the additional data is
// seq|type|version|plaintext length (RFC 5246 6.2.3.3).
func (d *Decrypter) open12(seq uint64, header, body []byte) ([]byte, error) {
	least := d.suite.recordIV + d.aead.Overhead()
	if len(body) < least {
		return nil, fmt.Errorf("%w: %d bytes, a %s record has at least %d", ErrShort, len(body), d.suite.Name, least)
	}
	var nonce []byte
	if d.suite.recordIV > 0 { // GCM, CCM: salt | explicit nonce
		nonce = make([]byte, 0, d.aead.NonceSize())
		nonce = append(append(nonce, d.fixedIV...), body[:d.suite.recordIV]...)
		body = body[d.suite.recordIV:]
	} else { // ChaCha20-Poly1305
		nonce = d.seqNonce(seq)
	}
	ad := macHeader(seq, header, len(body)-d.aead.Overhead())
	plain, err := d.aead.Open(nil, nonce, body, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s record %d", ErrAuth, d.suite.Name, seq)
	}
	return plain, nil
}

// openMtE opens a MAC-then-encrypt CBC record (RFC 5246 6.2.3.2): the
// ciphertext of plaintext|MAC|padding|padding length, after an explicit IV
// in TLS 1.1 and 1.2.
func (d *Decrypter) openMtE(seq uint64, header, body []byte) ([]byte, error) {
	bs, macLen := d.suite.blockSize, d.mac.Size()
	iv, ct, err := d.splitCBC(body, 0)
	if err != nil {
		return nil, err
	}
	if len(ct) < macLen+1 {
		return nil, fmt.Errorf("%w: %d bytes of ciphertext, %s needs at least %d", ErrShort, len(ct), d.suite.Name, (macLen/bs+1)*bs)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(d.block, iv).CryptBlocks(plain, ct)
	plain, err = removePadding(plain, macLen, seq)
	if err != nil {
		return nil, err
	}
	n := len(plain) - macLen
	d.mac.Reset()
	d.mac.Write(macHeader(seq, header, n))
	d.mac.Write(plain[:n])
	if !hmac.Equal(d.mac.Sum(nil), plain[n:]) {
		return nil, fmt.Errorf("%w: %s record %d: HMAC mismatch", ErrAuth, d.suite.Name, seq)
	}
	return plain[:n:n], nil
}

// openETM opens an encrypt-then-MAC CBC record (RFC 7366): IV|ciphertext
// then the MAC of seq|type|version|length|IV|ciphertext.
func (d *Decrypter) openETM(seq uint64, header, body []byte) ([]byte, error) {
	macLen := d.mac.Size()
	if len(body) < macLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte MAC", ErrShort, len(body), macLen)
	}
	n := len(body) - macLen
	iv, ct, err := d.splitCBC(body[:n], macLen)
	if err != nil {
		return nil, err
	}
	d.mac.Reset()
	d.mac.Write(macHeader(seq, header, n))
	d.mac.Write(body[:n])
	if !hmac.Equal(d.mac.Sum(nil), body[n:]) {
		return nil, fmt.Errorf("%w: %s record %d: HMAC mismatch (encrypt-then-MAC)", ErrAuth, d.suite.Name, seq)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(d.block, iv).CryptBlocks(plain, ct)
	return removePadding(plain, 0, seq)
}

// splitCBC splits a CBC record into IV and ciphertext (whole blocks, at
// least one), taking the IV from the record (TLS 1.1+) or from the chain
// (TLS 1.0, whose next IV is then the last ciphertext block). extra is the
// MAC length after the ciphertext, for messages.
func (d *Decrypter) splitCBC(body []byte, extra int) (iv, ct []byte, err error) {
	bs := d.suite.blockSize
	ivLen := 0
	if d.chained == nil {
		ivLen = bs
	}
	if len(body) < ivLen+bs {
		return nil, nil, fmt.Errorf("%w: %d bytes, a %s record has at least %d", ErrShort, len(body)+extra, d.suite.Name, ivLen+bs+extra)
	}
	iv, ct = body[:ivLen], body[ivLen:]
	if len(ct)%bs != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes of CBC ciphertext, not whole %d-byte blocks", ErrLength, len(ct), bs)
	}
	if d.chained != nil {
		iv = d.chained
		d.chained = append([]byte(nil), ct[len(ct)-bs:]...)
	}
	return iv, ct, nil
}

// removePadding checks and removes TLS CBC padding: padding length p,
// then p+1 bytes of value p, leaving at least keep bytes (the MAC).
func removePadding(plain []byte, keep int, seq uint64) ([]byte, error) {
	p := int(plain[len(plain)-1])
	if p+1+keep > len(plain) {
		return nil, fmt.Errorf("%w: record %d: padding length %d in %d bytes", ErrPadding, seq, p, len(plain))
	}
	pad := plain[len(plain)-1-p:]
	want := make([]byte, len(pad))
	for i := range want {
		want[i] = byte(p)
	}
	if subtle.ConstantTimeCompare(pad, want) != 1 {
		return nil, fmt.Errorf("%w: record %d: padding bytes are not all %d", ErrPadding, seq, p)
	}
	return plain[: len(plain)-1-p : len(plain)-1-p], nil
}

// seqNonce is the per-record nonce of ChaCha20-Poly1305 and TLS 1.3: the
// IV XOR the sequence number, left-padded to the IV length.
func (d *Decrypter) seqNonce(seq uint64) []byte {
	nonce := append([]byte(nil), d.fixedIV...)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(seq >> (8 * i))
	}
	return nonce
}

// macHeader is seq|type|version|length, the start of the TLS 1.2 MAC
// input and the AEAD additional data.
func macHeader(seq uint64, header []byte, length int) []byte {
	b := make([]byte, 0, 13)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, header[:3]...)
	return binary.BigEndian.AppendUint16(b, uint16(length))
}

// newAEAD returns the AEAD of an AEAD suite with key.
func newAEAD(s *Suite, key []byte) (cipher.AEAD, error) {
	var a cipher.AEAD
	var err error
	switch s.cipher {
	case cipherAESGCM:
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			a, err = cipher.NewGCM(block)
		}
	case cipherChaCha20:
		a, err = chacha20poly1305.New(key)
	case cipherAESCCM:
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			a, err = newCCM(block, 12, s.tagLen)
		}
	default:
		err = errors.New("not an AEAD suite")
	}
	if err != nil {
		return nil, fmt.Errorf("TLS decrypter: %s: %w", s.Name, err)
	}
	return a, nil
}

// hashFunc returns the constructor of one of the hashes TLS suites use.
func hashFunc(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.MD5:
		return md5.New
	case crypto.SHA1:
		return sha1.New
	case crypto.SHA384:
		return sha512.New384
	}
	return sha256.New
}

// prf12 is the TLS 1.2 PRF (RFC 5246 5): P_hash(secret, label|seed).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	out := make([]byte, n)
	pHash(out, h, secret, append([]byte(label), seed...))
	return out
}

// prf10 is the TLS 1.0 and 1.1 PRF (RFC 2246 5): P_MD5 over the first
// half of the secret XOR P_SHA1 over the second (halves overlap by a byte
// when the length is odd).
func prf10(secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	half := (len(secret) + 1) / 2
	out := make([]byte, n)
	pHash(out, md5.New, secret[:half], ls)
	other := make([]byte, n)
	pHash(other, sha1.New, secret[len(secret)-half:], ls)
	subtle.XORBytes(out, out, other)
	return out
}

// pHash fills out with P_hash(secret, seed) = HMAC(secret, A(1)|seed) |
// HMAC(secret, A(2)|seed) | ..., A(0) = seed, A(i) = HMAC(secret, A(i-1)).
func pHash(out []byte, h func() hash.Hash, secret, seed []byte) {
	mac := hmac.New(h, secret)
	mac.Write(seed)
	a := mac.Sum(nil)
	for len(out) > 0 {
		mac.Reset()
		mac.Write(a)
		mac.Write(seed)
		out = out[copy(out, mac.Sum(nil)):]
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
}

// hkdfExpandLabel is HKDF-Expand-Label (RFC 8446 7.1): HKDF-Expand with
// the HkdfLabel struct {length, "tls13 " + label, context} as info.
func hkdfExpandLabel(h func() hash.Hash, secret []byte, label string, context []byte, length int) ([]byte, error) {
	info := make([]byte, 0, 4+6+len(label)+len(context))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	return hkdf.Expand(h, secret, string(info), length)
}
