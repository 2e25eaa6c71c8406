package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// verdicts reads a sample with a keyring and returns, per PUBLISH frame,
// "verify/decrypt findings..." as mqtap reports it.
func verdicts(t *testing.T, sample, keyring string) map[int]string {
	t.Helper()
	code, out, stderr := mqtap("read", filepath.Join(samplesDir, sample), "-T", "ndjson", "--keys", filepath.Join(samplesDir, "keys", keyring))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["mqtap.type"] != "PUBLISH" || m["mqtap.scheme"] == nil {
			continue
		}
		var fs []string
		switch v := m["mqtap.findings"].(type) {
		case string:
			fs = []string{v}
		case []any:
			for _, x := range v {
				fs = append(fs, x.(string))
			}
		}
		sort.Strings(fs)
		got[int(m["frame.number"].(float64))] = fmt.Sprintf("%v/%v %s", m["mqtap.verify"], m["mqtap.decrypt"], strings.Join(fs, ","))
	}
	return got
}

func expectVerdicts(t *testing.T, got map[int]string, want map[string][]int) {
	t.Helper()
	n := 0
	for verdict, frames := range want {
		for _, f := range frames {
			n++
			if got[f] != verdict {
				t.Errorf("frame %d: %q, want %q", f, got[f], verdict)
			}
		}
	}
	if len(got) != n {
		var extra []int
		for f := range got {
			found := false
			for _, frames := range want {
				found = found || slices.Contains(frames, f)
			}
			if !found {
				extra = append(extra, f)
			}
		}
		t.Errorf("%d protected messages reported, want %d; unexpected frames %v", len(got), n, extra)
	}
}

// TestECDSASample checks seed 002's signed messages: good, replayed,
// tampered, forged and stale, each exactly.
func TestECDSASample(t *testing.T) {
	got := verdicts(t, "protected-ecdsa.pcapng", "protected-ecdsa/keyring.toml")
	expectVerdicts(t, got, map[string][]int{
		"ok/<nil> ":                          {18, 19, 35, 36, 52, 53, 132, 133},
		"ok/<nil> payload.replay,sig.replay": {68},
		"ok/<nil> sig.replay":                {69, 116, 117},
		"bad/<nil> sig.bad":                  {84, 85, 100, 101},
	})
}

// TestRSAHMACSample checks seed 000's per-client HMAC and RSA-OAEP: a bad
// MAC is reported and not decrypted.
func TestRSAHMACSample(t *testing.T) {
	got := verdicts(t, "protected-rsa-hmac.pcapng", "protected-rsa-hmac/keyring.toml")
	expectVerdicts(t, got, map[string][]int{
		"ok/ok ":               {18, 19, 25, 26, 42, 43, 48, 49, 113, 114, 82},
		"ok/ok payload.replay": {81},
		"bad/<nil> hmac.bad":   {65, 66, 97, 98},
	})
}

// TestAuditSample checks the broker audit against the real broker's ACL and
// password file, and against a stricter ACL the broker does not run.
func TestAuditSample(t *testing.T) {
	keys := filepath.Join(samplesDir, "keys", "audit-broker")
	capture := filepath.Join(samplesDir, "audit-broker.pcapng")
	f := findings(t, capture, "--acl", filepath.Join(keys, "acl"), "--passwd", filepath.Join(keys, "passwd"))
	want := map[string]int{"auth.cleartext-credentials": 12, "auth.anonymous-subscription": 2, "qos.unacknowledged": 3}
	for code, n := range want {
		if f.Summary[code] != n {
			t.Errorf("%s: %d, want %d", code, f.Summary[code], n)
		}
	}
	if f.Summary["acl.violation"] != 0 {
		t.Errorf("the broker enforced its own ACL, yet acl.violation was reported: %+v", f.Findings)
	}
	valid, wrong, unknown := 0, 0, 0
	for _, e := range f.Findings {
		switch {
		case e.Code != "auth.cleartext-credentials":
		case strings.Contains(e.Explanation, "VALID"):
			valid += e.Count
		case strings.Contains(e.Explanation, "wrong"):
			wrong += e.Count
		case strings.Contains(e.Explanation, "not in the password file"):
			unknown += e.Count
		}
		if e.Code == "qos.unacknowledged" && !slices.Contains([]int{149, 167, 180}, e.Frames[0]) {
			t.Errorf("unexpected unfinished flow %+v", e)
		}
	}
	if valid != 9 || wrong != 2 || unknown != 1 {
		t.Errorf("password checks: %d valid, %d wrong, %d unknown; want 9, 2, 1", valid, wrong, unknown)
	}

	f = findings(t, capture, "--acl", filepath.Join(keys, "acl-strict"))
	var frames []int
	for _, e := range f.Findings {
		if e.Code == "acl.violation" {
			frames = append(frames, e.Frames...)
		}
	}
	sort.Ints(frames)
	if !slices.Equal(frames, []int{39, 85, 149, 151, 170}) {
		t.Errorf("acl.violation frames against acl-strict: %v, want [39 85 149 151 170]", frames)
	}
}
