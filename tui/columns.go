// Packet list columns: the built-in ones and columns of any field name
// mqtap read -e takes (:columns, a on a detail line), whose cells are the
// field's values as -T fields prints them; and the detail tree's a, f and
// F, which turn the selected line's field into a column or a filter.

package tui

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rivo/tview"

	"github.com/mqtap/mqtap/decode"
	"github.com/mqtap/mqtap/decode/payload"
	"github.com/mqtap/mqtap/session"
	"github.com/mqtap/mqtap/session/filter"
	"github.com/mqtap/mqtap/session/sink/output"
	"github.com/mqtap/mqtap/tui/model"
)

// colCustom is the kind of a column of a field (after the built-in kinds
// colNo ... colInfo).
const colCustom = numCols

// customWidth is the widest a field column gets, in characters.
const customWidth = 40

// column is one column of the packet list after the mark column.
type column struct {
	kind  int    // colNo ... colInfo, or colCustom
	field string // the field of a colCustom column
	title string // "": the built-in title, or the field name
}

// builtinNames name the built-in columns in the configuration file.
var builtinNames = map[int]string{
	colNo: "no", colTime: "time", colSrc: "source", colDst: "destination", colType: "type", colLen: "length", colInfo: "info",
}

// defaultColumns returns the packet list's default columns.
func defaultColumns() []column {
	return []column{{kind: colNo}, {kind: colTime}, {kind: colSrc}, {kind: colDst}, {kind: colType}, {kind: colLen}, {kind: colInfo}}
}

// header returns the column's title.
func (c column) header() string {
	switch {
	case c.title != "":
		return c.title
	case c.kind == colCustom:
		return c.field
	}
	return columnTitles()[c.kind]
}

// describe names the column for :columns.
func (c column) describe() string {
	if c.kind == colCustom && c.title != "" && c.title != c.field {
		return c.title + "=" + c.field
	}
	return c.header()
}

// config returns the column as the configuration file holds it.
func (c column) config() ColumnConfig {
	if c.kind == colCustom {
		return ColumnConfig{Field: c.field, Title: c.title}
	}
	return ColumnConfig{Builtin: builtinNames[c.kind], Title: c.title}
}

// column checks a [[column]] and returns the column.
func (c ColumnConfig) column() (column, error) {
	switch {
	case c.Builtin != "" && c.Field != "":
		return column{}, errors.New("give builtin or field, not both")
	case c.Field != "":
		if err := checkColumnField(c.Field); err != nil {
			return column{}, err
		}
		return column{kind: colCustom, field: c.Field, title: c.Title}, nil
	case c.Builtin != "":
		for kind, name := range builtinNames {
			if strings.EqualFold(name, c.Builtin) {
				return column{kind: kind, title: c.Title}, nil
			}
		}
		return column{}, fmt.Errorf("unknown builtin column %q (no, time, source, destination, type, length, info)", c.Builtin)
	}
	return column{}, errors.New("no field (field = \"mqtt.topic\") nor builtin (builtin = \"time\")")
}

// checkColumnField says why a name cannot be a column: it must be a field
// name mqtap read -e takes.
func checkColumnField(name string) error {
	if !session.KnownField(name) {
		return fmt.Errorf("unknown field %q (a column takes any field name of mqtap read -e)", name)
	}
	return nil
}

// infoLast moves Info to the end of the columns, adding it when missing.
func infoLast(cols []column) []column {
	info := column{kind: colInfo}
	out := cols[:0:0]
	for _, c := range cols {
		if c.kind == colInfo {
			info = c
			continue
		}
		out = append(out, c)
	}
	return append(out, info)
}

// fieldColumns extracts the values of the field columns from a record, as
// mqtap read -T fields -e NAME prints them (one output writer per column,
// so that a tab in a value cannot shift the columns).
type fieldColumns struct {
	writers []*output.Writer // nil for a built-in column
	buf     bytes.Buffer
}

// newFieldColumns prepares the extraction of the field columns of cols.
func newFieldColumns(cols []column) *fieldColumns {
	fc := &fieldColumns{writers: make([]*output.Writer, len(cols))}
	for i, c := range cols {
		if c.kind != colCustom {
			continue
		}
		w, err := output.New(&fc.buf, output.Options{Format: output.Fields, FieldNames: []string{c.field}})
		if err == nil {
			fc.writers[i] = w
		}
	}
	return fc
}

// has reports whether there is a field column.
func (fc *fieldColumns) has() bool {
	for _, w := range fc.writers {
		if w != nil {
			return true
		}
	}
	return false
}

// values returns the cell text of each field column of a record ("" for
// the built-in columns), cut and escaped for tview.
func (fc *fieldColumns) values(r *session.Record) []string {
	vals := make([]string, len(fc.writers))
	for i, w := range fc.writers {
		if w == nil {
			continue
		}
		fc.buf.Reset()
		if w.Write(r) != nil || w.Flush() != nil {
			vals[i] = "?"
			continue
		}
		vals[i] = cellText(bytes.TrimSuffix(fc.buf.Bytes(), []byte("\n")))
	}
	return vals
}

// maxCellText is the most of a value a field column cell keeps, in bytes
// (the column shows customWidth characters of it).
const maxCellText = 256

// cellText returns a value as a cell shows it: cut to maxCellText bytes
// (at a character boundary, marked with "…"), control characters replaced,
// escaped for tview.
func cellText(v []byte) string {
	if len(v) > maxCellText {
		n := maxCellText
		for n > 0 && !utf8.RuneStart(v[n]) {
			n--
		}
		v = append(v[:n:n], "…"...)
	}
	return tview.Escape(sanitize(string(v)))
}

// rowExtra is what the packet list shows of a row beyond the model's Row:
// the colour rule that matched its record and its field columns' values.
type rowExtra struct {
	rule   *colorRule
	values []string
	err    error
}

// maxExtras bounds the memo of rowExtra (rows on screen, a few pages).
const maxExtras = 2048

// extraMemo memoizes the rowExtra of records, which never change: it is
// dropped when the columns, the colour rules or the capture change.
type extraMemo struct {
	cap    *model.Capture
	rows   map[int]*rowExtra
	fields *fieldColumns
}

// forgetAll drops the memo of the rows' records (the columns, rules or
// theme changed) and the one-row memo.
func (l *listContent) forgetAll() {
	l.extras = extraMemo{}
	l.forget()
}

// extra returns the rowExtra of record idx, decoding the record when a
// colour rule or a field column needs it.
func (l *listContent) extra(idx int) *rowExtra {
	cs := &l.a.cfg
	m := &l.extras
	if m.cap != l.a.cap || m.rows == nil || m.fields == nil || len(m.rows) >= maxExtras {
		if m.cap != l.a.cap || m.fields == nil {
			m.fields = newFieldColumns(cs.cols)
		}
		m.cap, m.rows = l.a.cap, make(map[int]*rowExtra, 64)
	}
	if e, ok := m.rows[idx]; ok {
		return e
	}
	e := &rowExtra{}
	if len(cs.rules) > 0 || m.fields.has() {
		r, err := l.a.cap.Record(idx)
		if err != nil {
			e.err = err
		} else {
			e.rule = matchRule(cs.rules, r)
			if m.fields.has() {
				e.values = m.fields.values(r)
			}
		}
	}
	m.rows[idx] = e
	return e
}

// columnsCommand runs :columns: with no argument it lists the columns,
// numbered; add FIELD [TITLE], remove N and reset change them and write
// them to the configuration file.
func (a *App) columnsCommand(arg string) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	rest = strings.TrimSpace(rest)
	switch verb {
	case "", "list":
		a.setMessage("columns: " + a.listColumns() + " (:columns add FIELD [TITLE], remove N, reset)")
	case "add":
		field, title, _ := strings.Cut(rest, " ")
		a.addColumn(field, strings.Trim(strings.TrimSpace(title), `"'`))
	case "remove", "rm", "delete", "del":
		a.removeColumn(rest)
	case "reset":
		a.cfg.cols = defaultColumns()
		a.columnsChanged("columns reset to the defaults")
	default:
		a.setError(":columns " + verb + ": use :columns, :columns add FIELD [TITLE], :columns remove N or :columns reset")
	}
}

// listColumns returns the columns numbered as :columns remove takes them.
func (a *App) listColumns() string {
	parts := make([]string, len(a.cfg.cols))
	for i, c := range a.cfg.cols {
		parts[i] = strconv.Itoa(i+1) + " " + c.describe()
	}
	return strings.Join(parts, ", ")
}

// addColumn adds a column of a field before Info.
func (a *App) addColumn(field, title string) {
	if field == "" {
		a.setError(":columns add needs a field name, e.g. :columns add mqtt.topic Topic")
		return
	}
	if err := checkColumnField(field); err != nil {
		a.setError(err.Error())
		return
	}
	cols := a.cfg.cols
	c := column{kind: colCustom, field: field, title: title}
	n := len(cols) - 1 // before Info, which is last
	a.cfg.cols = append(append(append([]column(nil), cols[:n]...), c), cols[n:]...)
	a.columnsChanged(fmt.Sprintf("added column %d %s", n+1, c.describe()))
}

// removeColumn removes column N (as :columns numbers them).
func (a *App) removeColumn(arg string) {
	n, err := strconv.Atoi(arg)
	cols := a.cfg.cols
	if err != nil || n < 1 || n > len(cols) {
		a.setError(":columns remove needs a column number from 1 to " + strconv.Itoa(len(cols)) + " (:columns lists them)")
		return
	}
	if cols[n-1].kind == colInfo {
		a.setError("Info is always the last column; it cannot be removed")
		return
	}
	c := cols[n-1]
	a.cfg.cols = append(append([]column(nil), cols[:n-1]...), cols[n:]...)
	a.columnsChanged(fmt.Sprintf("removed column %d %s", n, c.describe()))
}

// columnsChanged redraws the list with the new columns and writes them to
// the configuration file.
func (a *App) columnsChanged(what string) {
	a.content.forgetAll()
	row, _ := a.list.GetOffset()
	a.list.SetOffset(row, 0) // the same rows, from the first column
	where, ok := a.autosave()
	if ok {
		a.setMessage(what + "; " + where)
	} else {
		a.setError(what + "; " + where)
	}
}

// maxFilterValue is the longest value literal f and F put in a filter.
const maxFilterValue = 4096

// selectedField returns the nodeRef of the selected detail line, which
// must show a field.
func (a *App) selectedField() (*nodeRef, error) {
	n := a.tree.GetCurrentNode()
	if n == nil {
		return nil, errors.New("no detail line selected")
	}
	ref, ok := n.GetReference().(*nodeRef)
	if !ok || ref.field == "" {
		return nil, errors.New("this line has no field")
	}
	return ref, nil
}

// lineFilter returns the display filter that matches the selected detail
// line's value: FIELD == value, or FIELD alone for a line without a value.
func (a *App) lineFilter() (string, error) {
	ref, err := a.selectedField()
	if err != nil {
		return "", err
	}
	lit := ref.lit
	if ref.val != nil {
		lit = fieldLiteral(ref.val)
	}
	if len(lit) > maxFilterValue {
		return "", fmt.Errorf("the value of %s is too long for a filter (%d characters): type one with / (e.g. %s contains …)", ref.field, len(lit), ref.field)
	}
	expr := ref.field
	if lit != "" {
		expr += " == " + lit
	}
	if _, err := filter.Compile(expr); err != nil {
		return "", fmt.Errorf("cannot filter on this line (%s): %w", expr, err)
	}
	return expr, nil
}

// treeAddColumn adds the selected detail line's field as a column (a).
func (a *App) treeAddColumn() {
	ref, err := a.selectedField()
	if err == nil {
		err = checkColumnField(ref.field)
	}
	if err != nil {
		a.setError(err.Error())
		return
	}
	a.addColumn(ref.field, "")
}

// treeApplyFilter applies FIELD == value of the selected detail line as the
// display filter (f).
func (a *App) treeApplyFilter() {
	expr, err := a.lineFilter()
	if err != nil {
		a.setError(err.Error())
		return
	}
	a.applyFilter(expr)
}

// treePrepareFilter puts FIELD == value of the selected detail line in the
// filter bar, to edit before Enter applies it (F).
func (a *App) treePrepareFilter() {
	expr, err := a.lineFilter()
	if err != nil {
		a.setError(err.Error())
		return
	}
	a.filter.SetText(expr)
	a.focusFilter()
}

// fieldLiteral returns a field's value as a display filter literal, "" for
// a field without a value (a subtree heading).
func fieldLiteral(f *decode.Field) string {
	switch f.Kind {
	case decode.KindUint:
		return strconv.FormatUint(f.Uint, 10)
	case decode.KindBool:
		if f.Uint != 0 {
			return "True"
		}
		return "False"
	case decode.KindString:
		return quote(string(f.Bytes))
	case decode.KindBytes:
		return bytesLiteral(f.Bytes)
	case session.KindNumber:
		return string(f.Bytes)
	case session.KindJSON:
		return jsonLiteral(f.Bytes)
	}
	return ""
}

// bytesLiteral returns bytes as a display filter byte string (7b:22).
func bytesLiteral(b []byte) string {
	if len(b) == 0 {
		return `""`
	}
	s := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			s = append(s, ':')
		}
		s = hex.AppendEncode(s, []byte{c})
	}
	return string(s)
}

// jsonLiteral returns a decoded value's scalar as a display filter
// literal, "" for an object, an array or null (their presence is tested).
func jsonLiteral(v []byte) string {
	switch payload.KindOf(v) {
	case payload.KindString:
		return quote(payload.Unquote(v))
	case payload.KindNumber:
		return string(v)
	case payload.KindBool:
		if v[0] == 't' {
			return "True"
		}
		return "False"
	}
	return ""
}

// valueMember returns the field name of a member of a decoded value, from
// its parent's (mqtap.value...) and its name in payload.Tree ("[i]" for an
// array's element); "" when the member cannot be named (a name with a dot
// or a space).
func valueMember(parent, name string) string {
	if parent == "" || name == "" {
		return ""
	}
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	if strings.ContainsAny(name, ". \t\"\\") {
		return ""
	}
	return parent + "." + name
}

// timeLiteral returns a time as seconds since the epoch, a display filter
// literal of frame.time_epoch.
func timeLiteral(ns int64) string {
	neg := ""
	if ns < 0 {
		neg, ns = "-", -ns
	}
	return fmt.Sprintf("%s%d.%09d", neg, ns/1e9, ns%1e9)
}

// textRef returns the nodeRef of a detail line showing a text field of the
// record.
func textRef(f *session.RecordField, value string) nodeRef {
	return nodeRef{field: f.Name, lit: quote(value)}
}

// packetFieldValue returns the value of an MQTT packet field's line for a
// filter: the field, except the password (whose line tests its presence,
// so that a filter does not show it).
func packetFieldValue(f *decode.Field) *decode.Field {
	if f.Name == "mqtt.passwd" {
		return nil
	}
	return f
}

// addrRefs returns the nodeRefs of the Source and Destination lines: the
// IP addresses (ip.src, ip.dst or ipv6.src, ipv6.dst); no field for a
// packet received from a broker.
func addrRefs(r *session.Record) (src, dst nodeRef) {
	if r.Direct || !r.Src.IsValid() {
		return nodeRef{}, nodeRef{}
	}
	if r.IPv6() {
		return nodeRef{field: session.FieldIPv6Src.Name, lit: r.Src.String()}, nodeRef{field: session.FieldIPv6Dst.Name, lit: r.Dst.String()}
	}
	return nodeRef{field: session.FieldIPSrc.Name, lit: r.Src.Unmap().String()}, nodeRef{field: session.FieldIPDst.Name, lit: r.Dst.Unmap().String()}
}
