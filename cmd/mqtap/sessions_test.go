package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const samplesDir = "../../pcaps/samples"

// labRecords reads a lab sample with mqtap and returns the records of the
// action messages (not the key exchange).
func labRecords(t *testing.T, sample string, keyArgs ...string) []map[string]any {
	t.Helper()
	args := append([]string{"read", filepath.Join(samplesDir, sample), "-T", "ndjson"}, keyArgs...)
	code, out, stderr := mqtap(args...)
	if code != 0 {
		t.Fatalf("mqtap %v: exit %d: %s", args, code, stderr)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if m["mqtap.scheme"] == "dh-fernet" && m["mqtap.kex"] == nil {
			recs = append(recs, m)
		}
	}
	if len(recs) == 0 {
		t.Fatalf("%s: no lab action messages found", sample)
	}
	return recs
}

func keysOf(dirs ...string) []string {
	var args []string
	for _, d := range dirs {
		args = append(args, "--keys", filepath.Join(samplesDir, "keys", d))
	}
	return args
}

func TestLabSessionDecryptsFromEitherSide(t *testing.T) {
	for _, side := range []string{"requester", "responder"} {
		t.Run(side, func(t *testing.T) {
			recs := labRecords(t, "lab-session.pcapng", keysOf("lab-session/"+side)...)
			found := false
			for _, r := range recs {
				if r["mqtap.decrypt"] != "ok" || r["mqtap.session"] == nil || r["mqtap.plaintext"] == nil {
					t.Errorf("frame %v not decrypted: %v", r["frame.number"], r)
				}
				if !strings.HasPrefix(r["mqtap.key"].(string), side+" key ") {
					t.Errorf("frame %v: mqtap.key %q, want the %s's key", r["frame.number"], r["mqtap.key"], side)
				}
				if r["mqtt.topic"] == "le0nh4rt/uppercase/response" && r["mqtap.plaintext"] == "NETWORKING IS THE BEST!" {
					found = true
				}
			}
			if !found {
				t.Error("the uppercase response of le0nh4rt was not decrypted to NETWORKING IS THE BEST!")
			}
		})
	}
}

func TestLabSessionWithoutOrWithWrongKeys(t *testing.T) {
	for _, r := range labRecords(t, "lab-session.pcapng") {
		if r["mqtap.decrypt"] != "no-key" || r["mqtap.decrypt_error"] == nil {
			t.Fatalf("without keys: %v", r)
		}
	}
	for _, r := range labRecords(t, "lab-session.pcapng", keysOf("lab-mitm")...) {
		if r["mqtap.decrypt"] != "failed" || !strings.Contains(r["mqtap.decrypt_error"].(string), "none of the") {
			t.Fatalf("with unrelated keys: %v", r)
		}
	}
}

func TestLabInfoNoneVariant(t *testing.T) {
	for _, r := range labRecords(t, "lab-info-none.pcapng", keysOf("lab-info-none/requester")...) {
		if r["mqtap.decrypt"] != "ok" || r["mqtap.kdf"] != "hkdf-sha256 salt=00 info=none" {
			t.Fatalf("info=None exchange: %v", r)
		}
	}
}

func TestSessionsCommand(t *testing.T) {
	code, out, stderr := mqtap("sessions", filepath.Join(samplesDir, "lab-mitm.pcapng"), "-T", "json", "--keys", filepath.Join(samplesDir, "keys", "lab-mitm", "requester"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sessions []struct {
		Session    string
		NetID      string
		Status     string
		KeySide    string `json:"key_side"`
		Decrypted  int
		Responders []struct {
			ClientID string `json:"client_id"`
		}
		Findings []string
	}
	if err := json.Unmarshal([]byte(out), &sessions); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(sessions) != 1 {
		t.Fatalf("%d sessions:\n%s", len(sessions), out)
	}
	s := sessions[0]
	if s.Session != "le0nh4rt#1" || s.Status != "ok" || s.KeySide != "requester" || s.Decrypted < 2 || len(s.Responders) != 2 || len(s.Findings) != 1 || s.Findings[0] != "kex.mitm" {
		t.Errorf("mitm session: %+v", s)
	}

	code, out, _ = mqtap("sessions", filepath.Join(samplesDir, "lab-unanswered.pcapng"))
	if code != 0 || !strings.Contains(out, "unanswered") || !strings.Contains(out, "kex.unanswered") {
		t.Errorf("unanswered sample:\n%s", out)
	}

	code, out, _ = mqtap("sessions", filepath.Join(samplesDir, "mqtt311.pcapng"))
	if code != 0 || !strings.Contains(out, "no key exchanges found") {
		t.Errorf("capture without lab traffic:\n%s", out)
	}
}

func TestBadKeysAreOneLineErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.pem")
	os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n"), 0o600)
	cap := filepath.Join(samplesDir, "lab-session.pcapng")
	for _, args := range [][]string{
		{"read", cap, "--keys", bad},
		{"read", cap, "--keys", filepath.Join(dir, "missing")},
		{"sessions", cap, "--keys", bad},
	} {
		code, _, stderr := mqtap(args...)
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, filepath.Base(args[3])) {
			t.Errorf("%v: exit %d, stderr %q; want one line naming the file, exit 1", args, code, stderr)
		}
	}
}
