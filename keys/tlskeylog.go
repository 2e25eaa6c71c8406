package keys

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// The key log labels mqtap uses (NSS key log format, as written for
// SSLKEYLOGFILE by browsers, curl, OpenSSL, Go's tls.Config.KeyLogWriter).
const (
	keylogClientRandom    = "CLIENT_RANDOM"
	keylogClientHandshake = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	keylogServerHandshake = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	keylogClientTraffic0  = "CLIENT_TRAFFIC_SECRET_0"
	keylogServerTraffic0  = "SERVER_TRAFFIC_SECRET_0"
	keylogExporterSecret  = "EXPORTER_SECRET"
	keylogClientEarly     = "CLIENT_EARLY_TRAFFIC_SECRET"
	keylogEarlyPrefix     = "EARLY_" // EARLY_EXPORTER_SECRET
)

// tlsKeyLogHead is how many bytes of a file are read to detect a key log.
const tlsKeyLogHead = 4096

// TLSKeyLog holds the secrets of an NSS key log (SSLKEYLOGFILE), by client
// random. It is safe for concurrent use; secrets it hands out are shared
// and must not be modified.
type TLSKeyLog struct {
	mu sync.RWMutex
	m  map[[32]byte]TLSSecrets
}

// TLSSecrets are the secrets logged for one connection; those not logged
// are nil.
type TLSSecrets struct {
	Master                           []byte // TLS 1.2 and earlier (CLIENT_RANDOM), 48 bytes
	ClientHandshake, ServerHandshake []byte // TLS 1.3 handshake traffic secrets
	ClientTraffic, ServerTraffic     []byte // TLS 1.3 application traffic secrets _0
}

// ParseTLSKeyLog reads key log lines "LABEL <client random, 64 hex>
// <secret, hex>". Blank lines and '#' comments are skipped. The labels
// used are CLIENT_RANDOM (a 48-byte TLS 1.0-1.2 master secret),
// CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET,
// CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0 (TLS 1.3 secrets of
// 32 or 48 bytes); EXPORTER_SECRET, the EARLY_* secrets and other labels
// (a label of capitals, digits and '_', then at least one field) are
// accepted and ignored. A malformed line is an error "keys: NAME:LINE: why". A last
// line without newline that does not parse is a line being appended (a
// key log written while it is read) and is ignored; one that parses is
// used. When a client random appears twice, the later secrets win.
func ParseTLSKeyLog(r io.Reader, name string) (*TLSKeyLog, error) {
	k := &TLSKeyLog{}
	if _, _, err := k.parse(r, name, 0); err != nil {
		return nil, err
	}
	return k, nil
}

// parse adds the lines of r to k, numbering them from after line, and
// returns the bytes and number of the complete (newline-terminated) lines
// read. Nothing is added when it returns an error.
func (k *TLSKeyLog) parse(r io.Reader, name string, line int) (int64, int, error) {
	br := bufio.NewReader(r)
	found := &TLSKeyLog{}
	var consumed int64
	lines := 0
	for {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, fmt.Errorf("keys: %s: %w", name, err)
		}
		complete := err == nil
		if text == "" {
			break
		}
		label, random, secret, perr := parseTLSKeyLogLine(text)
		if perr != nil && complete {
			return 0, 0, fmt.Errorf("keys: %s:%d: %w", name, line+lines+1, perr)
		}
		if perr == nil && secret != nil {
			found.set(label, random, secret)
		}
		if !complete {
			break
		}
		consumed += int64(len(text))
		lines++
	}
	k.Merge(found)
	return consumed, lines, nil
}

// parseTLSKeyLogLine parses one line. secret is nil for lines to skip:
// blank, comments, labels mqtap does not use.
func parseTLSKeyLogLine(text string) (label string, random [32]byte, secret []byte, err error) {
	text = strings.TrimSpace(text)
	if text == "" || text[0] == '#' {
		return "", random, nil, nil
	}
	f := strings.Fields(text)
	label = f[0]
	for _, c := range label {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return "", random, nil, fmt.Errorf("%q is not a key log label (capitals, digits and '_')", label)
		}
	}
	var sizes []int
	switch label {
	case keylogClientRandom:
		sizes = []int{48}
	case keylogClientHandshake, keylogServerHandshake, keylogClientTraffic0, keylogServerTraffic0:
		sizes = []int{32, 48}
	default:
		if len(f) < 2 {
			return "", random, nil, fmt.Errorf("%s alone, want LABEL CLIENT_RANDOM SECRET", label)
		}
		return label, random, nil, nil // another label: its fields are its own
	}
	if len(f) != 3 {
		return "", random, nil, fmt.Errorf("%d fields, want 3: LABEL CLIENT_RANDOM SECRET", len(f))
	}
	r, err := hex.DecodeString(f[1])
	if err != nil {
		return "", random, nil, fmt.Errorf("%s: client random: %w", label, err)
	}
	if len(r) != 32 {
		return "", random, nil, fmt.Errorf("%s: client random of %d bytes, want 32 (64 hex digits)", label, len(r))
	}
	copy(random[:], r)
	secret, err = hex.DecodeString(f[2])
	if err != nil {
		return "", random, nil, fmt.Errorf("%s: secret: %w", label, err)
	}
	if !slices.Contains(sizes, len(secret)) {
		want := "48 bytes (96 hex digits)"
		if len(sizes) > 1 {
			want = "32 or 48 bytes (64 or 96 hex digits)"
		}
		return "", random, nil, fmt.Errorf("%s: secret of %d bytes, want %s", label, len(secret), want)
	}
	return label, random, secret, nil
}

// set records one secret; k must not be shared yet.
func (k *TLSKeyLog) set(label string, random [32]byte, secret []byte) {
	if k.m == nil {
		k.m = map[[32]byte]TLSSecrets{}
	}
	s := k.m[random]
	switch label {
	case keylogClientRandom:
		s.Master = secret
	case keylogClientHandshake:
		s.ClientHandshake = secret
	case keylogServerHandshake:
		s.ServerHandshake = secret
	case keylogClientTraffic0:
		s.ClientTraffic = secret
	case keylogServerTraffic0:
		s.ServerTraffic = secret
	}
	k.m[random] = s
}

// LooksLikeTLSKeyLog reports whether the start of a file is an NSS key
// log: its first line that is neither blank nor a '#' comment starts with
// one of the labels ParseTLSKeyLog knows (CLIENT_RANDOM, the TLS 1.3
// traffic secrets, EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, EARLY_*)
// and a space or tab.
func LooksLikeTLSKeyLog(head []byte) bool {
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		label, _, found := bytes.Cut(line, []byte(" "))
		if t, _, ok := bytes.Cut(label, []byte("\t")); ok {
			label, found = t, true
		}
		if !found {
			return false
		}
		switch string(label) {
		case keylogClientRandom, keylogClientHandshake, keylogServerHandshake, keylogClientTraffic0,
			keylogServerTraffic0, keylogExporterSecret, keylogClientEarly:
			return true
		}
		return bytes.HasPrefix(label, []byte(keylogEarlyPrefix))
	}
	return false
}

// Len returns the number of client randoms with secrets.
func (k *TLSKeyLog) Len() int {
	if k == nil {
		return 0
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.m)
}

// Merge adds o's secrets to k; for a client random both know, each secret
// o holds replaces k's.
func (k *TLSKeyLog) Merge(o *TLSKeyLog) {
	if k == nil || o == nil || k == o {
		return
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if len(o.m) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[[32]byte]TLSSecrets, len(o.m))
	}
	for r, s := range o.m {
		old := k.m[r]
		if s.Master != nil {
			old.Master = s.Master
		}
		if s.ClientHandshake != nil {
			old.ClientHandshake = s.ClientHandshake
		}
		if s.ServerHandshake != nil {
			old.ServerHandshake = s.ServerHandshake
		}
		if s.ClientTraffic != nil {
			old.ClientTraffic = s.ClientTraffic
		}
		if s.ServerTraffic != nil {
			old.ServerTraffic = s.ServerTraffic
		}
		k.m[r] = old
	}
}

// Secrets returns the secrets logged for the connection whose ClientHello
// random is clientRandom (32 bytes), and whether there are any.
func (k *TLSKeyLog) Secrets(clientRandom []byte) (TLSSecrets, bool) {
	if k == nil || len(clientRandom) != 32 {
		return TLSSecrets{}, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	s, ok := k.m[[32]byte(clientRandom)]
	return s, ok
}

// storeTLSKeyLogs is the key log state of a Store: the merged log and
// what was read of each file. files and given are guarded by Store.mu.
type storeTLSKeyLogs struct {
	log   *TLSKeyLog
	files map[string]*keylogFile // by absolute path
	given []string               // key logs found from the --keys paths, absolute
}

// keylogFile is what was read of a key log file, so that Reload reads only
// the lines appended since.
type keylogFile struct {
	stamp  fileStamp
	offset int64  // bytes of complete lines parsed
	lines  int    // lines in them
	tail   []byte // their last bytes, to notice a file rewritten
}

// keylogTail is how many bytes before the offset are compared to notice
// a key log rewritten rather than appended to.
const keylogTail = 64

// TLSKeyLog returns the TLS key log of the store: the key log files found
// from the --keys paths and those named by keyrings' [tls] keylog, merged.
// It is never nil (empty when there are none), and Reload adds to it the
// lines appended to the files since.
func (s *Store) TLSKeyLog() *TLSKeyLog {
	if s == nil || s.tlsLogs.log == nil {
		return &TLSKeyLog{}
	}
	return s.tlsLogs.log
}

// isTLSKeyLogFile reports whether a file found from the --keys paths is a
// key log: one read as such before, a *.keylog file, an empty *.log or
// *.txt file given directly (SSLKEYLOGFILE before the first connection),
// or a file whose content LooksLikeTLSKeyLog.
func (s *Store) isTLSKeyLogFile(f foundFile) bool {
	ext := strings.ToLower(filepath.Ext(f.path))
	if ext == tlsKeyLogExt {
		return true
	}
	stamp := fileStamp{size: f.fi.Size(), mod: f.fi.ModTime()}
	s.mu.RLock()
	_, known := s.tlsLogs.files[absPath(f.path)]
	pemStamp, isPEM := s.files[f.path]
	s.mu.RUnlock()
	switch {
	case known:
		return true
	case isPEM && pemStamp == stamp:
		return false // read as PEM and unchanged
	case stamp.size == 0:
		return (ext == ".log" || ext == ".txt") && slices.Contains(s.paths, f.path)
	}
	file, err := os.Open(f.path)
	if err != nil {
		return false // loadFile reports it
	}
	defer file.Close()
	head := make([]byte, tlsKeyLogHead)
	n, _ := io.ReadFull(file, head)
	return LooksLikeTLSKeyLog(head[:n])
}

// tlsKeyLogExt is the extension of key log files, read wherever they are.
const tlsKeyLogExt = ".keylog"

// absPath returns path made absolute, or path when that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// loadKeyringTLSKeyLogs reads the key logs named by keyrings.
func (s *Store) loadKeyringTLSKeyLogs() []error {
	s.mu.RLock()
	var paths []string
	for _, kr := range s.rings {
		for _, p := range kr.keylogs {
			if !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
	}
	s.mu.RUnlock()
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: TLS key log: %w", err))
			continue
		}
		if err := s.loadTLSKeyLogFile(p, fi, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// loadTLSKeyLogFile reads a key log file into the store's key log: the
// whole file the first time or when it was rewritten, then only what was
// appended since (given: found from the --keys paths, for TLSKeylogs).
// On error nothing of the file is added and it is read again by the next
// Reload.
func (s *Store) loadTLSKeyLogFile(path string, fi fs.FileInfo, given bool) error {
	abs := absPath(path)
	stamp := fileStamp{size: fi.Size(), mod: fi.ModTime()}
	s.mu.Lock()
	if given && !slices.Contains(s.tlsLogs.given, abs) {
		s.tlsLogs.given = append(s.tlsLogs.given, abs)
	}
	var st keylogFile
	if old := s.tlsLogs.files[abs]; old != nil {
		st = *old
	}
	s.mu.Unlock()
	if st.stamp == stamp && st.stamp != (fileStamp{}) {
		return nil
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("keys: TLS key log: %w", err)
	}
	defer file.Close()
	if st.offset > 0 && !keylogAppended(file, st) {
		st = keylogFile{}
	}
	if _, err := file.Seek(st.offset, io.SeekStart); err != nil {
		return fmt.Errorf("keys: TLS key log: %w", err)
	}
	var buf bytes.Buffer
	consumed, lines, err := s.tlsLogs.log.parse(io.TeeReader(file, &buf), path, st.lines)
	if err != nil {
		return err
	}
	if consumed > 0 {
		done := buf.Bytes()[:consumed]
		st.tail = append([]byte(nil), done[max(0, len(done)-keylogTail):]...)
	}
	st.stamp, st.offset, st.lines = stamp, st.offset+consumed, st.lines+lines
	s.mu.Lock()
	s.tlsLogs.files[abs] = &st
	s.mu.Unlock()
	return nil
}

// keylogAppended reports whether file still holds the bytes read before
// st.offset (checking the last of them): it was appended to, not
// rewritten.
func keylogAppended(file *os.File, st keylogFile) bool {
	got := make([]byte, len(st.tail))
	n, err := file.ReadAt(got, st.offset-int64(len(st.tail)))
	return n == len(got) && (err == nil || errors.Is(err, io.EOF)) && bytes.Equal(got, st.tail)
}
