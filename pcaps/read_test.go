package pcaps

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func count(t *testing.T, path string) (int, error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, _, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func TestOpenSamples(t *testing.T) {
	cases := []struct {
		file       string
		format     Format
		compressed bool
		link       layers.LinkType
	}{
		{"samples/mqtt311.pcapng", FormatPcapng, false, layers.LinkTypeEthernet},
		{"samples/cooked-sll.pcap", FormatPcap, false, layers.LinkTypeLinuxSLL},
		{"samples/cooked-sll2.pcap.gz", FormatPcap, true, layers.LinkTypeLinuxSLL2},
	}
	for _, c := range cases {
		r, err := Open(c.file)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if r.Format != c.format || r.Compressed != c.compressed || r.LinkType() != c.link {
			t.Errorf("%s: format %s compressed %v link %v", c.file, r.Format, r.Compressed, r.LinkType())
		}
		r.Close()
		if n, err := count(t, c.file); err != nil || n < 50 {
			t.Errorf("%s: %d frames, %v", c.file, n, err)
		}
	}
}

func TestTruncatedFile(t *testing.T) {
	data, err := os.ReadFile("samples/mqtt311.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	full, _ := count(t, "samples/mqtt311.pcapng")
	cut := filepath.Join(t.TempDir(), "cut.pcapng")
	os.WriteFile(cut, data[:len(data)*2/3], 0o644)
	n, err := count(t, cut)
	if !errors.Is(err, ErrTruncated) || n == 0 || n >= full {
		t.Errorf("truncated pcapng: %d of %d frames, error %v; want ErrTruncated after some frames", n, full, err)
	}
}
