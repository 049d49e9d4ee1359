package server_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func (e *env) createDiagnostic(object, agent uuid.UUID, key string, extra map[string]any) client.DiagnosticRequest {
	e.t.Helper()
	body := map[string]any{"agent_id": agent}
	for k, v := range extra {
		body[k] = v
	}
	var r client.DiagnosticRequest
	e.must(201, req{method: "POST", path: v1path("deployment-objects", object, "diagnostics"), pak: key, body: body}).decode(e.t, &r)
	return r
}

func (e *env) getDiagnostic(id uuid.UUID, key string) client.DiagnosticResponse {
	e.t.Helper()
	var out client.DiagnosticResponse
	e.must(200, req{method: "GET", path: v1path("diagnostics", id), pak: key}).decode(e.t, &out)
	return out
}

func aboutAt(got, want time.Time, tolerance time.Duration) bool {
	d := got.Sub(want)
	return d >= -tolerance && d <= tolerance
}

func validResult() map[string]any {
	return map[string]any{"pod_statuses": `[{"name":"web-0","phase":"Running"}]`, "events": `[]`,
		"collected_at": "2026-01-02T03:04:05+02:00"}
}

func TestDiagnosticRequests(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	doomed := e.createStack("doomed", g.gen.ID, g.pak)
	deletedObj := e.createObject(doomed.ID, g.pak, cmYAML)
	e.must(204, req{method: "DELETE", path: v1path("stacks", doomed.ID), pak: g.pak})
	a := e.createAgent("a", "c")
	b := e.createAgent("b", "c")
	gone := e.createAgent("gone", "c")
	e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})
	createPath := v1path("deployment-objects", obj.ID, "diagnostics")

	t.Run("create", func(t *testing.T) {
		e := e.withT(t)
		start := time.Now()
		r := e.must(201, req{method: "POST", path: createPath, pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
		o := jsonObject(t, r)
		requireNull(t, o, "requested_by", "claimed_at", "completed_at")
		requireUTC(t, o, "created_at", "expires_at")
		var d client.DiagnosticRequest
		r.decode(t, &d)
		if d.Status != "pending" || d.AgentID != a.agent.ID || d.DeploymentObjectID != obj.ID ||
			!aboutAt(d.ExpiresAt, start.Add(time.Hour), 5*time.Second) {
			t.Fatalf("request: %+v", d)
		}
		// The read-only admin key may create requests too.
		d = e.createDiagnostic(obj.ID, b.agent.ID, e.srv.ReadOnlyPAK(), map[string]any{"requested_by": "ops@example.com", "retention_minutes": 5})
		if d.RequestedBy == nil || *d.RequestedBy != "ops@example.com" || !aboutAt(d.ExpiresAt, time.Now().Add(5*time.Minute), 5*time.Second) {
			t.Fatalf("request: %+v", d)
		}
		d = e.createDiagnostic(obj.ID, b.agent.ID, e.admin, map[string]any{"retention_minutes": 1440})
		if !aboutAt(d.ExpiresAt, time.Now().Add(24*time.Hour), 5*time.Second) {
			t.Fatalf("request: %+v", d)
		}
	})

	t.Run("create errors", func(t *testing.T) {
		e := e.withT(t)
		ok := map[string]any{"agent_id": a.agent.ID}
		e.expectError(403, "admin_required", req{method: "POST", path: createPath, pak: a.pak, body: ok})
		e.expectError(403, "admin_required", req{method: "POST", path: createPath, pak: g.pak, body: ok})
		e.expectError(404, "deployment_object_not_found", req{method: "POST", path: v1path("deployment-objects", uuid.New(), "diagnostics"), pak: e.admin, body: ok})
		e.expectError(404, "deployment_object_not_found", req{method: "POST", path: v1path("deployment-objects", deletedObj.ID, "diagnostics"), pak: e.admin, body: ok})
		e.expectError(404, "agent_not_found", req{method: "POST", path: createPath, pak: e.admin, body: map[string]any{"agent_id": uuid.New()}})
		e.expectError(404, "agent_not_found", req{method: "POST", path: createPath, pak: e.admin, body: map[string]any{"agent_id": gone.agent.ID}})
		for _, minutes := range []int{0, -5, 1441} {
			e.expectError(400, "invalid_diagnostic_request", req{method: "POST", path: createPath, pak: e.admin,
				body: map[string]any{"agent_id": a.agent.ID, "retention_minutes": minutes}})
		}
		e.expectError(400, "invalid_diagnostic_request", req{method: "POST", path: createPath, pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID, "requested_by": strings.Repeat("r", 256)}})
		e.expectError(422, "invalid_request_body", req{method: "POST", path: createPath, pak: e.admin, body: map[string]any{}})
		e.expectError(422, "invalid_request_body", req{method: "POST", path: createPath, pak: e.admin, body: map[string]any{"agent_id": "x"}})
	})
}

func TestDiagnosticLifecycle(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	b := e.createAgent("b", "c")
	first := e.createDiagnostic(obj.ID, a.agent.ID, e.admin, nil)
	second := e.createDiagnostic(obj.ID, a.agent.ID, e.admin, nil)
	expired := e.createDiagnostic(obj.ID, a.agent.ID, e.admin, nil)
	e.sqlExec(`UPDATE diagnostic_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID)
	forB := e.createDiagnostic(obj.ID, b.agent.ID, e.admin, nil)

	pending := func(agent agentFixture, key string) []uuid.UUID {
		var out []client.DiagnosticRequest
		e.must(200, req{method: "GET", path: v1path("agents", agent.agent.ID, "diagnostics", "pending"), pak: key}).decode(e.t, &out)
		ids := make([]uuid.UUID, len(out))
		for i, d := range out {
			ids[i] = d.ID
		}
		return ids
	}
	claimPath := func(id uuid.UUID) string { return v1path("diagnostics", id, "claim") }
	resultPath := func(id uuid.UUID) string { return v1path("diagnostics", id, "result") }

	t.Run("pending", func(t *testing.T) {
		e := e.withT(t)
		if got := pending(a, a.pak); !slices.Equal(got, []uuid.UUID{first.ID, second.ID}) {
			t.Errorf("pending for a = %v, want %v (oldest first, expired left out)", got, []uuid.UUID{first.ID, second.ID})
		}
		if got := pending(b, e.admin); !slices.Equal(got, []uuid.UUID{forB.ID}) {
			t.Errorf("pending for b = %v", got)
		}
		e.expectError(403, "agent_pak_mismatch", req{method: "GET", path: v1path("agents", a.agent.ID, "diagnostics", "pending"), pak: b.pak})
		e.expectError(403, "agent_pak_mismatch", req{method: "GET", path: v1path("agents", a.agent.ID, "diagnostics", "pending"), pak: g.pak})
	})

	t.Run("get", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(200, req{method: "GET", path: v1path("diagnostics", first.ID), pak: a.pak})
		requireNull(t, jsonObject(t, r), "result")
		if got := e.getDiagnostic(first.ID, e.admin); got.Request.ID != first.ID || got.Result != nil {
			t.Fatalf("diagnostic: %+v", got)
		}
		e.getDiagnostic(first.ID, e.srv.ReadOnlyPAK())
		e.expectError(403, "diagnostic_not_owned", req{method: "GET", path: v1path("diagnostics", first.ID), pak: b.pak})
		e.expectError(403, "diagnostic_not_owned", req{method: "GET", path: v1path("diagnostics", first.ID), pak: g.pak})
		e.expectError(404, "diagnostic_not_found", req{method: "GET", path: v1path("diagnostics", uuid.New()), pak: e.admin})
	})

	t.Run("claim", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(404, "diagnostic_not_found", req{method: "POST", path: claimPath(uuid.New()), pak: a.pak})
		e.expectError(403, "diagnostic_not_owned", req{method: "POST", path: claimPath(first.ID), pak: b.pak})
		e.expectError(403, "diagnostic_not_owned", req{method: "POST", path: claimPath(first.ID), pak: g.pak})
		// A result needs a claim first.
		e.expectError(409, "diagnostic_not_claimed", req{method: "POST", path: resultPath(first.ID), pak: a.pak, body: validResult()})
		var d client.DiagnosticRequest
		e.must(200, req{method: "POST", path: claimPath(first.ID), pak: a.pak}).decode(t, &d)
		if d.Status != "claimed" || d.ClaimedAt == nil || d.CompletedAt != nil {
			t.Fatalf("claimed: %+v", d)
		}
		r := e.expectError(409, "diagnostic_already_claimed", req{method: "POST", path: claimPath(first.ID), pak: a.pak})
		if !strings.Contains(r.code()+string(r.body), "claimed, not pending") {
			t.Errorf("conflict does not name the status: %s", r.body)
		}
		if got := pending(a, a.pak); !slices.Equal(got, []uuid.UUID{second.ID}) {
			t.Errorf("pending after claim: %v", got)
		}
		// The admin may claim for the agent.
		e.must(200, req{method: "POST", path: claimPath(forB.ID), pak: e.admin})
	})

	t.Run("concurrent claims have one winner", func(t *testing.T) {
		e := e.withT(t)
		const racers = 8
		statuses := make([]int, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = rawDo(t, e, "POST", claimPath(second.ID), a.pak, nil).status
			}()
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case 200:
				won++
			case 409:
			default:
				t.Errorf("claim answered %d", s)
			}
		}
		if won != 1 {
			t.Fatalf("%d claims won, want exactly 1 (statuses %v)", won, statuses)
		}
	})

	t.Run("result", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(404, "diagnostic_not_found", req{method: "POST", path: resultPath(uuid.New()), pak: a.pak, body: validResult()})
		e.expectError(403, "diagnostic_not_owned", req{method: "POST", path: resultPath(first.ID), pak: e.admin, body: validResult()})
		e.expectError(403, "diagnostic_not_owned", req{method: "POST", path: resultPath(first.ID), pak: b.pak, body: validResult()})
		for _, field := range []string{"pod_statuses", "events", "collected_at"} {
			body := validResult()
			delete(body, field)
			e.expectError(422, "invalid_request_body", req{method: "POST", path: resultPath(first.ID), pak: a.pak, body: body})
		}
		for _, field := range []string{"pod_statuses", "events"} {
			body := validResult()
			body[field] = ""
			e.expectError(400, "invalid_diagnostic_result", req{method: "POST", path: resultPath(first.ID), pak: a.pak, body: body})
		}
		body := validResult()
		body["log_tails"] = `{"web-0":"ready"}`
		r := e.must(201, req{method: "POST", path: resultPath(first.ID), pak: a.pak, body: body})
		requireUTC(t, jsonObject(t, r), "collected_at", "created_at")
		var res client.DiagnosticResult
		r.decode(t, &res)
		collected, _ := time.Parse(time.RFC3339, "2026-01-02T03:04:05+02:00")
		if res.RequestID != first.ID || res.PodStatuses != body["pod_statuses"] || res.Events != "[]" ||
			res.LogTails == nil || *res.LogTails != `{"web-0":"ready"}` || !res.CollectedAt.Equal(collected) {
			t.Fatalf("result: %+v", res)
		}
		got := e.getDiagnostic(first.ID, a.pak)
		if got.Request.Status != "completed" || got.Request.CompletedAt == nil || got.Result == nil || got.Result.ID != res.ID {
			t.Fatalf("diagnostic after result: %+v", got)
		}
		e.expectError(409, "diagnostic_not_claimed", req{method: "POST", path: resultPath(first.ID), pak: a.pak, body: validResult()})
		r = e.expectError(409, "diagnostic_already_claimed", req{method: "POST", path: claimPath(first.ID), pak: a.pak})
		if !strings.Contains(string(r.body), "completed") {
			t.Errorf("conflict does not name the status: %s", r.body)
		}
		// Without log tails, the result has an explicit null.
		r = e.must(201, req{method: "POST", path: resultPath(second.ID), pak: a.pak, body: validResult()})
		requireNull(t, jsonObject(t, r), "log_tails")
	})
}

func TestDiagnosticCleanup(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	ctx := context.Background()
	mk := func() uuid.UUID { return e.createDiagnostic(obj.ID, a.agent.ID, e.admin, nil).ID }
	claim := func(id uuid.UUID) {
		e.must(200, req{method: "POST", path: v1path("diagnostics", id, "claim"), pak: a.pak})
	}
	status := func(id uuid.UUID) string {
		var s string
		if err := e.db.GetContext(ctx, &s, `SELECT status FROM diagnostic_requests WHERE id = $1`, id); err != nil {
			return "gone"
		}
		return s
	}

	overduePending := mk()
	overdueClaimed := mk()
	claim(overdueClaimed)
	livePending := mk()
	liveClaimed := mk()
	claim(liveClaimed)
	oldCompleted := mk()
	claim(oldCompleted)
	e.must(201, req{method: "POST", path: v1path("diagnostics", oldCompleted, "result"), pak: a.pak, body: validResult()})
	recentCompleted := mk()
	claim(recentCompleted)
	e.must(201, req{method: "POST", path: v1path("diagnostics", recentCompleted, "result"), pak: a.pak, body: validResult()})
	oldPending := mk() // old, but still waiting and not expired: kept

	e.sqlExec(`UPDATE diagnostic_requests SET expires_at = now() - interval '1 minute' WHERE id = ANY($1)`,
		[]uuid.UUID{overduePending, overdueClaimed})
	e.sqlExec(`UPDATE diagnostic_requests SET created_at = now() - interval '2 hours' WHERE id = ANY($1)`,
		[]uuid.UUID{oldCompleted, oldPending})

	if !e.srv.RunWorkerOnce(ctx, "diagnostic-cleanup") {
		t.Fatal("worker did not run")
	}
	for id, want := range map[uuid.UUID]string{
		overduePending: "expired", overdueClaimed: "failed", livePending: "pending", liveClaimed: "claimed",
		oldCompleted: "gone", recentCompleted: "completed", oldPending: "pending",
	} {
		if got := status(id); got != want {
			t.Errorf("request %s: %s, want %s", id, got, want)
		}
	}
	if d := e.getDiagnostic(overdueClaimed, e.admin); d.Request.CompletedAt == nil {
		t.Errorf("failed request has no completed_at: %+v", d.Request)
	}
	if n := e.sqlCount(`SELECT count(*) FROM diagnostic_results WHERE request_id = $1`, oldCompleted); n != 0 {
		t.Errorf("results of the deleted request survived: %d", n)
	}
	// Requests swept to expired/failed are deleted once they are old enough.
	e.sqlExec(`UPDATE diagnostic_requests SET created_at = now() - interval '2 hours' WHERE id = ANY($1)`,
		[]uuid.UUID{overduePending, overdueClaimed})
	e.srv.RunWorkerOnce(ctx, "diagnostic-cleanup")
	if s1, s2 := status(overduePending), status(overdueClaimed); s1 != "gone" || s2 != "gone" {
		t.Errorf("old swept requests: %s, %s; want both deleted", s1, s2)
	}
	e.expectError(404, "diagnostic_not_found", req{method: "GET", path: v1path("diagnostics", overduePending), pak: e.admin})
}

// TestDiagnosticClient drives a diagnostic request through the typed client.
func TestDiagnosticClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	ops := e.apiClient(e.srv.ReadOnlyPAK()).Diagnostics()
	agent := e.apiClient(a.pak).Diagnostics()

	who, minutes := "ops", int64(10)
	d, err := ops.Create(ctx, obj.ID, client.CreateDiagnosticRequest{AgentID: a.agent.ID, RequestedBy: &who, RetentionMinutes: &minutes})
	if err != nil || d.Status != client.DiagnosticPending {
		t.Fatalf("create: %+v %v", d, err)
	}
	if pending, err := agent.Pending(ctx, a.agent.ID); err != nil || len(pending) != 1 || pending[0].ID != d.ID {
		t.Fatalf("pending: %+v %v", pending, err)
	}
	if _, err := agent.Claim(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Claim(ctx, d.ID); !client.IsConflict(err) || !client.HasCode(err, "diagnostic_already_claimed") {
		t.Fatalf("second claim: %v", err)
	}
	res, err := agent.SubmitResult(ctx, d.ID, client.SubmitDiagnosticResult{PodStatuses: "[]", Events: "[]", CollectedAt: time.Now()})
	if err != nil || res.RequestID != d.ID {
		t.Fatalf("result: %+v %v", res, err)
	}
	got, err := ops.Get(ctx, d.ID)
	if err != nil || got.Request.Status != client.DiagnosticCompleted || got.Result == nil || got.Result.ID != res.ID {
		t.Fatalf("get: %+v %v", got, err)
	}
}
