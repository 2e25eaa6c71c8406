package session_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/session"
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
	port := brokertest.FreePort(t)
	capture := brokertest.StartCapture(t, port)
	srv := exec.Command("openssl", "s_server", "-accept", "127.0.0.1:"+strconv.Itoa(port), "-naccept", "1", "-tls1_3",
		"-cert", filepath.Join(certDir, "server.pem"), "-key", filepath.Join(certDir, "server-key.pem"))
	srvIn, _ := srv.StdinPipe()
	var srvOut brokertest.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	waitFor(t, &srvOut, "ACCEPT")

	keylog := filepath.Join(t.TempDir(), "client.keylog")
	cli := exec.Command("openssl", "s_client", "-connect", "127.0.0.1:"+strconv.Itoa(port), "-tls1_3", "-keylogfile", keylog)
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
	for _, p := range []*exec.Cmd{cli, srv} {
		exited := make(chan struct{})
		go func() { p.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Fatal("the TLS connection did not close")
		}
	}

	store, err := keys.Load(keylog)
	if err != nil {
		t.Fatal(err)
	}
	got, st := brokertest.Records(t, capture.Stop(t), session.Options{Keys: store, Ports: []uint16{uint16(port)}})
	var types, payloads []string
	for _, r := range got {
		types = append(types, r.Packet.Type.String())
		if r.Packet.Type == decode.PUBLISH {
			payloads = append(payloads, strings.TrimSuffix(string(r.Packet.Payload), "\n"))
		}
	}
	if len(got) != 4 || types[0] != "CONNECT" || strings.Join(payloads, ",") != "before!,after!!,server!" {
		t.Errorf("records %v (PUBLISH payloads %q)", types, payloads)
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
