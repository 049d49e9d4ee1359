package tmpl

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

const paramsSchema = `{
	"type": "object",
	"required": ["name", "size"],
	"properties": {
		"name": {"type": "string", "minLength": 1},
		"size": {"type": "string", "pattern": "^[0-9]+[GMK]i$"},
		"replicas": {"type": "integer", "minimum": 1, "default": 1},
		"tags": {"type": "array", "items": {"type": "string"}},
		"email": {"type": "string", "format": "email"}
	}
}`

func TestSchemaValidate(t *testing.T) {
	s, err := CompileSchema(paramsSchema)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, instance string
		want           []string
	}{
		{"valid", `{"name": "db", "size": "10Gi", "replicas": 3, "tags": ["a"]}`, nil},
		{"format is not asserted", `{"name": "db", "size": "1Gi", "email": "not an address"}`, nil},
		{"wrong type", `{"name": "db", "size": "10Gi", "replicas": "three"}`,
			[]string{"/replicas: got string, want integer"}},
		{"several leaves", `{"name": "", "size": "10GB", "replicas": 0, "tags": [1, "b"]}`,
			[]string{"/name: minLength: got 0, want 1", "/replicas: minimum: got 0, want 1",
				"/size: '10GB' does not match pattern '^[0-9]+[GMK]i$'", "/tags/0: got number, want string"}},
		{"missing at the root", `{"name": "db"}`, []string{"missing property 'size'"}},
		{"not an object", `[1, 2]`, []string{"got array, want object"}},
		{"null", `null`, []string{"got null, want object"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.Validate(decode(t, c.instance))
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestSchemaPointerEscaping(t *testing.T) {
	s, err := CompileSchema(`{"properties": {"a/b": {"properties": {"c~d": {"type": "integer"}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Validate(decode(t, `{"a/b": {"c~d": "x"}}`))
	if want := []string{"/a~1b/c~0d: got string, want integer"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSchemaDrafts(t *testing.T) {
	// Without $schema the draft is 2020-12: prefixItems validates tuples.
	s, err := CompileSchema(`{"type": "array", "prefixItems": [{"type": "integer"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Validate(decode(t, `["x"]`)); len(got) != 1 || got[0] != "/0: got string, want integer" {
		t.Errorf("2020-12 prefixItems: got %q", got)
	}
	// Draft 7 named by $schema: items as an array is the tuple form, and format is asserted
	// only when asked (it is not).
	s, err = CompileSchema(`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "integer"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Validate(decode(t, `["x"]`)); len(got) != 1 {
		t.Errorf("draft-07 tuple items: got %q", got)
	}
	// Boolean schemas are schemas.
	s, err = CompileSchema(`true`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Validate(decode(t, `{"anything": 1}`)); got != nil {
		t.Errorf("true schema: %q", got)
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	for name, src := range map[string]string{
		"not json":             `not json`,
		"blank":                ``,
		"trailing data":        `{} {}`,
		"bad type":             `{"type": 5}`,
		"bad minimum":          `{"minimum": "one"}`,
		"bad pattern":          `{"pattern": "("}`,
		"file reference":       `{"$ref": "file:///etc/passwd"}`,
		"remote reference":     `{"$ref": "https://example.com/schema.json"}`,
		"dangling local ref":   `{"$ref": "#/$defs/missing"}`,
		"unknown draft schema": `{"$schema": "https://example.com/my-draft"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CompileSchema(src)
			if err == nil {
				t.Fatalf("CompileSchema(%q) succeeded", src)
			}
			if strings.Contains(err.Error(), schemaURL) || strings.Contains(err.Error(), "\n") {
				t.Errorf("message leaks the internal location or spans lines: %q", err)
			}
		})
	}
}

func TestSchemaLocalReferences(t *testing.T) {
	s, err := CompileSchema(`{"$defs": {"port": {"type": "integer", "maximum": 65535}},
		"properties": {"port": {"$ref": "#/$defs/port"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Validate(decode(t, `{"port": 70000}`)); len(got) != 1 || !strings.HasPrefix(got[0], "/port: ") {
		t.Errorf("got %q", got)
	}
}
