package tmpl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Limits of one rendering. The deadline and the cell budget bound its CPU and memory:
// every filter, test, function call, loop iteration and control structure checks the
// deadline before it runs, and the work proportional to the size of values (converting them
// for a filter, comparing, concatenating or printing them, making lists with range()) is
// charged to the budget before it is done, so no single step can run long or allocate much
// past either bound.

const (
	// DefaultTimeout is the deadline of a rendering when none is given.
	DefaultTimeout = 2 * time.Second
	// DefaultMaxOutputBytes bounds the rendered output when no bound is given.
	DefaultMaxOutputBytes = 2 << 20
	// MaxValueCells bounds the work of one rendering on values, in cells: one per list item,
	// object entry or scalar a filter, test or operator goes through (shared values counted
	// each time), and one per 16 bytes of the strings that concatenation, comparison and
	// filters copy or produce. About 32 MiB of strings, or 2 million list items.
	MaxValueCells = 2 << 20
	// cellBytes is the number of string bytes one cell stands for.
	cellBytes = 16
)

// ErrTimeout is matched (errors.Is) by the error of a rendering that passed its deadline.
var ErrTimeout = errors.New("template rendering timed out")

// TimeoutError reports a rendering stopped at its deadline.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("render: stopped after %v, the time a rendering may take", e.Timeout)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Options bound the checks and renderings of templates; zero fields take the defaults.
type Options struct {
	// MaxNesting is the deepest nesting a template may have (see checkNesting).
	MaxNesting int
	// Timeout is the deadline of a rendering, parsing included.
	Timeout time.Duration
	// MaxOutputBytes bounds the rendered output.
	MaxOutputBytes int
}

// WithDefaults returns o with its zero fields set to the defaults.
func (o Options) WithDefaults() Options {
	if o.MaxNesting <= 0 {
		o.MaxNesting = DefaultMaxNesting
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return o
}

// stateKey names the context entry holding the rendering's state. It cannot be written as
// an identifier inside a template.
const stateKey = "\x00state"

// renderState is what one rendering may still spend, and the first limit it hit.
type renderState struct {
	ctx       context.Context
	timeout   time.Duration
	maxOutput int
	loops     int // loop iterations left
	cells     int // value cells left
	failure   error
}

func newRenderState(ctx context.Context, o Options) *renderState {
	return &renderState{ctx: ctx, timeout: o.Timeout, maxOutput: o.MaxOutputBytes,
		loops: MaxLoopIterations, cells: MaxValueCells}
}

var errCells = fmt.Errorf("the rendering exceeds its budget of %d value cells (list items, object entries, 16-byte pieces of strings)", MaxValueCells)

// stateOf returns the state of the rendering an evaluator belongs to.
func stateOf(c *exec.Context) *renderState {
	if c != nil {
		if v, ok := c.Get(stateKey); ok {
			if st, ok := v.(*renderState); ok {
				return st
			}
		}
	}
	// Outside a rendering (none evaluates): fresh limits.
	return newRenderState(context.Background(), Options{}.WithDefaults())
}

// limitHit carries the error of a limit up through the engine to Render, which recovers it:
// the rendering stops at once, wherever it is. An error value would not do, because the
// engine takes some errors for false or undefined (a loop's condition, `default`,
// `is defined`) and goes on.
type limitHit struct{ err error }

// fail records the first limit hit and stops the rendering with it.
func (st *renderState) fail(err error) error {
	if st.failure == nil {
		st.failure = err
	}
	panic(limitHit{st.failure})
}

// alive returns an error once the rendering is past its deadline, cancelled, or has hit a
// limit.
func (st *renderState) alive() error {
	if st.failure != nil {
		return st.failure
	}
	if err := st.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return st.fail(&TimeoutError{Timeout: st.timeout})
		}
		return st.fail(fmt.Errorf("render: %w", err))
	}
	return nil
}

// charge spends n cells.
func (st *renderState) charge(n int) error {
	if st.cells -= n; st.cells < 0 {
		return st.fail(errCells)
	}
	return st.alive()
}

// chargeLoop spends n loop iterations.
func (st *renderState) chargeLoop(n int) error {
	if st.loops -= n; st.loops < 0 {
		return st.fail(fmt.Errorf("more than %d loop iterations", MaxLoopIterations))
	}
	return st.alive()
}

// plain is plain (values.go) within the budget: each value converted costs a cell.
func (st *renderState) plain(x any) (_ any, err error) {
	c := converter{left: st.cells, limited: true}
	defer func() {
		if p := recover(); p != nil {
			if err, ok := p.(error); !ok || !errors.Is(err, errCells) {
				panic(p)
			}
			st.cells = -1
			err = st.fail(errCells)
		}
	}()
	v := c.conv(x)
	st.cells = c.left
	return v, st.alive()
}

// chargeResult charges what a filter produced: its items, or its bytes.
func (st *renderState) chargeResult(x any) error {
	switch t := x.(type) {
	case string:
		return st.charge(1 + len(t)/cellBytes)
	case []any:
		return st.charge(1 + len(t))
	case map[string]any:
		return st.charge(1 + len(t))
	}
	return st.charge(1)
}

// chargeDeep charges the whole of a value, strings by their bytes: the work of the engine's
// operators that compare, concatenate or print whole values.
func (st *renderState) chargeDeep(x any) error {
	w := walker{left: st.cells}
	ok := w.walk(x)
	st.cells = w.left
	if !ok {
		return st.fail(errCells)
	}
	return st.alive()
}

// walker counts the cells of a value without copying it, and stops when left runs out.
type walker struct{ left int }

func (w *walker) take(n int) bool {
	w.left -= n
	return w.left >= 0
}

func (w *walker) walk(x any) bool {
	if !w.take(1) {
		return false
	}
	switch t := x.(type) {
	case nil, bool, int, int64, float64:
		return true
	case string:
		return w.take(len(t) / cellBytes)
	case *exec.Value:
		if t == nil || !t.Val.IsValid() {
			return true
		}
		return w.walk(t.Interface())
	case exec.ValuesList:
		for _, e := range t {
			if !w.walk(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range t {
			if !w.walk(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range t {
			if !w.take(len(k)/cellBytes) || !w.walk(e) {
				return false
			}
		}
		return true
	case *exec.Dict:
		return t == nil || w.walkDict(t)
	case exec.Dict:
		return w.walkDict(&t)
	case error:
		return true
	}
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return true
		}
		e := v.Elem()
		if e.Kind() == reflect.Struct || !e.CanInterface() {
			return true
		}
		return w.walk(e.Interface())
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if !v.Index(i).CanInterface() || !w.walk(v.Index(i).Interface()) {
				return false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if !it.Key().CanInterface() || !it.Value().CanInterface() ||
				!w.walk(it.Key().Interface()) || !w.walk(it.Value().Interface()) {
				return false
			}
		}
	case reflect.String:
		return w.take(v.Len() / cellBytes)
	}
	return true
}

func (w *walker) walkDict(d *exec.Dict) bool {
	for _, p := range d.Pairs {
		if !w.walk(p.Key) || !w.walk(p.Value) {
			return false
		}
	}
	return true
}
