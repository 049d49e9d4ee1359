// Package output renders command results in the format chosen with -o: an aligned table on
// a terminal (tab-separated without a header when piped), the wide table, the wire objects
// as JSON or YAML, or kind/id names.
//
// A resource describes its table once, as a Spec, and every list and get command prints
// through it:
//
//	var workOrderSpec = output.Spec[client.WorkOrder]{
//		Kind:    "workorder",
//		Name:    func(w client.WorkOrder) string { return w.ID.String() },
//		Columns: []output.Column[client.WorkOrder]{
//			output.Text("ID", func(w client.WorkOrder) string { return w.ID.String() }),
//			output.Age("CREATED", func(w client.WorkOrder) *time.Time { return &w.CreatedAt }),
//		},
//	}
//	return output.PrintList(p, workOrderSpec, orders)
package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
)

// Format is an output format selected with -o.
type Format string

// Formats.
const (
	FormatTable Format = "table"
	FormatWide  Format = "wide"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatName  Format = "name"
)

// Formats lists the accepted formats in help order.
var Formats = []Format{FormatTable, FormatWide, FormatJSON, FormatYAML, FormatName}

// Validate fails with a usage error for an unknown format.
func (f Format) Validate() error {
	for _, v := range Formats {
		if f == v {
			return nil
		}
	}
	names := make([]string, len(Formats))
	for i, v := range Formats {
		names[i] = string(v)
	}
	return cmdutil.FlagErrorf("invalid output format %q: want one of %s", string(f), strings.Join(names, ", "))
}

// AddFormatFlag registers -o/--output on cmd, with shell completion of the formats.
func AddFormatFlag(cmd *cobra.Command, f *Format) {
	*f = FormatTable
	cmd.Flags().StringVarP((*string)(f), "output", "o", string(FormatTable), "Output format: table, wide, json, yaml or name")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		out := make([]cobra.Completion, len(Formats))
		for i, v := range Formats {
			out[i] = string(v)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}

// Printer writes results to stdout in one format.
type Printer struct {
	IO     *iostreams.IOStreams
	Format Format
	Now    func() time.Time
}

// NewPrinter returns the printer of a command invocation.
func NewPrinter(f *cmdutil.Factory, format Format) *Printer {
	return &Printer{IO: f.IOStreams, Format: format, Now: f.TimeNow}
}

// Column is one table column.
type Column[T any] struct {
	Header string
	// Wide columns appear only with -o wide.
	Wide bool
	// Value renders the cell.
	Value func(T) string
	// Time, when set instead of Value, renders an age on a terminal ("3m", "in 2h") and RFC 3339
	// otherwise; nil is "-".
	Time func(T) *time.Time
}

// Text is a column of text.
func Text[T any](header string, v func(T) string) Column[T] {
	return Column[T]{Header: header, Value: v}
}

// Age is a column of timestamps.
func Age[T any](header string, v func(T) *time.Time) Column[T] {
	return Column[T]{Header: header, Time: v}
}

// WideOnly marks c as shown only with -o wide.
func WideOnly[T any](c Column[T]) Column[T] {
	c.Wide = true
	return c
}

// Spec describes how a resource is printed.
type Spec[T any] struct {
	// Kind prefixes -o name lines ("workorder/<id>").
	Kind string
	// Plural names the resource in "No work orders found."; defaults to Kind + "s".
	Plural string
	// Name returns the name or id of an item for -o name.
	Name    func(T) string
	Columns []Column[T]
}

// PrintList prints items. On a terminal, an empty table prints a notice on stderr instead.
func PrintList[T any](p *Printer, spec Spec[T], items []T) error {
	if items == nil {
		items = []T{}
	}
	switch p.Format {
	case FormatJSON:
		return WriteJSON(p.IO.Out, items)
	case FormatYAML:
		return WriteYAML(p.IO.Out, items)
	case FormatName:
		return printNames(p.IO.Out, spec, items)
	}
	if len(items) == 0 && p.IO.IsStdoutTTY() {
		plural := spec.Plural
		if plural == "" {
			plural = spec.Kind + "s"
		}
		fmt.Fprintf(p.IO.ErrOut, "No %s found.\n", plural)
		return nil
	}
	return renderTable(p, spec, items)
}

// PrintOne prints a single item: JSON and YAML print the object itself, not a list.
func PrintOne[T any](p *Printer, spec Spec[T], item T) error {
	switch p.Format {
	case FormatJSON:
		return WriteJSON(p.IO.Out, item)
	case FormatYAML:
		return WriteYAML(p.IO.Out, item)
	case FormatName:
		return printNames(p.IO.Out, spec, []T{item})
	}
	return renderTable(p, spec, []T{item})
}

func printNames[T any](w io.Writer, spec Spec[T], items []T) error {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(spec.Kind)
		b.WriteByte('/')
		b.WriteString(spec.Name(it))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderTable[T any](p *Printer, spec Spec[T], items []T) error {
	tty := p.IO.IsStdoutTTY()
	t := NewTable(p.IO)
	var cols []Column[T]
	for _, c := range spec.Columns {
		if c.Wide && p.Format != FormatWide {
			continue
		}
		cols = append(cols, c)
	}
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.Header
	}
	t.SetHeader(headers...)
	now := p.Now()
	for _, it := range items {
		row := make([]string, len(cols))
		for i, c := range cols {
			if c.Time != nil {
				row[i] = FormatTime(c.Time(it), tty, now)
				continue
			}
			row[i] = c.Value(it)
		}
		t.AddRow(row...)
	}
	return t.Render()
}

// FormatTime renders a timestamp for a table cell: an age relative to now on a terminal,
// RFC 3339 in UTC otherwise; nil is "-".
func FormatTime(t *time.Time, tty bool, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	if !tty {
		return t.UTC().Format(time.RFC3339)
	}
	d := now.Sub(*t)
	if d < 0 {
		return "in " + HumanDuration(-d)
	}
	return HumanDuration(d)
}

// HumanDuration renders d compactly, to one unit: 45s, 3m, 5h, 12d, 2y.
func HumanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%dy", int(d/(365*24*time.Hour)))
}

// Table collects rows and writes them aligned with a header on a terminal, or as
// tab-separated values without a header otherwise, so scripts can cut columns reliably.
type Table struct {
	io     *iostreams.IOStreams
	header []string
	rows   [][]string
}

// NewTable returns an empty table writing to ios.Out.
func NewTable(ios *iostreams.IOStreams) *Table { return &Table{io: ios} }

// SetHeader sets the column headings (shown on a terminal only).
func (t *Table) SetHeader(cols ...string) { t.header = cols }

// AddRow appends a row.
func (t *Table) AddRow(cells ...string) { t.rows = append(t.rows, cells) }

// Render writes the table.
func (t *Table) Render() error {
	var buf bytes.Buffer
	if !t.io.IsStdoutTTY() {
		for _, r := range t.rows {
			for i, c := range r {
				if i > 0 {
					buf.WriteByte('\t')
				}
				buf.WriteString(sanitize(c))
			}
			buf.WriteByte('\n')
		}
		_, err := t.io.Out.Write(buf.Bytes())
		return err
	}
	cs := t.io.ColorScheme()
	tw := tabwriter.NewWriter(&buf, 0, 0, 3, ' ', 0)
	if len(t.header) > 0 {
		h := make([]string, len(t.header))
		for i, c := range t.header {
			h[i] = strings.ToUpper(c)
		}
		fmt.Fprintln(tw, strings.Join(h, "\t"))
	}
	for _, r := range t.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = sanitize(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	out := buf.String()
	if len(t.header) > 0 && cs != nil {
		first, rest, _ := strings.Cut(out, "\n")
		out = cs.Bold(strings.TrimRight(first, " ")) + "\n" + rest
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(t.io.Out, strings.Join(lines, "\n"))
	return err
}

// sanitize keeps a cell on one line and free of tabs.
func sanitize(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// WriteYAML writes v as YAML with the same field names and order as its JSON form.
func WriteYAML(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	plain(&node)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	return nil
}

// plain drops the JSON styling (quotes, flow collections) so the encoder picks YAML's own;
// scalars keep their tags, so strings that look like numbers or dates stay quoted.
func plain(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "\n") {
		n.Style = yaml.LiteralStyle
	}
	for _, c := range n.Content {
		plain(c)
	}
}

// Successf prints a success message ("✓ Created work order …") on stderr.
func Successf(ios *iostreams.IOStreams, format string, args ...any) {
	fmt.Fprintf(ios.ErrOut, "%s %s\n", ios.ColorScheme().SuccessIcon(), fmt.Sprintf(format, args...))
}
