package tmpl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaURL is the location a parameters schema is compiled under. Nothing is ever fetched
// from it: the document is registered before compiling.
const schemaURL = "https://schemas.brokkr.invalid/template-parameters.json"

var printer = message.NewPrinter(language.English)

// Schema is a compiled JSON Schema describing a template's parameters.
type Schema struct {
	s *jsonschema.Schema
}

// CompileSchema compiles a JSON Schema given as JSON text. The draft is the one its
// `$schema` names (draft 4, 6, 7, 2019-09 or 2020-12), draft 2020-12 when absent. `format`
// is annotation only (not asserted), and references can only point into the document
// itself or to the standard meta-schemas: nothing is loaded from files or the network.
func CompileSchema(src string) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("not a JSON document: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("register schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("not a valid JSON Schema: %s", compileMessage(err))
	}
	return &Schema{s: s}, nil
}

// Validate checks a JSON value (as encoding/json decodes it, json.Number included) and
// returns one line per failed leaf constraint: "<instance pointer>: <message>", or just the
// message for the document root. It returns nil when the value is valid.
func (s *Schema) Validate(instance any) []string {
	err := s.s.Validate(instance)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	collectLeaves(ve, &out)
	return out
}

func collectLeaves(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectLeaves(c, out)
		}
		return
	}
	msg := e.ErrorKind.LocalizedString(printer)
	if ptr := pointer(e.InstanceLocation); ptr != "" {
		msg = ptr + ": " + msg
	}
	*out = append(*out, msg)
}

// pointer renders an instance location as a JSON Pointer ("" for the root).
func pointer(tokens []string) string {
	var b strings.Builder
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(esc.Replace(t))
	}
	return b.String()
}

// compileMessage flattens a compilation error into one line without the internal location
// the schema was registered under.
func compileMessage(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, schemaURL+"#", "")
	msg = strings.ReplaceAll(msg, schemaURL, "schema")
	fields := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' })
	for i, f := range fields {
		fields[i] = strings.TrimSpace(f)
	}
	return strings.Join(fields, "; ")
}

// refuseLoader refuses every external reference.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external reference %q is not allowed", url)
}
