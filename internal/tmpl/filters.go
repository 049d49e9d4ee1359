package tmpl

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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

// unescapePattern turns the two-character sequences \n and \t of a pattern argument into
// the characters, as Tera does for patterns written in templates.
func unescapePattern(p string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(p)
}

func trimMatches(start bool) filterFunc {
	return func(in any, a args) (any, error) {
		pat, err := a.requiredStr("pat")
		if err != nil {
			return nil, err
		}
		pat = unescapePattern(pat)
		return withString(in, func(s string) any {
			if pat == "" {
				return s
			}
			for start && strings.HasPrefix(s, pat) {
				s = s[len(pat):]
			}
			for !start && strings.HasSuffix(s, pat) {
				s = s[:len(s)-len(pat)]
			}
			return s
		})
	}
}

func truncate(in any, a args) (any, error) {
	n, err := a.integer("length", 255)
	if err != nil {
		return nil, err
	}
	end, err := a.str("end", "…")
	if err != nil {
		return nil, err
	}
	return withString(in, func(s string) any {
		if n < 0 || int64(utf8.RuneCountInString(s)) <= n {
			return s
		}
		runes := []rune(s)
		return string(runes[:n]) + end
	})
}

func wordcount(s string) any { return int64(len(strings.Fields(s))) }

func replace(in any, a args) (any, error) {
	from, err := a.requiredStr("from")
	if err != nil {
		return nil, err
	}
	to, err := a.requiredStr("to")
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, wrongInput(in, "a string")
	}
	n := strings.Count(s, from) // for an empty from: one more than the runes of s
	if len(s)+n*(len(to)-len(from)) > MaxValueBytes {
		return nil, errTooLong
	}
	return strings.ReplaceAll(s, from, to), nil
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return strings.ToUpper(string(r)) + strings.ToLower(s[size:])
}

var wordRE = regexp.MustCompile(`[\pL\pN_']+`)

func title(s string) string {
	return wordRE.ReplaceAllStringFunc(s, capitalize)
}

func indent(in any, a args) (any, error) {
	prefix, err := a.str("prefix", "    ")
	if err != nil {
		return nil, err
	}
	firstLine, err := a.boolean("first", false)
	if err != nil {
		return nil, err
	}
	blank, err := a.boolean("blank", false)
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, wrongInput(in, "a string")
	}
	ls := lines(s)
	if len(s)+len(ls)*len(prefix) > MaxValueBytes {
		return nil, errTooLong
	}
	return withString(in, func(s string) any {
		var b strings.Builder
		for i, line := range ls {
			if i == 0 {
				if firstLine {
					b.WriteString(prefix)
				}
			} else {
				b.WriteByte('\n')
				if blank || strings.TrimLeftFunc(line, unicode.IsSpace) != "" {
					b.WriteString(prefix)
				}
			}
			b.WriteString(line)
		}
		return b.String()
	})
}

// lines splits like Rust's str::lines: on "\n", dropping a "\r" before it and the empty
// piece after a final newline.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, p := range parts {
		parts[i] = strings.TrimSuffix(p, "\r")
	}
	return parts
}

var (
	stripTagsRE = regexp.MustCompile(`(?s)(<!--.*?-->|<[^>]*>)`)
	spacelessRE = regexp.MustCompile(`>\s+<`)
)

// percentEncode percent-encodes every byte except ASCII letters, digits and keep.
func percentEncode(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;", "/", "&#x2F;")

func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func escapeXML(s string) string { return xmlEscaper.Replace(s) }

// slugify lowercases s and joins its runs of ASCII letters and digits with dashes. Other
// characters separate words (no transliteration of non-ASCII letters).
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

func split(in any, a args) (any, error) {
	pat, err := a.requiredStr("pat")
	if err != nil {
		return nil, err
	}
	pat = unescapePattern(pat)
	if s, ok := in.(string); ok && strings.Count(s, pat)+1 > MaxValueItems {
		// Counted first: the pieces of a long string would take far more memory than it.
		return nil, fmt.Errorf("a list value exceeds %d items", MaxValueItems)
	}
	return withString(in, func(s string) any {
		parts := strings.Split(s, pat)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out
	})
}

func toInt(in any, a args) (any, error) {
	def, err := a.integer("default", 0)
	if err != nil {
		return nil, err
	}
	base, err := a.integer("base", 10)
	if err != nil {
		return nil, err
	}
	if base < 2 || base > 36 {
		return nil, fmt.Errorf("base %d out of range", base)
	}
	switch t := in.(type) {
	case int64:
		return t, nil
	case float64:
		return int64(t), nil
	case string:
		s := strings.TrimSpace(t)
		switch base {
		case 2:
			s = strings.TrimPrefix(s, "0b")
		case 8:
			s = strings.TrimPrefix(s, "0o")
		case 16:
			s = strings.TrimPrefix(s, "0x")
		}
		if i, err := strconv.ParseInt(s, int(base), 64); err == nil {
			return i, nil
		}
		if strings.Contains(s, ".") {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return int64(f), nil
			}
		}
		return def, nil
	}
	return nil, wrongInput(in, "a string or a number")
}

func toFloatFilter(in any, a args) (any, error) {
	def, err := a.number("default", 0)
	if err != nil {
		return nil, err
	}
	switch t := in.(type) {
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
			return f, nil
		}
		return def, nil
	}
	return nil, wrongInput(in, "a string or a number")
}

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

func abs(in any, _ args) (any, error) {
	switch t := in.(type) {
	case int64:
		if t < 0 {
			return -t, nil
		}
		return t, nil
	case float64:
		return math.Abs(t), nil
	}
	return nil, wrongInput(in, "a number")
}

func pluralize(in any, a args) (any, error) {
	singular, err := a.str("singular", "")
	if err != nil {
		return nil, err
	}
	plural, err := a.str("plural", "s")
	if err != nil {
		return nil, err
	}
	n, ok := toFloat(in)
	if !ok {
		return nil, wrongInput(in, "a number")
	}
	if math.Abs(n) == 1 {
		return singular, nil
	}
	return plural, nil
}

func round(in any, a args) (any, error) {
	method, err := a.str("method", "common")
	if err != nil {
		return nil, err
	}
	precision, err := a.integer("precision", 0)
	if err != nil {
		return nil, err
	}
	n, ok := toFloat(in)
	if !ok {
		return nil, wrongInput(in, "a number")
	}
	m := math.Pow(10, float64(precision))
	switch method {
	case "common":
		return math.Round(n*m) / m, nil
	case "ceil":
		return math.Ceil(n*m) / m, nil
	case "floor":
		return math.Floor(n*m) / m, nil
	}
	return nil, fmt.Errorf("method `%s` is not one of common, ceil, floor", method)
}

func fileSizeFormat(in any, a args) (any, error) {
	binary, err := a.boolean("binary", false)
	if err != nil {
		return nil, err
	}
	n, ok := toFloat(in)
	if !ok {
		return nil, wrongInput(in, "a number")
	}
	base, units := 1000.0, []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	if binary {
		base, units = 1024.0, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	}
	n = math.Abs(math.Trunc(n))
	if n < base {
		return fmt.Sprintf("%d %s", int64(n), units[0]), nil
	}
	i := 0
	for n >= base && i < len(units)-1 {
		n /= base
		i++
	}
	return fmt.Sprintf("%.2f %s", n, units[i]), nil
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
