package tmpl

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Values inside the filters, tests and functions of this package are plain JSON-shaped Go
// values, like Tera's JSON values: nil, bool, int64, float64, string, []any and
// map[string]any. plain converts anything the engine or a caller hands over to that shape.

func plain(x any) any {
	c := converter{}
	return c.conv(x)
}

// converter does plain's work; when limited, each value converted costs one of left, and it
// panics with errCells when none is left (see renderState.plain).
type converter struct {
	left    int
	limited bool
}

func (c *converter) conv(x any) any {
	if c.limited {
		if c.left--; c.left < 0 {
			panic(errCells)
		}
	}
	switch t := x.(type) {
	case nil:
		return nil
	case *exec.Value:
		if t == nil || t.IsNil() {
			return nil
		}
		return c.conv(t.Interface())
	case string, bool, int64, float64:
		return t
	case int:
		return int64(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = c.conv(e)
		}
		return out
	case exec.ValuesList:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = c.conv(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = c.conv(e)
		}
		return out
	case *exec.Dict:
		return c.dict(t)
	case exec.Dict:
		return c.dict(&t)
	case error:
		return t
	}
	return c.reflect(reflect.ValueOf(x))
}

func (c *converter) dict(d *exec.Dict) map[string]any {
	out := make(map[string]any, len(d.Pairs))
	for _, p := range d.Pairs {
		out[teraString(c.conv(p.Key))] = c.conv(p.Value)
	}
	return out
}

func (c *converter) reflect(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return c.conv(v.Elem().Interface())
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return float64(u)
		}
		return int64(u)
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = c.conv(v.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[teraString(c.conv(it.Key().Interface()))] = c.conv(it.Value().Interface())
		}
		return out
	}
	if v.CanInterface() {
		return v.Interface() // functions and other engine values pass through
	}
	return nil
}

// teraString renders a value as Tera prints it in output. Text beyond MaxValueBytes is
// cut; renderText reports that case instead.
func teraString(x any) string {
	w := textWriter{max: MaxValueBytes}
	w.value(x)
	return w.String()
}

// renderText renders a value as Tera prints it, failing when the text would exceed
// MaxValueBytes.
func renderText(x any) (string, error) {
	w := textWriter{max: MaxValueBytes}
	w.value(x)
	if w.over {
		return "", errTooLong
	}
	return w.String(), nil
}

// short renders a value for an error message.
func short(x any) string {
	w := textWriter{max: 60}
	w.value(x)
	if w.over {
		return w.String() + "…"
	}
	return w.String()
}

var errTooLong = fmt.Errorf("the result would exceed %d bytes", MaxValueBytes)

// textWriter accumulates the text of a value up to max bytes.
type textWriter struct {
	strings.Builder
	max  int
	over bool
}

func (w *textWriter) add(s string) {
	if w.over {
		return
	}
	if w.Len()+len(s) > w.max {
		w.WriteString(s[:w.max-w.Len()])
		w.over = true
		return
	}
	w.WriteString(s)
}

func (w *textWriter) value(x any) {
	switch t := x.(type) {
	case nil:
	case string:
		w.add(t)
	case bool:
		w.add(strconv.FormatBool(t))
	case int64:
		w.add(strconv.FormatInt(t, 10))
	case float64:
		w.add(formatFloat(t))
	case []any:
		w.add("[")
		for i, e := range t {
			if w.over {
				return
			}
			if i > 0 {
				w.add(", ")
			}
			w.value(e)
		}
		w.add("]")
	case map[string]any:
		w.add("[object]")
	default:
		w.add(fmt.Sprint(x))
	}
}

// sizeAtLeast returns a lower bound of the JSON size of a value, stopping once it exceeds
// limit.
func sizeAtLeast(x any, limit int) int {
	switch t := x.(type) {
	case string:
		return len(t) + 2
	case []any:
		n := 2
		for _, e := range t {
			if n += sizeAtLeast(e, limit-n) + 1; n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 2
		for k, e := range t {
			if n += len(k) + 4 + sizeAtLeast(e, limit-n); n > limit {
				return n
			}
		}
		return n
	}
	return 4
}

// formatFloat prints a float like Rust's Display: shortest round-trip digits, no exponent,
// no trailing ".0" for integral values.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// truthy is Tera's truthiness of a value.
func truthy(x any) bool {
	switch t := x.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// typeName names a value's JSON type for error messages.
func typeName(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", x)
}

// toFloat returns a number as float64.
func toFloat(x any) (float64, bool) {
	switch t := x.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// jsonEncode serialises a value as JSON (keys sorted, no HTML escaping), optionally indented.
func jsonEncode(x any, pretty bool) (string, error) {
	if sizeAtLeast(x, MaxValueBytes) > MaxValueBytes {
		return "", errTooLong
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(jsonSafe(x)); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// jsonSafe replaces values JSON cannot hold (NaN, infinities) with null, as serde_json does.
func jsonSafe(x any) any {
	switch t := x.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil
		}
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonSafe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonSafe(e)
		}
		return out
	}
	return x
}

// lookupPath follows a dotted attribute path ("a.b.0") into a value.
func lookupPath(x any, path string) (any, bool) {
	if path == "" {
		return x, true
	}
	cur := x
	for _, seg := range strings.Split(path, ".") {
		switch t := cur.(type) {
		case map[string]any:
			v, ok := t[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// jsonEqual compares two plain values as JSON values (numbers by value).
func jsonEqual(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch ta := a.(type) {
	case []any:
		tb, ok := b.([]any)
		if !ok || len(ta) != len(tb) {
			return false
		}
		for i := range ta {
			if !jsonEqual(ta[i], tb[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		tb, ok := b.(map[string]any)
		if !ok || len(ta) != len(tb) {
			return false
		}
		for k, v := range ta {
			w, ok := tb[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case nil, bool, string:
		return a == b
	}
	return false
}
