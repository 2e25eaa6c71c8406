package pcaps

import (
	"bufio"
	"bytes"
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
	c   io.Closer
	src interface {
		ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
}

func (t theirs) next() ([]byte, error) {
	data, _, err := t.src.ZeroCopyReadPacketData()
	return data, err
}

func (t theirs) Close() error { return t.c.Close() }

// opener opens a capture from a file or from memory.
type opener func(path string) (frameSource, error)

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
	return pcapgoReader(f, f)
}

func pcapgoReader(in io.Reader, c io.Closer) (frameSource, error) {
	br := bufio.NewReaderSize(in, 1<<16)
	magic, _ := br.Peek(4)
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		return theirs{c, ng}, err
	}
	p, err := pcapgo.NewReader(br)
	return theirs{c, p}, err
}

// inMemory returns openers that read the files from memory, loaded once,
// so that the benchmark measures the readers and not the page cache.
func inMemory(b *testing.B, paths ...string) (mqtap, pcapgo opener) {
	files := make(map[string][]byte)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files[p] = data
	}
	mqtap = func(p string) (frameSource, error) {
		r, err := NewReader(bytes.NewReader(files[p]), p)
		return ours{r}, err
	}
	pcapgo = func(p string) (frameSource, error) {
		return pcapgoReader(bytes.NewReader(files[p]), io.NopCloser(nil))
	}
	return mqtap, pcapgo
}

// BenchmarkRead reads large captures frame by frame with this package's
// reader and with gopacket's pcapgo readers, from the file and from
// memory; one op is one frame (the capture is read again from the start
// when it ends).
func BenchmarkRead(b *testing.B) {
	pcap, pcapng, mixed := benchFiles(b)
	memOurs, memPcapgo := inMemory(b, pcap, pcapng, mixed)
	for _, file := range []struct{ name, path string }{{"pcap", pcap}, {"pcapng", pcapng}, {"mixed", mixed}} {
		for _, reader := range []struct {
			name string
			open opener
		}{{"file/mqtap", openOurs}, {"file/pcapgo", openPcapgo}, {"memory/mqtap", memOurs}, {"memory/pcapgo", memPcapgo}} {
			b.Run(file.name+"/"+reader.name, func(b *testing.B) { benchRead(b, file.path, reader.open) })
		}
	}
}

func benchRead(b *testing.B, path string, open opener) {
	src, err := open(path)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		data, err := src.next()
		if err == io.EOF {
			src.Close()
			if src, err = open(path); err == nil {
				data, err = src.next()
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(data))
	}
	b.StopTimer()
	src.Close()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MB/s")
}
