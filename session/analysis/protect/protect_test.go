package protect

import (
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
)

const hmacKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func checker(t *testing.T) *Checker {
	t.Helper()
	dir := t.TempDir()
	ring := "[[rule]]\ntopics = [\"clientAAA/#\"]\nhmac = { algorithm = \"sha256\", key_hex = \"" + hmacKey + "\", layout = \"trailer\" }\n"
	if err := os.WriteFile(filepath.Join(dir, "ring.toml"), []byte(ring), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := keys.Load(filepath.Join(dir, "ring.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c := New(store)
	if c == nil {
		t.Fatal("no checker for a keyring with a rule")
	}
	return c
}

// publish builds a QoS 0 PUBLISH record of payload on topic.
func publish(t *testing.T, frame int, fromClient bool, topic string, payload []byte) *session.Record {
	t.Helper()
	body := append([]byte{0, byte(len(topic))}, topic...)
	body = append(body, payload...)
	raw := append([]byte{0x30, byte(len(body))}, body...)
	r := &session.Record{Frame: frame, Time: time.Unix(1700000000, int64(frame)), Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1")}
	var c decode.Conn
	c.SetVersion(decode.V311)
	c.Decode(raw, fromClient, &r.Packet)
	if m := r.Packet.Malformed(); m != "" {
		t.Fatalf("malformed test packet: %s", m)
	}
	return r
}

func codes(r *session.Record) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code.String())
	}
	return out
}

func TestHMACFirstAndReplays(t *testing.T) {
	c := checker(t)
	raw, _ := hex.DecodeString(hmacKey)
	key, err := keys.NewHMACKey("sha256", "trailer", raw)
	if err != nil {
		t.Fatal(err)
	}
	good := key.Sign([]byte("temp=21.5"))

	r := publish(t, 1, true, "clientAAA/t", good)
	c.Observe(r)
	if r.Crypto.Scheme != "hmac-sha256" || r.Crypto.Verify != "ok" || string(r.Crypto.Plaintext) != "temp=21.5" || r.Crypto.Decrypt != "" || len(r.Findings) != 0 {
		t.Errorf("good MAC: %+v %v", r.Crypto, codes(r))
	}
	copy := publish(t, 2, false, "clientAAA/t", good) // the broker's forward
	c.Observe(copy)
	if !copy.Crypto.Copy || copy.Crypto.Message != r.Crypto.Message || len(copy.Findings) != 0 {
		t.Errorf("broker copy: %+v %v", copy.Crypto, codes(copy))
	}
	again := publish(t, 3, true, "clientAAA/t", good) // a client sends it again
	c.Observe(again)
	if got := codes(again); len(got) != 1 || got[0] != "payload.replay" {
		t.Errorf("replay: %v", got)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1
	b := publish(t, 4, true, "clientAAA/t", bad)
	c.Observe(b)
	if b.Crypto.Verify != "bad" || b.Crypto.Decrypt != "" || len(b.Findings) != 1 || b.Findings[0].Code.String() != "hmac.bad" {
		t.Errorf("bad MAC: %+v %v", b.Crypto, codes(b))
	}
	other := publish(t, 5, true, "clientBBB/t", good) // no rule
	c.Observe(other)
	if other.Crypto.Scheme != "" || len(other.Findings) != 0 {
		t.Errorf("topic without a rule was touched: %+v", other.Crypto)
	}
	if st := c.Stats()["hmac-sha256"]; st == nil || st.Messages != 3 || st.VerifyOK != 2 || st.VerifyBad != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestReplayMemoryLimit: when the payloads remembered for payload.replay
// reach the limit they are forgotten, and the record where that happens
// says so with mqtap.limit.
func TestReplayMemoryLimit(t *testing.T) {
	c := checker(t)
	c.remember = 2
	raw, _ := hex.DecodeString(hmacKey)
	key, err := keys.NewHMACKey("sha256", "trailer", raw)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for i, text := range []string{"t=1", "t=2", "t=3", "t=1"} {
		r := publish(t, i+1, true, "clientAAA/t", key.Sign([]byte(text)))
		c.Observe(r)
		got = append(got, codes(r))
	}
	if len(got[0]) != 0 || len(got[1]) != 0 || len(got[2]) != 1 || got[2][0] != "mqtap.limit" || len(got[3]) != 0 {
		t.Errorf("findings %v, want the limit on the third payload and the first one's replay forgotten", got)
	}
}
