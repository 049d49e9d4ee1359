package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

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
			body: map[string]any{"template_content": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\ndata:\n  version: two\n", "parameters_schema": webSchema}}).decode(t, &v2)
		r := e.instantiate(g1.pak, prod.ID, web.ID, `{"name": "old"}`)
		var obj client.DeploymentObject
		r.decode(t, &obj)
		if r.status != 201 || !strings.Contains(obj.YAMLContent, "kind: ConfigMap") {
			t.Fatalf("v1: %d %s", r.status, r.body)
		}
		// v2 has no labels or annotations, so it matches any stack, even a bare one.
		r = e.instantiate(g1.pak, bare.ID, v2.ID, `{"name": "new"}`)
		r.decode(t, &obj)
		if r.status != 201 || obj.YAMLContent != "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\ndata:\n  version: two\n" {
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
		tp := e.createTemplate(g1.pak, "empty", "{% if enabled %}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: enabled}{% endif %}\n  \n", "{}")
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
		static := e.createTemplate(g1.pak, "static", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: static}\n", "{}")
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
		sys := e.createTemplate(e.admin, "sys", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\n", webSchema)
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
		theirs := e.createTemplate(g2.pak, "theirs", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs}\n", "{}")
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
