package tmpl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

// vars are the variables of the rendering tests, shaped as encoding/json decodes a request.
func vars(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(`{
		"name": "web", "replicas": 3, "ratio": 2.5, "whole": 2.0, "on": true, "off": false,
		"nothing": null, "tags": ["a", "b", "c"], "empty": [],
		"labels": {"tier": "front", "app": "web"},
		"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
		"text": "  Hello World  ", "multi": "one\ntwo\n\nthree"
	}`))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRender(t *testing.T) {
	cases := []struct{ name, src, want string }{
		// Output of every value type, as Tera prints it.
		{"string", "name: {{ name }}", "name: web"},
		{"integer", "{{ replicas }}", "3"},
		{"float", "{{ ratio }}", "2.5"},
		{"integral float", "{{ whole }}", "2"},
		{"booleans", "{{ on }} {{ off }}", "true false"},
		{"null", "[{{ nothing }}]", "[]"},
		{"array", "{{ tags }}", "[a, b, c]"},
		{"object", "{{ labels }}", "[object]"},
		{"attribute", "{{ labels.tier }} {{ ports.1.port }} {{ labels['app'] }} {{ tags[0] }}", "front 443 web a"},
		{"plain text", "just text", "just text"},
		{"trailing newline kept", "a: {{ name }}\n", "a: web\n"},
		// Expressions.
		{"arithmetic", "{{ replicas + 1 }} {{ replicas * 2 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 7 % 3 }}", "4 6 3.5 3 1"},
		{"concatenation", `{{ name ~ "-" ~ replicas }}`, "web-3"},
		{"comparison", "{{ replicas > 2 }} {{ name == 'web' }} {{ 'b' in tags }} {{ 'z' not in tags }} {{ 'tier' in labels }}", "true true true true true"},
		// default: keyword or positional, for undefined and null values.
		{"default keyword", "{{ missing | default(value=1) }}", "1"},
		{"default positional", "{{ missing | default(2) }}", "2"},
		{"default of null", "{{ nothing | default(value='x') }}", "x"},
		{"default not used", "{{ replicas | default(value=1) }}", "3"},
		{"default of missing attribute", "{{ labels.zone | default(value='eu') }}", "eu"},
		{"default of missing parent", "{{ config.host | default(value='localhost') }}", "localhost"},
		// String filters with Tera's keyword arguments.
		{"upper lower", "{{ name | upper }} {{ 'ABC' | lower }}", "WEB abc"},
		{"trim", "[{{ text | trim }}] [{{ text | trim_start }}] [{{ text | trim_end }}]", "[Hello World] [Hello World  ] [  Hello World]"},
		{"trim matches", "{{ 'xxabcxx' | trim_start_matches(pat='x') }} {{ 'xxabcxx' | trim_end_matches(pat='x') }}", "abcxx xxabc"},
		{"replace", "{{ name | replace(from='w', to='W') }}", "Web"},
		{"replace positional", "{{ name | replace('e', 'E') }}", "wEb"},
		{"capitalize title", "{{ 'hELLO' | capitalize }} {{ 'hello big world' | title }}", "Hello Hello Big World"},
		{"truncate", "{{ 'abcdef' | truncate(length=3) }} {{ 'abcdef' | truncate(length=3, end='') }} {{ 'ab' | truncate(length=3) }}", "abc… abc ab"},
		{"wordcount", "{{ text | wordcount }}", "2"},
		{"split", "{{ 'a,b,c' | split(pat=',') | last }}", "c"},
		{"indent", "{{ multi | indent(prefix='  ') }}", "one\n  two\n\n  three"},
		{"indent first blank", "{{ multi | indent(prefix='- ', first=true, blank=true) }}", "- one\n- two\n- \n- three"},
		{"urlencode", "{{ 'a b/c?d=é' | urlencode }} {{ 'a/b' | urlencode_strict }}", "a%20b/c%3Fd%3D%C3%A9 a%2Fb"},
		{"escape", `{{ '<a href="x">' | escape }}`, "&lt;a href=&quot;x&quot;&gt;"},
		{"addslashes", `{{ "it's" | addslashes }}`, `it\'s`},
		{"slugify", "{{ 'Hello, World!  v2' | slugify }}", "hello-world-v2"},
		{"striptags", "{{ '<b>bold</b> text' | striptags }}", "bold text"},
		{"int float", "{{ '42' | int + 1 }} {{ 'ff' | int(base=16) }} {{ 'x' | int(default=7) }} {{ '1.5' | float }}", "43 255 7 1.5"},
		{"as_str", "{{ replicas | as_str ~ 'x' }}", "3x"},
		// Array and object filters.
		{"join", "{{ tags | join(sep=', ') }} {{ tags | join }}", "a, b, c abc"},
		{"length", "{{ tags | length }} {{ labels | length }} {{ name | length }}", "3 2 3"},
		{"first last nth", "{{ tags | first }} {{ tags | last }} {{ tags | nth(n=1) }} [{{ empty | first }}]", "a c b []"},
		{"reverse", "{{ tags | reverse | join }} {{ name | reverse }}", "cba bew"},
		{"sort", "{{ [3, 1, 2] | sort | join(sep=',') }} {{ ports | sort(attribute='port') | map(attribute='name') | join(sep=',') }}", "1,2,3 http,https"},
		{"unique", "{{ ['a', 'A', 'b'] | unique | join }} {{ ['a', 'A'] | unique(case_sensitive=true) | join }}", "ab aA"},
		{"slice", "{{ tags | slice(start=1) | join }} {{ tags | slice(end=-1) | join }}", "bc ab"},
		{"map filter", "{{ ports | map(attribute='port') | join(sep='+') }} {{ ports | filter(attribute='name', value='https') | length }}", "80+443 1"},
		{"group_by", "{{ ports | group_by(attribute='name') | length }}", "2"},
		{"concat", "{{ tags | concat(with='d') | join }} {{ tags | concat(with=['x', 'y']) | length }}", "abcd 5"},
		{"get", "{{ labels | get(key='app') }} {{ labels | get(key='zone', default='none') }}", "web none"},
		{"json_encode", "{{ labels | json_encode }}", `{"app":"web","tier":"front"}`},
		{"json_encode pretty", "{{ tags | json_encode(pretty=true) }}", "[\n  \"a\",\n  \"b\",\n  \"c\"\n]"},
		{"json_encode no html escape", `{{ "<&>" | json_encode }}`, `"<&>"`},
		// Numbers.
		{"abs round", "{{ -3 | abs }} {{ 2.567 | round(precision=2) }} {{ 2.5 | round(method='floor') }}", "3 2.57 2"},
		{"pluralize", "{{ 1 | pluralize }}|{{ replicas | pluralize }}|{{ 1 | pluralize(singular='y', plural='ies') }}", "|s|y"},
		{"filesizeformat", "{{ 999 | filesizeformat }} {{ 1500000 | filesizeformat }} {{ 1048576 | filesizeformat(binary=true) }}", "999 B 1.50 MB 1.00 MiB"},
		// Conditions, with Tera's treatment of undefined variables.
		{"if else", "{% if on %}yes{% else %}no{% endif %}", "yes"},
		{"elif", "{% if off %}a{% elif replicas > 2 %}b{% else %}c{% endif %}", "b"},
		{"else", "{% if off %}a{% elif nothing %}b{% else %}c{% endif %}", "c"},
		{"undefined is false", "{% if missing %}yes{% else %}no{% endif %}", "no"},
		{"undefined attribute is false", "{% if labels.zone %}yes{% else %}no{% endif %}", "no"},
		{"not undefined is true", "{% if not missing %}yes{% endif %}", "yes"},
		{"undefined in and/or", "{% if missing or on %}a{% endif %}{% if missing and on %}b{% endif %}", "a"},
		{"truthiness", "{% if empty %}1{% endif %}{% if tags %}2{% endif %}{% if '' %}3{% endif %}{% if 0 %}4{% endif %}", "2"},
		{"tests", "{{ missing is defined }} {{ nothing is defined }} {{ replicas is odd }} {{ 4 is divisibleby(2) }} {{ name is starting_with('w') }} {{ tags is containing('b') }} {{ labels is object }}",
			"false true true true true true true"},
		{"test in if", "{% if missing is undefined %}u{% endif %}{% if name is matching('^w.b$') %}m{% endif %}", "um"},
		// Loops.
		{"for", "{% for t in tags %}{{ loop.index }}={{ t }}{% if not loop.last %},{% endif %}{% endfor %}", "1=a,2=b,3=c"},
		{"for index0 first", "{% for t in tags %}{% if loop.first %}[{% endif %}{{ loop.index0 }}{% endfor %}", "[012"},
		{"for over object", "{% for k, v in labels %}{{ k }}={{ v }};{% endfor %}", "app=web;tier=front;"},
		{"for over objects", "{% for p in ports %}- {{ p.name }}: {{ p.port }}\n{% endfor %}", "- http: 80\n- https: 443\n"},
		{"for else", "{% for t in empty %}{{ t }}{% else %}none{% endfor %}", "none"},
		{"break continue", "{% for t in tags %}{% if t == 'b' %}{% continue %}{% endif %}{{ t }}{% if t == 'c' %}{% break %}{% endif %}{% endfor %}", "ac"},
		{"range", "{% for i in range(end=3) %}{{ i }}{% endfor %} {% for i in range(start=1, end=10, step_by=4) %}{{ i }}{% endfor %}", "012 159"},
		// Assignment, comments, whitespace control, raw, filter sections.
		{"set", "{% set full = name ~ '-' ~ replicas %}{{ full }}", "web-3"},
		{"set in loop is local", "{% set x = 0 %}{% for t in tags %}{% set x = t %}{% endfor %}{{ x }}", "0"},
		{"set_global in loop", "{% set_global x = 0 %}{% for t in tags %}{% set_global x = t %}{% endfor %}{{ x }}", "c"},
		{"comment", "a{# a comment {{ missing }} #}b", "ab"},
		{"whitespace control", "items:\n{%- for t in tags %}\n  - {{ t }}\n{%- endfor %}\n", "items:\n  - a\n  - b\n  - c\n"},
		{"output trim", "a  {{- name -}}  b", "awebb"},
		{"raw", "{% raw %}{{ not_rendered }}{% endraw %}", "{{ not_rendered }}"},
		{"filter section", "{% filter upper %}hello {{ name }}{% endfilter %}", "HELLO WEB"},
		{"filter section with args", "{% filter replace(from='l', to='L') %}hello{% endfilter %}", "heLLo"},
		{"safe is a no-op", "{{ '<b>' | safe }}", "<b>"},
	}
	v := vars(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Check(c.src); err != nil {
				t.Fatalf("Check: %v", err)
			}
			got, err := Render(c.src, v)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestRenderKubernetesManifest(t *testing.T) {
	src := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ name }}
  labels:
{%- for k, v in labels %}
    {{ k }}: {{ v }}
{%- endfor %}
spec:
  replicas: {{ replicas | default(value=1) }}
  template:
    spec:
      containers:
        - name: {{ name }}
          image: {{ image | default(value="nginx:1.27") }}
{%- if ports %}
          ports:
{%- for p in ports %}
            - containerPort: {{ p.port }}
{%- endfor %}
{%- endif %}
`
	want := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    tier: front
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 80
            - containerPort: 443
`
	got, err := Render(src, vars(t))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct{ name, src, wantInMessage string }{
		{"undefined variable", "{{ missing }}", `"missing"`},
		{"undefined attribute", "{{ labels.zone }}", "zone"},
		{"undefined in comparison", "{% if missing == 1 %}x{% endif %}", "missing"},
		{"undefined loop target", "{% for x in missing %}{% endfor %}", "missing"},
		{"unknown filter", "{{ name | frobnicate }}", "frobnicate"},
		{"filter on wrong type", "{{ replicas | upper }}", "filter `upper`"},
		{"missing filter argument", "{{ name | replace(from='a') }}", "`to`"},
		{"default without value", "{{ missing | default }}", "`value`"},
		{"jinja-only filter", "{{ name | capitalize | center(20) }}", "center"},
		{"throw", "{{ throw(message='unsupported size') }}", "unsupported size"},
		{"huge range", "{% for i in range(end=100000000) %}{% endfor %}", "items"},
		{"no methods", "{{ name.upper() }}", "upper"},
		{"undefined variable after a line break", "{{\nmissing }}", `missing"`},
		{"filter on a line of its own", "{{ name\n| frobnicate }}", "frobnicate"},
	}
	v := vars(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Check(c.src); err != nil {
				t.Fatalf("Check: %v (the error must come at render time)", err)
			}
			_, err := Render(c.src, v)
			if err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "render: ") || !strings.Contains(err.Error(), c.wantInMessage) {
				t.Errorf("error %q does not mention %q", err, c.wantInMessage)
			}
			if strings.Contains(err.Error(), "\x00") || strings.Contains(err.Error(), "&{") {
				t.Errorf("error leaks engine internals: %q", err)
			}
		})
	}
}

func TestRenderOutputLimit(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	vars := map[string]any{"big": big}
	// The default bound is 2 MiB (the broker passes broker.max_body_bytes).
	_, err := Render("{% for i in range(end=20) %}{{ big }}{% endfor %}", vars)
	if !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("err = %v, want the output limit", err)
	}
	if _, err := Render("{% for i in range(end=3) %}{{ big }}{% endfor %}", vars); !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("3 MiB output: err = %v, want the output limit", err)
	}
	// Through a filter section too.
	if _, err := Render("{% filter upper %}{% for i in range(end=3) %}{{ big }}{% endfor %}{% endfilter %}", vars); !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("3 MiB filtered output: err = %v, want the output limit", err)
	}
	out, err := Render("{% for i in range(end=2) %}{{ big }}{% endfor %}", vars)
	if err != nil || len(out) != 2<<20 {
		t.Fatalf("2 MiB output: len %d, err %v", len(out), err)
	}
	// The bound is an option.
	o := Options{MaxOutputBytes: 4 << 20}
	out, err = o.Render(context.Background(), "{% for i in range(end=4) %}{{ big }}{% endfor %}", vars)
	if err != nil || len(out) != 4<<20 {
		t.Fatalf("4 MiB output under a 4 MiB bound: len %d, err %v", len(out), err)
	}
	o.MaxOutputBytes = 1000
	if _, err := o.Render(context.Background(), "{{ big }}", vars); !errors.Is(err, ErrOutputTooLarge) || err.Error() != "render: output exceeds 1000 bytes" {
		t.Fatalf("err = %v, want the 1000-byte output limit", err)
	}
}

func TestCheckSyntaxErrors(t *testing.T) {
	for name, src := range map[string]string{
		"unclosed output":      "{{ name ",
		"unclosed brace":       "Hello, {{ name !",
		"unclosed if":          "{% if on %}yes",
		"unclosed for":         "{% for t in tags %}{{ t }}",
		"mismatched end":       "{% if on %}{% endfor %}",
		"if without condition": "{% if %}x{% endif %}",
		"unknown tag":          "{% frobnicate %}",
		"include":              "{% include 'other' %}",
		"extends":              "{% extends 'base' %}",
		"macro":                "{% macro m() %}{% endmacro %}",
		"elif after else":      "{% if a %}{% else %}{% elif b %}{% endif %}",
		"two elses":            "{% if a %}{% else %}{% else %}{% endif %}",
		"set without value":    "{% set x %}",
		"empty output":         "{{ }}",
		"unclosed comment":     "{# never closed",
		"filter section chain": "{% filter upper | lower %}x{% endfilter %}",
	} {
		t.Run(name, func(t *testing.T) {
			err := Check(src)
			if err == nil {
				t.Fatalf("Check(%q) succeeded, want a syntax error", src)
			}
			if !strings.HasPrefix(err.Error(), "syntax: ") {
				t.Errorf("error %q lacks the syntax prefix", err)
			}
			if _, rerr := Render(src, nil); rerr == nil {
				t.Errorf("Render(%q) succeeded", src)
			}
		})
	}
}

func TestCheckErrorDoesNotEchoSource(t *testing.T) {
	src := strings.Repeat("line of a long template\n", 50) + "{{ broken "
	err := Check(src)
	if err == nil {
		t.Fatal("want a syntax error")
	}
	if strings.Contains(err.Error(), "line of a long template") {
		t.Errorf("the error repeats the template: %q", err)
	}
}

func TestRenderVariablesAreIsolated(t *testing.T) {
	// set_global and loop variables of one rendering never reach another.
	if _, err := Render("{% set_global leaked = 1 %}", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Render("{{ leaked }}", nil); err == nil {
		t.Fatal("a variable set by an earlier rendering is visible")
	}
	if _, err := Render("{{ range }}", nil); err != nil {
		t.Fatalf("the range function is not defined: %v", err)
	}
}

func TestRenderConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strings.Repeat("x", i)
			got, err := Render("{% for j in range(end=n) %}x{% endfor %}", map[string]any{"n": i})
			if err == nil && got != want {
				err = errors.New("got " + got + ", want " + want)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
