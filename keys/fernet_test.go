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
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
)

func TestDeriveLabKeysMatchesPython(t *testing.T) {
	for _, c := range loadVectors(t) {
		keys := DeriveLabKeys(unhex(t, c.SecretHex))
		if len(keys) != 2 || keys[0].Variant != HKDFInfoZero || keys[1].Variant != HKDFInfoNone {
			t.Fatalf("%s: DeriveLabKeys variants = %+v", c.Name, keys)
		}
		if !bytes.Equal(keys[0].Raw[:], unhex(t, c.KeyInfo00Hex)) {
			t.Errorf("%s: info=00 key %x, Python %s", c.Name, keys[0].Raw, c.KeyInfo00Hex)
		}
		if !bytes.Equal(keys[1].Raw[:], unhex(t, c.KeyInfoNoneHex)) {
			t.Errorf("%s: info=None key %x, Python %s", c.Name, keys[1].Raw, c.KeyInfoNoneHex)
		}
		if keys[0].Encoded() != c.KeyInfo00B64 {
			t.Errorf("%s: Encoded = %s, Python %s", c.Name, keys[0].Encoded(), c.KeyInfo00B64)
		}
	}
}

func TestDecryptPythonTokens(t *testing.T) {
	n := 0
	for _, c := range loadVectors(t) {
		keys := DeriveLabKeys(unhex(t, c.SecretHex))
		for _, tok := range c.Tokens {
			res, err := DecryptFernet([]byte(tok.Token), keys)
			if err != nil {
				t.Fatalf("%s %q: %v", c.Name, tok.Plaintext, err)
			}
			if string(res.Plaintext) != tok.Plaintext || keys[res.Key].Variant != tok.Variant || res.Time.Unix() != tok.Time {
				t.Fatalf("%s: got %q key %d time %v; want %q %s %d", c.Name, res.Plaintext, res.Key, res.Time, tok.Plaintext, tok.Variant, tok.Time)
			}
			// Only the key of the token's own variant verifies it.
			for i := range keys {
				_, err := DecryptFernet([]byte(tok.Token), keys[i:i+1])
				if (keys[i].Variant == tok.Variant) != (err == nil) {
					t.Fatalf("%s: key %s alone: err = %v", c.Name, keys[i].Variant, err)
				}
			}
			// fernet-go agrees.
			fk := fernet.Key(keys[res.Key].Raw)
			if got := fernet.VerifyAndDecrypt([]byte(tok.Token), 0, []*fernet.Key{&fk}); !bytes.Equal(got, res.Plaintext) {
				t.Fatalf("fernet-go decrypts %q, we %q", got, res.Plaintext)
			}
			if !LooksLikeFernet([]byte(tok.Token)) {
				t.Fatalf("LooksLikeFernet(%s) = false", tok.Token)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no tokens in the vectors")
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	keys := DeriveLabKeys([]byte("some shared secret"))
	now := time.Unix(1700000000, 0)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("a"), 15), bytes.Repeat([]byte("b"), 16), bytes.Repeat([]byte("c"), 1000)} {
		tok, err := EncryptFernet(keys[1], pt, now)
		if err != nil {
			t.Fatal(err)
		}
		res, err := DecryptFernet(tok, keys)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Plaintext, pt) || res.Key != 1 || !res.Time.Equal(now) {
			t.Fatalf("round trip: %q key %d time %v", res.Plaintext, res.Key, res.Time)
		}
		// Whitespace around the token (a trailing newline) is ignored, and
		// so is a line break inside it (Python ignores it too).
		if _, err := DecryptFernet(append(append([]byte(" "), tok...), "\r\n"...), keys); err != nil {
			t.Fatalf("token with whitespace: %v", err)
		}
		wrapped := append(append(append([]byte{}, tok[:50]...), "\r\n"...), tok[50:]...)
		if _, err := DecryptFernet(wrapped, keys); err != nil {
			t.Fatalf("token with a line break: %v", err)
		}
	}
}

// makeToken builds a raw Fernet token with any padded plaintext block(s),
// a correct HMAC, and base64url encodes it.
func makeToken(t *testing.T, key FernetKey, padded []byte) []byte {
	t.Helper()
	if len(padded)%aes.BlockSize != 0 {
		t.Fatal("makeToken: not whole blocks")
	}
	raw := make([]byte, fernetCTOff, fernetCTOff+len(padded)+sha256.Size)
	raw[0] = 0x80
	binary.BigEndian.PutUint64(raw[1:], 1700000000)
	copy(raw[fernetIVOff:], "0123456789abcdef")
	ct := make([]byte, len(padded))
	block, err := aes.NewCipher(key.Raw[16:])
	if err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCEncrypter(block, raw[fernetIVOff:fernetCTOff]).CryptBlocks(ct, padded)
	raw = append(raw, ct...)
	mac := hmac.New(sha256.New, key.Raw[:16])
	mac.Write(raw)
	raw = mac.Sum(raw)
	return []byte(base64.URLEncoding.EncodeToString(raw))
}

func TestDecryptFernetErrors(t *testing.T) {
	keys := DeriveLabKeys([]byte("secret"))
	other := DeriveLabKeys([]byte("another secret"))
	good, err := EncryptFernet(keys[0], []byte("a message long enough for three blocks"), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	rawGood, _ := base64.URLEncoding.DecodeString(string(good))
	reencode := func(f func(raw []byte) []byte) []byte {
		raw := append([]byte{}, rawGood...)
		return []byte(base64.URLEncoding.EncodeToString(f(raw)))
	}
	if got := makeToken(t, keys[0], []byte("hello\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b")); true {
		if res, err := DecryptFernet(got, keys); err != nil || string(res.Plaintext) != "hello" {
			t.Fatalf("makeToken itself is wrong: %v", err)
		}
	}
	for _, tc := range []struct {
		name   string
		token  []byte
		keys   []FernetKey
		target error
		want   string
	}{
		{"empty", nil, keys, ErrNotFernet, "shortest token"},
		{"plaintext", []byte("NETWORKING IS THE BEST!"), keys, ErrNotFernet, "shortest token"},
		{"not base64", append([]byte("!!!!"), good[4:]...), keys, ErrNotFernet, "not base64url"},
		{"std alphabet", []byte(strings.NewReplacer("-", "+", "_", "/").Replace(string(good)) + strings.Repeat("+", 4)), keys, ErrNotFernet, "not base64url"},
		{"truncated by one char", good[:len(good)-1], keys, ErrNotFernet, "not base64url"},
		{"truncated by 4 chars", good[:len(good)-4], keys, ErrNotFernet, "not a multiple of 16"},
		{"truncated to 60", good[:60], keys, ErrNotFernet, "shortest token"},
		{"no ciphertext", reencode(func(r []byte) []byte { return append(r[:fernetCTOff], r[len(r)-32:]...) }), keys, ErrNotFernet, "shortest token"},
		{"version", reencode(func(r []byte) []byte { r[0] = 0x81; return r }), keys, ErrNotFernet, "version byte is 0x81"},
		{"wrong key", good, other, ErrHMAC, "HMAC mismatch under 2 candidate keys"},
		{"wrong key single", good, other[:1], ErrHMAC, "under 1 candidate key"},
		{"no keys", good, nil, ErrHMAC, "no candidate key"},
		{"tampered ciphertext", reencode(func(r []byte) []byte { r[fernetCTOff] ^= 1; return r }), keys, ErrHMAC, "2 candidate keys"},
		{"tampered time", reencode(func(r []byte) []byte { r[8] ^= 1; return r }), keys, ErrHMAC, "2 candidate keys"},
		{"pad 0", makeToken(t, keys[0], []byte("0123456789abcde\x00")), keys, ErrPadding, "last byte is 0"},
		{"pad 17", makeToken(t, keys[1], bytes.Repeat([]byte{17}, 32)), keys, ErrPadding, "last byte is 17"},
		{"pad uneven", makeToken(t, keys[0], []byte("0123456789abc\x02\x03\x03")), keys, ErrPadding, "not all 3"},
	} {
		res, err := DecryptFernet(tc.token, tc.keys)
		if !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.target, tc.want)
			continue
		}
		if res.Plaintext != nil {
			t.Errorf("%s: plaintext %q with an error", tc.name, res.Plaintext)
		}
		switch tc.target {
		case ErrPadding:
			if res.Key < 0 || res.Time.Unix() != 1700000000 {
				t.Errorf("%s: padding error result %+v, want key and time", tc.name, res)
			}
		case ErrHMAC:
			if res.Key != -1 || res.Time.IsZero() {
				t.Errorf("%s: HMAC error result %+v, want key -1 and a time", tc.name, res)
			}
		}
	}
	// fernet-go accepts a pad byte of 0 (Python cryptography does not):
	// that is why DecryptFernet checks padding itself.
	zeroPad := makeToken(t, keys[0], []byte("0123456789abcde\x00"))
	fk := fernet.Key(keys[0].Raw)
	if fernet.VerifyAndDecrypt(zeroPad, 0, []*fernet.Key{&fk}) == nil {
		t.Log("fernet-go now rejects a pad byte of 0")
	}
}

func TestLooksLikeFernet(t *testing.T) {
	tok, err := EncryptFernet(DeriveLabKeys([]byte("s"))[0], []byte("hi"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{string(tok), true},
		{string(tok) + "\n", true},
		{"", false},
		{"gAAAAA", false},
		{"hello world", false},
		{string(tok[:len(tok)-1]), false},
		{strings.Replace(string(tok), "gAAAAA", "hAAAAA", 1), false},
		{string(tok[:50]) + "+" + string(tok[51:]), false},
		{"-----BEGIN PUBLIC KEY-----\n" + string(tok), false},
	} {
		if got := LooksLikeFernet([]byte(tc.in)); got != tc.want {
			t.Errorf("LooksLikeFernet(%.30q) = %v", tc.in, got)
		}
	}
}
