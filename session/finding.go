package session

import "strconv"

// Severity ranks findings.
type Severity uint8

// Finding severities, lowest first.
const (
	SevInfo Severity = iota
	SevLow
	SevMedium
	SevHigh
)

func (s Severity) String() string {
	switch s {
	case SevLow:
		return "low"
	case SevMedium:
		return "medium"
	case SevHigh:
		return "high"
	}
	return "info"
}

// Finding is something mqtap noticed about a packet or the stream around it.
type Finding struct {
	Code FindingCode
	Rule string // normative statement id, when there is one
	Text string // one sentence
	// Lower, when set, is this finding's severity where the evidence makes
	// it less severe than its code's: credentials the password file
	// rejects, a key-exchange message that carries no key at all. Zero
	// keeps the code's severity; a code's severity is never raised.
	Lower Severity
}

// Severity is the finding's severity: its code's, or Lower.
func (f Finding) Severity() Severity {
	s := f.Code.Severity()
	if f.Lower != SevInfo && f.Lower < s {
		return f.Lower
	}
	return s
}

// FindingCode identifies a kind of finding. Each code has one entry in the
// catalog: its stable name (DESIGN.md), severity, title and advice.
// Findings are raised by code, never by name.
type FindingCode uint8

// kind returns c's catalog entry (an empty one for a code not in it).
func (c FindingCode) kind() findingKind {
	if int(c) < len(catalog) {
		return catalog[c]
	}
	return findingKind{}
}

// String returns the code's stable name, as DESIGN.md lists it
// ("mqtt.malformed", "tcp.gap", ...): the name every output prints.
func (c FindingCode) String() string {
	if k := c.kind(); k.name != "" {
		return k.name
	}
	return "FindingCode(" + strconv.Itoa(int(c)) + ")"
}

// Severity returns the code's severity.
func (c FindingCode) Severity() Severity { return c.kind().severity }

// Title returns the code's title, a short phrase.
func (c FindingCode) Title() string { return c.kind().title }

// Advice returns one sentence of advice on findings of the code.
func (c FindingCode) Advice() string { return c.kind().advice }
