package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// Helpers shared by the behaviour tests of the core API.

// withT returns a copy of e that reports to t, for use inside subtests.
func (e *env) withT(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// v1path joins segments under /api/v1, e.g. v1path("agents", id, "labels").
func v1path(segments ...any) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		fmt.Fprint(&b, "/", s)
	}
	return b.String()
}

// jsonObject decodes a response body that must be a JSON object.
func jsonObject(t testing.TB, r resp) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// requireNull fails unless every key is present in obj with an explicit JSON null.
func requireNull(t testing.TB, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, ok := obj[k]
		if !ok {
			t.Errorf("field %q is omitted, want explicit null (object %v)", k, obj)
		} else if v != nil {
			t.Errorf("field %q = %v, want null", k, v)
		}
	}
}

// requireUTC fails unless every key holds an RFC 3339 timestamp string ending in Z.
func requireUTC(t testing.TB, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		s, ok := obj[k].(string)
		if !ok {
			t.Errorf("field %q = %v, want a timestamp string", k, obj[k])
			continue
		}
		if !strings.HasSuffix(s, "Z") {
			t.Errorf("field %q = %q, want a UTC timestamp ending in Z", k, s)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("field %q: %v", k, err)
		}
	}
}

// requireAbsent fails when obj has any of the keys.
func requireAbsent(t testing.TB, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; ok {
			t.Errorf("field %q must not be part of the object %v", k, obj)
		}
	}
}

// errorDetail returns details[key] of a JSON error body as a string ("" when absent).
func errorDetail(t testing.TB, r resp, key string) string {
	t.Helper()
	var b client.ErrorBody
	r.decode(t, &b)
	if b.Message == "" {
		t.Errorf("error body without message: %s", r.body)
	}
	v, ok := b.Details[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// expectConstraint checks a 409 unique_violation naming the constraint.
func (e *env) expectConstraint(constraint string, r req) {
	e.t.Helper()
	got := e.expectError(http.StatusConflict, "unique_violation", r)
	if c := errorDetail(e.t, got, "constraint"); c != constraint {
		e.t.Fatalf("%s %s: constraint %q, want %q; body %s", r.method, r.path, c, constraint, got.body)
	}
}

// expectField checks a 422 invalid_request_body naming the offending field.
func (e *env) expectField(field string, r req) {
	e.t.Helper()
	got := e.expectError(http.StatusUnprocessableEntity, "invalid_request_body", r)
	if f := errorDetail(e.t, got, "field"); f != field {
		e.t.Fatalf("%s %s: details.field %q, want %q; body %s", r.method, r.path, f, field, got.body)
	}
}

// getAgent fetches an agent as the admin.
func (e *env) getAgent(id uuid.UUID) client.Agent {
	e.t.Helper()
	var a client.Agent
	e.must(200, req{method: "GET", path: v1path("agents", id), pak: e.admin}).decode(e.t, &a)
	return a
}

// registrationsOf lists an agent's registrations as the admin, as generator ids.
func (e *env) registrationsOf(agent uuid.UUID) []uuid.UUID {
	e.t.Helper()
	var regs []client.AgentGeneratorRegistration
	e.must(200, req{method: "GET", path: v1path("agents", agent, "registrations"), pak: e.admin}).decode(e.t, &regs)
	out := make([]uuid.UUID, 0, len(regs))
	for _, r := range regs {
		if r.AgentID != agent {
			e.t.Fatalf("registration %+v listed for agent %s", r, agent)
		}
		out = append(out, r.GeneratorID)
	}
	return out
}

// systemGeneratorID finds the __system__ generator through an agent's registrations.
func (e *env) systemGeneratorID(agent uuid.UUID) uuid.UUID {
	e.t.Helper()
	for _, g := range e.registrationsOf(agent) {
		var gen client.Generator
		e.must(200, req{method: "GET", path: v1path("generators", g), pak: e.admin}).decode(e.t, &gen)
		if gen.IsSystem {
			if gen.Name != "__system__" {
				e.t.Fatalf("system generator named %q", gen.Name)
			}
			return g
		}
	}
	e.t.Fatalf("agent %s is not registered with the system generator", agent)
	return uuid.Nil
}

func sameIDs(got, want []uuid.UUID) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	cmp := func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) }
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

func agentIDs(agents []client.Agent) []uuid.UUID {
	out := make([]uuid.UUID, len(agents))
	for i, a := range agents {
		out[i] = a.ID
	}
	return out
}

// Tests.

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
