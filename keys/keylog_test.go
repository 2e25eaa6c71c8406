package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys/keytest"
)

// storeRandoms returns the number of client randoms of the store's key log.
func storeRandoms(s *Store) int { return s.TLSKeyLog().Len() }

func TestStoreTLSKeyLogs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "README.md", []byte("# keys\n"))
	writeFile(t, dir, "lab/alice.pem", readTestdata(t, "lab/alice.pem"))
	writeFile(t, dir, "tls/sslkeys.keylog", []byte("# SSL/TLS secrets log file\n"+keytest.KeyLogLine("CLIENT_RANDOM", 1, 1, 48)))
	writeFile(t, dir, "tls/empty.keylog", nil)
	// A key log named like a key file, detected by its content.
	writeFile(t, dir, "tls/odd.key", []byte(keytest.KeyLogLine("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 2, 2, 32)))
	// Not read in a directory: .log, .txt.
	writeFile(t, dir, "tls/other.log", []byte(keytest.KeyLogLine("CLIENT_RANDOM", 3, 3, 48)))
	writeFile(t, dir, "tls/notes.txt", []byte("CLIENT_RANDOM lines go in sslkeys.keylog"))
	// Given directly: a .log detected by content, an empty .txt (a
	// SSLKEYLOGFILE before the first connection).
	direct := writeFile(t, t.TempDir(), "sslkeylog.log", []byte(keytest.KeyLogLine("CLIENT_RANDOM", 4, 4, 48)))
	emptyTxt := writeFile(t, t.TempDir(), "keys.txt", nil)
	s, err := Load(dir, direct, emptyTxt)
	if err != nil {
		t.Fatal(err)
	}
	if n := storeRandoms(s); n != 3 {
		t.Errorf("%d client randoms, want 3 (sslkeys.keylog, odd.key, sslkeylog.log)", n)
	}
	if len(s.DHKeys()) != 1 {
		t.Errorf("%d DH keys, want 1", len(s.DHKeys()))
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	logs := strings.Join(s.TLSKeylogs(), "\n")
	for _, want := range []string{abs(filepath.Join(dir, "tls/sslkeys.keylog")), abs(filepath.Join(dir, "tls/odd.key")), abs(direct), abs(emptyTxt)} {
		if !strings.Contains(logs, want) {
			t.Errorf("TLSKeylogs %q lacks %s", logs, want)
		}
	}
	if strings.Contains(logs, "other.log") {
		t.Errorf("TLSKeylogs %q holds other.log", logs)
	}

	// A key log that cannot be parsed is an error naming the file and line.
	bad := writeFile(t, t.TempDir(), "bad.keylog", []byte(keytest.KeyLogLine("CLIENT_RANDOM", 1, 1, 48)+"CLIENT_RANDOM 00 00\n"))
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad+":2:") {
		t.Errorf("bad key log: %v", err)
	}
	// A .log given directly that is neither a key log nor PEM.
	notes := writeFile(t, t.TempDir(), "notes.log", []byte("hello\n"))
	if _, err := Load(notes); err == nil || !strings.Contains(err.Error(), "no PEM block") {
		t.Errorf("notes.log: %v", err)
	}

	// The store's key log is never nil.
	var nilStore *Store
	if nilStore.TLSKeyLog() == nil || nilStore.TLSKeyLog().Len() != 0 {
		t.Error("nil store: no empty key log")
	}
}

func TestStoreKeyringTLSKeyLog(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "secrets/tls.keylog", []byte(keytest.KeyLogLine("CLIENT_RANDOM", 1, 1, 48)+keytest.KeyLogLine("SERVER_TRAFFIC_SECRET_0", 2, 2, 48)))
	ring := writeFile(t, dir, "ring/mqtap.toml", []byte("[tls]\nkeylog = \"../secrets/tls.keylog\"\n"))
	s, err := Load(ring)
	if err != nil {
		t.Fatal(err)
	}
	if n := storeRandoms(s); n != 2 {
		t.Errorf("%d client randoms, want 2", n)
	}
	sec, ok := s.TLSKeyLog().Secrets(bytes.Repeat([]byte{2}, 32))
	if !ok || len(sec.ServerTraffic) != 48 {
		t.Errorf("secrets %x %v", sec, ok)
	}
	// The same file named by a keyring and found in a walk is listed once.
	s, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if logs := s.TLSKeylogs(); len(logs) != 1 || storeRandoms(s) != 2 {
		t.Errorf("TLSKeylogs %q, %d randoms", logs, storeRandoms(s))
	}
	// A keyring key log that cannot be parsed.
	writeFile(t, dir, "secrets/tls.keylog", []byte("CLIENT_RANDOM 1 2\n"))
	if _, err := Load(ring); err == nil || !strings.Contains(err.Error(), "tls.keylog:1:") {
		t.Errorf("bad keyring key log: %v", err)
	}
}

// appendFile appends data to the file at path and moves its modification
// time on, as a writer appending later would.
func appendFile(t *testing.T, path, data string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Duration(n) * time.Second)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
}

func TestStoreReloadTLSKeyLog(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "sslkeylogfile.keylog", nil)
	ringLog := writeFile(t, dir, "ring.keylog", nil)
	writeFile(t, dir, "ring/r.toml", []byte("[tls]\nkeylog = \"../ring.keylog\"\n"))
	s, err := Load(path, filepath.Join(dir, "ring/r.toml"))
	if err != nil {
		t.Fatal(err)
	}
	kl := s.TLSKeyLog()
	reload := func(want int) {
		t.Helper()
		if _, err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		if kl.Len() != want || s.TLSKeyLog() != kl {
			t.Fatalf("after Reload: %d randoms, want %d", kl.Len(), want)
		}
	}
	reload(0)
	appendFile(t, path, keytest.KeyLogLine("CLIENT_RANDOM", 1, 1, 48), 1)
	reload(1)
	// A line being written: ignored until complete.
	line := keytest.KeyLogLine("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 2, 2, 48)
	appendFile(t, path, line[:50], 2)
	reload(1)
	appendFile(t, path, line[50:]+keytest.KeyLogLine("CLIENT_TRAFFIC_SECRET_0", 2, 3, 48), 3)
	reload(2)
	sec, _ := kl.Secrets(bytes.Repeat([]byte{2}, 32))
	if len(sec.ClientHandshake) != 48 || sec.ClientTraffic[0] != 3 {
		t.Fatalf("secrets %x", sec)
	}
	// A keyring's key log grows too.
	appendFile(t, ringLog, keytest.KeyLogLine("SERVER_TRAFFIC_SECRET_0", 3, 3, 32), 4)
	reload(3)
	// A bad line appended: an error naming the file and its line, the
	// good lines after it wait until it is fixed.
	appendFile(t, path, "CLIENT_RANDOM 00 00\n"+keytest.KeyLogLine("CLIENT_RANDOM", 4, 4, 48), 5)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), path+":4:") {
		t.Fatalf("bad line: %v", err)
	}
	// The file rewritten (truncated, then longer): read again whole.
	if err := os.WriteFile(path, []byte("# rewritten\n"+keytest.KeyLogLine("CLIENT_RANDOM", 5, 5, 48)+keytest.KeyLogLine("CLIENT_RANDOM", 6, 6, 48)+keytest.KeyLogLine("CLIENT_RANDOM", 7, 7, 48)+keytest.KeyLogLine("CLIENT_RANDOM", 8, 8, 48)+keytest.KeyLogLine("CLIENT_RANDOM", 9, 9, 48)), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(6 * time.Second)
	os.Chtimes(path, future, future)
	reload(8)
	if _, ok := kl.Secrets(bytes.Repeat([]byte{5}, 32)); !ok {
		t.Error("first line of the rewritten file not read")
	}
}

// TestStoreTLSKeyLogConcurrent reads the key log while Reload adds to it
// (run with -race where cgo is available).
func TestStoreTLSKeyLogConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "live.keylog", nil)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
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
				s.TLSKeyLog().Secrets(bytes.Repeat([]byte{1}, 32))
				s.TLSKeyLog().Len()
				s.TLSKeylogs()
			}
		}
	}()
	for i := range 50 {
		appendFile(t, path, keytest.KeyLogLine("CLIENT_RANDOM", byte(i), 1, 48), i+1)
		if _, err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := storeRandoms(s); n != 50 {
		t.Errorf("%d randoms, want 50", n)
	}
}
