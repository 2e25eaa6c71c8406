// Command mqtap is a Wireshark-style inspector for MQTT traffic.
//
// It decodes every MQTT control packet of a capture and prints it the way
// tshark users expect. See `mqtap --help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code: 0 on success, 1
// on a runtime error, 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	switch {
	case err == nil:
		return 0
	case errors.Is(err, syscall.EPIPE):
		return 0 // the reader of our output went away (| head): not an error
	}
	fmt.Fprintf(stderr, "mqtap: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
