package tmpl

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// The fuzz targets run their seeds (f.Add and testdata/fuzz/<target>) with every `go test`;
// `go test -run '^$' -fuzz '^FuzzCheck$' -fuzztime 60s ./internal/tmpl/` explores further
// (hack/fuzz/run.sh runs every target of the module).

// FuzzCheck checks the structural pre-check against the engine's own lexer, and that Check
// refuses exactly what is too deep and never crashes on what it lets through.
func FuzzCheck(f *testing.F) {
	for _, src := range nestingCorpus {
		f.Add(src)
	}
	f.Add("{{ " + strings.Repeat("[", 200))
	f.Add(deep("{% if a %}", "{{ [(x)] }}", "{% endif %}", 70))
	f.Add("{{ a" + strings.Repeat(".b", 70) + " }}")
	f.Add("{%!0.\uebc2")
	f.Fuzz(func(t *testing.T, src string) {
		if s := scanNesting(src, math.MaxInt); s.trap >= 0 {
			// The engine's lexer would run forever here: Check must refuse it unparsed.
			var trap *lexerTrapError
			if err := Check(src); !errors.As(err, &trap) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("a lexer trap at %d, Check: %v", s.trap, err)
			}
			return
		}
		depth, _ := measureNesting(src, math.MaxInt)
		if want := lexerNesting(src); depth != want {
			t.Fatalf("measureNesting = %d, the lexer's tokens give %d", depth, want)
		}
		for _, limit := range []int{1, 8, DefaultMaxNesting} {
			d, _ := measureNesting(src, limit)
			if (d > limit) != (depth > limit) {
				t.Fatalf("limit %d: measured %d, unbounded %d", limit, d, depth)
			}
		}
		err := Check(src)
		if tooDeep := errors.Is(err, ErrTooDeep); tooDeep != (depth > DefaultMaxNesting) {
			t.Fatalf("depth %d, Check: %v", depth, err)
		}
	})
}

// fuzzVars are the variables of FuzzRender: every JSON type, a long string and a long list.
var fuzzVars = map[string]any{
	"name": "web", "n": int64(3), "f": 2.5, "on": true, "nothing": nil,
	"tags":   []any{"a", "b", "c"},
	"labels": map[string]any{"tier": "front", "ports": []any{int64(80), int64(443)}},
	"big":    strings.Repeat("x", 64<<10),
	"long":   make([]any, 50_000),
}

// FuzzRender renders arbitrary templates under tight limits: whatever the template, the
// rendering ends close to its deadline, its output stays within the bound, and its error
// does not leak the engine's internals.
func FuzzRender(f *testing.F) {
	for _, src := range nestingCorpus {
		f.Add(src)
	}
	for _, src := range []string{
		"{% for i in range(end=1000) %}{{ range(end=100000) | sort | length }}{% endfor %}",
		"{% set r = range(end=100000) %}{{ [r, r, r, r, r, r, r, r] == [r, r, r, r, r, r, r, r] }}",
		"{% set r = range(end=100000) %}{{ [r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r] | length }}",
		"{% for i in range(end=100000) %}{{ big | wordcount }}{% endfor %}",
		"{% for x in long %}{% for y in long %}{{ x }}{% endfor %}{% endfor %}",
		"{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
		"{{ range(start=-9000000000000000000, end=9000000000000000000) | length }}",
		"{% set_global s = big %}{% for i in range(end=20) %}{% set_global s = s ~ s %}{% endfor %}{{ s | length }}",
		"{{ big | replace(from='', to=big) }}",
		"{{ tags | join(sep=big) | length }} {{ labels | json_encode }} {{ name ~ n ~ f ~ on }}",
		"{% filter upper %}{% for t in tags %}{{ t }}{% endfor %}{% endfilter %}",
		"{{ big is matching('(x+x+)+y') }}",
	} {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		o := Options{Timeout: 200 * time.Millisecond, MaxOutputBytes: 64 << 10}
		start := time.Now()
		out, err := o.Render(context.Background(), src, fuzzVars)
		if d := time.Since(start); d > o.Timeout+3*time.Second {
			t.Fatalf("rendering took %v", d)
		}
		if len(out) > o.MaxOutputBytes {
			t.Fatalf("output of %d bytes", len(out))
		}
		if err != nil && !strings.Contains(src, "\x00") && strings.Contains(err.Error(), "\x00") {
			t.Fatalf("error leaks engine internals: %q", err)
		}
	})
}
