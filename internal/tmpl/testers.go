package tmpl

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// maxRange bounds the length of a list made by range().
const maxRange = 100000

// Tera's tests (`x is defined`, `n is divisibleby(3)`, …).

type testFunc func(in any, params []any) (bool, error)

func teraTests() map[string]exec.TestFunction {
	tests := map[string]testFunc{
		"odd":           numberTest(func(n float64) bool { return math.Mod(n, 2) != 0 }),
		"even":          numberTest(func(n float64) bool { return math.Mod(n, 2) == 0 }),
		"string":        func(in any, _ []any) (bool, error) { _, ok := in.(string); return ok, nil },
		"number":        func(in any, _ []any) (bool, error) { _, ok := toFloat(in); return ok, nil },
		"iterable":      func(in any, _ []any) (bool, error) { return isIterable(in), nil },
		"object":        func(in any, _ []any) (bool, error) { _, ok := in.(map[string]any); return ok, nil },
		"divisibleby":   divisibleBy,
		"starting_with": stringTest(strings.HasPrefix),
		"ending_with":   stringTest(strings.HasSuffix),
		"containing":    containing,
		"matching":      matching,
		// The `in` operator: `x in container`.
		"in": func(in any, params []any) (bool, error) {
			c, err := oneParam(params)
			if err != nil {
				return false, err
			}
			return containing(c, []any{in})
		},
	}
	out := make(map[string]exec.TestFunction, len(tests)+2)
	for name, fn := range tests {
		out[name] = adaptTest(name, fn)
	}
	// defined/undefined look at the evaluation itself: a null value is defined.
	out["defined"] = func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return !in.IsError(), nil
	}
	out["undefined"] = func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsError(), nil
	}
	return out
}

func adaptTest(name string, fn testFunc) exec.TestFunction {
	return func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) (bool, error) {
		if in.IsError() {
			return false, fmt.Errorf("test `%s` called on an undefined value: %s", name, in.Error())
		}
		st := stateOf(e.Environment.Context)
		params := make([]any, len(va.Args))
		for i, p := range va.Args {
			v, err := st.plain(p)
			if err != nil {
				return false, err
			}
			params[i] = v
		}
		v, err := st.plain(in)
		if err != nil {
			return false, err
		}
		if cost := testCosts[name]; cost != nil {
			if err := st.charge(cost(v, params)); err != nil {
				return false, err
			}
		}
		ok, err := fn(v, params)
		if err != nil {
			return false, fmt.Errorf("test `%s`: %w", name, err)
		}
		return ok, nil
	}
}

// testCosts are the cells the tests whose work is not proportional to the size of their
// operands cost, on top of converting them.
var testCosts = map[string]func(in any, params []any) int{
	// A regular expression runs in time proportional to the text times the pattern.
	"matching": func(in any, params []any) int {
		s, _ := in.(string)
		pat := ""
		if len(params) == 1 {
			pat, _ = params[0].(string)
		}
		return (1 + len(s)/cellBytes) * (1 + len(pat)/cellBytes)
	},
}

func isIterable(in any) bool {
	switch in.(type) {
	case []any, map[string]any:
		return true
	}
	return false
}

func numberTest(f func(float64) bool) testFunc {
	return func(in any, _ []any) (bool, error) {
		n, ok := toFloat(in)
		if !ok {
			return false, wrongInput(in, "a number")
		}
		return f(n), nil
	}
}

func oneParam(params []any) (any, error) {
	if len(params) != 1 {
		return nil, fmt.Errorf("takes one argument, got %d", len(params))
	}
	return params[0], nil
}

func divisibleBy(in any, params []any) (bool, error) {
	p, err := oneParam(params)
	if err != nil {
		return false, err
	}
	n, ok := toFloat(in)
	d, ok2 := toFloat(p)
	if !ok || !ok2 {
		return false, errors.New("needs numbers")
	}
	if d == 0 {
		return false, nil
	}
	return math.Mod(n, d) == 0, nil
}

func stringTest(f func(s, pat string) bool) testFunc {
	return func(in any, params []any) (bool, error) {
		p, err := oneParam(params)
		if err != nil {
			return false, err
		}
		s, ok := in.(string)
		pat, ok2 := p.(string)
		if !ok || !ok2 {
			return false, errors.New("needs strings")
		}
		return f(s, pat), nil
	}
}

func containing(in any, params []any) (bool, error) {
	p, err := oneParam(params)
	if err != nil {
		return false, err
	}
	switch t := in.(type) {
	case string:
		s, ok := p.(string)
		if !ok {
			return false, errors.New("a string can only contain a string")
		}
		return strings.Contains(t, s), nil
	case []any:
		for _, e := range t {
			if jsonEqual(e, p) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		s, ok := p.(string)
		if !ok {
			return false, errors.New("object keys are strings")
		}
		_, found := t[s]
		return found, nil
	}
	return false, wrongInput(in, "a string, an array or an object")
}

func matching(in any, params []any) (bool, error) {
	p, err := oneParam(params)
	if err != nil {
		return false, err
	}
	s, ok := in.(string)
	pat, ok2 := p.(string)
	if !ok || !ok2 {
		return false, errors.New("needs strings")
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return false, fmt.Errorf("invalid regular expression: %w", err)
	}
	return re.MatchString(s), nil
}

// teraFunctions are the global functions of the template language.
func teraFunctions() map[string]any {
	return map[string]any{
		"range": rangeFunc,
		"throw": throwFunc,
	}
}

// rangeFunc is Tera's range(end, start=0, step_by=1): the integers from start up to end,
// exclusive.
func rangeFunc(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	st := stateOf(e.Environment.Context)
	if err := st.alive(); err != nil {
		return exec.AsValue(err)
	}
	a, err := bind(st, va, []string{"end", "start", "step_by"})
	if err != nil {
		return exec.AsValue(fmt.Errorf("function `range`: %w", err))
	}
	if _, ok := a["end"]; !ok {
		return exec.AsValue(errors.New("function `range`: requires an `end` argument"))
	}
	end, err := a.integer("end", 0)
	if err == nil {
		var start, step int64
		if start, err = a.integer("start", 0); err == nil {
			if step, err = a.integer("step_by", 1); err == nil {
				var n uint64 // the number of items, computed without overflow
				if step > 0 && start < end {
					n = (uint64(end)-uint64(start)-1)/uint64(step) + 1
				}
				switch {
				case step <= 0:
					err = errors.New("`step_by` must be positive")
				case n > maxRange:
					err = fmt.Errorf("more than %d items", maxRange)
				default:
					if err := st.charge(1 + int(n)); err != nil {
						return exec.AsValue(err)
					}
					out := make([]any, n)
					for i := range out {
						out[i] = start + int64(i)*step
					}
					return exec.AsValue(out)
				}
			}
		}
	}
	return exec.AsValue(fmt.Errorf("function `range`: %w", err))
}

// throwFunc is Tera's throw(message): fail the rendering with a message.
func throwFunc(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	a, err := bind(stateOf(e.Environment.Context), va, []string{"message"})
	if err != nil {
		return exec.AsValue(fmt.Errorf("function `throw`: %w", err))
	}
	msg, err := a.requiredStr("message")
	if err != nil {
		return exec.AsValue(fmt.Errorf("function `throw`: %w", err))
	}
	return exec.AsValue(errors.New(msg))
}
