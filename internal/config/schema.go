package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// leaf describes one configuration key: a non-struct field reached through nested structs
// tagged with `koanf`.
type leaf struct {
	key    string       // dotted key, e.g. "broker.pak_hash"
	index  []int        // field index path from the root struct
	typ    reflect.Type // field type; may be a pointer for "unset means inherit" keys
	secret string       // "" (not secret), "true" (mask whole value) or "url" (mask URL password)
}

// schemaOf lists the keys of the struct type t (or pointer to it) in declaration order.
func schemaOf(t reflect.Type) []leaf {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []leaf
	walkSchema(t, "", nil, &out)
	return out
}

func walkSchema(t reflect.Type, prefix string, index []int, out *[]leaf) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		idx := append(append([]int(nil), index...), i)
		if f.Type.Kind() == reflect.Struct {
			walkSchema(f.Type, key, idx, out)
			continue
		}
		*out = append(*out, leaf{key: key, index: idx, typ: f.Type, secret: f.Tag.Get("secret")})
	}
}

// schemaIndex is a key lookup over a schema, including the section prefixes.
type schemaIndex struct {
	leaves   []leaf
	byKey    map[string]leaf
	sections map[string]bool
}

func newSchemaIndex(t reflect.Type) schemaIndex {
	s := schemaIndex{leaves: schemaOf(t), byKey: map[string]leaf{}, sections: map[string]bool{}}
	for _, l := range s.leaves {
		s.byKey[l.key] = l
		parts := strings.Split(l.key, ".")
		for i := 1; i < len(parts); i++ {
			s.sections[strings.Join(parts[:i], ".")] = true
		}
	}
	return s
}

// isList reports whether the leaf holds a list of strings.
func (l leaf) isList() bool {
	return l.typ.Kind() == reflect.Slice && l.typ.Elem().Kind() == reflect.String
}

// parseValue converts the textual form of a value (from an environment variable or a
// command-line flag) into the Go value the leaf expects. An empty string for a pointer key
// yields nil, meaning "not set".
func (l leaf) parseValue(s string) (any, error) {
	t := l.typ
	if t.Kind() == reflect.Pointer {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return s, nil
	case reflect.Bool:
		v, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean (use true or false)", s)
		}
		return v, nil
	case reflect.Int, reflect.Int64:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		if t.Kind() == reflect.Int {
			return int(v), nil
		}
		return v, nil
	case reflect.Float64:
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return v, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return parseList(s)
		}
	}
	return nil, fmt.Errorf("unsupported configuration type %s", l.typ)
}

// parseList accepts either a JSON array of strings (`["a","b"]`) or a comma-separated list
// (`a, b`). Items of a comma-separated list are trimmed and empty items dropped, so an empty
// string is an empty list.
func parseList(s string) ([]string, error) {
	trimmed := strings.TrimSpace(s)
	if strings.HasPrefix(trimmed, "[") {
		var out []string
		if err := json.Unmarshal([]byte(trimmed), &out); err != nil {
			return nil, fmt.Errorf("%q is not a JSON array of strings: %w", s, err)
		}
		if out == nil {
			out = []string{}
		}
		return out, nil
	}
	out := []string{}
	for item := range strings.SplitSeq(trimmed, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out, nil
}

// plainValue returns the value of a leaf as a plain Go value (string, bool, int, int64,
// float64 or []string); ok is false for an unset pointer.
func plainValue(v reflect.Value) (val any, ok bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, false
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Slice {
		out := make([]string, v.Len())
		for i := range out {
			out[i] = v.Index(i).String()
		}
		return out, true
	}
	return v.Interface(), true
}

// flatten returns key → plain value for every set leaf of the struct value root.
func flatten(root any) map[string]any {
	v := reflect.Indirect(reflect.ValueOf(root))
	out := map[string]any{}
	for _, l := range schemaOf(v.Type()) {
		if val, ok := plainValue(v.FieldByIndex(l.index)); ok {
			out[l.key] = val
		}
	}
	return out
}

// formatValue renders a leaf value as text. Lists are rendered by list; unset pointers as "".
func formatValue(v reflect.Value, list func([]string) string) string {
	val, ok := plainValue(v)
	if !ok {
		return ""
	}
	switch x := val.(type) {
	case string:
		return x
	case []string:
		return list(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// jsonList renders a list as a compact JSON array, the form Environ emits.
func jsonList(items []string) string {
	b, _ := json.Marshal(items) // a []string always marshals
	return string(b)
}

// displayList renders a list as `["a", "b"]`, the form used in reload reports.
func displayList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
