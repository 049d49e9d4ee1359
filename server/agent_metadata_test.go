package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func TestAgentLabelsAndAnnotations(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	other := e.createAgent("other", "c")
	gone := e.createAgent("gone", "c")
	e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})
	labels := v1path("agents", a.agent.ID, "labels")
	annotations := v1path("agents", a.agent.ID, "annotations")

	t.Run("labels", func(t *testing.T) {
		e := e.withT(t)
		var l client.AgentLabel
		e.must(201, req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "label": "env:prod"}}).decode(t, &l)
		if l.AgentID != a.agent.ID || l.Label != "env:prod" || l.ID == uuid.Nil {
			t.Fatalf("label: %+v", l)
		}
		e.must(201, req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "label": "team/web"}})
		e.must(201, req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "label": strings.Repeat("x", 64)}})
		e.expectConstraint("agent_labels_agent_id_label_key", req{method: "POST", path: labels, pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID, "label": "env:prod"}})
		// The same label on another agent is fine.
		e.must(201, req{method: "POST", path: v1path("agents", other.agent.ID, "labels"), pak: e.admin, body: map[string]any{"agent_id": other.agent.ID, "label": "env:prod"}})

		for name, label := range map[string]string{"blank": "  ", "empty": "", "whitespace": "env prod", "tab": "env\tprod", "too long": strings.Repeat("x", 65)} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_label", req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "label": label}})
			})
		}
		e.expectError(400, "agent_id_mismatch", req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"agent_id": other.agent.ID, "label": "x"}})
		e.expectField("label", req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
		e.expectField("agent_id", req{method: "POST", path: labels, pak: e.admin, body: map[string]any{"label": "x"}})
		e.expectError(404, "agent_not_found", req{method: "POST", path: v1path("agents", uuid.New(), "labels"), pak: e.admin, body: map[string]any{"agent_id": uuid.New(), "label": "x"}})
		e.expectError(404, "agent_not_found", req{method: "POST", path: v1path("agents", gone.agent.ID, "labels"), pak: e.admin, body: map[string]any{"agent_id": gone.agent.ID, "label": "x"}})

		var got []client.AgentLabel
		e.must(200, req{method: "GET", path: labels, pak: a.pak}).decode(t, &got)
		var names []string
		for _, l := range got {
			names = append(names, l.Label)
		}
		slices.Sort(names)
		if want := []string{"env:prod", "team/web", strings.Repeat("x", 64)}; !slices.Equal(names, want) {
			t.Fatalf("labels %q, want %q", names, want)
		}
		r := e.must(200, req{method: "GET", path: v1path("agents", uuid.New(), "labels"), pak: e.admin})
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("labels of an unknown agent: %s", r.body)
		}

		e.must(204, req{method: "DELETE", path: labels + "/env:prod", pak: e.admin})
		e.must(204, req{method: "DELETE", path: labels + "/team%2Fweb", pak: e.admin})
		e.expectError(404, "agent_label_not_found", req{method: "DELETE", path: labels + "/env:prod", pak: e.admin})
		e.expectError(404, "agent_label_not_found", req{method: "DELETE", path: labels + "/never", pak: e.admin})
		got = nil
		e.must(200, req{method: "GET", path: labels, pak: e.admin}).decode(t, &got)
		if len(got) != 1 || got[0].Label != strings.Repeat("x", 64) {
			t.Fatalf("after removal: %+v", got)
		}
		// The other agent's label is untouched.
		got = nil
		e.must(200, req{method: "GET", path: v1path("agents", other.agent.ID, "labels"), pak: e.admin}).decode(t, &got)
		if len(got) != 1 || got[0].Label != "env:prod" {
			t.Fatalf("other agent's labels: %+v", got)
		}
	})

	t.Run("annotations", func(t *testing.T) {
		e := e.withT(t)
		var an client.AgentAnnotation
		e.must(201, req{method: "POST", path: annotations, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "key": "region", "value": "eu west"}}).decode(t, &an)
		if an.AgentID != a.agent.ID || an.Key != "region" || an.Value != "eu west" || an.ID == uuid.Nil {
			t.Fatalf("annotation: %+v", an)
		}
		e.must(201, req{method: "POST", path: annotations, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "key": "tier", "value": ""}})
		e.expectConstraint("agent_annotations_agent_id_key_key", req{method: "POST", path: annotations, pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID, "key": "region", "value": "us"}})
		for name, kv := range map[string][2]string{
			"blank key":       {" ", "v"},
			"key whitespace":  {"a key", "v"},
			"key too long":    {strings.Repeat("k", 65), "v"},
			"value too long":  {"k", strings.Repeat("v", 65)},
			"empty key":       {"", "v"},
			"newline in key":  {"k\n", "v"},
			"value at limit+": {"k2", strings.Repeat("é", 33)}, // 66 bytes
		} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_annotation", req{method: "POST", path: annotations, pak: e.admin,
					body: map[string]any{"agent_id": a.agent.ID, "key": kv[0], "value": kv[1]}})
			})
		}
		e.expectError(400, "agent_id_mismatch", req{method: "POST", path: annotations, pak: e.admin, body: map[string]any{"agent_id": other.agent.ID, "key": "k", "value": "v"}})
		for _, f := range []string{"agent_id", "key", "value"} {
			body := map[string]any{"agent_id": a.agent.ID, "key": "k", "value": "v"}
			delete(body, f)
			e.expectField(f, req{method: "POST", path: annotations, pak: e.admin, body: body})
		}
		e.expectError(404, "agent_not_found", req{method: "POST", path: v1path("agents", gone.agent.ID, "annotations"), pak: e.admin, body: map[string]any{"agent_id": gone.agent.ID, "key": "k", "value": "v"}})

		var got []client.AgentAnnotation
		e.must(200, req{method: "GET", path: annotations, pak: a.pak}).decode(t, &got)
		if len(got) != 2 {
			t.Fatalf("annotations: %+v", got)
		}
		e.must(204, req{method: "DELETE", path: annotations + "/region", pak: e.admin})
		e.expectError(404, "agent_annotation_not_found", req{method: "DELETE", path: annotations + "/region", pak: e.admin})
		got = nil
		e.must(200, req{method: "GET", path: annotations, pak: e.admin}).decode(t, &got)
		if len(got) != 1 || got[0].Key != "tier" || got[0].Value != "" {
			t.Fatalf("after removal: %+v", got)
		}
	})
}
