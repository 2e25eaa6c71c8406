package keys

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// HMAC layouts: where the MAC sits in a payload.
const (
	// LayoutTrailer: data then MAC (the HMAC lab's C publisher appends it).
	LayoutTrailer = "trailer"
	// LayoutPrefix: MAC then data.
	LayoutPrefix = "prefix"
)

// hmacAlgorithms are the HMAC hash functions a keyring may name, with the
// MAC size of each.
var hmacAlgorithms = map[string]struct {
	newHash func() hash.Hash
	size    int
}{
	"sha256": {sha256.New, sha256.Size},
	"sha1":   {sha1.New, sha1.Size},
	"sha512": {sha512.New, sha512.Size},
}

// HMACKey is a per-client HMAC key of a keyring rule (as in the HMAC lab): the MAC
// is verified, in constant time, before anything else is done with the
// payload. It is safe for concurrent use.
type HMACKey struct {
	// Algorithm is the hash: "sha256" (the default), "sha1" or "sha512".
	Algorithm string
	// Layout is where the MAC sits: LayoutTrailer (the default) or
	// LayoutPrefix.
	Layout string

	key  []byte
	size int
	pool sync.Pool // of keyed hash.Hash, Reset before use
}

// NewHMACKey returns a key for algorithm ("" is sha256) and layout (""
// is trailer). The key must not be empty; it is copied.
func NewHMACKey(algorithm, layout string, key []byte) (*HMACKey, error) {
	if algorithm == "" {
		algorithm = "sha256"
	}
	if layout == "" {
		layout = LayoutTrailer
	}
	alg, ok := hmacAlgorithms[algorithm]
	if !ok {
		return nil, fmt.Errorf("unknown HMAC algorithm %q (want sha256, sha1 or sha512)", algorithm)
	}
	if layout != LayoutTrailer && layout != LayoutPrefix {
		return nil, fmt.Errorf("unknown HMAC layout %q (want trailer or prefix)", layout)
	}
	if len(key) == 0 {
		return nil, errors.New("HMAC key is empty")
	}
	k := &HMACKey{Algorithm: algorithm, Layout: layout, key: append([]byte(nil), key...), size: alg.size}
	newHash := alg.newHash
	k.pool.New = func() any { return hmac.New(newHash, k.key) }
	return k, nil
}

// Size is the length of the MAC in bytes (32 for sha256).
func (k *HMACKey) Size() int { return k.size }

// Split separates data and MAC by the key's layout. It fails when the
// payload is shorter than the MAC. Both results alias payload.
func (k *HMACKey) Split(payload []byte) (data, mac []byte, err error) {
	if len(payload) < k.size {
		return nil, nil, fmt.Errorf("payload of %d bytes is shorter than the %d-byte HMAC-%s", len(payload), k.size, k.Algorithm)
	}
	if k.Layout == LayoutPrefix {
		return payload[k.size:], payload[:k.size], nil
	}
	n := len(payload) - k.size
	return payload[:n], payload[n:], nil
}

// Verify splits payload by the layout and reports whether the MAC over the
// data is right, compared in constant time (hmac.Equal). data aliases
// payload. err is set only when the payload is too short to hold a MAC
// (ok is then false).
func (k *HMACKey) Verify(payload []byte) (data []byte, ok bool, err error) {
	data, mac, err := k.Split(payload)
	if err != nil {
		return nil, false, err
	}
	var buf [sha512.Size]byte
	return data, hmac.Equal(k.sum(buf[:0], data), mac), nil
}

// Sign returns a new slice: data with its MAC placed by the layout. Tests
// and sample generators use it to make what a publisher sends.
func (k *HMACKey) Sign(data []byte) []byte {
	out := make([]byte, 0, len(data)+k.size)
	if k.Layout == LayoutPrefix {
		out = k.sum(out, data)
		return append(out, data...)
	}
	out = append(out, data...)
	return k.sum(out, data)
}

// sum appends the MAC of data to dst.
func (k *HMACKey) sum(dst, data []byte) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	dst = h.Sum(dst)
	k.pool.Put(h)
	return dst
}
