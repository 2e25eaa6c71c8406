package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mqtap/mqtap/keys"
)

// File is the file an export writes: a temporary file beside the target,
// renamed over it once complete (Commit), or stdout.
type File struct {
	io.Writer
	f    *os.File
	path string
}

// ErrSameFile is the error of an export asked to overwrite the capture it
// reads.
var ErrSameFile = errors.New("is the capture being read; write the export to another file")

// Create opens an export's destination, path; "-" is stdout. It refuses to
// overwrite in, the capture being read.
func Create(path, in string, stdout io.Writer) (*File, error) {
	if path == "-" {
		return &File{Writer: stdout}, nil
	}
	if a, err := os.Stat(path); err == nil {
		if a.IsDir() {
			return nil, fmt.Errorf("%s: is a directory; name the pcapng file to write", path)
		}
		if b, err := os.Stat(in); err == nil && os.SameFile(a, b) {
			return nil, fmt.Errorf("%s %w", path, ErrSameFile)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	return &File{Writer: f, f: f, path: path}, nil
}

// Commit closes the temporary file and renames it to the target.
func (o *File) Commit() error {
	if o.f == nil {
		return nil
	}
	err := o.f.Chmod(0o644)
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.f.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("writing %s: %w", o.path, err)
	}
	return nil
}

// Abort removes the temporary file.
func (o *File) Abort() {
	if o.f != nil {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}

// Write makes an export's last passes over the capture at in, from what c
// collected in the first: the frames (Frames, with the TLS key logs of
// store as a Decryption Secrets Block) or, when decrypted, the
// re-synthesised connections (Decrypted). It commits dst, or removes it
// when a pass fails.
func Write(in string, dst *File, c *Collector, opts Options, store *keys.Store, decrypted bool) (Stats, error) {
	var st Stats
	var err error
	if decrypted {
		st, err = Decrypted(in, dst, c, opts)
	} else if opts.Secrets, err = TLSKeylogs(store); err == nil {
		st, err = Frames(in, dst, c, opts)
	}
	if err != nil {
		dst.Abort()
		return st, err
	}
	return st, dst.Commit()
}
