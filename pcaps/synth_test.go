package pcaps

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSynthesize: tshark decodes every frame of a synthetic capture as one
// MQTT packet, the CONNECTs first.
func TestSynthesize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "synth.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Synthesize(f, 1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "mqtt.msgtype", "-e", "mqtt.topic").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1000 || lines[0] != "1\t" || lines[1] != "2\t" || lines[999] != "3\tbench/3/sensor-91" {
		t.Errorf("tshark sees %d frames, first %q %q, last %q", len(lines), lines[0], lines[1], lines[len(lines)-1])
	}
	for i, l := range lines {
		if l == "" || strings.Contains(l, ",") {
			t.Fatalf("frame %d: %q is not one MQTT packet", i+1, l)
		}
	}
}
