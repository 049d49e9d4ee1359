package tmpl

import (
	"fmt"
	"io"
	"reflect"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// ifStructure is `{% if %}…{% elif %}…{% else %}…{% endif %}` with Tera's conditions: a
// variable that cannot be evaluated counts as false (so `{% if optional %}` works without a
// default), `not` of it as true, and `and`/`or` combine such operands.
type ifStructure struct {
	location   *tokens.Token
	conditions []nodes.Expression
	wrappers   []*nodes.Wrapper // one per condition, then the else body if any
}

func (s *ifStructure) Position() *tokens.Token { return s.location }

func (s *ifStructure) String() string {
	return fmt.Sprintf("if(Line=%d Col=%d)", s.location.Line, s.location.Col)
}

// Execute renders the body of the first true condition, or the else body.
func (s *ifStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	if err := stateOf(r.Environment.Context).alive(); err != nil {
		return err
	}
	for i, cond := range s.conditions {
		ok, err := truth(r, cond)
		if err != nil {
			return err
		}
		if ok {
			return r.ExecuteIfWrapper(s.wrappers[i])
		}
	}
	if len(s.wrappers) > len(s.conditions) {
		return r.ExecuteIfWrapper(s.wrappers[len(s.conditions)])
	}
	return nil
}

func ifParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	s := &ifStructure{location: args.Current()}
	cond, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	if !args.End() {
		return nil, args.Error("malformed if condition", nil)
	}
	s.conditions = append(s.conditions, cond)
	sawElse := false
	for {
		body, tagArgs, err := p.WrapUntil("elif", "else", "endif")
		if err != nil {
			return nil, err
		}
		s.wrappers = append(s.wrappers, body)
		switch body.EndTag {
		case "elif":
			if sawElse {
				return nil, tagArgs.Error("elif after else", nil)
			}
			cond, err := tagArgs.ParseExpression()
			if err != nil {
				return nil, err
			}
			if !tagArgs.End() {
				return nil, tagArgs.Error("malformed elif condition", nil)
			}
			s.conditions = append(s.conditions, cond)
		case "else":
			if sawElse {
				return nil, tagArgs.Error("second else in if", nil)
			}
			sawElse = true
			if !tagArgs.End() {
				return nil, tagArgs.Error("else takes no arguments", nil)
			}
		default: // endif
			if !tagArgs.End() {
				return nil, tagArgs.Error("endif takes no arguments", nil)
			}
			return s, nil
		}
	}
}

// truth evaluates a condition the way Tera does.
func truth(r *exec.Renderer, e nodes.Expression) (bool, error) {
	switch e := e.(type) {
	case *nodes.Negation:
		b, err := truth(r, e.Term)
		return !b, err
	case *nodes.BinaryExpression:
		switch e.Operator.Token.Val {
		case "and":
			l, err := truth(r, e.Left)
			if err != nil || !l {
				return false, err
			}
			return truth(r, e.Right)
		case "or":
			l, err := truth(r, e.Left)
			if err != nil || l {
				return l, err
			}
			return truth(r, e.Right)
		}
	}
	v := r.Eval(e)
	if v.IsError() {
		if isVariable(e) {
			return false, nil
		}
		return false, v
	}
	return truthOf(v), nil
}

// truthOf is truthy without converting a whole value: a list or object is true when it
// has elements.
func truthOf(v *exec.Value) bool {
	if v.IsNil() {
		return false
	}
	rv := reflect.ValueOf(v.Interface())
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() > 0
	case reflect.Pointer:
		if d, ok := v.Interface().(*exec.Dict); ok {
			return d != nil && len(d.Pairs) > 0
		}
	case reflect.Struct:
		if d, ok := v.Interface().(exec.Dict); ok {
			return len(d.Pairs) > 0
		}
	}
	return truthy(plain(v))
}

// isVariable reports whether e is a variable reference (possibly with attribute or index
// access and filters), the expressions Tera treats as false when they cannot be evaluated.
func isVariable(e nodes.Expression) bool {
	switch e := e.(type) {
	case *nodes.Name:
		return true
	case *nodes.GetAttribute:
		return isVariable(e.Node)
	case *nodes.GetItem:
		return isVariable(e.Node)
	case *nodes.FilteredExpression:
		return isVariable(e.Expression)
	}
	return false
}

// setStructure is `{% set name = expr %}` (current scope) or `{% set_global name = expr %}`
// (the template's top scope).
type setStructure struct {
	location *tokens.Token
	name     string
	value    nodes.Expression
	global   bool
}

func (s *setStructure) Position() *tokens.Token { return s.location }

func (s *setStructure) String() string {
	return fmt.Sprintf("set(%s Line=%d Col=%d)", s.name, s.location.Line, s.location.Col)
}

// Execute evaluates the value and assigns it.
func (s *setStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	if err := stateOf(r.Environment.Context).alive(); err != nil {
		return err
	}
	v := r.Eval(s.value)
	if v.IsError() {
		return v
	}
	scope := r.Environment.Context
	if s.global {
		if root, ok := scope.Get(globalsKey); ok {
			if c, ok := root.(*exec.Context); ok {
				scope = c
			}
		}
	}
	scope.Set(s.name, v.Interface())
	return nil
}

func setParser(global bool) parser.ControlStructureParser {
	return func(_ *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		s := &setStructure{location: args.Current(), global: global}
		name := args.Match(tokens.Name)
		if name == nil {
			return nil, args.Error("expected a variable name after set", args.Current())
		}
		if args.Match(tokens.Assign) == nil {
			return nil, args.Error("expected '=' after the variable name", args.Current())
		}
		value, err := args.ParseExpression()
		if err != nil {
			return nil, err
		}
		if !args.End() {
			return nil, args.Error("malformed set", args.Current())
		}
		s.name, s.value = name.Val, value
		return s, nil
	}
}

// filterStructure is `{% filter name(args) %}…{% endfilter %}`: the rendered body passes
// through one filter.
type filterStructure struct {
	location *tokens.Token
	call     *nodes.FilterCall
	body     *nodes.Wrapper
}

func (s *filterStructure) Position() *tokens.Token { return s.location }

func (s *filterStructure) String() string {
	return fmt.Sprintf("filter(%s Line=%d Col=%d)", s.call.Name, s.location.Line, s.location.Col)
}

// Execute renders the body, applies the filter and writes the result.
func (s *filterStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	st := stateOf(r.Environment.Context)
	if err := st.alive(); err != nil {
		return err
	}
	sub := r.Inherit()
	buf := limitedBuffer{max: st.maxOutput, st: st}
	sub.Output = &buf
	if err := sub.ExecuteWrapper(s.body); err != nil {
		return err
	}
	v := r.Evaluator().ExecuteFilter(s.call, exec.AsValue(buf.String()))
	if v.IsError() {
		return v
	}
	pv, err := st.plain(v)
	if err != nil {
		return err
	}
	text, err := renderText(pv)
	if err != nil {
		return err
	}
	_, err = io.WriteString(r.Output, text)
	return err
}

func filterParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	s := &filterStructure{location: args.Current()}
	call, err := args.ParseFilter()
	if err != nil {
		return nil, err
	}
	if !args.End() {
		return nil, args.Error("malformed filter section: one filter expected", args.Current())
	}
	body, endArgs, err := p.WrapUntil("endfilter")
	if err != nil {
		return nil, err
	}
	if !endArgs.End() {
		return nil, endArgs.Error("endfilter takes no arguments", nil)
	}
	s.call, s.body = call, body
	return s, nil
}
