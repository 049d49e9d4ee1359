package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// obj is one JSON object of the document tree.
type obj = map[string]any

const (
	schemaPrefix   = "#/components/schemas/"
	responsePrefix = "#/components/responses/"
)

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// build turns the reference document into the broker's own document.
func build(ref []byte) ([]byte, error) {
	var doc obj
	dec := json.NewDecoder(bytes.NewReader(ref))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode reference: %w", err)
	}

	f := &fixer{doc: doc}
	f.fixDocument()
	f.fixSchemas()
	f.addSchemas()
	f.addPaging()
	f.addReadOnlyPAKs()
	f.addDrift()
	f.addRollouts()
	f.addHolds()
	f.addApplyWindows()
	f.addOperations()
	f.fixOperations()
	f.addErrorResponses()
	if f.err != nil {
		return nil, f.err
	}
	return encode(doc)
}

// encode writes the tree as indented JSON; encoding/json sorts object keys,
// so the output is deterministic.
func encode(doc obj) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return buf.Bytes(), nil
}

// fixer edits the generic JSON tree and remembers the first problem, so a
// reference whose shape no longer matches the corrections fails generation
// instead of being patched half-way.
type fixer struct {
	doc obj
	err error
}

func (f *fixer) failf(format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf(format, args...)
	}
}

// child returns the object at m[key]; where names m in error messages.
func (f *fixer) child(m obj, key, where string) obj {
	v, ok := m[key].(obj)
	if !ok {
		f.failf("%s: no object %q", where, key)
		return obj{}
	}
	return v
}

func (f *fixer) schemas() obj {
	return f.child(f.child(f.doc, "components", "document"), "schemas", "components")
}

func (f *fixer) schema(name string) obj {
	return f.child(f.schemas(), name, "components.schemas")
}

func (f *fixer) props(schema string) obj {
	return f.child(f.schema(schema), "properties", "schema "+schema)
}

// setProp replaces (or adds, when add is true) one property of a schema.
func (f *fixer) setProp(schema, name string, value obj, add bool) {
	props := f.props(schema)
	if _, ok := props[name]; !ok && !add {
		f.failf("schema %s: no property %q to replace", schema, name)
		return
	}
	props[name] = value
}

// editProp changes one existing property of a schema in place.
func (f *fixer) editProp(schema, name string, edit func(p obj)) {
	props := f.props(schema)
	p, ok := props[name].(obj)
	if !ok {
		f.failf("schema %s: no property %q", schema, name)
		return
	}
	edit(p)
}

// requireAll makes every property of the schema required except the listed
// ones. The reference's order of required names is kept and the rest follow
// sorted.
func (f *fixer) requireAll(name string, except ...string) {
	s := f.schema(name)
	requireAllOf(f, s, "schema "+name, except...)
}

func requireAllOf(f *fixer, s obj, where string, except ...string) {
	props := f.child(s, "properties", where)
	for _, e := range except {
		if _, ok := props[e]; !ok {
			f.failf("%s: no property %q to leave optional", where, e)
		}
	}
	var required []any
	seen := map[string]bool{}
	if old, ok := s["required"].([]any); ok {
		for _, r := range old {
			name, _ := r.(string)
			if slices.Contains(except, name) {
				continue
			}
			required = append(required, name)
			seen[name] = true
		}
	}
	var rest []string
	for p := range props {
		if !seen[p] && !slices.Contains(except, p) {
			rest = append(rest, p)
		}
	}
	sort.Strings(rest)
	for _, p := range rest {
		required = append(required, p)
	}
	s["required"] = required
}

// setRequired replaces the required list of a schema.
func (f *fixer) setRequired(name string, required ...string) {
	s := f.schema(name)
	props := f.child(s, "properties", "schema "+name)
	list := make([]any, 0, len(required))
	for _, r := range required {
		if _, ok := props[r]; !ok {
			f.failf("schema %s: required property %q does not exist", name, r)
		}
		list = append(list, r)
	}
	s["required"] = list
}

// errorResponse describes one shared error response.
type errorResponse struct {
	code, name, desc string
}

var errorResponses = []errorResponse{
	{"400", "BadRequest", "The request is invalid: an unparseable JSON body, a malformed path or query parameter, or a value the operation rejects."},
	{"401", "Unauthorized", "The Authorization header is missing or does not carry a valid PAK."},
	{"403", "Forbidden", "The caller's role may not perform this operation on this resource; read-only credentials may only read."},
	{"404", "NotFound", "The resource, or one the operation depends on, does not exist."},
	{"409", "Conflict", "The write conflicts with existing state, for example a uniqueness constraint."},
	{"413", "PayloadTooLarge", "The request body exceeds the size limit (2 MiB)."},
	{"415", "UnsupportedMediaType", "The request body was not sent with a supported Content-Type."},
	{"422", "Unprocessable", "The body is well-formed but has the wrong shape, fails a range check, or refers to rows that do not exist."},
	{"429", "TooManyRequests", "The broker is overloaded (code `overloaded`) and did not process the request: it was already serving and queueing as many requests as it may (broker.max_inflight_requests), and no slot freed within broker.max_queue_wait_ms. Retry after the number of seconds in the Retry-After header."},
	{"500", "InternalError", "An unexpected server-side failure."},
	{"503", "ServiceUnavailable", "The feature is not available on this broker."},
}

func errorResponseName(code string) (string, bool) {
	for _, e := range errorResponses {
		if e.code == code {
			return e.name, true
		}
	}
	return "", false
}

func (f *fixer) addErrorResponses() {
	comps := f.child(f.doc, "components", "document")
	responses := obj{}
	for _, e := range errorResponses {
		responses[e.name] = obj{
			"description": e.desc,
			"content": obj{
				"application/json": obj{"schema": ref("ErrorResponse")},
			},
		}
		if e.code == "429" {
			responses[e.name].(obj)["headers"] = obj{"Retry-After": obj{
				"description": "Seconds to wait before retrying.",
				"schema":      obj{"type": "integer", "minimum": 1},
			}}
		}
	}
	comps["responses"] = responses
}
