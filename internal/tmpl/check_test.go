package tmpl

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nikolalohinski/gonja/v2/tokens"
)

// lexerNesting computes the nesting of src the way measureNesting does, but from the
// engine's own lexer's tokens: measureNesting must read templates exactly as the lexer does,
// or it could count less than the parser will see.
func lexerNesting(src string) int {
	s := nestScanner{limit: math.MaxInt}
	l := tokens.NewLexer(src, engineConfig)
	go l.Run()
	stopped, inTag, expectName := false, false, false
	for tok := range l.Tokens {
		if stopped {
			continue // drain, so that the lexer's goroutine ends
		}
		switch tok.Type {
		case tokens.Error, tokens.EOF:
			stopped = true
		case tokens.Whitespace, tokens.Data, tokens.CommentBegin, tokens.CommentEnd, tokens.Comment:
		case tokens.VariableBegin:
			inTag = true
			s.levels = append(s.levels[:0], nestLevel{base: s.blocks})
			s.operand = false
		case tokens.BlockBegin:
			inTag, expectName = true, true
		case tokens.VariableEnd, tokens.BlockEnd:
			if len(s.levels) > 1 {
				stopped = true // an unclosed bracket: the parser stops here
			}
			inTag = false
		case tokens.Name:
			if expectName {
				expectName = false
				switch tok.Val {
				case "if", "for", "filter":
					s.blocks++
					s.note(s.blocks, 0)
				case "endif", "endfor", "endfilter":
					if s.blocks > 0 {
						s.blocks--
					}
				}
				s.levels = append(s.levels[:0], nestLevel{base: s.blocks})
				s.operand = false
				continue
			}
			s.operand = true
		case tokens.Integer, tokens.Float, tokens.String:
			s.operand = true
		case tokens.LeftParenthesis:
			s.open('(', 0)
		case tokens.LeftBracket:
			s.open('[', 0)
		case tokens.LeftBrace:
			s.open('{', 0)
		case tokens.RightParenthesis, tokens.RightBracket, tokens.RightBrace:
			s.closeLevel(0)
		case tokens.Comma, tokens.Colon, tokens.Assign:
			s.separate()
		case tokens.Pipe:
			s.operand = false
		default:
			if !inTag {
				panic("token outside a tag: " + tok.String())
			}
			s.link(0)
		}
	}
	return s.peak
}

// nestingCorpus are templates exercising the lexer's rules and quirks; the fuzz targets
// start from them.
var nestingCorpus = []string{
	"", "plain text [[[ ((( {{{", "{{ x }}", "{{ [[[x]]] }}", "{{ ((((x)))) }}", "{{ {'a': {'b': 1}} }}",
	"{{ a.b.c.d }}", "{{ a[0][1][2] }}", "{{ f(g(h(x))) }}", "{{ a ~ b ~ c }}", "{{ 1 + 2 * 3 - 4 / 5 // 6 % 7 ** 8 }}",
	"{{ a == b != c < d <= e > f >= g }}", "{{ a and b or not c }}", "{{ x is defined and y is not number }}",
	"{{ 'x' in tags }}", "{{ x | upper | replace(from='a', to='b') }}", "{{ (a.b).c }}", "{{ [a.b, c.d.e] }}",
	"{% if a %}{% if b %}{% for x in y %}{{ x }}{% endfor %}{% endif %}{% endif %}",
	"{% filter upper %}{% if a %}x{% endif %}{% endfilter %}", "{% set x = [1, [2, [3]]] %}",
	"{% set_global x = a ~ b %}", "{{ 'a string with [[[ and }} inside' }}", "{{ \"double \\\" quoted [[[\" }}",
	"{{ '\\\\' }} [[[ {{ x }}", "{# a comment [[[ {{ ((( #}{{ x }}", "{#- trimmed #}", "{# unclosed [[[",
	"{% raw %}{{ [[[[ }}{% endraw %}{{ x }}", "{% raw %}{% if %}{%- endraw %}", "{% raw %}never closed [[[[",
	"{% comment %}[[[[{% endcomment %}", "{{ x -}} {%- if a -%}y{%+ endif +%}", "{{ x +%} [[[ {{ y }}",
	"{% if x -}} {{ [[[ ]]] }}", "{{ {'a': 1} }}", "{{ {{ }} }}", "{{ } }}", "{{ ) }}", "{{ ( }}{{ ) }}",
	"{{ [ }} {{ ] }}", "{{ a ! b }}", "{{ a != b }}", "{{ 1.5e+3 }}", "{{ 0x1F + 0b101 + 0o17 }}", "{{ 1_000 }}",
	"{{ 1__0 }}", "{{ 1. }}", "{{ 1.2.3 }}", "{{ 1e }}", "{{ 1abc.def }}", "{{ a.0.1 }}", "{{ x.5 }}",
	"{{ in }}{{ is }}{{ not(x) }}{{ and(1) }}{{ or }}", "{{ nota }}{{ indeed }}{{ island }}", "{{ x\tin\ty }}",
	"{{ é.ü(ß) }}", "{{ ١٢٣ }}", "{{ \xff\xfe [ ] }}", "{{ x % y }}", "{% if a %}{% else %}{% elif b %}{% endif %}",
	"{% for x in y recursive %}{{ loop(x) }}{% endfor %}", "{% endif %}{% endif %}{{ [[x]] }}", "{%if(x)%}y{%endif%}",
	"{{- x -}}", "{{+ x }}", "{%- raw -%} {{ }} {%- endraw -%}", "{% raw %}x{%\n\tendraw %}", "{{ x }}}}", "{{{{{",
	"{% %}", "{%%}", "{{}}", "{#}#}", "{##}", "{{ 'unclosed", "{{ \"unclosed }}", "{% if a }%} x", "{{ a\nb }}",
	"{{ x\r\n| upper }}", "{{ [1, 2,] }}", "{{ (1,) }}", "{{ a[1:2:3] }}", "{{ a if b else c }}", "{{ -x + +y }}",
	"{{ a.b(c).d[e](f) }}", "{{ [[[[1]], [[2]]], [[[3]]]] }}",
}

func TestNestingMatchesLexer(t *testing.T) {
	for _, src := range nestingCorpus {
		got, _ := measureNesting(src, math.MaxInt)
		if want := lexerNesting(src); got != want {
			t.Errorf("measureNesting(%q) = %d, the lexer's tokens give %d", src, got, want)
		}
	}
}

func TestNestingDepths(t *testing.T) {
	for src, want := range map[string]int{
		"no tags at all [[[ ((( {{ x }} {#": 0,
		"{{ x }}":                           0,
		"{{ [x] }}":                         1,
		"{{ [[[x]]] }}":                     3,
		"{{ ((((x)))) }}":                   4,
		"{{ {'a': {'b': [1]}} }}":           3,
		"{{ a.b }}":                         1,
		"{{ a.b.c.d }}":                     3,
		"{{ a ~ b ~ c }}":                   2,
		"{{ f(x) }}":                        2, // the call, and its parentheses
		"{{ (a.b).c }}":                     3,
		"{{ [a.b, c.d.e] }}":                3,
		"{{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }}":                              1,
		"{{ x | upper | lower | trim | title }}":                                 0,
		"{% if a %}{{ x }}{% endif %}":                                           1,
		"{% if a %}{% for x in y %}{% endfor %}{% endif %}{% if b %}{% endif %}": 3, // `in` is a level
		"{% for x in y %}{{ [x] }}{% endfor %}":                                  2,
		"{{ '[[[[[[[[' }}":                                                       0,
		"{{ \"((((\" ~ '{{{{' }}":                                                1,
		"{# [[[[[[[[ {{ ((((((( #}":                                              0,
		"{% raw %}{{ [[[[[[[[[[ }}{% endraw %}":                                  0,
		"{% set x = a.b.c %}{% set y = [d.e] %}":                                 2,
	} {
		if got, _ := measureNesting(src, math.MaxInt); got != want {
			t.Errorf("measureNesting(%q) = %d, want %d", src, got, want)
		}
	}
}

// deep returns n copies of open, then x, then n copies of close.
func deep(open, x, close string, n int) string {
	return strings.Repeat(open, n) + x + strings.Repeat(close, n)
}

func TestCheckNestingLimit(t *testing.T) {
	for _, c := range []struct {
		name string
		at   func(n int) string // a template with n repetitions of a construct
		max  int                // the most repetitions within the default limit of 64
	}{
		{"brackets", func(n int) string { return "{{ " + deep("[", "1", "]", n) + " }}" }, 64},
		{"parentheses", func(n int) string { return "{{ " + deep("(", "1", ")", n) + " }}" }, 64},
		{"braces", func(n int) string { return "{{ " + deep("{'a': ", "1", "}", n) + " }}" }, 64},
		// A call is two levels: the call and its parentheses.
		{"calls", func(n int) string { return "{{ " + deep("range(end=", "1", ")", n) + " }}" }, 32},
		{"blocks", func(n int) string { return deep("{% if true %}", "x", "{% endif %}", n) }, 64},
		// A loop is a level, and so is its `in`.
		{"loops", func(n int) string { return deep("{% for i in y %}", "x", "{% endfor %}", n) }, 63},
		{"attributes", func(n int) string { return "{{ x" + strings.Repeat(".a", n) + " }}" }, 64},
		{"operators", func(n int) string { return "{{ 1" + strings.Repeat(" + 1", n) + " }}" }, 64},
		{"concatenations", func(n int) string { return "{{ 'a'" + strings.Repeat(" ~ 'a'", n) + " }}" }, 64},
		{"conditions", func(n int) string { return "{% if true" + strings.Repeat(" and true", n) + " %}x{% endif %}" }, 63},
	} {
		t.Run(c.name, func(t *testing.T) {
			within, over := c.at(c.max), c.at(c.max+1)
			if err := Check(within); errors.Is(err, ErrTooDeep) {
				t.Errorf("%d repetitions: %v, want no nesting error", c.max, err)
			}
			if _, err := Render(within, nil); errors.Is(err, ErrTooDeep) {
				t.Errorf("%d repetitions: rendering refused: %v", c.max, err)
			}
			err := Check(over)
			var ne *NestingError
			if !errors.Is(err, ErrTooDeep) || !errors.As(err, &ne) || ne.Max != 64 {
				t.Fatalf("%d repetitions: %v, want a nesting error", c.max+1, err)
			}
			if _, err := Render(over, nil); !errors.Is(err, ErrTooDeep) {
				t.Errorf("rendering %d repetitions: %v, want a nesting error", c.max+1, err)
			}
			// The limit is an option.
			if err := (Options{MaxNesting: 100}).Check(over); errors.Is(err, ErrTooDeep) {
				t.Errorf("%d repetitions under a limit of 100: %v", c.max+1, err)
			}
			if err := (Options{MaxNesting: 8}).Check(within); !errors.Is(err, ErrTooDeep) {
				t.Errorf("%d repetitions under a limit of 8: %v, want a nesting error", c.max, err)
			}
		})
	}
}

func TestCheckNestingIgnoresTextStringsAndComments(t *testing.T) {
	brackets := strings.Repeat("[", 10000)
	for _, src := range []string{
		"text " + brackets,
		"{{ '" + brackets + "' }}",
		"{{ \"" + brackets + "\" | length }}",
		"{# " + brackets + " #}{{ 1 }}",
		"{% raw %}{{ " + brackets + " }}{% endraw %}",
		"{% filter upper %}" + brackets + "{% endfilter %}",
	} {
		if err := Check(src); err != nil {
			t.Errorf("Check(%.40q…): %v", src, err)
		}
	}
}

func TestNestingErrorPosition(t *testing.T) {
	err := Check("line one\n{% if a %}\n  {{ [[x]] }}\n{% endif %}")
	if err != nil {
		t.Fatal(err)
	}
	err = Options{MaxNesting: 2}.Check("line one\n{% if a %}\n  {{ [[x]] }}\n{% endif %}")
	var ne *NestingError
	if !errors.As(err, &ne) || ne.Line != 3 || ne.Col != 7 || ne.Max != 2 {
		t.Fatalf("err = %#v, want line 3 column 7", err)
	}
	if want := "nested more than 2 levels deep at line 3 column 7"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q does not start with %q", err, want)
	}
}

// hostileNesting are templates whose parsing or rendering recursed until the process died
// (a Go stack overflow, which recover() cannot catch), or that took minutes.
var hostileNesting = map[string]string{
	"150,000 brackets":        "{{ " + strings.Repeat("[", 150_000),
	"150,000 parentheses":     "{{ " + strings.Repeat("(", 150_000),
	"150,000 braces":          "{{ " + strings.Repeat("{", 150_000),
	"balanced brackets":       "{{ " + deep("[", "1", "]", 100_000) + " }}",
	"nested ifs":              deep("{% if true %}", "x", "{% endif %}", 100_000),
	"unclosed ifs":            strings.Repeat("{% for x in y %}", 150_000),
	"attribute chain":         "{{ a" + strings.Repeat(".b", 500_000) + " }}",
	"index chain":             "{{ a" + strings.Repeat("[0]", 300_000) + " }}",
	"call chain":              "{{ a" + strings.Repeat("()", 300_000) + " }}",
	"addition chain":          "{{ 1" + strings.Repeat("+1", 500_000) + " }}",
	"concatenation chain":     "{{ 'a'" + strings.Repeat("~'a'", 300_000) + " }}",
	"conditions":              "{% if true" + strings.Repeat(" and true", 200_000) + " %}x{% endif %}",
	"brackets in an if":       "{% if " + strings.Repeat("[", 150_000),
	"brackets after comments": strings.Repeat("{# [ #}", 1000) + "{{ " + strings.Repeat("[", 150_000),
}

func TestCheckRefusesDeepTemplatesBeforeParsing(t *testing.T) {
	for name, src := range hostileNesting {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			if err := Check(src); !errors.Is(err, ErrTooDeep) {
				t.Errorf("Check: %.200v, want a nesting error", err)
			}
			if _, err := Render(src, nil); !errors.Is(err, ErrTooDeep) {
				t.Errorf("Render: %.200v, want a nesting error", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// The deep templates run in a child process: on a broker without the pre-check each of them
// kills the process, and the test must report that rather than die with it.
const deepChildEnv = "BROKKR_TMPL_DEEP_CHILD"

func TestDeepTemplatesDoNotKillTheProcess(t *testing.T) {
	if os.Getenv(deepChildEnv) != "" {
		t.Skip("run by the parent test")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeepTemplatesChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), deepChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 4000 {
			tail = tail[:2000] + "\n…\n" + tail[len(tail)-2000:]
		}
		t.Fatalf("the child process died checking and rendering deep templates: %v\n%s", err, tail)
	}
	if !strings.Contains(string(out), "--- PASS: TestDeepTemplatesChild") {
		t.Fatalf("the child did not run:\n%s", out)
	}
}

// TestDeepTemplatesChild is the child of TestDeepTemplatesDoNotKillTheProcess: it parses and
// renders each hostile template in this process.
func TestDeepTemplatesChild(t *testing.T) {
	if os.Getenv(deepChildEnv) == "" {
		t.Skip("run by TestDeepTemplatesDoNotKillTheProcess")
	}
	for name, src := range hostileNesting {
		if err := Check(src); err == nil {
			t.Errorf("%s: Check succeeded", name)
		}
		if _, err := Render(src, nil); err == nil {
			t.Errorf("%s: Render succeeded", name)
		}
	}
}

func BenchmarkCheckNesting(b *testing.B) {
	src := strings.Repeat("{% for x in items %}{{ x.name | upper }}: {{ [x.a, x.b] | join(sep=', ') }}\n{% endfor %}", 20_000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := measureNesting(src, DefaultMaxNesting); d > DefaultMaxNesting {
			b.Fatal(d)
		}
	}
}

// A number followed by a dot and a multi-byte character that is not a digit sends the
// engine's lexer back over the same text forever, its tokens growing until the process
// dies; Check refuses such templates before they reach the engine.
func TestCheckRefusesLexerTraps(t *testing.T) {
	for _, src := range []string{
		"{%!0.\uebc2",
		"{{ 0.é }}",
		"{{ 1.5.ü }}",
		"{{ x[12.ß] }}",
		"{{ 1e3.€ }}",
		"text {% if 7.日本 %}{% endif %}",
	} {
		done := make(chan error, 1)
		go func() { done <- Check(src) }()
		select {
		case err := <-done:
			var trap *lexerTrapError
			if !errors.As(err, &trap) || !strings.HasPrefix(err.Error(), "syntax: ") {
				t.Errorf("Check(%q) = %v, want the syntax error of a lexer trap", src, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Check(%q) still running after 10 s", src)
		}
	}
	// What the lexer reads correctly stays accepted.
	for _, src := range []string{"{{ 0.5 }}", "{{ 1. }}", "{{ x.é }}", "{{ 'é' ~ 1 }}", "{{ 1.٣ }}", "{{ 0. é }}"} {
		var trap *lexerTrapError
		if err := Check(src); errors.As(err, &trap) {
			t.Errorf("Check(%q) = %v, want no lexer trap", src, err)
		}
	}
}
