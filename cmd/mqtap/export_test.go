package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
)

// tsharkOut runs tshark -n -r capture with the MQTT ports of the samples
// and args, and returns its output.
func tsharkOut(t *testing.T, capture string, args ...string) string {
	t.Helper()
	all := []string{"-n", "-r", capture}
	for _, p := range tsharkPorts {
		all = append(all, "-d", "tcp.port=="+p+",mqtt")
	}
	out, err := exec.Command("tshark", append(all, args...)...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s %s: %v", capture, strings.Join(args, " "), err)
	}
	return string(out)
}

// lines splits output into lines, without the last newline.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// records reads a capture with mqtap read -T ndjson.
func ndjson(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	code, out, stderr := mqtap(append([]string{"read", "-T", "ndjson"}, args...)...)
	if code != 0 {
		t.Fatalf("mqtap read %v: exit %d: %s", args, code, stderr)
	}
	var recs []map[string]any
	for _, l := range lines(out) {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber() // frame.time_epoch keeps its nine decimals
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	return recs
}

func runExport(t *testing.T, args ...string) string {
	t.Helper()
	code, _, stderr := mqtap(append([]string{"export"}, args...)...)
	if code != 0 {
		t.Fatalf("mqtap export %v: exit %d: %s", args, code, stderr)
	}
	return stderr
}

// TestExportAnnotated exports the lab session: the frames of every MQTT
// packet with their original times, lengths and link layer, and a comment
// on each frame whose payload was decrypted, naming the plaintext.
func TestExportAnnotated(t *testing.T) {
	sample := filepath.Join(samplesDir, "lab-session.pcapng")
	keys := filepath.Join(samplesDir, "keys", "lab-session", "requester")
	out := filepath.Join(t.TempDir(), "annotated.pcapng")
	msg := runExport(t, sample, "-o", out, "--keys", keys)
	if !strings.Contains(msg, "exported 135 frames (40 with comments)") {
		t.Errorf("summary: %q", msg)
	}
	// The frames of the MQTT packets and, as Wireshark exports them, the
	// earlier segments of the packets split over two (tcp.segment).
	keep := map[string]bool{}
	for _, f := range strings.FieldsFunc(tsharkOut(t, sample, "-Y", "mqtt", "-T", "fields", "-e", "frame.number", "-e", "tcp.segment"), func(r rune) bool {
		return r == '\t' || r == '\n' || r == ','
	}) {
		keep[f] = true
	}
	var want []string
	for _, l := range lines(tsharkOut(t, sample, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.protocols")) {
		n, rest, _ := strings.Cut(l, "\t")
		if keep[n] {
			want = append(want, rest)
		}
	}
	got := lines(tsharkOut(t, out, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.protocols"))
	if !slices.Equal(got, want) || len(got) != 135 {
		t.Errorf("the export's frames are not the capture's MQTT frames and their segments:\n%.500s\nwant\n%.500s", got, want)
	}
	if bad := tsharkOut(t, out, "-Y", "_ws.malformed"); bad != "" {
		t.Errorf("tshark finds malformed packets:\n%.500s", bad)
	}
	if a, b := len(tsharkMessages(t, out)), len(tsharkMessages(t, sample)); a != b {
		t.Errorf("tshark decodes %d MQTT messages in the export, %d in the capture", a, b)
	}
	if n := len(lines(tsharkOut(t, out, "-Y", "frame.comment && mqtt.msgtype == 3"))); n != 40 {
		t.Errorf("%d commented frames decoded as PUBLISH by tshark, want 40", n)
	}
	comments := map[string]string{} // frame.time_epoch -> frame.comment
	for _, l := range lines(tsharkOut(t, out, "-Y", "frame.comment", "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.comment")) {
		time, c, _ := strings.Cut(l, "\t")
		comments[time] = c
	}
	decrypted := 0
	for _, r := range ndjson(t, sample, "--keys", keys) {
		if r["mqtap.decrypt"] != "ok" {
			continue
		}
		decrypted++
		time := r["frame.time_epoch"].(json.Number).String()
		want := fmt.Sprintf("mqtap: %s dh-fernet ok: %q", r["mqtap.session"], r["mqtap.plaintext"])
		if !strings.Contains(comments[time], want) {
			t.Errorf("frame %v (%s): comment %q, want %q", r["frame.number"], time, comments[time], want)
		}
	}
	if decrypted != 20 || !slices.ContainsFunc(slices.Collect(maps.Values(comments)), func(c string) bool {
		return c == `mqtap: le0nh4rt#1 dh-fernet ok: "Networking is the best!"`
	}) {
		t.Errorf("%d decrypted packets; comments %q", decrypted, comments)
	}
}

// TestExportKeepsLinkTypeAndTimes exports captures of other link types and
// timestamp resolutions (pcap in microseconds, Linux cooked SLL and SLL2,
// gzip).
func TestExportKeepsLinkTypeAndTimes(t *testing.T) {
	for _, name := range []string{"cooked-sll.pcap", "cooked-sll2.pcap.gz", "port17501.pcapng"} {
		sample := filepath.Join(samplesDir, name)
		out := filepath.Join(t.TempDir(), "out.pcapng")
		runExport(t, sample, "-o", out, "-d", "tcp.port==17501,mqtt")
		fields := []string{"-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.protocols", "-e", "mqtt.msgtype"}
		want := tsharkOut(t, sample, append([]string{"-Y", "mqtt"}, fields...)...)
		got := tsharkOut(t, out, fields...)
		if got != want || len(lines(got)) < 10 {
			t.Errorf("%s: export\n%.300s\nwant\n%.300s", name, got, want)
		}
		in, _ := pcaps.Open(sample)
		ex, _ := pcaps.Open(out)
		if in.LinkType() != ex.LinkType() {
			t.Errorf("%s: link type %v, want %v", name, ex.LinkType(), in.LinkType())
		}
		in.Close()
		ex.Close()
	}
}

// TestExportSelectionAndContext selects packets with a function (what -Y
// compiles to): the frames tshark selects with the same filter; with
// context, every frame of their connections, handshakes included.
func TestExportSelectionAndContext(t *testing.T) {
	sample := filepath.Join(samplesDir, "lab-session.pcapng")
	sel := func(r *session.Record) bool {
		return r.Packet.Type == decode.PUBLISH && bytes.Contains(r.Packet.Topic, []byte("uppercase"))
	}
	const filter = `mqtt.msgtype == 3 && mqtt.topic contains "uppercase"`
	dir := t.TempDir()
	for _, withContext := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprintf("sel-%v.pcapng", withContext))
		run := exportRun{in: sample, out: out, sel: sel, withContext: withContext}
		var stderr bytes.Buffer
		if err := run.run(nil, &stderr); err != nil {
			t.Fatal(err)
		}
		selected := lines(tsharkOut(t, sample, "-Y", filter, "-T", "fields", "-e", "tcp.stream"))
		if len(selected) != 4 {
			t.Fatalf("tshark selects %d frames", len(selected))
		}
		var want []string
		if withContext {
			streams := map[string]bool{}
			for _, s := range selected {
				streams[s] = true
			}
			want = lines(tsharkOut(t, sample, "-Y", "tcp.stream in {"+strings.Join(slices.Sorted(maps.Keys(streams)), ", ")+"}",
				"-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"))
		} else {
			// The 4 PUBLISH frames and the CONNECT of the MQTT 5 connection
			// (the other one is MQTT 3.1.1).
			want = wiresharkExport(t, sample, filter)
			if len(want) != 5 {
				t.Errorf("%d frames expected", len(want))
			}
		}
		got := lines(tsharkOut(t, out, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"))
		if !slices.Equal(got, want) {
			t.Errorf("with context %v: %s", withContext, firstDiff(got, want))
		}
		syns := len(lines(tsharkOut(t, out, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0")))
		wantSyns := 0
		if withContext {
			wantSyns = 2
		}
		if syns != wantSyns {
			t.Errorf("with context %v: %d SYNs, want %d", withContext, syns, wantSyns)
		}
	}
}

// TestExportDecrypted rebuilds lab and keyring captures with the decrypted
// payloads in plaintext: tshark reports no malformed packet and no TCP
// analysis warning, decodes the same MQTT packets with every field
// unchanged but the payload and the remaining length, and the payloads are
// mqtap's plaintexts.
func TestExportDecrypted(t *testing.T) {
	for _, c := range []struct {
		sample, keys string
		decrypted    int
	}{
		{"lab-session.pcapng", "lab-session/requester", 20},
		{"lab-mitm.pcapng", "lab-mitm", 5},
		{"protected-rsa-hmac.pcapng", "protected-rsa-hmac/keyring.toml", 12},
		{"large-payload.pcapng", "", 0},
		{"mqtt5.pcapng", "", 0},
	} {
		t.Run(c.sample, func(t *testing.T) {
			sample := filepath.Join(samplesDir, c.sample)
			out := filepath.Join(t.TempDir(), "decrypted.pcapng")
			args := []string{sample, "-o", out, "--decrypted"}
			var keyArgs []string
			if c.keys != "" {
				keyArgs = []string{"--keys", filepath.Join(samplesDir, "keys", c.keys)}
			}
			msg := runExport(t, append(args, keyArgs...)...)
			if !strings.Contains(msg, fmt.Sprintf(" %d payload(s) decrypted", c.decrypted)) {
				t.Errorf("summary %q, want %d decrypted", msg, c.decrypted)
			}
			if warn := tsharkOut(t, out, "-Y", "_ws.malformed || tcp.analysis.flags"); warn != "" {
				t.Errorf("tshark warns:\n%.1000s", warn)
			}
			recs := ndjson(t, append([]string{sample}, keyArgs...)...)
			before, after := tsharkMessages(t, sample), tsharkMessages(t, out)
			if len(before) != len(recs) || len(after) != len(before) {
				t.Fatalf("%d MQTT messages in the capture, %d in the export, %d mqtap records", len(before), len(after), len(recs))
			}
			plain := 0
			for i := range before {
				b, a := before[i].fields, after[i].fields
				for k, v := range b {
					if k != "mqtt.msg" && k != "mqtt.len" && !slices.Equal(v, a[k]) {
						t.Errorf("message %d (frame %d): %s = %q, was %q", i, before[i].frame, k, a[k], v)
					}
				}
				for k := range a {
					if _, ok := b[k]; !ok {
						t.Errorf("message %d: %s appeared", i, k)
					}
				}
				wantMsg := norm("mqtt.msg", strings.Join(b["mqtt.msg"], ""))
				if recs[i]["mqtap.decrypt"] == "ok" {
					p, _ := recs[i]["mqtap.plaintext"].(string)
					if p == "" {
						t.Fatalf("record %d: decrypted without a text plaintext", i)
					}
					wantMsg = hex.EncodeToString([]byte(p))
					plain++
				}
				if got := norm("mqtt.msg", strings.Join(a["mqtt.msg"], "")); got != wantMsg {
					t.Errorf("message %d (frame %d): mqtt.msg %.80s…, want %.80s…", i, before[i].frame, got, wantMsg)
				}
			}
			if plain != c.decrypted {
				t.Errorf("%d plaintexts, want %d", plain, c.decrypted)
			}
			if c.sample == "lab-session.pcapng" {
				hexMsg := hex.EncodeToString([]byte("Networking is the best!"))
				if n := strings.Count(tsharkOut(t, out, "-Y", "mqtt", "-T", "fields", "-e", "mqtt.msg"), hexMsg); n != 4 {
					t.Errorf("%q appears %d times, want 4", "Networking is the best!", n)
				}
			}
		})
	}
}

// TestExportSecretsBlock embeds the TLS key log a keyring names.
func TestExportSecretsBlock(t *testing.T) {
	dir := t.TempDir()
	keylog := "# SSLKEYLOGFILE\nCLIENT_RANDOM " + strings.Repeat("ab", 32) + " " + strings.Repeat("cd", 48) + "\n"
	os.WriteFile(filepath.Join(dir, "x.keylog"), []byte(keylog), 0o644)
	ring := filepath.Join(dir, "ring.toml")
	os.WriteFile(ring, []byte("[tls]\nkeylog = [\"x.keylog\"]\n"), 0o644)
	out := filepath.Join(dir, "out.pcapng")
	runExport(t, filepath.Join(samplesDir, "mqtt5.pcapng"), "-o", out, "--keys", ring)
	secrets, err := pcaps.ReadSecrets(out)
	if err != nil || len(secrets) != 1 || secrets[0].Type != pcaps.SecretsTLSKeyLog || string(secrets[0].Data) != keylog {
		t.Fatalf("secrets %+v, %v", secrets, err)
	}
	info, err := exec.Command("capinfos", out).Output()
	if err != nil || !strings.Contains(string(info), "Number of decryption secrets in file: 1") {
		t.Errorf("capinfos: %v\n%s", err, info)
	}
	// read -w embeds them too.
	w := filepath.Join(dir, "w.pcapng")
	if code, _, stderr := mqtap("read", filepath.Join(samplesDir, "mqtt5.pcapng"), "--keys", ring, "-w", w); code != 0 {
		t.Fatal(stderr)
	}
	if secrets, err := pcaps.ReadSecrets(w); err != nil || len(secrets) != 1 {
		t.Errorf("read -w: secrets %+v, %v", secrets, err)
	}
}

// TestReadWrite: read -w writes the frames of the printed packets, as an
// export does, and prints the same as without -w.
func TestReadWrite(t *testing.T) {
	sample := filepath.Join(samplesDir, "lab-session.pcapng")
	keys := filepath.Join(samplesDir, "keys", "lab-session", "requester")
	dir := t.TempDir()
	_, plain, _ := mqtap("read", sample, "--keys", keys)
	w := filepath.Join(dir, "w.pcapng")
	code, out, stderr := mqtap("read", sample, "--keys", keys, "-w", w)
	if code != 0 || out != plain || stderr != "" {
		t.Fatalf("read -w: exit %d, stderr %q, output changed: %v", code, stderr, out != plain)
	}
	ex := filepath.Join(dir, "export.pcapng")
	runExport(t, sample, "-o", ex, "--keys", keys)
	fields := []string{"-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.comment"}
	if a, b := tsharkOut(t, w, fields...), tsharkOut(t, ex, fields...); a != b || !strings.Contains(a, "dh-fernet ok") {
		t.Errorf("read -w differs from export:\n%.500s\n%.500s", a, b)
	}
	// -c 5: the frames of the five packets printed.
	code, out, _ = mqtap("read", sample, "-c", "5", "-w", w)
	if code != 0 || len(lines(out)) != 5 {
		t.Fatalf("read -c 5: exit %d, %d lines", code, len(lines(out)))
	}
	want := strings.Join(lines(tsharkOut(t, sample, "-Y", "mqtt", "-T", "fields", "-e", "frame.time_epoch"))[:5], "\n") + "\n"
	if got := tsharkOut(t, w, "-T", "fields", "-e", "frame.time_epoch"); got != want {
		t.Errorf("read -c 5 -w: frames\n%s\nwant\n%s", got, want)
	}
}

func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	sample := filepath.Join(samplesDir, "mqtt5.pcapng")
	copyOf := filepath.Join(dir, "in.pcapng")
	data, _ := os.ReadFile(sample)
	os.WriteFile(copyOf, data, 0o644)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"export", sample}, 2, "needs an output file: -o OUT.pcapng"},
		{[]string{"export", "-o", filepath.Join(dir, "x.pcapng")}, 2, "export needs a capture file"},
		{[]string{"export", sample, sample, "-o", filepath.Join(dir, "x.pcapng")}, 2, "one capture file"},
		{[]string{"export", copyOf, "-o", copyOf}, 2, "is the capture being read"},
		{[]string{"export", sample, "-o", dir}, 1, "is a directory"},
		{[]string{"export", sample, "-o", filepath.Join(dir, "no", "such", "x.pcapng")}, 1, "cannot write"},
		{[]string{"export", filepath.Join(dir, "missing.pcap"), "-o", filepath.Join(dir, "x.pcapng")}, 1, "no such file"},
		{[]string{"export", sample, "-o", filepath.Join(dir, "x.pcapng"), "-d", "udp.port==1,mqtt"}, 2, "tcp.port"},
		{[]string{"read", sample, "-w", "-"}, 2, "-w -"},
		{[]string{"read", sample, "-w", filepath.Join(dir, "no", "x.pcapng")}, 1, "cannot write"},
	}
	for _, c := range cases {
		code, _, stderr := mqtap(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want exit %d and %q on one line", c.args, code, stderr, c.code, c.msg)
		}
	}
	if after, _ := os.ReadFile(copyOf); !bytes.Equal(after, data) {
		t.Error("the input was modified")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") || e.Name() == "x.pcapng" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// -o - writes the pcapng to stdout.
	code, out, _ := mqtap("export", sample, "-o", "-")
	if code != 0 || !strings.HasPrefix(out, "\x0a\x0d\x0d\x0a") {
		t.Errorf("-o -: exit %d, %d bytes", code, len(out))
	}
}

// wiresharkExport returns frame.time_epoch and frame.len of the frames
// Wireshark exports for a display filter with their depended upon frames:
// the matching frames and the segments of the MQTT packets reassembled in
// them (tcp.segment); plus, as mqtap adds them, the CONNECT of the MQTT 5
// connections with a matching frame.
func wiresharkExport(t *testing.T, sample, filter string) []string {
	t.Helper()
	matched := map[string]bool{}
	for _, s := range lines(tsharkOut(t, sample, "-Y", filter, "-T", "fields", "-e", "tcp.stream")) {
		matched[s] = true
	}
	var v5 []string
	for _, s := range lines(tsharkOut(t, sample, "-Y", "mqtt.msgtype == 1 && mqtt.ver == 5", "-T", "fields", "-e", "tcp.stream")) {
		if matched[s] {
			v5 = append(v5, s)
		}
	}
	if len(v5) > 0 {
		filter = fmt.Sprintf("(%s) || mqtt.msgtype == 1 && tcp.stream in {%s}", filter, strings.Join(v5, ", "))
	}
	keep := map[string]bool{}
	for _, f := range strings.FieldsFunc(tsharkOut(t, sample, "-Y", filter, "-T", "fields", "-e", "frame.number", "-e", "tcp.segment"), func(r rune) bool {
		return r == '\t' || r == '\n' || r == ','
	}) {
		keep[f] = true
	}
	var out []string
	for _, l := range lines(tsharkOut(t, sample, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len")) {
		n, rest, _ := strings.Cut(l, "\t")
		if keep[n] {
			out = append(out, rest)
		}
	}
	return out
}

// firstDiff describes where two lists of frames part.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("frame %d of the export is %q, want %q", i+1, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d frames, want %d", len(got), len(want))
}

// TestExportFilterAgreesWithTshark: export -Y writes the frames tshark
// selects with the same filter, with the frames they depend on.
func TestExportFilterAgreesWithTshark(t *testing.T) {
	cases := []struct{ sample, filter string }{
		{"lab-session.pcapng", "mqtt.msgtype == 3"},
		{"lab-session.pcapng", `mqtt.topic contains "key-exchange" && mqtt.msgtype == 3`},
		{"lab-session.pcapng", "mqtt.msgtype == 4 && mqtt.msgid == 2"},
		{"lab-session.pcapng", "mqtt && tcp.srcport == 1884"},
		{"mqtt5.pcapng", "mqtt.msgtype == 8"},
		{"mqtt5.pcapng", `mqtt.clientid matches "^abonne"`},
		{"mqtt5.pcapng", "mqtt.qos == 2"},
		{"large-payload.pcapng", "mqtt.msgtype == 3"},
		{"large-payload.pcapng", "mqtt.len > 100000"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		sample := filepath.Join(samplesDir, c.sample)
		out := filepath.Join(dir, fmt.Sprintf("f%d.pcapng", i))
		runExport(t, sample, "-o", out, "-Y", c.filter)
		want := wiresharkExport(t, sample, c.filter)
		got := lines(tsharkOut(t, out, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"))
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s -Y %q: %s", c.sample, c.filter, firstDiff(got, want))
		}
		if bad := tsharkOut(t, out, "-Y", "_ws.malformed"); bad != "" {
			t.Errorf("%s -Y %q: malformed in the export:\n%.300s", c.sample, c.filter, bad)
		}
	}
	// With --decrypted a filter selects connections.
	sample := filepath.Join(samplesDir, "lab-session.pcapng")
	out := filepath.Join(dir, "d.pcapng")
	msg := runExport(t, sample, "-o", out, "--decrypted", "--keys", filepath.Join(samplesDir, "keys", "lab-session", "requester"), "-Y", `mqtt.topic contains "uppercase"`)
	if !strings.Contains(msg, "exported 2 connection(s)") {
		t.Errorf("summary %q", msg)
	}
	if n := len(lines(tsharkOut(t, out, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0"))); n != 2 {
		t.Errorf("%d SYNs, want 2", n)
	}
	if warn := tsharkOut(t, out, "-Y", "_ws.malformed || tcp.analysis.flags"); warn != "" {
		t.Errorf("tshark warns:\n%.500s", warn)
	}
}
