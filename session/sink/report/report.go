// Package report collects the findings of a capture into one security
// report.
//
// # Entries
//
// Every finding of the analysis chain (the decoder's, the key exchanges',
// the keyring schemes' and the broker audit's, package audit) becomes an
// entry with the severity, title and advice of its code in the finding
// catalog (session.FindingCode). The same finding (code and explanation)
// about several clients is one entry, with the frames it was seen in.
package report

import (
	"slices"
	"sort"

	"github.com/mqtap/mqtap/session"
)

// maxFrames is how many frame numbers an entry lists; Count has them all.
const maxFrames = 50

// Entry is one finding of the report: identical findings about the same
// client are merged, with the frames they were seen in.
type Entry struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Title    string   `json:"title"`
	Text     string   `json:"explanation"`
	Advice   string   `json:"advice"`
	Rule     string   `json:"rule,omitempty"`
	Frames   []int    `json:"frames"`
	Count    int      `json:"count"`
	Clients  []string `json:"clients"`

	sev session.Severity
}

// Report collects findings.
type Report struct {
	entries []*Entry
	index   map[entryKey]*Entry
}

// entryKey identifies an entry: the same finding about several clients.
type entryKey struct {
	code session.FindingCode
	text string
}

// New returns an empty report.
func New() *Report {
	return &Report{index: make(map[entryKey]*Entry)}
}

// Add records a finding seen in frames, about the given clients. The same
// finding (code and explanation) about several clients is one entry.
func (r *Report) Add(f session.Finding, frames []int, clients []string) {
	key := entryKey{f.Code, f.Text}
	e := r.index[key]
	if e == nil {
		sev := f.Severity()
		e = &Entry{Code: f.Code.String(), sev: sev, Severity: sev.String(), Title: f.Code.Title(), Text: f.Text,
			Advice: f.Code.Advice(), Rule: f.Rule, Clients: []string{}}
		r.index[key] = e
		r.entries = append(r.entries, e)
	}
	for _, c := range clients {
		if !slices.Contains(e.Clients, c) {
			e.Clients = append(e.Clients, c)
		}
	}
	for _, fr := range frames {
		e.Count++
		if len(e.Frames) < maxFrames {
			i, _ := slices.BinarySearch(e.Frames, fr)
			e.Frames = slices.Insert(e.Frames, i, fr)
		}
	}
	if len(frames) == 0 {
		e.Count++
	}
}

// Observe adds a record's findings, about client (the audit names it).
// Call it after the analysis chain, the audit included, has annotated the
// record.
func (r *Report) Observe(rec *session.Record, client string) {
	for _, f := range rec.Findings {
		if rec.Crypto.Copy && !aboutPacket(f.Code) {
			continue // reported with the publisher's copy of the message
		}
		r.Add(f, []int{rec.Frame}, []string{client})
	}
}

// aboutPacket reports whether findings of code are about the packet that
// carries them (the decoder's and the audit's), not about the message: a
// broker's copy of a message repeats the publisher's findings about the
// message.
func aboutPacket(code session.FindingCode) bool {
	switch code {
	case session.MQTTMalformed, session.MQTTProtocolViolation, session.MQTTResync, session.TCPGap,
		session.AuthCleartextCredentials, session.AuthAnonymousSubscription, session.ACLViolation:
		return true
	}
	return false
}

// Entries returns the findings, most severe first, then by first frame.
func (r *Report) Entries() []*Entry {
	out := append([]*Entry(nil), r.entries...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].sev != out[j].sev {
			return out[i].sev > out[j].sev
		}
		return first(out[i]) < first(out[j])
	})
	return out
}

func first(e *Entry) int {
	if len(e.Frames) == 0 {
		return 1 << 62
	}
	return e.Frames[0]
}

// Summary counts occurrences per code.
func (r *Report) Summary() map[string]int {
	s := make(map[string]int)
	for _, e := range r.entries {
		s[e.Code] += e.Count
	}
	return s
}
