package keys

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vectorCase is one exchange made by testdata/make-fixtures.py.
type vectorCase struct {
	Name           string        `json:"name"`
	Params         string        `json:"params"`
	Alice          string        `json:"alice"`
	AlicePub       string        `json:"alice_pub"`
	Bob            string        `json:"bob"`
	BobPub         string        `json:"bob_pub"`
	SecretHex      string        `json:"secret_hex"`
	KeyInfo00Hex   string        `json:"key_info00_hex"`
	KeyInfoNoneHex string        `json:"key_infonone_hex"`
	KeyInfo00B64   string        `json:"key_info00_b64"`
	Tokens         []vectorToken `json:"tokens"`
}

// vectorToken is a Fernet token Python made with one of the case's keys.
type vectorToken struct {
	Variant   HKDFVariant `json:"variant"`
	Plaintext string      `json:"plaintext"`
	Token     string      `json:"token"`
	Time      int64       `json:"time"`
}

// loadVectors reads testdata/vectors.json.
func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("testdata/vectors.json has no cases")
	}
	return v.Cases
}

// vectorByName returns the named case.
func vectorByName(t testing.TB, name string) vectorCase {
	t.Helper()
	for _, c := range loadVectors(t) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no vector case %q", name)
	return vectorCase{}
}

// readTestdata reads a file under testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustPriv parses a private key fixture.
func mustPriv(t testing.TB, name string) *DHPrivateKey {
	t.Helper()
	k, err := ParseDHPrivateKeyPEM(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// mustPub parses a public key fixture.
func mustPub(t testing.TB, name string) *DHPublicKey {
	t.Helper()
	k, err := ParseDHPublicKeyPEM(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// mustGroup parses a parameters fixture.
func mustGroup(t testing.TB, name string) DHGroup {
	t.Helper()
	g, err := ParseDHParamsPEM(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

// unhex decodes hex or fails the test.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
