package session

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
	Code     string // stable code, see DESIGN.md ("mqtt.malformed", "tcp.gap", ...)
	Severity Severity
	Rule     string // normative statement id, when there is one
	Text     string // one sentence
}
