package audit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeFile writes content to name in a fresh temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testACL is an acl_file exercising every kind of line. Line numbers matter:
// the expected rules below name them.
const testACL = `# anonymous clients
topic read public/#
topic readwrite anon/+/data
topic deny public/secret
topic write drop box
topic readwrite $app/#
  topic read   spaced/topic   
topic sensors/+/temp

user alice
topic readwrite alice/#
topic deny alice/private/#
topic read $SYS/broker/version
topic read shared/#
topic write $SYS/broker/connection/+/state

user bob
topic write bob/out
topic read bob/in/+
topic deny shared/bob-hidden
topic read shared/#
pattern readwrite users/%u/#

user alice
topic write late/alice
pattern read devices/%c/cmd
pattern write devices/%c/status
pattern readwrite dev_%c/x
pattern deny users/%u/locked
pattern read clients/%c/%u
pattern write open/all
user admin
topic readwrite #
`

func TestParseACLAndAllowed(t *testing.T) {
	path := writeFile(t, "acl", testACL)
	a, err := ParseACL(path)
	if err != nil {
		t.Fatal(err)
	}
	rule := func(line int, text string) string {
		return path + ":" + strconv.Itoa(line) + ": " + text
	}
	const anon = ""
	tests := []struct {
		name     string
		user, id string
		topic    string
		access   Access
		ok       bool
		rule     string
	}{
		// topic lines, anonymous section
		{"anon read public", anon, "c1", "public/a", Read, true, rule(2, "topic read public/#")},
		{"anon read public parent", anon, "c1", "public", Read, true, rule(2, "topic read public/#")},
		{"anon write read-only", anon, "c1", "public/a", Write, false, ""},
		{"anon deny wins over earlier allow", anon, "c1", "public/secret", Read, false, rule(4, "topic deny public/secret")},
		{"anon deny only that topic", anon, "c1", "public/secret/x", Read, true, rule(2, "topic read public/#")},
		{"anon + one level", anon, "c1", "anon/x/data", Write, true, rule(3, "topic readwrite anon/+/data")},
		{"anon + empty level", anon, "c1", "anon//data", Read, true, rule(3, "topic readwrite anon/+/data")},
		{"anon + not two levels", anon, "c1", "anon/x/y/data", Write, false, ""},
		{"topic with a space", anon, "c1", "drop box", Write, true, rule(5, "topic write drop box")},
		{"write-only is not read", anon, "c1", "drop box", Read, false, ""},
		{"implicit readwrite", anon, "c1", "sensors/k/temp", Read, true, rule(8, "topic sensors/+/temp")},
		{"indented line, topic trimmed", anon, "c1", "spaced/topic", Read, true, rule(7, "topic read   spaced/topic")},
		{"anon $ entry", anon, "c1", "$app/x", Write, true, rule(6, "topic readwrite $app/#")},
		{"anon nothing matches", anon, "c1", "alice/x", Read, false, ""},

		// user sections
		{"alice own", "alice", "a1", "alice/x", Write, true, rule(11, "topic readwrite alice/#")},
		{"alice # matches parent", "alice", "a1", "alice", Write, true, rule(11, "topic readwrite alice/#")},
		{"alice deny subtree", "alice", "a1", "alice/private/k", Read, false, rule(12, "topic deny alice/private/#")},
		{"alice deny parent of subtree", "alice", "a1", "alice/private", Write, false, rule(12, "topic deny alice/private/#")},
		{"alice section merged", "alice", "a1", "late/alice", Write, true, rule(25, "topic write late/alice")},
		{"alice not anonymous entries", "alice", "a1", "public/a", Read, false, ""},
		{"alice $SYS read", "alice", "a1", "$SYS/broker/version", Read, true, rule(13, "topic read $SYS/broker/version")},
		{"alice $SYS write refused by broker", "alice", "a1", "$SYS/broker/version", Write, false, ""},
		{"alice bridge state write", "alice", "a1", "$SYS/broker/connection/x/state", Write, true, rule(15, "topic write $SYS/broker/connection/+/state")},
		{"bob read-only +", "bob", "b1", "bob/in/x", Read, true, rule(19, "topic read bob/in/+")},
		{"bob read-only + no write", "bob", "b1", "bob/in/x", Write, false, ""},
		{"bob write-only", "bob", "b1", "bob/out", Write, true, rule(18, "topic write bob/out")},
		{"bob deny after allow in file", "bob", "b1", "shared/bob-hidden", Read, false, rule(20, "topic deny shared/bob-hidden")},
		{"alice reads what bob cannot", "alice", "a1", "shared/bob-hidden", Read, true, rule(14, "topic read shared/#")},
		{"unknown user gets patterns only", "mallory", "m1", "public/a", Read, false, ""},
		{"admin #", "admin", "ad", "any/thing", Write, true, rule(33, "topic readwrite #")},
		{"admin # not $SYS", "admin", "ad", "$SYS/broker/version", Read, false, ""},
		{"admin # not $app", "admin", "ad", "$app/x", Read, false, ""},
		{"admin $share publish refused", "admin", "ad", "$share/g/x", Write, false, ""},
		{"admin $SYS publish refused", "admin", "ad", "$SYS/x", Write, false, ""},

		// patterns: apply to everyone, wherever they stand in the file
		{"pattern %u", "alice", "a1", "users/alice/x", Write, true, rule(22, "pattern readwrite users/%u/#")},
		{"pattern %u # parent", "alice", "a1", "users/alice", Read, true, rule(22, "pattern readwrite users/%u/#")},
		{"pattern %u other user", "bob", "b1", "users/alice/x", Write, false, ""},
		{"pattern deny first", "alice", "a1", "users/alice/locked", Write, false, rule(29, "pattern deny users/%u/locked")},
		{"pattern %u never anonymous", anon, "c1", "users//x", Read, false, ""},
		{"pattern %u with slash in username", "x/y", "xy", "users/x/y/z", Write, true, rule(22, "pattern readwrite users/%u/#")},
		{"pattern %c read", anon, "dev1", "devices/dev1/cmd", Read, true, rule(26, "pattern read devices/%c/cmd")},
		{"pattern %c read not write", anon, "dev1", "devices/dev1/cmd", Write, false, ""},
		{"pattern %c other client", anon, "dev1", "devices/dev2/cmd", Read, false, ""},
		{"pattern %c inside a level", anon, "abc", "dev_abc/x", Write, true, rule(28, "pattern readwrite dev_%c/x")},
		{"pattern %c with slash in client id", anon, "a/b", "devices/a/b/status", Write, true, rule(27, "pattern write devices/%c/status")},
		{"pattern %c and %u", "alice", "cl", "clients/cl/alice", Read, true, rule(30, "pattern read clients/%c/%u")},
		{"pattern with %u skipped for anonymous", anon, "cl", "clients/cl/", Read, false, ""},
		{"pattern without substitution", anon, "c1", "open/all", Write, true, rule(31, "pattern write open/all")},
		{"dangerous client id", anon, "ev+l", "open/all", Write, false, ""},
		{"dangerous client id #", anon, "ev#l", "open/all", Write, false, ""},
		{"dangerous username", "h+sh", "h1", "open/all", Write, false, ""},
		{"dangerous client id keeps own entries", anon, "ev+l", "public/a", Read, true, rule(2, "topic read public/#")},
		{"own allow before pattern deny", "alice", "a1", "alice/x", Read, true, rule(11, "topic readwrite alice/#")},

		// topics that are not topics
		{"wildcard topic never matches", "admin", "ad", "any/+", Write, false, ""},
		{"empty topic", "admin", "ad", "", Write, false, ""},

		// subscriptions are never refused by mosquitto 2.0
		{"subscribe #", anon, "c1", "#", Subscribe, true, ""},
		{"subscribe $SYS/#", anon, "c1", "$SYS/#", Subscribe, true, ""},
		{"subscribe others", "bob", "b1", "alice/#", Subscribe, true, ""},
		{"subscribe $share", anon, "c1", "$share/g/x", Subscribe, true, ""},
		{"bad access", "admin", "ad", "any", Read | Write, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rule := a.Allowed(tc.user, tc.id, tc.topic, tc.access)
			if ok != tc.ok || rule != tc.rule {
				t.Errorf("Allowed(%q, %q, %q, %v) = %v, %q; want %v, %q", tc.user, tc.id, tc.topic, tc.access, ok, rule, tc.ok, tc.rule)
			}
		})
	}
}

func TestEmptyACLDeniesEverything(t *testing.T) {
	// CVE-2018-12550: an acl_file with nothing but comments denies all.
	a, err := ParseACL(writeFile(t, "acl", "# nothing\n\n   \n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, access := range []Access{Read, Write} {
		if ok, rule := a.Allowed("", "c", "a/b", access); ok || rule != "" {
			t.Errorf("%v allowed by an empty ACL (%q)", access, rule)
		}
	}
	var zero ACL
	if ok, _ := zero.Allowed("u", "c", "a", Read); ok {
		t.Error("zero ACL allows")
	}
	var nilACL *ACL
	if ok, _ := nilACL.Allowed("u", "c", "a", Read); ok {
		t.Error("nil ACL allows")
	}
}

// badFile is a file a parser must refuse, with the line and the words of
// its error.
type badFile struct {
	content string
	line    int
	want    string
}

// checkBadFiles checks that parse refuses each file with an error that
// starts with FILE:LINE: and holds the expected words, and refuses a file
// that does not exist.
func checkBadFiles(t *testing.T, name string, files []badFile, parse func(path string) error) {
	t.Helper()
	for _, tc := range files {
		path := writeFile(t, name, tc.content)
		err := parse(path)
		if err == nil {
			t.Errorf("%q: no error", tc.content)
			continue
		}
		prefix := path + ":" + strconv.Itoa(tc.line) + ": "
		if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want %q...%q", tc.content, err, prefix, tc.want)
		}
	}
	if err := parse(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseACLErrors(t *testing.T) {
	tests := []badFile{
		{"topic read a\n  # indented comment\n", 2, "invalid line"},
		{"\t# tab-indented comment\n", 1, "invalid line"},
		{"topic\tread foo\n", 1, "invalid line"},
		{"TOPIC foo\n", 1, "invalid line"},
		{"foo bar\n", 1, "invalid line"},
		{"topic foo bar\n", 1, "invalid access \"foo\""},
		{"topic\n", 1, "has no topic"},
		{"pattern   \n", 1, "has no topic"},
		{"user\n", 1, "no username"},
		{"\n\nuser   \t\n", 3, "no username"},
		{"topic read foo/#/bar\n", 1, "invalid ACL topic"},
		{"topic read foo+\n", 1, "invalid ACL topic"},
		{"pattern write a/%c#\n", 1, "invalid ACL topic"},
		{"topic read " + strings.Repeat("a/", 201) + "\n", 1, "invalid ACL topic"},
	}
	checkBadFiles(t, "acl", tests, func(path string) error {
		_, err := ParseACL(path)
		return err
	})
}

func TestParseACLQuirks(t *testing.T) {
	// Lines mosquitto 2.0.11 accepts, read its way.
	path := writeFile(t, "acl", "topic read\tweird\r\ntopic read\n"+
		"user alice bob\ntopic readwrite a b c\ntopic read x\x00ignored\n"+
		"pattern read p/%%c")
	a, err := ParseACL(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, id, topic string
		access          Access
		ok              bool
	}{
		{"", "c", "read\tweird", Write, true}, // one word: the topic, readwrite
		{"", "c", "read", Write, true},        // "topic read": topic "read"
		{"alice bob", "c", "a b c", Write, true},
		{"alice bob", "c", "x", Read, true}, // the line ends at the NUL
		{"", "c", "p/%c", Read, true},       // %% is not an escape: "%" then %c
		{"", "c", "p/c", Read, false},
	}
	for _, tc := range tests {
		if ok, rule := a.Allowed(tc.user, tc.id, tc.topic, tc.access); ok != tc.ok {
			t.Errorf("Allowed(%q, %q, %q, %v) = %v (%q), want %v", tc.user, tc.id, tc.topic, tc.access, ok, rule, tc.ok)
		}
	}
}

func TestTopicMatchesSub(t *testing.T) {
	tests := []struct {
		sub, topic string
		want       bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"#", "a/b", true},
		{"#", "/", true},
		{"#", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"$SYS/#", "$SYS", true},
		{"+/x", "$SYS/x", false},
		{"$SYS/x", "a/x", false},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "ab", false},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "/x", true},
		{"+/+", "/", true},
		{"a/+/#", "a/b", true},
		{"a/+/#", "a", false},
		{"a/+/b", "a//b", true},
		{"/#", "/a", true},
		{"/#", "a", false},
		{"a+", "a+", false},
		{"a/b", "a/+", false},
		{"#", "a/#", false},
		{"a#", "a", false},
		{"a/#/b", "a/x/b", false},
		{"", "a", false},
		{"a", "", false},
		{"a/b\x00c", "a/b", true},
	}
	for _, tc := range tests {
		if got := topicMatchesSub(tc.sub, tc.topic); got != tc.want {
			t.Errorf("topicMatchesSub(%q, %q) = %v, want %v", tc.sub, tc.topic, got, tc.want)
		}
	}
}

func TestAccessString(t *testing.T) {
	for a, want := range map[Access]string{Read: "read", Write: "write", Subscribe: "subscribe", 9: "access(9)"} {
		if got := a.String(); got != want {
			t.Errorf("%d: %q, want %q", a, got, want)
		}
	}
}
