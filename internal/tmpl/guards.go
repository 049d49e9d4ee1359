package tmpl

import (
	"fmt"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Resource guards. Templates are written by API clients, so a rendering must not be able to
// exhaust the broker: loops share an iteration budget, values are bounded in size, and `*`
// only multiplies numbers (as in Tera; the engine would otherwise repeat strings).

const (
	// MaxLoopIterations bounds the loop iterations of one rendering, all loops together. A
	// loop is charged the length of its sequence when it starts.
	MaxLoopIterations = 200_000
	// MaxValueBytes bounds the size of a string value, MaxValueItems the length of a list.
	MaxValueBytes = MaxOutputBytes
	MaxValueItems = 1_000_000
)

// Names of the internal filters and context entries; none can be written in a template.
const (
	numberFilter = "\x00number"
	sizeFilter   = "\x00size"
	chargeFilter = "\x00charge"
	budgetKey    = "\x00budget"
)

// prepare rewrites a parsed template for rendering: every output gets the Tera output
// filter, expressions get the guards, and every loop charges its length to the budget.
func prepare(ns []nodes.Node) {
	for _, n := range ns {
		switch n := n.(type) {
		case *nodes.Output:
			n.Expression = withFilter(harden(n.Expression), outputFilter)
			if n.Condition != nil {
				n.Condition = harden(n.Condition)
			}
			if n.Alternative != nil {
				n.Alternative = withFilter(harden(n.Alternative), outputFilter)
			}
		case *nodes.Wrapper:
			prepare(n.Nodes)
		case *nodes.ControlStructureBlock:
			prepareStructure(n.ControlStructure)
		}
	}
}

func prepareStructure(cs nodes.ControlStructure) {
	switch cs := cs.(type) {
	case *ifStructure:
		for i, c := range cs.conditions {
			cs.conditions[i] = harden(c)
		}
		for _, w := range cs.wrappers {
			prepare(w.Nodes)
		}
	case *setStructure:
		cs.value = withFilter(harden(cs.value), sizeFilter)
	case *filterStructure:
		hardenCall(cs.call.Args, cs.call.Kwargs)
		prepare(cs.body.Nodes)
	case *controlStructures.ForControlStructure:
		cs.ObjectEvaluator = withFilter(harden(cs.ObjectEvaluator), chargeFilter)
		if cs.IfCondition != nil {
			cs.IfCondition = harden(cs.IfCondition)
		}
		if cs.BodyWrapper != nil {
			prepare(cs.BodyWrapper.Nodes)
		}
		if cs.EmptyWrapper != nil {
			prepare(cs.EmptyWrapper.Nodes)
		}
	}
}

// harden returns e with the guards applied to its subexpressions.
func harden(e nodes.Expression) nodes.Expression {
	switch e := e.(type) {
	case *nodes.BinaryExpression:
		e.Left, e.Right = harden(e.Left), harden(e.Right)
		switch e.Operator.Token.Type {
		case tokens.Multiply:
			e.Left, e.Right = withFilter(e.Left, numberFilter), withFilter(e.Right, numberFilter)
		case tokens.Tilde, tokens.Addition:
			return withFilter(e, sizeFilter)
		}
	case *nodes.UnaryExpression:
		e.Term = harden(e.Term)
	case *nodes.Negation:
		e.Term = harden(e.Term)
	case *nodes.FilteredExpression:
		e.Expression = harden(e.Expression)
		for _, f := range e.Filters {
			hardenCall(f.Args, f.Kwargs)
		}
	case *nodes.TestExpression:
		e.Expression = harden(e.Expression)
		hardenCall(e.Test.Args, e.Test.Kwargs)
	case *nodes.Call:
		hardenCall(e.Args, e.Kwargs)
	case *nodes.GetItem:
		e.Node, e.Arg = hardenNode(e.Node), hardenNode(e.Arg)
	case *nodes.GetAttribute:
		e.Node = hardenNode(e.Node)
	case *nodes.GetSlice:
		e.Node, e.Start, e.End, e.Step = hardenNode(e.Node), hardenNode(e.Start), hardenNode(e.End), hardenNode(e.Step)
	case *nodes.List:
		for i, v := range e.Val {
			e.Val[i] = harden(v)
		}
	case *nodes.Tuple:
		for i, v := range e.Val {
			e.Val[i] = harden(v)
		}
	case *nodes.Dict:
		for _, p := range e.Pairs {
			p.Key, p.Value = harden(p.Key), harden(p.Value)
		}
	}
	return e
}

func hardenNode(n nodes.Node) nodes.Node {
	if n == nil {
		return nil
	}
	return harden(n)
}

func hardenCall(args []nodes.Expression, kwargs map[string]nodes.Expression) {
	for i, a := range args {
		args[i] = harden(a)
	}
	for k, a := range kwargs {
		kwargs[k] = harden(a)
	}
}

func withFilter(e nodes.Expression, name string) nodes.Expression {
	call := &nodes.FilterCall{Token: e.Position(), Name: name}
	if f, ok := e.(*nodes.FilteredExpression); ok {
		f.Filters = append(f.Filters, call)
		return f
	}
	return &nodes.FilteredExpression{Expression: e, Filters: []*nodes.FilterCall{call}}
}

// guardNumber passes numbers and refuses anything else (the operands of `*`).
func guardNumber(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() || in.IsNumber() {
		return in
	}
	return exec.AsValue(fmt.Errorf("`*` multiplies numbers, not %s", typeName(plain(in))))
}

// guardSize refuses strings and lists beyond the value limits.
func guardSize(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if err := checkSize(in); err != nil {
		return exec.AsValue(err)
	}
	return in
}

func checkSize(in *exec.Value) error {
	switch {
	case in.IsError():
		return nil
	case in.IsString() && len(in.String()) > MaxValueBytes:
		return fmt.Errorf("a string value exceeds %d bytes", MaxValueBytes)
	case in.IsList() && in.Len() > MaxValueItems:
		return fmt.Errorf("a list value exceeds %d items", MaxValueItems)
	}
	return nil
}

// chargeLoop charges the length of a loop's sequence to the rendering's budget.
func chargeLoop(e *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() || !in.IsList() && !in.IsDict() && !in.IsString() {
		return in
	}
	b, ok := e.Environment.Context.Get(budgetKey)
	if !ok {
		return in
	}
	left, ok := b.(*int)
	if !ok {
		return in
	}
	if *left -= in.Len(); *left < 0 {
		return exec.AsValue(fmt.Errorf("more than %d loop iterations", MaxLoopIterations))
	}
	return in
}
