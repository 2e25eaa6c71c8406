package tomllines

import "testing"

// TestScan places headers, keys, array elements and inline tables, skips
// strings and comments, and ends on text that is not TOML.
func TestScan(t *testing.T) {
	doc := []byte(`# comment [[rule]]
title = "a # not a comment [x]"  # comment

[[rule]]            # 4
topics = [          # 5
  "a",              # 6
  'b\',             # 7
]
hmac = { key_hex = "00", layout = "prefix" }   # 9
text = """
[[rule]]
not = "a header"
"""                 # 13
[rule.rsa_oaep]     # 14
private_key = "k"   # 15

[[rule]]            # 17
"quoted key" = 1    # 18
ecdsa.public_key = "x"   # 19
dt = 1979-05-27 07:32:00Z  # 20
arr = [{ a = 1 }, { b = [1, 2] }]  # 21
[tls]               # 22
'keylog' = []       # 23
`)
	lines := Scan(doc)
	for path, want := range map[string]int{
		"title": 2, "rule": 4, "rule[0]": 4, "rule[0].topics": 5, "rule[0].topics[0]": 6,
		"rule[0].topics[1]": 7, "rule[0].hmac": 9, "rule[0].hmac.layout": 9, "rule[0].text": 10,
		"rule[0].rsa_oaep": 14, "rule[0].rsa_oaep.private_key": 15, "rule[1]": 17,
		"rule[1].quoted key": 18, "rule[1].ecdsa.public_key": 19, "rule[1].dt": 20,
		"rule[1].arr[1].b": 21, "tls": 22, "tls.keylog": 23, "rule[2]": 4, "nothing.here": 0, "rule[1].ecdsa.hash": 19,
	} {
		if got := lines.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if _, ok := lines["rule[0].not"]; ok {
		t.Error("a multi-line string was scanned as keys")
	}
	// Garbage ends.
	for _, junk := range []string{"[", "[[", "a = [", "a = {", `a = "`, `a = """`, "= = =", "[[a]]\n[a.b", "\"\\"} {
		_ = Scan([]byte(junk))
	}
}
