package template

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/brokkr/brokkr/cli/cmdutil"
)

// ParseValues reads a YAML or JSON document of template parameters; it must be a mapping
// (an empty document is an empty mapping).
func ParseValues(raw []byte) (map[string]any, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse values: %w", err)
	}
	if doc == nil {
		return map[string]any{}, nil
	}
	m, ok := normalize(doc).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse values: the document is not a mapping")
	}
	return m, nil
}

// ApplySet applies --set assignments to values: "a.b=c" sets values["a"]["b"], creating
// mappings on the way; the value is read as a YAML scalar, so 3 is a number, true a boolean
// and "3" (quoted) a string. A later assignment replaces an earlier one.
func ApplySet(values map[string]any, assignments []string) error {
	for _, a := range assignments {
		key, raw, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return cmdutil.FlagErrorf("invalid --set %q: want key=value", a)
		}
		var v any = raw
		if raw != "" {
			if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
				v = raw
			}
			v = normalize(v)
		}
		parts := strings.Split(strings.TrimSpace(key), ".")
		m := values
		for i, p := range parts {
			if p == "" {
				return cmdutil.FlagErrorf("invalid --set key %q: empty segment", key)
			}
			if i == len(parts)-1 {
				m[p] = v
				break
			}
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
	}
	return nil
}

// normalize turns YAML mappings with non-string keys into map[string]any, so the value
// encodes as JSON.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}

// SchemaJSON turns a JSON Schema given as YAML or JSON into JSON text.
func SchemaJSON(raw []byte) (string, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("parse schema: %w", err)
	}
	if doc == nil {
		return "{}", nil
	}
	b, err := json.Marshal(normalize(doc))
	if err != nil {
		return "", fmt.Errorf("encode schema: %w", err)
	}
	return string(b), nil
}
