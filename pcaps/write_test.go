package pcaps

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// frame is one frame read back from a capture.
type frame struct {
	data     []byte
	ci       gopacket.CaptureInfo
	comments []string
}

// readNg reads every frame of a pcapng file with its comments.
func readNg(t *testing.T, path string) ([]frame, *pcapgo.NgReader) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []frame
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			return out, r
		}
		if err != nil {
			t.Fatalf("%s: frame %d: %v", path, len(out)+1, err)
		}
		out = append(out, frame{data: data, ci: ci, comments: opts.Comments})
	}
}

// readAll reads every frame of a capture through Open.
func readAll(t *testing.T, path string) []frame {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []frame
	for {
		data, ci, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{data: append([]byte(nil), data...), ci: ci})
	}
}

// tsharkFields runs tshark -T fields on a capture.
func tsharkFields(t *testing.T, path string, fields ...string) string {
	t.Helper()
	args := []string{"-n", "-r", path, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	return string(out)
}

func TestWriterCopiesFramesInterfacesAndTimestamps(t *testing.T) {
	for _, sample := range []string{"samples/mqtt5.pcapng", "samples/cooked-sll.pcap", "samples/cooked-sll2.pcap.gz"} {
		t.Run(filepath.Base(sample), func(t *testing.T) {
			src, err := Open(sample)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			out := filepath.Join(t.TempDir(), "copy.pcapng")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(f, src, WriterInfo{Application: "mqtap test", Comment: "copy of " + sample})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				data, ci, err := src.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				var comments []string
				if n%3 == 0 {
					comments = []string{"mqtap: frame " + strings.Repeat("x", n%5), "second comment"}
				}
				if err := w.WriteFrame(data, ci, comments); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if w.Frames() != n {
				t.Errorf("Frames() = %d, want %d", w.Frames(), n)
			}

			orig := readAll(t, sample)
			got, ng := readNg(t, out)
			if len(got) != len(orig) {
				t.Fatalf("%d frames written, %d read back", len(orig), len(got))
			}
			if ng.LinkType() != src.LinkType() {
				t.Errorf("link type %v, want %v", ng.LinkType(), src.LinkType())
			}
			if src.Format == FormatPcapng {
				want, _ := src.Interface(0)
				intf, _ := ng.Interface(0)
				if intf.Name != want.Name || intf.Description != want.Description || intf.Filter != want.Filter || intf.SnapLength != want.SnapLen {
					t.Errorf("interface %+v, want name %q description %q filter %q snaplen %d", intf, want.Name, want.Description, want.Filter, want.SnapLen)
				}
			}
			if info := ng.SectionInfo(); info.Application != "mqtap test" || info.Comment != "copy of "+sample {
				t.Errorf("section info %+v", info)
			}
			for i := range orig {
				o, g := orig[i], got[i]
				if !bytes.Equal(o.data, g.data) || !o.ci.Timestamp.Equal(g.ci.Timestamp) || o.ci.Length != g.ci.Length || o.ci.InterfaceIndex != g.ci.InterfaceIndex {
					t.Fatalf("frame %d differs: %v/%d/%d bytes, want %v/%d/%d", i+1, g.ci.Timestamp, g.ci.Length, len(g.data), o.ci.Timestamp, o.ci.Length, len(o.data))
				}
				if want := (i+1)%3 == 0; want != (len(g.comments) == 2) {
					t.Errorf("frame %d: comments %q", i+1, g.comments)
				}
			}

			// Wireshark agrees: same times, same lengths, the comments as frame.comment.
			fields := []string{"frame.time_epoch", "frame.len", "frame.cap_len", "frame.protocols"}
			if a, b := tsharkFields(t, sample, fields...), tsharkFields(t, out, fields...); a != b {
				t.Errorf("tshark sees other frames in the copy")
			}
			comments := strings.Split(tsharkFields(t, out, "frame.comment"), "\n")
			if comments[2] != "mqtap: frame xxx,second comment" || comments[0] != "" {
				t.Errorf("tshark frame.comment: %q", comments[:3])
			}
		})
	}
}

func TestWriterSecretsBlock(t *testing.T) {
	keylog := []byte("CLIENT_RANDOM " + strings.Repeat("ab", 32) + " " + strings.Repeat("cd", 48) + "\n# odd length")
	src, err := Open("samples/mqtt311.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(t.TempDir(), "secrets.pcapng")
	f, _ := os.Create(out)
	w, err := NewWriter(f, src, WriterInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSecrets(SecretsTLSKeyLog, keylog); err != nil {
		t.Fatal(err)
	}
	data, ci, _ := src.Next()
	if err := w.WriteFrame(data, ci, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	secrets, err := ReadSecrets(out)
	if err != nil || len(secrets) != 1 || secrets[0].Type != SecretsTLSKeyLog || !bytes.Equal(secrets[0].Data, keylog) {
		t.Fatalf("ReadSecrets = %+v, %v", secrets, err)
	}
	info, err := exec.Command("capinfos", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(info), "Number of decryption secrets in file: 1") || !strings.Contains(string(info), "Number of packets:   1") {
		t.Errorf("capinfos:\n%s", info)
	}
	if none, err := ReadSecrets("samples/mqtt311.pcapng"); err != nil || len(none) != 0 {
		t.Errorf("sample: %v, %v", none, err)
	}
	if none, err := ReadSecrets("samples/cooked-sll.pcap"); err != nil || len(none) != 0 {
		t.Errorf("pcap: %v, %v", none, err)
	}
}

func TestWriterLongCommentAndLaterInterfaces(t *testing.T) {
	dir := t.TempDir()
	// A source with two Ethernet interfaces, the second one declared after
	// the first frame.
	srcPath := filepath.Join(dir, "two.pcapng")
	f, _ := os.Create(srcPath)
	ng, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	frameData := make([]byte, 60)
	t0 := time.Unix(1700000000, 123456789)
	ng.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: 60, Length: 60}, frameData)
	ng.AddInterface(pcapgo.NgInterface{Name: "eth1", LinkType: layers.LinkTypeEthernet})
	ng.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Second), CaptureLength: 60, Length: 60, InterfaceIndex: 1}, frameData)
	ng.Flush()
	f.Close()

	src, err := Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(dir, "out.pcapng")
	o, _ := os.Create(out)
	w, err := NewWriter(o, src, WriterInfo{})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 40000) // 80000 bytes: more than an option holds
	for {
		data, ci, err := src.Next()
		if err == io.EOF {
			break
		}
		if err := w.WriteFrame(data, ci, []string{long}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	o.Close()
	got, r := readNg(t, out)
	if len(got) != 2 || got[1].ci.InterfaceIndex != 1 || r.NInterfaces() != 2 {
		t.Fatalf("%d frames, second on interface %d, %d interfaces", len(got), got[1].ci.InterfaceIndex, r.NInterfaces())
	}
	if intf, _ := r.Interface(1); intf.Name != "eth1" {
		t.Errorf("second interface %q", intf.Name)
	}
	if c := got[0].comments[0]; len(c) > maxOption || len(c) < maxOption-1 || !strings.HasPrefix(long, c) {
		t.Errorf("long comment cut to %d bytes", len(c))
	}
	if !got[1].ci.Timestamp.Equal(t0.Add(time.Second)) {
		t.Errorf("timestamp %v", got[1].ci.Timestamp)
	}
	if out := tsharkFields(t, out, "frame.interface_name"); out != "eth0\neth1\n" {
		t.Errorf("tshark interfaces %q", out)
	}
}

func TestLinkWriter(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewLinkWriter(&buf, layers.LinkTypeEthernet, "mqtap", WriterInfo{Comment: "synthesised"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 60)
	if err := w.WriteFrame(data, gopacket.CaptureInfo{Timestamp: time.Unix(1, 5)}, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	r, err := pcapgo.NewNgReader(&buf, pcapgo.NgReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, ci, opts, err := r.ReadPacketDataWithOptions()
	if err != nil || len(got) != 60 || ci.Length != 60 || !ci.Timestamp.Equal(time.Unix(1, 5)) || len(opts.Comments) != 1 || r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("read back %d bytes %+v %+v %v", len(got), ci, opts, err)
	}
}

// TestWriterMultiSection: an export of a capture of several sections
// copies every interface into its one section, in the order the source
// declared them, and each frame lands on the copy of its own interface:
// tshark sees the names, link types, times and lengths of the source.
func TestWriterMultiSection(t *testing.T) {
	dir := t.TempDir()
	src, err := Open(writeFile(t, dir, "sections.pcapng", sections()...))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(dir, "out.pcapng")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, src, WriterInfo{Application: "mqtap test"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string // the source's frames, with interface IDs of the export
	var links []layers.LinkType
	for n := 1; ; n++ {
		data, ci, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		intf, _ := src.Interface(ci.InterfaceIndex)
		g := ci.InterfaceIndex
		want = append(want, fmt.Sprintf("%d\t%d\t%s\t%d.%09d\t%d\t%d", n, g, intf.Name, ci.Timestamp.Unix(), ci.Timestamp.Nanosecond(), ci.CaptureLength, ci.Length))
		links = append(links, intf.LinkType)
		if err := w.WriteFrame(data, ci, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sameLines(t, "export vs tshark", tsharkFrames(t, out), want)
	_, ng := readNg(t, out)
	if intf, _ := ng.Interface(0); intf.Comment != "first interface" || intf.Filter != "tcp port 1883" || intf.Name != "a0" || ng.NInterfaces() != 5 {
		t.Errorf("first interface of the export %+v, %d interfaces", intf, ng.NInterfaces())
	}
	back, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	for i := 0; ; i++ {
		_, ci, err := back.Next()
		if err != nil {
			break
		}
		if intf, _ := back.Interface(ci.InterfaceIndex); intf.LinkType != links[i] || intf.TSOffset != 0 || intf.TSResol != 9 {
			t.Errorf("frame %d: interface %+v, want link type %v, no offset, nanoseconds", i+1, intf, links[i])
		}
	}
}
