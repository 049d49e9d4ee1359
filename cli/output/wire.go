package output

import (
	"fmt"
	"io"

	"github.com/brokkr/brokkr/cli/iostreams"
)

// IsWire reports whether the format prints the wire objects themselves (json or yaml).
func (f Format) IsWire() bool { return f == FormatJSON || f == FormatYAML }

// PrintWire writes v to stdout when the printer's format is json or yaml and reports whether
// it did, so a command prints its own rendering otherwise:
//
//	if ok, err := p.PrintWire(res); ok {
//		return err
//	}
func (p *Printer) PrintWire(v any) (bool, error) {
	return WriteWire(p.IO.Out, p.Format, v)
}

// WriteWire writes v to w as JSON or YAML when format is one of them and reports whether it
// did.
func WriteWire(w io.Writer, format Format, v any) (bool, error) {
	switch format {
	case FormatJSON:
		return true, WriteJSON(w, v)
	case FormatYAML:
		return true, WriteYAML(w, v)
	}
	return false, nil
}

// PrintPAK prints a newly issued PAK: with -o json or yaml the whole response goes to stdout
// (scripts take the PAK field from it); otherwise the PAK alone goes to stdout, so that
// "$(brokkrctl generator create ...)" captures it, and a warning that it is shown only once
// goes to stderr. what names the holder ("agent edge-1").
func PrintPAK(ios *iostreams.IOStreams, format Format, what, pak string, response any) error {
	if ok, err := WriteWire(ios.Out, format, response); ok {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "%s The PAK of %s is shown only this once; store it now:\n", ios.ColorScheme().WarningIcon(), what)
	_, err := io.WriteString(ios.Out, pak+"\n")
	return err
}

// PrintReport prints a result made of a one-line summary and a list: the wire object v itself
// for json and yaml; otherwise the summary on stderr above the table of items, or with -o
// name the names of the items only.
func PrintReport[T any](p *Printer, v any, summary string, spec Spec[T], items []T) error {
	if ok, err := p.PrintWire(v); ok {
		return err
	}
	if p.Format != FormatName {
		fmt.Fprintln(p.IO.ErrOut, summary)
	}
	return PrintList(p, spec, items)
}
