// Package api holds the OpenAPI 3.0 document of the brokkr broker's REST API
// (everything under /api/v1) and small helpers to serve it.
//
// The document is generated from the upstream reference and the corrections
// kept in ./internal/gen; the API test suite validates every exchange against
// it (see package openapitest), so it describes what the broker really does.
package api

//go:generate go run ./internal/gen -ref ../../shared/spec/reference-openapi.json -out openapi.json -ops testdata/reference-operations.txt

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed openapi.json
var document []byte

// Document returns the full OpenAPI document as JSON. The returned slice is a
// copy and may be modified by the caller.
func Document() []byte {
	return bytes.Clone(document)
}

// httpMethods are the operation keys of an OpenAPI path item, lower-case.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Operation identifies one operation of the document.
type Operation struct {
	// Method is the HTTP method, upper-case ("GET").
	Method string
	// Path is the path template relative to the server URL ("/agents/{id}").
	Path string
	// OperationID is the operation's operationId ("get_agent").
	OperationID string
}

// Filtered returns the document restricted to the operations for which
// implemented(method, path) reports true. method is upper-case ("GET") and
// path is the template as written in the document ("/agents/{id}"). Paths
// left without any operation are removed; component schemas are kept as they
// are. The output is deterministic, indented JSON.
func Filtered(implemented func(method, path string) bool) ([]byte, error) {
	if implemented == nil {
		return nil, errors.New("api: filtered: nil implemented func")
	}
	doc, err := decode()
	if err != nil {
		return nil, err
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("api: filtered: document has no paths object")
	}
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("api: filtered: path %s is not an object", path)
		}
		remaining := 0
		for _, m := range httpMethods {
			if _, ok := item[m]; !ok {
				continue
			}
			if implemented(strings.ToUpper(m), path) {
				remaining++
				continue
			}
			delete(item, m)
		}
		if remaining == 0 {
			delete(paths, path)
		}
	}
	return encode(doc)
}

// Operations lists every operation of the document, sorted by path and then
// by method.
func Operations() []Operation {
	ops, err := operations()
	if err != nil {
		// The embedded document is checked by this package's tests; a
		// failure here means a broken build, not a runtime condition.
		panic(err)
	}
	return append([]Operation(nil), ops...)
}

var operations = sync.OnceValues(func() ([]Operation, error) {
	doc, err := decode()
	if err != nil {
		return nil, err
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("api: operations: document has no paths object")
	}
	var ops []Operation
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("api: operations: path %s is not an object", path)
		}
		for _, m := range httpMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			id, _ := op["operationId"].(string)
			ops = append(ops, Operation{Method: strings.ToUpper(m), Path: path, OperationID: id})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	return ops, nil
})

// decode parses the embedded document into a generic tree, keeping numbers
// exactly as written.
func decode() (map[string]any, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(document))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("api: decode document: %w", err)
	}
	return doc, nil
}

// encode writes a tree as indented JSON with sorted keys.
func encode(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("api: encode document: %w", err)
	}
	return buf.Bytes(), nil
}
