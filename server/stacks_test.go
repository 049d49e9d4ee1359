package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// quoted returns s as a JSON string document (the body form of the label-add endpoints).
func quoted(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

func stackIDs(stacks []client.Stack) []uuid.UUID {
	out := make([]uuid.UUID, len(stacks))
	for i, s := range stacks {
		out[i] = s.ID
	}
	return out
}

func TestCreateStack(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	gone := e.createGenerator("gone")
	e.must(204, req{method: "DELETE", path: v1path("generators", gone.gen.ID), pak: e.admin})

	t.Run("created", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: v1path("stacks"), pak: e.admin,
			body: map[string]any{"name": "web", "generator_id": g.gen.ID, "description": "the web tier"}})
		var st client.Stack
		r.decode(t, &st)
		obj := jsonObject(t, r)
		requireNull(t, obj, "deleted_at")
		requireUTC(t, obj, "created_at", "updated_at")
		if st.Name != "web" || st.GeneratorID != g.gen.ID || st.Description == nil || *st.Description != "the web tier" || st.ID == uuid.Nil {
			t.Fatalf("stack: %+v", st)
		}
		r = e.must(201, req{method: "POST", path: v1path("stacks"), pak: g.pak, body: map[string]any{"name": "api", "generator_id": g.gen.ID}})
		requireNull(t, jsonObject(t, r), "description", "deleted_at")
		var got client.Stack
		e.must(200, req{method: "GET", path: v1path("stacks", st.ID), pak: g.pak}).decode(t, &got)
		if got.ID != st.ID || got.Name != "web" || !got.CreatedAt.Equal(st.CreatedAt) {
			t.Fatalf("get: %+v", got)
		}
	})

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{name: "missing name", body: map[string]any{"generator_id": g.gen.ID}, field: "name"},
		{name: "missing generator", body: map[string]any{"name": "x"}, field: "generator_id"},
		{name: "generator not a uuid", body: map[string]any{"name": "x", "generator_id": "g"}, field: "generator_id"},
		{name: "name not a string", body: map[string]any{"name": []int{1}, "generator_id": g.gen.ID}, field: "name"},
		{name: "blank name", body: map[string]any{"name": "\n", "generator_id": g.gen.ID}, status: 400, code: "invalid_stack"},
		{name: "name too long", body: map[string]any{"name": strings.Repeat("s", 256), "generator_id": g.gen.ID}, status: 400, code: "invalid_stack"},
		{name: "unknown generator", body: map[string]any{"name": "x", "generator_id": uuid.New()}, status: 422, code: "foreign_key_violation"},
		{name: "deleted generator", body: map[string]any{"name": "x", "generator_id": gone.gen.ID}, status: 422, code: "foreign_key_violation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			r := req{method: "POST", path: v1path("stacks"), pak: e.admin, body: tc.body}
			if tc.field != "" {
				e.expectField(tc.field, r)
				return
			}
			e.expectError(tc.status, tc.code, r)
		})
	}

	t.Run("duplicate name and reuse after delete", func(t *testing.T) {
		e := e.withT(t)
		other := e.createGenerator("other")
		first := e.createStack("dup", g.gen.ID, g.pak)
		// Stack names are global, not per generator.
		e.expectConstraint("unique_stack_name", req{method: "POST", path: v1path("stacks"), pak: other.pak,
			body: map[string]any{"name": "dup", "generator_id": other.gen.ID}})
		e.must(204, req{method: "DELETE", path: v1path("stacks", first.ID), pak: g.pak})
		again := e.createStack("dup", other.gen.ID, other.pak)
		if again.ID == first.ID {
			t.Fatal("re-created stack reuses the deleted row")
		}
	})
}

func TestListStacks(t *testing.T) {
	e := newEnv(t)
	g1 := e.createGenerator("g1")
	g2 := e.createGenerator("g2")
	a := e.createStack("a", g1.gen.ID, g1.pak)
	b := e.createStack("b", g1.gen.ID, g1.pak)
	c := e.createStack("c", g2.gen.ID, g2.pak)
	d := e.createStack("d", g2.gen.ID, g2.pak)
	e.must(204, req{method: "DELETE", path: v1path("stacks", d.ID), pak: e.admin})

	list := func(key, query string) []uuid.UUID {
		t.Helper()
		var out []client.Stack
		e.must(200, req{method: "GET", path: v1path("stacks") + query, pak: key}).decode(t, &out)
		return stackIDs(out)
	}
	if got := list(e.admin, ""); !sameIDs(got, []uuid.UUID{a.ID, b.ID, c.ID}) {
		t.Fatalf("admin list: %v", got)
	}
	if got := list(e.admin, "?pak_id="+g1.gen.ID.String()); !sameIDs(got, []uuid.UUID{a.ID, b.ID}) {
		t.Fatalf("admin list for g1: %v", got)
	}
	if got := list(e.admin, "?pak_id="+uuid.NewString()); len(got) != 0 {
		t.Fatalf("admin list for an unknown generator: %v", got)
	}
	// A generator sees its own stacks whatever pak_id says.
	if got := list(g2.pak, "?pak_id="+g1.gen.ID.String()); !sameIDs(got, []uuid.UUID{c.ID}) {
		t.Fatalf("g2 list: %v", got)
	}
	e.expectError(400, "invalid_parameter", req{method: "GET", path: v1path("stacks") + "?pak_id=g1", pak: e.admin})
}

func TestUpdateAndDeleteStack(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	g2 := e.createGenerator("g2")
	gone := e.createGenerator("gone")
	e.must(204, req{method: "DELETE", path: v1path("generators", gone.gen.ID), pak: e.admin})
	st := e.createStack("s", g.gen.ID, g.pak)
	e.createStack("taken", g.gen.ID, g.pak)
	path := v1path("stacks", st.ID)
	full := func(mod map[string]any) map[string]any {
		m := map[string]any{"id": st.ID, "created_at": st.CreatedAt, "updated_at": st.UpdatedAt, "name": "s", "generator_id": g.gen.ID}
		for k, v := range mod {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}

	t.Run("update", func(t *testing.T) {
		e := e.withT(t)
		var got client.Stack
		r := e.must(200, req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{"name": "s2", "description": "d"})})
		r.decode(t, &got)
		requireUTC(t, jsonObject(t, r), "created_at", "updated_at")
		if got.ID != st.ID || got.Name != "s2" || got.Description == nil || *got.Description != "d" || got.GeneratorID != g.gen.ID ||
			!got.CreatedAt.Equal(st.CreatedAt) || !got.UpdatedAt.After(st.UpdatedAt) {
			t.Fatalf("update: %+v", got)
		}
		// A null description leaves the stored one.
		e.must(200, req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{"name": "s2"})}).decode(t, &got)
		if got.Description == nil || *got.Description != "d" {
			t.Fatalf("description cleared: %+v", got)
		}
		e.expectError(400, "stack_id_mismatch", req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{"id": uuid.New()})})
		for _, f := range []string{"id", "created_at", "updated_at", "name", "generator_id"} {
			e.expectField(f, req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{f: nil})})
		}
		e.expectError(400, "invalid_stack", req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{"name": " "})})
		e.expectConstraint("unique_stack_name", req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{"name": "taken"})})
		// Only the admin may move a stack to another generator.
		e.expectError(403, "stack_generator_mismatch", req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{"name": "s2", "generator_id": g2.gen.ID})})
		e.expectError(422, "foreign_key_violation", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"name": "s2", "generator_id": uuid.New()})})
		// A deleted generator is absent too: moving a stack to it would leave a live stack
		// with a deleted owner.
		e.expectError(422, "foreign_key_violation", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"name": "s2", "generator_id": gone.gen.ID})})
		e.expectError(404, "stack_not_found", req{method: "PUT", path: v1path("stacks", uuid.New()), pak: e.admin, body: full(nil)})
		e.must(200, req{method: "GET", path: path, pak: g.pak}).decode(t, &got)
		if got.Name != "s2" || got.GeneratorID != g.gen.ID {
			t.Fatalf("rejected updates changed the stack: %+v", got)
		}
		e.must(200, req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"name": "s2", "generator_id": g2.gen.ID})}).decode(t, &got)
		if got.GeneratorID != g2.gen.ID {
			t.Fatalf("admin move: %+v", got)
		}
		var own []client.Stack
		e.must(200, req{method: "GET", path: v1path("stacks"), pak: g2.pak}).decode(t, &own)
		if len(own) != 1 || own[0].ID != st.ID {
			t.Fatalf("g2's stacks after the move: %+v", own)
		}
	})

	t.Run("delete", func(t *testing.T) {
		e := e.withT(t)
		victim := e.createStack("victim", g.gen.ID, g.pak)
		o1 := e.createObject(victim.ID, g.pak, cmYAML)
		r := e.must(204, req{method: "DELETE", path: v1path("stacks", victim.ID), pak: g.pak})
		if len(r.body) != 0 {
			t.Fatalf("204 with body %q", r.body)
		}
		for _, rq := range []req{
			{method: "GET", path: v1path("stacks", victim.ID), pak: e.admin},
			{method: "DELETE", path: v1path("stacks", victim.ID), pak: e.admin},
			{method: "GET", path: v1path("stacks", victim.ID, "deployment-objects"), pak: e.admin},
			{method: "POST", path: v1path("stacks", victim.ID, "deployment-objects"), pak: e.admin, body: map[string]any{"yaml_content": cmYAML}},
			{method: "POST", path: v1path("stacks", victim.ID, "labels"), pak: e.admin, body: quoted("x"), contentType: "application/json"},
			{method: "DELETE", path: v1path("stacks", uuid.New()), pak: e.admin},
		} {
			e.expectError(404, "stack_not_found", rq)
		}
		e.expectError(404, "deployment_object_not_found", req{method: "GET", path: v1path("deployment-objects", o1.ID), pak: e.admin})

		// The database inserted one live deletion marker and soft-deleted the rest.
		var rows []struct {
			ID          uuid.UUID  `db:"id"`
			Marker      bool       `db:"is_deletion_marker"`
			Content     string     `db:"yaml_content"`
			Checksum    string     `db:"yaml_checksum"`
			Deleted     *time.Time `db:"deleted_at"`
			SubmittedAt time.Time  `db:"submitted_at"`
			StackGone   time.Time  `db:"stack_deleted_at"`
			SequenceID  int64      `db:"sequence_id"`
		}
		if err := e.db.SelectContext(t.Context(), &rows, `SELECT d.id, d.is_deletion_marker, d.yaml_content, d.yaml_checksum,
				d.deleted_at, d.submitted_at, s.deleted_at AS stack_deleted_at, d.sequence_id
			FROM deployment_objects d JOIN stacks s ON s.id = d.stack_id WHERE d.stack_id = $1 ORDER BY d.sequence_id`, victim.ID); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("objects: %+v", rows)
		}
		old, marker := rows[0], rows[1]
		if old.ID != o1.ID || old.Deleted == nil {
			t.Fatalf("old object not soft-deleted: %+v", old)
		}
		md5Empty := "d41d8cd98f00b204e9800998ecf8427e"
		if !marker.Marker || marker.Content != "" || marker.Checksum != md5Empty || marker.Deleted != nil ||
			!marker.SubmittedAt.Equal(marker.StackGone) || marker.SequenceID <= o1.SequenceID {
			t.Fatalf("deletion marker: %+v", marker)
		}
	})
}

func TestStackLabelsAndAnnotations(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("s", g.gen.ID, g.pak)
	other := e.createStack("other", g.gen.ID, g.pak)
	labels := v1path("stacks", st.ID, "labels")
	annotations := v1path("stacks", st.ID, "annotations")

	t.Run("labels", func(t *testing.T) {
		e := e.withT(t)
		var l client.StackLabel
		e.must(201, req{method: "POST", path: labels, pak: g.pak, body: quoted("env:prod"), contentType: "application/json"}).decode(t, &l)
		if l.StackID != st.ID || l.Label != "env:prod" || l.ID == uuid.Nil {
			t.Fatalf("label: %+v", l)
		}
		e.must(201, req{method: "POST", path: labels, pak: e.admin, body: quoted("tier/web"), contentType: "application/json"})
		e.must(201, req{method: "POST", path: v1path("stacks", other.ID, "labels"), pak: g.pak, body: quoted("env:prod"), contentType: "application/json"})
		e.expectConstraint("stack_labels_stack_id_label_key", req{method: "POST", path: labels, pak: g.pak, body: quoted("env:prod"), contentType: "application/json"})
		for name, label := range map[string]string{"blank": " ", "empty": "", "space": "a b", "too long": strings.Repeat("l", 65)} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_label", req{method: "POST", path: labels, pak: g.pak, body: quoted(label), contentType: "application/json"})
			})
		}
		e.expectError(400, "invalid_label", req{method: "POST", path: labels, pak: g.pak, body: []byte("null"), contentType: "application/json"})
		e.expectField("body", req{method: "POST", path: labels, pak: g.pak, body: map[string]any{"label": "x"}})
		e.expectError(400, "invalid_json", req{method: "POST", path: labels, pak: g.pak, body: []byte("env:prod"), contentType: "application/json"})
		e.expectError(415, "unsupported_media_type", req{method: "POST", path: labels, pak: g.pak, body: []byte(`"x"`), contentType: "text/plain"})
		e.expectError(404, "stack_not_found", req{method: "POST", path: v1path("stacks", uuid.New(), "labels"), pak: e.admin, body: quoted("x"), contentType: "application/json"})

		var got []client.StackLabel
		e.must(200, req{method: "GET", path: labels, pak: g.pak}).decode(t, &got)
		if len(got) != 2 || got[0].Label != "env:prod" || got[1].Label != "tier/web" {
			t.Fatalf("labels: %+v", got)
		}
		r := e.must(200, req{method: "GET", path: v1path("stacks", uuid.New(), "labels"), pak: e.admin})
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("admin listing labels of an unknown stack: %s", r.body)
		}
		e.must(204, req{method: "DELETE", path: labels + "/tier%2Fweb", pak: g.pak})
		e.expectError(404, "stack_label_not_found", req{method: "DELETE", path: labels + "/tier%2Fweb", pak: g.pak})
		e.expectError(404, "stack_not_found", req{method: "DELETE", path: v1path("stacks", uuid.New(), "labels", "x"), pak: e.admin})
		got = nil
		e.must(200, req{method: "GET", path: labels, pak: e.admin}).decode(t, &got)
		if len(got) != 1 || got[0].Label != "env:prod" {
			t.Fatalf("after removal: %+v", got)
		}
	})

	t.Run("annotations", func(t *testing.T) {
		e := e.withT(t)
		var an client.StackAnnotation
		e.must(201, req{method: "POST", path: annotations, pak: g.pak, body: map[string]any{"stack_id": st.ID, "key": "region", "value": "eu"}}).decode(t, &an)
		if an.StackID != st.ID || an.Key != "region" || an.Value != "eu" || an.ID == uuid.Nil {
			t.Fatalf("annotation: %+v", an)
		}
		e.expectConstraint("unique_stack_annotation", req{method: "POST", path: annotations, pak: g.pak,
			body: map[string]any{"stack_id": st.ID, "key": "region", "value": "us"}})
		e.expectError(400, "stack_id_mismatch", req{method: "POST", path: annotations, pak: g.pak, body: map[string]any{"stack_id": other.ID, "key": "k", "value": "v"}})
		for _, f := range []string{"stack_id", "key", "value"} {
			body := map[string]any{"stack_id": st.ID, "key": "k", "value": "v"}
			delete(body, f)
			e.expectField(f, req{method: "POST", path: annotations, pak: g.pak, body: body})
		}
		for name, kv := range map[string][2]string{
			"blank key":      {"", "v"},
			"key whitespace": {"k k", "v"},
			"key too long":   {strings.Repeat("k", 65), "v"},
			"value too long": {"k", strings.Repeat("v", 65)},
		} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_annotation", req{method: "POST", path: annotations, pak: g.pak,
					body: map[string]any{"stack_id": st.ID, "key": kv[0], "value": kv[1]}})
			})
		}
		var got []client.StackAnnotation
		e.must(200, req{method: "GET", path: annotations, pak: g.pak}).decode(t, &got)
		if len(got) != 1 || got[0].ID != an.ID {
			t.Fatalf("annotations: %+v", got)
		}
		e.must(204, req{method: "DELETE", path: annotations + "/region", pak: g.pak})
		e.expectError(404, "stack_annotation_not_found", req{method: "DELETE", path: annotations + "/region", pak: g.pak})
		r := e.must(200, req{method: "GET", path: annotations, pak: g.pak})
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("after removal: %s", r.body)
		}
	})
}

func TestDeploymentObjects(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	s1 := e.createStack("s1", g.gen.ID, g.pak)
	s2 := e.createStack("s2", g.gen.ID, g.pak)
	objects := v1path("stacks", s1.ID, "deployment-objects")
	var created []client.DeploymentObject

	post := func(e *env, stack uuid.UUID, body any, contentType, query string) client.DeploymentObject {
		e.t.Helper()
		r := e.must(201, req{method: "POST", path: v1path("stacks", stack, "deployment-objects") + query, pak: g.pak, body: body, contentType: contentType})
		var o client.DeploymentObject
		r.decode(e.t, &o)
		obj := jsonObject(e.t, r)
		requireNull(e.t, obj, "deleted_at")
		requireUTC(e.t, obj, "created_at", "updated_at", "submitted_at")
		if o.StackID != stack || o.ID == uuid.Nil {
			e.t.Fatalf("object: %+v", o)
		}
		if n := len(created); n > 0 && o.SequenceID <= created[n-1].SequenceID {
			e.t.Fatalf("sequence_id %d not above the previous %d", o.SequenceID, created[n-1].SequenceID)
		}
		created = append(created, o)
		return o
	}

	t.Run("intake forms", func(t *testing.T) {
		for _, tc := range []struct {
			name, content, contentType, query string
			json, marker                      bool
		}{
			{name: "json", content: cmYAML, json: true},
			{name: "json ignores the query flag", content: cmYAML, json: true, query: "?deletion_marker=true"},
			{name: "json marker with content", content: cmYAML, json: true, marker: true},
			{name: "json blank marker", content: "", json: true, marker: true},
			{name: "application/yaml", content: "apiVersion: v1\r\nkind: A\r\nmetadata:\r\n  name:   x   \n\n", contentType: "application/yaml"},
			{name: "text/yaml", content: "apiVersion: v1\nkind: B\nmetadata: {name: b}\n", contentType: "text/yaml"},
			{name: "application/x-yaml with charset", content: "apiVersion: v1\nkind: C # ü\nmetadata: {name: c}\n", contentType: "application/x-yaml; charset=utf-8"},
			{name: "upper-case media type", content: "apiVersion: v1\nkind: D\nmetadata: {name: d}\n", contentType: "Application/YAML"},
			{name: "yaml marker", content: "kind: E\n", contentType: "application/yaml", query: "?deletion_marker=true", marker: true},
			{name: "yaml blank marker", content: "", contentType: "application/yaml", query: "?deletion_marker=true", marker: true},
			{name: "yaml explicit false", content: "apiVersion: v1\nkind: F\nmetadata: {name: f}\n", contentType: "application/yaml", query: "?deletion_marker=false"},
			{name: "several documents, some empty", content: "---\n---\napiVersion: v1\nkind: G\nmetadata: {name: g}\n---\n", contentType: "application/yaml"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.withT(t)
				var body any = []byte(tc.content)
				ct := tc.contentType
				if tc.json {
					m := map[string]any{"yaml_content": tc.content}
					if tc.marker {
						m["is_deletion_marker"] = true
					}
					body, ct = m, ""
				}
				stack := s1.ID
				if len(created)%2 == 1 {
					stack = s2.ID // alternate stacks: the sequence is global
				}
				o := post(e, stack, body, ct, tc.query)
				if o.YAMLContent != tc.content || o.YAMLChecksum != sha256Hex(tc.content) || o.IsDeletionMarker != tc.marker {
					t.Fatalf("object %+v, want content %q, checksum %s, marker %v", o, tc.content, sha256Hex(tc.content), tc.marker)
				}
			})
		}
	})

	t.Run("invalid", func(t *testing.T) {
		e := e.withT(t)
		for name, content := range map[string]string{
			"empty":               "",
			"blank":               " \n\t\n",
			"only separators":     "---\n---\n",
			"only null":           "~\n",
			"unclosed flow":       "a: [1, 2\n",
			"bad indentation":     "a:\n  b: 1\n c: 2\n",
			"second doc broken":   "kind: A\n---\n: : :\n  - [\n",
			"tab indentation":     "a:\n\tb: 1\n",
			"duplicate separator": "--- \n--- \n",
		} {
			t.Run(name, func(t *testing.T) {
				e := e.withT(t)
				e.expectError(400, "invalid_deployment_object", req{method: "POST", path: objects, pak: g.pak, body: map[string]any{"yaml_content": content}})
				e.expectError(400, "invalid_deployment_object", req{method: "POST", path: objects, pak: g.pak, body: []byte(content), contentType: "application/yaml"})
			})
		}
		for name, r := range map[string]req{
			"malformed json":       {body: []byte(`{"yaml_content": "a: 1"`), contentType: "application/json"},
			"missing yaml_content": {body: map[string]any{"is_deletion_marker": false}},
			"yaml_content number":  {body: map[string]any{"yaml_content": 5}},
			"marker not a bool":    {body: map[string]any{"yaml_content": cmYAML, "is_deletion_marker": "yes"}},
			"no body":              {contentType: "application/json"},
			"non-utf8 yaml":        {body: []byte("kind: \xff\xfe\n"), contentType: "application/yaml"},
		} {
			t.Run(name, func(t *testing.T) {
				r.method, r.path, r.pak = "POST", objects, g.pak
				e.withT(t).expectError(400, "invalid_deployment_object", r)
			})
		}
		got := e.expectError(400, "invalid_parameter", req{method: "POST", path: objects + "?deletion_marker=maybe", pak: g.pak, body: []byte(cmYAML), contentType: "application/yaml"})
		if p := errorDetail(t, got, "parameter"); p != "deletion_marker" {
			t.Fatalf("details.parameter %q", p)
		}
		e.expectError(404, "stack_not_found", req{method: "POST", path: v1path("stacks", uuid.New(), "deployment-objects"), pak: e.admin, body: map[string]any{"yaml_content": cmYAML}})
	})

	t.Run("list newest first", func(t *testing.T) {
		e := e.withT(t)
		for _, s := range []uuid.UUID{s1.ID, s2.ID} {
			var list []client.DeploymentObject
			e.must(200, req{method: "GET", path: v1path("stacks", s, "deployment-objects"), pak: g.pak}).decode(t, &list)
			var want []uuid.UUID
			for i := len(created) - 1; i >= 0; i-- {
				if created[i].StackID == s {
					want = append(want, created[i].ID)
				}
			}
			if len(list) != len(want) || len(want) == 0 {
				t.Fatalf("stack %s lists %d objects, want %d", s, len(list), len(want))
			}
			for i, o := range list {
				if o.ID != want[i] {
					t.Fatalf("stack %s: position %d holds %s, want %s", s, i, o.ID, want[i])
				}
			}
		}
		e.expectError(404, "stack_not_found", req{method: "GET", path: v1path("stacks", uuid.New(), "deployment-objects"), pak: e.admin})
	})

	t.Run("get json and yaml", func(t *testing.T) {
		e := e.withT(t)
		o := created[4] // application/yaml with CRLF and trailing blanks
		var got client.DeploymentObject
		r := e.must(200, req{method: "GET", path: v1path("deployment-objects", o.ID), pak: g.pak})
		r.decode(t, &got)
		if got != o {
			t.Fatalf("get %+v, created %+v", got, o)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
		for _, accept := range []string{"application/yaml", "text/yaml", "application/x-yaml", "text/html, application/yaml;q=0.9", "APPLICATION/YAML"} {
			r := e.must(200, req{method: "GET", path: v1path("deployment-objects", o.ID), pak: e.admin, headers: map[string]string{"Accept": accept}})
			if string(r.body) != o.YAMLContent {
				t.Fatalf("Accept %q: body %q, want %q", accept, r.body, o.YAMLContent)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
				t.Fatalf("Accept %q: content type %q", accept, ct)
			}
		}
		r = e.must(200, req{method: "GET", path: v1path("deployment-objects", o.ID), pak: e.admin, headers: map[string]string{"Accept": "application/json"}})
		got = client.DeploymentObject{}
		r.decode(t, &got)
		if got.ID != o.ID {
			t.Fatalf("Accept json: %s", r.body)
		}
		e.expectError(404, "deployment_object_not_found", req{method: "GET", path: v1path("deployment-objects", uuid.New()), pak: e.admin})
	})
}

func TestDeploymentObjectBodyLimit(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("s", g.gen.ID, g.pak)
	path := v1path("stacks", st.ID, "deployment-objects")
	const limit = 2097152 // broker.max_body_bytes default

	// A YAML body of exactly the limit is accepted, one byte more is not.
	exact := manifestOfSize(limit)
	var o client.DeploymentObject
	e.must(201, req{method: "POST", path: path, pak: g.pak, body: []byte(exact), contentType: "application/yaml"}).decode(t, &o)
	if len(o.YAMLContent) != limit || o.YAMLChecksum != sha256Hex(exact) {
		t.Fatalf("object of %d bytes, checksum %s", len(o.YAMLContent), o.YAMLChecksum)
	}
	e.expectError(413, "payload_too_large", req{method: "POST", path: path, pak: g.pak, body: []byte(exact + "\n"), contentType: "application/yaml"})
	jsonBody := []byte(`{"yaml_content": "a: ` + strings.Repeat("x", limit) + `"}`)
	e.expectError(413, "payload_too_large", req{method: "POST", path: path, pak: g.pak, body: jsonBody, contentType: "application/json"})
	var list []client.DeploymentObject
	e.must(200, req{method: "GET", path: path, pak: g.pak}).decode(t, &list)
	if len(list) != 1 {
		t.Fatalf("oversized bodies were stored: %d objects", len(list))
	}
}
