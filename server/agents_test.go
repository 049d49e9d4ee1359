package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// Helpers shared by the behaviour tests of the core API.

func TestCreateAgent(t *testing.T) {
	e := newEnv(t)
	g1 := e.createGenerator("g1")
	g2 := e.createGenerator("g2")
	gone := e.createGenerator("gone")
	e.must(204, req{method: "DELETE", path: v1path("generators", gone.gen.ID), pak: e.admin})

	t.Run("created", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: v1path("agents"), pak: e.admin, body: map[string]any{
			"name": "web", "cluster_name": "prod", "generator_ids": []uuid.UUID{g1.gen.ID, g2.gen.ID, g1.gen.ID},
		}})
		var out client.CreateAgentResponse
		r.decode(t, &out)
		obj, _ := jsonObject(t, r)["agent"].(map[string]any)
		requireNull(t, obj, "deleted_at", "last_heartbeat", "k8s_reachable", "k8s_api_latency_ms", "k8s_reported_at")
		requireUTC(t, obj, "created_at", "updated_at")
		requireAbsent(t, obj, "pak_hash")
		a := out.Agent
		if a.Name != "web" || a.ClusterName != "prod" || a.Status != "INACTIVE" || a.ID == uuid.Nil {
			t.Fatalf("agent: %+v", a)
		}
		// The initial PAK authenticates as this agent.
		var who client.AuthResponse
		e.must(200, req{method: "POST", path: v1path("auth", "pak"), pak: out.InitialPAK}).decode(t, &who)
		if who.Admin || who.Agent == nil || *who.Agent != a.ID || who.Generator != nil {
			t.Fatalf("auth/pak with initial_pak: %+v", who)
		}
		// Registered with __system__ and each listed generator once (duplicates collapsed).
		sys := e.systemGeneratorID(a.ID)
		if got := e.registrationsOf(a.ID); len(got) != 3 || !sameIDs(got, []uuid.UUID{sys, g1.gen.ID, g2.gen.ID}) {
			t.Fatalf("registrations %v, want system, g1, g2", got)
		}
		if got := e.getAgent(a.ID); got.ID != a.ID || got.Status != "INACTIVE" || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("stored agent %+v, created %+v", got, a)
		}
	})

	t.Run("system generator listed explicitly", func(t *testing.T) {
		e := e.withT(t)
		probe := e.createAgent("probe", "c")
		sys := e.systemGeneratorID(probe.agent.ID)
		a := e.createAgent("with-system", "c", sys, g1.gen.ID)
		if got := e.registrationsOf(a.agent.ID); len(got) != 2 || !sameIDs(got, []uuid.UUID{sys, g1.gen.ID}) {
			t.Fatalf("registrations %v, want system and g1", got)
		}
	})

	for _, tc := range []struct {
		name       string
		body       any
		status     int
		code       string
		field      string
		contentTyp string
	}{
		{name: "missing name", body: map[string]any{"cluster_name": "c"}, status: 422, code: "invalid_request_body", field: "name"},
		{name: "missing cluster", body: map[string]any{"name": "n"}, status: 422, code: "invalid_request_body", field: "cluster_name"},
		{name: "name not a string", body: map[string]any{"name": 5, "cluster_name": "c"}, status: 422, code: "invalid_request_body", field: "name"},
		{name: "generator_ids not a list", body: map[string]any{"name": "n", "cluster_name": "c", "generator_ids": "x"}, status: 422, code: "invalid_request_body", field: "generator_ids"},
		{name: "generator id not a uuid", body: map[string]any{"name": "n", "cluster_name": "c", "generator_ids": []string{"nope"}}, field: "generator_ids"},
		{name: "blank name", body: map[string]any{"name": " \t", "cluster_name": "c"}, status: 400, code: "invalid_agent"},
		{name: "blank cluster", body: map[string]any{"name": "n", "cluster_name": ""}, status: 400, code: "invalid_agent"},
		{name: "name too long", body: map[string]any{"name": strings.Repeat("n", 256), "cluster_name": "c"}, status: 400, code: "invalid_agent"},
		{name: "unknown generator", body: map[string]any{"name": "n", "cluster_name": "c", "generator_ids": []uuid.UUID{uuid.New()}}, status: 400, code: "invalid_generator_id"},
		{name: "deleted generator", body: map[string]any{"name": "n", "cluster_name": "c", "generator_ids": []uuid.UUID{g1.gen.ID, gone.gen.ID}}, status: 400, code: "invalid_generator_id"},
		{name: "generators checked before names", body: map[string]any{"name": "", "cluster_name": "", "generator_ids": []uuid.UUID{uuid.New()}}, status: 400, code: "invalid_generator_id"},
		{name: "malformed json", body: `{"name": "n",`, status: 400, code: "invalid_json", contentTyp: "application/json"},
		{name: "not json", body: `{"name":"n","cluster_name":"c"}`, status: 415, code: "unsupported_media_type", contentTyp: "text/plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			r := req{method: "POST", path: v1path("agents"), pak: e.admin, body: tc.body, contentType: tc.contentTyp}
			if tc.field != "" {
				e.expectField(tc.field, r)
				return
			}
			e.expectError(tc.status, tc.code, r)
		})
	}
	t.Run("rejected bodies create nothing", func(t *testing.T) {
		e := e.withT(t)
		var all []client.Agent
		e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin}).decode(t, &all)
		for _, a := range all {
			if a.Name == "n" {
				t.Fatalf("a rejected create left agent %+v", a)
			}
		}
	})

	t.Run("duplicate name and cluster", func(t *testing.T) {
		e := e.withT(t)
		first := e.createAgent("dup", "c1")
		e.expectConstraint("unique_agent_cluster", req{method: "POST", path: v1path("agents"), pak: e.admin,
			body: map[string]any{"name": "dup", "cluster_name": "c1"}})
		other := e.createAgent("dup", "c2") // same name, other cluster
		if other.agent.ID == first.agent.ID {
			t.Fatal("same id for different agents")
		}
		// After a soft delete, the name and cluster are free again.
		e.must(204, req{method: "DELETE", path: v1path("agents", first.agent.ID), pak: e.admin})
		again := e.createAgent("dup", "c1")
		if again.agent.ID == first.agent.ID {
			t.Fatal("re-created agent reuses the deleted row")
		}
		// The deleted agent stays absent; its key no longer works.
		e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", first.agent.ID), pak: e.admin})
		e.expectError(401, "unauthorized", req{method: "POST", path: v1path("auth", "pak"), pak: first.pak})
	})
}

func TestAgentReadUpdateDelete(t *testing.T) {
	e := newEnv(t)
	a1 := e.createAgent("a1", "c1")
	a2 := e.createAgent("a2", "c1")
	gone := e.createAgent("gone", "c1")
	e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})

	t.Run("list", func(t *testing.T) {
		e := e.withT(t)
		var all []client.Agent
		e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin}).decode(t, &all)
		ids := agentIDs(all)
		if !slices.Contains(ids, a1.agent.ID) || !slices.Contains(ids, a2.agent.ID) || slices.Contains(ids, gone.agent.ID) {
			t.Fatalf("list %v: want a1 and a2, not the deleted agent", ids)
		}
	})

	t.Run("get", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(200, req{method: "GET", path: v1path("agents", a1.agent.ID), pak: a1.pak})
		var got client.Agent
		r.decode(t, &got)
		if got.ID != a1.agent.ID || got.Name != "a1" || got.ClusterName != "c1" {
			t.Fatalf("get: %+v", got)
		}
		obj := jsonObject(t, r)
		requireNull(t, obj, "deleted_at", "last_heartbeat")
		requireAbsent(t, obj, "pak_hash")
		e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", uuid.New()), pak: e.admin})
		e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", gone.agent.ID), pak: e.admin})
	})

	t.Run("search", func(t *testing.T) {
		e := e.withT(t)
		var got client.Agent
		e.must(200, req{method: "GET", path: "/api/v1/agents/?name=a1&cluster_name=c1", pak: e.admin}).decode(t, &got)
		if got.ID != a1.agent.ID {
			t.Fatalf("search found %+v", got)
		}
		got = client.Agent{}
		e.must(200, req{method: "GET", path: "/api/v1/agents/?name=a2&cluster_name=c1", pak: a2.pak}).decode(t, &got)
		if got.ID != a2.agent.ID {
			t.Fatalf("self search found %+v", got)
		}
		for _, q := range []string{"", "?name=a1", "?cluster_name=c1", "?name=&cluster_name=c1"} {
			e.expectError(400, "name_and_cluster_required", req{method: "GET", path: "/api/v1/agents/" + q, pak: e.admin})
		}
		e.expectError(404, "agent_not_found", req{method: "GET", path: "/api/v1/agents/?name=a1&cluster_name=other", pak: e.admin})
		e.expectError(404, "agent_not_found", req{method: "GET", path: "/api/v1/agents/?name=gone&cluster_name=c1", pak: e.admin})
	})

	t.Run("update", func(t *testing.T) {
		e := e.withT(t)
		before := e.getAgent(a1.agent.ID)
		var got client.Agent
		r := e.must(200, req{method: "PUT", path: v1path("agents", a1.agent.ID), pak: e.admin,
			body: map[string]any{"name": "a1-renamed", "status": "ACTIVE", "cluster_name": nil, "k8s_reachable": true, "id": uuid.New()}})
		r.decode(t, &got)
		if got.ID != a1.agent.ID || got.Name != "a1-renamed" || got.ClusterName != "c1" || got.Status != "ACTIVE" || got.K8sReachable != nil {
			t.Fatalf("update: %+v", got)
		}
		requireUTC(t, jsonObject(t, r), "created_at", "updated_at")
		if !got.UpdatedAt.After(before.UpdatedAt) || !got.CreatedAt.Equal(before.CreatedAt) {
			t.Fatalf("timestamps: before %+v after %+v", before, got)
		}
		// Non-string values are ignored rather than rejected.
		e.must(200, req{method: "PUT", path: v1path("agents", a1.agent.ID), pak: e.admin, body: map[string]any{"status": 5}}).decode(t, &got)
		if got.Status != "ACTIVE" {
			t.Fatalf("numeric status applied: %+v", got)
		}
		// An agent may change its own status.
		e.must(200, req{method: "PUT", path: v1path("agents", a2.agent.ID), pak: a2.pak, body: map[string]any{"status": "DRAINING"}}).decode(t, &got)
		if got.Status != "DRAINING" || e.getAgent(a2.agent.ID).Status != "DRAINING" {
			t.Fatalf("self status: %+v", got)
		}
		e.expectConstraint("unique_agent_cluster", req{method: "PUT", path: v1path("agents", a2.agent.ID), pak: e.admin,
			body: map[string]any{"name": "a1-renamed"}})
		for name, body := range map[string]any{
			"blank name":       map[string]any{"name": " "},
			"blank cluster":    map[string]any{"cluster_name": ""},
			"blank status":     map[string]any{"status": ""},
			"status too long":  map[string]any{"status": strings.Repeat("S", 51)},
			"name too long":    map[string]any{"name": strings.Repeat("n", 256)},
			"cluster too long": map[string]any{"cluster_name": strings.Repeat("c", 256)},
		} {
			t.Run(name, func(t *testing.T) {
				e.withT(t).expectError(400, "invalid_agent", req{method: "PUT", path: v1path("agents", a2.agent.ID), pak: e.admin, body: body})
			})
		}
		e.expectField("body", req{method: "PUT", path: v1path("agents", a2.agent.ID), pak: e.admin, body: []string{"x"}})
		e.expectError(404, "agent_not_found", req{method: "PUT", path: v1path("agents", uuid.New()), pak: e.admin, body: map[string]any{"status": "X"}})
		e.expectError(404, "agent_not_found", req{method: "PUT", path: v1path("agents", gone.agent.ID), pak: e.admin, body: map[string]any{"status": "X"}})
		if a := e.getAgent(a2.agent.ID); a.Name != "a2" || a.ClusterName != "c1" || a.Status != "DRAINING" {
			t.Fatalf("rejected updates changed the agent: %+v", a)
		}
	})

	t.Run("rotate unknown", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(404, "agent_not_found", req{method: "POST", path: v1path("agents", uuid.New(), "rotate-pak"), pak: e.admin})
		e.expectError(404, "agent_not_found", req{method: "POST", path: v1path("agents", gone.agent.ID, "rotate-pak"), pak: e.admin})
	})

	t.Run("delete", func(t *testing.T) {
		e := e.withT(t)
		victim := e.createAgent("victim", "c1")
		r := e.must(204, req{method: "DELETE", path: v1path("agents", victim.agent.ID), pak: e.admin})
		if len(r.body) != 0 {
			t.Fatalf("204 with body %q", r.body)
		}
		e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", victim.agent.ID), pak: e.admin})
		// Deleting an absent or already deleted agent is not an error.
		e.must(204, req{method: "DELETE", path: v1path("agents", victim.agent.ID), pak: e.admin})
		e.must(204, req{method: "DELETE", path: v1path("agents", uuid.New()), pak: e.admin})
		var all []client.Agent
		e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin}).decode(t, &all)
		if slices.Contains(agentIDs(all), victim.agent.ID) {
			t.Fatal("deleted agent still listed")
		}
		var deletedAt *time.Time
		if err := e.db.GetContext(t.Context(), &deletedAt, `SELECT deleted_at FROM agents WHERE id = $1`, victim.agent.ID); err != nil {
			t.Fatal(err)
		}
		if deletedAt == nil {
			t.Fatal("delete is not a soft delete: deleted_at is null")
		}
	})
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	path := v1path("agents", a.agent.ID, "heartbeat")
	beat := func(e *env, body any, contentType string) client.Agent {
		e.t.Helper()
		r := e.must(204, req{method: "POST", path: path, pak: a.pak, body: body, contentType: contentType})
		if len(r.body) != 0 {
			e.t.Fatalf("204 with body %q", r.body)
		}
		return e.getAgent(a.agent.ID)
	}

	if got := e.getAgent(a.agent.ID); got.LastHeartbeat != nil {
		t.Fatalf("new agent has a heartbeat: %+v", got)
	}
	got := beat(e, nil, "")
	if got.LastHeartbeat == nil || got.K8sReachable != nil || got.K8sAPILatencyMs != nil || got.K8sReportedAt != nil {
		t.Fatalf("bare heartbeat: %+v", got)
	}
	if d := time.Since(*got.LastHeartbeat); d < -time.Minute || d > time.Minute {
		t.Fatalf("last_heartbeat %v is not now", got.LastHeartbeat)
	}
	prev := *got.LastHeartbeat

	got = beat(e, map[string]any{"k8s_reachable": true, "k8s_api_latency_ms": 42}, "")
	if got.K8sReachable == nil || !*got.K8sReachable || got.K8sAPILatencyMs == nil || *got.K8sAPILatencyMs != 42 ||
		got.K8sReportedAt == nil || !got.LastHeartbeat.After(prev) {
		t.Fatalf("reported heartbeat: %+v", got)
	}
	reportedAt := *got.K8sReportedAt
	r := e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID), pak: e.admin})
	requireUTC(t, jsonObject(t, r), "last_heartbeat", "k8s_reported_at")

	// Without k8s_reachable the Kubernetes fields are left alone; malformed bodies are ignored.
	for name, tc := range map[string]struct {
		body any
		ct   string
	}{
		"latency only":      {map[string]any{"k8s_api_latency_ms": 7}, ""},
		"null reachable":    {map[string]any{"k8s_reachable": nil, "k8s_api_latency_ms": 7}, ""},
		"malformed json":    {`{"k8s_reachable": false`, "application/json"},
		"wrong type":        {map[string]any{"k8s_reachable": "no"}, ""},
		"not json":          {"k8s_reachable=false", "text/plain"},
		"array":             {`[true]`, "application/json"},
		"empty json object": {map[string]any{}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			e := e.withT(t)
			prev := *e.getAgent(a.agent.ID).LastHeartbeat
			after := beat(e, tc.body, tc.ct)
			if !after.LastHeartbeat.After(prev) {
				t.Fatalf("last_heartbeat not advanced: %v then %v", prev, after.LastHeartbeat)
			}
			if after.K8sReachable == nil || !*after.K8sReachable || after.K8sAPILatencyMs == nil || *after.K8sAPILatencyMs != 42 ||
				after.K8sReportedAt == nil || !after.K8sReportedAt.Equal(reportedAt) {
				t.Fatalf("kubernetes fields changed: %+v", after)
			}
		})
	}

	got = beat(e, map[string]any{"k8s_reachable": false}, "")
	if got.K8sReachable == nil || *got.K8sReachable || got.K8sAPILatencyMs != nil || got.K8sReportedAt == nil || !got.K8sReportedAt.After(reportedAt) {
		t.Fatalf("unreachable report: %+v", got)
	}
	r = e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID), pak: e.admin})
	requireNull(t, jsonObject(t, r), "k8s_api_latency_ms")
}
