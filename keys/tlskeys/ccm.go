package tlskeys

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// ccm is AES-CCM (NIST SP 800-38C, RFC 3610) with a nonce of 7 to 13 bytes
// and a tag of 4 to 16 bytes (TLS: 12-byte nonce, 16- or 8-byte tag, RFC
// 6655, 8446). It implements cipher.AEAD for messages below 2^(8*(15-n))
// bytes.
type ccm struct {
	b                cipher.Block
	nonceLen, tagLen int
}

// newCCM returns AES-CCM over b (a 16-byte block cipher).
func newCCM(b cipher.Block, nonceLen, tagLen int) (cipher.AEAD, error) {
	if b.BlockSize() != 16 || nonceLen < 7 || nonceLen > 13 || tagLen < 4 || tagLen > 16 || tagLen%2 != 0 {
		return nil, errors.New("CCM: unsupported block, nonce or tag size")
	}
	return &ccm{b: b, nonceLen: nonceLen, tagLen: tagLen}, nil
}

// NonceSize implements cipher.AEAD.
func (c *ccm) NonceSize() int { return c.nonceLen }

// Overhead implements cipher.AEAD.
func (c *ccm) Overhead() int { return c.tagLen }

// Seal implements cipher.AEAD.
func (c *ccm) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != c.nonceLen || !c.fits(len(plaintext)) {
		panic("tlskeys: CCM: bad nonce length or message too long")
	}
	tag := c.tag(nonce, plaintext, additionalData)
	out := append(dst, make([]byte, len(plaintext)+c.tagLen)...)
	ct := out[len(dst):]
	c.ctr(nonce, ct[:len(plaintext)], plaintext)
	copy(ct[len(plaintext):], tag)
	return out
}

// Open implements cipher.AEAD.
func (c *ccm) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != c.nonceLen || len(ciphertext) < c.tagLen || !c.fits(len(ciphertext)-c.tagLen) {
		return nil, errors.New("CCM: bad nonce or ciphertext length")
	}
	n := len(ciphertext) - c.tagLen
	plain := make([]byte, n)
	c.ctr(nonce, plain, ciphertext[:n])
	if subtle.ConstantTimeCompare(c.tag(nonce, plain, additionalData), ciphertext[n:]) != 1 {
		return nil, errors.New("CCM: message authentication failed")
	}
	return append(dst, plain...), nil
}

// fits reports whether a message of n bytes can be encoded in the length
// field (15 - nonce bytes).
func (c *ccm) fits(n int) bool {
	l := 15 - c.nonceLen
	return l >= 8 || uint64(n) < 1<<(8*l)
}

// counterBlock returns A_i: flags L-1, the nonce, i in L bytes.
func (c *ccm) counterBlock(nonce []byte, i uint64) []byte {
	a := make([]byte, 16)
	a[0] = byte(14 - c.nonceLen)
	copy(a[1:], nonce)
	for j := 15; j > c.nonceLen; j-- {
		a[j] = byte(i)
		i >>= 8
	}
	return a
}

// ctr XORs src with the key stream E(A_1), E(A_2), ... into dst.
func (c *ccm) ctr(nonce, dst, src []byte) {
	cipher.NewCTR(c.b, c.counterBlock(nonce, 1)).XORKeyStream(dst, src)
}

// tag is the CBC-MAC of B_0, the encoded additional data and the
// plaintext, XOR E(A_0), cut to the tag length.
func (c *ccm) tag(nonce, plain, ad []byte) []byte {
	l := 15 - c.nonceLen
	b0 := make([]byte, 16)
	b0[0] = byte((c.tagLen-2)/2<<3 | (l - 1))
	if len(ad) > 0 {
		b0[0] |= 0x40
	}
	copy(b0[1:], nonce)
	n := uint64(len(plain))
	for j := 15; j > c.nonceLen; j-- {
		b0[j] = byte(n)
		n >>= 8
	}
	x := make([]byte, 16)
	c.b.Encrypt(x, b0)
	mac := func(data []byte) { // CBC-MAC over data, zero-padded to blocks
		for len(data) > 0 {
			k := subtle.XORBytes(x, x, data)
			data = data[k:]
			c.b.Encrypt(x, x)
		}
	}
	if len(ad) > 0 {
		var enc []byte
		switch {
		case len(ad) < 0xff00:
			enc = binary.BigEndian.AppendUint16(nil, uint16(len(ad)))
		case uint64(len(ad)) <= 0xffffffff:
			enc = binary.BigEndian.AppendUint32([]byte{0xff, 0xfe}, uint32(len(ad)))
		default:
			enc = binary.BigEndian.AppendUint64([]byte{0xff, 0xff}, uint64(len(ad)))
		}
		enc = append(enc, ad...)
		mac(enc)
	}
	mac(plain)
	s0 := make([]byte, 16)
	c.b.Encrypt(s0, c.counterBlock(nonce, 0))
	subtle.XORBytes(x, x, s0)
	return x[:c.tagLen]
}
