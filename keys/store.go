package keys

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqtap/mqtap/keys/tlskeys"
)

// Store is the key material loaded from --keys paths. It is safe for
// concurrent use: FindDH and DHKeys may run while Reload adds keys. Keys it
// hands out are shared and must not be modified.
type Store struct {
	paths []string

	mu    sync.RWMutex
	dh    []*DHPrivateKey
	byY   map[string][]*DHPrivateKey // public value bytes -> keys
	dedup map[dhID]bool
	files map[string]fileStamp // files read without error, to skip on Reload
	dhIn  map[string]int       // PEM file -> DH private keys it holds
	rings []*keyring           // keyring files in load order
	rules atomic.Pointer[[]*Rule]
	// tlsLogs are the TLS key logs (TLSKeyLog); its maps are guarded by mu.
	tlsLogs storeTLSKeyLogs
	// loaded is set once Load has finished: from then on (Reload) an empty
	// file is one being written, skipped without error and read next time.
	loaded bool
}

// dhID identifies a DH private key: same X in the same group.
type dhID struct{ p, g, x string }

// fileStamp is what Reload compares to decide a file has not changed.
type fileStamp struct {
	size int64
	mod  time.Time
}

// keyFileExts are the extensions read when walking a directory.
var keyFileExts = map[string]bool{".pem": true, ".key": true, keyringExt: true, tlsKeyLogExt: true}

// keyringExt is the extension of keyring files.
const keyringExt = ".toml"

// Load reads each path: a directory (recursively; files that are not keys —
// README, .txt, .pcap — are skipped silently, but a .pem/.key/.toml/.keylog
// file that cannot be parsed is an error naming the file and why), a
// keyring file (*.toml, see below), a TLS key log (SSLKEYLOGFILE, see
// tlskeys.ParseKeyLog: a *.keylog file, or a file whose content
// tlskeys.LooksLikeKeyLog, or an empty *.log or *.txt file), or another
// file (a PEM file with one or more blocks). Key logs are merged into
// TLSKeyLog.
// From PEM files it collects DH private keys (and ignores,
// without error, other PEM kinds such as certificates, RSA/EC keys and DH
// parameters: those are used through keyring rules). Duplicate keys (same
// X and group) are kept once. Symbolic links to files are followed,
// symbolic links to directories are not.
//
// A keyring file (DESIGN.md, "Keys") holds [[dh]] blocks (private_keys:
// globs of DH private key files, as filepath.Glob, which has no "**"),
// [[rule]] blocks (topics: MQTT topic filters; hmac, rsa_oaep, ecdsa:
// the payload schemes) and a [tls] table (keylog: key log files; cafile:
// a PEM CA certificate file). Relative paths are relative to the keyring
// file; a list (topics, private_keys, keylog) may also be written as a
// single string. An hmac key_file is used byte for byte (a trailing
// newline is part of the key), and a directory walk does not read it as
// PEM; [tls] keylog files must exist. Unknown keys, files that are missing
// or hold a key of the wrong kind, unreadable or passphrase-protected PEM,
// an hmac without a key or with two, unknown algorithms, layouts, formats,
// hashes and curves, and a [[dh]] glob that matches no file or no DH
// private key are errors of the
// form "keys: FILE:LINE: what is wrong" (the line of the key, or of its
// block). Keyrings add rules in load order (rules in file order), see
// Rules and RuleFor, and TLS settings, see TLSKeylogs and CAFile. Two
// keyrings naming different cafiles are an error.
func Load(paths ...string) (*Store, error) {
	s := &Store{
		paths: append([]string(nil), paths...),
		byY:   map[string][]*DHPrivateKey{},
		dedup: map[dhID]bool{},
		files: map[string]fileStamp{},
		dhIn:  map[string]int{},
		tlsLogs: storeTLSKeyLogs{
			log:   &tlskeys.KeyLog{},
			files: map[string]*keylogFile{},
		},
	}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	s.loaded = true
	return s, nil
}

// DHKeys returns the DH private keys in load order. The slice is a copy;
// the keys are shared.
func (s *Store) DHKeys() []*DHPrivateKey {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*DHPrivateKey(nil), s.dh...)
}

// FindDH returns the private key whose public value is pub (same group and
// y), or nil. O(1): a map keyed by the public value, built at load.
func (s *Store) FindDH(pub *DHPublicKey) *DHPrivateKey {
	if s == nil || pub == nil || pub.Y == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.byY[string(pub.Y.Bytes())] {
		if k.Y.Sign() == pub.Y.Sign() && k.Group.Equal(pub.Group) {
			return k
		}
	}
	return nil
}

// Reload re-reads the same paths and adds keys that appeared since (the lab
// peer writes its key just before publishing). Files that have not changed
// (same size and modification time) since they were last read without
// error are skipped, and so are empty files (a key being written: they are
// read by the next Reload). Keys found in other files are added even when
// one file fails. Keyrings' [[dh]] globs are expanded again (a glob that
// now matches nothing is not an error here); a keyring file that changed
// is parsed again and, if it has no error, replaces its rules and TLS
// settings (on error the previous ones stay). TLS key logs that changed are
// read again: the lines appended since are added to TLSKeyLog (the whole
// file when it was rewritten). Returns how many new DH keys were found.
func (s *Store) Reload() (int, error) {
	if s == nil {
		return 0, errors.New("keys: Reload on a nil Store")
	}
	return s.load()
}

// load reads every path, adding new keys, and returns how many were added
// and the errors met (each naming its file). Keyring files are loaded
// first, wherever they are, so that the files they name as raw HMAC keys
// (hmac.key_file, often *.key) are known and not read as PEM.
func (s *Store) load() (int, error) {
	var rings, files []foundFile
	var errs []error
	for _, p := range s.paths {
		errs = append(errs, s.collect(p, &rings, &files)...)
	}
	added := 0
	for _, f := range rings {
		n, err := s.loadKeyring(f.path, f.fi)
		added += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.loadKeyringTLSKeyLogs()...)
	for _, f := range files {
		if s.isRawKeyFile(f.path) {
			continue
		}
		if s.isTLSKeyLogFile(f) {
			if err := s.loadTLSKeyLogFile(f.path, f.fi, true); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		n, err := s.loadFile(f.path, f.fi)
		added += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return added, errors.Join(errs...)
}

// foundFile is a file to load.
type foundFile struct {
	path string
	fi   fs.FileInfo
}

// collect adds path (a file) or the key files under path (a directory,
// recursively) to rings or files, and returns the errors met.
func (s *Store) collect(path string, rings, files *[]foundFile) []error {
	fi, err := os.Stat(path)
	if err != nil {
		return []error{fmt.Errorf("keys: %w", err)}
	}
	if !fi.IsDir() {
		if isKeyring(path) {
			*rings = append(*rings, foundFile{path, fi})
		} else {
			*files = append(*files, foundFile{path, fi})
		}
		return nil
	}
	var errs []error
	walkErr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: %w", err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !keyFileExts[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		fi, err := os.Stat(p) // follows a symbolic link
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: %w", err))
			return nil
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		if isKeyring(p) {
			*rings = append(*rings, foundFile{p, fi})
		} else {
			*files = append(*files, foundFile{p, fi})
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, fmt.Errorf("keys: %s: %w", path, walkErr))
	}
	return errs
}

// loadFile reads the PEM blocks of one file, unless it has not changed
// since it was last read.
func (s *Store) loadFile(path string, fi fs.FileInfo) (int, error) {
	n, err := s.loadPEMFile(path, fi)
	if err != nil {
		return n, fmt.Errorf("keys: %w", err)
	}
	return n, nil
}

// loadPEMFile is loadFile with errors "PATH: why", without the package
// prefix.
func (s *Store) loadPEMFile(path string, fi fs.FileInfo) (int, error) {
	stamp := fileStamp{size: fi.Size(), mod: fi.ModTime()}
	s.mu.RLock()
	old, seen := s.files[path]
	s.mu.RUnlock()
	if seen && old == stamp || stamp.size == 0 && s.loaded {
		return 0, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	found, err := parseKeyFile(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for _, k := range found {
		id := dhID{string(k.Group.P.Bytes()), string(k.Group.G.Bytes()), string(k.X.Bytes())}
		if s.dedup[id] {
			continue
		}
		s.dedup[id] = true
		k.Source = path
		s.dh = append(s.dh, k)
		y := string(k.Y.Bytes())
		s.byY[y] = append(s.byY[y], k)
		added++
	}
	s.files[path] = stamp
	s.dhIn[path] = len(found)
	return added, nil
}

// parseKeyFile parses every PEM block of a key file, returning the DH
// private keys and ignoring kinds this package does not handle yet.
func parseKeyFile(data []byte) ([]*DHPrivateKey, error) {
	var out []*DHPrivateKey
	blocks := 0
	for i := 1; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		blocks++
		k, err := parseBlockForStore(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", i, block.Type, err)
		}
		if k != nil {
			out = append(out, k)
		}
	}
	if blocks == 0 {
		return nil, errors.New("no PEM block found (want -----BEGIN ...-----)")
	}
	return out, nil
}

// parseBlockForStore returns the DH private key in block, nil for a block
// of a kind that holds none, or an error for a block that cannot be used.
func parseBlockForStore(block *pem.Block) (*DHPrivateKey, error) {
	switch block.Type {
	case "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DH PRIVATE KEY", "X9.42 DH PRIVATE KEY":
		k, err := parsePrivateBlock(block)
		var notDH *notDHError
		if errors.As(err, &notDH) {
			return nil, nil // an RSA, EC, ... key: a later issue loads it
		}
		return k, err
	case "DH PARAMETERS", "X9.42 DH PARAMETERS":
		_, err := parseParamsBlock(block)
		return nil, err
	}
	return nil, nil
}
