package audit

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// accessNone is mosquitto's MOSQ_ACL_NONE: the access of a `deny` entry.
const accessNone Access = 0

// aclEntry is one `topic` or `pattern` line of an acl_file.
type aclEntry struct {
	topic  string // the topic filter, or the pattern before substitution
	access Access // Read|Write bits, or accessNone for deny
	ucount bool   // pattern: contains %u (so never applies to anonymous clients)
	rule   string // "FILE:LINE: the line as written"
}

// ACL is a parsed mosquitto acl_file. Use ParseACL to make one; the zero
// value denies everything (as an acl_file without entries does).
type ACL struct {
	anonymous []aclEntry            // topic lines before the first user line
	users     map[string][]aclEntry // topic lines per user
	patterns  []aclEntry            // pattern lines, whoever wrote them
}

// ParseACL reads a mosquitto acl_file: `topic [read|write|readwrite|deny]
// TOPIC`, `user NAME`, `pattern [read|write|readwrite|deny] TOPIC` with %u and
// %c; `topic` lines before the first `user` line apply to anonymous clients;
// `pattern` lines apply to everyone wherever they stand.
//
// The file is read as mosquitto 2.0.11 reads it: trailing white space is
// dropped; a line whose first byte is # is a comment (an indented # is an
// error, as in mosquitto); words are separated by spaces only (a tab does not
// separate words); the access word may be omitted when the topic is one word,
// which then means readwrite; the topic is the rest of the line, trimmed, and
// may contain spaces; it must be a valid subscription filter. Every line the
// broker refuses is an error naming FILE:LINE.
func ParseACL(path string) (*ACL, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the acl_file: %w", path, err)
	}
	a := &ACL{users: make(map[string][]aclEntry)}
	user, haveUser := "", false
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, raw := range lines {
		where := fmt.Sprintf("%s:%d", path, i+1)
		line := strings.TrimRight(cstr(string(raw)), cSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		word, rest, ok := strtok(line)
		if !ok {
			continue
		}
		switch word {
		case "topic", "pattern":
			accessWord, rest, ok := strtok(rest)
			if !ok {
				return nil, fmt.Errorf("%s: %q has no topic", where, word)
			}
			topic := strings.Trim(rest, cSpace)
			access := Read | Write
			if rest == "" {
				topic, accessWord = accessWord, ""
			}
			switch accessWord {
			case "":
			case "read":
				access = Read
			case "write":
				access = Write
			case "readwrite":
				access = Read | Write
			case "deny":
				access = accessNone
			default:
				return nil, fmt.Errorf("%s: invalid access %q: want read, write, readwrite or deny (a topic with spaces needs the access word)", where, accessWord)
			}
			if !subTopicCheck(topic) {
				return nil, fmt.Errorf("%s: invalid ACL topic %q: + and # must fill a whole level and # must come last", where, topic)
			}
			e := aclEntry{topic: topic, access: access, rule: where + ": " + strings.TrimLeft(line, " ")}
			if word == "pattern" {
				e.ucount = strings.Contains(topic, "%u")
				a.patterns = addEntry(a.patterns, e)
			} else if haveUser {
				a.users[user] = addEntry(a.users[user], e)
			} else {
				a.anonymous = addEntry(a.anonymous, e)
			}
		case "user":
			name := strings.Trim(rest, cSpace)
			if name == "" {
				return nil, fmt.Errorf("%s: \"user\" has no username", where)
			}
			user, haveUser = name, true
		default:
			return nil, fmt.Errorf("%s: invalid line %q: want topic, user or pattern (words separated by spaces; a comment starts with # in the first column)", where, line)
		}
	}
	return a, nil
}

// cSpace is what C's isspace accepts in the C locale.
const cSpace = " \t\n\v\f\r"

// strtok splits the next space-separated word off s as strtok_r(s, " ")
// does: leading spaces are skipped, the word ends at the next space, and rest
// starts after that one space. ok is false when s holds only spaces.
func strtok(s string) (word, rest string, ok bool) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return "", "", false
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", true
}

// addEntry appends e to list as mosquitto's add__acl does: deny entries go to
// the front, so that they are tried before any entry that allows.
func addEntry(list []aclEntry, e aclEntry) []aclEntry {
	if e.access == accessNone {
		return append([]aclEntry{e}, list...)
	}
	return append(list, e)
}

// Allowed reports whether a client (user "" = anonymous, clientID) may
// perform access on topic, exactly as mosquitto 2.0's ACL check decides, and
// which line decided: rule is the acl_file line ("FILE:LINE: pattern readwrite
// user/%u/#") that allowed or denied, or "" when no line did, that is when
// nothing matched (denied by default), when the broker refuses the topic
// whatever the ACL says (publishing to $SYS or $share), when patterns exist
// and the username or client id contains + or #, and for Subscribe.
//
// Subscribe is always allowed: mosquitto 2.0.11 grants every subscription and
// checks Read for each message it would deliver, retained ones included; to
// know whether a subscriber may receive a message, ask for Read on the
// message's topic. access must be Read, Write or Subscribe; anything else is
// denied.
//
// clientID should be the identifier the broker uses: a client that sent an
// empty one gets a random identifier from mosquitto, which %c patterns see
// and a capture does not. A username of "" stands for an anonymous client
// (MQTT 5 allows an empty username, which mosquitto does not treat as
// anonymous; such a client matches no user section).
func (a *ACL) Allowed(user, clientID, topic string, access Access) (ok bool, rule string) {
	if a == nil {
		return false, ""
	}
	switch access {
	case Subscribe:
		return true, ""
	case Read, Write:
	default:
		return false, ""
	}
	// mosquitto_acl_check: acl__check_dollar, before any plugin or ACL file.
	if strings.HasPrefix(topic, "$SYS") {
		if access == Write && !topicMatchesSub("$SYS/broker/connection/+/state", topic) {
			return false, ""
		}
	} else if strings.HasPrefix(topic, "$share") {
		return false, ""
	}

	// mosquitto_acl_check_default: the client's own entries first.
	var own []aclEntry
	if user == "" {
		own = a.anonymous
	} else {
		own = a.users[user]
	}
	for _, e := range own {
		if topic != "" && topic[0] == '$' && e.topic[0] != '$' {
			continue
		}
		if topicMatchesSub(e.topic, topic) {
			if e.access == accessNone {
				return false, e.rule
			}
			if access&e.access != 0 {
				return true, e.rule
			}
		}
	}
	if len(a.patterns) == 0 {
		return false, ""
	}
	// Patterns: a username or client id with a wildcard could widen them.
	if strings.ContainsAny(cstr(user), "+#") || strings.ContainsAny(cstr(clientID), "+#") {
		return false, ""
	}
	for _, e := range a.patterns {
		if e.ucount && user == "" {
			continue
		}
		if topicMatchesSub(substitute(e.topic, clientID, user), topic) {
			if e.access == accessNone {
				return false, e.rule
			}
			if access&e.access != 0 {
				return true, e.rule
			}
		}
	}
	return false, ""
}

// substitute replaces %c with clientID and %u with user (when there is one)
// anywhere in pattern, as mosquitto 2.0.11 does before matching: "dev_%c/x"
// becomes "dev_abc/x" for client abc.
func substitute(pattern, clientID, user string) string {
	clientID, user = cstr(clientID), cstr(user)
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		if i < len(pattern)-1 && pattern[i] == '%' {
			if pattern[i+1] == 'c' {
				b.WriteString(clientID)
				i++
				continue
			}
			if user != "" && pattern[i+1] == 'u' {
				b.WriteString(user)
				i++
				continue
			}
		}
		b.WriteByte(pattern[i])
	}
	return b.String()
}
