package keys

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
)

// keyringVectors is testdata/keyring/vectors.json, made by
// make-keyring-fixtures.py with python3-cryptography, Python's hmac and
// python3-ecdsa.
type keyringVectors struct {
	HMACKeyHex     string `json:"hmac_key_hex"`
	HMACFileKeyHex string `json:"hmac_file_key_hex"`
	RSA            []struct {
		Name          string `json:"name"`
		Hash          string `json:"hash"`
		Plaintext     string `json:"plaintext"`
		CiphertextB64 string `json:"ciphertext_b64"`
	} `json:"rsa"`
	HMAC []struct {
		Name       string `json:"name"`
		Layout     string `json:"layout"`
		Key        string `json:"key"` // "hex" or "file"
		Algorithm  string `json:"algorithm"`
		OK         bool   `json:"ok"`
		DataB64    string `json:"data_b64"`
		PayloadB64 string `json:"payload_b64"`
	} `json:"hmac"`
	ECDSA []ecdsaVector `json:"ecdsa"`
}

// ecdsaVector is one signed payload and what Verify must say.
type ecdsaVector struct {
	Name       string `json:"name"`
	Key        string `json:"key"` // "secp256k1" or "p256"
	Format     string `json:"format"`
	Hash       string `json:"hash"`
	Result     string `json:"result"` // "ok", "bad" or "format"
	PayloadB64 string `json:"payload_b64"`
	TS         int64  `json:"ts"`
	Message    string `json:"message"`
	HighS      bool   `json:"high_s"`
}

// loadKeyringVectors reads testdata/keyring/vectors.json.
func loadKeyringVectors(t testing.TB) keyringVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/keyring/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v keyringVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("testdata/keyring/vectors.json: %v", err)
	}
	if len(v.RSA) == 0 || len(v.HMAC) == 0 || len(v.ECDSA) == 0 {
		t.Fatal("testdata/keyring/vectors.json is missing cases")
	}
	return v
}

// unb64 decodes standard base64 or fails the test.
func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ecdsaKeyFor parses the key a vector is for, with its format and hash.
func ecdsaKeyFor(t testing.TB, v ecdsaVector) *ECDSAKey {
	t.Helper()
	file := "keyring/ecdsa-public.pem"
	if v.Key == "p256" {
		file = "keyring/p256-public.pem"
	}
	k, err := ParseECDSAKey(readTestdata(t, file), v.Format, v.Hash)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return k
}

// mustRSA parses the fixture RSA key for hash.
func mustRSA(t testing.TB, file, hash string) *RSAOAEPKey {
	t.Helper()
	k, err := ParseRSAOAEPKey(readTestdata(t, file), hash)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return k
}
