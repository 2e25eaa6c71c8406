package pcaps

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// benchFiles returns a large pcap (scripts/bench.sh's capture of real
// mosquitto traffic when it is there, a synthetic one otherwise), the same
// frames as pcapng (editcap), and a pcapng mixing two link types (mergecap
// of an SLL2 sample and the pcapng), made once and kept in the temporary
// directory.
func benchFiles(b *testing.B) (pcap, pcapng, mixed string) {
	b.Helper()
	pcap = "/tmp/mqtap-bench/bench.pcap"
	if _, err := os.Stat(pcap); err != nil {
		var err error
		if pcap, err = SyntheticFile(os.TempDir(), 1000000); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(pcap)
	if err != nil {
		b.Fatal(err)
	}
	base := filepath.Join(os.TempDir(), fmt.Sprintf("mqtap-pcaps-bench-%d", st.Size()))
	pcapng, mixed = base+".pcapng", base+"-mixed.pcapng"
	derive := func(out string, args ...string) { // "OUT" in args is where the tool writes
		if _, err := os.Stat(out); err == nil {
			return
		}
		for i, a := range args {
			if a == "OUT" {
				args[i] = out + ".tmp"
			}
		}
		if msg, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", args[0], err, msg)
		}
		if err := os.Rename(out+".tmp", out); err != nil {
			b.Fatal(err)
		}
	}
	derive(pcapng, "editcap", "-F", "pcapng", pcap, "OUT")
	derive(mixed, "mergecap", "-a", "-F", "pcapng", "-w", "OUT", "samples/cooked-sll2.pcap.gz", pcapng)
	return pcap, pcapng, mixed
}

// frameSource is one of the readers compared.
type frameSource interface {
	next() ([]byte, error)
	io.Closer
}

type ours struct{ *Reader }

func (o ours) next() ([]byte, error) {
	data, _, err := o.Next()
	return data, err
}

type theirs struct {
	f   *os.File
	src interface {
		ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
}

func (t theirs) next() ([]byte, error) {
	data, _, err := t.src.ZeroCopyReadPacketData()
	return data, err
}

func (t theirs) Close() error { return t.f.Close() }

func openOurs(path string) (frameSource, error) {
	r, err := Open(path)
	return ours{r}, err
}

// openPcapgo opens path with gopacket's readers, as the package did before
// it had its own (64 KiB buffered file; mixed link types allowed).
func openPcapgo(path string) (frameSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(4)
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		return theirs{f, ng}, err
	}
	p, err := pcapgo.NewReader(br)
	return theirs{f, p}, err
}

// BenchmarkRead reads large captures frame by frame with this package's
// reader and with gopacket's pcapgo readers; one op is one frame (the file
// is read again from the start when it ends).
func BenchmarkRead(b *testing.B) {
	pcap, pcapng, mixed := benchFiles(b)
	for _, file := range []struct{ name, path string }{{"pcap", pcap}, {"pcapng", pcapng}, {"mixed", mixed}} {
		for _, reader := range []struct {
			name string
			open func(string) (frameSource, error)
		}{{"mqtap", openOurs}, {"pcapgo", openPcapgo}} {
			b.Run(file.name+"/"+reader.name, func(b *testing.B) {
				src, err := reader.open(file.path)
				if err != nil {
					b.Fatal(err)
				}
				var bytes int64
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					data, err := src.next()
					if err == io.EOF {
						src.Close()
						if src, err = reader.open(file.path); err == nil {
							data, err = src.next()
						}
					}
					if err != nil {
						b.Fatal(err)
					}
					bytes += int64(len(data))
				}
				b.StopTimer()
				src.Close()
				b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
			})
		}
	}
}
