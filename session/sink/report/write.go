package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// WriteJSON writes the report of file as one JSON object: the file, the
// count per code (summary) and the findings.
func (rep *Report) WriteJSON(w io.Writer, file string) error {
	entries := rep.Entries()
	if entries == nil {
		entries = []*Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		File     string         `json:"file"`
		Summary  map[string]int `json:"summary"`
		Findings []*Entry       `json:"findings"`
	}{file, rep.Summary(), entries})
}

// WriteText writes the report of file as text: a count per severity, each
// finding with where it was seen, its explanation and advice, and the count
// per code.
func (rep *Report) WriteText(w io.Writer, file string) error {
	entries := rep.Entries()
	bySev := map[string]int{}
	for _, e := range entries {
		bySev[e.Severity] += e.Count
	}
	total := 0
	for _, n := range bySev {
		total += n
	}
	fmt.Fprintf(w, "%s: %d findings (%d high, %d medium, %d low, %d info)\n", file, total, bySev["high"], bySev["medium"], bySev["low"], bySev["info"])
	for _, e := range entries {
		fmt.Fprintf(w, "\n%-6s %s: %s\n", strings.ToUpper(e.Severity), e.Code, e.Title)
		var where []string
		if len(e.Frames) > 0 {
			fr := make([]string, len(e.Frames))
			for i, n := range e.Frames {
				fr[i] = strconv.Itoa(n)
			}
			s := "frames " + strings.Join(fr, ",")
			if e.Count > len(e.Frames) {
				s += fmt.Sprintf(" (%d times in all)", e.Count)
			}
			where = append(where, s)
		}
		if len(e.Clients) > 0 {
			where = append(where, "client "+strings.Join(e.Clients, ", "))
		}
		if len(where) > 0 {
			fmt.Fprintf(w, "       %s\n", strings.Join(where, "; "))
		}
		text := e.Text
		if e.Rule != "" {
			text += " (" + e.Rule + ")"
		}
		fmt.Fprintf(w, "       %s\n       advice: %s\n", text, e.Advice)
	}
	sum := rep.Summary()
	if len(sum) == 0 {
		_, err := fmt.Fprintln(w, "\nno findings")
		return err
	}
	codes := make([]string, 0, len(sum))
	for c := range sum {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	fmt.Fprintln(w, "\nSummary")
	for _, c := range codes {
		fmt.Fprintf(w, "  %-36s %d\n", c, sum[c])
	}
	return nil
}
