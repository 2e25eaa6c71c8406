package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fernet/fernet-go"
)

func FuzzParseDHPublicKeyPEM(f *testing.F) {
	files, err := filepath.Glob("testdata/*/*.pem")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Join(filepath.Base(filepath.Dir(name)), filepath.Base(name))))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseDHPublicKeyPEM(data)
		// The private key and parameter parsers see the same input.
		if priv, err := ParseDHPrivateKeyPEM(data); err == nil {
			_ = priv.Public().Fingerprint()
			back, err := ParseDHPrivateKeyPEM(priv.MarshalPKCS8PEM())
			if err != nil || back.X.Cmp(priv.X) != 0 || !back.Group.Equal(priv.Group) {
				t.Fatalf("private key does not round-trip: %v", err)
			}
		}
		if g, err := ParseDHParamsPEM(data); err == nil {
			_ = g.Bits()
			if g.Bits() <= 4096 {
				_ = g.Weakness()
			}
		}
		if err != nil {
			return
		}
		_ = k.Validate()
		out := k.MarshalPEM()
		if out == nil || k.Fingerprint() == "" {
			t.Fatal("a parsed key does not marshal")
		}
		back, err := ParseDHPublicKeyPEM(out)
		if err != nil {
			t.Fatalf("MarshalPEM output does not parse: %v", err)
		}
		if back.Y.Cmp(k.Y) != 0 || !back.Group.Equal(k.Group) || (back.Group.Q == nil) != (k.Group.Q == nil) ||
			!bytes.Equal(back.MarshalPEM(), out) || back.Fingerprint() != k.Fingerprint() {
			t.Fatal("public key does not round-trip")
		}
	})
}

func FuzzDecryptFernet(f *testing.F) {
	c := vectorByName(f, "lab4096")
	keys := DeriveLabKeys(unhex(f, c.SecretHex))
	for _, c := range loadVectors(f) {
		for _, tok := range c.Tokens {
			f.Add([]byte(tok.Token))
		}
	}
	f.Add([]byte("gAAAAA"))
	f.Add([]byte("NETWORKING IS THE BEST!"))
	fkeys := []*fernet.Key{}
	for i := range keys {
		k := fernet.Key(keys[i].Raw)
		fkeys = append(fkeys, &k)
	}
	f.Fuzz(func(t *testing.T, token []byte) {
		in := append([]byte(nil), token...)
		res, err := DecryptFernet(token, keys)
		if !bytes.Equal(in, token) {
			t.Fatal("DecryptFernet modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrNotFernet) && !errors.Is(err, ErrHMAC) && !errors.Is(err, ErrPadding) {
				t.Fatalf("error of no class: %v", err)
			}
			if res.Plaintext != nil {
				t.Fatal("plaintext with an error")
			}
			return
		}
		// fernet-go accepts everything DecryptFernet accepts (it is the
		// more lenient of the two), with the same plaintext.
		got := fernet.VerifyAndDecrypt(bytes.TrimSpace(token), 0, fkeys)
		if !bytes.Equal(got, res.Plaintext) {
			t.Fatalf("fernet-go %q, DecryptFernet %q", got, res.Plaintext)
		}
		if !bytes.ContainsAny(bytes.TrimSpace(token), "\r\n") && !LooksLikeFernet(token) {
			t.Fatal("a token that decrypts does not look like one")
		}
	})
}

// FuzzParseDHKeyDER fuzzes the DER parsers below the PEM layer, where
// FuzzParseDHPublicKeyPEM rarely reaches (its input must stay base64).
func FuzzParseDHKeyDER(f *testing.F) {
	files, err := filepath.Glob("testdata/*/*.pem")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, name := range files {
		block, _ := pem.Decode(readTestdata(f, filepath.Join(filepath.Base(filepath.Dir(name)), filepath.Base(name))))
		if block != nil {
			f.Add(block.Bytes)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		if k, err := parseDHPublicKeyDER(der); err == nil {
			_ = k.Validate()
			back, err := parseDHPublicKeyDER(mustDER(t, k.MarshalPEM()))
			if err != nil || back.Y.Cmp(k.Y) != 0 || !back.Group.Equal(k.Group) {
				t.Fatalf("public key does not round-trip: %v", err)
			}
		}
		if k, err := parseDHPrivateKeyDER(der); err == nil {
			back, err := parseDHPrivateKeyDER(mustDER(t, k.MarshalPKCS8PEM()))
			if err != nil || back.X.Cmp(k.X) != 0 || !back.Group.Equal(k.Group) {
				t.Fatalf("private key does not round-trip: %v", err)
			}
		}
		for _, x942 := range []bool{false, true} {
			if g, err := parseDHParamsDER(der, x942); err == nil {
				back, err := parseDHParamsDER(g.marshalParams(), x942)
				if err != nil || !back.Equal(g) || !bytes.Equal(back.marshalParams(), g.marshalParams()) {
					t.Fatalf("parameters do not round-trip: %v", err)
				}
			}
		}
	})
}

// mustDER returns the bytes of the PEM block in data.
func mustDER(t *testing.T, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("marshalled PEM does not decode")
	}
	return block.Bytes
}
