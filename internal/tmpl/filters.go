package tmpl

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Tera's built-in filters, with Tera's argument names. Arguments may be given by keyword, as
// Tera requires (`replace(from="a", to="b")`), or positionally in the listed order; unknown
// keywords are ignored, as Tera ignores them.

// args are a filter's bound arguments; an absent key was not given.
type args map[string]any

type filterFunc func(in any, a args) (any, error)

type filterSpec struct {
	params []string
	fn     filterFunc
}

func teraFilters() map[string]exec.FilterFunction {
	specs := map[string]filterSpec{
		// Strings.
		"upper":              {nil, stringFilter(strings.ToUpper)},
		"lower":              {nil, stringFilter(strings.ToLower)},
		"trim":               {nil, stringFilter(strings.TrimSpace)},
		"trim_start":         {nil, stringFilter(func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) })},
		"trim_end":           {nil, stringFilter(func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) })},
		"trim_start_matches": {[]string{"pat"}, trimMatches(true)},
		"trim_end_matches":   {[]string{"pat"}, trimMatches(false)},
		"truncate":           {[]string{"length", "end"}, truncate},
		"wordcount":          {nil, func(in any, _ args) (any, error) { return withString(in, wordcount) }},
		"replace":            {[]string{"from", "to"}, replace},
		"capitalize":         {nil, stringFilter(capitalize)},
		"title":              {nil, stringFilter(title)},
		"linebreaksbr":       {nil, stringFilter(strings.NewReplacer("\r\n", "<br>", "\n", "<br>").Replace)},
		"indent":             {[]string{"prefix", "first", "blank"}, indent},
		"striptags":          {nil, stringFilter(func(s string) string { return stripTagsRE.ReplaceAllString(s, "") })},
		"spaceless":          {nil, stringFilter(func(s string) string { return spacelessRE.ReplaceAllString(s, "><") })},
		"urlencode":          {nil, stringFilter(func(s string) string { return percentEncode(s, "-._~/%") })},
		"urlencode_strict":   {nil, stringFilter(func(s string) string { return percentEncode(s, "") })},
		"escape":             {nil, stringFilter(escapeHTML)},
		"escape_xml":         {nil, stringFilter(escapeXML)},
		"slugify":            {nil, stringFilter(slugify)},
		"addslashes":         {nil, stringFilter(strings.NewReplacer(`\`, `\\`, `"`, `\"`, `'`, `\'`).Replace)},
		"split":              {[]string{"pat"}, split},
		"int":                {[]string{"default", "base"}, toInt},
		"float":              {[]string{"default"}, toFloatFilter},
		// Arrays.
		"first":    {nil, func(in any, _ args) (any, error) { return withArray(in, first) }},
		"last":     {nil, func(in any, _ args) (any, error) { return withArray(in, last) }},
		"nth":      {[]string{"n"}, nth},
		"join":     {[]string{"sep"}, join},
		"sort":     {[]string{"attribute"}, sortFilter},
		"unique":   {[]string{"attribute", "case_sensitive"}, unique},
		"slice":    {[]string{"start", "end"}, slice},
		"group_by": {[]string{"attribute"}, groupBy},
		"filter":   {[]string{"attribute", "value"}, filterArray},
		"map":      {[]string{"attribute"}, mapArray},
		"concat":   {[]string{"with"}, concat},
		// Numbers.
		"abs":            {nil, abs},
		"pluralize":      {[]string{"singular", "plural"}, pluralize},
		"round":          {[]string{"method", "precision"}, round},
		"filesizeformat": {[]string{"binary"}, fileSizeFormat},
		// Any value.
		"length":      {nil, length},
		"reverse":     {nil, reverse},
		"json_encode": {[]string{"pretty"}, jsonEncodeFilter},
		"as_str":      {nil, func(in any, _ args) (any, error) { return renderText(in) }},
		"get":         {[]string{"key", "default"}, get},
	}
	out := make(map[string]exec.FilterFunction, len(specs)+2)
	for name, spec := range specs {
		out[name] = adapt(name, spec)
	}
	out["default"] = defaultFilter
	out["safe"] = func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value { return in }
	return out
}

// adapt turns a filter on plain values into an engine filter. An input that failed to
// evaluate (an undefined variable) passes through as the error it is.
func adapt(name string, spec filterSpec) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		st := stateOf(e.Environment.Context)
		v, err := st.plain(in)
		if err != nil {
			return exec.AsValue(err)
		}
		a, err := bind(st, va, spec.params)
		if err == nil {
			var out any
			if out, err = spec.fn(v, a); err == nil {
				if err = checkSize(exec.AsValue(out)); err == nil {
					if err = st.chargeResult(out); err != nil {
						return exec.AsValue(err)
					}
					return exec.AsValue(out)
				}
			}
		}
		if st.failure != nil {
			return exec.AsValue(st.failure)
		}
		return exec.AsValue(fmt.Errorf("filter `%s`: %w", name, err))
	}
}

// defaultFilter is Tera's `default(value=…)`: the value when the input is undefined or null.
func defaultFilter(_ *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
	if len(va.Args) > 1 {
		return exec.AsValue(errors.New("filter `default`: takes one argument, `value`"))
	}
	fallback, ok := va.KwArgs["value"]
	if len(va.Args) == 1 {
		fallback, ok = va.Args[0], true
	}
	if !ok {
		return exec.AsValue(errors.New("filter `default`: requires a `value` argument"))
	}
	if in.IsError() || in.IsNil() {
		return fallback
	}
	return in
}

// bind binds the arguments of a call to params, converting them within st's budget.
func bind(st *renderState, va *exec.VarArgs, params []string) (args, error) {
	if len(va.Args) > len(params) {
		return nil, fmt.Errorf("takes at most %d arguments, got %d", len(params), len(va.Args))
	}
	a := args{}
	for i, v := range va.Args {
		p, err := st.plain(v)
		if err != nil {
			return nil, err
		}
		a[params[i]] = p
	}
	for k, v := range va.KwArgs {
		for _, p := range params {
			if p == k {
				if _, dup := a[k]; dup {
					return nil, fmt.Errorf("argument `%s` given twice", k)
				}
				pv, err := st.plain(v)
				if err != nil {
					return nil, err
				}
				a[k] = pv
			}
		}
	}
	return a, nil
}

func (a args) str(name, def string) (string, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("argument `%s` must be a string, got %s", name, typeName(v))
	}
	return s, nil
}

func (a args) requiredStr(name string) (string, error) {
	if _, ok := a[name]; !ok {
		return "", fmt.Errorf("requires a `%s` argument", name)
	}
	return a.str(name, "")
}

func (a args) integer(name string, def int64) (int64, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	switch t := v.(type) {
	case int64:
		return t, nil
	case float64:
		if t == math.Trunc(t) {
			return int64(t), nil
		}
	}
	return 0, fmt.Errorf("argument `%s` must be an integer, got %s", name, short(v))
}

func (a args) boolean(name string, def bool) (bool, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("argument `%s` must be a boolean, got %s", name, typeName(v))
	}
	return b, nil
}

func (a args) number(name string, def float64) (float64, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	f, ok := toFloat(v)
	if !ok {
		return 0, fmt.Errorf("argument `%s` must be a number, got %s", name, typeName(v))
	}
	return f, nil
}

func wrongInput(in any, want string) error {
	return fmt.Errorf("called on %s %s, want %s", typeName(in), short(in), want)
}

func withString(in any, f func(string) any) (any, error) {
	s, ok := in.(string)
	if !ok {
		return nil, wrongInput(in, "a string")
	}
	return f(s), nil
}

func stringFilter(f func(string) string) filterFunc {
	return func(in any, _ args) (any, error) {
		return withString(in, func(s string) any { return f(s) })
	}
}

func withArray(in any, f func([]any) any) (any, error) {
	arr, ok := in.([]any)
	if !ok {
		return nil, wrongInput(in, "an array")
	}
	return f(arr), nil
}

func jsonEncodeFilter(in any, a args) (any, error) {
	pretty, err := a.boolean("pretty", false)
	if err != nil {
		return nil, err
	}
	return jsonEncode(in, pretty)
}

func get(in any, a args) (any, error) {
	key, err := a.requiredStr("key")
	if err != nil {
		return nil, err
	}
	obj, ok := in.(map[string]any)
	if !ok {
		return nil, wrongInput(in, "an object")
	}
	if v, ok := obj[key]; ok {
		return v, nil
	}
	if def, ok := a["default"]; ok {
		return def, nil
	}
	return nil, fmt.Errorf("key `%s` not found in the object", key)
}
