package tmpl

import (
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
			out, err := Render(c.src, vars)
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
