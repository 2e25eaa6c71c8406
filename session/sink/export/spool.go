package export

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// spool keeps the comments of the first pass in a temporary file, in frame
// order, so that memory does not grow with the number of annotated packets.
// A comment for a frame below the highest spooled one (a record the
// pipeline delivered late, after later frames) is kept in memory instead.
type spool struct {
	f    *os.File
	w    *bufio.Writer
	last int              // highest frame spooled
	late map[int][]string // comments of frames below last
	err  error            // first error writing the file
	buf  []byte
}

// add keeps comment for frame.
func (s *spool) add(frame int, comment string) {
	if s.err != nil {
		return
	}
	if frame < s.last {
		if s.late == nil {
			s.late = make(map[int][]string)
		}
		s.late[frame] = append(s.late[frame], comment)
		return
	}
	if s.f == nil {
		if s.f, s.err = os.CreateTemp("", "mqtap-comments-*"); s.err != nil {
			s.err = fmt.Errorf("keeping the export's comments in a temporary file: %w", s.err)
			return
		}
		s.w = bufio.NewWriterSize(s.f, 1<<16)
	}
	s.last = frame
	s.buf = binary.AppendUvarint(s.buf[:0], uint64(frame))
	s.buf = binary.AppendUvarint(s.buf, uint64(len(comment)))
	s.buf = append(s.buf, comment...)
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = fmt.Errorf("keeping the export's comments in %s: %w", s.f.Name(), err)
	}
}

// reader returns the comments in frame order. Each call starts from the
// beginning.
func (s *spool) reader() (*spoolReader, error) {
	if s.err != nil {
		return nil, s.err
	}
	r := &spoolReader{late: s.late}
	if s.f == nil {
		return r, nil
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("keeping the export's comments in %s: %w", s.f.Name(), err)
	}
	r.r = bufio.NewReaderSize(io.NewSectionReader(s.f, 0, 1<<62), 1<<16)
	r.advance()
	return r, nil
}

// close removes the temporary file.
func (s *spool) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	s.f = nil
	return err
}

// spoolReader hands out the comments of increasing frame numbers.
type spoolReader struct {
	r       *bufio.Reader
	late    map[int][]string
	frame   int // frame of the comment read ahead; 0 at the end
	comment string
	err     error
}

// advance reads the next comment.
func (r *spoolReader) advance() {
	r.frame = 0
	f, err := binary.ReadUvarint(r.r)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		return
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		r.err = err
		return
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.err = err
		return
	}
	r.frame, r.comment = int(f), string(b)
}

// comments returns the comments of frame; frames must be asked in
// increasing order.
func (r *spoolReader) comments(frame int) ([]string, error) {
	var out []string
	if r.r != nil {
		for r.frame != 0 && r.frame < frame {
			r.advance()
		}
		for r.frame == frame && frame != 0 {
			out = append(out, r.comment)
			r.advance()
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("reading back the export's comments: %w", r.err)
	}
	return append(out, r.late[frame]...), nil
}
