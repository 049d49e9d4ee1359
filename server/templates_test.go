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

func TestTemplateAccess(t *testing.T) {
	e := newEnv(t)
	g1 := e.createGenerator("g1")
	g2 := e.createGenerator("g2")
	a := e.createAgent("a", "c", g1.gen.ID)

	type caller struct {
		name string
		key  string
	}
	callers := []caller{{"admin", e.admin}, {"read-only", e.srv.ReadOnlyPAK()}, {"owner", g1.pak}, {"other-generator", g2.pak}, {"agent", a.pak}}

	// Templates of each kind; the system one is created by the admin, the generator one by G1.
	kinds := map[string]func() client.StackTemplate{
		"system":    func() client.StackTemplate { return e.createTemplate(e.admin, "sys", "x", "{}") },
		"generator": func() client.StackTemplate { return e.createTemplate(g1.pak, "gen", "x", "{}") },
	}
	prepared := func(tp client.StackTemplate) client.StackTemplate {
		e.addTemplateLabel(e.admin, tp.ID, "l")
		e.addTemplateAnnotation(e.admin, tp.ID, "k", "v")
		return tp
	}

	ops := []struct {
		name   string
		write  bool
		status int
		run    func(key string, id uuid.UUID) req
	}{
		{"get", false, 200, func(key string, id uuid.UUID) req {
			return req{method: "GET", path: v1path("templates", id), pak: key}
		}},
		{"list labels", false, 200, func(key string, id uuid.UUID) req {
			return req{method: "GET", path: v1path("templates", id, "labels"), pak: key}
		}},
		{"list annotations", false, 200, func(key string, id uuid.UUID) req {
			return req{method: "GET", path: v1path("templates", id, "annotations"), pak: key}
		}},
		{"update", true, 200, func(key string, id uuid.UUID) req {
			return req{method: "PUT", path: v1path("templates", id), pak: key, body: map[string]any{"template_content": "y", "parameters_schema": "{}"}}
		}},
		{"delete", true, 204, func(key string, id uuid.UUID) req {
			return req{method: "DELETE", path: v1path("templates", id), pak: key}
		}},
		{"add label", true, 201, func(key string, id uuid.UUID) req {
			return req{method: "POST", path: v1path("templates", id, "labels"), pak: key, body: quoted("new"), contentType: "application/json"}
		}},
		{"remove label", true, 204, func(key string, id uuid.UUID) req {
			return req{method: "DELETE", path: v1path("templates", id, "labels", "l"), pak: key}
		}},
		{"add annotation", true, 201, func(key string, id uuid.UUID) req {
			return req{method: "POST", path: v1path("templates", id, "annotations"), pak: key, body: map[string]any{"key": "k2", "value": "v2"}}
		}},
		{"remove annotation", true, 204, func(key string, id uuid.UUID) req {
			return req{method: "DELETE", path: v1path("templates", id, "annotations", "k"), pak: key}
		}},
	}

	// want returns the expected status and code of caller c on an operation.
	want := func(kind, c string, write bool, ok int) (int, string) {
		if write {
			switch {
			case c == "read-only":
				return 403, "read_only"
			case c == "admin", c == "owner" && kind == "generator":
				return ok, ""
			}
			return 403, "template_not_owned"
		}
		switch {
		case c == "admin", c == "read-only", c == "owner":
			return ok, ""
		case c == "other-generator" && kind == "system":
			return ok, ""
		}
		return 403, "template_not_accessible"
	}

	for kind, mk := range kinds {
		for _, op := range ops {
			for _, c := range callers {
				t.Run(kind+"/"+op.name+"/"+c.name, func(t *testing.T) {
					e := e.withT(t)
					tp := prepared(mk())
					status, code := want(kind, c.name, op.write, op.status)
					r := op.run(c.key, tp.ID)
					if code == "" {
						e.must(status, r)
					} else {
						e.expectError(status, code, r)
					}
				})
			}
		}
	}

	t.Run("missing or deleted templates are 404 for everyone", func(t *testing.T) {
		e := e.withT(t)
		gone := e.createTemplate(g1.pak, "gone", "x", "{}")
		e.must(204, req{method: "DELETE", path: v1path("templates", gone.ID), pak: g1.pak})
		for _, id := range []uuid.UUID{uuid.New(), gone.ID} {
			for _, c := range callers {
				for _, op := range ops {
					if op.write && c.name == "read-only" {
						continue // the read-only admin's writes stop at the middleware
					}
					e.expectError(404, "template_not_found", op.run(c.key, id))
				}
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		e := e.withT(t)
		sys := e.createTemplate(e.admin, "list-sys", "x", "{}")
		own := e.createTemplate(g1.pak, "list-own", "x", "{}")
		theirs := e.createTemplate(g2.pak, "list-theirs", "x", "{}")
		ids := func(key string) []uuid.UUID {
			var out []client.StackTemplate
			e.must(200, req{method: "GET", path: v1path("templates"), pak: key}).decode(t, &out)
			var ids []uuid.UUID
			for _, tp := range out {
				ids = append(ids, tp.ID)
				if tp.GeneratorID != nil && key == g1.pak && *tp.GeneratorID != g1.gen.ID {
					t.Fatalf("G1 sees a template of %s", tp.GeneratorID)
				}
			}
			return ids
		}
		for _, key := range []string{e.admin, e.srv.ReadOnlyPAK()} {
			got := ids(key)
			if !slices.Contains(got, sys.ID) || !slices.Contains(got, own.ID) || !slices.Contains(got, theirs.ID) {
				t.Fatalf("admin list misses templates: %v", got)
			}
		}
		got := ids(g1.pak)
		if !slices.Contains(got, sys.ID) || !slices.Contains(got, own.ID) || slices.Contains(got, theirs.ID) {
			t.Fatalf("G1 list: %v", got)
		}
		got = ids(g2.pak)
		if !slices.Contains(got, sys.ID) || slices.Contains(got, own.ID) || !slices.Contains(got, theirs.ID) {
			t.Fatalf("G2 list: %v", got)
		}
		e.expectError(403, "templates_not_accessible", req{method: "GET", path: v1path("templates"), pak: a.pak})
	})

	t.Run("a deleted generator's templates go with it", func(t *testing.T) {
		e := e.withT(t)
		g3 := e.createGenerator("g3")
		tp := e.createTemplate(g3.pak, "doomed", "x", "{}")
		e.must(204, req{method: "DELETE", path: v1path("generators", g3.gen.ID), pak: e.admin})
		e.expectError(404, "template_not_found", req{method: "GET", path: v1path("templates", tp.ID), pak: e.admin})
	})
}

func TestTemplateLabelsAndAnnotations(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	tp := e.createTemplate(g.pak, "web", "x", "{}")
	labels := v1path("templates", tp.ID, "labels")
	anns := v1path("templates", tp.ID, "annotations")

	t.Run("labels", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: labels, pak: g.pak, body: quoted("tier:web"), contentType: "application/json"})
		requireUTC(t, jsonObject(t, r), "created_at")
		var l client.TemplateLabel
		r.decode(t, &l)
		if l.TemplateID != tp.ID || l.Label != "tier:web" || l.ID == uuid.Nil {
			t.Fatalf("label: %+v", l)
		}
		e.addTemplateLabel(g.pak, tp.ID, "env:prod")
		var list []client.TemplateLabel
		e.must(200, req{method: "GET", path: labels, pak: g.pak}).decode(t, &list)
		if len(list) != 2 || list[0].Label != "env:prod" || list[1].Label != "tier:web" {
			t.Fatalf("labels: %+v", list)
		}
		e.expectConstraint("template_labels_template_id_label_key",
			req{method: "POST", path: labels, pak: g.pak, body: quoted("env:prod"), contentType: "application/json"})
		for name, body := range map[string]string{
			"blank": `"  "`, "empty": `""`, "whitespace": `"a b"`, "tab": `"a\tb"`, "too long": string(quoted(strings.Repeat("l", 65))), "null": `null`,
		} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_label", req{method: "POST", path: labels, pak: g.pak, body: body, contentType: "application/json"})
			})
		}
		e.must(201, req{method: "POST", path: labels, pak: g.pak, body: quoted(strings.Repeat("l", 64)), contentType: "application/json"})
		e.expectError(422, "invalid_request_body", req{method: "POST", path: labels, pak: g.pak, body: `{"label": "x"}`, contentType: "application/json"})
		e.must(204, req{method: "DELETE", path: labels + "/tier:web", pak: g.pak})
		e.expectError(404, "template_label_not_found", req{method: "DELETE", path: labels + "/tier:web", pak: g.pak})
		e.must(200, req{method: "GET", path: labels, pak: g.pak}).decode(t, &list)
		if len(list) != 2 || list[0].Label != "env:prod" {
			t.Fatalf("labels after removal: %+v", list)
		}
	})

	t.Run("annotations", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: anns, pak: g.pak, body: client.NewTemplateAnnotation{Key: "region", Value: "eu"}})
		requireUTC(t, jsonObject(t, r), "created_at")
		var a client.TemplateAnnotation
		r.decode(t, &a)
		if a.TemplateID != tp.ID || a.Key != "region" || a.Value != "eu" {
			t.Fatalf("annotation: %+v", a)
		}
		e.addTemplateAnnotation(g.pak, tp.ID, "owner", "team-a")
		var list []client.TemplateAnnotation
		e.must(200, req{method: "GET", path: anns, pak: g.pak}).decode(t, &list)
		if len(list) != 2 || list[0].Key != "owner" || list[1].Key != "region" {
			t.Fatalf("annotations: %+v", list)
		}
		e.expectConstraint("template_annotations_template_id_key_key",
			req{method: "POST", path: anns, pak: g.pak, body: client.NewTemplateAnnotation{Key: "region", Value: "us"}})
		for name, body := range map[string]client.NewTemplateAnnotation{
			"blank key":        {Key: " ", Value: "v"},
			"blank value":      {Key: "k", Value: ""},
			"key whitespace":   {Key: "a b", Value: "v"},
			"value whitespace": {Key: "k", Value: "a b"},
			"key too long":     {Key: strings.Repeat("k", 65), Value: "v"},
			"value too long":   {Key: "k", Value: strings.Repeat("v", 65)},
		} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_annotation", req{method: "POST", path: anns, pak: g.pak, body: body})
			})
		}
		e.expectField("value", req{method: "POST", path: anns, pak: g.pak, body: map[string]any{"key": "k"}})
		e.expectField("key", req{method: "POST", path: anns, pak: g.pak, body: map[string]any{"value": "v"}})
		e.must(204, req{method: "DELETE", path: anns + "/region", pak: g.pak})
		e.expectError(404, "template_annotation_not_found", req{method: "DELETE", path: anns + "/region", pak: g.pak})
	})
}

func TestInstantiateTemplate(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	g1 := e.createGenerator("g1")
	g2 := e.createGenerator("g2")
	// The agent carries env:prod and is registered with G1, so it receives G1's stacks
	// labelled env:prod.
	agent := e.createAgent("a", "c", g1.gen.ID)
	e.addAgentLabel(agent.agent.ID, "env:prod")

	prod := e.createStack("prod", g1.gen.ID, g1.pak)
	e.addStackLabel(prod.ID, "env:prod")
	e.addStackLabel(prod.ID, "extra")
	e.addStackAnnotation(prod.ID, "region", "eu")
	bare := e.createStack("bare", g1.gen.ID, g1.pak)
	elsewhere := e.createStack("elsewhere", g1.gen.ID, g1.pak)
	e.addStackLabel(elsewhere.ID, "env:prod")
	e.addStackAnnotation(elsewhere.ID, "region", "us")

	web := e.createTemplate(g1.pak, "web", webTemplate, webSchema)
	e.addTemplateLabel(g1.pak, web.ID, "env:prod")
	e.addTemplateAnnotation(g1.pak, web.ID, "region", "eu")

	t.Run("renders into the stack", func(t *testing.T) {
		e := e.withT(t)
		params := `{"name": "demo", "replicas": 3, "tags": ["a", "b"]}`
		r := e.instantiate(g1.pak, prod.ID, web.ID, params)
		if r.status != 201 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var obj client.DeploymentObject
		r.decode(t, &obj)
		want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  replicas: \"3\"\n  tag-1: A\n  tag-2: B\n"
		if obj.YAMLContent != want || obj.YAMLChecksum != sha256Hex(want) || obj.StackID != prod.ID || obj.IsDeletionMarker {
			t.Fatalf("object: %+v\n%s", obj, obj.YAMLContent)
		}
		var prov struct {
			TemplateID uuid.UUID `db:"template_id"`
			Version    int32     `db:"template_version"`
			Params     string    `db:"template_parameters"`
		}
		if err := e.db.Get(&prov, `SELECT template_id, template_version, template_parameters
			FROM rendered_deployment_objects WHERE deployment_object_id = $1`, obj.ID); err != nil {
			t.Fatal(err)
		}
		if prov.TemplateID != web.ID || prov.Version != 1 || prov.Params != `{"name":"demo","replicas":3,"tags":["a","b"]}` {
			t.Fatalf("provenance: %+v", prov)
		}
		// The object is a normal deployment object: listed, readable, and in the target state
		// of an agent the stack matches.
		var got client.DeploymentObject
		e.must(200, req{method: "GET", path: v1path("deployment-objects", obj.ID), pak: g1.pak}).decode(t, &got)
		if got.ID != obj.ID || got.YAMLContent != want {
			t.Fatalf("get: %+v", got)
		}
		wantObjects(t, e.targetState(agent, ""), obj)
		var created []string
		for _, ev := range rec.ofType("deployment.created") {
			created = append(created, fmt.Sprint(ev.Data["deployment_object_id"]))
		}
		if !slices.Contains(created, obj.ID.String()) {
			t.Fatalf("no deployment.created event for %s: %v", obj.ID, created)
		}
	})

	t.Run("schema defaults are not injected", func(t *testing.T) {
		e := e.withT(t)
		r := e.instantiate(e.admin, prod.ID, web.ID, `{"name": "min"}`)
		var obj client.DeploymentObject
		if r.status != 201 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		r.decode(t, &obj)
		if !strings.Contains(obj.YAMLContent, `replicas: "1"`) || strings.Contains(obj.YAMLContent, "tag-") {
			t.Fatalf("rendered %q", obj.YAMLContent)
		}
	})

	t.Run("the requested version is used", func(t *testing.T) {
		e := e.withT(t)
		var v2 client.StackTemplate
		e.must(200, req{method: "PUT", path: v1path("templates", web.ID), pak: g1.pak,
			body: map[string]any{"template_content": "version: two\nname: {{ name }}\n", "parameters_schema": webSchema}}).decode(t, &v2)
		r := e.instantiate(g1.pak, prod.ID, web.ID, `{"name": "old"}`)
		var obj client.DeploymentObject
		r.decode(t, &obj)
		if r.status != 201 || !strings.Contains(obj.YAMLContent, "kind: ConfigMap") {
			t.Fatalf("v1: %d %s", r.status, r.body)
		}
		// v2 has no labels or annotations, so it matches any stack, even a bare one.
		r = e.instantiate(g1.pak, bare.ID, v2.ID, `{"name": "new"}`)
		r.decode(t, &obj)
		if r.status != 201 || obj.YAMLContent != "version: two\nname: new\n" {
			t.Fatalf("v2: %d %s", r.status, r.body)
		}
		var version int32
		if err := e.db.Get(&version, `SELECT template_version FROM rendered_deployment_objects WHERE deployment_object_id = $1`, obj.ID); err != nil || version != 2 {
			t.Fatalf("provenance version %d, %v", version, err)
		}
	})

	t.Run("label and annotation mismatch", func(t *testing.T) {
		e := e.withT(t)
		r := e.expectError(422, "template_stack_mismatch", req{method: "POST",
			path: v1path("stacks", bare.ID, "deployment-objects", "from-template"), pak: g1.pak,
			body: map[string]any{"template_id": web.ID, "parameters": map[string]any{"name": "x"}}})
		d := errorDetails(t, r)
		if fmt.Sprint(d["missing_labels"]) != "[env:prod]" || fmt.Sprint(d["missing_annotations"]) != "[[region eu]]" {
			t.Fatalf("details %v", d)
		}
		r = e.expectError(422, "template_stack_mismatch", req{method: "POST",
			path: v1path("stacks", elsewhere.ID, "deployment-objects", "from-template"), pak: g1.pak,
			body: map[string]any{"template_id": web.ID, "parameters": map[string]any{"name": "x"}}})
		d = errorDetails(t, r)
		if labels, ok := d["missing_labels"].([]any); !ok || len(labels) != 0 || fmt.Sprint(d["missing_annotations"]) != "[[region eu]]" {
			t.Fatalf("details %v", d)
		}
	})

	t.Run("parameters are validated against the schema", func(t *testing.T) {
		e := e.withT(t)
		r := e.instantiate(g1.pak, prod.ID, web.ID, `{"replicas": "three", "tags": ["ok", 2]}`)
		if r.status != 400 || r.code() != "invalid_parameters" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got []string
		for _, v := range errorDetails(t, r)["validation_errors"].([]any) {
			got = append(got, v.(string))
		}
		slices.Sort(got)
		want := []string{"/replicas: got string, want integer", "/tags/1: got number, want string", "missing property 'name'"}
		if !slices.Equal(got, want) {
			t.Fatalf("validation errors %q, want %q", got, want)
		}
		r = e.instantiate(g1.pak, prod.ID, web.ID, `"just a string"`)
		if r.status != 400 || r.code() != "invalid_parameters" {
			t.Fatalf("string parameters: %d %s", r.status, r.body)
		}
	})

	t.Run("render failure", func(t *testing.T) {
		e := e.withT(t)
		tp := e.createTemplate(g1.pak, "strict", "name: {{ name }}\nimage: {{ image }}\n", "{}")
		r := e.instantiate(g1.pak, bare.ID, tp.ID, `{"name": "x"}`)
		if r.status != 400 || r.code() != "template_render_failed" || !strings.Contains(string(r.body), "image") {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})

	t.Run("blank output", func(t *testing.T) {
		e := e.withT(t)
		tp := e.createTemplate(g1.pak, "empty", "{% if enabled %}kind: ConfigMap{% endif %}\n  \n", "{}")
		e.expectError(400, "invalid_deployment_object", req{method: "POST",
			path: v1path("stacks", bare.ID, "deployment-objects", "from-template"), pak: g1.pak,
			body: map[string]any{"template_id": tp.ID, "parameters": map[string]any{}}})
		r := e.instantiate(g1.pak, bare.ID, tp.ID, `{"enabled": true}`)
		if r.status != 201 {
			t.Fatalf("enabled: %d %s", r.status, r.body)
		}
	})

	t.Run("non-object parameters define no variables", func(t *testing.T) {
		e := e.withT(t)
		static := e.createTemplate(g1.pak, "static", "kind: ConfigMap\n", "{}")
		for _, params := range []string{`[1, 2]`, `null`, `7`} {
			if r := e.instantiate(g1.pak, bare.ID, static.ID, params); r.status != 201 {
				t.Fatalf("parameters %s: %d %s", params, r.status, r.body)
			}
		}
		var stored string
		if err := e.db.Get(&stored, `SELECT template_parameters FROM rendered_deployment_objects
			WHERE template_id = $1 ORDER BY created_at DESC, id LIMIT 1`, static.ID); err != nil {
			t.Fatal(err)
		}
		if stored != "7" && stored != "null" && stored != "[1,2]" {
			t.Fatalf("stored parameters %q", stored)
		}
		vars := e.createTemplate(g1.pak, "vars", "name: {{ name }}\n", "{}")
		if r := e.instantiate(g1.pak, bare.ID, vars.ID, `["name"]`); r.status != 400 || r.code() != "template_render_failed" {
			t.Fatalf("array parameters: %d %s", r.status, r.body)
		}
	})

	t.Run("system templates serve every generator", func(t *testing.T) {
		e := e.withT(t)
		sys := e.createTemplate(e.admin, "sys", "kind: ConfigMap\nmetadata:\n  name: {{ name }}\n", webSchema)
		g2stack := e.createStack("g2-stack", g2.gen.ID, g2.pak)
		for _, c := range []struct {
			key   string
			stack uuid.UUID
		}{{g1.pak, bare.ID}, {g2.pak, g2stack.ID}, {e.admin, g2stack.ID}} {
			if r := e.instantiate(c.key, c.stack, sys.ID, `{"name": "s"}`); r.status != 201 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
	})

	t.Run("access and order of checks", func(t *testing.T) {
		e := e.withT(t)
		theirs := e.createTemplate(g2.pak, "theirs", "kind: ConfigMap\n", "{}")
		gone := e.createTemplate(g1.pak, "gone", "kind: ConfigMap\n", "{}")
		e.must(204, req{method: "DELETE", path: v1path("templates", gone.ID), pak: g1.pak})
		path := func(stack uuid.UUID) string { return v1path("stacks", stack, "deployment-objects", "from-template") }
		body := func(tp uuid.UUID) map[string]any {
			return map[string]any{"template_id": tp, "parameters": map[string]any{}}
		}

		e.expectError(404, "stack_not_found", req{method: "POST", path: path(uuid.New()), pak: g1.pak, body: body(web.ID)})
		e.expectError(403, "stack_not_owned", req{method: "POST", path: path(prod.ID), pak: g2.pak, body: body(web.ID)})
		e.expectError(403, "stack_not_owned", req{method: "POST", path: path(prod.ID), pak: agent.pak, body: body(web.ID)})
		e.expectError(403, "read_only", req{method: "POST", path: path(prod.ID), pak: e.srv.ReadOnlyPAK(), body: body(web.ID)})
		e.expectError(404, "template_not_found", req{method: "POST", path: path(prod.ID), pak: g1.pak, body: body(uuid.New())})
		e.expectError(404, "template_not_found", req{method: "POST", path: path(prod.ID), pak: g1.pak, body: body(gone.ID)})
		e.expectError(403, "template_not_accessible", req{method: "POST", path: path(bare.ID), pak: g1.pak, body: body(theirs.ID)})
		// Access is checked before matching, matching before the parameters.
		e.expectError(403, "template_not_accessible", req{method: "POST", path: path(bare.ID), pak: g1.pak,
			body: map[string]any{"template_id": theirs.ID, "parameters": "bad"}})
		e.expectError(422, "template_stack_mismatch", req{method: "POST", path: path(bare.ID), pak: g1.pak,
			body: map[string]any{"template_id": web.ID, "parameters": "bad"}})
		// The admin may use any template in any stack.
		if r := e.instantiate(e.admin, bare.ID, theirs.ID, `{}`); r.status != 201 {
			t.Fatalf("admin: %d %s", r.status, r.body)
		}
		e.expectField("template_id", req{method: "POST", path: path(prod.ID), pak: g1.pak, body: map[string]any{"parameters": map[string]any{}}})
		e.expectField("parameters", req{method: "POST", path: path(prod.ID), pak: g1.pak, body: map[string]any{"template_id": web.ID}})
		e.expectField("template_id", req{method: "POST", path: path(prod.ID), pak: g1.pak, body: map[string]any{"template_id": "x", "parameters": 1}})
	})

	t.Run("the deployment-object routes still answer", func(t *testing.T) {
		e := e.withT(t)
		obj := e.createObject(prod.ID, g1.pak, cmYAML)
		var list []client.DeploymentObject
		e.must(200, req{method: "GET", path: v1path("stacks", prod.ID, "deployment-objects"), pak: g1.pak}).decode(t, &list)
		if len(list) == 0 || list[0].ID != obj.ID {
			t.Fatalf("list: %+v", list)
		}
	})
}
