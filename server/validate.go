package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

const maxLabelLen = 64

// checkLabel validates a label: non-blank, at most 64 bytes, no whitespace.
func checkLabel(label string) error {
	switch {
	case strings.TrimSpace(label) == "":
		return badRequest("invalid_label", "label must not be blank")
	case len(label) > maxLabelLen:
		return badRequest("invalid_label", fmt.Sprintf("label must be at most %d bytes", maxLabelLen))
	case strings.IndexFunc(label, unicode.IsSpace) >= 0:
		return badRequest("invalid_label", "label must not contain whitespace")
	}
	return nil
}

// checkAnnotation validates an annotation: the key like a label, the value at most 64 bytes.
func checkAnnotation(key, value string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return badRequest("invalid_annotation", "annotation key must not be blank")
	case len(key) > maxLabelLen:
		return badRequest("invalid_annotation", fmt.Sprintf("annotation key must be at most %d bytes", maxLabelLen))
	case strings.IndexFunc(key, unicode.IsSpace) >= 0:
		return badRequest("invalid_annotation", "annotation key must not contain whitespace")
	case len(value) > maxLabelLen:
		return badRequest("invalid_annotation", fmt.Sprintf("annotation value must be at most %d bytes", maxLabelLen))
	}
	return nil
}

// checkName validates a required display name of at most 255 bytes.
func checkName(code, what, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return badRequest(code, what+" must not be blank")
	case len(name) > 255:
		return badRequest(code, what+" must be at most 255 bytes")
	}
	return nil
}

// checkManifests verifies that content is one or more YAML documents, at least one of them
// not empty. It returns the number of non-empty documents.
func checkManifests(content string) (int, error) {
	if strings.TrimSpace(content) == "" {
		return 0, errors.New("yaml_content must not be blank")
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(content)))
	docs := 0
	for i := 1; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("document %d: %w", i, err)
		}
		if !isNullDocument(&node) {
			docs++
		}
	}
	if docs == 0 {
		return 0, errors.New("yaml_content holds no non-empty YAML document")
	}
	return docs, nil
}

func isNullDocument(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return true
		}
		n = n.Content[0]
	}
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}
