package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestRSAOAEPPythonVectors(t *testing.T) {
	v := loadKeyringVectors(t)
	for _, file := range []string{"keyring/rsa-private.pem", "keyring/rsa-private-pkcs8.pem"} {
		for _, c := range v.RSA {
			k := mustRSA(t, file, c.Hash)
			if k.Size() != 256 {
				t.Fatalf("%s: Size = %d, want 256", file, k.Size())
			}
			got, err := k.Decrypt(unb64(t, c.CiphertextB64))
			if err != nil || string(got) != c.Plaintext {
				t.Errorf("%s %s: Decrypt = %q, %v; want %q", file, c.Name, got, err, c.Plaintext)
			}
		}
	}
	// The default hash is SHA-1 (OpenSSL's RSA_PKCS1_OAEP_PADDING), and the
	// longest SHA-1 plaintext is RSA_size - 42 (shorter than RSA_size - 41).
	def := mustRSA(t, "keyring/rsa-private.pem", "")
	if def.Hash != "sha1" || def.MaxPlaintext() != 214 {
		t.Fatalf("default: hash %q, max %d", def.Hash, def.MaxPlaintext())
	}
	// The wrong hash is a plain decryption error.
	sha256Key := mustRSA(t, "keyring/rsa-private.pem", "sha256")
	if _, err := sha256Key.Decrypt(unb64(t, v.RSA[0].CiphertextB64)); err == nil || !strings.Contains(err.Error(), "decryption failed") {
		t.Fatalf("SHA-1 ciphertext under sha256: %v", err)
	}
}

func TestRSAOAEPErrors(t *testing.T) {
	k := mustRSA(t, "keyring/rsa-private.pem", "sha1")
	ct := unb64(t, loadKeyringVectors(t).RSA[0].CiphertextB64)
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{append(append([]byte(nil), ct...), make([]byte, 44)...), "payload of 300 bytes is longer than the 256-byte RSA modulus"},
		{ct[:255], "payload of 255 bytes is not a whole RSA block (256 bytes)"},
		{nil, "payload of 0 bytes is not a whole RSA block (256 bytes)"},
		{bytes.Repeat([]byte{0xff}, 256), "RSA-OAEP (sha1) decryption failed"},
	} {
		if _, err := k.Decrypt(tc.in); err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Decrypt(%d bytes) = %v, want %q", len(tc.in), err, tc.want)
		}
	}
	// Altered ciphertext.
	bad := append([]byte(nil), ct...)
	bad[100] ^= 1
	if _, err := k.Decrypt(bad); err == nil {
		t.Fatal("altered ciphertext decrypted")
	}
	// Go encrypts what Go decrypts, up to the limit.
	for _, n := range []int{0, 1, k.MaxPlaintext()} {
		msg := bytes.Repeat([]byte{'x'}, n)
		c, err := k.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Decrypt(c); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
	}
	if _, err := k.Encrypt(make([]byte, k.MaxPlaintext()+1)); err == nil || !strings.Contains(err.Error(), "longer than the 214 bytes") {
		t.Fatalf("Encrypt too long: %v", err)
	}
	if k.Public().N.Cmp(k.key.N) != 0 {
		t.Fatal("Public")
	}
}

func TestParseRSAOAEPKeyKinds(t *testing.T) {
	ecPKCS8 := ecKeyPEM(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}})
	pkcs1Pub := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})
	for _, tc := range []struct {
		name string
		data []byte
		hash string
		want string
	}{
		{"ec sec1", readTestdata(t, "keyring/ecdsa-private.pem"), "", "EC private key (EC PRIVATE KEY), want an RSA private key"},
		{"ec pkcs8", ecPKCS8, "", "the key is id-ecPublicKey (EC), want an RSA private key"},
		{"dh pkcs8", readTestdata(t, "lab/alice.pem"), "", "the key is DH, want an RSA private key"},
		{"rsa public", readTestdata(t, "keyring/rsa-public.pem"), "", "a public key (rsaEncryption (RSA)); rsa_oaep needs the RSA private key"},
		{"ec public", readTestdata(t, "keyring/ecdsa-public.pem"), "", "a public key (id-ecPublicKey (EC))"},
		{"pkcs1 public", pkcs1Pub, "", "an RSA public key"},
		{"encrypted pkcs8", readTestdata(t, "keyring-broken/rsa-encrypted-pkcs8.pem"), "", "passphrase-protected ENCRYPTED PRIVATE KEY (PKCS#8): mqtap cannot ask for the passphrase; remove it with: openssl pkey"},
		{"encrypted traditional", readTestdata(t, "keyring-broken/rsa-encrypted-traditional.pem"), "", "passphrase-protected RSA PRIVATE KEY (Proc-Type: 4,ENCRYPTED)"},
		{"certificate", cert, "", "a certificate, want an RSA private key"},
		{"not pem", []byte("hello"), "", "not a PEM file"},
		{"dh params", readTestdata(t, "lab/dhparam4096.pem"), "", `a PEM block of type "DH PARAMETERS", want an RSA private key`},
		{"broken pkcs1", []byte("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"), "", "RSA PRIVATE KEY (PKCS#1):"},
		{"bad hash", readTestdata(t, "keyring/rsa-private.pem"), "md5", `unknown RSA-OAEP hash "md5"`},
	} {
		_, err := ParseRSAOAEPKey(tc.data, tc.hash)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestHMACPythonVectors(t *testing.T) {
	v := loadKeyringVectors(t)
	for _, c := range v.HMAC {
		key := unhex(t, v.HMACKeyHex)
		if c.Key == "file" {
			key = readTestdata(t, "keyring/hmac-client.key")
			if !bytes.Equal(key, unhex(t, v.HMACFileKeyHex)) {
				t.Fatal("hmac-client.key does not hold hmac_file_key_hex")
			}
		}
		k, err := NewHMACKey(c.Algorithm, c.Layout, key)
		if err != nil {
			t.Fatal(err)
		}
		payload := unb64(t, c.PayloadB64)
		data, ok, err := k.Verify(payload)
		if err != nil || ok != c.OK || !bytes.Equal(data, unb64(t, c.DataB64)) {
			t.Errorf("%s: Verify = %x, %v, %v; want ok=%v", c.Name, data, ok, err, c.OK)
		}
		if c.OK && !bytes.Equal(k.Sign(data), payload) {
			t.Errorf("%s: Sign differs from Python's hmac", c.Name)
		}
	}
}

func TestHMACKey(t *testing.T) {
	k, err := NewHMACKey("", "", []byte("secret"))
	if err != nil || k.Algorithm != "sha256" || k.Layout != LayoutTrailer || k.Size() != 32 {
		t.Fatalf("defaults: %+v, %v", k, err)
	}
	if _, _, err := k.Verify(make([]byte, 31)); err == nil || err.Error() != "payload of 31 bytes is shorter than the 32-byte HMAC-sha256" {
		t.Fatalf("short payload: %v", err)
	}
	// A payload of exactly the MAC: empty data.
	signed := k.Sign(nil)
	if data, ok, err := k.Verify(signed); !ok || err != nil || len(data) != 0 {
		t.Fatalf("empty data: %v %v", ok, err)
	}
	data, mac, err := k.Split([]byte("0123456789abcdef0123456789abcdefXY"))
	if err != nil || string(data) != "01" || len(mac) != 32 {
		t.Fatalf("Split trailer: %q %q %v", data, mac, err)
	}
	p, _ := NewHMACKey("sha1", LayoutPrefix, []byte("secret"))
	data, mac, err = p.Split([]byte("0123456789abcdefghijXY"))
	if err != nil || string(data) != "XY" || string(mac) != "0123456789abcdefghij" {
		t.Fatalf("Split prefix: %q %q %v", data, mac, err)
	}
	for _, tc := range []struct{ alg, layout, key, want string }{
		{"md5", "", "k", `unknown HMAC algorithm "md5"`},
		{"", "suffix", "k", `unknown HMAC layout "suffix"`},
		{"", "", "", "HMAC key is empty"},
	} {
		if _, err := NewHMACKey(tc.alg, tc.layout, []byte(tc.key)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewHMACKey(%q, %q): %v", tc.alg, tc.layout, err)
		}
	}
	// Concurrent use shares the pool of hashes.
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for i := range 200 {
				msg := []byte(strings.Repeat("m", i))
				if _, good, _ := k.Verify(k.Sign(msg)); !good {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("concurrent Verify failed")
		}
	}
}

func TestECDSAPythonVectors(t *testing.T) {
	v := loadKeyringVectors(t)
	var sawHighS, sawLowS bool
	for _, c := range v.ECDSA {
		k := ecdsaKeyFor(t, c)
		msg, ts, err := k.Verify(unb64(t, c.PayloadB64))
		switch c.Result {
		case "ok":
			if err != nil || string(msg) != c.Message || ts != c.TS {
				t.Errorf("%s: Verify = %q, %d, %v; want %q, %d", c.Name, msg, ts, err, c.Message, c.TS)
			}
		case "bad":
			if !errors.Is(err, ErrSigBad) || errors.Is(err, ErrSigFormat) {
				t.Errorf("%s: Verify err = %v, want ErrSigBad", c.Name, err)
			}
			if c.Message != "" && (string(msg) != c.Message || ts != c.TS) {
				t.Errorf("%s: bad signature returns %q, %d; want the message and timestamp", c.Name, msg, ts)
			}
		case "format":
			if !errors.Is(err, ErrSigFormat) {
				t.Errorf("%s: Verify err = %v, want ErrSigFormat", c.Name, err)
			}
		}
		if c.Result == "ok" && strings.HasPrefix(c.Name, "seed-") {
			sawHighS = sawHighS || c.HighS
			sawLowS = sawLowS || !c.HighS
		}
	}
	if !sawHighS || !sawLowS {
		t.Fatal("vectors lack a high-S or a low-S python-ecdsa signature")
	}
}

func TestECDSAFormatErrors(t *testing.T) {
	k := ecdsaKeyFor(t, ecdsaVector{})
	sig64 := "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA=="
	for _, tc := range []struct{ payload, want string }{
		{"1700000000hello", "no ':' before a base64 signature"},
		{"17000:" + sig64, "5 bytes before the ':', too short for a 10-digit timestamp"},
		{"17000000x0hello:" + sig64, `timestamp "17000000x0" is not 10 digits`},
		{"1700000000hello:", "empty signature"},
		{"1700000000hello:!!!!", "signature is not base64"},
		{"1700000000hello:" + strings.Repeat("A", 200), "signature of 200 base64 characters is too long"},
		{"1700000000hello:AAAA", "signature of 3 bytes is neither raw r||s (64 bytes) nor DER"},
	} {
		_, _, err := k.Verify([]byte(tc.payload))
		if !errors.Is(err, ErrSigFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Verify(%.30q) = %v, want %q", tc.payload, err, tc.want)
		}
	}
	// A raw r||s of zeros, one of n (not below the order) and a DER
	// signature with a negative r are well formed but bad.
	zero := make([]byte, 64)
	ff := bytes.Repeat([]byte{0xff}, 64)
	negDER := []byte{0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01}
	for _, sig := range [][]byte{zero, ff, negDER} {
		p := append([]byte("1700000000hello:"), base64.StdEncoding.EncodeToString(sig)...)
		if _, _, err := k.Verify(p); err != ErrSigBad {
			t.Errorf("Verify(sig %x) = %v, want ErrSigBad", sig, err)
		}
	}
	// Unpadded base64 is accepted too.
	v := loadKeyringVectors(t).ECDSA[0]
	p := bytes.TrimRight(unb64(t, v.PayloadB64), "=")
	if _, _, err := k.Verify(p); err != nil {
		t.Fatalf("unpadded base64: %v", err)
	}
}

func TestParseECDSAKeyKinds(t *testing.T) {
	pub := ecdsaKeyFor(t, ecdsaVector{})
	if pub.Curve != CurveSecp256k1 || pub.Format != FormatTimestampColonBase64 || pub.Hash != "sha1" {
		t.Fatalf("defaults: %+v", pub)
	}
	// The PEM it writes is byte for byte what `openssl ec -pubout` wrote.
	if !bytes.Equal(pub.PublicPEM(), readTestdata(t, "keyring/ecdsa-public.pem")) {
		t.Fatalf("PublicPEM differs from openssl's:\n%s", pub.PublicPEM())
	}
	p256 := ecdsaKeyFor(t, ecdsaVector{Key: "p256"})
	if p256.Curve != CurveP256 || !bytes.Equal(p256.PublicPEM(), readTestdata(t, "keyring/p256-public.pem")) {
		t.Fatalf("P-256: %s", p256.PublicPEM())
	}
	// Private keys give their public half: SEC 1 (with and without EC
	// PARAMETERS first), PKCS#8, and P-256.
	for _, tc := range []struct{ file, want string }{
		{"keyring/ecdsa-private.pem", "keyring/ecdsa-public.pem"},
		{"keyring/p256-private.pem", "keyring/p256-public.pem"},
	} {
		k, err := ParseECDSAKey(readTestdata(t, tc.file), "", "")
		if err != nil || !bytes.Equal(k.PublicPEM(), readTestdata(t, tc.want)) {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
	if k, err := ParseECDSAKey(readTestdata(t, "keyring/ecdsa-with-params.pem"), "", ""); err != nil || k.Curve != CurveSecp256k1 {
		t.Errorf("ecdsa-with-params.pem: %v", err)
	}
	if k, err := ParseECDSAKey(ecKeyPEM(t), "", ""); err != nil || k.Curve != CurveP256 {
		t.Errorf("P-256 PKCS#8: %v", err)
	}
	// A SEC 1 key without its public key: computed from the private value.
	for _, file := range []string{"keyring/ecdsa-private.pem", "keyring/p256-private.pem"} {
		block, _ := pem.Decode(readTestdata(t, file))
		var ec ecPrivateKey
		if _, err := asn1.Unmarshal(block.Bytes, &ec); err != nil {
			t.Fatal(err)
		}
		ec.PublicKey = asn1.BitString{}
		der, err := asn1.Marshal(ec)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseECDSAKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), "", "")
		want := "keyring/ecdsa-public.pem"
		if strings.Contains(file, "p256") {
			want = "keyring/p256-public.pem"
		}
		if err != nil || !bytes.Equal(k.PublicPEM(), readTestdata(t, want)) {
			t.Errorf("%s without public key: %v", file, err)
		}
	}
	ed := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: unhex(t, "302a300506032b6570032100"+strings.Repeat("11", 32))})
	p384 := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: unhex(t, "3076301006072a8648ce3d020106052b81040022036200"+strings.Repeat("04", 97))})
	for _, tc := range []struct {
		name         string
		data         []byte
		format, hash string
		want         string
	}{
		{"rsa public", readTestdata(t, "keyring/rsa-public.pem"), "", "", "the key is an RSA key (rsaEncryption), want an EC public key"},
		{"rsa private", readTestdata(t, "keyring/rsa-private.pem"), "", "", "the key is an RSA key (RSA PRIVATE KEY), want an EC public key"},
		{"ed25519", ed, "", "", "the key is Ed25519, want an EC public key"},
		{"p-384", p384, "", "", "EC key on curve 1.3.132.0.34; only secp256k1"},
		{"dh public", readTestdata(t, "lab/alice.pub.pem"), "", "", "the key is DH"},
		{"encrypted", readTestdata(t, "keyring-broken/rsa-encrypted-pkcs8.pem"), "", "", "passphrase-protected"},
		{"certificate", readTestdata(t, "keyring/ca.crt"), "", "", "a certificate, want an EC public key; extract it with: openssl x509"},
		{"not pem", []byte("x"), "", "", "not a PEM file"},
		{"bad point", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: unhex(t, "3036301006072a8648ce3d020106052b8104000a032200"+"02"+strings.Repeat("ff", 32))}), "", "", "secp256k1 public key:"},
		{"format", readTestdata(t, "keyring/ecdsa-public.pem"), "colon", "", `unknown ECDSA format "colon"`},
		{"hash", readTestdata(t, "keyring/ecdsa-public.pem"), "", "md5", `unknown ECDSA hash "md5"`},
	} {
		_, err := ParseECDSAKey(tc.data, tc.format, tc.hash)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
