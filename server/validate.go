package server

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/brokkr/brokkr/internal/manifest"
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

// checkManifests verifies the yaml_content of a deployment object: an agent must be able to
// apply it (manifest.Validate). A deletion marker's content is never applied: it may be blank,
// and otherwise must read as YAML documents, at least one of them not empty.
func checkManifests(content string, marker bool) error {
	var err error
	switch {
	case marker && strings.TrimSpace(content) == "":
		return nil
	case marker:
		err = manifest.ValidateDocuments(content)
	default:
		err = manifest.Validate(content)
	}
	if err != nil {
		return badRequest("invalid_deployment_object", "yaml_content: "+err.Error())
	}
	return nil
}
