package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mqtap/mqtap/keys/tlskeys"
)

// keylogHead is how many bytes of a file are read to detect a key log.
const keylogHead = 4096

// storeTLSKeyLogs is the key log state of a Store: the merged log and
// what was read of each file. files and given are guarded by Store.mu.
type storeTLSKeyLogs struct {
	log   *tlskeys.KeyLog
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
func (s *Store) TLSKeyLog() *tlskeys.KeyLog {
	if s == nil || s.tlsLogs.log == nil {
		return &tlskeys.KeyLog{}
	}
	return s.tlsLogs.log
}

// isTLSKeyLogFile reports whether a file found from the --keys paths is a
// key log: one read as such before, a *.keylog file, an empty *.log or
// *.txt file given directly (SSLKEYLOGFILE before the first connection),
// or a file whose content tlskeys.LooksLikeKeyLog.
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
	head := make([]byte, keylogHead)
	n, _ := io.ReadFull(file, head)
	return tlskeys.LooksLikeKeyLog(head[:n])
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
	consumed, lines, err := s.tlsLogs.log.Add(io.TeeReader(file, &buf), path, st.lines)
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
