// Package manifest reads Kubernetes manifests the way brokkr-agent applies them: a stream of
// YAML (or JSON) documents, each an object or a list of objects. The agent parses deployment
// objects with it, the broker refuses at intake what it could not apply, and brokkrctl checks
// a bundle with it before posting it, so the three accept the same manifests.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Errors of Validate and Check; the errors returned wrap them.
var (
	ErrBlank    = errors.New("the manifest is blank")
	ErrNoObject = errors.New("the manifest holds no non-empty document")
	ErrNoName   = errors.New("metadata.name is required")
)

// Document is one non-empty document of a manifest.
type Document struct {
	// Number is the document's position in the manifest, from 1.
	Number int
	// Fields is the document as encoding/json decodes it (numbers are float64).
	Fields map[string]any
}

// Documents decodes a manifest: YAML documents separated by "---" lines (a separator line
// may carry a comment, nothing else), or a stream of JSON objects; a stream that starts with
// "{" is read as JSON first. Empty and null documents, and empty mappings, are left out. A
// document that is not valid YAML or not a mapping is an error naming its position.
func Documents(content string) ([]Document, error) {
	// The decoder ends every line it reads with a newline, except that it loses a last line
	// whose length is a multiple of its 4096-byte buffer and that has none: give it one.
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(content), 4096)
	var out []Document
	for n := 1; ; n++ {
		var doc any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: invalid YAML: %w", n, err)
		}
		switch d := doc.(type) {
		case nil:
		case map[string]any:
			if len(d) > 0 {
				out = append(out, Document{Number: n, Fields: d})
			}
		case []any:
			return nil, fmt.Errorf("document %d: not a mapping but a sequence", n)
		default:
			return nil, fmt.Errorf("document %d: not a mapping but a scalar %q", n, shorten(fmt.Sprint(d)))
		}
	}
}

// shorten cuts s to at most 40 bytes for an error message.
func shorten(s string) string {
	if len(s) <= 40 {
		return s
	}
	return strings.ToValidUTF8(s[:40], "") + "…"
}

// IsList reports whether the document is a list of objects (kind: List and the like): one
// whose items field is an array.
func (d Document) IsList() bool {
	_, ok := d.Fields["items"].([]any)
	return ok
}

// Objects returns what the document stands for: the items of a list, else the document
// itself. The objects are not checked (see Check).
func (d Document) Objects() ([]map[string]any, error) {
	if !d.IsList() {
		return []map[string]any{d.Fields}, nil
	}
	items := d.Fields["items"].([]any)
	out := make([]map[string]any, 0, len(items))
	for i, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("document %d, item %d: not an object", d.Number, i+1)
		}
		out = append(out, obj)
	}
	return out, nil
}

// Parse returns the objects of a manifest in order, the items of list documents in their
// place, each checked with Check; the error names the offending document (and item).
func Parse(content string) ([]map[string]any, error) {
	docs, err := Documents(content)
	if err != nil {
		return nil, err
	}
	return objects(docs)
}

// objects returns the checked objects of docs.
func objects(docs []Document) ([]map[string]any, error) {
	var out []map[string]any
	for _, d := range docs {
		objs, err := d.Objects()
		if err != nil {
			return nil, err
		}
		for i, obj := range objs {
			if err := Check(obj); err != nil {
				if d.IsList() {
					return nil, fmt.Errorf("document %d, item %d: %w", d.Number, i+1, err)
				}
				return nil, fmt.Errorf("document %d: %w", d.Number, err)
			}
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Check reports whether an object can be applied: apiVersion (a valid group/version), kind
// and metadata.name are strings that are not empty. An object with only
// metadata.generateName cannot be applied.
func Check(obj map[string]any) error {
	apiVersion, kind := str(obj, "apiVersion"), str(obj, "kind")
	switch {
	case apiVersion == "":
		return errors.New("apiVersion is required")
	case kind == "":
		return errors.New("kind is required")
	case str(obj, "metadata", "name") == "":
		if str(obj, "metadata", "generateName") != "" {
			return fmt.Errorf("%s: generateName cannot be applied, set metadata.name", kind)
		}
		return fmt.Errorf("%s: %w", kind, ErrNoName)
	}
	if _, err := schema.ParseGroupVersion(apiVersion); err != nil {
		return fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	return nil
}

// str returns the string at path in obj; "" when it is missing or not a string.
func str(obj map[string]any, path ...string) string {
	var v any = obj
	for _, field := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[field]
	}
	s, _ := v.(string)
	return s
}

// Validate checks that an agent can apply content as a deployment object: it is not blank,
// holds at least one non-empty document, and parses (see Parse).
func Validate(content string) error {
	docs, err := nonEmptyDocuments(content)
	if err != nil {
		return err
	}
	_, err = objects(docs)
	return err
}

// ValidateDocuments checks content as Validate does but for the objects: it is not blank and
// reads as documents (see Documents), at least one of them not empty. It suits content that
// is stored but never applied, such as that of a deletion marker.
func ValidateDocuments(content string) error {
	_, err := nonEmptyDocuments(content)
	return err
}

func nonEmptyDocuments(content string) ([]Document, error) {
	if strings.TrimSpace(content) == "" {
		return nil, ErrBlank
	}
	docs, err := Documents(content)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, ErrNoObject
	}
	return docs, nil
}

// Bundle joins manifest files into the one manifest posted as a deployment object: each
// file's content with trailing whitespace trimmed, joined with "\n---\n", plus a final
// newline. The reference CLI builds bundles the same way, so equal files give equal
// checksums whichever tool posted them.
func Bundle(files ...string) string {
	parts := make([]string, len(files))
	for i, f := range files {
		parts[i] = strings.TrimRightFunc(f, unicode.IsSpace)
	}
	return strings.Join(parts, "\n---\n") + "\n"
}

// Checksum is the lowercase hex SHA-256 of content exactly as given: a deployment object's
// yaml_checksum, a template version's checksum.
func Checksum(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}
