package keys

import (
	"errors"
	"fmt"
	"strings"
)

// Rule is a keyring [[rule]]: the payload schemes of the topics it
// matches. Rules are shared and must not be modified.
type Rule struct {
	// Topics are the rule's MQTT topic filters.
	Topics []string
	// Source is "FILE:LINE" of the [[rule]] header, for messages.
	Source string
	// HMAC, when set, is verified first; a payload whose MAC is wrong is
	// not decrypted, as in the HMAC lab.
	HMAC *HMACKey
	// RSA, when set, decrypts the payload (after the HMAC is removed).
	RSA *RSAOAEPKey
	// ECDSA, when set, verifies the signed payload (after decryption).
	ECDSA *ECDSAKey
	// Payload, when set, says how to decode the payload (after the schemes
	// above): a rule may have only this.
	Payload *PayloadRule

	filters [][]string // Topics split into levels
	scheme  string
}

// PayloadRule is a rule's payload table and compression, as written:
//
//	payload = { format = "protobuf", proto = "reading.proto", message = "factory.Reading" }
//	compression = "zlib"
//
// The keyring checks their types; the payload stage of the analysis chain
// checks the names (it declares them) and compiles the .proto, reporting
// errors at the Source lines.
type PayloadRule struct {
	Format            string // json, cbor, msgpack, protobuf, sparkplugb or text; "" with only a compression
	Proto             string // the .proto file, absolute (relative ones are relative to the keyring)
	Message           string // the protobuf message's full name
	Compression       string // zlib, gzip, deflate or ""
	Source            string // FILE:LINE of payload
	ProtoSource       string // FILE:LINE of payload.proto
	CompressionSource string // FILE:LINE of compression
}

// Matches reports whether one of the rule's topic filters matches topic.
// It does not allocate.
func (r *Rule) Matches(topic []byte) bool {
	if r == nil {
		return false
	}
	for _, f := range r.filters {
		if matchFilter(f, topic) {
			return true
		}
	}
	return false
}

// Scheme is the rule's mqtap.scheme: the schemes in processing order
// joined with "+": "hmac-sha256" (or hmac-sha1, hmac-sha512), then
// "rsa-oaep", then "ecdsa"; e.g. "hmac-sha256+rsa-oaep".
func (r *Rule) Scheme() string {
	if r == nil {
		return ""
	}
	return r.scheme
}

// finish validates the topic filters, splits them and computes the
// scheme. It is called once a rule's keys are set.
func (r *Rule) finish() error {
	if len(r.Topics) == 0 {
		return errors.New("rule has no topics")
	}
	if r.HMAC == nil && r.RSA == nil && r.ECDSA == nil && r.Payload == nil {
		return errors.New("rule has none of hmac, rsa_oaep, ecdsa, payload")
	}
	r.filters = make([][]string, 0, len(r.Topics))
	for _, t := range r.Topics {
		if err := checkFilter(t); err != nil {
			return fmt.Errorf("topic filter %q: %w", t, err)
		}
		r.filters = append(r.filters, strings.Split(t, "/"))
	}
	var parts []string
	if r.HMAC != nil {
		parts = append(parts, "hmac-"+r.HMAC.Algorithm)
	}
	if r.RSA != nil {
		parts = append(parts, "rsa-oaep")
	}
	if r.ECDSA != nil {
		parts = append(parts, "ecdsa")
	}
	// A payload rule alone protects nothing: its scheme stays "".
	r.scheme = strings.Join(parts, "+")
	return nil
}

// checkFilter validates an MQTT topic filter: not empty, no NUL, '#' only
// as the whole last level, '+' only as a whole level.
func checkFilter(f string) error {
	if f == "" {
		return errors.New("empty")
	}
	if strings.IndexByte(f, 0) >= 0 {
		return errors.New("contains a NUL character")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return errors.New("'#' must be the last level")
		case l != "#" && strings.Contains(l, "#"):
			return errors.New("'#' must be a whole level")
		case l != "+" && strings.Contains(l, "+"):
			return errors.New("'+' must be a whole level")
		}
	}
	return nil
}

// matchFilter reports whether the filter levels match topic with MQTT
// semantics: '+' matches one level, '#' the remaining levels including
// none (so "a/#" matches "a"), other levels exactly; a topic starting
// with '$' is not matched by a leading wildcard. It does not allocate.
func matchFilter(levels []string, topic []byte) bool {
	if len(levels) == 0 {
		return false
	}
	if len(topic) > 0 && topic[0] == '$' && (levels[0] == "#" || levels[0] == "+") {
		return false
	}
	pos := 0 // start of the current topic level; > len(topic) when none is left
	for _, l := range levels {
		if l == "#" {
			return true
		}
		if pos > len(topic) {
			return false
		}
		end := pos
		for end < len(topic) && topic[end] != '/' {
			end++
		}
		if l != "+" && string(topic[pos:end]) != l {
			return false
		}
		pos = end + 1
	}
	return pos == len(topic)+1
}

// RuleFor returns the first rule, in keyring order, that has a scheme
// (hmac, rsa_oaep or ecdsa) and whose topic filters match topic, or nil.
// It does not allocate and is safe to call while Reload runs.
func (s *Store) RuleFor(topic []byte) *Rule {
	return s.firstRule(topic, func(r *Rule) bool { return r.scheme != "" })
}

// PayloadRuleFor returns the first rule, in keyring order, that has a
// payload table or compression and whose topic filters match topic, or
// nil. It does not allocate and is safe to call while Reload runs.
func (s *Store) PayloadRuleFor(topic []byte) *Rule {
	return s.firstRule(topic, func(r *Rule) bool { return r.Payload != nil })
}

func (s *Store) firstRule(topic []byte, has func(r *Rule) bool) *Rule {
	if s == nil {
		return nil
	}
	rules := s.rules.Load()
	if rules == nil {
		return nil
	}
	for _, r := range *rules {
		if has(r) && r.Matches(topic) {
			return r
		}
	}
	return nil
}

// Rules returns the keyring rules in order (keyring files in load order,
// rules in file order). The slice is a copy; the rules are shared.
func (s *Store) Rules() []*Rule {
	if s == nil {
		return nil
	}
	rules := s.rules.Load()
	if rules == nil {
		return nil
	}
	return append([]*Rule(nil), *rules...)
}

// TLSKeylogs returns the absolute paths of the TLS key logs named by the
// keyrings' [tls] keylog, then of those found from the --keys paths
// (files and directories), in load order, each once: exports embed them
// as Decryption Secrets Blocks.
func (s *Store) TLSKeylogs() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	seen := map[string]bool{}
	for _, kr := range s.rings {
		for _, p := range kr.keylogs {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	for _, p := range s.tlsLogs.given {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// CAFile returns the absolute path of the CA certificate file named by a
// keyring's [tls] cafile (the first keyring that names one), or "".
func (s *Store) CAFile() string {
	if s == nil {
		return ""
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, kr := range s.rings {
		if kr.cafile != "" {
			return kr.cafile
		}
	}
	return ""
}
