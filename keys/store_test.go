package keys

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
)

// writeFile writes data to dir/name, creating directories.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ecKeyPEM returns a fresh P-256 private key in PKCS#8 PEM.
func ecKeyPEM(t *testing.T) []byte {
	t.Helper()
	return keytest.KeyPEM(t, keytest.NewKey(t, keytest.KeyECDSA))
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	alice := readTestdata(t, "lab/alice.pem")
	writeFile(t, dir, "README.md", []byte("# keys\nnot a key"))
	writeFile(t, dir, "capture.pcap", []byte{0xd4, 0xc3, 0xb2, 0xa1})
	writeFile(t, dir, "notes.txt", []byte("-----BEGIN garbage"))
	writeFile(t, dir, "dhparam4096.pem", readTestdata(t, "lab/dhparam4096.pem"))
	writeFile(t, dir, "lab/alice.pem", alice)
	writeFile(t, dir, "lab/deeper/still/bob.KEY", readTestdata(t, "lab/bob.pem"))
	writeFile(t, dir, "lab/alice-again.pem", alice) // a duplicate
	writeFile(t, dir, "lab/alice.pub.pem", readTestdata(t, "lab/alice.pub.pem"))
	writeFile(t, dir, "x942/alice.pem", readTestdata(t, "x942/alice.pem"))
	writeFile(t, dir, "ec.pem", ecKeyPEM(t))
	writeFile(t, dir, "bundle.pem", append(append(readTestdata(t, "g2048/alice.pem"), "\nsome text between\n"...), readTestdata(t, "g2048/bob.pem")...))
	if err := os.Symlink(filepath.Join(dir, "x942/alice.pem"), filepath.Join(dir, "link.pem")); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := s.DHKeys()
	if len(keys) != 5 {
		for _, k := range keys {
			t.Log(k.Source)
		}
		t.Fatalf("loaded %d DH keys, want 5 (lab alice, bob, x942 alice, g2048 alice, bob)", len(keys))
	}
	for _, name := range []string{"lab/alice", "lab/bob", "x942/alice", "g2048/alice", "g2048/bob"} {
		pub := mustPub(t, name+".pub.pem")
		k := s.FindDH(pub)
		if k == nil {
			t.Fatalf("FindDH(%s) = nil", name)
		}
		if k.Y.Cmp(pub.Y) != 0 || !strings.HasPrefix(k.Source, dir) {
			t.Fatalf("FindDH(%s) = key from %q", name, k.Source)
		}
	}
	for _, name := range []string{"x942/bob", "weak1024/alice", "g2048/zero-alice"} {
		if k := s.FindDH(mustPub(t, name+".pub.pem")); k != nil {
			t.Fatalf("FindDH(%s) = %s, want nil", name, k.Source)
		}
	}
	// The same y in another group is a miss.
	labAlice := mustPub(t, "lab/alice.pub.pem")
	if s.FindDH(&DHPublicKey{Group: mustGroup(t, "g2048/params.pem"), Y: labAlice.Y}) != nil {
		t.Fatal("FindDH matched a key of another group")
	}
	if s.FindDH(nil) != nil || (*Store)(nil).FindDH(labAlice) != nil || (*Store)(nil).DHKeys() != nil {
		t.Fatal("nil cases")
	}
}

func TestLoadFilesAndErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.pem", readTestdata(t, "lab/bob.pem"))
	s, err := Load(good, writeFile(t, dir, "keyfile-any-name", readTestdata(t, "g2048/bob.pem")))
	if err != nil || len(s.DHKeys()) != 2 || s.DHKeys()[0].Source != good {
		t.Fatalf("Load(files): %v", err)
	}
	if s, err := Load(); err != nil || len(s.DHKeys()) != 0 {
		t.Fatalf("Load(): %v", err)
	}
	broken := readTestdata(t, "g2048/alice.pem")
	broken = []byte(strings.Replace(string(broken), "MII", "AAA", 1))
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       []string
	}{
		{"broken pem", "sub/broken.pem", broken, []string{"broken.pem", "PEM block 1 (PRIVATE KEY)"}},
		{"empty key file", "empty.key", []byte("nothing here\n"), []string{"empty.key", "no PEM block"}},
		{"encrypted", "enc.pem", readTestdata(t, "encrypted/encrypted.pem"), []string{"enc.pem", "passphrase", "openssl pkey -in"}},
		{"broken params", "p.pem", []byte("-----BEGIN DH PARAMETERS-----\nMAA=\n-----END DH PARAMETERS-----\n"), []string{"p.pem", "DH parameters"}},
	} {
		d := t.TempDir()
		writeFile(t, d, "ok.pem", readTestdata(t, "lab/alice.pem"))
		p := writeFile(t, d, tc.file, tc.data)
		for _, arg := range []string{d, p} {
			_, err := Load(arg)
			if err == nil {
				t.Errorf("%s: Load(%s) succeeded", tc.name, arg)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: Load(%s) = %v, want it to mention %q", tc.name, arg, err, w)
				}
			}
		}
	}
	// An explicit file that is not PEM at all, and a path that is missing.
	if _, err := Load(writeFile(t, dir, "notes.txt", []byte("hello"))); err == nil || !strings.Contains(err.Error(), "notes.txt: no PEM block") {
		t.Errorf("non-PEM file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: %v", err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/alice.pem", readTestdata(t, "g2048/alice.pem"))
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	bobPub := mustPub(t, "g2048/bob.pub.pem")
	if s.FindDH(bobPub) != nil {
		t.Fatal("bob found before he was written")
	}
	if n, err := s.Reload(); n != 0 || err != nil {
		t.Fatalf("Reload with nothing new = %d, %v", n, err)
	}
	// Readers run while the peer writes keys and the store reloads.
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
				s.FindDH(bobPub)
				s.DHKeys()
			}
		}
	}()
	writeFile(t, dir, "b/new/bob.pem", readTestdata(t, "g2048/bob.pem"))
	writeFile(t, dir, "b/new/bob-copy.pem", readTestdata(t, "g2048/bob.pem"))
	n, err := s.Reload()
	close(stop)
	wg.Wait()
	if n != 1 || err != nil {
		t.Fatalf("Reload = %d, %v; want 1 new key", n, err)
	}
	if k := s.FindDH(bobPub); k == nil || !strings.Contains(k.Source, "bob") {
		t.Fatal("Reload did not make bob findable")
	}
	// A file rewritten with another key is read again.
	time.Sleep(10 * time.Millisecond)
	writeFile(t, dir, "a/alice.pem", readTestdata(t, "g2048/zero-alice.pem"))
	if n, err := s.Reload(); n != 1 || err != nil {
		t.Fatalf("Reload after rewrite = %d, %v", n, err)
	}
	// A broken file is reported, and the good new ones are still added.
	writeFile(t, dir, "c/half.pem", []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n"))
	writeFile(t, dir, "c/zbob.pem", readTestdata(t, "g2048/zero-bob.pem"))
	n, err = s.Reload()
	if n != 1 || err == nil || !strings.Contains(err.Error(), "half.pem") {
		t.Fatalf("Reload with a broken file = %d, %v", n, err)
	}
	// An empty file (being written) is skipped without error, then read.
	os.Remove(filepath.Join(dir, "c/half.pem"))
	empty := writeFile(t, dir, "d/being-written.pem", nil)
	if n, err := s.Reload(); n != 0 || err != nil {
		t.Fatalf("Reload with an empty file = %d, %v", n, err)
	}
	writeFile(t, dir, "d/being-written.pem", readTestdata(t, "x942/bob.pem"))
	if n, err := s.Reload(); n != 1 || err != nil || s.FindDH(mustPub(t, "x942/bob.pub.pem")).Source != empty {
		t.Fatalf("Reload after the write = %d, %v", n, err)
	}
	// Load itself reports an empty key file.
	if _, err := Load(writeFile(t, t.TempDir(), "empty.pem", nil)); err == nil || !strings.Contains(err.Error(), "empty.pem: no PEM block") {
		t.Fatalf("Load of an empty file: %v", err)
	}
	if len(s.DHKeys()) != 5 {
		t.Fatalf("%d keys, want 5", len(s.DHKeys()))
	}
	if _, err := (*Store)(nil).Reload(); err == nil {
		t.Fatal("nil Store Reload: no error")
	}
}
