package keys

import (
	"testing"
)

// BenchmarkHMACVerifySHA256 verifies seed 000's payload: a 256-byte
// RSA-OAEP ciphertext with an HMAC-SHA256 trailer.
func BenchmarkHMACVerifySHA256(b *testing.B) {
	v := loadKeyringVectors(b)
	k, err := NewHMACKey("sha256", LayoutTrailer, unhex(b, v.HMACKeyHex))
	if err != nil {
		b.Fatal(err)
	}
	payload := unb64(b, v.HMAC[0].PayloadB64)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, ok, err := k.Verify(payload); !ok || err != nil {
			b.Fatal("does not verify")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRSAOAEPDecrypt2048SHA1 decrypts a python3-cryptography
// RSA-OAEP (SHA-1) block with a 2048-bit key.
func BenchmarkRSAOAEPDecrypt2048SHA1(b *testing.B) {
	v := loadKeyringVectors(b)
	k := mustRSA(b, "keyring/rsa-private.pem", "sha1")
	ct := unb64(b, v.RSA[0].CiphertextB64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchECDSA verifies the named vector.
func benchECDSA(b *testing.B, name string) {
	for _, c := range loadKeyringVectors(b).ECDSA {
		if c.Name != name {
			continue
		}
		k := ecdsaKeyFor(b, c)
		payload := unb64(b, c.PayloadB64)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := k.Verify(payload); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		return
	}
	b.Fatalf("no vector %q", name)
}

// BenchmarkECDSAVerifySecp256k1 verifies a payload python-ecdsa signed as
// seed 002's sender does (SHA-1, raw r||s).
func BenchmarkECDSAVerifySecp256k1(b *testing.B) { benchECDSA(b, "seed-low-s") }

// BenchmarkECDSAVerifySecp256k1DER is the same with a DER signature.
func BenchmarkECDSAVerifySecp256k1DER(b *testing.B) { benchECDSA(b, "der") }

// BenchmarkECDSAVerifyP256 verifies a python3-cryptography P-256 DER
// signature (SHA-256).
func BenchmarkECDSAVerifyP256(b *testing.B) { benchECDSA(b, "p256-der-sha256") }

// BenchmarkRuleFor looks up the sample keyring's rules for a topic that
// matches the fourth rule and one that matches none.
func BenchmarkRuleFor(b *testing.B) {
	s, err := Load("testdata/keyring/valid.toml")
	if err != nil {
		b.Fatal(err)
	}
	hit, miss := []byte("user/meinuser/dsa-test"), []byte("lab/key-exchange/request")
	b.ReportAllocs()
	for b.Loop() {
		if s.RuleFor(hit) == nil || s.RuleFor(miss) != nil {
			b.Fatal("wrong rule")
		}
	}
}

// BenchmarkLoadKeyring loads the sample keyring: TOML, two RSA keys, two
// EC keys, a CA file and five DH keys.
func BenchmarkLoadKeyring(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("testdata/keyring/valid.toml"); err != nil {
			b.Fatal(err)
		}
	}
}
