package server_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// storedObjects counts the deployment objects of a stack, soft-deleted ones included.
func (e *env) storedObjects(stack uuid.UUID) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM deployment_objects WHERE stack_id = $1`, stack); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestIntakeRefusesUnappliableDeploymentObjects posts manifests no agent could apply: each is
// refused with 400 invalid_deployment_object, in JSON and as raw YAML, and nothing is stored.
func TestIntakeRefusesUnappliableDeploymentObjects(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("intake", g.gen.ID, g.pak)
	objects := v1path("stacks", st.ID, "deployment-objects")

	for name, content := range map[string]string{
		"no apiVersion":             "kind: ConfigMap\nmetadata: {name: a}\n",
		"apiVersion not a string":   "apiVersion: 1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"no kind":                   "apiVersion: v1\nmetadata: {name: a}\n",
		"no name":                   "apiVersion: v1\nkind: ConfigMap\ndata: {k: v}\n",
		"only generateName":         "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\n",
		"malformed apiVersion":      "apiVersion: a/b/c\nkind: X\nmetadata: {name: a}\n",
		"second object broken":      cmYAML + "---\napiVersion: v1\nkind: Secret\n",
		"list item without a name":  "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret}\n",
		"list item not an object":   "apiVersion: v1\nkind: List\nitems: [1]\n",
		"scalar document":           cmYAML + "---\njust text\n",
		"sequence document":         "- " + strings.ReplaceAll(cmYAML, "\n", "\n  "),
		"content on separator line": "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n",
		"only an empty mapping":     "{}\n",
	} {
		t.Run(name, func(t *testing.T) {
			e := e.withT(t)
			got := e.expectError(400, "invalid_deployment_object", req{method: "POST", path: objects, pak: g.pak,
				body: map[string]any{"yaml_content": content}})
			if !strings.Contains(string(got.body), "yaml_content") {
				t.Fatalf("the message does not say what is wrong: %s", got.body)
			}
			e.expectError(400, "invalid_deployment_object", req{method: "POST", path: objects, pak: g.pak,
				body: []byte(content), contentType: "application/yaml"})
		})
	}
	if n := e.storedObjects(st.ID); n != 0 {
		t.Fatalf("%d deployment objects stored", n)
	}

	// What an agent applies is still taken as sent.
	for name, content := range map[string]string{
		"comments, empty documents and separators": "# web\n---\n---\n" + cmYAML + "--- # end\n",
		"CRLF and trailing blanks":                 strings.ReplaceAll(cmYAML, "\n", "\r\n") + "\r\n\r\n",
		"list":                                     "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n",
		"JSON":                                     `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			o := e.withT(t).createObject(st.ID, g.pak, content)
			if o.YAMLContent != content || o.YAMLChecksum != sha256Hex(content) {
				t.Fatalf("stored %q (%s)", o.YAMLContent, o.YAMLChecksum)
			}
		})
	}
}

// TestIntakeDeletionMarkers: a marker's content is never applied, so it need not be objects,
// but it must still read as YAML when it is not blank.
func TestIntakeDeletionMarkers(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("markers", g.gen.ID, g.pak)
	objects := v1path("stacks", st.ID, "deployment-objects")
	for _, content := range []string{"", "kind: E\n", cmYAML} {
		var o client.DeploymentObject
		e.must(201, req{method: "POST", path: objects, pak: g.pak,
			body: map[string]any{"yaml_content": content, "is_deletion_marker": true}}).decode(t, &o)
		if !o.IsDeletionMarker || o.YAMLContent != content {
			t.Fatalf("marker %+v", o)
		}
	}
	before := e.storedObjects(st.ID)
	for _, content := range []string{"a: [\n", "---\n---\n", "- a\n"} {
		e.expectError(400, "invalid_deployment_object", req{method: "POST", path: objects, pak: g.pak,
			body: map[string]any{"yaml_content": content, "is_deletion_marker": true}})
	}
	if n := e.storedObjects(st.ID); n != before {
		t.Fatalf("%d deployment objects stored, want %d", n, before)
	}
}

// TestIntakeRefusesUnappliableTemplateOutput: a template whose rendering no agent could apply
// is refused at instantiation with 400 invalid_deployment_object; nothing is stored.
func TestIntakeRefusesUnappliableTemplateOutput(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("rendered", g.gen.ID, g.pak)
	tp := e.createTemplate(g.pak, "cm", "apiVersion: v1\nkind: ConfigMap\n{% if named %}metadata: {name: {{ name }}}\n{% endif %}", "{}")

	r := e.instantiate(g.pak, st.ID, tp.ID, `{"named": false}`)
	if r.status != 400 || r.code() != "invalid_deployment_object" || !strings.Contains(string(r.body), "metadata.name is required") {
		t.Fatalf("unnamed: %d %s", r.status, r.body)
	}
	var rendered int
	if err := e.db.Get(&rendered, `SELECT count(*) FROM rendered_deployment_objects WHERE template_id = $1`, tp.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.storedObjects(st.ID); n != 0 || rendered != 0 {
		t.Fatalf("%d deployment objects and %d provenance rows stored", n, rendered)
	}

	r = e.instantiate(g.pak, st.ID, tp.ID, `{"named": true, "name": "web"}`)
	if r.status != 201 {
		t.Fatalf("named: %d %s", r.status, r.body)
	}
	var o client.DeploymentObject
	r.decode(t, &o)
	if want := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"; o.YAMLContent != want || o.YAMLChecksum != sha256Hex(want) {
		t.Fatalf("stored %q (%s)", o.YAMLContent, o.YAMLChecksum)
	}
}

// configMapManifest is a manifest an agent can apply: one ConfigMap named name.
func configMapManifest(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
}

// manifestOfSize is a manifest an agent can apply of exactly size bytes (at least 64).
func manifestOfSize(size int) string {
	const head, tail = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: ", "}\n"
	return head + strings.Repeat("x", size-len(head)-len(tail)) + tail
}
