package topics

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/mqtap/mqtap/decode/payload"
)

// Formats a Table and a History are written in.
const (
	Text = "text"
	JSON = "json"
	CSV  = "csv"
)

// tableColumns are the columns of the table in CSV and the keys of JSON.
var tableColumns = []string{"topic", "messages", "bytes", "first_time", "last_time", "format", "member", "min", "max", "mean", "last"}

// rows returns the table as rows of text: one per topic and member, one
// with the member and its statistics empty for a topic without one. times
// formats the first and last times.
func (t *Table) rows(times func(time.Time) string, num func(float64) string) [][]string {
	var out [][]string
	for _, tp := range t.order {
		s := tp.Stats()
		head := []string{tp.Name, strconv.Itoa(s.Messages), strconv.Itoa(s.Bytes), times(s.First), times(s.Last), s.Format.String()}
		if len(s.Members) == 0 {
			out = append(out, append(head, "", "", "", "", ""))
			continue
		}
		for _, m := range s.Members {
			row := append(append([]string(nil), head...), m.Path, num(m.Min), num(m.Max), num(m.Mean()), num(m.Last))
			out = append(out, row)
		}
	}
	return out
}

// WriteTable writes the table in format (Text, JSON or CSV).
func WriteTable(w io.Writer, format string, t *Table) error {
	switch format {
	case CSV:
		return writeCSV(w, tableColumns, t.rows(epoch, exact))
	case JSON:
		return writeJSONRows(w, tableColumns, t.rows(epoch, exact), 1, 2, 3, 4, 7, 8, 9, 10)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tMESSAGES\tBYTES\tFIRST\tLAST\tFORMAT\tMEMBER\tMIN\tMAX\tMEAN\tLAST")
	rows := t.rows(clock, short)
	for _, row := range rows {
		if row[6] == "" && row[7] != "" {
			row[6] = "(value)"
		}
		fmt.Fprintln(tw, join(row))
	}
	if len(rows) == 0 {
		fmt.Fprintln(tw, "no PUBLISH messages")
	}
	return tw.Flush()
}

// historyColumns are the columns of a history: frame, time, topic and the
// members.
func (h *History) columns() []string {
	return append([]string{"frame", "time", "topic"}, h.Members()...)
}

// rows returns the history as rows of text, empty where a message lacks a
// member.
func (h *History) rows(times func(time.Time) string, num func(float64) string) [][]string {
	members := h.Members()
	out := make([][]string, 0, len(h.Rows()))
	for _, r := range h.Rows() {
		row := []string{strconv.Itoa(r.Frame), times(r.Time), h.Topic}
		for _, p := range members {
			if v, ok := r.Values[p]; ok {
				row = append(row, num(v))
			} else {
				row = append(row, "")
			}
		}
		out = append(out, row)
	}
	return out
}

// WriteHistory writes the history in format (Text, JSON or CSV).
func WriteHistory(w io.Writer, format string, h *History) error {
	cols := h.columns()
	switch format {
	case CSV:
		return writeCSV(w, cols, h.rows(epoch, exact))
	case JSON:
		numeric := []int{0, 1}
		for i := 3; i < len(cols); i++ {
			numeric = append(numeric, i)
		}
		return writeJSONRows(w, cols, h.rows(epoch, exact), numeric...)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := append([]string(nil), cols...)
	for i := range head[3:] {
		if head[3+i] == "" {
			head[3+i] = "(value)"
		}
	}
	fmt.Fprintln(tw, join(head))
	for _, row := range h.rows(clock, short) {
		fmt.Fprintln(tw, join(row))
	}
	if len(h.Rows()) == 0 {
		fmt.Fprintf(tw, "no PUBLISH on %s\n", h.Topic)
	}
	return tw.Flush()
}

func join(row []string) string {
	s := ""
	for i, c := range row {
		if i > 0 {
			s += "\t"
		}
		if c == "" {
			c = "-"
		}
		s += c
	}
	return s
}

func writeCSV(w io.Writer, cols []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}

// writeJSONRows writes rows as a JSON array of objects keyed by cols in
// their order; the columns numeric holds are numbers (null when empty),
// the others strings.
func writeJSONRows(w io.Writer, cols []string, rows [][]string, numeric ...int) error {
	isNum := map[int]bool{}
	for _, i := range numeric {
		isNum[i] = true
	}
	b := []byte("[")
	for k, row := range rows {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n  {"...)
		for i, c := range cols {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = payload.AppendString(b, c)
			b = append(b, ": "...)
			switch {
			case !isNum[i]:
				b = payload.AppendString(b, row[i])
			case row[i] == "":
				b = append(b, "null"...)
			default: // a number, or NaN and the infinities already quoted
				b = append(b, row[i]...)
			}
		}
		b = append(b, '}')
	}
	if len(rows) > 0 {
		b = append(b, '\n')
	}
	b = append(b, "]\n"...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// exact formats a member value as the payload package writes numbers: the
// shortest text that reads back the same; NaN and the infinities, which
// JSON cannot hold, as the quoted strings "NaN", "Infinity", "-Infinity".
func exact(v float64) string { return string(payload.AppendFloat(nil, v, 64)) }

// short formats a member value for the text table: integers whole, other
// numbers to 10 significant digits.
func short(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

// epoch formats a time as seconds since 1970 with nine decimals, as
// frame.time_epoch; "" for none.
func epoch(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	ns := t.UnixNano()
	return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
}

// clock formats a time for the text table, UTC to the microsecond.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}
