package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sampleKeys returns the --keys arguments of a sample capture: its folder
// under pcaps/samples/keys, when there is one.
func sampleKeys(capture string) []string {
	name := filepath.Base(capture)
	name = name[:len(name)-len(filepath.Ext(name))]
	name = strings.TrimSuffix(name, ".pcap")
	dir := filepath.Join("../../pcaps/samples/keys", name)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return []string{"--keys", dir}
	}
	return nil
}

// checkFrameOrder reads a capture and fails when a record's frame number
// is smaller than the one before it. It returns the number of records.
func checkFrameOrder(t *testing.T, capture string, extra ...string) int {
	t.Helper()
	args := append([]string{"read", capture, "-T", "fields", "-e", "frame.number"}, extra...)
	code, out, errOut := mqtap(args...)
	if code != 0 {
		t.Fatalf("mqtap %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	prev, n := 0, 0
	for _, line := range strings.Fields(out) {
		f, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("%s: frame number %q", capture, line)
		}
		if f < prev {
			t.Errorf("%s: record %d is in frame %d, after one in frame %d: not in frame order", capture, n+1, f, prev)
		}
		prev = f
		n++
	}
	return n
}

// TestFrameOrderOnEveryCapture reads every sample and conformance capture
// (with its keys) and checks that frame numbers never decrease.
func TestFrameOrderOnEveryCapture(t *testing.T) {
	total := 0
	for _, capture := range append(samples(t), conformance(t)...) {
		total += checkFrameOrder(t, capture, sampleKeys(capture)...)
	}
	if total < 1000 {
		t.Errorf("only %d records in all the captures", total)
	}
}
