// Saving (:w FILE, :w! FILE, :w marked FILE): the packets of the list, or
// the M-marked ones, written as pcapng with the comments and TLS secrets of
// mqtap export. The export's first pass is not run again: the model already
// has every record's frame, connection, type and decryption results, and
// feeds them to the export's Collector; the export then re-reads the
// capture file to find the frames the packets depend on and copy them.

package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mqtap/mqtap/keys"
	"github.com/mqtap/mqtap/pcaps"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/sink/export"
	"github.com/mqtap/mqtap/tui/model"
)

// SaveConfig is what :w needs besides the model: the capture file the
// records came from, read again to copy their frames, and how mqtap read
// it.
type SaveConfig struct {
	// File is the capture file (a live capture's -w file); "" when there
	// is none (a live capture without -w, a broker, standard input).
	File string
	// Pipeline are the options the records were made with (the -d ports,
	// the keys for TLS), for the export's pass that finds the frames each
	// packet depends on.
	Pipeline session.Options
	// Keys are the --keys, whose TLS key logs go into the file as a
	// Decryption Secrets Block.
	Keys *keys.Store
	// Application names the writer in the file's section header
	// ("mqtap VERSION").
	Application string
}

// fileState is the state of :w, :e and :info.
type fileState struct {
	save saveState
	open openState
	info infoState
}

// saveState is the :w being written.
type saveState struct {
	running bool
	path    string
}

// writeRequest is one :w: what to write and where.
type writeRequest struct {
	cfg    SaveConfig
	cap    *model.Capture
	n      int   // records the export's first pass sees (the list's total)
	sel    []int // record indices to write, sorted; nil: every record
	path   string
	dst    *export.File
	marked bool
}

// writeCommand runs :w [marked] FILE (force: :w!, which overwrites FILE).
func (a *App) writeCommand(arg string, force bool) {
	name := ":w"
	if force {
		name = ":w!"
	}
	marked := false
	if rest, ok := strings.CutPrefix(arg, "marked"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		marked, arg = true, strings.TrimSpace(rest)
	}
	if arg == "" {
		a.setError(name + " needs a file name: " + name + " FILE (the packets shown) or " + name + " marked FILE (the M-marked ones)")
		return
	}
	req, err := a.newWriteRequest(name, arg, force, marked)
	if err != nil {
		a.setError(err.Error())
		return
	}
	a.files.save = saveState{running: true, path: req.path}
	a.setMessage("writing " + req.path + "…")
	ctx := a.ctx
	if !a.spawn(func() { a.runWrite(ctx, req) }) {
		req.dst.Abort()
		a.files.save = saveState{}
	}
}

// newWriteRequest checks a :w and opens its destination.
func (a *App) newWriteRequest(name, arg string, force, marked bool) (*writeRequest, error) {
	cfg := a.opts.Save
	switch {
	case a.files.save.running:
		return nil, fmt.Errorf("%s: still writing %s", name, a.files.save.path)
	case cfg.File == "" && a.opts.Live:
		return nil, fmt.Errorf("%s needs a capture file: this live capture keeps none (start it with -w FILE to keep one)", name)
	case cfg.File == "":
		return nil, fmt.Errorf("%s needs a capture file to copy the frames from; this source has none", name)
	}
	req := &writeRequest{cfg: cfg, cap: a.cap, n: a.total, path: expandHome(arg), marked: marked}
	switch {
	case marked:
		req.sel = a.markedRecords()
		if len(req.sel) == 0 {
			return nil, fmt.Errorf("%s marked: no packet is marked (M marks the selected one)", name)
		}
	case a.flt.sel != nil:
		req.sel = a.flt.sel[:len(a.flt.sel):len(a.flt.sel)]
	}
	if req.sel != nil && len(req.sel) == 0 || req.n == 0 {
		return nil, fmt.Errorf("%s: no packet shown, nothing to write", name)
	}
	if req.sel != nil && req.sel[len(req.sel)-1] >= req.n {
		req.n = req.sel[len(req.sel)-1] + 1
	}
	if !force {
		if _, err := os.Lstat(req.path); err == nil {
			return nil, fmt.Errorf("%s exists (:w! overwrites it)", req.path)
		}
	}
	dst, err := export.Create(req.path, cfg.File, nil)
	if err != nil {
		return nil, err
	}
	req.dst = dst
	return req, nil
}

// runWrite writes a :w in the background and says on the status line how
// many frames it wrote.
func (a *App) runWrite(ctx context.Context, req *writeRequest) {
	st, packets, err := writeExport(ctx, req, func(done int) {
		a.post(func() {
			if a.files.save.running && a.files.save.path == req.path {
				a.setMessage(fmt.Sprintf("writing %s: %d%% of the index read…", req.path, done*100/max(req.n, 1)))
			}
		})
	}, func() {
		a.post(func() { a.setMessage("writing " + req.path + ": copying the frames…") })
	})
	a.post(func() {
		a.files.save = saveState{}
		switch {
		case errors.Is(err, context.Canceled):
			a.setError(":w " + req.path + ": cancelled")
		case err != nil:
			a.setError(":w " + req.path + ": " + err.Error())
		default:
			a.setMessage(writeSummary(req, st, packets))
		}
	})
}

// writeSummary is the status line of a :w that succeeded.
func writeSummary(req *writeRequest, st export.Stats, packets int) string {
	what := "MQTT packets"
	if req.marked {
		what = "marked MQTT packets"
	}
	msg := fmt.Sprintf("wrote %d frames (%d %s) to %s", st.Frames, packets, what, req.path)
	if st.Truncated {
		msg += "; the capture file is truncated"
	}
	if st.ChainCut > 0 || st.HolesLost > 0 {
		msg += "; limits reached: Wireshark may lose the MQTT framing of some connections"
	}
	return msg
}

// writeExport makes the export of a :w: the model feeds the Collector
// (reporting each chunk of records read to progress), then the export
// re-reads the capture file (copying is called before). It returns the
// export's statistics and the number of MQTT packets selected; the
// destination is committed, or removed on error.
func writeExport(ctx context.Context, req *writeRequest, progress func(done int), copying func()) (export.Stats, int, error) {
	col := export.NewCollector(nil)
	defer col.Close()
	var selected bool
	if req.sel != nil {
		col.Select = func(*session.Record) bool { return selected }
	}
	next := 0 // position in req.sel
	var last time.Time
	err := req.cap.ExportRecords(ctx, req.n, func(i int, r *session.Record) {
		if req.sel != nil {
			selected = next < len(req.sel) && req.sel[next] == i
			if selected {
				next++
			}
		}
		col.Observe(r)
	}, func(done int) {
		if progress != nil && time.Since(last) > 100*time.Millisecond {
			last = time.Now()
			progress(done)
		}
	})
	if err != nil {
		req.dst.Abort()
		return export.Stats{}, 0, err
	}
	if copying != nil {
		copying()
	}
	opts := export.Options{Pipeline: req.cfg.Pipeline, Context: ctx,
		Info: pcaps.WriterInfo{Application: req.cfg.Application, Comment: "mqtap tui :w of " + filepath.Base(req.cfg.File)}}
	st, err := export.Write(req.cfg.File, req.dst, col, opts, req.cfg.Keys, false)
	return st, col.Selected(), err
}

// expandHome expands a leading ~/ to the home directory.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}
