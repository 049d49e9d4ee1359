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
// A rendering is bounded (MaxOutputBytes, MaxLoopIterations, MaxValueBytes, MaxValueItems)
// so that a hostile template cannot exhaust the broker.
//
// Parameters are described by a JSON Schema (see CompileSchema).
package tmpl

import (
	"bytes"
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

// MaxOutputBytes bounds the size of a rendered template; rendering stops with an error beyond.
const MaxOutputBytes = 16 << 20

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
	filters[chargeFilter] = chargeLoop
	return &exec.Environment{
		Filters:           exec.NewFilterSet(filters),
		Tests:             exec.NewTestSet(teraTests()),
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

// Check parses src and reports its first syntax error, if any.
func Check(src string) (err error) {
	defer recoverError("syntax", &err)
	_, err = parse(src)
	return err
}

// recoverError turns a panic of the engine into an error.
func recoverError(stage string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%s: template engine failure: %v", stage, p)
	}
}

// Render renders src with vars as the template's variables. Values may be what encoding/json
// decodes (json.Number included). Undefined variables in output, failing filters and
// exceeded limits are errors.
func Render(src string, vars map[string]any) (_ string, err error) {
	defer recoverError("render", &err)
	tpl, err := parse(src)
	if err != nil {
		return "", err
	}
	root := environment.Context.Inherit()
	for k, v := range vars {
		root.Set(k, plain(v))
	}
	root.Set(globalsKey, root)
	budget := MaxLoopIterations
	root.Set(budgetKey, &budget)
	env := &exec.Environment{
		Filters:           environment.Filters,
		Tests:             environment.Tests,
		ControlStructures: environment.ControlStructures,
		Context:           root,
		Methods:           environment.Methods,
	}
	out := &limitedBuffer{max: MaxOutputBytes}
	if err := exec.NewRenderer(env, out, engineConfig, sourceLoader{}, tpl).Execute(); err != nil {
		if errors.Is(err, errOutputTooLarge) {
			return "", errOutputTooLarge
		}
		return "", fmt.Errorf("render: %s", cleanMessage(err.Error()))
	}
	return out.String(), nil
}

// filterNoise is what gonja adds around an error coming out of a filter.
var filterNoise = regexp.MustCompile(`unable to evaluate filter &\{.*?\}: (invalid call to filter '[^']*': )?`)

// cleanMessage removes the engine's internal descriptions from a render error: the filter
// call structures and the expression wrapper this package adds to every output.
func cleanMessage(msg string) string {
	msg = filterNoise.ReplaceAllString(msg, "")
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

// parse parses src and prepares it for rendering (Tera output, guards).
func parse(src string) (*exec.Template, error) {
	tpl, err := exec.NewTemplate(rootName, engineConfig, sourceLoader{src: src}, environment)
	if err != nil {
		// gonja repeats the whole source in its message; keep only the parser's error.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, fmt.Errorf("syntax: %s", err.Error())
	}
	prepare(tpl.Root().Nodes)
	return tpl, nil
}

// renderOutput turns the value of an output expression into its Tera text.
func renderOutput(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	text, err := renderText(plain(in))
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

var errOutputTooLarge = fmt.Errorf("render: output exceeds %d bytes", MaxOutputBytes)

// limitedBuffer is a buffer that refuses to grow beyond max bytes.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errOutputTooLarge
	}
	return b.Buffer.Write(p)
}

// WriteString implements io.StringWriter with the same limit (io.WriteString prefers it).
func (b *limitedBuffer) WriteString(s string) (int, error) {
	if b.Len()+len(s) > b.max {
		return 0, errOutputTooLarge
	}
	return b.Buffer.WriteString(s)
}
