package keys

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mqtap/mqtap/keys/tomllines"
)

// keyring is what one keyring file (*.toml) configures.
type keyring struct {
	path    string // as given to Load or found by the walk
	stamp   fileStamp
	dh      []dhGlob
	rules   []*Rule
	keylogs []string // absolute
	cafile  string   // absolute, "" if none
	caSrc   string   // FILE:LINE of cafile
	raw     []string // absolute paths of hmac.key_file files
}

// dhGlob is one pattern of a [[dh]] private_keys list.
type dhGlob struct {
	pattern string // absolute
	written string // as written in the file
	src     string // FILE:LINE
}

// locError is a keyring error at a line of a file (line 0: no line).
type locError struct {
	file string
	line int
	msg  string
}

func (e *locError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("keys: %s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("keys: %s: %s", e.file, e.msg)
}

// ringParser holds the state of parsing one keyring file.
type ringParser struct {
	file  string
	dir   string // absolute directory of the file
	lines tomllines.Lines
	errs  []*locError
	raw   []string // files named by hmac.key_file
}

// errorf records an error at the line of key path.
func (rp *ringParser) errorf(path, format string, args ...any) {
	rp.errs = append(rp.errs, &locError{file: rp.file, line: rp.lines.Line(path), msg: fmt.Sprintf(format, args...)})
}

// src is "FILE:LINE" of path.
func (rp *ringParser) src(path string) string {
	return rp.file + ":" + strconv.Itoa(rp.lines.Line(path))
}

// err joins the recorded errors in line order.
func (rp *ringParser) err() error {
	if len(rp.errs) == 0 {
		return nil
	}
	sort.SliceStable(rp.errs, func(i, j int) bool { return rp.errs[i].line < rp.errs[j].line })
	errs := make([]error, len(rp.errs))
	for i, e := range rp.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// abs resolves a path of the keyring relative to its directory.
func (rp *ringParser) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(rp.dir, p)
}

// parseKeyring parses a keyring file's contents: the [[dh]] globs (not
// yet expanded), the rules with their keys read, and [tls]. Every error
// names FILE:LINE.
func parseKeyring(file string, data []byte) (*keyring, error) {
	absFile, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", file, err)
	}
	rp := &ringParser{file: file, dir: filepath.Dir(absFile)}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &locError{file: file, line: pe.Position.Line, msg: "not valid TOML: " + oneLine(pe.Message)}
		}
		return nil, &locError{file: file, msg: "not valid TOML: " + oneLine(err.Error())}
	}
	rp.lines = tomllines.Scan(data)
	kr := &keyring{path: file}
	for _, key := range sortedKeys(doc, rp.lines, "") {
		v := doc[key]
		switch key {
		case "dh":
			for i, t := range rp.tables(key, v, "[[dh]]") {
				kr.dh = append(kr.dh, rp.dhBlock(fmt.Sprintf("dh[%d]", i), t)...)
			}
		case "rule":
			for i, t := range rp.tables(key, v, "[[rule]]") {
				if r := rp.rule(fmt.Sprintf("rule[%d]", i), t); r != nil {
					kr.rules = append(kr.rules, r)
				}
			}
		case "tls":
			rp.tls(kr, v)
		default:
			rp.errorf(key, "unknown key %q (want [[dh]], [[rule]] or [tls])", key)
		}
	}
	if err := rp.err(); err != nil {
		return nil, err
	}
	kr.raw = rp.raw
	return kr, nil
}

// sortedKeys returns the keys of m in the order they appear in the file.
func sortedKeys(m map[string]any, lines tomllines.Lines, prefix string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := lines.Line(tomllines.Join(prefix, keys[i])), lines.Line(tomllines.Join(prefix, keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// tables returns v as an array of tables, or records an error.
func (rp *ringParser) tables(key string, v any, header string) []map[string]any {
	switch t := v.(type) {
	case []map[string]any:
		return t
	case []any:
		out := make([]map[string]any, 0, len(t))
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				rp.errorf(fmt.Sprintf("%s[%d]", key, i), "%s: element %d is a %s, want a table", key, i+1, tomlType(e))
				continue
			}
			out = append(out, m)
		}
		return out
	case map[string]any:
		rp.errorf(key, "[%s] is a single table; write %s for each block", key, header)
	default:
		rp.errorf(key, "%s is a %s; write %s blocks", key, tomlType(v), header)
	}
	return nil
}

// tomlType names the TOML type of a decoded value, for messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case map[string]any:
		return "table"
	case []map[string]any, []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// checkKeys records an error for each key of t not in allowed.
func (rp *ringParser) checkKeys(path, what string, t map[string]any, allowed ...string) {
	for _, k := range sortedKeys(t, rp.lines, path) {
		if !slices.Contains(allowed, k) {
			rp.errorf(tomllines.Join(path, k), "unknown key %q in %s (want %s)", k, what, strings.Join(allowed, ", "))
		}
	}
}

// str returns t[key] as a string ("" and false when absent), recording an
// error when it is not a string.
func (rp *ringParser) str(path string, t map[string]any, key, what string) (string, bool) {
	v, ok := t[key]
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		rp.errorf(tomllines.Join(path, key), "%s.%s is a %s, want a string", what, key, tomlType(v))
		return "", false
	}
	return s, true
}

// strList returns t[key] as a list of strings (a single string is a list
// of one), recording an error for anything else.
func (rp *ringParser) strList(path string, t map[string]any, key, what string) ([]string, bool) {
	v, ok := t[key]
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				rp.errorf(fmt.Sprintf("%s.%s[%d]", path, key, i), "%s.%s: element %d is a %s, want a string", what, key, i+1, tomlType(e))
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	rp.errorf(tomllines.Join(path, key), "%s.%s is a %s, want an array of strings", what, key, tomlType(v))
	return nil, false
}

// table returns t[key] as a table, recording an error for anything else.
func (rp *ringParser) table(path string, t map[string]any, key string) (map[string]any, bool) {
	v, ok := t[key]
	if !ok {
		return nil, false
	}
	m, isTable := v.(map[string]any)
	if !isTable {
		rp.errorf(tomllines.Join(path, key), "%s is a %s, want a table such as %s = { ... }", key, tomlType(v), key)
		return nil, false
	}
	return m, true
}

// dhBlock parses one [[dh]] block.
func (rp *ringParser) dhBlock(path string, t map[string]any) []dhGlob {
	rp.checkKeys(path, "[[dh]]", t, "private_keys")
	globs, ok := rp.strList(path, t, "private_keys", "dh")
	if !ok {
		if _, present := t["private_keys"]; !present {
			rp.errorf(path, "[[dh]] has no private_keys (a list of globs of DH private key files)")
		}
		return nil
	}
	if len(globs) == 0 {
		rp.errorf(tomllines.Join(path, "private_keys"), "dh.private_keys is empty")
	}
	var out []dhGlob
	for i, g := range globs {
		kp := fmt.Sprintf("%s.private_keys[%d]", path, i)
		pattern := rp.abs(g)
		if _, err := filepath.Match(pattern, ""); err != nil {
			rp.errorf(kp, "dh.private_keys: bad glob %q: %v", g, err)
			continue
		}
		out = append(out, dhGlob{pattern: pattern, written: g, src: rp.src(kp)})
	}
	return out
}

// rule parses one [[rule]] block and reads its keys; nil on error.
func (rp *ringParser) rule(path string, t map[string]any) *Rule {
	before := len(rp.errs)
	rp.checkKeys(path, "[[rule]]", t, "topics", "hmac", "rsa_oaep", "ecdsa", "payload", "compression")
	r := &Rule{Source: rp.src(path)}
	topics, ok := rp.strList(path, t, "topics", "rule")
	if !ok {
		if _, present := t["topics"]; !present {
			rp.errorf(path, "[[rule]] has no topics (a list of MQTT topic filters)")
		}
	}
	r.Topics = topics
	if h, ok := rp.table(path, t, "hmac"); ok {
		r.HMAC = rp.hmac(tomllines.Join(path, "hmac"), h)
	}
	if h, ok := rp.table(path, t, "rsa_oaep"); ok {
		r.RSA = rp.rsa(tomllines.Join(path, "rsa_oaep"), h)
	}
	if h, ok := rp.table(path, t, "ecdsa"); ok {
		r.ECDSA = rp.ecdsa(tomllines.Join(path, "ecdsa"), h)
	}
	r.Payload = rp.payload(path, t)
	if len(rp.errs) > before {
		return nil
	}
	if err := r.finish(); err != nil {
		p := path
		if len(r.Topics) > 0 && strings.HasPrefix(err.Error(), "topic filter") {
			p = tomllines.Join(path, "topics")
		}
		rp.errorf(p, "%v", err)
		return nil
	}
	return r
}

// payload parses a rule's payload table and compression; nil when it has
// neither. The names are checked by the payload stage, which knows them
// (PayloadRule).
func (rp *ringParser) payload(path string, t map[string]any) *PayloadRule {
	compression, hasCompression := rp.str(path, t, "compression", "rule")
	p, ok := rp.table(path, t, "payload")
	if !ok && !hasCompression {
		return nil
	}
	pr := &PayloadRule{Compression: compression, Source: rp.src(tomllines.Join(path, "payload")), CompressionSource: rp.src(tomllines.Join(path, "compression"))}
	if !ok {
		pr.Source = pr.CompressionSource
		return pr
	}
	pp := tomllines.Join(path, "payload")
	rp.checkKeys(pp, "payload", p, "format", "proto", "message")
	format, hasFormat := rp.str(pp, p, "format", "payload")
	if !hasFormat {
		if _, present := p["format"]; !present {
			rp.errorf(pp, "payload has no format (json, cbor, msgpack, protobuf, sparkplugb or text)")
		}
		return nil
	}
	pr.Format = format
	pr.Message, _ = rp.str(pp, p, "message", "payload")
	if proto, ok := rp.str(pp, p, "proto", "payload"); ok {
		pr.Proto = rp.abs(proto)
		pr.ProtoSource = rp.src(tomllines.Join(pp, "proto"))
	}
	return pr
}

// hmac parses a rule's hmac table.
func (rp *ringParser) hmac(path string, t map[string]any) *HMACKey {
	before := len(rp.errs)
	rp.checkKeys(path, "hmac", t, "algorithm", "key_hex", "key_base64", "key_file", "layout")
	alg, _ := rp.str(path, t, "algorithm", "hmac")
	layout, _ := rp.str(path, t, "layout", "hmac")
	if _, ok := hmacAlgorithms[alg]; alg != "" && !ok {
		rp.errorf(tomllines.Join(path, "algorithm"), "hmac.algorithm: unknown algorithm %q (want sha256, sha1 or sha512)", alg)
	}
	if layout != "" && layout != LayoutTrailer && layout != LayoutPrefix {
		rp.errorf(tomllines.Join(path, "layout"), "hmac.layout: unknown layout %q (want trailer or prefix)", layout)
	}
	var set []string
	for _, k := range []string{"key_hex", "key_base64", "key_file"} {
		if _, ok := t[k]; ok {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		rp.errorf(path, "hmac has no key: set one of key_hex, key_base64 or key_file")
		return nil
	case 1:
	default:
		rp.errorf(tomllines.Join(path, set[1]), "hmac has both %s and %s: set only one", set[0], set[1])
		return nil
	}
	kp := tomllines.Join(path, set[0])
	val, ok := rp.str(path, t, set[0], "hmac")
	if !ok {
		return nil
	}
	var key []byte
	var err error
	switch set[0] {
	case "key_hex":
		key, err = hex.DecodeString(strings.TrimSpace(val))
		if err != nil {
			rp.errorf(kp, "hmac.key_hex is not hex: %v", err)
			return nil
		}
	case "key_base64":
		key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(val))
		if err != nil {
			rp.errorf(kp, "hmac.key_base64 is not base64: %v", err)
			return nil
		}
	case "key_file":
		rp.raw = append(rp.raw, rp.abs(val))
		key, err = readSmallFile(rp.abs(val))
		if err != nil {
			rp.errorf(kp, "hmac.key_file %q: %v", val, unwrapPathError(err))
			return nil
		}
	}
	if len(key) == 0 {
		rp.errorf(kp, "hmac.%s: the key is empty", set[0])
		return nil
	}
	if len(rp.errs) > before {
		return nil
	}
	k, err := NewHMACKey(alg, layout, key)
	if err != nil {
		rp.errorf(path, "hmac: %v", err)
		return nil
	}
	return k
}

// unwrapPathError shortens an *fs.PathError to "open PATH: why" as is,
// which already names the path; other errors pass through.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no such file: %s", pe.Path)
		}
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// maxKeyFile bounds the files a keyring names (keys, certificates).
const maxKeyFile = 1 << 20

// readSmallFile reads a regular file of at most maxKeyFile bytes.
func readSmallFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("%s has %d bytes, more than a key file's %d", path, fi.Size(), maxKeyFile)
	}
	return os.ReadFile(path)
}

// readKeyFile reads a key file named in the keyring.
func (rp *ringParser) readKeyFile(path, what, name string) ([]byte, string, bool) {
	abs := rp.abs(name)
	data, err := readSmallFile(abs)
	if err != nil {
		rp.errorf(path, "%s %q: %v", what, name, unwrapPathError(err))
		return nil, "", false
	}
	return data, abs, true
}

// rsa parses a rule's rsa_oaep table and reads the key.
func (rp *ringParser) rsa(path string, t map[string]any) *RSAOAEPKey {
	rp.checkKeys(path, "rsa_oaep", t, "private_key", "hash")
	hash, _ := rp.str(path, t, "hash", "rsa_oaep")
	if _, ok := oaepHashes[hash]; hash != "" && !ok {
		rp.errorf(tomllines.Join(path, "hash"), "rsa_oaep.hash: unknown hash %q (want sha1 or sha256)", hash)
		return nil
	}
	name, ok := rp.str(path, t, "private_key", "rsa_oaep")
	if !ok {
		if _, present := t["private_key"]; !present {
			rp.errorf(path, "rsa_oaep has no private_key (a PEM RSA private key file)")
		}
		return nil
	}
	kp := tomllines.Join(path, "private_key")
	data, abs, ok := rp.readKeyFile(kp, "rsa_oaep.private_key", name)
	if !ok {
		return nil
	}
	k, err := ParseRSAOAEPKey(data, hash)
	if err != nil {
		rp.errorf(kp, "rsa_oaep.private_key %q: %v", name, err)
		return nil
	}
	k.File = abs
	return k
}

// ecdsa parses a rule's ecdsa table and reads the key.
func (rp *ringParser) ecdsa(path string, t map[string]any) *ECDSAKey {
	before := len(rp.errs)
	rp.checkKeys(path, "ecdsa", t, "public_key", "format", "hash", "curve")
	format, _ := rp.str(path, t, "format", "ecdsa")
	hash, _ := rp.str(path, t, "hash", "ecdsa")
	curve, hasCurve := rp.str(path, t, "curve", "ecdsa")
	if format != "" && format != FormatTimestampColonBase64 && format != FormatDetachedBase64Suffix {
		rp.errorf(tomllines.Join(path, "format"), "ecdsa.format: unknown format %q (want %s or %s)", format, FormatTimestampColonBase64, FormatDetachedBase64Suffix)
	}
	if hash != "" && !ecdsaHashes[hash] {
		rp.errorf(tomllines.Join(path, "hash"), "ecdsa.hash: unknown hash %q (want sha1 or sha256)", hash)
	}
	if hasCurve && curveNames[curve] == "" {
		rp.errorf(tomllines.Join(path, "curve"), "ecdsa.curve: unknown curve %q (want secp256k1 or P-256)", curve)
	}
	name, ok := rp.str(path, t, "public_key", "ecdsa")
	if !ok {
		if _, present := t["public_key"]; !present {
			rp.errorf(path, "ecdsa has no public_key (a PEM EC public key file)")
		}
		return nil
	}
	if len(rp.errs) > before {
		return nil
	}
	kp := tomllines.Join(path, "public_key")
	data, abs, ok := rp.readKeyFile(kp, "ecdsa.public_key", name)
	if !ok {
		return nil
	}
	k, err := ParseECDSAKey(data, format, hash)
	if err != nil {
		rp.errorf(kp, "ecdsa.public_key %q: %v", name, err)
		return nil
	}
	if hasCurve && curveNames[curve] != k.Curve {
		rp.errorf(tomllines.Join(path, "curve"), "ecdsa.curve is %s but the key %q is on %s", curve, name, k.Curve)
		return nil
	}
	k.File = abs
	return k
}

// tls parses [tls].
func (rp *ringParser) tls(kr *keyring, v any) {
	t, ok := v.(map[string]any)
	if !ok {
		rp.errorf("tls", "tls is a %s; write a [tls] table", tomlType(v))
		return
	}
	rp.checkKeys("tls", "[tls]", t, "keylog", "cafile")
	if logs, ok := rp.strList("tls", t, "keylog", "tls"); ok {
		for i, l := range logs {
			abs := rp.abs(l)
			fi, err := os.Stat(abs)
			switch {
			case err != nil && errors.Is(err, fs.ErrNotExist):
				rp.errorf(fmt.Sprintf("tls.keylog[%d]", i), "tls.keylog %q: no such file: %s (create it, e.g. with touch, if SSLKEYLOGFILE writes it later)", l, abs)
			case err != nil:
				rp.errorf(fmt.Sprintf("tls.keylog[%d]", i), "tls.keylog %q: %v", l, unwrapPathError(err))
			case fi.IsDir():
				rp.errorf(fmt.Sprintf("tls.keylog[%d]", i), "tls.keylog %q is a directory, want a key log file", l)
			default:
				kr.keylogs = append(kr.keylogs, abs)
			}
		}
	}
	if ca, ok := rp.str("tls", t, "cafile", "tls"); ok {
		data, abs, ok := rp.readKeyFile("tls.cafile", "tls.cafile", ca)
		if !ok {
			return
		}
		if err := checkCertificates(data); err != nil {
			rp.errorf("tls.cafile", "tls.cafile %q: %v", ca, err)
			return
		}
		kr.cafile, kr.caSrc = abs, rp.src("tls.cafile")
	}
}

// checkCertificates checks that data holds at least one PEM certificate
// and that every certificate parses.
func checkCertificates(data []byte) error {
	n := 0
	for i := 1; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("PEM block %d (CERTIFICATE): %w", i, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM CERTIFICATE block found")
	}
	return nil
}

// isKeyring reports whether path names a keyring file.
func isKeyring(path string) bool {
	return strings.EqualFold(filepath.Ext(path), keyringExt)
}

// isRawKeyFile reports whether a keyring names path as a raw HMAC key
// file (which a directory walk must not read as PEM).
func (s *Store) isRawKeyFile(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, kr := range s.rings {
		if slices.Contains(kr.raw, abs) {
			return true
		}
	}
	return false
}

// loadKeyring parses a keyring file (again only when it changed since it
// was last loaded without error) and loads the DH keys of its globs.
func (s *Store) loadKeyring(path string, fi fs.FileInfo) (int, error) {
	stamp := fileStamp{size: fi.Size(), mod: fi.ModTime()}
	s.mu.RLock()
	var old *keyring
	for _, kr := range s.rings {
		if kr.path == path {
			old = kr
		}
	}
	s.mu.RUnlock()
	kr := old
	var errs []error
	if old == nil || old.stamp != stamp {
		if stamp.size == 0 && s.loaded {
			return 0, nil // being written: read by the next Reload
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("keys: %w", err)
		}
		parsed, err := parseKeyring(path, data)
		if err != nil {
			if old == nil {
				return 0, err
			}
			errs = append(errs, err)
		} else {
			parsed.stamp = stamp
			kr = parsed
		}
	}
	added, err := s.loadGlobs(kr)
	if err != nil {
		errs = append(errs, err)
	}
	if kr != old {
		if err := s.installKeyring(kr); err != nil {
			errs = append(errs, err)
		}
	}
	return added, errors.Join(errs...)
}

// installKeyring adds kr, or replaces the keyring of the same path, and
// publishes the rules of all keyrings.
func (s *Store) installKeyring(kr *keyring) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := -1
	for i, o := range s.rings {
		if o.path == kr.path {
			at = i
			continue
		}
		if kr.cafile != "" && o.cafile != "" && o.cafile != kr.cafile {
			return fmt.Errorf("keys: %s: tls.cafile %s conflicts with %s set at %s; mqtap uses one CA file",
				kr.caSrc, kr.cafile, o.cafile, o.caSrc)
		}
	}
	if at >= 0 {
		s.rings[at] = kr
	} else {
		s.rings = append(s.rings, kr)
	}
	var all []*Rule
	for _, r := range s.rings {
		all = append(all, r.rules...)
	}
	s.rules.Store(&all)
	return nil
}

// loadGlobs loads the DH key files matched by kr's [[dh]] globs. During
// Load a glob that matches no file, or only files without a DH private
// key, is an error.
func (s *Store) loadGlobs(kr *keyring) (int, error) {
	added := 0
	var errs []error
	for _, g := range kr.dh {
		matches, err := filepath.Glob(g.pattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: %s: dh.private_keys: bad glob %q: %w", g.src, g.written, err))
			continue
		}
		files, dh, failed := 0, 0, false
		var kinds []string
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				errs = append(errs, fmt.Errorf("keys: %s: dh.private_keys: %w", g.src, unwrapPathError(err)))
				failed = true
				continue
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			files++
			n, err := s.loadPEMFile(m, fi)
			added += n
			if err != nil {
				errs = append(errs, fmt.Errorf("keys: %s: dh.private_keys %q: %w", g.src, g.written, err))
				failed = true
				continue
			}
			s.mu.RLock()
			found := s.dhIn[m]
			s.mu.RUnlock()
			dh += found
			if found == 0 && len(kinds) < 3 {
				kinds = append(kinds, filepath.Base(m)+" holds "+pemSummary(m))
			}
		}
		switch {
		case s.loaded || failed:
		case files == 0:
			errs = append(errs, fmt.Errorf("keys: %s: dh.private_keys %q matches no file (looked for %s)", g.src, g.written, g.pattern))
		case dh == 0 && files == 1:
			errs = append(errs, fmt.Errorf("keys: %s: dh.private_keys %q: no DH private key: %s", g.src, g.written, kinds[0]))
		case dh == 0:
			errs = append(errs, fmt.Errorf("keys: %s: dh.private_keys %q: none of the %d files it matches holds a DH private key (%s)",
				g.src, g.written, files, strings.Join(kinds, "; ")))
		}
	}
	return added, errors.Join(errs...)
}

// pemSummary lists the kinds of PEM blocks in a file, for messages.
func pemSummary(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "nothing readable"
	}
	var kinds []string
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		kind := block.Type
		switch block.Type {
		case "PRIVATE KEY":
			if alg := pkcs8Algorithm(block.Bytes); alg != "" {
				kind += " (" + alg + ")"
			}
		case "PUBLIC KEY":
			if alg := spkiAlgorithm(block.Bytes); alg != "" {
				kind += " (" + alg + ")"
			}
		}
		kinds = append(kinds, kind)
	}
	if len(kinds) == 0 {
		return "no PEM block"
	}
	return strings.Join(kinds, ", ")
}

// oneLine escapes the control characters of a message that quotes the
// keyring (a TOML parse error quotes a newline as it is), so that the
// error stays on one line.
func oneLine(msg string) string {
	var b strings.Builder
	for _, r := range msg {
		if r < 0x20 || r == 0x7f {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
