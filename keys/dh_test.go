package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"strings"
	"testing"
)

// derOID returns the algorithm OID of a PEM SubjectPublicKeyInfo or PKCS#8.
func derOID(t *testing.T, pemData []byte) asn1.ObjectIdentifier {
	t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatal("no PEM block")
	}
	var spki subjectPublicKeyInfo
	if _, err := asn1.Unmarshal(block.Bytes, &spki); err == nil && len(spki.Algorithm.Algorithm) > 0 {
		return spki.Algorithm.Algorithm
	}
	var pki privateKeyInfo
	if _, err := asn1.Unmarshal(block.Bytes, &pki); err != nil {
		t.Fatal(err)
	}
	return pki.Algorithm.Algorithm
}

func TestParseFixturesRoundTrip(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			group := mustGroup(t, c.Params)
			wantOID := oidDHKeyAgreement
			if strings.HasPrefix(c.Name, "x942") {
				wantOID = oidDHPublicNumber
				if group.Q == nil {
					t.Fatal("X9.42 parameters parsed without q")
				}
			} else if group.Q != nil {
				t.Fatal("PKCS#3 parameters parsed with a q")
			}
			for _, side := range [][2]string{{c.Alice, c.AlicePub}, {c.Bob, c.BobPub}} {
				privPEM, pubPEM := readTestdata(t, side[0]), readTestdata(t, side[1])
				priv := mustPriv(t, side[0])
				pub := mustPub(t, side[1])
				if got := derOID(t, pubPEM); !got.Equal(wantOID) {
					t.Fatalf("%s: fixture OID %v, want %v", side[1], got, wantOID)
				}
				if !priv.Group.Equal(group) || !pub.Group.Equal(group) {
					t.Fatalf("%s: group differs from %s", side[0], c.Params)
				}
				if (pub.Group.Q == nil) != (group.Q == nil) || group.Q != nil && pub.Group.Q.Cmp(group.Q) != 0 {
					t.Fatalf("%s: q differs from %s", side[1], c.Params)
				}
				if priv.Y.Cmp(pub.Y) != 0 {
					t.Fatalf("%s: g^x mod p is not the y of %s", side[0], side[1])
				}
				if priv.Source != "" {
					t.Fatalf("Source = %q for a parsed key, want \"\"", priv.Source)
				}
				if got := priv.MarshalPKCS8PEM(); !bytes.Equal(got, privPEM) {
					t.Fatalf("%s: MarshalPKCS8PEM differs from Python's bytes:\n%s", side[0], got)
				}
				if got := pub.MarshalPEM(); !bytes.Equal(got, pubPEM) {
					t.Fatalf("%s: MarshalPEM differs from Python's bytes:\n%s", side[1], got)
				}
				if got := priv.Public().MarshalPEM(); !bytes.Equal(got, pubPEM) {
					t.Fatalf("%s: Public().MarshalPEM differs from %s", side[0], side[1])
				}
				if why := pub.Validate(); why != "" {
					t.Fatalf("%s: Validate = %q", side[1], why)
				}
				fp := pub.Fingerprint()
				if len(fp) != 16 || fp != priv.Public().Fingerprint() {
					t.Fatalf("Fingerprint %q, private side %q", fp, priv.Public().Fingerprint())
				}
			}
			if mustPub(t, c.AlicePub).Fingerprint() == mustPub(t, c.BobPub).Fingerprint() {
				t.Fatal("two keys with one fingerprint")
			}
		})
	}
}

func TestParseLabParams(t *testing.T) {
	g := mustGroup(t, "lab/dhparam4096.pem")
	if g.Bits() != 4096 || g.G.Cmp(big.NewInt(2)) != 0 || g.Q != nil {
		t.Fatalf("lab group: %d bits, g=%v, q=%v; want 4096, 2, nil", g.Bits(), g.G, g.Q)
	}
	if w := g.Weakness(); w != "" {
		t.Fatalf("lab group Weakness = %q", w)
	}
}

func TestSharedSecretMatchesPython(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			want := unhex(t, c.SecretHex)
			a, b := mustPriv(t, c.Alice), mustPriv(t, c.Bob)
			ab, err := a.SharedSecret(mustPub(t, c.BobPub))
			if err != nil {
				t.Fatal(err)
			}
			ba, err := b.SharedSecret(mustPub(t, c.AlicePub))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ab, want) || !bytes.Equal(ba, want) {
				t.Fatalf("shared secret differs from Python's exchange():\n go %x\n py %x", ab, want)
			}
			if len(ab) != a.Group.byteLen() {
				t.Fatalf("secret is %d bytes, p is %d", len(ab), a.Group.byteLen())
			}
		})
	}
	c := vectorByName(t, "g2048-zero")
	if s := unhex(t, c.SecretHex); s[0] != 0 {
		t.Fatalf("fixture g2048-zero secret starts with %02x, want a zero byte", s[0])
	}
}

func TestSharedSecretErrors(t *testing.T) {
	a := mustPriv(t, "g2048/alice.pem")
	if _, err := a.SharedSecret(mustPub(t, "lab/bob.pub.pem")); err == nil || !strings.Contains(err.Error(), "another group") {
		t.Fatalf("cross-group exchange: err = %v", err)
	}
	bad := &DHPublicKey{Group: a.Group, Y: big.NewInt(1)}
	if _, err := a.SharedSecret(bad); err == nil || !strings.Contains(err.Error(), "invalid peer public value") {
		t.Fatalf("y=1 exchange: err = %v", err)
	}
	if _, err := a.SharedSecret(nil); err == nil {
		t.Fatal("nil peer: no error")
	}
	if _, err := (&DHPrivateKey{}).SharedSecret(a.Public()); err == nil {
		t.Fatal("empty private key: no error")
	}
}

func TestValidate(t *testing.T) {
	g := mustGroup(t, "g2048/params.pem")
	p := g.P
	sub := func(n int64) *big.Int { return new(big.Int).Sub(p, big.NewInt(n)) }
	for _, tc := range []struct {
		name string
		y    *big.Int
		want string // substring; "" means valid
	}{
		{"y=0", big.NewInt(0), "not above 1"},
		{"y=1", big.NewInt(1), "not above 1"},
		{"y=-5", big.NewInt(-5), "not above 1"},
		{"y=p-1", sub(1), "p-1"},
		{"y=p", new(big.Int).Set(p), "not below p-1"},
		{"y=p+7", new(big.Int).Add(p, big.NewInt(7)), "not below p-1"},
		{"y=2", big.NewInt(2), ""},
		{"y=p-2", sub(2), ""},
	} {
		why := (&DHPublicKey{Group: g, Y: tc.y}).Validate()
		if tc.want == "" && why != "" || tc.want != "" && !strings.Contains(why, tc.want) {
			t.Errorf("%s: Validate = %q, want %q", tc.name, why, tc.want)
		}
	}
	// With q known, a value outside the order-q subgroup is invalid.
	x := mustGroup(t, "x942/params.pem")
	outside := new(big.Int).Sub(x.P, big.NewInt(2))
	if new(big.Int).Exp(outside, x.Q, x.P).Cmp(big.NewInt(1)) == 0 {
		t.Fatal("test value unexpectedly in the subgroup")
	}
	if why := (&DHPublicKey{Group: x, Y: outside}).Validate(); !strings.Contains(why, "y^q mod p != 1") {
		t.Errorf("y outside subgroup: Validate = %q", why)
	}
	if why := mustPub(t, "x942/alice.pub.pem").Validate(); why != "" {
		t.Errorf("x942 fixture: Validate = %q", why)
	}
	// The same y in the group without q (PKCS#3 view) passes.
	if why := (&DHPublicKey{Group: DHGroup{P: x.P, G: x.G}, Y: outside}).Validate(); why != "" {
		t.Errorf("no q: Validate = %q", why)
	}
	for _, k := range []*DHPublicKey{nil, {}, {Y: big.NewInt(5)}} {
		if k.Validate() == "" {
			t.Errorf("Validate(%+v) = \"\"", k)
		}
	}
}

func TestWeakness(t *testing.T) {
	lab := mustGroup(t, "lab/dhparam4096.pem")
	composite := DHGroup{P: new(big.Int).Mul(lab.P, big.NewInt(3)), G: big.NewInt(2)}
	for _, tc := range []struct {
		name string
		g    DHGroup
		want []string
	}{
		{"lab", lab, nil},
		{"2048", mustGroup(t, "g2048/params.pem"), nil},
		{"x942", mustGroup(t, "x942/params.pem"), nil},
		{"x942-openssl", mustGroup(t, "x942-openssl/params.pem"), nil},
		{"1024", mustGroup(t, "weak1024/params.pem"), []string{"1024 bits"}},
		{"composite", composite, []string{"not prime"}},
		{"g=1", DHGroup{P: lab.P, G: big.NewInt(1)}, []string{"g = 1 is not in [2, p-2]"}},
		{"g=p-1", DHGroup{P: lab.P, G: new(big.Int).Sub(lab.P, big.NewInt(1))}, []string{"not in [2, p-2]"}},
		{"tiny composite", DHGroup{P: big.NewInt(15), G: big.NewInt(2)}, []string{"4 bits", "not prime"}},
		{"no p", DHGroup{G: big.NewInt(2)}, []string{"no p"}},
		{"p=3", DHGroup{P: big.NewInt(3), G: big.NewInt(2)}, []string{"too small"}},
	} {
		got := tc.g.Weakness()
		if len(tc.want) == 0 && got != "" {
			t.Errorf("%s: Weakness = %q, want \"\"", tc.name, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: Weakness = %q, want it to mention %q", tc.name, got, w)
			}
		}
	}
}

func TestGroupEqualAndBits(t *testing.T) {
	lab := mustGroup(t, "lab/dhparam4096.pem")
	g2 := mustGroup(t, "g2048/params.pem")
	if !lab.Equal(mustPub(t, "lab/alice.pub.pem").Group) || lab.Equal(g2) || lab.Equal(DHGroup{}) || (DHGroup{}).Equal(DHGroup{}) {
		t.Fatal("Equal is wrong")
	}
	if (DHGroup{}).Bits() != 0 || g2.Bits() != 2048 {
		t.Fatal("Bits is wrong")
	}
}

// constReader returns the same byte forever.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestGenerateDHKey(t *testing.T) {
	for _, name := range []string{"g2048/params.pem", "x942/params.pem"} {
		g := mustGroup(t, name)
		for range 20 {
			k, err := GenerateDHKey(g, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := big.NewInt(2), new(big.Int).Sub(g.P, big.NewInt(2))
			if g.Q != nil {
				lo, hi = big.NewInt(1), new(big.Int).Sub(g.Q, big.NewInt(1))
			}
			if k.X.Cmp(lo) < 0 || k.X.Cmp(hi) > 0 {
				t.Fatalf("%s: x out of [%v, hi]", name, lo)
			}
			if k.Y.Cmp(new(big.Int).Exp(g.G, k.X, g.P)) != 0 || k.Source != "" {
				t.Fatal("y is not g^x mod p")
			}
			back, err := ParseDHPrivateKeyPEM(k.MarshalPKCS8PEM())
			if err != nil {
				t.Fatal(err)
			}
			if back.X.Cmp(k.X) != 0 || !back.Group.Equal(g) || (back.Group.Q == nil) != (g.Q == nil) {
				t.Fatal("PKCS#8 round trip lost the key")
			}
			pub, err := ParseDHPublicKeyPEM(k.Public().MarshalPEM())
			if err != nil || pub.Y.Cmp(k.Y) != 0 || pub.Validate() != "" {
				t.Fatalf("public round trip: %v", err)
			}
		}
		// The lowest value comes from an all-zero source.
		k, err := GenerateDHKey(g, constReader(0))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(2)
		if g.Q != nil {
			want = 1
		}
		if k.X.Int64() != want {
			t.Fatalf("zero source: x = %v, want %d", k.X, want)
		}
	}
	g := mustGroup(t, "g2048/params.pem")
	// An all-ones source never yields a value in range: an error, no hang.
	if _, err := GenerateDHKey(DHGroup{P: big.NewInt(0xffff), G: big.NewInt(2)}, constReader(0xff)); err == nil {
		t.Fatal("stuck random source: no error")
	}
	if _, err := GenerateDHKey(g, io.LimitReader(rand.Reader, 3)); err == nil {
		t.Fatal("short random source: no error")
	}
	if _, err := GenerateDHKey(DHGroup{}, rand.Reader); err == nil {
		t.Fatal("empty group: no error")
	}
	if _, err := GenerateDHKey(g, nil); err == nil {
		t.Fatal("nil reader: no error")
	}
}

func TestParseErrors(t *testing.T) {
	pub := readTestdata(t, "g2048/alice.pub.pem")
	priv := readTestdata(t, "g2048/alice.pem")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})
	rsaPrivDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPriv := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaPrivDER})
	block, _ := pem.Decode(pub)
	truncated := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes[:len(block.Bytes)-10]})

	// Whitespace after the block is fine, anything else is not.
	if _, err := ParseDHPublicKeyPEM(append(append([]byte{}, pub...), " \n\t\r\n"...)); err != nil {
		t.Fatalf("trailing whitespace: %v", err)
	}
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		in    []byte
		want  string
	}{
		{"pub empty", parsePub, nil, "no PEM block"},
		{"pub junk", parsePub, []byte("hello"), "no PEM block"},
		{"pub trailing", parsePub, append(append([]byte{}, pub...), "x"...), "unexpected data after the PUBLIC KEY"},
		{"pub two blocks", parsePub, append(append([]byte{}, pub...), pub...), "unexpected data after"},
		{"pub is private", parsePub, priv, `"PRIVATE KEY", want "PUBLIC KEY"`},
		{"pub rsa", parsePub, rsaPub, "not a DH key: algorithm rsaEncryption"},
		{"pub truncated", parsePub, truncated, "SubjectPublicKeyInfo"},
		{"priv is public", parsePriv, pub, `"PUBLIC KEY", want "PRIVATE KEY"`},
		{"priv rsa", parsePriv, rsaPriv, "not a DH key"},
		{"priv encrypted", parsePriv, readTestdata(t, "encrypted/encrypted.pem"), "openssl pkey -in"},
		{"priv DH PRIVATE KEY", parsePriv, pem.EncodeToMemory(&pem.Block{Type: "DH PRIVATE KEY", Bytes: []byte{1}}), "not a standard format"},
		{"params is key", parseParams, pub, "want \"DH PARAMETERS\""},
		{"params junk DER", parseParams, pem.EncodeToMemory(&pem.Block{Type: "DH PARAMETERS", Bytes: []byte{0x30, 0x03, 0x02, 0x01}}), "DH parameters"},
		{"params p=3", parseParams, paramsPEM(t, "DH PARAMETERS", big.NewInt(3), big.NewInt(2)), "too small"},
		{"params g<0", parseParams, paramsPEM(t, "DH PARAMETERS", big.NewInt(23), big.NewInt(-2)), "negative"},
		{"params missing g", parseParams, paramsPEM(t, "DH PARAMETERS", big.NewInt(23)), "g is missing"},
		{"params x942 missing q", parseParams, paramsPEM(t, "X9.42 DH PARAMETERS", big.NewInt(23), big.NewInt(2)), "q is missing"},
		{"params q>=p", parseParams, paramsPEM(t, "X9.42 DH PARAMETERS", big.NewInt(23), big.NewInt(2), big.NewInt(29)), "q is not in"},
		{"params extra field", parseParams, paramsPEM(t, "DH PARAMETERS", big.NewInt(23), big.NewInt(2), big.NewInt(5), big.NewInt(5)), "unexpected fields"},
		{"params huge p", parseParams, paramsPEM(t, "DH PARAMETERS", new(big.Int).Lsh(big.NewInt(1), 10001), big.NewInt(2)), "more than the 10000"},
	} {
		err := tc.parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	// A private value out of range.
	k := mustPriv(t, "g2048/alice.pem")
	k.X = new(big.Int).Set(k.Group.P)
	if _, err := ParseDHPrivateKeyPEM(k.MarshalPKCS8PEM()); err == nil || !strings.Contains(err.Error(), "not in [1, p-1]") {
		t.Errorf("x = p: err = %v", err)
	}
}

func parsePub(b []byte) error    { _, err := ParseDHPublicKeyPEM(b); return err }
func parsePriv(b []byte) error   { _, err := ParseDHPrivateKeyPEM(b); return err }
func parseParams(b []byte) error { _, err := ParseDHParamsPEM(b); return err }

// paramsPEM encodes a SEQUENCE of integers as a parameters PEM block.
func paramsPEM(t *testing.T, typ string, ints ...*big.Int) []byte {
	t.Helper()
	var body []byte
	for _, n := range ints {
		b, err := asn1.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, b...)
	}
	der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestPrivateValueLengthKept(t *testing.T) {
	g := mustGroup(t, "g2048/params.pem")
	in := paramsPEM(t, "DH PARAMETERS", g.P, g.G, big.NewInt(256))
	g2, err := ParseDHParamsPEM(in)
	if err != nil {
		t.Fatal(err)
	}
	if !g2.Equal(g) {
		t.Fatal("privateValueLength changed the group")
	}
	k, err := GenerateDHKey(g2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseDHPublicKeyPEM(k.Public().MarshalPEM())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Group.marshalParams(), g2.marshalParams()) || bytes.Equal(g.marshalParams(), g2.marshalParams()) {
		t.Fatal("privateValueLength not written back")
	}
}

func TestNilSafety(t *testing.T) {
	var pub *DHPublicKey
	if pub.MarshalPEM() != nil || pub.Fingerprint() != "" || pub.Validate() == "" {
		t.Fatal("nil public key")
	}
	var priv *DHPrivateKey
	if priv.MarshalPKCS8PEM() != nil {
		t.Fatal("nil private key")
	}
	if _, err := priv.SharedSecret(&DHPublicKey{}); err == nil {
		t.Fatal("nil private key exchange")
	}
	if (&DHPrivateKey{}).Public().Y != nil {
		t.Fatal("empty private key has a public value")
	}
}

func TestX942OptionalFields(t *testing.T) {
	g := mustGroup(t, "x942-openssl/params.pem")
	if len(g.tail) == 0 {
		t.Fatal("OpenSSL's validationParms were not kept")
	}
	p, gen, q := g.P, g.G, g.Q
	j := new(big.Int).Div(new(big.Int).Sub(p, big.NewInt(1)), q)
	vparms, err := asn1.Marshal(x942ValidationParms{Seed: asn1.BitString{Bytes: []byte{1, 2, 3}, BitLength: 24}, PgenCounter: big.NewInt(7)})
	if err != nil {
		t.Fatal(err)
	}
	octet, _ := asn1.Marshal([]byte{1})
	build := func(extra ...[]byte) []byte {
		var body []byte
		for _, n := range []*big.Int{p, gen, q} {
			b, _ := asn1.Marshal(n)
			body = append(body, b...)
		}
		for _, e := range extra {
			body = append(body, e...)
		}
		der, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
		return pem.EncodeToMemory(&pem.Block{Type: "X9.42 DH PARAMETERS", Bytes: der})
	}
	jDER, _ := asn1.Marshal(j)
	for _, extra := range [][][]byte{{jDER}, {jDER, vparms}, {vparms}} {
		grp, err := ParseDHParamsPEM(build(extra...))
		if err != nil {
			t.Fatal(err)
		}
		k, err := GenerateDHKey(grp, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDHPublicKeyPEM(k.Public().MarshalPEM())
		if err != nil || !bytes.Equal(back.Group.marshalParams(), grp.marshalParams()) || back.Group.Q.Cmp(q) != 0 {
			t.Fatalf("optional fields not kept: %v", err)
		}
	}
	for _, extra := range [][][]byte{{octet}, {jDER, vparms, jDER}, {vparms, jDER}, {jDER, octet}} {
		if _, err := ParseDHParamsPEM(build(extra...)); err == nil {
			t.Errorf("bad optional fields %x accepted", extra)
		}
	}
}

// With a safe prime and q = (p-1)/2 given, the subgroup check (by the
// Jacobi symbol) agrees with y^q mod p = 1 on random values.
func TestValidateSafePrimeSubgroup(t *testing.T) {
	g := mustGroup(t, "g2048/params.pem")
	g.Q = new(big.Int).Rsh(g.P, 1)
	if !g.Q.ProbablyPrime(8) {
		t.Fatal("g2048/params.pem is not a safe prime")
	}
	in, out := 0, 0
	for range 40 {
		y, err := rand.Int(rand.Reader, new(big.Int).Sub(g.P, big.NewInt(3)))
		if err != nil {
			t.Fatal(err)
		}
		y.Add(y, big.NewInt(2))
		want := new(big.Int).Exp(y, g.Q, g.P).Cmp(big.NewInt(1)) == 0
		got := (&DHPublicKey{Group: g, Y: y}).Validate() == ""
		if got != want {
			t.Fatalf("y = %s: valid %v, y^q mod p = 1 %v", y.Text(16), got, want)
		}
		if want {
			in++
		} else {
			out++
		}
	}
	if in == 0 || out == 0 {
		t.Errorf("%d values in the subgroup and %d outside: the test saw one kind only", in, out)
	}
}
