package pcaps

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sections is a capture of three sections of both byte orders with every
// packet block type, if_tsresol in powers of 10 and of 2, if_tsoffset,
// and blocks the reader skips. Wireshark reads it all.
func sections() [][]byte {
	s0 := newSection(false, 1)
	s0.idb(1, 0, s0.name("a0"), s0.tsresol(9), s0.opt(optComment, []byte("first interface")), s0.opt(optFilter, []byte("\x00tcp port 1883")))
	s0.idb(276, 65535, s0.name("a1"), s0.tsresol(0x80|20), s0.tsoffset(100))
	s0.epb(0, 1700000000123456789, frameData(60, 1), 60)
	s0.dsb(SecretsTLSKeyLog, []byte("keys-1"))
	s0.block(blockNRB, []byte{1, 0, 9, 0, 10, 0, 0, 1, 'h', 'o', 's', 't', 0, 0, 0, 0, 0, 0, 0, 0})
	s0.epb(1, 1700000002<<20|1<<19, frameData(80, 2), 1514)
	s0.block(blockISB, make([]byte, 12))
	s0.block(blockCustom, []byte{0, 0, 0x7e, 0xa5, 'x', 'y'})
	s0.pb(0, 1700000003000000001, frameData(50, 3), 50)

	s1 := newSection(true, 1)
	s1.idb(101, 0, s1.name("b0"), s1.tsresol(3), s1.tsoffset(-5))
	s1.idb(1, 40, s1.name("b1"))
	s1.epb(1, 1700000004123456, frameData(40, 4), 100)
	s1.spb(64, frameData(64, 5))
	s1.pb(0, 1700000005123, frameData(44, 6), 44)
	s1.dsb(SecretsTLSKeyLog, []byte("keys-2"))

	s2 := newSection(false, 1)
	s2.idb(1, 64, s2.name("c0"), s2.tsresol(0x80|10))
	s2.spb(100, frameData(64, 7))
	s2.epb(0, 1700000006<<10|256, frameData(64, 8), 64)
	return [][]byte{s0.b, s1.b, s2.b}
}

// TestSectionsAgainstTshark: every frame of a three-section capture has
// the interface ID, name, time and lengths tshark gives, and the hooks
// come in file order.
func TestSectionsAgainstTshark(t *testing.T) {
	dir := t.TempDir()
	parts := sections()
	path := writeFile(t, dir, "sections.pcapng", parts...)
	got := readPath(t, path)
	if got.err != nil || len(got.warnings) != 0 {
		t.Fatalf("read: %v, warnings %q", got.err, got.warnings)
	}
	// tshark on each section alone is right in every field.
	var want []string
	for i, p := range parts {
		want = append(want, withoutCustom(t, tsharkFrames(t, writeFile(t, dir, fmt.Sprintf("part%d.pcapng", i), p)))...)
	}
	sameLines(t, "sections vs tshark on each section", got.lines, renumber(want))
	// tshark on the whole file numbers interfaces the same way, but names
	// a frame of a later section after the interface of the first section
	// with the same ID: compare every other field.
	whole := renumber(withoutCustom(t, tsharkFrames(t, path)))
	sameLines(t, "sections vs tshark without names", dropNames(got.lines), dropNames(whole))
	if whole[3] == got.lines[3] {
		t.Errorf("tshark 4.0 named frame 4 (section 1, interface b1) %q; if it is fixed, compare names too", whole[3])
	}
	// Ground truth for the timestamps tshark might get wrong the same way.
	for _, w := range []string{
		"2\t1\ta1\t1700000102.500000000\t80\t1514", // 2^-20 and if_tsoffset 100
		"4\t1\tb1\t1700000004.123456000\t40\t100",  // big endian, snap length 40
		"5\t0\tb0\t0.000000000\t64\t64",            // simple packet block: no timestamp
		"6\t0\tb0\t1700000000.123000000\t44\t44",   // milliseconds, if_tsoffset -5
		"8\t0\tc0\t1700000006.250000000\t64\t64",   // 2^-10
		"3\t0\ta0\t1700000003.000000001\t50\t50",   // obsolete packet block
		"7\t0\tc0\t0.000000000\t64\t100",           // simple packet block cut to the snap length
		"1\t0\ta0\t1700000000.123456789\t60\t60",   // nanoseconds
	} {
		n := 0
		fmt.Sscan(w, &n)
		if got.lines[n-1] != w {
			t.Errorf("frame %d: %q, want %q", n, got.lines[n-1], w)
		}
	}
	wantLog := []string{
		"interface 0/0 a0 1", "interface 0/1 a1 276", "frame 1", `secret "keys-1"`, "frame 2", "frame 3",
		"interface 1/0 b0 101", "interface 1/1 b1 1", "frame 4", "frame 5", "frame 6", `secret "keys-2"`,
		"interface 2/0 c0 1", "frame 7", "frame 8",
	}
	if !slices.Equal(got.log, wantLog) {
		t.Errorf("hooks and frames:\n got  %q\n want %q", got.log, wantLog)
	}
	secrets, err := ReadSecrets(path)
	if err != nil || len(secrets) != 2 || string(secrets[1].Data) != "keys-2" || secrets[0].Type != SecretsTLSKeyLog {
		t.Errorf("ReadSecrets = %+v, %v", secrets, err)
	}
}

// withoutCustom drops what tshark 4.0 shows of the custom block of
// sections(): a frame of 4 bytes (the block's enterprise number) on no
// interface. The reader skips custom blocks: they hold no packet.
func withoutCustom(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		if f := strings.Split(l, "\t"); f[1] == "" {
			if f[4] != "4" {
				t.Fatalf("tshark shows a frame on no interface that is not the custom block: %q", l)
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

// dropNames blanks the interface name of frames in a section after the
// first (recognised by their time or name in the three-section file).
func dropNames(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if i >= 3 {
			f[2] = ""
		}
		out[i] = strings.Join(f, "\t")
	}
	return out
}

// TestSimplePacketBlockLengths: the captured length of a Simple Packet
// Block is the smallest of its original length, the snap length of
// interface 0 and the room in the block.
func TestSimplePacketBlockLengths(t *testing.T) {
	s := newSection(false, 1)
	s.idb(1, 40, s.name("snap40"))
	s.spb(100, frameData(40, 1)) // snap length
	s.spb(30, frameData(30, 2))  // original length
	s.spb(50, frameData(36, 3))  // room in the block
	s.spb(32, frameData(36, 4))  // original length, padding after it
	u := newSection(true, 1)
	u.idb(1, 0, u.name("nosnap"))
	u.spb(1000, frameData(60, 5)) // snap length 0 is no limit: the room
	got := readPath(t, writeFile(t, t.TempDir(), "spb.pcapng", s.b, u.b))
	want := []string{
		"1\t0\tsnap40\t0.000000000\t40\t100",
		"2\t0\tsnap40\t0.000000000\t30\t30",
		"3\t0\tsnap40\t0.000000000\t36\t50",
		"4\t0\tsnap40\t0.000000000\t32\t32",
		"5\t0\tnosnap\t0.000000000\t60\t1000",
	}
	if got.err != nil || len(got.warnings) != 0 {
		t.Fatalf("read: %v, warnings %q", got.err, got.warnings)
	}
	sameLines(t, "simple packet blocks", got.lines, want)
}

// corrupt is a capture with one malformed block of each kind, each followed
// by a valid frame, and the warnings the reader must give (one each, with
// the offset of the bad block).
func corrupt() (file []byte, lines []string, warnings []string) {
	s := newSection(false, 1)
	s.idb(1, 0, s.name("e0"))
	frame := 0
	good := func() {
		frame++
		s.epb(0, uint64(1700000000+frame)*1e6, frameData(60, byte(frame)), 60)
		lines = append(lines, fmt.Sprintf("%d\t0\te0\t%d.000000000\t60\t60", len(lines)+1, 1700000000+frame))
	}
	bad := func(what string) {
		warnings = append(warnings, fmt.Sprintf("byte %d: %s", len(s.b), what))
	}
	mark := func() int { return len(s.b) }
	good()

	bad("enhanced packet block with a total length of 93 bytes, not a multiple of 4; skipped 92 bytes")
	at := mark()
	s.epb(0, 1, frameData(60, 100), 60)
	binary.LittleEndian.PutUint32(s.b[at+4:], 93)
	good()

	bad("enhanced packet block whose trailing length 7 does not match its total length 92; skipped 92 bytes")
	at = mark()
	s.epb(0, 1, frameData(60, 101), 60)
	binary.LittleEndian.PutUint32(s.b[len(s.b)-4:], 7)
	good()

	bad("enhanced packet block says 61 captured bytes but holds at most 60; block skipped")
	at = mark()
	s.epb(0, 1, frameData(60, 102), 60)
	binary.LittleEndian.PutUint32(s.b[at+20:], 61)
	good()

	bad("enhanced packet block is on interface 5, but its section declares 1; block skipped")
	s.epb(5, 1, frameData(60, 103), 60)
	good()

	bad("enhanced packet block with a total length of 4294967292 bytes, more than the 256 MiB a block may have; skipped 92 bytes")
	at = mark()
	s.epb(0, 1, frameData(60, 104), 60)
	binary.LittleEndian.PutUint32(s.b[at+4:], 0xfffffffc)
	good()

	// Seven bytes of garbage between blocks: the reader takes them for a
	// block header whose length runs into the next block.
	bad("block of type 0xefbeadde with a total length of 100860417 bytes, not a multiple of 4; skipped 7 bytes")
	s.raw(0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03)
	good()

	// A section header with an unknown byte order: its blocks are lost up
	// to the next section.
	lost := newSection(false, 1)
	binary.LittleEndian.PutUint32(lost.b[8:], 0xefbeadde)
	lost.idb(1, 0, lost.name("lost"))
	lost.epb(0, 1, frameData(60, 105), 60)
	bad(fmt.Sprintf("section header with an unknown byte-order magic 0xefbeadde; skipped %d bytes", len(lost.b)))
	s.raw(lost.b...)
	s2 := newSection(true, 1)
	s2.idb(1, 0, s2.name("e0"))
	s.raw(s2.b...)
	s.order = binary.BigEndian
	good()

	// A section of pcapng version 2: skipped as a whole, one warning.
	bad("section 2 has pcapng version 2.0, which this reader does not know; its blocks are skipped")
	v2 := newSection(true, 2)
	v2.idb(1, 0, v2.name("v2"))
	v2.epb(0, 1, frameData(60, 106), 60)
	s.raw(v2.b...)
	s3 := newSection(false, 1)
	s3.idb(1, 0, s3.name("e0"))
	s.raw(s3.b...)
	s.order = binary.LittleEndian
	good()
	return s.b, lines, warnings
}

// TestMalformedBlocks: each malformed block gets one warning with its
// offset and what is wrong, and everything after it is read.
func TestMalformedBlocks(t *testing.T) {
	file, want, warnings := corrupt()
	path := writeFile(t, t.TempDir(), "corrupt.pcapng", file)
	got := readPath(t, path)
	if got.err != nil {
		t.Fatal(got.err)
	}
	sameLines(t, "frames around malformed blocks", got.lines, want)
	if len(got.warnings) != len(warnings) {
		t.Fatalf("%d warnings, want %d:\n%s", len(got.warnings), len(warnings), strings.Join(got.warnings, "\n"))
	}
	for i, w := range got.warnings {
		head, tail, _ := strings.Cut(warnings[i], "; ")
		if !strings.HasPrefix(w, path+": "+head) || !strings.Contains(w, "; "+tail) || strings.Contains(w, "\n") {
			t.Errorf("warning %d:\n got  %s\n want %s: %s", i+1, w, path, warnings[i])
		}
	}
	// The log shows each warning before the frame that follows it.
	if got.log[2] != "warning" || got.log[3] != "frame 2" {
		t.Errorf("log %q", got.log[:4])
	}
}
