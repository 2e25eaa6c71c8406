package audit

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file take the real mosquitto 2.0.11 as the ground truth:
// they start it with testACL (plus a few users) and a password file made by
// the real mosquitto_passwd, observe with mosquitto_pub and mosquitto_sub
// what the broker lets each client do, and require Allowed and Check to say
// the same.

// brokerACLExtra is appended to testACL for the broker: more users, and
// lines mosquitto accepts although they look wrong.
const brokerACLExtra = `user x/y
topic readwrite slash/#
user h+sh
topic readwrite hash/#
user carol
topic readwrite carol/#
user frank
topic read carol/#
user admin
topic readwrite $app/#
topic readwrite $SYS/#
topic write $share/#
topic write $SYSTEM/#
topic write $shared/#
topic read	weird
user alice bob
topic readwrite a b c
`

// identity is a client as the broker sees it.
type identity struct {
	user, password, id string
}

func (c identity) String() string {
	if c.user == "" {
		return "anonymous/" + c.id
	}
	return c.user + "/" + c.id
}

// args are the mosquitto_pub/sub options that connect as c.
func (c identity) args() []string {
	a := []string{"-i", c.id}
	if c.user != "" {
		a = append(a, "-u", c.user, "-P", c.password)
	}
	return a
}

var (
	admin      = identity{"admin", "admin-pw", "ad"}
	identities = []identity{
		{"", "", "c1"}, {"", "", "dev1"}, {"", "", "abc"}, {"", "", "ev+l"},
		{"", "", "a/b"}, {"", "", "cl"},
		{"alice", "secret-a", "a1"}, {"alice", "secret-a", "cl"},
		{"bob", "b0b with spaces and \u00fcml\u00e4uts", "b1"}, admin,
		{"x/y", "pxy", "xy"}, {"h+sh", "phsh", "h1"},
		{"carol", "carol-1.6-pass", "c6"}, {"frank", "frank-sha512", "f6"},
	}
	// brokerTopics are published to by every identity, and retained by
	// admin for the read checks (all but $SYS and $share).
	brokerTopics = []string{
		"public/a", "public/secret", "public/secret/x", "anon/x/data",
		"anon/x/y/data", "anon//data", "drop box", "sensors/k/temp",
		"spaced/topic", "$app/x", "alice", "alice/x", "alice/private/k",
		"alice/private", "late/alice", "shared/x", "shared/bob-hidden",
		"bob/out", "bob/in/x", "users/alice/x", "users/alice/locked",
		"users/bob/x", "users/x/y/z", "users//x", "slash/a", "hash/a",
		"carol/a", "devices/dev1/cmd", "devices/dev1/status",
		"devices/a/b/status", "devices/a/b/cmd", "dev_abc/x",
		"clients/cl/alice", "open/all", "a b c", "any/thing",
		"$SYS/foo", "$SYS/broker/connection/x/state", "$share/g/x",
		"$SYSTEM/x", "$shared/x",
	}
)

// broker is a running mosquitto.
type broker struct {
	port string
	log  *bytes.Buffer
}

// tool finds a mosquitto program or fails the test.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Fatalf("%s is needed (Debian packages mosquitto and mosquitto-clients)", name)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// brokerConfig writes a mosquitto.conf for acl and passwd on port.
func brokerConfig(t *testing.T, dir, port, acl, passwd string) string {
	t.Helper()
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nacl_file %s\npassword_file %s\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n", port, acl, passwd)
	if os.Geteuid() == 0 {
		// As root mosquitto would switch to the user "mosquitto", which
		// cannot read the test's files.
		conf += "user root\n"
	}
	path := filepath.Join(dir, "mosquitto-"+port+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startBroker runs mosquitto with acl and passwd until the test ends.
func startBroker(t *testing.T, acl, passwd string) *broker {
	t.Helper()
	bin := tool(t, "mosquitto")
	port := freePort(t)
	conf := brokerConfig(t, t.TempDir(), port, acl, passwd)
	b := &broker{port: port, log: new(bytes.Buffer)}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return b
		}
		select {
		case err := <-exited:
			t.Fatalf("mosquitto exited (%v):\n%s", err, b.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not listen on %s:\n%s", port, b.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs a mosquitto client with a time limit and returns its output.
func run(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

var pubackRE = regexp.MustCompile(`received PUBACK \(Mid: \d+, RC:(\d+)\)`)

// publish sends one QoS 1 MQTT 5 PUBLISH as c and returns the PUBACK reason
// code.
func (b *broker) publish(t *testing.T, c identity, topic string, retain bool) (int, error) {
	args := append([]string{"-h", "127.0.0.1", "-p", b.port, "-V", "5", "-q", "1", "-d", "-t", topic, "-m", "m:" + topic}, c.args()...)
	if retain {
		args = append(args, "-r")
	}
	out, errOut, err := run(t, tool(t, "mosquitto_pub"), args...)
	m := pubackRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no PUBACK (%v): %s%s", err, out, errOut)
	}
	return strconv.Atoi(m[1])
}

// each runs f for every element of groups in parallel, the elements of one
// group one after the other (one client id is never connected twice at once,
// which would make mosquitto drop the older connection).
func each[T any](groups [][]T, f func(T)) {
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, x := range g {
				f(x)
			}
		}()
	}
	wg.Wait()
}

// byClientID groups identities so that no two groups share a client id.
func byClientID(ids []identity) [][]identity {
	index := map[string]int{}
	var groups [][]identity
	for _, c := range ids {
		i, ok := index[c.id]
		if !ok {
			i = len(groups)
			index[c.id] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

func TestAgainstMosquitto(t *testing.T) {
	passwd := writeRealPasswd(t)
	mosquittoPasswd(t, "-b", passwd, admin.user, admin.password)
	aclPath := writeFile(t, "acl", testACL+brokerACLExtra)
	acl, err := ParseACL(aclPath)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := ParsePasswd(passwd)
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, aclPath, passwd)
	pub, sub := tool(t, "mosquitto_pub"), tool(t, "mosquitto_sub")

	t.Run("passwords", func(t *testing.T) {
		type attempt struct {
			user, password string
		}
		var attempts [][]attempt
		for _, c := range identities {
			if c.user != "" {
				attempts = append(attempts, []attempt{{c.user, c.password}, {c.user, c.password + "x"}, {c.user, ""}})
			}
		}
		attempts = append(attempts, []attempt{{"dave", fixture6["dave"]}, {"erin", "x"}, {"erin", "X"}, {"nobody", "secret-a"}, {"ALICE", "secret-a"}})
		var mu sync.Mutex
		seen := map[PasswordCheck]int{}
		each(attempts, func(a attempt) {
			_, errOut, err := run(t, pub, "-h", "127.0.0.1", "-p", b.port, "-V", "5", "-u", a.user, "-P", a.password, "-t", "probe", "-m", "x")
			accepted := err == nil
			if !accepted && !strings.Contains(errOut, "Not authorized") {
				t.Errorf("%s: mosquitto_pub failed for another reason: %v %s", a.user, err, errOut)
				return
			}
			got := pw.Check(a.user, []byte(a.password))
			mu.Lock()
			seen[got]++
			mu.Unlock()
			if (got == ValidPassword) != accepted {
				t.Errorf("user %q password %q: broker accepted=%v, Check=%v", a.user, a.password, accepted, got)
			}
		})
		if seen[ValidPassword] == 0 || seen[WrongPassword] == 0 || seen[UnknownUser] == 0 {
			t.Errorf("not every outcome was exercised: %v", seen)
		}
	})

	// Retained messages for the read checks, published by admin.
	var retained []string
	for _, topic := range brokerTopics {
		if strings.HasPrefix(topic, "$SYS") || strings.HasPrefix(topic, "$share") {
			continue
		}
		retained = append(retained, topic)
		rc, err := b.publish(t, admin, topic, true)
		if err != nil || (rc != 0 && rc != 16) {
			t.Fatalf("admin cannot retain %q: rc %d, %v", topic, rc, err)
		}
	}
	retained = append(retained, "$SYS/broker/version") // the broker's own

	t.Run("read", func(t *testing.T) {
		// Every identity subscribes to everything it could name, plus some
		// subscribers with narrower filters; the broker grants every
		// subscription and delivers the retained messages that the
		// identity may read.
		type reader struct {
			c       identity
			filters []string
		}
		var readers []reader
		for _, c := range identities {
			readers = append(readers, reader{c, []string{"#", "$SYS/broker/version", "$app/#"}})
		}
		alice := identity{"alice", "secret-a", "a-filters"}
		bob := identity{"bob", identities[8].password, "b-filters"}
		readers = append(readers,
			reader{alice, []string{"+/+", "alice/+", "$SYS/broker/+"}},
			reader{bob, []string{"shared/+", "bob/+/+", "+/+/+/+"}},
			reader{identity{"", "", "dev1-filters"}, []string{"devices/+/+", "public/#", "+"}},
		)
		groups := make([][]reader, len(readers))
		for i, r := range readers {
			groups[i] = []reader{r}
		}
		each(groups, func(r reader) {
			args := append([]string{"-h", "127.0.0.1", "-p", b.port, "-V", "5", "-W", "2", "-F", "%t"}, r.c.args()...)
			for _, f := range r.filters {
				args = append(args, "-t", f)
			}
			out, errOut, _ := run(t, sub, args...)
			if strings.Contains(errOut, "rror") {
				t.Errorf("%v: mosquitto_sub: %s", r.c, errOut)
				return
			}
			got := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if line != "" {
					got[line] = true
				}
			}
			matches := func(topic string) bool {
				for _, f := range r.filters {
					if topicMatchesSub(f, topic) {
						return true
					}
				}
				return false
			}
			for topic := range got {
				ok, rule := acl.Allowed(r.c.user, r.c.id, topic, Read)
				if !ok || !matches(topic) {
					t.Errorf("%v %q received %q: Allowed(Read) = %v %q, filter match %v", r.c, r.filters, topic, ok, rule, matches(topic))
				}
			}
			n := 0
			for _, topic := range retained {
				if !matches(topic) {
					continue
				}
				ok, rule := acl.Allowed(r.c.user, r.c.id, topic, Read)
				if ok {
					n++
				}
				if ok && !got[topic] {
					t.Errorf("%v %q did not receive %q: Allowed(Read) = true %q", r.c, r.filters, topic, rule)
				}
			}
			t.Logf("%v %q: %d retained messages received", r.c, r.filters, n)
		})
	})

	t.Run("write", func(t *testing.T) {
		var allowed, denied int
		var mu sync.Mutex
		each(byClientID(identities), func(c identity) {
			for _, topic := range brokerTopics {
				rc, err := b.publish(t, c, topic, false)
				if err != nil {
					t.Errorf("%v publishing %q: %v", c, topic, err)
					continue
				}
				brokerOK := rc == 0 || rc == 16 // success, no matching subscribers
				if !brokerOK && rc != 0x87 {
					t.Errorf("%v publishing %q: PUBACK reason %d", c, topic, rc)
					continue
				}
				ok, rule := acl.Allowed(c.user, c.id, topic, Write)
				if ok != brokerOK {
					t.Errorf("%v publishing %q: broker PUBACK %d, Allowed(Write) = %v %q", c, topic, rc, ok, rule)
				}
				mu.Lock()
				if brokerOK {
					allowed++
				} else {
					denied++
				}
				mu.Unlock()
			}
		})
		t.Logf("%d publishes allowed, %d denied by the broker", allowed, denied)
	})

	t.Run("subscribe", func(t *testing.T) {
		filters := []string{"#", "$SYS/#", "alice/#", "alice/private/#", "+/+", "$share/g/alice/#", "nobody/may/read/this", "users/+/locked"}
		subackRE := regexp.MustCompile(`Subscribed \(mid: \d+\): ([\d, ]+)`)
		each(byClientID(identities), func(c identity) {
			args := append([]string{"-h", "127.0.0.1", "-p", b.port, "-V", "5", "-q", "1", "-d", "-E"}, c.args()...)
			for _, f := range filters {
				args = append(args, "-t", f)
			}
			out, errOut, err := run(t, sub, args...)
			m := subackRE.FindStringSubmatch(out)
			if m == nil {
				t.Errorf("%v: no SUBACK (%v): %s%s", c, err, out, errOut)
				return
			}
			codes := strings.Split(m[1], ", ")
			if len(codes) != len(filters) {
				t.Errorf("%v: SUBACK %q for %d filters", c, m[1], len(filters))
				return
			}
			for i, f := range filters {
				granted := codes[i] == "0" || codes[i] == "1"
				ok, _ := acl.Allowed(c.user, c.id, f, Subscribe)
				if granted != ok {
					t.Errorf("%v subscribing %q: SUBACK %s, Allowed(Subscribe) = %v", c, f, codes[i], ok)
				}
			}
		})
	})
}

// TestACLFilesMosquittoRefuses starts mosquitto with acl_files it refuses to
// load, and requires ParseACL to refuse them too, naming the line.
func TestACLFilesMosquittoRefuses(t *testing.T) {
	bin := tool(t, "mosquitto")
	passwd := writeFile(t, "passwd", "")
	bad := []struct {
		content string
		line    int
	}{
		{"topic read a\n  # indented comment\n", 2},
		{"topic\tread a\n", 1},
		{"topic foo bar\n", 1},
		{"user\n", 1},
		{"topic read a/#/b\n", 1},
		{"pattern\n", 1},
	}
	var wg sync.WaitGroup
	for _, tc := range bad {
		path := writeFile(t, "acl", tc.content)
		_, perr := ParseACL(path)
		if perr == nil || !strings.HasPrefix(perr.Error(), path+":"+strconv.Itoa(tc.line)+": ") {
			t.Errorf("%q: ParseACL error %v, want %s:%d: ...", tc.content, perr, path, tc.line)
		}
		conf := brokerConfig(t, t.TempDir(), freePort(t), path, passwd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, err := run(t, bin, "-c", conf)
			if err == nil || !strings.Contains(out+errOut, "acl_file") {
				t.Errorf("%q: mosquitto did not refuse it (%v): %s%s", tc.content, err, out, errOut)
			}
		}()
	}
	wg.Wait()
}

// TestBrokerACL checks the broker's ACL: the users the tables above rely on,
// and the topics mosquitto refuses to publish whatever the ACL says.
func TestBrokerACL(t *testing.T) {
	a, err := ParseACL(writeFile(t, "acl", testACL+brokerACLExtra))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic  string
		access Access
		ok     bool
	}{
		{"$SYS/foo", Write, false},
		{"$SYS/foo", Read, true},
		{"$SYS/broker/connection/x/state", Write, true},
		{"$SYSTEM/x", Write, false}, // mosquitto compares 4 bytes: "$SYS"
		{"$share/g/x", Write, false},
		{"$shared/x", Write, false}, // and 6 bytes: "$share"
		{"$app/x", Write, true},
	} {
		if ok, rule := a.Allowed(admin.user, admin.id, tc.topic, tc.access); ok != tc.ok {
			t.Errorf("admin %v %q: %v (%q), want %v", tc.access, tc.topic, ok, rule, tc.ok)
		}
	}
	var users []string
	for u := range a.users {
		users = append(users, u)
	}
	sort.Strings(users)
	want := "admin,alice,alice bob,bob,carol,frank,h+sh,x/y"
	if got := strings.Join(users, ","); got != want {
		t.Errorf("users %s, want %s", got, want)
	}
}
