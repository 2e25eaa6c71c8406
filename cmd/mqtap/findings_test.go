package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

type findingsJSON struct {
	Summary  map[string]int
	Findings []struct {
		Code, Severity, Title, Explanation, Advice string
		Frames                                     []int
		Count                                      int
		Clients                                    []string
	}
}

func findings(t *testing.T, args ...string) findingsJSON {
	t.Helper()
	code, out, stderr := mqtap(append([]string{"findings", "-T", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("findings %v: exit %d: %s", args, code, stderr)
	}
	var f findingsJSON
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, e := range f.Findings {
		if e.Severity == "" || e.Title == "" || e.Explanation == "" || e.Advice == "" || e.Count == 0 {
			t.Errorf("incomplete finding: %+v", e)
		}
	}
	return f
}

// TestNoFalseAlarms: the conformance captures and the samples hold exactly
// the findings that really are in them: clear-text credentials, the
// mosquittoprops captures' Payload Format Indicator of 144 and 88 (it must
// be 0 or 1), and the topic-alias sample's deliberate alias above the
// maximum, after which the broker disconnects without acknowledging.
func TestNoFalseAlarms(t *testing.T) {
	expected := map[string]map[string]int{
		"mqtt5-pub-mosquittoprops.pcap": {"mqtt.protocol-violation": 2},
		"mqtt5-sub-mosquittoprops.pcap": {"mqtt.protocol-violation": 1},
		"mqtt5-topic-alias.pcapng":      {"mqtt.protocol-violation": 1, "qos.unacknowledged": 1},
	}
	clean := append(conformance(t), filepath.Join(samplesDir, "mqtt311.pcapng"), filepath.Join(samplesDir, "mqtt5-topic-alias.pcapng"),
		filepath.Join(samplesDir, "large-payload.pcapng"), filepath.Join(samplesDir, "port1884.pcapng"), filepath.Join(samplesDir, "lab-session.pcapng"))
	for _, capture := range clean {
		f := findings(t, capture)
		want := expected[filepath.Base(capture)]
		for code, n := range f.Summary {
			switch {
			case code == "auth.cleartext-credentials":
			case code == "auth.anonymous-subscription" && strings.Contains(capture, "mqtt311"):
			case want[code] == n:
			default:
				t.Errorf("%s: unexpected %s (%d): %+v", filepath.Base(capture), code, n, f.Findings)
			}
		}
		for code, n := range want {
			if f.Summary[code] != n {
				t.Errorf("%s: %s reported %d times, want %d", filepath.Base(capture), code, f.Summary[code], n)
			}
		}
	}
}

func TestFindingsCredentialsAndLab(t *testing.T) {
	f := findings(t, filepath.Join(shared(t), "captures", "conformance", "mqtt311-pub-userpass.pcap"))
	if f.Summary["auth.cleartext-credentials"] != 1 || !strings.Contains(f.Findings[0].Explanation, "********") {
		t.Errorf("clear-text credentials: %+v", f)
	}
	f = findings(t, filepath.Join(samplesDir, "lab-mitm.pcapng"))
	if f.Summary["kex.mitm"] == 0 {
		t.Errorf("lab-mitm: %+v", f.Summary)
	}
	f = findings(t, filepath.Join(samplesDir, "lab-unanswered.pcapng"))
	if f.Summary["kex.unanswered"] != 1 {
		t.Errorf("lab-unanswered: %+v", f.Summary)
	}
	code, out, _ := mqtap("findings", filepath.Join(samplesDir, "lab-mitm.pcapng"))
	if code != 0 || !strings.Contains(out, "HIGH   kex.mitm") || !strings.Contains(out, "advice: ") || !strings.Contains(out, "Summary") {
		t.Errorf("text report:\n%s", out)
	}
}
