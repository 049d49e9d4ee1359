package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func generatorIDs(gens []client.Generator) []uuid.UUID {
	out := make([]uuid.UUID, len(gens))
	for i, g := range gens {
		out[i] = g.ID
	}
	return out
}

func TestCreateGenerator(t *testing.T) {
	e := newEnv(t)

	t.Run("created", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: v1path("generators"), pak: e.admin,
			body: map[string]any{"name": "ci", "description": "the CI pipeline"}})
		var out client.GeneratorPAKResponse
		r.decode(t, &out)
		obj, _ := jsonObject(t, r)["generator"].(map[string]any)
		requireNull(t, obj, "deleted_at", "last_active_at")
		requireUTC(t, obj, "created_at", "updated_at")
		requireAbsent(t, obj, "pak_hash")
		g := out.Generator
		if g.Name != "ci" || g.Description == nil || *g.Description != "the CI pipeline" || !g.IsActive || g.IsSystem || g.ID == uuid.Nil {
			t.Fatalf("generator: %+v", g)
		}
		var who client.AuthResponse
		e.must(200, req{method: "POST", path: v1path("auth", "pak"), pak: out.PAK}).decode(t, &who)
		if who.Admin || who.Generator == nil || *who.Generator != g.ID || who.Agent != nil {
			t.Fatalf("auth/pak with the generator's pak: %+v", who)
		}
	})

	t.Run("without description", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: v1path("generators"), pak: e.admin, body: map[string]any{"name": "bare"}})
		obj, _ := jsonObject(t, r)["generator"].(map[string]any)
		requireNull(t, obj, "description")
	})

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{name: "missing name", body: map[string]any{"description": "d"}, field: "name"},
		{name: "name not a string", body: map[string]any{"name": 1}, field: "name"},
		{name: "description not a string", body: map[string]any{"name": "x", "description": true}, field: "description"},
		{name: "blank name", body: map[string]any{"name": "   "}, status: 400, code: "invalid_generator"},
		{name: "name too long", body: map[string]any{"name": strings.Repeat("g", 256)}, status: 400, code: "invalid_generator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			r := req{method: "POST", path: v1path("generators"), pak: e.admin, body: tc.body}
			if tc.field != "" {
				e.expectField(tc.field, r)
				return
			}
			e.expectError(tc.status, tc.code, r)
		})
	}

	t.Run("duplicate names", func(t *testing.T) {
		e := e.withT(t)
		first := e.createGenerator("dup")
		for _, name := range []string{"dup", "admin-generator", "__system__"} {
			e.expectConstraint("unique_generator_name", req{method: "POST", path: v1path("generators"), pak: e.admin, body: map[string]any{"name": name}})
		}
		e.must(204, req{method: "DELETE", path: v1path("generators", first.gen.ID), pak: e.admin})
		again := e.createGenerator("dup")
		if again.gen.ID == first.gen.ID {
			t.Fatal("re-created generator reuses the deleted row")
		}
		e.expectError(404, "generator_not_found", req{method: "GET", path: v1path("generators", first.gen.ID), pak: e.admin})
	})
}

func TestListAndGetGenerators(t *testing.T) {
	e := newEnv(t)
	g1 := e.createGenerator("g1")
	gone := e.createGenerator("gone")
	e.must(204, req{method: "DELETE", path: v1path("generators", gone.gen.ID), pak: e.admin})
	probe := e.createAgent("probe", "c")
	sys := e.systemGeneratorID(probe.agent.ID)

	var list []client.Generator
	e.must(200, req{method: "GET", path: v1path("generators"), pak: e.admin}).decode(t, &list)
	names := map[string]bool{}
	for _, g := range list {
		names[g.Name] = true
		if g.IsSystem || g.DeletedAt != nil {
			t.Errorf("listed %+v", g)
		}
	}
	if !names["g1"] || !names["admin-generator"] || names["gone"] || names["__system__"] || len(list) != 2 {
		t.Fatalf("generators %v: want g1 and admin-generator only", names)
	}

	var got client.Generator
	e.must(200, req{method: "GET", path: v1path("generators", g1.gen.ID), pak: g1.pak}).decode(t, &got)
	if got.ID != g1.gen.ID || got.Name != "g1" || !got.CreatedAt.Equal(g1.gen.CreatedAt) {
		t.Fatalf("get: %+v", got)
	}
	e.must(200, req{method: "GET", path: v1path("generators", sys), pak: e.admin}).decode(t, &got)
	if !got.IsSystem || got.Name != "__system__" {
		t.Fatalf("system generator: %+v", got)
	}
	e.expectError(404, "generator_not_found", req{method: "GET", path: v1path("generators", uuid.New()), pak: e.admin})
	e.expectError(404, "generator_not_found", req{method: "GET", path: v1path("generators", gone.gen.ID), pak: e.admin})
	e.expectError(404, "generator_not_found", req{method: "POST", path: v1path("generators", uuid.New(), "rotate-pak"), pak: e.admin})
	e.expectError(404, "generator_not_found", req{method: "POST", path: v1path("generators", gone.gen.ID, "rotate-pak"), pak: e.admin})
}

func TestUpdateGenerator(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	other := e.createGenerator("other")
	path := v1path("generators", g.gen.ID)
	full := func(mod map[string]any) map[string]any {
		m := map[string]any{
			"id": g.gen.ID, "created_at": g.gen.CreatedAt, "updated_at": g.gen.UpdatedAt,
			"name": "g", "is_active": true, "is_system": false,
		}
		for k, v := range mod {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}

	t.Run("writes the writable fields only", func(t *testing.T) {
		e := e.withT(t)
		lastActive := "2030-01-02T03:04:05.5+02:00"
		r := e.must(200, req{method: "PUT", path: path, pak: g.pak, body: full(map[string]any{
			"name": "renamed", "description": "new description", "is_active": false, "last_active_at": lastActive,
			"is_system": true, "created_at": "2001-01-01T00:00:00Z", "deleted_at": "2002-02-02T00:00:00Z",
			"pak_hash": strings.Repeat("0", 64),
		})})
		var got client.Generator
		r.decode(t, &got)
		requireUTC(t, jsonObject(t, r), "created_at", "updated_at", "last_active_at")
		wantActive, _ := time.Parse(time.RFC3339, lastActive)
		if got.Name != "renamed" || got.Description == nil || *got.Description != "new description" || got.IsActive ||
			got.LastActiveAt == nil || !got.LastActiveAt.Equal(wantActive) {
			t.Fatalf("update: %+v", got)
		}
		if got.IsSystem || got.DeletedAt != nil || !got.CreatedAt.Equal(g.gen.CreatedAt) || !got.UpdatedAt.After(g.gen.UpdatedAt) {
			t.Fatalf("update wrote protected fields: %+v", got)
		}
		// Stored as answered, and the generator's key still works (pak_hash untouched).
		var stored client.Generator
		e.must(200, req{method: "GET", path: path, pak: g.pak}).decode(t, &stored)
		if stored.Name != "renamed" || stored.IsSystem || stored.DeletedAt != nil || stored.IsActive {
			t.Fatalf("stored: %+v", stored)
		}
		var list []client.Generator
		e.must(200, req{method: "GET", path: v1path("generators"), pak: e.admin}).decode(t, &list)
		if !slices.Contains(generatorIDs(list), g.gen.ID) {
			t.Fatal("updated generator vanished from the list (is_system or deleted_at written?)")
		}
	})

	t.Run("null description is skipped", func(t *testing.T) {
		e := e.withT(t)
		var got client.Generator
		e.must(200, req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"name": "renamed", "description": nil})}).decode(t, &got)
		if got.Description == nil || *got.Description != "new description" || !got.IsActive {
			t.Fatalf("update: %+v", got)
		}
	})

	t.Run("rejected", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(400, "generator_id_mismatch", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"id": other.gen.ID})})
		for _, f := range []string{"id", "created_at", "updated_at", "name", "is_active", "is_system"} {
			e.expectField(f, req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{f: nil})})
		}
		e.expectField("is_active", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"is_active": "yes"})})
		e.expectField("created_at", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"created_at": "yesterday"})})
		e.expectError(400, "invalid_generator", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"name": ""})})
		e.expectConstraint("unique_generator_name", req{method: "PUT", path: path, pak: e.admin, body: full(map[string]any{"name": "other"})})
		unknown := uuid.New()
		e.expectError(404, "not_found", req{method: "PUT", path: v1path("generators", unknown), pak: e.admin, body: full(map[string]any{"id": unknown})})
		var stored client.Generator
		e.must(200, req{method: "GET", path: path, pak: e.admin}).decode(t, &stored)
		if stored.Name != "renamed" {
			t.Fatalf("a rejected update changed the generator: %+v", stored)
		}
	})
}

func TestDeleteGenerator(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	keep := e.createGenerator("keep")
	s1 := e.createStack("s1", g.gen.ID, g.pak)
	s2 := e.createStack("s2", g.gen.ID, e.admin)
	kept := e.createStack("kept", keep.gen.ID, keep.pak)
	o1 := e.createObject(s1.ID, g.pak, cmYAML)
	o2 := e.createObject(s1.ID, g.pak, cmYAML+"# v2\n")
	ko := e.createObject(kept.ID, keep.pak, cmYAML)

	r := e.must(204, req{method: "DELETE", path: v1path("generators", g.gen.ID), pak: g.pak})
	if len(r.body) != 0 {
		t.Fatalf("204 with body %q", r.body)
	}
	e.expectError(404, "generator_not_found", req{method: "GET", path: v1path("generators", g.gen.ID), pak: e.admin})
	e.expectError(404, "generator_not_found", req{method: "DELETE", path: v1path("generators", g.gen.ID), pak: e.admin})
	e.expectError(404, "generator_not_found", req{method: "DELETE", path: v1path("generators", uuid.New()), pak: e.admin})

	// Its stacks and their objects are gone; the other generator's are not.
	for _, s := range []uuid.UUID{s1.ID, s2.ID} {
		e.expectError(404, "stack_not_found", req{method: "GET", path: v1path("stacks", s), pak: e.admin})
	}
	for _, o := range []uuid.UUID{o1.ID, o2.ID} {
		e.expectError(404, "deployment_object_not_found", req{method: "GET", path: v1path("deployment-objects", o), pak: e.admin})
	}
	e.must(200, req{method: "GET", path: v1path("stacks", kept.ID), pak: e.admin})
	e.must(200, req{method: "GET", path: v1path("deployment-objects", ko.ID), pak: e.admin})
	var stacks []client.Stack
	e.must(200, req{method: "GET", path: v1path("stacks"), pak: e.admin}).decode(t, &stacks)
	if len(stacks) != 1 || stacks[0].ID != kept.ID {
		t.Fatalf("stacks after cascade: %+v", stacks)
	}

	// The cascade went through the stack-deletion path: each stack got a deletion marker,
	// and then every object of the generator's stacks (markers included) was soft-deleted.
	var rows []struct {
		StackID  uuid.UUID `db:"stack_id"`
		Markers  int       `db:"markers"`
		Live     int       `db:"live"`
		Total    int       `db:"total"`
		Stacks   int       `db:"stacks_deleted"`
		Checksum bool      `db:"checksum_ok"`
	}
	if err := e.db.SelectContext(t.Context(), &rows, `
		SELECT s.id AS stack_id,
			count(d.id) FILTER (WHERE d.is_deletion_marker AND d.yaml_content = '') AS markers,
			count(d.id) FILTER (WHERE d.deleted_at IS NULL) AS live,
			count(d.id) AS total,
			(s.deleted_at IS NOT NULL)::int AS stacks_deleted,
			bool_and(NOT d.is_deletion_marker OR d.yaml_checksum = md5('')) AS checksum_ok
		FROM stacks s LEFT JOIN deployment_objects d ON d.stack_id = s.id
		WHERE s.generator_id = $1 GROUP BY s.id, s.deleted_at ORDER BY s.name`, g.gen.ID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("stack rows: %+v", rows)
	}
	for _, row := range rows {
		if row.Markers != 1 || row.Live != 0 || row.Stacks != 1 || !row.Checksum {
			t.Errorf("stack %s after generator delete: %+v", row.StackID, row)
		}
	}
	if rows[0].Total != 3 { // s1: two objects and the marker
		t.Errorf("s1 holds %d objects, want 3", rows[0].Total)
	}

	// Names are free again: the generator's and its stacks'.
	again := e.createGenerator("g")
	if again.gen.ID == g.gen.ID {
		t.Fatal("re-created generator reuses the deleted row")
	}
	e.createStack("s1", again.gen.ID, again.pak)

	t.Run("system generator", func(t *testing.T) {
		e := e.withT(t)
		probe := e.createAgent("probe", "c")
		sys := e.systemGeneratorID(probe.agent.ID)
		e.expectError(403, "cannot_delete_system_generator", req{method: "DELETE", path: v1path("generators", sys), pak: e.admin})
		e.must(200, req{method: "GET", path: v1path("generators", sys), pak: e.admin})
	})
}

func TestRegistrations(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	g2 := e.createGenerator("g2")
	gone := e.createGenerator("gone")
	e.must(204, req{method: "DELETE", path: v1path("generators", gone.gen.ID), pak: e.admin})
	a := e.createAgent("a", "c")
	b := e.createAgent("b", "c")
	register := v1path("generators", g.gen.ID, "register")

	r := e.must(201, req{method: "POST", path: register, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
	var reg client.AgentGeneratorRegistration
	r.decode(t, &reg)
	requireUTC(t, jsonObject(t, r), "registered_at")
	if reg.AgentID != a.agent.ID || reg.GeneratorID != g.gen.ID || reg.ID == uuid.Nil {
		t.Fatalf("registration: %+v", reg)
	}
	e.expectError(409, "already_registered", req{method: "POST", path: register, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
	e.expectError(409, "already_registered", req{method: "POST", path: register, pak: a.pak, body: map[string]any{}})

	// An agent registers itself; a body agent_id naming another agent is ignored.
	var self client.AgentGeneratorRegistration
	e.must(201, req{method: "POST", path: v1path("generators", g2.gen.ID, "register"), pak: a.pak,
		body: map[string]any{"agent_id": b.agent.ID}}).decode(t, &self)
	if self.AgentID != a.agent.ID || self.GeneratorID != g2.gen.ID {
		t.Fatalf("self registration: %+v", self)
	}
	if regs := e.registrationsOf(b.agent.ID); len(regs) != 1 {
		t.Fatalf("b was registered by a's call: %v", regs)
	}

	for _, tc := range []struct {
		name, method, path, ct string
		key                    string
		body                   any
		status                 int
		code                   string
		field                  string
	}{
		{name: "admin without agent_id", path: register, body: map[string]any{}, status: 400, code: "missing_agent_id"},
		{name: "unknown agent", path: register, body: map[string]any{"agent_id": uuid.New()}, status: 422, code: "foreign_key_violation"},
		{name: "unknown generator", path: v1path("generators", uuid.New(), "register"), body: map[string]any{"agent_id": b.agent.ID}, status: 404, code: "generator_not_found"},
		{name: "deleted generator", path: v1path("generators", gone.gen.ID, "register"), body: map[string]any{"agent_id": b.agent.ID}, status: 404, code: "generator_not_found"},
		{name: "deleted generator deregister", method: "DELETE", path: v1path("generators", gone.gen.ID, "register"), body: map[string]any{"agent_id": b.agent.ID}, status: 404, code: "generator_not_found"},
		{name: "no body", path: register, status: 400, code: "invalid_json", ct: "application/json"},
		{name: "not json", path: register, body: `{"agent_id":"x"}`, ct: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "agent_id not a uuid", path: register, body: map[string]any{"agent_id": "x"}, status: 422, code: "invalid_request_body", field: "agent_id"},
		{name: "deregister without body", method: "DELETE", path: register, status: 400, code: "invalid_json", ct: "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			m := tc.method
			if m == "" {
				m = "POST"
			}
			r := e.expectError(tc.status, tc.code, req{method: m, path: tc.path, pak: e.admin, body: tc.body, contentType: tc.ct})
			if tc.field != "" {
				if f := errorDetail(t, r, "field"); f != tc.field {
					t.Fatalf("details.field %q, want %q", f, tc.field)
				}
			}
		})
	}

	t.Run("registered agents", func(t *testing.T) {
		e := e.withT(t)
		var regs []client.AgentGeneratorRegistration
		e.must(200, req{method: "GET", path: v1path("generators", g.gen.ID, "registered-agents"), pak: g.pak}).decode(t, &regs)
		if len(regs) != 1 || regs[0].ID != reg.ID || regs[0].AgentID != a.agent.ID {
			t.Fatalf("registered agents: %+v", regs)
		}
		e.expectError(404, "generator_not_found", req{method: "GET", path: v1path("generators", uuid.New(), "registered-agents"), pak: e.admin})
		e.expectError(404, "generator_not_found", req{method: "GET", path: v1path("generators", gone.gen.ID, "registered-agents"), pak: e.admin})
		// The admin may read the system generator's registrations: every agent.
		sys := e.systemGeneratorID(a.agent.ID)
		regs = nil
		e.must(200, req{method: "GET", path: v1path("generators", sys, "registered-agents"), pak: e.admin}).decode(t, &regs)
		var agents []uuid.UUID
		for _, r := range regs {
			agents = append(agents, r.AgentID)
		}
		if !sameIDs(agents, []uuid.UUID{a.agent.ID, b.agent.ID}) {
			t.Fatalf("system registrations: %v", agents)
		}
	})

	t.Run("deregister", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(204, req{method: "DELETE", path: register, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
		if len(r.body) != 0 {
			t.Fatalf("204 with body %q", r.body)
		}
		if regs := e.registrationsOf(a.agent.ID); slices.Contains(regs, g.gen.ID) || !slices.Contains(regs, g2.gen.ID) {
			t.Fatalf("after deregistering from g: %v", regs)
		}
		// A missing registration is not an error.
		e.must(204, req{method: "DELETE", path: register, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
		// The agent deregisters itself.
		e.must(204, req{method: "DELETE", path: v1path("generators", g2.gen.ID, "register"), pak: a.pak, body: map[string]any{}})
		if regs := e.registrationsOf(a.agent.ID); len(regs) != 1 {
			t.Fatalf("after self-deregistration: %v (want the system generator only)", regs)
		}
		e.register(a.agent.ID, g.gen.ID)
	})
}

// TestDeletedAgentAndSystemGeneratorGuards covers the guards brokkr adds over the reference:
// a deleted agent cannot be registered or targeted, and the system generator gets no PAK.
func TestDeletedAgentAndSystemGeneratorGuards(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("ci")
	a := e.createAgent("gone", "c1", g.gen.ID)
	s := e.createStack("web", g.gen.ID, g.pak)
	e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID), pak: e.admin})

	e.expectError(422, "foreign_key_violation", req{method: "POST", path: v1path("generators", g.gen.ID, "register"),
		pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
	e.expectError(404, "agent_not_found", req{method: "POST", path: v1path("agents", a.agent.ID, "targets"),
		pak: e.admin, body: map[string]any{"agent_id": a.agent.ID, "stack_id": s.ID}})

	var sys []client.AgentGeneratorRegistration
	b := e.createAgent("live", "c1")
	e.must(200, req{method: "GET", path: v1path("agents", b.agent.ID, "registrations"), pak: e.admin}).decode(t, &sys)
	if len(sys) != 1 {
		t.Fatalf("registrations of a new agent: %+v", sys)
	}
	e.expectError(403, "system_generator_not_a_tenant", req{method: "POST",
		path: v1path("generators", sys[0].GeneratorID, "rotate-pak"), pak: e.admin})
}
