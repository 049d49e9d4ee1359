package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

const (
	// webTemplate renders a ConfigMap from name (required) and replicas (default 1).
	webTemplate = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\ndata:\n  replicas: \"{{ replicas | default(value=1) }}\"\n{% for t in tags | default(value=[]) %}  tag-{{ loop.index }}: {{ t | upper }}\n{% endfor %}"
	webSchema   = `{"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}, "replicas": {"type": "integer", "minimum": 1}, "tags": {"type": "array", "items": {"type": "string"}}}}`
)

// createTemplate creates a template with key and returns it.
func (e *env) createTemplate(key, name, content, schema string) client.StackTemplate {
	e.t.Helper()
	var out client.StackTemplate
	e.must(http.StatusCreated, req{method: "POST", path: v1path("templates"), pak: key,
		body: client.CreateTemplateRequest{Name: name, TemplateContent: content, ParametersSchema: schema}}).decode(e.t, &out)
	return out
}

func (e *env) addTemplateLabel(key string, id uuid.UUID, label string) {
	e.t.Helper()
	e.must(http.StatusCreated, req{method: "POST", path: v1path("templates", id, "labels"), pak: key,
		body: quoted(label), contentType: "application/json"})
}

func (e *env) addTemplateAnnotation(key string, id uuid.UUID, k, v string) {
	e.t.Helper()
	e.must(http.StatusCreated, req{method: "POST", path: v1path("templates", id, "annotations"), pak: key,
		body: client.NewTemplateAnnotation{Key: k, Value: v}})
}

// instantiate posts a from-template request and returns the response.
func (e *env) instantiate(key string, stack, template uuid.UUID, params string) resp {
	e.t.Helper()
	body := fmt.Sprintf(`{"template_id": %q, "parameters": %s}`, template, params)
	return e.do(req{method: "POST", path: v1path("stacks", stack, "deployment-objects", "from-template"), pak: key,
		body: body, contentType: "application/json"})
}

// errorDetails decodes the details of a JSON error body.
func errorDetails(t testing.TB, r resp) map[string]any {
	t.Helper()
	var b struct {
		Details map[string]any `json:"details"`
	}
	r.decode(t, &b)
	return b.Details
}

func TestCreateTemplate(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	a := e.createAgent("a", "c")

	t.Run("admin creates a system template", func(t *testing.T) {
		e := e.withT(t)
		desc := "a web config map"
		r := e.must(201, req{method: "POST", path: v1path("templates"), pak: e.admin,
			body: client.CreateTemplateRequest{Name: "web", Description: &desc, TemplateContent: webTemplate, ParametersSchema: webSchema}})
		obj := jsonObject(t, r)
		requireNull(t, obj, "generator_id", "deleted_at")
		requireUTC(t, obj, "created_at", "updated_at")
		var tp client.StackTemplate
		r.decode(t, &tp)
		if tp.Name != "web" || tp.Version != 1 || tp.Description == nil || *tp.Description != desc ||
			tp.TemplateContent != webTemplate || tp.ParametersSchema != webSchema || tp.Checksum != sha256Hex(webTemplate) {
			t.Fatalf("template: %+v", tp)
		}
		var got client.StackTemplate
		e.must(200, req{method: "GET", path: v1path("templates", tp.ID), pak: e.admin}).decode(t, &got)
		if got.ID != tp.ID || got.Checksum != tp.Checksum || !got.CreatedAt.Equal(tp.CreatedAt) {
			t.Fatalf("get: %+v", got)
		}
	})

	t.Run("generator creates its own template", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: v1path("templates"), pak: g.pak,
			body: client.CreateTemplateRequest{Name: "web", TemplateContent: "x: {{ x }}", ParametersSchema: "{}"}})
		requireNull(t, jsonObject(t, r), "description")
		var tp client.StackTemplate
		r.decode(t, &tp)
		if tp.GeneratorID == nil || *tp.GeneratorID != g.gen.ID || tp.Version != 1 {
			t.Fatalf("template: %+v", tp)
		}
	})

	t.Run("agents and the read-only admin cannot create", func(t *testing.T) {
		e := e.withT(t)
		body := client.CreateTemplateRequest{Name: "x", TemplateContent: "x", ParametersSchema: "{}"}
		e.expectError(403, "templates_not_accessible", req{method: "POST", path: v1path("templates"), pak: a.pak, body: body})
		e.expectError(403, "read_only", req{method: "POST", path: v1path("templates"), pak: e.srv.ReadOnlyPAK(), body: body})
	})

	valid := map[string]any{"name": "n", "template_content": "a: {{ a }}", "parameters_schema": "{}"}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range valid {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{name: "missing name", body: with("name", nil), field: "name"},
		{name: "missing content", body: with("template_content", nil), field: "template_content"},
		{name: "missing schema", body: with("parameters_schema", nil), field: "parameters_schema"},
		{name: "schema not a string", body: with("parameters_schema", map[string]any{}), field: "parameters_schema"},
		{name: "unclosed output", body: with("template_content", "a: {{ a "), status: 400, code: "invalid_template_syntax"},
		{name: "unclosed block", body: with("template_content", "{% if a %}x"), status: 400, code: "invalid_template_syntax"},
		{name: "schema not JSON", body: with("parameters_schema", "not json"), status: 400, code: "invalid_parameters_schema"},
		{name: "blank schema", body: with("parameters_schema", " "), status: 400, code: "invalid_parameters_schema"},
		{name: "schema does not compile", body: with("parameters_schema", `{"type": 12}`), status: 400, code: "invalid_parameters_schema"},
		{name: "schema with external ref", body: with("parameters_schema", `{"$ref": "file:///etc/passwd"}`), status: 400, code: "invalid_parameters_schema"},
		{name: "blank name", body: with("name", "  "), status: 400, code: "invalid_template"},
		{name: "name too long", body: with("name", strings.Repeat("n", 256)), status: 400, code: "invalid_template"},
		{name: "blank content", body: with("template_content", "\n"), status: 400, code: "invalid_template"},
		{name: "blank description", body: with("description", ""), status: 400, code: "invalid_template"},
		{name: "null description", body: map[string]any{"name": "n2", "template_content": "x", "parameters_schema": "{}", "description": nil}, status: 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			r := req{method: "POST", path: v1path("templates"), pak: g.pak, body: tc.body}
			switch {
			case tc.field != "":
				e.expectField(tc.field, r)
			case tc.status == 201:
				e.must(201, r)
			default:
				got := e.expectError(tc.status, tc.code, r)
				if tc.code == "invalid_parameters_schema" && !strings.Contains(string(got.body), "parameters_schema: ") {
					t.Fatalf("message does not name the field: %s", got.body)
				}
			}
		})
	}

	t.Run("checks run in the reference's order", func(t *testing.T) {
		e := e.withT(t)
		// Syntax before schema, schema before blank values.
		e.expectError(400, "invalid_template_syntax", req{method: "POST", path: v1path("templates"), pak: g.pak,
			body: map[string]any{"name": " ", "template_content": "{{", "parameters_schema": "nope"}})
		e.expectError(400, "invalid_parameters_schema", req{method: "POST", path: v1path("templates"), pak: g.pak,
			body: map[string]any{"name": " ", "template_content": "", "parameters_schema": "nope"}})
	})

	t.Run("audit", func(t *testing.T) {
		rows := e.withT(t).auditRows("template.created")
		if len(rows) != 3 {
			t.Fatalf("%d template.created rows, want 3", len(rows))
		}
		var details map[string]any
		if err := json.Unmarshal(rows[0].Details, &details); err != nil {
			t.Fatal(err)
		}
		if rows[0].ActorType != "admin" || details["name"] != "web" || details["version"] != float64(1) || rows[0].ResourceID == nil {
			t.Fatalf("audit row: %+v %v", rows[0], details)
		}
		if rows[1].ActorType != "generator" {
			t.Fatalf("second row actor %q", rows[1].ActorType)
		}
	})
}

func TestTemplateVersions(t *testing.T) {
	e := newEnv(t)
	g1 := e.createGenerator("g1")
	g2 := e.createGenerator("g2")

	v1 := e.createTemplate(g1.pak, "web", "v: 1", "{}")
	e.addTemplateLabel(g1.pak, v1.ID, "env:prod")
	e.addTemplateAnnotation(g1.pak, v1.ID, "region", "eu")
	v2 := e.createTemplate(g1.pak, "web", "v: 2", "{}")
	if v1.Version != 1 || v2.Version != 2 || v1.ID == v2.ID {
		t.Fatalf("versions %d %d", v1.Version, v2.Version)
	}

	t.Run("versions are per owner and name", func(t *testing.T) {
		e := e.withT(t)
		other := e.createTemplate(g2.pak, "web", "v: other", "{}")
		system := e.createTemplate(e.admin, "web", "v: system", "{}")
		system2 := e.createTemplate(e.admin, "web", "v: system 2", "{}")
		api := e.createTemplate(g1.pak, "api", "v: api", "{}")
		if other.Version != 1 || system.Version != 1 || system2.Version != 2 || api.Version != 1 {
			t.Fatalf("versions: other %d, system %d %d, api %d", other.Version, system.Version, system2.Version, api.Version)
		}
	})

	var v3 client.StackTemplate
	t.Run("update creates a new row", func(t *testing.T) {
		e := e.withT(t)
		desc := "third"
		e.must(200, req{method: "PUT", path: v1path("templates", v1.ID), pak: g1.pak,
			body: client.UpdateTemplateRequest{Description: &desc, TemplateContent: "v: 3", ParametersSchema: webSchema}}).decode(t, &v3)
		if v3.ID == v1.ID || v3.ID == v2.ID || v3.Version != 3 || v3.Name != "web" || v3.GeneratorID == nil ||
			*v3.GeneratorID != g1.gen.ID || *v3.Description != desc || v3.TemplateContent != "v: 3" ||
			v3.ParametersSchema != webSchema || v3.Checksum != sha256Hex("v: 3") {
			t.Fatalf("updated: %+v", v3)
		}
		// The old rows stay, unchanged.
		var old client.StackTemplate
		e.must(200, req{method: "GET", path: v1path("templates", v1.ID), pak: g1.pak}).decode(t, &old)
		if old.Version != 1 || old.TemplateContent != "v: 1" {
			t.Fatalf("old row: %+v", old)
		}
		// Labels and annotations are not copied.
		var labels []client.TemplateLabel
		e.must(200, req{method: "GET", path: v1path("templates", v3.ID, "labels"), pak: g1.pak}).decode(t, &labels)
		var anns []client.TemplateAnnotation
		e.must(200, req{method: "GET", path: v1path("templates", v3.ID, "annotations"), pak: g1.pak}).decode(t, &anns)
		if len(labels) != 0 || len(anns) != 0 {
			t.Fatalf("copied labels %v annotations %v", labels, anns)
		}
	})

	t.Run("update keeps the description unless given", func(t *testing.T) {
		e := e.withT(t)
		var v4 client.StackTemplate
		e.must(200, req{method: "PUT", path: v1path("templates", v3.ID), pak: e.admin,
			body: map[string]any{"template_content": "v: 4", "parameters_schema": "{}"}}).decode(t, &v4)
		if v4.Version != 4 || v4.Description == nil || *v4.Description != "third" || *v4.GeneratorID != g1.gen.ID {
			t.Fatalf("v4: %+v", v4)
		}
	})

	t.Run("update validates like create", func(t *testing.T) {
		e := e.withT(t)
		path := v1path("templates", v1.ID)
		e.expectError(400, "invalid_template_syntax", req{method: "PUT", path: path, pak: g1.pak,
			body: map[string]any{"template_content": "{% for %}", "parameters_schema": "{}"}})
		e.expectError(400, "invalid_parameters_schema", req{method: "PUT", path: path, pak: g1.pak,
			body: map[string]any{"template_content": "x", "parameters_schema": "[}"}})
		e.expectError(400, "invalid_template", req{method: "PUT", path: path, pak: g1.pak,
			body: map[string]any{"template_content": "", "parameters_schema": "{}"}})
		e.expectError(400, "invalid_template", req{method: "PUT", path: path, pak: g1.pak,
			body: map[string]any{"template_content": "x", "parameters_schema": "{}", "description": " "}})
		e.expectField("parameters_schema", req{method: "PUT", path: path, pak: g1.pak, body: map[string]any{"template_content": "x"}})
		e.expectField("template_content", req{method: "PUT", path: path, pak: g1.pak, body: map[string]any{"parameters_schema": "{}"}})
	})

	t.Run("delete removes one row only", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("templates", v2.ID), pak: g1.pak})
		e.expectError(404, "template_not_found", req{method: "GET", path: v1path("templates", v2.ID), pak: g1.pak})
		e.expectError(404, "template_not_found", req{method: "DELETE", path: v1path("templates", v2.ID), pak: g1.pak})
		e.expectError(404, "template_not_found", req{method: "PUT", path: v1path("templates", v2.ID), pak: g1.pak,
			body: map[string]any{"template_content": "x", "parameters_schema": "{}"}})
		e.must(200, req{method: "GET", path: v1path("templates", v1.ID), pak: g1.pak})
		var deletedAt *string
		if err := e.db.Get(&deletedAt, `SELECT deleted_at::text FROM stack_templates WHERE id = $1`, v2.ID); err != nil || deletedAt == nil {
			t.Fatalf("v2 row: deleted_at %v, err %v", deletedAt, err)
		}
		var list []client.StackTemplate
		e.must(200, req{method: "GET", path: v1path("templates"), pak: g1.pak}).decode(t, &list)
		for _, tp := range list {
			if tp.ID == v2.ID {
				t.Fatal("a deleted template is listed")
			}
		}
	})

	t.Run("the next version follows the highest live one", func(t *testing.T) {
		e := e.withT(t)
		v5 := e.createTemplate(g1.pak, "web", "v: 5", "{}")
		if v5.Version != 5 {
			t.Fatalf("version %d, want 5", v5.Version)
		}
	})

	t.Run("audit", func(t *testing.T) {
		e := e.withT(t)
		updated := e.auditRows("template.updated")
		deleted := e.auditRows("template.deleted")
		if len(updated) != 2 || len(deleted) != 1 {
			t.Fatalf("%d updated, %d deleted audit rows", len(updated), len(deleted))
		}
		if *updated[0].ResourceID != v3.ID || updated[0].ActorType != "generator" || updated[1].ActorType != "admin" {
			t.Fatalf("updated rows: %+v", updated)
		}
		var details map[string]any
		if err := json.Unmarshal(updated[0].Details, &details); err != nil {
			t.Fatal(err)
		}
		if details["name"] != "web" || details["version"] != float64(3) || details["previous_id"] != v1.ID.String() {
			t.Fatalf("updated details %v", details)
		}
		if *deleted[0].ResourceID != v2.ID {
			t.Fatalf("deleted row: %+v", deleted[0])
		}
	})
}

func TestTemplateConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	other := e.replica()
	const n = 8
	var wg sync.WaitGroup
	results := make([]resp, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := e
			if i%2 == 1 {
				who = other
			}
			results[i] = who.do(req{method: "POST", path: v1path("templates"), pak: g.pak,
				body: client.CreateTemplateRequest{Name: "same", TemplateContent: fmt.Sprintf("n: %d", i), ParametersSchema: "{}"}})
		}()
	}
	wg.Wait()
	var versions []int32
	for _, r := range results {
		if r.status != 201 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var tp client.StackTemplate
		r.decode(t, &tp)
		versions = append(versions, tp.Version)
	}
	slices.Sort(versions)
	if !slices.Equal(versions, []int32{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("versions %v", versions)
	}
}
