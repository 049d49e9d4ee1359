package tmpl

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestGuards checks that hostile templates fail fast instead of exhausting the broker.
func TestGuards(t *testing.T) {
	mib := strings.Repeat("x", 1<<20)
	cases := []struct{ name, src, wantInMessage string }{
		{"string repetition", "{{ 'x' * 100000000000 }}", "multiplies numbers"},
		{"repetition through a variable", "{{ s * 3 }}", "multiplies numbers"},
		{"nested loops", "{% for i in range(end=100000) %}{% for j in range(end=100000) %}{% endfor %}{% endfor %}", "loop iterations"},
		{"nested loops that filter everything", "{% for i in range(end=100000) %}{% for j in range(end=100000) if false %}{% endfor %}{% endfor %}", "loop iterations"},
		{"loops over a long list", "{% for a in long %}{% for b in long %}{% break %}{% endfor %}{% endfor %}", "loop iterations"},
		{"doubling a string", "{% set_global s = 'x' %}{% for i in range(end=64) %}{% set_global s = s ~ s %}{% endfor %}", "exceeds"},
		{"doubling a list", "{% set_global l = [1] %}{% for i in range(end=64) %}{% set_global l = l | concat(with=l) %}{% endfor %}", "exceeds"},
		{"concatenation in one expression", "{{ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big ~ big }}", "exceeds"},
		{"replace amplification", "{{ big | replace(from='x', to=big) }}", "exceed"},
		{"replace of the empty string", "{{ big | replace(from='', to='yyyyyyyyyyyyyyyyyyyy') }}", "exceed"},
		{"indent amplification", "{{ lines | indent(prefix=big) }}", "exceed"},
		{"join amplification", "{% set_global l = [] %}{% for i in range(end=40) %}{% set_global l = l | concat(with=big) %}{% endfor %}{{ l | join }}", "exceed"},
		{"printing a huge list", "{% set_global l = [] %}{% for i in range(end=40) %}{% set_global l = l | concat(with=big) %}{% endfor %}{{ l }}", "exceed"},
		{"json of a huge list", "{% set_global l = [] %}{% for i in range(end=40) %}{% set_global l = l | concat(with=big) %}{% endfor %}{{ l | json_encode }}", "exceed"},
		{"modulo by zero", "{{ 1 % 0 }}", "render"},
		{"negative repetition", "{{ 'x' * -1 }}", "multiplies numbers"},
	}
	long := make([]any, 150000)
	vars := map[string]any{"s": "ab", "big": mib, "lines": strings.Repeat("a\n", 100), "long": long}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			// A long deadline, so that the guard under test is what stops the rendering
			// (under the race detector 200,000 loop iterations take about as long as the
			// default deadline); the time check below still bounds it.
			out, err := Options{Timeout: time.Minute}.Render(context.Background(), c.src, vars)
			if err == nil {
				t.Fatalf("rendered %d bytes, want an error", len(out))
			}
			if !strings.Contains(err.Error(), c.wantInMessage) {
				t.Errorf("error %q does not mention %q", err, c.wantInMessage)
			}
			if strings.Contains(err.Error(), "\x00") || strings.Contains(err.Error(), "&{") {
				t.Errorf("error leaks engine internals: %q", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestGuardsLeaveNormalUseAlone(t *testing.T) {
	out, err := Render("{{ 2 * 3 }} {{ 1.5 * 2 }} {{ n * 2 }} {% for i in range(end=1000) %}{% endfor %}{{ 'a' ~ 'b' }} {{ [1] + [2] }}",
		map[string]any{"n": 4})
	if err != nil || out != "6 3 8 ab [1, 2]" {
		t.Fatalf("got %q, %v", out, err)
	}
}

// slowVars make templates slow without making them large: a word count of big takes about a
// millisecond, and costs next to nothing of the cell budget.
var slowVars = map[string]any{"big": strings.Repeat("x", 1<<20)}

func TestRenderStopsAtItsDeadline(t *testing.T) {
	if d := (Options{}).WithDefaults().Timeout; d != 2*time.Second {
		t.Fatalf("default deadline %v, want 2s", d)
	}
	// Each of these would run for minutes; the deadline is checked wherever the work is.
	for name, src := range map[string]string{
		"filter in a loop":       "{% for i in range(end=100000) %}{{ big | wordcount }}{% endfor %}",
		"loop condition":         "{% for i in range(end=100000) if big | wordcount > 1 %}{% endfor %}",
		"set in a loop":          "{% for i in range(end=100000) %}{% set n = big | wordcount %}{% endfor %}",
		"if in a loop":           "{% for i in range(end=100000) %}{% if big | wordcount > 1 %}x{% endif %}{% endfor %}",
		"test in a loop":         "{% for i in range(end=100000) %}{% if big is containing('y') %}x{% endif %}{% endfor %}",
		"nested loops":           "{% for i in range(end=400) %}{% for j in range(end=400) %}{{ big | length }}{% endfor %}{% endfor %}",
		"filter section in loop": "{% for i in range(end=100000) %}{% filter length %}{{ big | wordcount }}{% endfilter %}{% endfor %}",
	} {
		t.Run(name, func(t *testing.T) {
			o := Options{Timeout: 300 * time.Millisecond}
			start := time.Now()
			_, err := o.Render(context.Background(), src, slowVars)
			elapsed := time.Since(start)
			var te *TimeoutError
			if !errors.Is(err, ErrTimeout) || !errors.As(err, &te) || te.Timeout != o.Timeout {
				t.Fatalf("err = %v after %v, want the deadline", err, elapsed)
			}
			if elapsed > o.Timeout+2*time.Second {
				t.Errorf("stopped after %v, deadline %v", elapsed, o.Timeout)
			}
			if want := "render: stopped after 300ms"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q, want it to start with %q", err, want)
			}
		})
	}
}

func TestRenderStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Options{Timeout: time.Minute}.Render(ctx, "{% for i in range(end=100000) %}{{ big | wordcount }}{% endfor %}", slowVars)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want the context's end", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stopped after %v", d)
	}
}

// TestRenderCellBudget covers templates of a few kilobytes that made the engine allocate
// gigabytes or compute for minutes in one expression (out of reach of any deadline check):
// whole values are charged to the budget before the engine goes through them.
func TestRenderCellBudget(t *testing.T) {
	shared := "[" + strings.TrimSuffix(strings.Repeat("r, ", 200), ", ") + "]" // 200 references to one 100,000-item list
	for name, src := range map[string]string{
		"converting shared references":    "{% set r = range(end=100000) %}{{ " + shared + " | length }}",
		"testing shared references":       "{% set r = range(end=100000) %}{{ " + shared + " is iterable }}",
		"comparing shared references":     "{% set r = range(end=100000) %}{{ " + shared + " == " + shared + " }}",
		"membership in shared references": "{% set r = range(end=100000) %}{{ [1] in " + shared + " }}",
		"printing shared references":      "{% set r = range(end=100000) %}{{ " + shared + " ~ '' }}",
		"method of shared references":     "{% set r = range(end=100000) %}{{ " + shared + ".x() }}",
		"function arguments":              "{% set r = range(end=100000) %}{% for i in [1, 2] %}{{ loop.changed(" + shared + ") }}{% endfor %}",
		"index by shared references":      "{% set r = range(end=100000) %}{{ {}[" + shared + "] }}",
		"many ranges":                     "{{ [" + strings.TrimSuffix(strings.Repeat("range(end=100000), ", 200), ", ") + "] | length }}",
		"sorting in a loop":               "{% for i in range(end=100000) %}{{ range(end=100000) | sort | length }}{% endfor %}",
		"a long regular expression":       "{{ big is matching('" + strings.Repeat("(x|y)", 200) + "') }}",
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Options{Timeout: time.Minute}.Render(context.Background(), src, slowVars)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "budget") {
				t.Fatalf("err = %.300v, want the cell budget", err)
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 400<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
		})
	}
}

func TestRenderRefusesRecursiveLoops(t *testing.T) {
	// The engine's recursive loops (not Tera) escape the loop budget: `loop(x)` recursed for
	// ever.
	src := "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"
	if err := Check(src); err == nil || !strings.Contains(err.Error(), "recursive loops are not supported") {
		t.Fatalf("Check: %v", err)
	}
	if _, err := Render(src, nil); err == nil || !strings.Contains(err.Error(), "recursive loops are not supported") {
		t.Fatalf("Render: %v", err)
	}
}

func TestRangeBounds(t *testing.T) {
	for _, src := range []string{
		// end - start overflows: the old check let it through, and the list grew for ever.
		"{{ range(start=-9000000000000000000, end=9000000000000000000) | length }}",
		"{{ range(start=-9223372036854775807, end=9223372036854775807, step_by=2) | length }}",
		"{{ range(end=100001) | length }}",
		"{{ range(end=200002, step_by=2) | length }}",
	} {
		if _, err := Render(src, nil); err == nil || !strings.Contains(err.Error(), "more than 100000 items") {
			t.Errorf("%s: err = %v", src, err)
		}
	}
	for src, want := range map[string]string{
		// i += step overflowed near the end of int64, and the loop never ended.
		"{{ range(start=9223372036854775800, end=9223372036854775807, step_by=5) }}": "[9223372036854775800, 9223372036854775805]",
		"{{ range(end=100000) | length }}":                                           "100000",
		"{{ range(end=10, start=2, step_by=3) }}":                                    "[2, 5, 8]",
		"{{ range(end=2, start=5) }}":                                                "[]",
	} {
		if got, err := Render(src, nil); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
}

// BenchmarkRenderSortInLoop renders a template that sorts a 100,000-item list in a loop of
// 100,000 iterations: about 10 ms per iteration, half an hour for the whole, before the
// rendering had a deadline and a budget.
func BenchmarkRenderSortInLoop(b *testing.B) {
	src := "{% for i in range(end=100000) %}{{ range(end=100000) | sort | length }}{% endfor %}"
	for b.Loop() {
		if _, err := Render(src, nil); err == nil {
			b.Fatal("rendered")
		}
	}
}

// BenchmarkRenderDeadline renders a template that counts the words of a 1 MiB string
// 100,000 times (minutes of work within every budget) under the default 2 s deadline.
func BenchmarkRenderDeadline(b *testing.B) {
	src := "{% for i in range(end=100000) %}{{ big | wordcount }}{% endfor %}"
	for b.Loop() {
		if _, err := Render(src, slowVars); !errors.Is(err, ErrTimeout) {
			b.Fatal(err)
		}
	}
}

func TestMultiplyingAHugeValueDoesNotConvertIt(t *testing.T) {
	shared := "[" + strings.TrimSuffix(strings.Repeat("r, ", 2000), ", ") + "]"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Render("{% set r = range(end=100000) %}{{ "+shared+" * 2 }}", nil)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "`*` multiplies numbers, not array") {
		t.Fatalf("err = %.300v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}

func TestSplitCountsItsPiecesFirst(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Render("{{ big | split(pat='') | length }}", map[string]any{"big": strings.Repeat("x", 4<<20)})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "exceeds 1000000 items") {
		t.Fatalf("err = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	if got, err := Render("{{ 'a,b,c' | split(pat=',') | length }}", nil); err != nil || got != "3" {
		t.Fatalf("%q, %v", got, err)
	}
}
