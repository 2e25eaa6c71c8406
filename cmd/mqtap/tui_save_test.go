package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tsharkLines returns tshark's fields of every frame of a capture: time,
// length and comments.
func tsharkLines(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed")
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.comment").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// TestTuiWriteOpenInfoInTmux drives :w, :info and :e in a real terminal:
// the files :w writes hold the frames and comments mqtap export writes for
// the same packets (tshark reads them back), :info shows the file's
// numbers, :e of a missing file is an error that keeps the capture, and
// :e of another sample shows it.
func TestTuiWriteOpenInfoInTmux(t *testing.T) {
	bin := mqtapBinary(t)
	sample, _ := filepath.Abs("../../pcaps/samples/lab-session.pcapng")
	keyDir, _ := filepath.Abs("../../pcaps/samples/keys/lab-session/requester")
	other, _ := filepath.Abs("../../pcaps/samples/mqtt5.pcapng")
	dir := t.TempDir()
	tm := startTmux(t, 200, 45, "cd "+dir+" && sleep 0.3; "+bin+" tui "+sample+" --keys "+keyDir)
	tm.waitFor("the packet list, read to the end", func(s string) bool {
		return strings.Contains(s, "115 packets") && strings.Contains(s, "done")
	})
	command := func(line string) {
		tm.keys(":")
		tm.waitFor("the command line", func(s string) bool { return strings.Contains(s, "command (help lists them)") })
		tm.text(line)
		tm.keys("Enter")
	}
	wrote := regexp.MustCompile(`wrote (\d+) frames \((\d+) MQTT packets\) to (\S+)`)

	// :w writes every packet shown, as mqtap export does.
	command("w all.pcapng")
	s := tm.waitFor(":w's summary", func(s string) bool { return wrote.MatchString(s) })
	m := wrote.FindStringSubmatch(s)
	if m[2] != "115" || m[3] != "all.pcapng" {
		t.Errorf(":w says %q, want 115 MQTT packets to all.pcapng", m[0])
	}
	ref := filepath.Join(dir, "ref-all.pcapng")
	if code, _, stderr := mqtap("export", sample, "-o", ref, "--keys", keyDir); code != 0 {
		t.Fatalf("mqtap export: %s", stderr)
	}
	got, want := tsharkLines(t, filepath.Join(dir, "all.pcapng")), tsharkLines(t, ref)
	if got != want || strings.Count(got, "\n")+1 != atoi(t, m[1]) {
		t.Errorf(":w wrote (%s frames said)\n%s\nmqtap export writes\n%s", m[1], got, want)
	}
	if !strings.Contains(got, "mqtap: le0nh4rt#1 dh-fernet ok") {
		t.Errorf("no comment on a decrypted message in what :w wrote:\n%s", got)
	}

	// With a display filter, the packets it selects; :w refuses to
	// overwrite, :w! overwrites.
	expr := `mqtt.topic contains "reverse"`
	command("filter " + expr)
	tm.waitFor("the filtered list", func(s string) bool { return strings.Contains(s, "5/115 packets") })
	command("w all.pcapng")
	tm.waitFor("the refusal to overwrite", func(s string) bool { return strings.Contains(s, "all.pcapng exists (:w! overwrites it)") })
	command("w! all.pcapng")
	s = tm.waitFor(":w!'s summary", func(s string) bool {
		m := wrote.FindStringSubmatch(s)
		return m != nil && m[2] == "5"
	})
	ref = filepath.Join(dir, "ref-reverse.pcapng")
	if code, _, stderr := mqtap("export", sample, "-o", ref, "--keys", keyDir, "-Y", expr); code != 0 {
		t.Fatalf("mqtap export -Y: %s", stderr)
	}
	got, want = tsharkLines(t, filepath.Join(dir, "all.pcapng")), tsharkLines(t, ref)
	if m := wrote.FindStringSubmatch(s); got != want || strings.Count(got, "\n")+1 != atoi(t, m[1]) {
		t.Errorf(":w! with a filter wrote (%s)\n%s\nmqtap export -Y writes\n%s", m[0], got, want)
	}

	// :info, capinfos style.
	command("info")
	tm.waitFor("the capture information", func(s string) bool {
		return strings.Contains(s, "Capture information") && strings.Contains(s, "273 (time order strict)") &&
			strings.Contains(s, "Ethernet (link type 1)") && strings.Contains(s, "MQTT packets       115")
	})
	tm.keys("Escape")
	tm.waitFor("the packet list again", func(s string) bool { return !strings.Contains(s, "Capture information") })
	time.Sleep(300 * time.Millisecond) // a key right after Escape would be Alt+key

	// :e of a file that does not exist keeps the capture.
	command("e /no/such/file.pcapng")
	tm.waitFor("the error", func(s string) bool {
		return strings.Contains(s, "/no/such/file.pcapng: no such file") && strings.Contains(s, "lab-session.pcapng") && strings.Contains(s, "5/115 packets")
	})

	// :e of another sample shows it, with the display filter cleared first.
	command("clear")
	tm.waitFor("the whole list", func(s string) bool { return strings.Contains(s, " 115 packets") })
	command("e " + other)
	s = tm.waitFor("the other capture", func(s string) bool {
		return strings.Contains(s, "mqtt5.pcapng") && strings.Contains(s, " 144 packets") && strings.Contains(s, "done")
	})
	if strings.Contains(s, "lab-session") {
		t.Errorf("the old capture is still named:\n%s", s)
	}
	tm.keys("q")
	s = tm.waitFor("mqtap exiting", func(s string) bool { return strings.Contains(s, "EXITED ") })
	if !strings.Contains(s, "EXITED 0") {
		t.Errorf("mqtap tui did not exit 0:\n%s", s)
	}
}

// atoi is strconv.Atoi for numbers the test matched.
func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
