// Opening another capture (:e FILE) without restarting: the command that
// started the UI opens the file (Options.Open), with the same keys and
// decode-as options, so that a bad path is a one-line error and the current
// capture stays; the UI then stops the current capture's background work,
// swaps to the new capture, which fills in the background, and closes the
// old one's spool.
//
// The swap waits until every goroutine the UI started for the old capture
// has ended (they read App.cap), then runs on the UI goroutine: the results
// those goroutines posted before they ended run before it, with the old
// capture.

package tui

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/mqtap/mqtap/tui/model"
)

// Opened is a capture file that Options.Open opened for :e.
type Opened struct {
	Capture *model.Capture
	// Fill reads the file into Capture until it ends or its context is
	// cancelled (as RunWhile's fill; the UI then calls Capture.Finish), and
	// closes the file when it returns. The UI always calls it.
	Fill func(context.Context) error
	// Save is what :w needs for this capture: its File and Pipeline
	// options (Keys and Application, when unset, stay those of
	// Options.Save).
	Save SaveConfig
}

// openState is the :e under way and the captures being filled.
type openState struct {
	switching string // the path :e is switching to, "" when none (UI goroutine)
	// paused keeps spawn from starting work while a switch waits for the
	// old capture's goroutines to end; guarded by App.mu.
	paused bool

	mu     sync.Mutex
	fills  []*fillRun      // every capture filled by the UI and not closed yet
	parent context.Context // the context fills run under (RunWhile's); nil: Background
}

// fillRun is one capture being filled in the background.
type fillRun struct {
	c      *model.Capture
	cancel context.CancelFunc
	done   chan struct{} // closed when the fill returned and the capture is finished
	owned  bool          // opened by :e: the UI closes it
	close  sync.Once
}

// startFill fills c in the background under parent with fill, then marks
// c finished with fill's error (a cancellation is not one).
func (a *App) startFill(parent context.Context, c *model.Capture, fill func(context.Context) error, owned bool) *fillRun {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	f := &fillRun{c: c, cancel: cancel, done: make(chan struct{}), owned: owned}
	o := &a.files.open
	o.mu.Lock()
	o.fills = append(o.fills, f)
	o.mu.Unlock()
	go func() {
		defer close(f.done)
		err := fill(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		c.Finish(err)
	}()
	return f
}

// stop cancels the fill, waits for it and, when close is set, closes the
// capture's spool.
func (f *fillRun) stop(close bool) {
	f.cancel()
	<-f.done
	if close {
		f.close.Do(func() { f.c.Close() })
	}
}

// fillOf returns the fill of c, nil when the UI does not fill it.
func (a *App) fillOf(c *model.Capture) *fillRun {
	o := &a.files.open
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.fills {
		if f.c == c {
			return f
		}
	}
	return nil
}

// dropFill forgets a fill that was stopped.
func (a *App) dropFill(f *fillRun) {
	o := &a.files.open
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, g := range o.fills {
		if g == f {
			o.fills = append(o.fills[:i], o.fills[i+1:]...)
			return
		}
	}
}

// endFills stops every fill when the UI ends and closes the captures the
// UI opened (:e) or switched away from; the capture the UI was started
// with stays open for its owner while it is shown.
func (a *App) endFills() {
	o := &a.files.open
	o.mu.Lock()
	fills := o.fills
	o.fills = nil
	o.mu.Unlock()
	for _, f := range fills {
		f.stop(f.owned || f.c != a.cap)
	}
}

// openCommand runs :e FILE.
func (a *App) openCommand(arg string) {
	switch {
	case a.opts.Open == nil:
		a.setError(":e is not available: this UI cannot open another capture")
		return
	case arg == "":
		a.setError(":e needs a capture file: :e FILE")
		return
	case a.files.open.switching != "":
		a.setError(":e: still opening " + a.files.open.switching)
		return
	}
	path := expandHome(arg)
	if strings.Contains(path, "://") || path == "-" {
		a.setError(":e opens a capture file, not " + path)
		return
	}
	opened, err := a.opts.Open(path)
	if err != nil {
		a.setError(":e " + err.Error())
		return
	}
	a.files.open.mu.Lock()
	parent := a.files.open.parent
	a.files.open.mu.Unlock()
	fill := a.startFill(parent, opened.Capture, opened.Fill, true)
	oldFill := a.fillOf(a.cap)

	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return // endFills closes the new capture
	}
	a.files.open.paused = true
	cancel := a.cancel
	a.mu.Unlock()
	cancel() // the old capture's background work ends
	a.files.open.switching = path
	a.setMessage("opening " + path + "…")
	go func() {
		a.wg.Wait()
		a.mu.Lock()
		stopping := a.stopping
		a.mu.Unlock()
		if stopping {
			return
		}
		// Queued after every result the old work posted: they run first.
		a.app.QueueUpdateDraw(func() { a.finishSwitch(opened, fill, path) })
		if oldFill != nil {
			oldFill.stop(true)
			a.dropFill(oldFill)
		}
	}()
}

// finishSwitch shows the capture :e opened, once the old capture's
// background work has ended: the list, marks and views start afresh, the
// display filter is applied again.
func (a *App) finishSwitch(opened Opened, fill *fillRun, path string) {
	a.files.open.switching = ""
	a.mu.Lock()
	a.files.open.paused = false
	if a.stopping {
		a.mu.Unlock()
		return
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.mu.Unlock()

	a.cap = opened.Capture
	save := opened.Save
	if save.Keys == nil {
		save.Keys = a.opts.Save.Keys
	}
	if save.Application == "" {
		save.Application = a.opts.Save.Application
	}
	a.opts.Save = save
	a.opts.Live, a.opts.Kernel, a.tail = false, nil, false
	a.files.save = saveState{}
	a.files.info.gen++
	a.marks.reset()
	a.cancelSearch()
	a.resetViews()

	expr := a.flt.expr
	a.stopFilterWork()
	a.flt.expr, a.flt.f, a.flt.sel, a.flt.covered = "", nil, nil, 0
	a.total, a.state, a.rowErr = 0, model.State{}, nil
	a.content.forget()
	a.clearRecord()
	a.list.Select(0, 0)
	a.list.SetOffset(0, 0)
	a.closeView()
	a.spawn(a.watch)
	a.refresh()
	if expr != "" {
		a.applyFilter(expr)
	}
	a.setMessage("opened " + path)
}

// resetViews drops what the views computed from the old capture; each
// view computes it again when it opens.
func (a *App) resetViews() {
	v := &a.views
	v.plotter, v.plotBusy = nil, false
	v.plotGen++
	v.stats.stats, v.stats.loading = nil, false
	v.statsGen++
	v.followGen++
	v.payloadRec = nil
	v.sessionData, v.findingData = nil, nil
}
