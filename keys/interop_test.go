package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"testing"
	"time"
)

// pythonPath is Debian's python3, which has python3-cryptography.
const pythonPath = "/usr/bin/python3"

type pyGoKey struct {
	Priv string `json:"priv"`
	Pub  string `json:"pub"`
}

type pyToken struct {
	KeyB64 string `json:"key_b64"`
	Token  string `json:"token"`
}

type pyRequest struct {
	GoKeys []pyGoKey `json:"go_keys"`
	Params []string  `json:"params"`
	Tokens []pyToken `json:"tokens"`
}

type pyAnswer struct {
	GoKeys []struct {
		PrivSame    bool   `json:"priv_same"`
		PubSame     bool   `json:"pub_same"`
		YMatch      bool   `json:"y_match"`
		PeerPriv    string `json:"peer_priv"`
		PeerPub     string `json:"peer_pub"`
		SecretPeer  string `json:"secret_peer"`
		SecretGoKey string `json:"secret_go_key"`
	} `json:"go_keys"`
	Params []pyGoKey `json:"params"`
	Tokens []struct {
		OK           bool   `json:"ok"`
		PlaintextB64 string `json:"plaintext_b64"`
	} `json:"tokens"`
}

// runPython runs testdata/interop.py with /usr/bin/python3 and fails the
// test loudly if Python or python3-cryptography is missing.
func runPython(t *testing.T, req pyRequest) pyAnswer {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		t.Fatalf("%s is needed for the interop tests (Debian: apt-get install python3 python3-cryptography): %v", pythonPath, err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pythonPath, "testdata/interop.py")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s testdata/interop.py failed (is python3-cryptography installed?): %v\n%s", pythonPath, err, stderr.String())
	}
	var ans pyAnswer
	if err := json.Unmarshal(stdout.Bytes(), &ans); err != nil {
		t.Fatalf("interop.py answer: %v\n%s", err, stdout.String())
	}
	return ans
}

// TestGoKeysInPython: keys Go generates load in Python, re-serialize to the
// same bytes, and give the same shared secrets, for all group kinds.
func TestGoKeysInPython(t *testing.T) {
	plain := mustGroup(t, "g2048/params.pem")
	withLen, err := ParseDHParamsPEM(paramsPEM(t, "DH PARAMETERS", plain.P, plain.G, big.NewInt(512)))
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]DHGroup{
		"lab":          mustGroup(t, "lab/dhparam4096.pem"),
		"g2048":        plain,
		"g2048-len":    withLen,
		"x942":         mustGroup(t, "x942/params.pem"),
		"x942-openssl": mustGroup(t, "x942-openssl/params.pem"),
		"weak1024":     mustGroup(t, "weak1024/params.pem"),
	}
	var names []string
	var req pyRequest
	var privs []*DHPrivateKey
	for name, g := range groups {
		k, err := GenerateDHKey(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		privs = append(privs, k)
		req.GoKeys = append(req.GoKeys, pyGoKey{Priv: string(k.MarshalPKCS8PEM()), Pub: string(k.Public().MarshalPEM())})
		req.Params = append(req.Params, string(paramsPEMOf(t, g)))
	}
	ans := runPython(t, req)
	if len(ans.GoKeys) != len(privs) || len(ans.Params) != len(privs) {
		t.Fatalf("interop.py answered %d/%d of %d", len(ans.GoKeys), len(ans.Params), len(privs))
	}
	for i, a := range ans.GoKeys {
		name, k := names[i], privs[i]
		if !a.PrivSame || !a.PubSame || !a.YMatch {
			t.Errorf("%s: Python re-serializes differently: priv %v pub %v y %v", name, a.PrivSame, a.PubSame, a.YMatch)
		}
		peerPub, err := ParseDHPublicKeyPEM([]byte(a.PeerPub))
		if err != nil {
			t.Fatalf("%s: Python peer key: %v", name, err)
		}
		if !bytes.Equal(peerPub.MarshalPEM(), []byte(a.PeerPub)) {
			t.Errorf("%s: Python public key does not re-marshal byte for byte", name)
		}
		peerPriv, err := ParseDHPrivateKeyPEM([]byte(a.PeerPriv))
		if err != nil {
			t.Fatalf("%s: Python peer private key: %v", name, err)
		}
		if !bytes.Equal(peerPriv.MarshalPKCS8PEM(), []byte(a.PeerPriv)) {
			t.Errorf("%s: Python private key does not re-marshal byte for byte", name)
		}
		ours, err := k.SharedSecret(peerPub)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		theirs, err := peerPriv.SharedSecret(k.Public())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := hex.EncodeToString(ours)
		if a.SecretPeer != want || a.SecretGoKey != want || !bytes.Equal(theirs, ours) {
			t.Errorf("%s: secrets differ:\n go   %s\n py   %s\n py/go %s", name, want, a.SecretPeer, a.SecretGoKey)
		}
	}
	// Keys Python makes from parameters Go wrote re-marshal byte for byte.
	for i, p := range ans.Params {
		priv, err := ParseDHPrivateKeyPEM([]byte(p.Priv))
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		if !priv.Group.Equal(privs[i].Group) || !bytes.Equal(priv.Public().MarshalPEM(), []byte(p.Pub)) || !bytes.Equal(priv.MarshalPKCS8PEM(), []byte(p.Priv)) {
			t.Errorf("%s: Python key from Go parameters does not round-trip", names[i])
		}
	}
}

// paramsPEMOf writes a group as a parameters PEM, as OpenSSL would.
func paramsPEMOf(t *testing.T, g DHGroup) []byte {
	t.Helper()
	typ := "DH PARAMETERS"
	if g.Q != nil {
		typ = "X9.42 DH PARAMETERS"
	}
	var buf bytes.Buffer
	buf.WriteString("-----BEGIN " + typ + "-----\n")
	enc := base64.StdEncoding.EncodeToString(g.marshalParams())
	for len(enc) > 64 {
		buf.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	buf.WriteString(enc + "\n-----END " + typ + "-----\n")
	return buf.Bytes()
}

// TestGoTokensInPython: Go's Fernet tokens decrypt in Python with the key
// the lab derives, and the padding-error token Go builds is one Python
// rejects too.
func TestGoTokensInPython(t *testing.T) {
	c := vectorByName(t, "lab4096")
	keys := DeriveLabKeys(unhex(t, c.SecretHex))
	plaintexts := [][]byte{[]byte("Networking is the best!"), {}, bytes.Repeat([]byte{0xff, 0x00}, 40)}
	var req pyRequest
	for _, k := range keys {
		for _, pt := range plaintexts {
			tok, err := EncryptFernet(k, pt, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			req.Tokens = append(req.Tokens, pyToken{KeyB64: k.Encoded(), Token: string(tok)})
		}
	}
	badPad := makeToken(t, keys[0], []byte("0123456789abcde\x00"))
	req.Tokens = append(req.Tokens, pyToken{KeyB64: keys[0].Encoded(), Token: string(badPad)})
	ans := runPython(t, req)
	if len(ans.Tokens) != len(req.Tokens) {
		t.Fatalf("interop.py answered %d of %d tokens", len(ans.Tokens), len(req.Tokens))
	}
	for i, a := range ans.Tokens[:len(ans.Tokens)-1] {
		pt := plaintexts[i%len(plaintexts)]
		got, _ := base64.StdEncoding.DecodeString(a.PlaintextB64)
		if !a.OK || !bytes.Equal(got, pt) {
			t.Errorf("token %d: Python ok=%v plaintext %q, want %q", i, a.OK, got, pt)
		}
	}
	if ans.Tokens[len(ans.Tokens)-1].OK {
		t.Error("Python accepted the pad-byte-0 token that DecryptFernet reports as ErrPadding")
	}
}
