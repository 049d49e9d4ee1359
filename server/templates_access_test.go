package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

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
