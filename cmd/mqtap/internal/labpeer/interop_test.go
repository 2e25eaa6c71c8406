package labpeer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session/brokertest"
)

// expected is what a Python responder answers for labText (shuffle is
// checked as a permutation).
var expected = map[string]string{
	"uppercase":  "NETWORKING IS THE BEST! THEY'RE 1ST: ΟΔΟΣ ὈΔΥΣΣΕΎΣ, STRASSE İSTANBUL ǄEMAL FINE ʼN",
	"lowercase":  "networking is the best! they're 1st: οδος ὀδυσσεύς, straße i̇stanbul ǆemal ﬁne ŉ",
	"title-case": "Networking Is The Best! They'Re 1St: Οδος Ὀδυσσεύς, Straße İstanbul ǅemal Fine ʼN",
	"reverse":    "ŉ enﬁ lameǆ lubnatsİ eßarts ,ΣΎΕΣΣΥΔὈ ΣΟΔΟ :ts1 er'yeht !tseb eht si gnikrowteN",
}

// checkAnswer fails unless got is the lab's answer to labText for action.
func checkAnswer(t *testing.T, action, got string) {
	t.Helper()
	if action == "shuffle" {
		if !SameCharacters(got, labText) {
			t.Errorf("shuffle: %q is not a permutation of %q", got, labText)
		}
		return
	}
	if got != expected[action] {
		t.Errorf("%s:\n got %q\nwant %q", action, got, expected[action])
	}
}

// goResponder runs a Responder in the background.
type goResponder struct {
	log    *brokertest.Buffer
	cancel context.CancelFunc
	done   chan error
}

func startGoResponder(t *testing.T, b *brokertest.Broker, r Responder) *goResponder {
	t.Helper()
	g := &goResponder{log: &brokertest.Buffer{}, done: make(chan error, 1)}
	r.Host, r.Port, r.Log = b.Host, b.Port, g.log
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	stopped := make(chan struct{})
	go func() { g.done <- r.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	if err := brokertest.WaitFor(g.log, "ready:", 10*time.Second, stopped); err != nil {
		t.Fatalf("Go responder: %v", err)
	}
	return g
}

// wait returns the responder's error once it stops by itself (--count).
func (g *goResponder) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-g.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Go responder still running; log:\n%s", g.log.String())
	}
	return nil
}

// checkKeyFiles checks that dir holds n PKCS#8 DH keys named
// <netid>-<side>-<unix-ns>.pem (netid "": any) in the lab group, each of
// which Go re-encodes byte for byte, and that log mentions the fingerprint
// of each one's public key (so the saved key is the one that was used).
func checkKeyFiles(t *testing.T, dir, netid, side string, n int, log string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != n {
		t.Fatalf("%s: %d key files, want %d: %v", dir, len(files), n, files)
	}
	name := regexp.MustCompile(`^([^/]+)-` + side + `-([0-9]{19})\.pem$`)
	for _, f := range files {
		base := filepath.Base(f)
		if m := name.FindStringSubmatch(base); m == nil || (netid != "" && m[1] != netid) {
			t.Errorf("key file %s: want %s-%s-<unix-ns>.pem", base, netid, side)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		k, err := keys.ParseDHPrivateKeyPEM(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !k.Group.Equal(LabGroup()) {
			t.Errorf("%s: not in the lab group", f)
		}
		if !bytes.Equal(k.MarshalPKCS8PEM(), data) {
			t.Errorf("%s: Go does not re-encode the key byte for byte", f)
		}
		if fp := k.Public().Fingerprint(); !strings.Contains(log, fp) {
			t.Errorf("%s: public key %s never seen in the responder's log", base, fp)
		}
	}
}

// TestGoRequestPythonRespond: the Go requester against the Python
// responder, MQTT 3.1.1 and 5 on the Python side, both HKDF variants, every
// action, keys saved on both sides.
func TestGoRequestPythonRespond(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	for _, proto := range []string{"3.1.1", "5"} {
		for _, info := range []string{"zero", "none"} {
			t.Run("mqtt"+proto+"-info-"+info, func(t *testing.T) {
				t.Parallel()
				netid := "go2py-" + strings.ReplaceAll(proto, ".", "") + "-" + info
				dir := t.TempDir()
				py := brokertest.StartPyResponder(t, netid, "--host", b.Host, "--port", strconv.Itoa(b.Port),
					"--protocol", proto, "--hkdf-info", info, "--count", strconv.Itoa(len(Actions)),
					"--save-keys", filepath.Join(dir, "responder"))
				variant, _ := ParseVariant(info)
				for _, action := range Actions {
					got, err := Request{
						Config: Config{Host: b.Host, Port: b.Port, Variant: variant, SaveKeys: filepath.Join(dir, "requester")},
						NetID:  netid, Action: action, Message: labText, Timeout: 10 * time.Second,
					}.Run(context.Background())
					if err != nil {
						t.Fatalf("%s: %v; Python responder log:\n%s", action, err, py.Log.String())
					}
					checkAnswer(t, action, got)
				}
				if code := py.Wait(t, 10*time.Second); code != 0 {
					t.Fatalf("labpeer.py respond --count exited %d; log:\n%s", code, py.Log.String())
				}
				if n := len(py.Log.Lines(": answered ")); n != 2*len(Actions) {
					t.Errorf("Python responder logged %d answers, want %d:\n%s", n, 2*len(Actions), py.Log.String())
				}
				checkKeyFiles(t, filepath.Join(dir, "requester"), netid, "request", len(Actions), py.Log.String())
				checkKeyFiles(t, filepath.Join(dir, "responder"), netid, "response", len(Actions), py.Log.String())
			})
		}
	}
}

// TestPythonRequestGoRespond: the Python requester (MQTT 3.1.1 and 5)
// against the Go responder, both HKDF variants, every action. Requests of
// one netid run one after the other, as the protocol has one key exchange
// in flight per netid.
func TestPythonRequestGoRespond(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	for _, info := range []string{"zero", "none"} {
		t.Run("info-"+info, func(t *testing.T) {
			t.Parallel()
			variant, _ := ParseVariant(info)
			netids := map[string]string{"3.1.1": "py2go-311-" + info, "5": "py2go-5-" + info}
			dir := t.TempDir()
			g := startGoResponder(t, b, Responder{
				Config: Config{Variant: variant, SaveKeys: filepath.Join(dir, "responder"), ClientID: "go-responder-" + info},
				NetIDs: []string{netids["3.1.1"], netids["5"]}, Count: 2 * len(Actions),
			})
			t.Run("requests", func(t *testing.T) {
				for _, proto := range []string{"3.1.1", "5"} {
					t.Run("mqtt"+proto, func(t *testing.T) {
						t.Parallel()
						for _, action := range Actions {
							out, errOut, code := brokertest.PyRun(t, 20*time.Second, "request", netids[proto], action, labText,
								"--host", b.Host, "--port", strconv.Itoa(b.Port), "--protocol", proto, "--hkdf-info", info,
								"--save-keys", filepath.Join(dir, "requester-"+proto))
							if code != 0 {
								t.Fatalf("labpeer.py request %s exited %d: %s\nGo responder log:\n%s", action, code, errOut, g.log.String())
							}
							if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
								t.Errorf("stdout %q: want one line", out)
							}
							checkAnswer(t, action, strings.TrimSuffix(out, "\n"))
						}
					})
				}
			})
			if t.Failed() {
				return
			}
			if err := g.wait(t); err != nil {
				t.Errorf("Go responder: %v", err)
			}
			if n := len(g.log.Lines(": answered \"")); n != 2*len(Actions) {
				t.Errorf("Go responder logged %d answers, want %d:\n%s", n, 2*len(Actions), g.log.String())
			}
			checkKeyFiles(t, filepath.Join(dir, "responder"), "", "response", 2*len(Actions), g.log.String())
			for proto, netid := range netids {
				checkKeyFiles(t, filepath.Join(dir, "requester-"+proto), netid, "request", len(Actions), g.log.String())
			}
		})
	}
}

// TestTwoRespondersAnyNetID: a Go and a Python responder for any netid on
// one broker both answer one key exchange (a man in the middle); the
// requester uses the first answer, so exactly one of them can decrypt the
// request and the other logs why it cannot.
func TestTwoRespondersAnyNetID(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	g := startGoResponder(t, b, Responder{})
	py := brokertest.StartPyResponder(t, "--host", b.Host, "--port", strconv.Itoa(b.Port), "--protocol", "5")
	for i, netid := range []string{"mitm1", "mitm2"} {
		got, err := Request{Config: Config{Host: b.Host, Port: b.Port}, NetID: netid, Action: "uppercase", Message: labText}.Run(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", netid, err)
		}
		checkAnswer(t, "uppercase", got)
		want := i + 1
		deadline := time.Now().Add(5 * time.Second)
		for {
			kex := len(g.log.Lines("key-exchange: answered")) + len(py.Log.Lines("key-exchange: answered"))
			ans := len(g.log.Lines("uppercase: answered")) + len(py.Log.Lines("uppercase: answered"))
			fail := len(g.log.Lines("uppercase: cannot decrypt")) + len(py.Log.Lines("uppercase: cannot decrypt"))
			if kex == 2*want && ans == want && fail == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d key exchanges answered (want %d), %d requests answered (want %d), %d undecryptable (want %d)\nGo:\n%s\nPython:\n%s",
					netid, kex, 2*want, ans, want, fail, want, g.log.String(), py.Log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestNoResponder: a clear timeout naming the silent topic, from both
// peers, at the key exchange and at the action.
func TestNoResponder(t *testing.T) {
	brokertest.CheckPython(t)
	b := brokertest.StartBroker(t)
	_, err := Request{Config: Config{Host: b.Host, Port: b.Port}, NetID: "lonely", Action: "reverse", Message: "x",
		Timeout: 300 * time.Millisecond}.Run(context.Background())
	want := "no responder answered on lonely/key-exchange/response within 300ms (the broker reported no subscriber to lonely/key-exchange/request)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrTimeout) {
		t.Errorf("Go: err = %v\nwant %s", err, want)
	}
	_, errOut, code := brokertest.PyRun(t, 10*time.Second, "request", "lonely", "reverse", "x",
		"--host", b.Host, "--port", strconv.Itoa(b.Port), "--timeout", "300ms")
	if wantPy := "labpeer.py: no responder answered on lonely/key-exchange/response within 0.3s\n"; code != 1 || errOut != wantPy {
		t.Errorf("Python: exit %d, stderr %q; want 1, %q", code, errOut, wantPy)
	}

	// A responder of the other HKDF variant answers the key exchange but
	// cannot decrypt the request: the requester times out on the action.
	py := brokertest.StartPyResponder(t, "mismatch", "--host", b.Host, "--port", strconv.Itoa(b.Port), "--hkdf-info", "none")
	_, err = Request{Config: Config{Host: b.Host, Port: b.Port}, NetID: "mismatch", Action: "uppercase", Message: "x",
		Timeout: 500 * time.Millisecond}.Run(context.Background())
	if want := "no responder answered on mismatch/uppercase/response within 500ms"; err == nil || err.Error() != want {
		t.Errorf("Go: err = %v\nwant %s", err, want)
	}
	if err := brokertest.WaitFor(py.Log, "mismatch uppercase: cannot decrypt the request: InvalidToken", 5*time.Second, nil); err != nil {
		t.Error(err)
	}
}

// TestUndecryptableResponse: a responder that answers the key exchange
// properly and the request with something that is not a token for the key.
func TestUndecryptableResponse(t *testing.T) {
	b := brokertest.StartBroker(t)
	cfg := Config{Host: b.Host, Port: b.Port}.withDefaults()
	ctx := context.Background()
	cn, err := connect(ctx, cfg, "bad-responder")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.close()
	if err := cn.subscribe(ctx, "liar/+/request"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for m := range cn.msgs {
			if strings.Contains(m.Topic, KeyExchange) {
				k, _, _ := cfg.newKey(rand.Reader, "liar", "response")
				cn.publish(ctx, "liar/key-exchange/response", k.Public().MarshalPEM())
				continue
			}
			// a token under some other key
			other := keys.FernetKey{}
			tok, _ := keys.EncryptFernet(other, []byte("HELLO"), time.Now())
			cn.publish(ctx, "liar/uppercase/response", tok)
			return
		}
	}()
	_, err = Request{Config: Config{Host: b.Host, Port: b.Port}, NetID: "liar", Action: "uppercase", Message: "hello"}.Run(ctx)
	if err == nil || !errors.Is(err, keys.ErrHMAC) || !strings.HasPrefix(err.Error(), "cannot decrypt the response on liar/uppercase/response: ") {
		t.Errorf("err = %v, want a decryption failure naming the topic", err)
	}
}

// TestUnreachable: one error naming the address, from both peers.
func TestUnreachable(t *testing.T) {
	brokertest.CheckPython(t)
	port := brokertest.FreePort(t)
	_, err := Request{Config: Config{Host: "127.0.0.1", Port: port}, NetID: "x", Action: "uppercase", Message: "x"}.Run(context.Background())
	want := fmt.Sprintf("cannot reach the MQTT broker at 127.0.0.1:%d: connection refused", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Go: err = %v, want it to start with %q", err, want)
	}
	err = Responder{Config: Config{Host: "127.0.0.1", Port: port}}.Run(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Go responder: err = %v, want it to start with %q", err, want)
	}
	_, errOut, code := brokertest.PyRun(t, 10*time.Second, "request", "x", "uppercase", "x", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("127.0.0.1:%d", port)) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("Python: exit %d, stderr %q", code, errOut)
	}
}
