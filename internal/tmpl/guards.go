package tmpl

import (
	"errors"
	"fmt"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Resource guards. Templates are written by API clients, so a rendering must not be able to
// exhaust the broker: loops share an iteration budget and check the deadline at every
// iteration, values are bounded in size, the operators that go through whole values charge
// them to the rendering's cell budget first (see limits.go), and `*` only multiplies numbers
// (as in Tera; the engine would otherwise repeat strings).

const (
	// MaxLoopIterations bounds the loop iterations of one rendering, all loops together. A
	// loop is charged the length of its sequence when it starts.
	MaxLoopIterations = 200_000
	// MaxValueBytes bounds the size of a string value, MaxValueItems the length of a list.
	MaxValueBytes = 16 << 20
	MaxValueItems = 1_000_000
)

// Names of the internal filters; none can be written in a template.
const (
	numberFilter  = "\x00number"
	sizeFilter    = "\x00size"
	madeFilter    = "\x00made"
	operandFilter = "\x00operand"
	chargeFilter  = "\x00charge"
)

// prepare rewrites a parsed template for rendering: every output gets the Tera output
// filter, expressions get the guards, and every loop charges its length to the budget and
// checks the deadline at each iteration. It refuses what the guards cannot bound.
func prepare(ns []nodes.Node) error {
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
			if err := prepare(n.Nodes); err != nil {
				return err
			}
		case *nodes.ControlStructureBlock:
			if err := prepareStructure(n.ControlStructure); err != nil {
				return err
			}
		}
	}
	return nil
}

func prepareStructure(cs nodes.ControlStructure) error {
	switch cs := cs.(type) {
	case *ifStructure:
		for i, c := range cs.conditions {
			cs.conditions[i] = harden(c)
		}
		for _, w := range cs.wrappers {
			if err := prepare(w.Nodes); err != nil {
				return err
			}
		}
	case *setStructure:
		cs.value = withFilter(harden(cs.value), sizeFilter)
	case *filterStructure:
		hardenCall(cs.call.Args, cs.call.Kwargs)
		return prepare(cs.body.Nodes)
	case *controlStructures.ForControlStructure:
		if cs.Recursive {
			// Tera has no recursive loops, and the engine's recursion escapes the budget.
			return errors.New("recursive loops are not supported")
		}
		cs.ObjectEvaluator = withFilter(harden(cs.ObjectEvaluator), chargeFilter)
		if cs.IfCondition != nil {
			cs.IfCondition = harden(cs.IfCondition)
		}
		if cs.BodyWrapper != nil {
			if err := prepare(cs.BodyWrapper.Nodes); err != nil {
				return err
			}
			tick := &nodes.ControlStructureBlock{Location: cs.BodyWrapper.Location, Name: tickName,
				ControlStructure: &tickStructure{location: cs.BodyWrapper.Location}}
			cs.BodyWrapper.Nodes = append([]nodes.Node{tick}, cs.BodyWrapper.Nodes...)
		}
		if cs.EmptyWrapper != nil {
			return prepare(cs.EmptyWrapper.Nodes)
		}
	}
	return nil
}

// tickName names the structure checking the deadline at each loop iteration.
const tickName = "\x00tick"

// tickStructure starts every loop iteration: it stops the rendering once a limit is hit.
type tickStructure struct{ location *tokens.Token }

func (t *tickStructure) Position() *tokens.Token { return t.location }

func (t *tickStructure) String() string { return "loop iteration" }

func (t *tickStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	return stateOf(r.Environment.Context).alive()
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
			// The engine copies or prints both operands whole.
			e.Left, e.Right = withFilter(e.Left, operandFilter), withFilter(e.Right, operandFilter)
			return withFilter(e, madeFilter)
		case tokens.Equals, tokens.Ne, tokens.LowerThan, tokens.LowerThanOrEqual,
			tokens.GreaterThan, tokens.GreaterThanOrEqual:
			// The engine compares whole values, or prints one to compare it with a string.
			e.Left, e.Right = withFilter(e.Left, operandFilter), withFilter(e.Right, operandFilter)
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
		// Functions (range, the loop's cycle and changed) get their arguments whole.
		hardenCall(e.Args, e.Kwargs)
		for i, a := range e.Args {
			e.Args[i] = withFilter(a, operandFilter)
		}
		for k, a := range e.Kwargs {
			e.Kwargs[k] = withFilter(a, operandFilter)
		}
		if e.Parent != nil {
			// A method call (`x.name()`): the engine prints x whole in its error message.
			e.Parent = withFilter(harden(e.Parent), operandFilter)
		}
	case *nodes.GetItem:
		e.Node, e.Arg = hardenNode(e.Node), hardenNode(e.Arg)
		if arg, ok := e.Arg.(nodes.Expression); ok && arg != nil {
			e.Arg = withFilter(arg, operandFilter) // an error message may print the key
		}
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
	call := &nodes.FilterCall{Token: positionOf(e), Name: name}
	if f, ok := e.(*nodes.FilteredExpression); ok {
		f.Filters = append(f.Filters, call)
		return f
	}
	return &nodes.FilteredExpression{Expression: e, Filters: []*nodes.FilterCall{call}}
}

// positionOf is e.Position() in constant time: the engine finds the position of an
// operation or a filtered expression by descending to its leftmost operand, which made
// guarding a chain quadratic.
func positionOf(e nodes.Expression) *tokens.Token {
	switch e := e.(type) {
	case *nodes.BinaryExpression:
		if e.Operator != nil && e.Operator.Token != nil {
			return e.Operator.Token
		}
	case *nodes.FilteredExpression:
		if len(e.Filters) > 0 && e.Filters[0].Token != nil {
			return e.Filters[0].Token
		}
	}
	return e.Position()
}

// guardNumber passes numbers and refuses anything else (the operands of `*`).
func guardNumber(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() || in.IsNumber() {
		return in
	}
	kind := "array" // named without converting the value, which may be huge
	switch {
	case in.IsDict():
		kind = "object"
	case !in.IsList():
		kind = typeName(plain(in))
	}
	return exec.AsValue(fmt.Errorf("`*` multiplies numbers, not %s", kind))
}

// guardSize refuses strings and lists beyond the value limits.
func guardSize(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if err := checkSize(in); err != nil {
		return exec.AsValue(err)
	}
	return in
}

// guardMade is guardSize for a value an operator made: it also charges its size.
func guardMade(e *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if err := checkSize(in); err != nil {
		return exec.AsValue(err)
	}
	n := 1
	if in.IsString() || in.IsList() {
		n += in.Len()
		if in.IsString() {
			n = 1 + len(in.String())/cellBytes
		}
	}
	if err := stateOf(e.Environment.Context).charge(n); err != nil {
		return exec.AsValue(err)
	}
	return in
}

// guardOperand charges a whole value that an operator or function is about to go through.
func guardOperand(e *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if err := stateOf(e.Environment.Context).chargeDeep(in); err != nil {
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
	if err := stateOf(e.Environment.Context).chargeLoop(in.Len()); err != nil {
		return exec.AsValue(err)
	}
	return in
}

// checked makes a filter check the rendering's limits before it runs.
func checked(f exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
		if err := stateOf(e.Environment.Context).alive(); err != nil {
			return exec.AsValue(err)
		}
		return f(e, in, va)
	}
}

// engineTest is the form of every test of this package.
type engineTest = func(*exec.Evaluator, *exec.Value, *exec.VarArgs) (bool, error)

// checkedTest makes a test check the rendering's limits before it runs.
func checkedTest(f engineTest) exec.TestFunction {
	return func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) (bool, error) {
		if err := stateOf(e.Environment.Context).alive(); err != nil {
			return false, err
		}
		return f(e, in, va)
	}
}
