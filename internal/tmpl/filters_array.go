package tmpl

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

func first(arr []any) any {
	if len(arr) == 0 {
		return ""
	}
	return arr[0]
}

func last(arr []any) any {
	if len(arr) == 0 {
		return ""
	}
	return arr[len(arr)-1]
}

func nth(in any, a args) (any, error) {
	if _, ok := a["n"]; !ok {
		return nil, errors.New("requires an `n` argument")
	}
	n, err := a.integer("n", 0)
	if err != nil {
		return nil, err
	}
	return withArray(in, func(arr []any) any {
		if n < 0 || n >= int64(len(arr)) {
			return ""
		}
		return arr[n]
	})
}

func join(in any, a args) (any, error) {
	sep, err := a.str("sep", "")
	if err != nil {
		return nil, err
	}
	arr, ok := in.([]any)
	if !ok {
		return nil, wrongInput(in, "an array")
	}
	var b strings.Builder
	for i, e := range arr {
		if i > 0 {
			b.WriteString(sep)
		}
		text, err := renderText(e)
		if err != nil {
			return nil, err
		}
		b.WriteString(text)
		if b.Len() > MaxValueBytes {
			return nil, errTooLong
		}
	}
	return b.String(), nil
}

// keyed pairs each array element with the value at its attribute path.
func keyed(arr []any, attr string) ([]any, error) {
	keys := make([]any, len(arr))
	for i, e := range arr {
		k, ok := lookupPath(e, attr)
		if !ok {
			return nil, fmt.Errorf("attribute '%s' does not reference a field", attr)
		}
		keys[i] = k
	}
	return keys, nil
}

func sortFilter(in any, a args) (any, error) {
	attr, err := a.str("attribute", "")
	if err != nil {
		return nil, err
	}
	arr, ok := in.([]any)
	if !ok {
		return nil, wrongInput(in, "an array")
	}
	if len(arr) == 0 {
		return arr, nil
	}
	keys, err := keyed(arr, attr)
	if err != nil {
		return nil, err
	}
	less, err := ordering(keys)
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(arr))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return less(keys[idx[i]], keys[idx[j]]) })
	out := make([]any, len(arr))
	for i, k := range idx {
		out[i] = arr[k]
	}
	return out, nil
}

// ordering returns the order of sort keys, which must all be numbers, all strings, all
// booleans or all arrays (by length).
func ordering(keys []any) (func(a, b any) bool, error) {
	kind := typeName(keys[0])
	for _, k := range keys {
		if typeName(k) != kind {
			return nil, fmt.Errorf("expected %s got %s", kind, short(k))
		}
	}
	switch kind {
	case "number":
		return func(a, b any) bool { x, _ := toFloat(a); y, _ := toFloat(b); return x < y }, nil
	case "string":
		return func(a, b any) bool { return a.(string) < b.(string) }, nil
	case "bool":
		return func(a, b any) bool { return !a.(bool) && b.(bool) }, nil
	case "array":
		return func(a, b any) bool { return len(a.([]any)) < len(b.([]any)) }, nil
	}
	return nil, fmt.Errorf("%s is not a sortable value", short(keys[0]))
}

func unique(in any, a args) (any, error) {
	attr, err := a.str("attribute", "")
	if err != nil {
		return nil, err
	}
	caseSensitive, err := a.boolean("case_sensitive", false)
	if err != nil {
		return nil, err
	}
	arr, ok := in.([]any)
	if !ok {
		return nil, wrongInput(in, "an array")
	}
	if len(arr) == 0 {
		return arr, nil
	}
	kind := ""
	seen := map[string]bool{}
	out := []any{}
	for _, e := range arr {
		k, ok := lookupPath(e, attr)
		if !ok {
			continue
		}
		if kind == "" {
			kind = typeName(k)
			if kind != "number" && kind != "string" && kind != "bool" {
				return nil, fmt.Errorf("unique filter can't compare %s values", kind)
			}
		} else if typeName(k) != kind {
			return nil, errors.New("unique filter can't compare multiple types")
		}
		id := teraString(k)
		if s, ok := k.(string); ok && !caseSensitive {
			id = strings.ToLower(s)
		}
		if f, ok := toFloat(k); ok {
			id = formatFloat(f)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, e)
	}
	return out, nil
}

func slice(in any, a args) (any, error) {
	arr, ok := in.([]any)
	if !ok {
		return nil, wrongInput(in, "an array")
	}
	index := func(name string, def int) (int, error) {
		if _, ok := a[name]; !ok {
			return def, nil
		}
		f, err := a.number(name, 0)
		if err != nil {
			return 0, err
		}
		if f < 0 {
			f += float64(len(arr))
		}
		if f < 0 {
			f = 0
		}
		return int(f), nil
	}
	start, err := index("start", 0)
	if err != nil {
		return nil, err
	}
	end, err := index("end", len(arr))
	if err != nil {
		return nil, err
	}
	end = min(end, len(arr))
	if start >= end {
		return []any{}, nil
	}
	return append([]any{}, arr[start:end]...), nil
}

func groupBy(in any, a args) (any, error) {
	attr, err := a.requiredStr("attribute")
	if err != nil {
		return nil, err
	}
	return withArray(in, func(arr []any) any {
		out := map[string]any{}
		for _, e := range arr {
			k, ok := lookupPath(e, attr)
			if !ok || k == nil {
				continue
			}
			key, isStr := k.(string)
			if !isStr {
				key, _ = jsonEncode(k, false)
			}
			group, _ := out[key].([]any)
			out[key] = append(group, e)
		}
		return out
	})
}

func filterArray(in any, a args) (any, error) {
	attr, err := a.requiredStr("attribute")
	if err != nil {
		return nil, err
	}
	want := a["value"]
	return withArray(in, func(arr []any) any {
		out := []any{}
		for _, e := range arr {
			v, _ := lookupPath(e, attr)
			if (want == nil && v != nil) || (want != nil && jsonEqual(v, want)) {
				out = append(out, e)
			}
		}
		return out
	})
}

func mapArray(in any, a args) (any, error) {
	attr, err := a.requiredStr("attribute")
	if err != nil {
		return nil, err
	}
	return withArray(in, func(arr []any) any {
		out := []any{}
		for _, e := range arr {
			if v, ok := lookupPath(e, attr); ok && v != nil {
				out = append(out, v)
			}
		}
		return out
	})
}

func concat(in any, a args) (any, error) {
	with, ok := a["with"]
	if !ok {
		return nil, errors.New("requires a `with` argument")
	}
	return withArray(in, func(arr []any) any {
		out := append([]any{}, arr...)
		if more, ok := with.([]any); ok {
			return append(out, more...)
		}
		return append(out, with)
	})
}

func length(in any, _ args) (any, error) {
	switch t := in.(type) {
	case []any:
		return int64(len(t)), nil
	case map[string]any:
		return int64(len(t)), nil
	case string:
		return int64(utf8.RuneCountInString(t)), nil
	}
	return nil, wrongInput(in, "an array, an object or a string")
}

func reverse(in any, _ args) (any, error) {
	switch t := in.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[len(t)-1-i] = e
		}
		return out, nil
	case string:
		r := []rune(t)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}
	return nil, wrongInput(in, "an array or a string")
}
