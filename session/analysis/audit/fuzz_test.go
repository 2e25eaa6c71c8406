package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// levelMatch is MQTT's topic matching written level by level, for valid
// filters and topics without wildcards: the reference topicMatchesSub must
// agree with.
func levelMatch(filter, topic string) bool {
	if (filter[0] == '$') != (topic[0] == '$') {
		return false
	}
	f, tp := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(tp) {
			return false
		}
		if level != "+" && level != tp[i] {
			return false
		}
	}
	return len(f) == len(tp)
}

func FuzzTopicMatchesSub(f *testing.F) {
	for _, seed := range [][2]string{
		{"a/#", "a"}, {"a/+/#", "a/b"}, {"+/+", "/"}, {"#", "$SYS/x"},
		{"$SYS/#", "$SYS"}, {"a/+", "a/"}, {"+", ""}, {"a//b", "a//b"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := topicMatchesSub(filter, topic)
		// A NUL ends a C string.
		filter, topic = cstr(filter), cstr(topic)
		if topic == "" || strings.ContainsAny(topic, "+#") {
			if got {
				t.Errorf("topicMatchesSub(%q, %q) matched an invalid topic", filter, topic)
			}
			return
		}
		if filter == "" || !subTopicCheck(filter) {
			return
		}
		if want := levelMatch(filter, topic); got != want {
			t.Errorf("topicMatchesSub(%q, %q) = %v, MQTT says %v", filter, topic, got, want)
		}
	})
}

// FuzzParse feeds arbitrary files to both parsers and the ACL check: they
// must return or fail, never panic.
func FuzzParse(f *testing.F) {
	f.Add(testACL, "u", "c", "a/b")
	f.Add("pattern read %u/%c/#\nuser x\ntopic deny #\n", "x", "%c", "x/%c/y")
	f.Add("carol:$6$dUb43ZeKyyy8qDyL$XqD6nrERg/i7jFqVyD3aD3i5tfXmLj/6W2PdW/4bm+ockMqCUteqohVVFmkH/YtUXOm3DY+R+QqJH8nYt5OZSA==\n", "carol", "", "x")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content, user, id, topic string) {
		path := filepath.Join(dir, "file")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if a, err := ParseACL(path); err == nil {
			for _, access := range []Access{Read, Write, Subscribe} {
				a.Allowed(user, id, topic, access)
			}
		}
		if p, err := ParsePasswd(path); err == nil {
			p.Check(user, []byte(topic))
		}
	})
}
