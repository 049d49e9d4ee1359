// Package tmpl renders stack templates and checks their parameters.
//
// Templates are written in the Tera template language (Tera 1.x syntax: `{{ var }}`,
// `{{ var | default(value=1) }}`, `{% if %}`/`{% elif %}`/`{% else %}`, `{% for %}`, `{% set %}`,
// `{% filter %}`, `{% raw %}`, comments and whitespace control). The package runs them on the
// gonja engine with a Tera-shaped environment: Tera's filters, tests and functions with their
// keyword arguments, Tera's truthiness of undefined variables in conditions, strict errors on
// undefined variables in output, and Tera's rendering of values (`true`, `[a, b]`, `[object]`).
//
// Not supported: template inheritance and composition (`extends`, `block`, `include`,
// `import`, macros), which need other named templates; the `date` filter; and the `now`,
// `get_random` and `get_env` functions (the last would expose the broker's environment).
//
// A template is bounded before it is parsed (its nesting, see checkNesting), and a rendering
// while it runs (a deadline, the output size, MaxLoopIterations, MaxValueCells, MaxValueBytes,
// MaxValueItems; see Options), so that a hostile template cannot exhaust the broker.
//
// Parameters are described by a JSON Schema (see CompileSchema).
package tmpl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// rootName is the name the template is parsed under; no other template exists.
const rootName = "template"

// globalsKey names the context entry pointing at a render's root scope (for set_global).
// It cannot be written as an identifier inside a template.
const globalsKey = "\x00globals"

// outputFilter names the filter appended to every `{{ }}` expression to render its value the
// way Tera does. It cannot be written as a filter name inside a template.
const outputFilter = "\x00output"

var (
	engineConfig = newConfig()
	environment  = newEnvironment()
)

func newConfig() *config.Config {
	cfg := config.New()
	cfg.StrictUndefined = true     // an undefined variable in output is an error, as in Tera
	cfg.KeepTrailingNewline = true // Tera keeps the source's final newline
	cfg.AutoEscape = false
	return cfg
}

func newEnvironment() *exec.Environment {
	structures := map[string]parser.ControlStructureParser{
		"if":         ifParser,
		"set":        setParser(false),
		"set_global": setParser(true),
		"filter":     filterParser,
	}
	// Loops, raw blocks and loop controls come from gonja (prepare adds the loop budget).
	for _, name := range []string{"for", "raw", "break", "continue"} {
		p, ok := builtins.ControlStructures.Get(name)
		if !ok {
			panic("tmpl: gonja lacks the " + name + " control structure")
		}
		structures[name] = p
	}
	filters := teraFilters()
	filters[outputFilter] = renderOutput
	filters[numberFilter] = guardNumber
	filters[sizeFilter] = guardSize
	filters[madeFilter] = guardMade
	filters[operandFilter] = guardOperand
	filters[chargeFilter] = chargeLoop
	for name, f := range filters {
		filters[name] = checked(f)
	}
	tests := map[string]exec.TestFunction{}
	for name, t := range teraTests() {
		tests[name] = checkedTest(t.(engineTest))
	}
	return &exec.Environment{
		Filters:           exec.NewFilterSet(filters),
		Tests:             exec.NewTestSet(tests),
		ControlStructures: exec.NewControlStructureSet(structures),
		Context:           exec.NewContext(teraFunctions()),
		// Tera has no methods on values.
		Methods: exec.Methods{
			Bool:  exec.NewMethodSet(map[string]exec.Method[bool]{}),
			Int:   exec.NewMethodSet(map[string]exec.Method[int]{}),
			Float: exec.NewMethodSet(map[string]exec.Method[float64]{}),
			Str:   exec.NewMethodSet(map[string]exec.Method[string]{}),
			Dict:  exec.NewMethodSet(map[string]exec.Method[map[string]any]{}),
			List:  exec.NewMethodSet(map[string]exec.Method[[]any]{}),
		},
	}
}

// Check checks src with the default options.
func Check(src string) error { return Options{}.Check(src) }

// Check checks src's nesting (see checkNesting) and parses it, and reports the first
// problem: a *NestingError (ErrTooDeep) or a syntax error.
func (o Options) Check(src string) (err error) {
	o = o.WithDefaults()
	defer recoverError("syntax", &err)
	_, err = o.parse(src)
	return err
}

// recoverError turns a panic of the engine into an error, and a limit hit into its error.
func recoverError(stage string, err *error) {
	if p := recover(); p != nil {
		if h, ok := p.(limitHit); ok {
			*err = h.err
			return
		}
		*err = fmt.Errorf("%s: template engine failure: %v", stage, p)
	}
}

// Render renders src with vars under the default options, without a context.
func Render(src string, vars map[string]any) (string, error) {
	return Options{}.Render(context.Background(), src, vars)
}

// Render renders src with vars as the template's variables. Values may be what encoding/json
// decodes (json.Number included). The template is checked first (see Check). Undefined
// variables in output, failing filters and exceeded limits are errors; past o.Timeout (or
// when ctx ends) the rendering stops with a *TimeoutError (ErrTimeout) (or ctx's error).
func (o Options) Render(ctx context.Context, src string, vars map[string]any) (out string, err error) {
	o = o.WithDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	defer func() {
		if err != nil {
			out = ""
		}
	}()
	defer recoverError("render", &err)
	st := newRenderState(ctx, o)
	tpl, err := o.parse(src)
	if err != nil {
		return "", err
	}
	if err := st.alive(); err != nil {
		return "", err
	}
	root := environment.Context.Inherit()
	for k, v := range vars {
		root.Set(k, plain(v))
	}
	root.Set(globalsKey, root)
	root.Set(stateKey, st)
	env := &exec.Environment{
		Filters:           environment.Filters,
		Tests:             environment.Tests,
		ControlStructures: environment.ControlStructures,
		Context:           root,
		Methods:           environment.Methods,
	}
	buf := &limitedBuffer{max: o.MaxOutputBytes, st: st}
	if err := exec.NewRenderer(env, buf, engineConfig, sourceLoader{}, tpl).Execute(); err != nil {
		return "", fmt.Errorf("render: %s", cleanMessage(err.Error()))
	}
	return buf.String(), nil
}

// filterNoise is what gonja adds around an error coming out of a filter.
var filterNoise = regexp.MustCompile(`(?s)unable to evaluate filter &\{.*?\}: (invalid call to filter '[^']*': )?`)

// maxMessage bounds the length of a render error's message.
const maxMessage = 16 << 10

// cleanMessage removes the engine's internal descriptions from a render error: the filter
// call structures and the expression wrapper this package adds to every output. The
// message is cut to maxMessage bytes, and never names an internal filter.
func cleanMessage(msg string) string {
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
	}
	msg = filterNoise.ReplaceAllString(msg, "")
	return strings.ReplaceAll(unwrapOutputs(msg), "\x00", "")
}

// unwrapOutputs removes the expression wrappers from msg.
func unwrapOutputs(msg string) string {
	const wrapper = "filtered_expression("
	for {
		i := strings.Index(msg, wrapper)
		if i < 0 {
			return msg
		}
		depth, end := 1, -1
		for j := i + len(wrapper); j < len(msg) && end < 0; j++ {
			switch msg[j] {
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					end = j
				}
			}
		}
		if end < 0 {
			return msg
		}
		msg = msg[:i] + msg[i+len(wrapper):end] + msg[end+1:]
	}
}

// parse checks src's nesting, parses it and prepares it for rendering (Tera output, guards).
func (o Options) parse(src string) (*exec.Template, error) {
	if err := checkNesting(src, o.MaxNesting); err != nil {
		var trap *lexerTrapError
		if errors.As(err, &trap) {
			return nil, fmt.Errorf("syntax: %w", err)
		}
		return nil, err
	}
	tpl, err := exec.NewTemplate(rootName, engineConfig, sourceLoader{src: src}, environment)
	if err != nil {
		// gonja repeats the whole source in its message; keep only the parser's error.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, fmt.Errorf("syntax: %s", err.Error())
	}
	if err := prepare(tpl.Root().Nodes); err != nil {
		return nil, fmt.Errorf("syntax: %w", err)
	}
	return tpl, nil
}

// renderOutput turns the value of an output expression into its Tera text.
func renderOutput(e *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	v, err := stateOf(e.Environment.Context).plain(in)
	if err != nil {
		return exec.AsValue(err)
	}
	text, err := renderText(v)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(text)
}

// sourceLoader serves the template being parsed and nothing else: templates cannot read
// other templates or files.
type sourceLoader struct{ src string }

func (l sourceLoader) Read(path string) (io.Reader, error) {
	if path != rootName {
		return nil, fmt.Errorf("template %q not found: templates cannot load other templates", path)
	}
	return strings.NewReader(l.src), nil
}

func (l sourceLoader) Resolve(path string) (string, error) { return path, nil }

func (l sourceLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

// ErrOutputTooLarge is matched (errors.Is) by the error of a rendering whose output would
// exceed its bound.
var ErrOutputTooLarge = errors.New("rendered output too large")

// OutputError reports a rendering stopped because its output would exceed Max bytes.
type OutputError struct{ Max int }

func (e *OutputError) Error() string { return fmt.Sprintf("render: output exceeds %d bytes", e.Max) }

// Is makes errors.Is(err, ErrOutputTooLarge) true.
func (e *OutputError) Is(target error) bool { return target == ErrOutputTooLarge }

// limitedBuffer is a buffer that refuses to grow beyond max bytes; the refusal ends the
// rendering of st.
type limitedBuffer struct {
	bytes.Buffer
	max int
	st  *renderState
}

func (b *limitedBuffer) refuse() error {
	var err error = &OutputError{Max: b.max}
	if b.st != nil {
		err = b.st.fail(err)
	}
	return err
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, b.refuse()
	}
	return b.Buffer.Write(p)
}

// WriteString implements io.StringWriter with the same limit (io.WriteString prefers it).
func (b *limitedBuffer) WriteString(s string) (int, error) {
	if b.Len()+len(s) > b.max {
		return 0, b.refuse()
	}
	return b.Buffer.WriteString(s)
}
