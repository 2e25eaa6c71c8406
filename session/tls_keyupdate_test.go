package session

import (
	"bytes"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session/brokertest"
)

// lineSafe returns an MQTT packet that s_client and s_server send as one
// line: it ends with the newline and holds no other.
func lineSafe(t *testing.T, p []byte) []byte {
	t.Helper()
	if bytes.IndexByte(p, '\n') != len(p)-1 {
		t.Fatalf("packet % x is not one line", p)
	}
	return p
}

// TestTLS13KeyUpdateThroughThePipeline captures an OpenSSL TLS 1.3
// connection in which the client asks for a key update (s_client's K
// command) and both sides change keys, and checks that the MQTT packets
// sent before and after decode.
func TestTLS13KeyUpdateThroughThePipeline(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed (make deps installs it)")
	}
	certDir, _ := filepath.Abs("../pcaps/samples/keys/tls12-cbc") // the sample that keeps its server key
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command("openssl", "s_server", "-accept", "127.0.0.1:"+strconv.Itoa(srvPort), "-naccept", "1", "-tls1_3",
		"-cert", filepath.Join(certDir, "server.pem"), "-key", filepath.Join(certDir, "server-key.pem"))
	srvIn, _ := srv.StdinPipe()
	var srvOut brokertest.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	waitFor(t, &srvOut, "ACCEPT")

	// A recording proxy between s_client and s_server.
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var c2s, s2c brokertest.Buffer
	copied := make(chan struct{}, 2)
	go func() {
		in, err := proxy.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(srvPort))
		if err != nil {
			in.Close()
			return
		}
		pipe := func(dst, src net.Conn, rec *brokertest.Buffer) {
			io.Copy(io.MultiWriter(dst, rec), src)
			dst.(*net.TCPConn).CloseWrite()
			copied <- struct{}{}
		}
		go pipe(out, in, &c2s)
		go pipe(in, out, &s2c)
	}()

	keylog := filepath.Join(t.TempDir(), "client.keylog")
	cli := exec.Command("openssl", "s_client", "-connect", proxy.Addr().String(), "-tls1_3", "-keylogfile", keylog)
	cliIn, _ := cli.StdinPipe()
	var cliOut brokertest.Buffer
	cli.Stdout, cli.Stderr = &cliOut, &cliOut
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer cli.Process.Kill()
	waitFor(t, &cliOut, "Verify return code")

	connect := lineSafe(t, []byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'k', '\n'})
	pub := func(payload string) []byte {
		return lineSafe(t, append([]byte{0x30, byte(3 + len(payload)), 0, 1, 't'}, payload...))
	}
	cliIn.Write(connect)
	cliIn.Write(pub("before!\n"))
	waitFor(t, &srvOut, "before!")
	cliIn.Write([]byte("K\n")) // KeyUpdate, update_requested
	waitFor(t, &cliOut, "KEYUPDATE")
	cliIn.Write(pub("after!!\n"))
	waitFor(t, &srvOut, "after!!")
	srvIn.Write(pub("server!\n")) // the server has updated its keys too
	waitFor(t, &cliOut, "server!")
	cliIn.Close()
	srvIn.Close()
	for range 2 {
		select {
		case <-copied:
		case <-time.After(10 * time.Second):
			t.Fatal("the TLS connection did not close")
		}
	}

	store, err := keys.Load(keylog)
	if err != nil {
		t.Fatal(err)
	}
	client, server := []byte(c2s.String()), []byte(s2c.String())
	c := &conversation{t: t, clientPort: 41000, serverPort: 8883, isn: [2]uint32{1, 1}}
	hello := helloLen(client)
	segs := append(handshake(), segment{true, "A", 1, client[:hello]}, segment{false, "A", 1, server},
		segment{true, "A", 1 + uint32(hello), client[hello:]})
	got, st := c.run(Options{Keys: store}, segs...)
	var payloads []string
	for _, r := range got {
		if r.Type == "PUBLISH" {
			payloads = append(payloads, strings.TrimSuffix(r.Payload, "\n"))
		}
	}
	if len(got) != 4 || got[0].Type != "PUBLISH" || strings.Join(payloads, ",") != "server!,before!,after!!" {
		t.Errorf("records %+v (PUBLISH payloads %q)", got, payloads)
	}
	if len(st.TLS) != 1 || st.TLS[0].Decrypted != "ok" || st.TLS[0].Version != "TLS 1.3" {
		t.Errorf("TLS info %+v", st.TLS)
	}
}

// waitFor waits until out contains s.
func waitFor(t *testing.T, out *brokertest.Buffer, s string) {
	t.Helper()
	if err := brokertest.WaitFor(out, s, 10*time.Second, nil); err != nil {
		t.Fatalf("%v; the output:\n%s", err, out.String())
	}
}
