package connections

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Columns are the table's columns, as the text and CSV outputs and the
// terminal UI title them.
var Columns = []string{"Stream", "Client ID", "User", "Version", "Client", "Broker", "Transport", "End",
	"Pkts C→B", "Pkts B→C", "Frames C→B", "Bytes C→B", "Frames B→C", "Bytes B→C", "Start", "Duration", "Findings"}

// Column indexes of Columns.
const (
	ColStream = iota
	ColClientID
	ColUser
	ColVersion
	ColClient
	ColBroker
	ColTransport
	ColEnd
	ColPktsToBroker
	ColPktsToClient
	ColFramesToBroker
	ColBytesToBroker
	ColFramesToClient
	ColBytesToClient
	ColStart
	ColDuration
	ColFindings
	NumCols
)

// Numeric reports whether column col holds numbers (right-aligned).
func Numeric(col int) bool {
	return col == ColStream || col >= ColPktsToBroker && col <= ColDuration
}

// Cell returns the text of column col of c, as the text output and the
// terminal UI show it ("-" for an empty text).
func (c *Conn) Cell(col int) string {
	switch col {
	case ColStream:
		return strconv.Itoa(c.Stream)
	case ColClientID:
		return dash(c.ClientID)
	case ColUser:
		return dash(c.UserName)
	case ColVersion:
		return dash(c.Version)
	case ColClient:
		return addr(c.Client)
	case ColBroker:
		return addr(c.Broker)
	case ColTransport:
		return c.Transport
	case ColEnd:
		return c.EndText()
	case ColPktsToBroker, ColPktsToClient:
		return strconv.Itoa(c.Packets[col-ColPktsToBroker])
	case ColFramesToBroker, ColFramesToClient:
		return strconv.Itoa(c.Frames[(col-ColFramesToBroker)/2])
	case ColBytesToBroker, ColBytesToClient:
		return strconv.FormatInt(c.Bytes[(col-ColBytesToBroker)/2], 10)
	case ColStart:
		return seconds(c.Relative)
	case ColDuration:
		return seconds(c.Duration)
	case ColFindings:
		return dash(c.FindingsText("×", ", "))
	}
	return ""
}

// FindingsText joins the finding codes with their counts: code, sep,
// count, joined by join.
func (c *Conn) FindingsText(sep, join string) string {
	parts := make([]string, len(c.Findings))
	for i, f := range c.Findings {
		parts[i] = f.Code + sep + strconv.Itoa(f.Count)
	}
	return strings.Join(parts, join)
}

// dash returns s, or "-" when it is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// addr returns an address as text, "-" when unknown.
func addr(a netip.AddrPort) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// seconds formats a duration in seconds with six decimals, as tshark's
// conversations do.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}

// Note is the line that says what frames and bytes count, for the text
// output and the UI's help.
const Note = "Pkts: MQTT control packets; Frames and Bytes: every TCP frame of the connection and its length on the wire (frame.len), as tshark -z conv,tcp counts them"

// Write writes the connections as an aligned table (format "text"), a
// JSON array ("json") or CSV with a header ("csv"). omitted is the number
// of connections past the table's cap (Table.Omitted), which the text
// output mentions.
func Write(w io.Writer, format string, conns []Conn, omitted int) error {
	return WriteSeq(w, format, func(yield func(*Conn) bool) {
		for i := range conns {
			if !yield(&conns[i]) {
				return
			}
		}
	}, omitted)
}

// WriteSeq is Write for the connections a sequence yields (Table.All),
// so that a large table is written without a copy of its rows.
func WriteSeq(w io.Writer, format string, conns iter.Seq[*Conn], omitted int) error {
	switch format {
	case "json":
		return writeJSON(w, conns)
	case "csv":
		return writeCSV(w, conns)
	case "text":
		return writeText(w, conns, omitted)
	}
	return fmt.Errorf("unknown output format %q for the connections: use text, json or csv", format)
}

// All yields the connections (as Rows with final makes them) that keep
// accepts (nil: all), in a Conn reused from one to the next.
func (t *Table) All(final bool, keep func(*Conn) bool) iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		var c Conn
		for i := range t.n {
			c = t.row(i, final)
			if (keep == nil || keep(&c)) && !yield(&c) {
				return
			}
		}
	}
}

// writeText writes the aligned table, a note on what the counts count
// and the cap's note.
func writeText(w io.Writer, conns iter.Seq[*Conn], omitted int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := make([]string, NumCols)
	for i, h := range Columns {
		head[i] = strings.ToUpper(h)
	}
	n := 0
	cells := make([]string, NumCols)
	for c := range conns {
		if n == 0 {
			fmt.Fprintln(tw, strings.Join(head, "\t"))
		}
		n++
		for col := range cells {
			cells[col] = c.Cell(col)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if n == 0 {
		_, err := fmt.Fprintln(w, "no MQTT connections found")
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, Note+".")
	if omitted > 0 {
		fmt.Fprintf(w, "%d more MQTT connections past the first %d are not listed.\n", omitted, n)
	}
	return nil
}

// connJSON is a connection as the JSON output writes it: stable snake_case
// keys, times in seconds.
type connJSON struct {
	Stream         int       `json:"stream"`
	ClientID       string    `json:"client_id"`
	UserName       string    `json:"user_name"`
	Version        string    `json:"version"`
	Client         string    `json:"client"`
	Broker         string    `json:"broker"`
	Transport      string    `json:"transport"`
	PktsToBroker   int       `json:"packets_to_broker"`
	PktsToClient   int       `json:"packets_to_client"`
	FramesToBroker int       `json:"frames_to_broker"`
	BytesToBroker  int64     `json:"bytes_to_broker"`
	FramesToClient int       `json:"frames_to_client"`
	BytesToClient  int64     `json:"bytes_to_client"`
	Start          string    `json:"start"`
	RelativeStart  float64   `json:"relative_start"`
	Duration       float64   `json:"duration"`
	KeepAlive      int       `json:"keep_alive"`
	End            string    `json:"end"`
	EndBy          string    `json:"end_by"`
	EndReason      string    `json:"end_reason"`
	EndFrame       int       `json:"end_frame"`
	Reset          bool      `json:"reset"`
	Frame          int       `json:"first_frame"`
	Findings       []Finding `json:"findings"`
}

// toJSON makes the JSON object of a connection.
func toJSON(c *Conn) connJSON {
	f := c.Findings
	if f == nil {
		f = []Finding{}
	}
	return connJSON{Stream: c.Stream, ClientID: c.ClientID, UserName: c.UserName, Version: c.Version,
		Client: addrOrEmpty(c.Client.IsValid(), c.Client.String()), Broker: addrOrEmpty(c.Broker.IsValid(), c.Broker.String()),
		Transport: c.Transport, PktsToBroker: c.Packets[ToBroker], PktsToClient: c.Packets[ToClient],
		FramesToBroker: c.Frames[ToBroker], BytesToBroker: c.Bytes[ToBroker], FramesToClient: c.Frames[ToClient], BytesToClient: c.Bytes[ToClient],
		Start: c.Start.UTC().Format(time.RFC3339Nano), RelativeStart: c.Relative.Seconds(), Duration: c.Duration.Seconds(),
		KeepAlive: c.KeepAlive, End: c.End, EndBy: c.EndBy, EndReason: c.EndReason, EndFrame: c.EndFrame, Reset: c.Reset,
		Frame: c.Frame, Findings: f}
}

// addrOrEmpty returns s when ok, else "".
func addrOrEmpty(ok bool, s string) string {
	if !ok {
		return ""
	}
	return s
}

// writeJSON writes an indented JSON array, one connection at a time.
func writeJSON(w io.Writer, conns iter.Seq[*Conn]) error {
	sep := "[\n  "
	for c := range conns {
		b, err := json.MarshalIndent(toJSON(c), "  ", "  ")
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sep = ",\n  "
	}
	end := "\n]\n"
	if sep[0] == '[' {
		end = "[]\n"
	}
	_, err := io.WriteString(w, end)
	return err
}

// csvHeader is the CSV output's header: the JSON keys.
var csvHeader = []string{"stream", "client_id", "user_name", "version", "client", "broker", "transport",
	"packets_to_broker", "packets_to_client", "frames_to_broker", "bytes_to_broker", "frames_to_client", "bytes_to_client",
	"start", "relative_start", "duration", "keep_alive", "end", "end_by", "end_reason", "end_frame", "reset", "first_frame", "findings"}

// writeCSV writes the header and one line per connection; findings are
// code:count pairs joined by ";".
func writeCSV(w io.Writer, conns iter.Seq[*Conn]) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	for c := range conns {
		j := toJSON(c)
		cw.Write([]string{strconv.Itoa(j.Stream), j.ClientID, j.UserName, j.Version, j.Client, j.Broker, j.Transport,
			strconv.Itoa(j.PktsToBroker), strconv.Itoa(j.PktsToClient), strconv.Itoa(j.FramesToBroker), strconv.FormatInt(j.BytesToBroker, 10),
			strconv.Itoa(j.FramesToClient), strconv.FormatInt(j.BytesToClient, 10), j.Start, seconds(c.Relative), seconds(c.Duration),
			strconv.Itoa(j.KeepAlive), j.End, j.EndBy, j.EndReason, strconv.Itoa(j.EndFrame), strconv.FormatBool(j.Reset), strconv.Itoa(j.Frame),
			c.FindingsText(":", ";")})
	}
	cw.Flush()
	return cw.Error()
}
