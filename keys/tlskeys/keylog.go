package tlskeys

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// The key log labels mqtap uses (NSS key log format, as written for
// SSLKEYLOGFILE by browsers, curl, OpenSSL, Go's tls.Config.KeyLogWriter).
const (
	labelClientRandom    = "CLIENT_RANDOM"
	labelClientHandshake = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	labelServerHandshake = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	labelClientTraffic0  = "CLIENT_TRAFFIC_SECRET_0"
	labelServerTraffic0  = "SERVER_TRAFFIC_SECRET_0"
	labelExporterSecret  = "EXPORTER_SECRET"
	labelClientEarly     = "CLIENT_EARLY_TRAFFIC_SECRET"
	labelEarlyPrefix     = "EARLY_" // EARLY_EXPORTER_SECRET
)

// KeyLog holds the secrets of an NSS key log (SSLKEYLOGFILE), by client
// random. It is safe for concurrent use; secrets it hands out are shared
// and must not be modified.
type KeyLog struct {
	mu sync.RWMutex
	m  map[[32]byte]Secrets
}

// Secrets are the secrets logged for one connection; those not logged
// are nil.
type Secrets struct {
	Master                           []byte // TLS 1.2 and earlier (CLIENT_RANDOM), 48 bytes
	ClientHandshake, ServerHandshake []byte // TLS 1.3 handshake traffic secrets
	ClientTraffic, ServerTraffic     []byte // TLS 1.3 application traffic secrets _0
}

// ParseKeyLog reads key log lines "LABEL <client random, 64 hex>
// <secret, hex>". Blank lines and '#' comments are skipped. The labels
// used are CLIENT_RANDOM (a 48-byte TLS 1.0-1.2 master secret),
// CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET,
// CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0 (TLS 1.3 secrets of
// 32 or 48 bytes); EXPORTER_SECRET, the EARLY_* secrets and other labels
// (a label of capitals, digits and '_', then at least one field) are
// accepted and ignored. A malformed line is an error "keys: NAME:LINE:
// why" (the prefix of mqtap's key loading errors). A last line without
// newline that does not parse is a line being appended (a key log written
// while it is read) and is ignored; one that parses is used. When a client
// random appears twice, the later secrets win.
func ParseKeyLog(r io.Reader, name string) (*KeyLog, error) {
	k := &KeyLog{}
	if _, _, err := k.Add(r, name, 0); err != nil {
		return nil, err
	}
	return k, nil
}

// Add adds the lines of r to k as ParseKeyLog reads them, numbering them
// from after line for errors (the lines of the file read before), and
// returns the bytes and the number of the complete (newline-terminated)
// lines read: where to continue when more is appended to the file.
// Nothing is added when it returns an error.
func (k *KeyLog) Add(r io.Reader, name string, line int) (int64, int, error) {
	br := bufio.NewReader(r)
	found := &KeyLog{}
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
		label, random, secret, perr := parseLine(text)
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

// parseLine parses one line. secret is nil for lines to skip:
// blank, comments, labels mqtap does not use.
func parseLine(text string) (label string, random [32]byte, secret []byte, err error) {
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
	case labelClientRandom:
		sizes = []int{48}
	case labelClientHandshake, labelServerHandshake, labelClientTraffic0, labelServerTraffic0:
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
func (k *KeyLog) set(label string, random [32]byte, secret []byte) {
	if k.m == nil {
		k.m = map[[32]byte]Secrets{}
	}
	s := k.m[random]
	switch label {
	case labelClientRandom:
		s.Master = secret
	case labelClientHandshake:
		s.ClientHandshake = secret
	case labelServerHandshake:
		s.ServerHandshake = secret
	case labelClientTraffic0:
		s.ClientTraffic = secret
	case labelServerTraffic0:
		s.ServerTraffic = secret
	}
	k.m[random] = s
}

// LooksLikeKeyLog reports whether the start of a file is an NSS key
// log: its first line that is neither blank nor a '#' comment starts with
// one of the labels ParseKeyLog knows (CLIENT_RANDOM, the TLS 1.3
// traffic secrets, EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, EARLY_*)
// and a space or tab.
func LooksLikeKeyLog(head []byte) bool {
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
		case labelClientRandom, labelClientHandshake, labelServerHandshake, labelClientTraffic0,
			labelServerTraffic0, labelExporterSecret, labelClientEarly:
			return true
		}
		return bytes.HasPrefix(label, []byte(labelEarlyPrefix))
	}
	return false
}

// Len returns the number of client randoms with secrets.
func (k *KeyLog) Len() int {
	if k == nil {
		return 0
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.m)
}

// Merge adds o's secrets to k; for a client random both know, each secret
// o holds replaces k's.
func (k *KeyLog) Merge(o *KeyLog) {
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
		k.m = make(map[[32]byte]Secrets, len(o.m))
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
func (k *KeyLog) Secrets(clientRandom []byte) (Secrets, bool) {
	if k == nil || len(clientRandom) != 32 {
		return Secrets{}, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	s, ok := k.m[[32]byte(clientRandom)]
	return s, ok
}
