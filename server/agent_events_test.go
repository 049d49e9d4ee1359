package server_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func TestAgentEvents(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("s", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c", g.gen.ID)
	b := e.createAgent("b", "c")
	event := func(agent uuid.UUID, key string, body map[string]any) (client.AgentEvent, resp) {
		t.Helper()
		var ev client.AgentEvent
		r := e.must(201, req{method: "POST", path: v1path("agents", agent, "events"), pak: key, body: body})
		r.decode(t, &ev)
		return ev, r
	}
	first, r := event(a.agent.ID, a.pak, map[string]any{
		"agent_id": a.agent.ID, "deployment_object_id": obj.ID, "event_type": "DEPLOY", "status": "SUCCESS"})
	o := jsonObject(t, r)
	requireNull(t, o, "deleted_at", "message")
	requireUTC(t, o, "created_at", "updated_at")
	if first.AgentID != a.agent.ID || first.DeploymentObjectID != obj.ID || first.EventType != "DEPLOY" || first.Status != "SUCCESS" {
		t.Fatalf("event: %+v", first)
	}
	second, _ := event(a.agent.ID, e.admin, map[string]any{
		"agent_id": a.agent.ID, "deployment_object_id": obj.ID, "event_type": strings.Repeat("E", 50),
		"status": strings.Repeat("F", 10), "message": "boom"})
	if second.Message == nil || *second.Message != "boom" {
		t.Fatalf("message: %+v", second)
	}
	other, _ := event(b.agent.ID, b.pak, map[string]any{
		"agent_id": b.agent.ID, "deployment_object_id": obj.ID, "event_type": "DEPLOY", "status": "FAILURE"})

	t.Run("list newest first", func(t *testing.T) {
		e := e.withT(t)
		var evs []client.AgentEvent
		e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "events"), pak: a.pak}).decode(t, &evs)
		if len(evs) != 2 || evs[0].ID != second.ID || evs[1].ID != first.ID {
			t.Fatalf("events: %+v", evs)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		e := e.withT(t)
		base := func(mod map[string]any) map[string]any {
			m := map[string]any{"agent_id": a.agent.ID, "deployment_object_id": obj.ID, "event_type": "DEPLOY", "status": "SUCCESS"}
			for k, v := range mod {
				if v == nil {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			return m
		}
		path := v1path("agents", a.agent.ID, "events")
		e.expectError(400, "agent_id_mismatch", req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{"agent_id": b.agent.ID})})
		got := e.expectError(422, "foreign_key_violation", req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{"deployment_object_id": uuid.New()})})
		if errorDetail(t, got, "constraint") == "" {
			t.Fatalf("foreign key violation without constraint: %s", got.body)
		}
		e.expectError(400, "invalid_agent_event", req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{"event_type": strings.Repeat("E", 51)})})
		e.expectError(400, "invalid_agent_event", req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{"status": strings.Repeat("S", 11)})})
		e.expectError(400, "invalid_agent_event", req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{"status": ""})})
		for _, f := range []string{"agent_id", "deployment_object_id", "event_type", "status"} {
			e.expectField(f, req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{f: nil})})
		}
		e.expectField("event_type", req{method: "POST", path: path, pak: e.admin, body: base(map[string]any{"event_type": 7})})
		var evs []client.AgentEvent
		e.must(200, req{method: "GET", path: path, pak: e.admin}).decode(t, &evs)
		if len(evs) != 2 {
			t.Fatalf("rejected events were stored: %+v", evs)
		}
	})

	t.Run("global list and get", func(t *testing.T) {
		e := e.withT(t)
		var evs []client.AgentEvent
		e.must(200, req{method: "GET", path: v1path("agent-events"), pak: e.admin}).decode(t, &evs)
		ids := make([]uuid.UUID, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
		}
		if !sameIDs(ids, []uuid.UUID{first.ID, second.ID, other.ID}) {
			t.Fatalf("all events: %v", ids)
		}
		// pak_id narrows to agents registered with that generator (a is, b is not).
		evs = nil
		e.must(200, req{method: "GET", path: v1path("agent-events") + "?pak_id=" + g.gen.ID.String(), pak: e.admin}).decode(t, &evs)
		ids = ids[:0]
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		if !sameIDs(ids, []uuid.UUID{first.ID, second.ID}) {
			t.Fatalf("events of g's agents: %v", ids)
		}
		r := e.must(200, req{method: "GET", path: v1path("agent-events") + "?pak_id=" + uuid.NewString(), pak: e.admin})
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("unknown pak_id: %s", r.body)
		}
		e.expectError(400, "invalid_parameter", req{method: "GET", path: v1path("agent-events") + "?pak_id=nope", pak: e.admin})

		var ev client.AgentEvent
		e.must(200, req{method: "GET", path: v1path("agent-events", second.ID), pak: e.admin}).decode(t, &ev)
		if ev.ID != second.ID || ev.Message == nil || *ev.Message != "boom" || !ev.CreatedAt.Equal(second.CreatedAt) {
			t.Fatalf("get event: %+v", ev)
		}
		e.expectError(404, "agent_event_not_found", req{method: "GET", path: v1path("agent-events", uuid.New()), pak: e.admin})
	})

	t.Run("deleting the agent hides its events", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("agents", b.agent.ID), pak: e.admin})
		e.expectError(404, "agent_event_not_found", req{method: "GET", path: v1path("agent-events", other.ID), pak: e.admin})
		var evs []client.AgentEvent
		e.must(200, req{method: "GET", path: v1path("agent-events"), pak: e.admin}).decode(t, &evs)
		for _, ev := range evs {
			if ev.ID == other.ID {
				t.Fatal("event of a deleted agent still listed")
			}
		}
	})
}
