package keys

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/mqtap/mqtap/keys/tomllines"
)

// FuzzECDSAVerify feeds payloads to the seed-002 verifier (secp256k1,
// timestamp-colon-base64, SHA-1), the detached SHA-256 one and the P-256
// one: no panic, only ErrSigBad or ErrSigFormat, and the message and
// timestamp returned are the payload's own.
func FuzzECDSAVerify(f *testing.F) {
	v := loadKeyringVectors(f)
	var seed, detached, p256 *ECDSAKey
	for _, c := range v.ECDSA {
		f.Add(unb64(f, c.PayloadB64), uint8(0))
		f.Add(unb64(f, c.PayloadB64), uint8(1))
		f.Add(unb64(f, c.PayloadB64), uint8(2))
		switch {
		case c.Key == "p256" && p256 == nil:
			p256 = ecdsaKeyFor(f, c)
		case c.Format == FormatDetachedBase64Suffix && detached == nil:
			detached = ecdsaKeyFor(f, c)
		case c.Key == "secp256k1" && c.Format == "" && seed == nil:
			seed = ecdsaKeyFor(f, c)
		}
	}
	ks := []*ECDSAKey{seed, detached, p256}
	f.Fuzz(func(t *testing.T, payload []byte, which uint8) {
		k := ks[int(which)%len(ks)]
		msg, ts, err := k.Verify(payload)
		if err != nil && !errors.Is(err, ErrSigBad) {
			if !errors.Is(err, ErrSigFormat) {
				t.Fatalf("error %v is neither ErrSigBad nor ErrSigFormat", err)
			}
			return
		}
		i := bytes.LastIndexByte(payload, ':')
		if k.Format == FormatTimestampColonBase64 {
			if ts < 0 || ts > 9999999999 || string(payload[:10]) != fmt.Sprintf("%010d", ts) {
				t.Fatalf("timestamp %d from %q", ts, payload[:10])
			}
			if !bytes.Equal(msg, payload[10:i]) {
				t.Fatalf("message %q, want %q", msg, payload[10:i])
			}
		} else if ts != 0 || !bytes.Equal(msg, payload[:i]) {
			t.Fatalf("detached: %q, %d", msg, ts)
		}
	})
}

// FuzzHMACVerify feeds payloads to HMAC keys of every algorithm and
// layout: Verify never panics, errors only on payloads shorter than the
// MAC, Sign's output verifies and any one-bit change of it does not.
func FuzzHMACVerify(f *testing.F) {
	v := loadKeyringVectors(f)
	for _, c := range v.HMAC {
		f.Add(unb64(f, c.PayloadB64), uint8(0), uint16(0))
	}
	f.Add([]byte{}, uint8(3), uint16(1))
	var ks []*HMACKey
	for _, alg := range []string{"sha256", "sha1", "sha512"} {
		for _, layout := range []string{LayoutTrailer, LayoutPrefix} {
			k, err := NewHMACKey(alg, layout, unhex(f, v.HMACKeyHex))
			if err != nil {
				f.Fatal(err)
			}
			ks = append(ks, k)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, which uint8, flip uint16) {
		k := ks[int(which)%len(ks)]
		data, ok, err := k.Verify(payload)
		if (err != nil) != (len(payload) < k.Size()) {
			t.Fatalf("Verify(%d bytes) err = %v", len(payload), err)
		}
		if err == nil && len(data) != len(payload)-k.Size() {
			t.Fatalf("data of %d bytes from %d", len(data), len(payload))
		}
		if ok && !bytes.Equal(k.Sign(data), payload) {
			t.Fatal("a payload verified that Sign does not make")
		}
		signed := k.Sign(payload)
		got, ok, err := k.Verify(signed)
		if !ok || err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("Sign then Verify: %v %v", ok, err)
		}
		bit := int(flip) % (8 * len(signed))
		signed[bit/8] ^= 1 << (bit % 8)
		if _, ok, _ := k.Verify(signed); ok {
			t.Fatalf("bit %d flipped still verifies", bit)
		}
	})
}

// FuzzParseKeyring parses keyring text (paths resolve beside the sample
// keyring): no panic, and every error names the file.
func FuzzParseKeyring(f *testing.F) {
	f.Add(readTestdata(f, "keyring/valid.toml"))
	for _, tc := range brokenKeyrings {
		f.Add(readTestdata(f, "keyring-broken/"+tc.file))
	}
	const file = "testdata/keyring/fuzz.toml"
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = tomllines.Scan(data)
		kr, err := parseKeyring(file, data)
		if err != nil {
			for _, l := range bytes.Split([]byte(err.Error()), []byte("\n")) {
				if !bytes.HasPrefix(l, []byte("keys: "+file+":")) {
					t.Fatalf("error line %q does not name the file", l)
				}
			}
			return
		}
		for _, r := range kr.rules {
			if r.Scheme() == "" || len(r.Topics) == 0 {
				t.Fatalf("rule %s without scheme or topics", r.Source)
			}
			_ = r.Matches([]byte("a/b"))
		}
	})
}
