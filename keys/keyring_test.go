package keys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// headerLines returns the lines of the lines of data equal to header.
func headerLines(data []byte, header string) []int {
	var out []int
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, header) {
			out = append(out, i+1)
		}
	}
	return out
}

// checkValidStore checks a store loaded from testdata/keyring/valid.toml
// (file is the keyring's path as loaded).
func checkValidStore(t *testing.T, s *Store, file string) {
	t.Helper()
	rules := s.Rules()
	lines := headerLines(readTestdata(t, "keyring/valid.toml"), "[[rule]]")
	wantSchemes := []string{"hmac-sha256+rsa-oaep", "rsa-oaep", "hmac-sha256", "ecdsa", "ecdsa"}
	if len(rules) != len(wantSchemes) || len(lines) != len(wantSchemes) {
		t.Fatalf("%d rules (%d headers), want %d", len(rules), len(lines), len(wantSchemes))
	}
	for i, r := range rules {
		if r.Scheme() != wantSchemes[i] {
			t.Errorf("rule %d: Scheme %q, want %q", i, r.Scheme(), wantSchemes[i])
		}
		if want := fmt.Sprintf("%s:%d", file, lines[i]); r.Source != want {
			t.Errorf("rule %d: Source %q, want %q", i, r.Source, want)
		}
	}
	abs, err := filepath.Abs("testdata/keyring")
	if err != nil {
		t.Fatal(err)
	}
	r0, r1, r2, r3, r4 := rules[0], rules[1], rules[2], rules[3], rules[4]
	if r0.HMAC.Algorithm != "sha256" || r0.HMAC.Layout != LayoutTrailer || r0.RSA.Hash != "sha1" ||
		r0.RSA.File != filepath.Join(abs, "rsa-private.pem") || r0.ECDSA != nil {
		t.Errorf("rule 0: %+v %+v", r0.HMAC, r0.RSA)
	}
	if r1.RSA.Hash != "sha256" || r1.HMAC != nil {
		t.Errorf("rule 1: %+v", r1.RSA)
	}
	if r2.HMAC.Layout != LayoutPrefix || !bytes.Equal(r2.HMAC.key, readTestdata(t, "keyring/hmac-client.key")) {
		t.Errorf("rule 2: %+v", r2.HMAC)
	}
	if r3.ECDSA.Curve != CurveSecp256k1 || r3.ECDSA.Format != FormatTimestampColonBase64 || r3.ECDSA.Hash != "sha1" ||
		r3.ECDSA.File != filepath.Join(abs, "ecdsa-public.pem") {
		t.Errorf("rule 3: %+v", r3.ECDSA)
	}
	if r4.ECDSA.Curve != CurveP256 || r4.ECDSA.Hash != "sha256" {
		t.Errorf("rule 4: %+v", r4.ECDSA)
	}
	for topic, want := range map[string]*Rule{
		"clientAAA": r0, "clientAAA/x/y": r0, "clientAAAA": nil, "clientBBB/7/data": r1,
		"clientBBB/data": nil, "clientCCC": r2, "clientCCC/x": nil, "user/meinuser/dsa-test": r3,
		"user/x": r3, "user": nil, "p256": r4, "p256/a/b": r4, "$SYS/broker": nil,
	} {
		if got := s.RuleFor([]byte(topic)); got != want {
			t.Errorf("RuleFor(%q) = %v, want %v", topic, got, want)
		}
	}
	if got := s.TLSKeylogs(); len(got) != 1 || got[0] != filepath.Join(abs, "tls.keylog") {
		t.Errorf("TLSKeylogs = %v", got)
	}
	if got := s.CAFile(); got != filepath.Join(abs, "ca.crt") {
		t.Errorf("CAFile = %q", got)
	}
	// [[dh]]: ../lab/alice.pem and the four private keys of ../g2048/*.pem.
	if n := len(s.DHKeys()); n != 5 {
		t.Errorf("%d DH keys, want 5", n)
	}
	for _, name := range []string{"lab/alice", "g2048/alice", "g2048/zero-bob"} {
		if s.FindDH(mustPub(t, name+".pub.pem")) == nil {
			t.Errorf("FindDH(%s) = nil", name)
		}
	}
}

func TestKeyringValid(t *testing.T) {
	file := "testdata/keyring/valid.toml"
	s, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	checkValidStore(t, s, file)

	// The keys of the rules work on the Python vectors.
	v := loadKeyringVectors(t)
	rule := s.RuleFor([]byte("clientAAA"))
	data, ok, err := rule.HMAC.Verify(unb64(t, v.HMAC[0].PayloadB64))
	if !ok || err != nil {
		t.Fatalf("HMAC: %v %v", ok, err)
	}
	if pt, err := rule.RSA.Decrypt(data); err != nil || string(pt) != v.RSA[0].Plaintext {
		t.Fatalf("RSA: %q %v", pt, err)
	}
	if _, _, err := s.RuleFor([]byte("user/meinuser/dsa-test")).ECDSA.Verify(unb64(t, v.ECDSA[0].PayloadB64)); err != nil {
		t.Fatalf("ECDSA: %v", err)
	}
}

func TestKeyringDirectory(t *testing.T) {
	// The keyring directory itself: valid.toml is found, its RSA and EC
	// PEM files are skipped without error.
	s, err := Load("testdata/keyring")
	if err != nil {
		t.Fatal(err)
	}
	checkValidStore(t, s, filepath.Join("testdata/keyring", "valid.toml"))

	// A keyring found deeper, beside PEM files and a second keyring: rules
	// of both in walk order, paths relative to each keyring.
	dir := t.TempDir()
	writeFile(t, dir, "a/ring.toml", []byte(`[[rule]]
topics = ["x/#"]
hmac = { key_base64 = "c2VjcmV0" }
`))
	writeFile(t, dir, "b/c/ring.TOML", []byte(`
[[dh]]
private_keys = "lab/*.pem"

[[rule]]
topics = ["x/y", "z"]
rsa_oaep.private_key = "rsa.pem"
[tls]
keylog = "k.log"
`))
	writeFile(t, dir, "b/c/lab/bob.pem", readTestdata(t, "lab/bob.pem"))
	writeFile(t, dir, "b/c/lab/bob.pub.pem", readTestdata(t, "lab/bob.pub.pem"))
	writeFile(t, dir, "b/c/rsa.pem", readTestdata(t, "keyring/rsa-private-pkcs8.pem"))
	writeFile(t, dir, "b/c/k.log", []byte("CLIENT_RANDOM "+strings.Repeat("00", 32)+" "+strings.Repeat("00", 48)+"\n"))
	s, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rules := s.Rules()
	if len(rules) != 2 || string(rules[0].HMAC.key) != "secret" || rules[1].RSA == nil {
		t.Fatalf("rules: %v", rules)
	}
	if s.RuleFor([]byte("x/y")) != rules[0] || s.RuleFor([]byte("z")) != rules[1] {
		t.Fatal("RuleFor does not take the first match")
	}
	if len(s.DHKeys()) != 1 || s.FindDH(mustPub(t, "lab/bob.pub.pem")) == nil {
		t.Fatal("DH key of the glob missing")
	}
	if kl := s.TLSKeylogs(); len(kl) != 1 || kl[0] != filepath.Join(dir, "b/c/k.log") || s.CAFile() != "" {
		t.Fatalf("TLS: %v %q", kl, s.CAFile())
	}
	// The same keyring loaded twice adds its rules once.
	s, err = Load(filepath.Join(dir, "a/ring.toml"), filepath.Join(dir, "a"))
	if err != nil || len(s.Rules()) != 1 {
		t.Fatalf("twice: %v, %d rules", err, len(s.Rules()))
	}
	// An empty keyring configures nothing.
	s, err = Load(writeFile(t, t.TempDir(), "empty.toml", nil))
	if err != nil || s.Rules() != nil || s.RuleFor([]byte("a")) != nil || s.TLSKeylogs() != nil {
		t.Fatalf("empty keyring: %v", err)
	}
	// No keyring at all.
	s, err = Load()
	if err != nil || s.Rules() != nil || s.RuleFor([]byte("a")) != nil || s.CAFile() != "" {
		t.Fatal("no keyring")
	}
	var nilStore *Store
	if nilStore.Rules() != nil || nilStore.RuleFor([]byte("a")) != nil || nilStore.TLSKeylogs() != nil || nilStore.CAFile() != "" {
		t.Fatal("nil store")
	}
}

// brokenKeyrings are the files of testdata/keyring-broken, the line their
// error names and what it must say.
var brokenKeyrings = []struct {
	file string
	line int
	want []string
}{
	{"unknown-key.toml", 3, []string{`unknown key "algo" in hmac (want algorithm, key_hex, key_base64, key_file, layout)`}},
	{"unknown-top.toml", 5, []string{`unknown key "tsl" (want [[dh]], [[rule]] or [tls])`}},
	{"unknown-rule-key.toml", 6, []string{`unknown key "topic" in [[rule]]`}},
	{"missing-file.toml", 3, []string{`rsa_oaep.private_key "no-such-key.pem": no such file: `, "keyring-broken/no-such-key.pem"}},
	{"glob-nothing.toml", 3, []string{`dh.private_keys "no-such-dir/*.pem" matches no file`}},
	{"glob-no-dh.toml", 3, []string{`dh.private_keys "../keyring/rsa-private.pem": no DH private key: rsa-private.pem holds RSA PRIVATE KEY`}},
	{"ec-for-rsa.toml", 3, []string{`rsa_oaep.private_key "../keyring/ecdsa-private.pem": the key is an EC private key (EC PRIVATE KEY), want an RSA private key`}},
	{"rsa-for-ec.toml", 3, []string{`ecdsa.public_key "../keyring/rsa-public.pem": the key is an RSA key (rsaEncryption), want an EC public key`}},
	{"not-pem.toml", 3, []string{`ecdsa.public_key "../keyring/tls.keylog": not a PEM file`}},
	{"encrypted.toml", 3, []string{"passphrase-protected ENCRYPTED PRIVATE KEY", "remove it with: openssl pkey -in KEY.pem -out KEY-plain.pem"}},
	{"encrypted-traditional.toml", 3, []string{"passphrase-protected RSA PRIVATE KEY (Proc-Type: 4,ENCRYPTED)", "openssl pkey"}},
	{"hmac-no-key.toml", 4, []string{"hmac has no key: set one of key_hex, key_base64 or key_file"}},
	{"hmac-two-keys.toml", 3, []string{"hmac has both key_hex and key_file: set only one"}},
	{"bad-algorithm.toml", 4, []string{`hmac.algorithm: unknown algorithm "md5" (want sha256, sha1 or sha512)`}},
	{"bad-layout.toml", 3, []string{`hmac.layout: unknown layout "suffix" (want trailer or prefix)`}},
	{"bad-format.toml", 3, []string{`ecdsa.format: unknown format "colon" (want timestamp-colon-base64 or detached-base64-suffix)`}},
	{"bad-hash.toml", 3, []string{`rsa_oaep.hash: unknown hash "md5" (want sha1 or sha256)`}},
	{"bad-curve.toml", 3, []string{`ecdsa.curve: unknown curve "P-384" (want secp256k1 or P-256)`}},
	{"wrong-curve.toml", 3, []string{`ecdsa.curve is P-256 but the key "../keyring/ecdsa-public.pem" is on secp256k1`}},
	{"bad-hex.toml", 3, []string{"hmac.key_hex is not hex"}},
	{"bad-filter.toml", 2, []string{`topic filter "a/#/b": '#' must be the last level`}},
	{"no-topics.toml", 1, []string{"[[rule]] has no topics"}},
	{"no-scheme.toml", 1, []string{"rule has none of hmac, rsa_oaep, ecdsa"}},
	{"syntax.toml", 3, []string{"not valid TOML: expected a comma"}},
	{"single-rule-table.toml", 1, []string{"[rule] is a single table; write [[rule]] for each block"}},
	{"wrong-type.toml", 3, []string{"hmac is a string, want a table such as hmac = { ... }"}},
	{"missing-cafile.toml", 2, []string{`tls.cafile "no-such-ca.crt": no such file`}},
	{"not-a-cert.toml", 2, []string{`tls.cafile "../keyring/rsa-public.pem": no PEM CERTIFICATE block found`}},
	{"missing-keylog.toml", 2, []string{`tls.keylog "no-such.keylog": no such file`, "touch"}},
}

func TestKeyringErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/keyring-broken/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(brokenKeyrings) {
		t.Errorf("%d broken keyrings, %d cases: keep them in step", len(files), len(brokenKeyrings))
	}
	for _, tc := range brokenKeyrings {
		file := filepath.Join("testdata/keyring-broken", tc.file)
		_, err := Load(file)
		if err == nil {
			t.Errorf("%s: loaded without error", tc.file)
			continue
		}
		// Every line of the error names FILE:LINE.
		for _, l := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(l, "keys: "+file+":") {
				t.Errorf("%s: error line %q does not start with FILE:LINE", tc.file, l)
			}
		}
		if prefix := fmt.Sprintf("keys: %s:%d: ", file, tc.line); !strings.Contains(err.Error(), prefix) {
			t.Errorf("%s: %v\nwant line %d", tc.file, err, tc.line)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to say %q", tc.file, err, w)
			}
		}
		var le *locError
		if !errors.As(err, &le) && !strings.Contains(err.Error(), fmt.Sprintf(":%d: ", tc.line)) {
			t.Errorf("%s: not a located error", tc.file)
		}
	}
}

func TestKeyringMoreErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rsa.pem", readTestdata(t, "keyring/rsa-private.pem"))
	writeFile(t, dir, "ca.crt", readTestdata(t, "keyring/ca.crt"))
	writeFile(t, dir, "ca2.crt", readTestdata(t, "keyring/ca.crt"))
	writeFile(t, dir, "lab/dhparam.pem", readTestdata(t, "lab/dhparam4096.pem"))
	writeFile(t, dir, "lab/alice.pub.pem", readTestdata(t, "lab/alice.pub.pem"))
	writeFile(t, dir, "bad/broken.pem", []byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	writeFile(t, dir, "empty.key", nil)
	for _, tc := range []struct {
		name, text string
		line       int
		want       string
	}{
		{"several errors in line order", "[[rule]]\ntopics = [\"a\"]\nhmac = { key_hex = \"00\", x = 1 }\n\n[[rule]]\ntopics = [\"b\"]\nrsa_oaep = { private_key = \"nope.pem\" }\n", 7, "test.toml:3: unknown key \"x\" in hmac"},
		{"dh glob with no DH key among several files", "[[dh]]\nprivate_keys = [\"lab/*.pem\"]\n", 2, "none of the 2 files it matches holds a DH private key (alice.pub.pem holds PUBLIC KEY (DH); dhparam.pem holds DH PARAMETERS)"},
		{"dh file that does not parse", "[[dh]]\nprivate_keys = [\"bad/broken.pem\"]\n", 2, `dh.private_keys "bad/broken.pem": ` + dir + "/bad/broken.pem: PEM block 1 (PRIVATE KEY)"},
		{"dh bad glob", "[[dh]]\nprivate_keys = [\"[\"]\n", 2, `dh.private_keys: bad glob "["`},
		{"dh without keys", "[[dh]]\n", 1, "[[dh]] has no private_keys"},
		{"dh empty list", "[[dh]]\nprivate_keys = []\n", 2, "dh.private_keys is empty"},
		{"dh unknown key", "[[dh]]\nprivate_keys = [\"rsa.pem\"]\npublic_keys = []\n", 3, `unknown key "public_keys" in [[dh]] (want private_keys)`},
		{"topics not strings", "[[rule]]\ntopics = [\"a\", 2]\nhmac.key_hex = \"00\"\n", 2, "rule.topics: element 2 is a integer, want a string"},
		{"topics multi-line", "[[rule]]\ntopics = [\n  \"a\",\n  \"b+\",\n]\nhmac.key_hex = \"00\"\n", 2, `topic filter "b+": '+' must be a whole level`},
		{"hmac key_file missing", "[[rule]]\ntopics = [\"a\"]\n[rule.hmac]\nalgorithm = \"sha1\"\nkey_file = \"k.bin\"\n", 5, `hmac.key_file "k.bin": no such file`},
		{"hmac key_file a directory", "[[rule]]\ntopics = [\"a\"]\nhmac = { key_file = \"lab\" }\n", 3, "lab is not a regular file"},
		{"hmac empty key", "[[rule]]\ntopics = [\"a\"]\nhmac = { key_hex = \"\" }\n", 3, "hmac.key_hex: the key is empty"},
		{"hmac empty key file", "[[rule]]\ntopics = [\"a\"]\nhmac = { key_file = \"empty.key\" }\n", 3, "hmac.key_file: the key is empty"},
		{"hmac bad base64", "[[rule]]\ntopics = [\"a\"]\nhmac = { key_base64 = \"!!\" }\n", 3, "hmac.key_base64 is not base64"},
		{"hmac algorithm not a string", "[[rule]]\ntopics = [\"a\"]\nhmac = { key_hex = \"00\", algorithm = 256 }\n", 3, "hmac.algorithm is a integer, want a string"},
		{"rsa without key", "[[rule]]\ntopics = [\"a\"]\nrsa_oaep = { hash = \"sha1\" }\n", 3, "rsa_oaep has no private_key"},
		{"ecdsa without key", "[[rule]]\ntopics = [\"a\"]\necdsa = { }\n", 3, "ecdsa has no public_key"},
		{"second rule header", "[[rule]]\ntopics = [\"a\"]\nhmac.key_hex = \"00\"\n\n# another\n[[rule]]\ntopics = [\"a\"]\nhmac.key_hex = \"0\"\n", 8, "hmac.key_hex is not hex"},
		{"tls not a table", "tls = 1\n", 1, "tls is a integer; write a [tls] table"},
		{"tls unknown key", "[tls]\nkeylog = []\ncertfile = \"x\"\n", 3, `unknown key "certfile" in [tls] (want keylog, cafile)`},
		{"keylog a directory", "[tls]\nkeylog = [\"lab\"]\n", 2, `tls.keylog "lab" is a directory`},
		{"rule array of non-tables", "rule = [1]\n", 1, "rule: element 1 is a integer, want a table"},
		{"rule a string", "rule = \"x\"\n", 1, "rule is a string; write [[rule]] blocks"},
		{"inline array of rules", "rule = [\n  { topics = [\"a\"], hmac = { key_hex = \"00\" } },\n  { topics = [\"b\"], hmac = { key_hex = \"00\", layout = \"x\" } },\n]\n", 3, `unknown layout "x"`},
	} {
		p := writeFile(t, dir, "test.toml", []byte(tc.text))
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%s:%d: ", p, tc.line)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant line %d and %q", tc.name, err, tc.line, tc.want)
		}
	}

	// Two keyrings naming different CA files.
	a := writeFile(t, dir, "one/a.toml", []byte("[tls]\ncafile = \"../ca.crt\"\n"))
	b := writeFile(t, dir, "one/b.toml", []byte("\n[tls]\ncafile = \"../ca2.crt\"\n"))
	if _, err := Load(a, b); err == nil || !strings.Contains(err.Error(), b+":3: tls.cafile") || !strings.Contains(err.Error(), a+":2") {
		t.Errorf("two cafiles: %v", err)
	}
	// The same CA file twice is fine.
	c := writeFile(t, dir, "two/c.toml", []byte("[tls]\ncafile = \"../ca.crt\"\n"))
	if s, err := Load(a, c); err != nil || s.CAFile() != filepath.Join(dir, "ca.crt") {
		t.Errorf("same cafile twice: %v", err)
	}
}

func TestKeyringReload(t *testing.T) {
	dir := t.TempDir()
	ring := writeFile(t, dir, "ring.toml", []byte(`[[dh]]
private_keys = ["keys/*.pem"]

[[rule]]
topics = ["a"]
hmac = { key_hex = "01" }
`))
	writeFile(t, dir, "keys/alice.pem", readTestdata(t, "g2048/alice.pem"))
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := s.RuleFor([]byte("a"))
	if first == nil || len(s.DHKeys()) != 1 {
		t.Fatal("initial load")
	}
	// Readers run while keys appear and the keyring changes.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				s.RuleFor([]byte("a"))
				s.Rules()
				s.TLSKeylogs()
			}
		}
	}()
	// A new DH key matched by the glob (the lab peer writes it).
	writeFile(t, dir, "keys/bob.pem", readTestdata(t, "g2048/bob.pem"))
	if n, err := s.Reload(); n != 1 || err != nil {
		t.Fatalf("Reload = %d, %v", n, err)
	}
	// Unchanged keyring: same rules.
	if s.RuleFor([]byte("a")) != first {
		t.Fatal("unchanged keyring replaced its rules")
	}
	// Changed keyring: new rules.
	time.Sleep(10 * time.Millisecond)
	writeFile(t, dir, "ring.toml", []byte(`[[dh]]
private_keys = ["keys/*.pem"]

[[rule]]
topics = ["b"]
hmac = { key_hex = "02" }
`))
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.RuleFor([]byte("a")) != nil || s.RuleFor([]byte("b")) == nil {
		t.Fatal("changed keyring not applied")
	}
	// A broken edit is reported and the previous rules stay.
	time.Sleep(10 * time.Millisecond)
	writeFile(t, dir, "ring.toml", []byte("[[rule]]\ntopics = [\"c\"]\nhmac = { key_hex = \"zz\" }\n"))
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), ring+":3: hmac.key_hex is not hex") {
		t.Fatalf("broken edit: %v", err)
	}
	if s.RuleFor([]byte("b")) == nil || s.RuleFor([]byte("c")) != nil {
		t.Fatal("broken edit replaced the rules")
	}
	// It is reported until it is fixed.
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "hmac.key_hex is not hex") {
		t.Fatalf("broken keyring not reported again: %v", err)
	}
	writeFile(t, dir, "ring.toml", []byte("[[rule]]\ntopics = [\"c\"]\nhmac = { key_hex = \"03\" }\n"))
	// A new keyring in the directory, and an empty one (being written).
	writeFile(t, dir, "more/second.toml", []byte("[[rule]]\ntopics = [\"d\"]\necdsa.public_key = \"../ec.pem\"\n"))
	writeFile(t, dir, "ec.pem", readTestdata(t, "keyring/ecdsa-public.pem"))
	writeFile(t, dir, "more/third.toml", nil)
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if r := s.RuleFor([]byte("d")); r == nil || r.Scheme() != "ecdsa" || len(s.Rules()) != 2 || s.RuleFor([]byte("c")) == nil {
		t.Fatal("new keyring not loaded")
	}
	// The DH glob now matching nothing is not an error on Reload.
	os.RemoveAll(filepath.Join(dir, "keys"))
	if _, err := s.Reload(); err != nil {
		t.Fatalf("Reload after the keys went: %v", err)
	}
	if len(s.DHKeys()) != 2 {
		t.Fatal("DH keys lost")
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a", "a/b", false},
		{"a", "", false},
		{"a/b", "a/b", true},
		{"a/b", "a", false},
		{"a/b", "a/bc", false},
		{"#", "a", true},
		{"#", "a/b/c", true},
		{"#", "/", true},
		{"#", "$SYS/x", false},
		{"+", "$SYS", false},
		{"+/#", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/load", true},
		{"$SYS/+", "$SYS/x", true},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/#", "b/a", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+", "", true},
		{"+", "/", false},
		{"+/+", "/", true},
		{"/+", "/a", true},
		{"/+", "a", false},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/+/c", "a//c", true},
		{"a/+/#", "a/b", true},
		{"a/+/#", "a", false},
		{"user/+/#", "user/meinuser/dsa-test", true},
		{"a/", "a/", true},
		{"a/", "a", false},
		{"clientAAA", "clientAAA", true},
	} {
		r := &Rule{Topics: []string{tc.filter}, HMAC: &HMACKey{Algorithm: "sha256"}}
		if err := r.finish(); err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if got := r.Matches([]byte(tc.topic)); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
	for _, bad := range []string{"", "a/#/b", "a#", "#a", "a/b+", "+a/b", "a\x00b"} {
		if err := checkFilter(bad); err == nil {
			t.Errorf("checkFilter(%q) accepted", bad)
		}
	}
	if (*Rule)(nil).Matches([]byte("a")) || (*Rule)(nil).Scheme() != "" {
		t.Fatal("nil rule")
	}
}

func TestRuleForAllocs(t *testing.T) {
	s, err := Load("testdata/keyring/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	topics := [][]byte{[]byte("user/meinuser/dsa-test"), []byte("no/rule/here"), []byte("clientAAA/x")}
	if n := testing.AllocsPerRun(100, func() {
		for _, tp := range topics {
			s.RuleFor(tp)
		}
	}); n != 0 {
		t.Fatalf("RuleFor allocates %v times", n)
	}
}
