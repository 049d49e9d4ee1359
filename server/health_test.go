package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

func healthPath(agent uuid.UUID) string { return v1path("agents", agent, "health-status") }

func healthItem(object uuid.UUID, status string, checkedAt time.Time, summary any) map[string]any {
	it := map[string]any{"id": object, "status": status, "checked_at": checkedAt.Format(time.RFC3339Nano)}
	if summary != nil {
		it["summary"] = summary
	}
	return it
}

func (e *env) reportHealth(agent agentFixture, items ...map[string]any) {
	e.t.Helper()
	r := e.must(200, req{method: "PATCH", path: healthPath(agent.agent.ID), pak: agent.pak,
		body: map[string]any{"deployment_objects": items}})
	if len(r.body) != 0 {
		e.t.Fatalf("health-status answered with a body: %s", r.body)
	}
}

func (e *env) objectHealth(object uuid.UUID) client.DeploymentHealthResponse {
	e.t.Helper()
	var out client.DeploymentHealthResponse
	e.must(200, req{method: "GET", path: v1path("deployment-objects", object, "health"), pak: e.admin}).decode(e.t, &out)
	return out
}

func (e *env) stackHealth(stack uuid.UUID) client.StackHealthResponse {
	e.t.Helper()
	var out client.StackHealthResponse
	e.must(200, req{method: "GET", path: v1path("stacks", stack, "health"), pak: e.admin}).decode(e.t, &out)
	return out
}

func TestHealthReports(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	o1 := e.createObject(st.ID, g.pak, cmYAML)
	o2 := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	b := e.createAgent("b", "c")
	now := time.Now().Truncate(time.Microsecond)

	t.Run("stored with a canonical summary", func(t *testing.T) {
		e := e.withT(t)
		e.reportHealth(a,
			healthItem(o1.ID, "healthy", now, map[string]any{"pods_ready": 3, "pods_total": 3, "conditions": []string{},
				"resources": []map[string]any{
					{"kind": "Deployment", "name": "web", "namespace": "default", "ready": true, "message": nil},
					{"kind": "Service", "name": "web", "namespace": "default", "ready": false, "message": "no endpoints"},
				}}),
			healthItem(o2.ID, "degraded", now, map[string]any{"pods_ready": 1, "pods_total": 2, "conditions": []string{"CrashLoopBackOff"}, "resources": nil}),
		)
		got := e.objectHealth(o1.ID)
		if got.DeploymentObjectID != o1.ID || got.OverallStatus != "healthy" || len(got.HealthRecords) != 1 {
			t.Fatalf("health: %+v", got)
		}
		h := got.HealthRecords[0]
		want := `{"pods_ready":3,"pods_total":3,"conditions":[],"resources":[{"kind":"Deployment","name":"web","namespace":"default","ready":true},{"kind":"Service","name":"web","namespace":"default","ready":false,"message":"no endpoints"}]}`
		if h.AgentID != a.agent.ID || h.Status != "healthy" || h.Summary == nil || *h.Summary != want || !h.CheckedAt.Equal(now) {
			t.Fatalf("record: %+v\nsummary %v\nwant    %s", h, deref(h.Summary), want)
		}
		r := e.must(200, req{method: "GET", path: v1path("deployment-objects", o2.ID, "health"), pak: e.admin})
		var o2h client.DeploymentHealthResponse
		r.decode(t, &o2h)
		if s := deref(o2h.HealthRecords[0].Summary); s != `{"pods_ready":1,"pods_total":2,"conditions":["CrashLoopBackOff"]}` {
			t.Errorf("summary without resources: %s", s)
		}
	})

	t.Run("overwrite", func(t *testing.T) {
		e := e.withT(t)
		before := e.objectHealth(o1.ID).HealthRecords[0]
		later := now.Add(time.Minute)
		e.reportHealth(a, healthItem(o1.ID, "failing", later, nil))
		got := e.objectHealth(o1.ID)
		if len(got.HealthRecords) != 1 {
			t.Fatalf("records after overwrite: %+v", got.HealthRecords)
		}
		h := got.HealthRecords[0]
		if h.ID != before.ID || h.Status != "failing" || h.Summary != nil || !h.CheckedAt.Equal(later) ||
			!h.CreatedAt.Equal(before.CreatedAt) || !h.UpdatedAt.After(before.UpdatedAt) {
			t.Fatalf("overwritten record: %+v (before %+v)", h, before)
		}
		r := e.must(200, req{method: "GET", path: v1path("deployment-objects", o1.ID, "health"), pak: e.admin})
		requireNull(t, jsonObject(t, r)["health_records"].([]any)[0].(map[string]any), "summary")
	})

	t.Run("admin reports for an agent; records ordered by check time", func(t *testing.T) {
		e := e.withT(t)
		e.must(200, req{method: "PATCH", path: healthPath(b.agent.ID), pak: e.admin,
			body: map[string]any{"deployment_objects": []any{healthItem(o1.ID, "healthy", now.Add(2*time.Minute), nil)}}})
		got := e.objectHealth(o1.ID)
		if len(got.HealthRecords) != 2 || got.HealthRecords[0].AgentID != b.agent.ID || got.HealthRecords[1].AgentID != a.agent.ID {
			t.Fatalf("records: %+v", got.HealthRecords)
		}
		if got.OverallStatus != "failing" {
			t.Errorf("overall %s, want failing (worst of failing, healthy)", got.OverallStatus)
		}
	})

	t.Run("rejected batches store nothing", func(t *testing.T) {
		e := e.withT(t)
		snapshot := func() []client.DeploymentHealth { return e.objectHealth(o2.ID).HealthRecords }
		before := snapshot()
		good := healthItem(o2.ID, "healthy", now.Add(time.Hour), nil)
		r := e.expectError(422, "invalid_health_record", req{method: "PATCH", path: healthPath(a.agent.ID), pak: a.pak,
			body: map[string]any{"deployment_objects": []any{good, healthItem(o1.ID, "sick", now, nil)}}})
		var body client.ErrorBody
		r.decode(t, &body)
		if body.Details["field"] != "deployment_objects[1].status" {
			t.Errorf("error body: %s", r.body)
		}
		e.expectError(422, "foreign_key_violation", req{method: "PATCH", path: healthPath(a.agent.ID), pak: a.pak,
			body: map[string]any{"deployment_objects": []any{good, healthItem(uuid.New(), "healthy", now, nil)}}})
		after := snapshot()
		if len(after) != len(before) || after[0].Status != before[0].Status || !after[0].CheckedAt.Equal(before[0].CheckedAt) {
			t.Fatalf("a rejected batch changed the records: %+v → %+v", before, after)
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := e.withT(t)
		path := healthPath(a.agent.ID)
		e.must(200, req{method: "PATCH", path: path, pak: a.pak, body: map[string]any{"deployment_objects": []any{}}})
		e.expectError(403, "agent_pak_mismatch", req{method: "PATCH", path: path, pak: b.pak, body: map[string]any{"deployment_objects": []any{}}})
		e.expectError(403, "agent_pak_mismatch", req{method: "PATCH", path: path, pak: g.pak, body: map[string]any{"deployment_objects": []any{}}})
		for _, body := range []map[string]any{
			{},
			{"deployment_objects": []any{map[string]any{"id": o1.ID, "status": "healthy"}}},
			{"deployment_objects": []any{map[string]any{"status": "healthy", "checked_at": now}}},
			{"deployment_objects": []any{healthItem(o1.ID, "healthy", now, map[string]any{"pods_ready": 1, "pods_total": 1})}},
			{"deployment_objects": []any{healthItem(o1.ID, "healthy", now, map[string]any{"pods_ready": 1, "pods_total": 1,
				"conditions": []string{}, "resources": []map[string]any{{"kind": "Deployment", "name": "x", "namespace": "y"}}})}},
			{"deployment_objects": []any{map[string]any{"id": o1.ID, "status": "healthy", "checked_at": "yesterday"}}},
		} {
			e.expectError(422, "invalid_request_body", req{method: "PATCH", path: path, pak: a.pak, body: body})
		}
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("deployment-objects", o1.ID, "health"), pak: a.pak})
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("deployment-objects", o1.ID, "health"), pak: g.pak})
		e.must(200, req{method: "GET", path: v1path("deployment-objects", o1.ID, "health"), pak: e.srv.ReadOnlyPAK()})
	})

	t.Run("unknown object reads as unknown", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(200, req{method: "GET", path: v1path("deployment-objects", uuid.New(), "health"), pak: e.admin})
		var got client.DeploymentHealthResponse
		r.decode(t, &got)
		if got.OverallStatus != "unknown" || got.HealthRecords == nil || len(got.HealthRecords) != 0 {
			t.Fatalf("health: %s", r.body)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestHealthRollups(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	objs := make([]client.DeploymentObject, 5)
	for i := range objs {
		objs[i] = e.createObject(st.ID, g.pak, cmYAML)
	}
	agents := make([]agentFixture, 3)
	for i := range agents {
		agents[i] = e.createAgent("a"+string(rune('0'+i)), "c")
	}
	now := time.Now()
	report := func(agent int, object int, status string) {
		e.reportHealth(agents[agent], healthItem(objs[object].ID, status, now, nil))
	}

	t.Run("object worst-of", func(t *testing.T) {
		e := e.withT(t)
		for _, tc := range []struct {
			object int
			states []string
			want   string
		}{
			{0, []string{"healthy", "failing", "degraded"}, "failing"},
			{1, []string{"healthy", "degraded", "unknown"}, "degraded"},
			{2, []string{"unknown", "healthy"}, "healthy"},
			{3, []string{"unknown"}, "unknown"},
		} {
			for i, s := range tc.states {
				report(i, tc.object, s)
			}
			if got := e.objectHealth(objs[tc.object].ID).OverallStatus; got != tc.want {
				t.Errorf("object %d with %v: %s, want %s", tc.object, tc.states, got, tc.want)
			}
		}
		if got := e.objectHealth(objs[4].ID); got.OverallStatus != "unknown" || len(got.HealthRecords) != 0 {
			t.Errorf("unreported object: %+v", got)
		}
	})

	t.Run("stack", func(t *testing.T) {
		e := e.withT(t)
		got := e.stackHealth(st.ID)
		if got.StackID != st.ID || got.OverallStatus != "failing" {
			t.Fatalf("stack health: %+v", got)
		}
		want := []client.DeploymentObjectHealthSummary{ // newest object first; unreported objects left out
			{ID: objs[3].ID, Status: "unknown"},
			{ID: objs[2].ID, Status: "healthy", HealthyAgents: 1},
			{ID: objs[1].ID, Status: "degraded", HealthyAgents: 1, DegradedAgents: 1},
			{ID: objs[0].ID, Status: "failing", HealthyAgents: 1, DegradedAgents: 1, FailingAgents: 1},
		}
		if len(got.DeploymentObjects) != len(want) {
			t.Fatalf("objects: %+v", got.DeploymentObjects)
		}
		for i := range want {
			if got.DeploymentObjects[i] != want[i] {
				t.Errorf("object %d: %+v, want %+v", i, got.DeploymentObjects[i], want[i])
			}
		}
		// Fix the failing object: the stack is as bad as its worst remaining object.
		report(1, 0, "healthy")
		if got := e.stackHealth(st.ID).OverallStatus; got != "degraded" {
			t.Errorf("after recovery: %s, want degraded", got)
		}
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("stacks", st.ID, "health"), pak: g.pak})
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("stacks", st.ID, "health"), pak: agents[0].pak})
	})

	t.Run("empty, unknown and deleted stacks", func(t *testing.T) {
		e := e.withT(t)
		empty := e.createStack("empty", g.gen.ID, g.pak)
		e.createObject(empty.ID, g.pak, cmYAML)
		for _, id := range []uuid.UUID{empty.ID, uuid.New()} {
			r := e.must(200, req{method: "GET", path: v1path("stacks", id, "health"), pak: e.admin})
			var got client.StackHealthResponse
			r.decode(t, &got)
			if got.OverallStatus != "unknown" || got.DeploymentObjects == nil || len(got.DeploymentObjects) != 0 {
				t.Errorf("stack %s: %s", id, r.body)
			}
		}
		doomed := e.createStack("doomed", g.gen.ID, g.pak)
		o := e.createObject(doomed.ID, g.pak, cmYAML)
		e.reportHealth(agents[0], healthItem(o.ID, "failing", now, nil))
		if got := e.stackHealth(doomed.ID).OverallStatus; got != "failing" {
			t.Fatalf("doomed stack: %s", got)
		}
		e.must(204, req{method: "DELETE", path: v1path("stacks", doomed.ID), pak: g.pak})
		if got := e.stackHealth(doomed.ID); got.OverallStatus != "unknown" || len(got.DeploymentObjects) != 0 {
			t.Errorf("deleted objects still count: %+v", got)
		}
	})
}

// TestUpsertHealth exercises the store function the WebSocket uplink shares with the REST
// endpoint.
func TestUpsertHealth(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	o := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	summary := `{"pods_ready":0,"pods_total":1,"conditions":[]}`

	if err := db.UpsertHealth(ctx, e.db, a.agent.ID, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	// The same object twice in one batch: the later report wins.
	err := db.UpsertHealth(ctx, e.db, a.agent.ID, []db.HealthUpdate{
		{DeploymentObjectID: o.ID, Status: db.HealthHealthy, CheckedAt: now},
		{DeploymentObjectID: o.ID, Status: db.HealthFailing, Summary: &summary, CheckedAt: now.Add(time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.ListObjectHealth(ctx, e.db, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Status != db.HealthFailing || deref(rows[0].Summary) != summary || !rows[0].CheckedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("rows: %+v", rows)
	}
	err = db.UpsertHealth(ctx, e.db, a.agent.ID, []db.HealthUpdate{{DeploymentObjectID: o.ID, Status: "bogus", CheckedAt: now}})
	if !errors.Is(err, db.ErrCheck) {
		t.Errorf("invalid status: %v, want a check violation", err)
	}
	err = db.UpsertHealth(ctx, e.db, a.agent.ID, []db.HealthUpdate{{DeploymentObjectID: uuid.New(), Status: db.HealthHealthy, CheckedAt: now}})
	if !errors.Is(err, db.ErrForeignKey) {
		t.Errorf("unknown object: %v, want a foreign key violation", err)
	}
	for _, s := range []string{"healthy", "degraded", "failing", "unknown"} {
		if !db.ValidHealthStatus(s) {
			t.Errorf("%s should be valid", s)
		}
	}
	if db.ValidHealthStatus("Healthy") || db.ValidHealthStatus("") {
		t.Error("statuses are exact and lower-case")
	}
}

// TestHealthClient reports and reads health through the typed client.
func TestHealthClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	agent := e.apiClient(a.pak).DeploymentHealth()
	admin := e.apiClient(e.admin).DeploymentHealth()

	if err := agent.Report(ctx, a.agent.ID, nil); err != nil {
		t.Fatalf("empty report: %v", err)
	}
	msg := "1 replica unavailable"
	err := agent.Report(ctx, a.agent.ID, []client.DeploymentObjectHealthUpdate{{ID: obj.ID, Status: client.HealthDegraded, CheckedAt: time.Now(),
		Summary: &client.HealthSummary{PodsReady: 1, PodsTotal: 2, Conditions: []string{},
			Resources: []client.ResourceHealth{{Kind: "Deployment", Name: "web", Namespace: "default", Message: &msg}}}}})
	if err != nil {
		t.Fatal(err)
	}
	err = agent.Report(ctx, a.agent.ID, []client.DeploymentObjectHealthUpdate{{ID: obj.ID, Status: "sick", CheckedAt: time.Now()}})
	if !client.HasCode(err, "invalid_health_record") {
		t.Fatalf("invalid status: %v", err)
	}
	h, err := admin.Object(ctx, obj.ID)
	if err != nil || h.OverallStatus != client.HealthDegraded || len(h.HealthRecords) != 1 {
		t.Fatalf("object health: %+v %v", h, err)
	}
	want := `{"pods_ready":1,"pods_total":2,"conditions":[],"resources":[{"kind":"Deployment","name":"web","namespace":"default","ready":false,"message":"1 replica unavailable"}]}`
	if s := deref(h.HealthRecords[0].Summary); s != want {
		t.Errorf("summary %s, want %s", s, want)
	}
	sh, err := admin.Stack(ctx, st.ID)
	if err != nil || sh.OverallStatus != client.HealthDegraded || len(sh.DeploymentObjects) != 1 || sh.DeploymentObjects[0].DegradedAgents != 1 {
		t.Fatalf("stack health: %+v %v", sh, err)
	}
	if _, err := agent.Stack(ctx, st.ID); !client.IsForbidden(err) {
		t.Fatalf("agent reading stack health: %v", err)
	}
}
