package audit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixture6 are the users of testdata/passwd6, written by
// testdata/mkpasswd6.py as mosquitto 1.6's mosquitto_passwd wrote $6$ hashes.
var fixture6 = map[string]string{
	"carol": "carol-1.6-pass",
	"dave":  "p\u00e4ss:w\u00f6rd with spaces",
	"erin":  "x",
}

func TestPasswdFixture6(t *testing.T) {
	p, err := ParsePasswd(filepath.Join("testdata", "passwd6"))
	if err != nil {
		t.Fatal(err)
	}
	for user, password := range fixture6 {
		if got := p.Check(user, []byte(password)); got != ValidPassword {
			t.Errorf("%s with the right password: %v", user, got)
		}
		if got := p.Check(user, []byte(password+"!")); got != WrongPassword {
			t.Errorf("%s with a wrong password: %v", user, got)
		}
		if got := p.Check(user, nil); got != WrongPassword {
			t.Errorf("%s without a password: %v", user, got)
		}
		if got := p.Check(strings.ToUpper(user), []byte(password)); got != UnknownUser {
			t.Errorf("%s in capitals: %v", user, got)
		}
	}
	if got := p.Check("", nil); got != UnknownUser {
		t.Errorf("anonymous: %v", got)
	}
	// mosquitto hashes the password as a C string: up to its first NUL.
	if got := p.Check("erin", []byte("x\x00anything")); got != ValidPassword {
		t.Errorf("password with NUL: %v", got)
	}
}

// mosquittoPasswd runs the real mosquitto_passwd with args.
func mosquittoPasswd(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Fatalf("mosquitto_passwd is needed (Debian package mosquitto): %v", err)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd %q: %v\n%s", args, err, out)
	}
}

// realUsers are made by the real mosquitto_passwd: $7$ by default, $6$ with
// -H sha512 (what mosquitto 1.x wrote).
var realUsers = []struct {
	user, password, hash string
}{
	{"alice", "secret-a", "sha512-pbkdf2"},
	{"bob", "b0b with spaces and \u00fcml\u00e4uts", "sha512-pbkdf2"},
	{"long", strings.Repeat("0123456789", 30), "sha512-pbkdf2"},
	{"x/y", "pxy", "sha512-pbkdf2"},
	{"h+sh", "phsh", "sha512-pbkdf2"},
	{"frank", "frank-sha512", "sha512"},
}

// writeRealPasswd makes a password_file with the real mosquitto_passwd for
// realUsers, then appends the $6$ fixture.
func writeRealPasswd(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passwd")
	for i, u := range realUsers {
		args := []string{"-H", u.hash, "-b", path, u.user, u.password}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		mosquittoPasswd(t, args...)
	}
	fixture, err := os.ReadFile(filepath.Join("testdata", "passwd6"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(fixture); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPasswdRealTool(t *testing.T) {
	path := writeRealPasswd(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range realUsers {
		want := u.user + ":$7$"
		if u.hash == "sha512" {
			want = u.user + ":$6$"
		}
		if !strings.Contains(string(data), "\n"+want) && !strings.HasPrefix(string(data), want) {
			t.Fatalf("mosquitto_passwd -H %s did not write %q...:\n%s", u.hash, want, data)
		}
	}
	p, err := ParsePasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range realUsers {
		if got := p.Check(u.user, []byte(u.password)); got != ValidPassword {
			t.Errorf("%s (%s): right password gives %v", u.user, u.hash, got)
		}
		if got := p.Check(u.user, []byte(u.password[:len(u.password)-1])); got != WrongPassword {
			t.Errorf("%s (%s): wrong password gives %v", u.user, u.hash, got)
		}
		if got := p.Check(u.user, []byte{}); got != WrongPassword {
			t.Errorf("%s (%s): empty password gives %v", u.user, u.hash, got)
		}
	}
	for user, password := range fixture6 {
		if got := p.Check(user, []byte(password)); got != ValidPassword {
			t.Errorf("fixture %s: %v", user, got)
		}
	}
	if got := p.Check("nobody", []byte("secret-a")); got != UnknownUser {
		t.Errorf("unknown user: %v", got)
	}

	// Deleting with the real tool removes the user.
	mosquittoPasswd(t, "-D", path, "alice")
	p, err = ParsePasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Check("alice", []byte("secret-a")); got != UnknownUser {
		t.Errorf("deleted user: %v", got)
	}
}

func TestParsePasswdLines(t *testing.T) {
	// What mosquitto ignores: comments, lines without ':', blank lines;
	// white space around the fields; a third field.
	valid := "carol:$6$dUb43ZeKyyy8qDyL$XqD6nrERg/i7jFqVyD3aD3i5tfXmLj/6W2PdW/4bm+ockMqCUteqohVVFmkH/YtUXOm3DY+R+QqJH8nYt5OZSA=="
	content := "# comment: with colon\n\nno colon here\n" +
		" " + strings.Replace(valid, ":", " :\t", 1) + " :extra\r\n"
	p, err := ParsePasswd(writeFile(t, "passwd", content))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Check("carol", []byte("carol-1.6-pass")); got != ValidPassword {
		t.Errorf("carol: %v", got)
	}

	bad := []badFile{
		{"\nalice:\n", 2, "no password hash"},
		{"alice:secret\n", 1, "not hashed"},
		{"alice:$5$abc$def\n", 1, "unknown hash type $5$"},
		{"alice:$7$\n", 1, "iteration count"},
		{"alice:$7$0$cJm64JLMyWCKJOPE$8Wm6tDDyyZYUKR9x+A+BKiHkp++mruCLZPZ662t13HTx8P9xsrF97NhkWV4Ch6JU54yC5/ce4Av1YrGuBI/Qfg==\n", 1, "iteration count"},
		{"alice:$7$101$cJm64JLMyWCKJOPE\n", 1, "without salt"},
		{"alice:$6$c2hvcnQ=$8Wm6tDDyyZYUKR9x+A+BKiHkp++mruCLZPZ662t13HTx8P9xsrF97NhkWV4Ch6JU54yC5/ce4Av1YrGuBI/Qfg==\n", 1, "salt"},
		{"alice:$6$cJm64JLMyWCKJOPE$c2hvcnQ=\n", 1, "digest"},
		{"alice:$6$cJm64JLMyWCKJOPE$!!!!\n", 1, "digest"},
		{valid + "\n" + valid + "\n", 2, "already defined on line 1"},
	}
	checkBadFiles(t, "passwd", bad, func(path string) error {
		_, err := ParsePasswd(path)
		return err
	})
}

func TestPasswordCheckString(t *testing.T) {
	for c, want := range map[PasswordCheck]string{
		UnknownUser: "unknown-user", WrongPassword: "wrong-password", ValidPassword: "valid-password", 7: "password-check(7)",
	} {
		if got := c.String(); got != want {
			t.Errorf("%d: %q, want %q", c, got, want)
		}
	}
	var p *Passwords
	if got := p.Check("a", []byte("b")); got != UnknownUser {
		t.Errorf("nil Passwords: %v", got)
	}
}
