package keys

import (
	"testing"
	"time"
)

// BenchmarkDecryptFernetShort decrypts a token of a 40-byte plaintext with
// one key, as the session code does once the key of a session is known.
func BenchmarkDecryptFernetShort(b *testing.B) {
	keys := DeriveLabKeys([]byte("benchmark secret"))[:1]
	tok, err := EncryptFernet(keys[0], []byte("Networking is the best! 0123456789abcde"), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := DecryptFernet(tok, keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDecryptFernetSecondVariant is the first message of a session:
// both variants are tried and the second one verifies.
func BenchmarkDecryptFernetSecondVariant(b *testing.B) {
	keys := DeriveLabKeys([]byte("benchmark secret"))
	tok, err := EncryptFernet(keys[1], []byte("Networking is the best! 0123456789abcde"), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecryptFernet(tok, keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkLabExchange4096 is the one-off cost of a session on the real lab
// group: one shared secret and both HKDF variants.
func BenchmarkLabExchange4096(b *testing.B) {
	priv := mustPriv(b, "lab/alice.pem")
	peer := mustPub(b, "lab/bob.pub.pem")
	b.ReportAllocs()
	for b.Loop() {
		s, err := priv.SharedSecret(peer)
		if err != nil {
			b.Fatal(err)
		}
		if len(DeriveLabKeys(s)) != 2 {
			b.Fatal("no keys")
		}
	}
}

// BenchmarkWeakness4096 is the cost of checking the lab group the first
// time (the primality cache emptied before each call).
func BenchmarkWeakness4096(b *testing.B) {
	g := mustGroup(b, "lab/dhparam4096.pem")
	for b.Loop() {
		primeCache.Lock()
		clear(primeCache.m)
		primeCache.Unlock()
		if g.Weakness() != "" {
			b.Fatal("lab group weak")
		}
	}
}

// BenchmarkWeakness4096Cached is the cost of checking it again.
func BenchmarkWeakness4096Cached(b *testing.B) {
	g := mustGroup(b, "lab/dhparam4096.pem")
	for b.Loop() {
		if g.Weakness() != "" {
			b.Fatal("lab group weak")
		}
	}
}

// BenchmarkParseDHPublicKeyPEM4096 parses a lab public key.
func BenchmarkParseDHPublicKeyPEM4096(b *testing.B) {
	data := readTestdata(b, "lab/bob.pub.pem")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDHPublicKeyPEM(data); err != nil {
			b.Fatal(err)
		}
	}
}
