package brokertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/source/file"
)

// Capture is a tcpdump recording the TCP traffic of a port of the
// loopback interface into a pcap file.
type Capture struct {
	// Path is the pcap file.
	Path string

	cmd    *exec.Cmd
	log    *Buffer
	exited chan struct{}
	once   sync.Once
}

// StartCapture starts tcpdump on lo for the TCP traffic of port (every
// packet written at once: --immediate-mode -U), with extra tcpdump
// options before the filter (such as "-s", "96"), into a file of
// t.TempDir(), and returns once tcpdump listens. Stop ends it; it is
// killed when the test ends. It needs what tcpdump needs: root, as the
// tests run.
func StartCapture(t testing.TB, port int, extra ...string) *Capture {
	t.Helper()
	c := &Capture{Path: filepath.Join(t.TempDir(), "capture.pcap"), log: &Buffer{}, exited: make(chan struct{})}
	args := append([]string{"-i", "lo", "--immediate-mode", "-U", "-Z", "root", "-w", c.Path}, extra...)
	c.cmd = exec.Command("tcpdump", append(args, "tcp port "+strconv.Itoa(port))...)
	c.cmd.Stderr = c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting tcpdump (apt-get install tcpdump, or make deps): %v", err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	if err := WaitFor(c.log, "listening on", 10*time.Second, c.exited); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	return c
}

// Stop ends the capture, tcpdump writing what it holds, and returns the
// path of the file.
func (c *Capture) Stop(t testing.TB) string {
	t.Helper()
	c.once.Do(func() { c.cmd.Process.Signal(os.Interrupt) })
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump still running 10s after SIGINT: %s", c.log.String())
	}
	return c.Path
}

// Records reads the capture at path through the session pipeline with
// opts, as mqtap read does (the interfaces and the TLS key logs the
// capture holds are used; its warnings are logged), and returns a copy of
// every record and the pipeline's statistics. A capture that cannot be
// read fails the test; one cut short is read up to the cut.
func Records(t testing.TB, path string, opts session.Options) ([]*session.Record, session.Stats) {
	t.Helper()
	src, err := file.Open(path, file.Options{Warn: func(msg string) { t.Logf("%s", msg) }})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var recs []*session.Record
	p := session.New(opts, func(rec *session.Record) error {
		recs = append(recs, CopyRecord(rec))
		return nil
	})
	if err := src.Run(context.Background(), p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs, p.Stats()
}

// CopyRecord copies a record the pipeline will reuse (Record.CopyTo): the
// copy shares nothing with r.
func CopyRecord(r *session.Record) *session.Record {
	c := &session.Record{}
	r.CopyTo(c)
	return c
}
