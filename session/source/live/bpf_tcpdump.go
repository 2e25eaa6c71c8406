// The fallback for expressions the built-in compiler does not understand:
// `tcpdump -ddd` compiles them, with the full libpcap syntax.

package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/bpf"
)

// tcpdumpPath is tcpdump's path, "" when it is not installed.
func tcpdumpPath() string {
	if p, err := exec.LookPath("tcpdump"); err == nil {
		return p
	}
	// sbin is often missing from the PATH of users other than root.
	for _, p := range []string{"/usr/sbin/tcpdump", "/sbin/tcpdump"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// tcpdumpError is tcpdump's rejection of an expression.
type tcpdumpError struct{ msg string }

func (e *tcpdumpError) Error() string { return e.msg }

// compileTcpdump compiles expr with `tcpdump -y EN10MB|RAW -ddd`; the
// program's accepting returns then return snaplen.
func compileTcpdump(tcpdump, expr string, link Link, snaplen uint32) ([]bpf.RawInstruction, error) {
	dlt := "EN10MB"
	if link == LinkRaw {
		dlt = "RAW"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tcpdump, "-y", dlt, "-ddd", "--", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && errors.As(err, &exitErr) && ctx.Err() == nil {
		msg := tcpdumpMessage(stderr.String())
		if msg == "" {
			msg = "tcpdump: " + err.Error()
		}
		return nil, &tcpdumpError{msg: msg}
	}
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", tcpdump, err)
	}
	prog, err := parseTcpdumpProgram(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("reading the output of %s -ddd: %w", tcpdump, err)
	}
	for i, ins := range prog {
		if ins.Op == 0x06 && ins.K != 0 { // ret #k
			prog[i].K = snaplen
		}
	}
	return prog, nil
}

// tcpdumpMessage is tcpdump's error, on one line.
func tcpdumpMessage(stderr string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "WARNING") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "; ")
}

// parseTcpdumpProgram reads tcpdump -ddd's output: the number of
// instructions, then one "code jt jf k" line each.
func parseTcpdumpProgram(out string) ([]bpf.RawInstruction, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || n <= 0 || n > filterMaxInstructions || len(lines) != n+1 {
		return nil, fmt.Errorf("unexpected output %q", firstLine(out))
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("unexpected line %q", l)
		}
		var v [4]uint64
		for j, s := range f {
			bits := []int{16, 8, 8, 32}[j]
			x, err := strconv.ParseUint(s, 10, bits)
			if err != nil {
				return nil, fmt.Errorf("unexpected line %q", l)
			}
			v[j] = x
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
