package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/events"
)

func TestCompleteWorkOrder(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	a := e.createAgent("a", "c")
	other := e.createAgent("other", "c")
	g := e.createGenerator("g")
	target := map[string]any{"agent_ids": []uuid.UUID{a.agent.ID, other.agent.ID}}
	completePath := func(id uuid.UUID) string { return v1path("work-orders", id, "complete") }

	t.Run("success", func(t *testing.T) {
		e := e.withT(t)
		w := e.createWorkOrder(map[string]any{"targeting": target})
		claimed := e.claim(w.ID, a.agent.ID, a.pak)
		e.expectError(403, "work_order_not_claimed_by_agent", req{method: "POST", path: completePath(w.ID), pak: other.pak,
			body: map[string]any{"success": true}})
		e.expectError(403, "work_order_not_claimed_by_agent", req{method: "POST", path: completePath(w.ID), pak: g.pak,
			body: map[string]any{"success": true}})
		e.expectError(422, "invalid_request_body", req{method: "POST", path: completePath(w.ID), pak: a.pak, body: map[string]any{}})
		r := e.must(200, req{method: "POST", path: completePath(w.ID), pak: a.pak,
			body: map[string]any{"success": true, "message": "sha256:abc"}})
		requireUTC(t, jsonObject(t, r), "created_at", "completed_at", "claimed_at")
		var l client.WorkOrderLog
		r.decode(t, &l)
		if l.ID != w.ID || !l.Success || l.ResultMessage == nil || *l.ResultMessage != "sha256:abc" || l.RetriesAttempted != 0 ||
			l.ClaimedBy == nil || *l.ClaimedBy != a.agent.ID || !l.ClaimedAt.Equal(*claimed.ClaimedAt) ||
			!l.CreatedAt.Equal(w.CreatedAt) || l.YAMLContent != buildYAML || l.WorkType != "build" {
			t.Fatalf("log: %+v", l)
		}
		if n := e.sqlCount(`SELECT count(*) FROM work_orders WHERE id = $1`, w.ID); n != 0 {
			t.Fatalf("completed order still queued")
		}
		// The order reads back as COMPLETED, synthesised from the log.
		r = e.must(200, req{method: "GET", path: v1path("work-orders", w.ID), pak: e.admin})
		requireNull(t, jsonObject(t, r), "last_error", "last_error_at", "next_retry_after")
		var got client.WorkOrder
		r.decode(t, &got)
		if got.Status != "COMPLETED" || !got.UpdatedAt.Equal(l.CompletedAt) || got.MaxRetries != 0 || got.BackoffSeconds != 0 ||
			got.ClaimTimeoutSeconds != 0 || got.RetryCount != 0 || *got.ClaimedBy != a.agent.ID || !got.CreatedAt.Equal(w.CreatedAt) {
			t.Fatalf("synthesised order: %+v", got)
		}
		var fromLog client.WorkOrderLog
		e.must(200, req{method: "GET", path: v1path("work-order-log", w.ID), pak: e.admin}).decode(t, &fromLog)
		if fromLog.ID != w.ID || !fromLog.CompletedAt.Equal(l.CompletedAt) {
			t.Fatalf("log entry: %+v", fromLog)
		}
		// Gone from the queue: a second completion is a 404.
		e.expectError(404, "work_order_not_found", req{method: "POST", path: completePath(w.ID), pak: a.pak, body: map[string]any{"success": true}})
		ev := rec.ofType(events.WorkOrderCompleted)
		if len(ev) != 1 || ev[0].Data["work_order_log_id"] != w.ID || ev[0].Data["success"] != true {
			t.Fatalf("completed events: %+v", ev)
		}
		if at, _ := ev[0].Data["completed_at"].(time.Time); !at.Equal(l.CompletedAt) || at.Equal(w.CreatedAt) {
			t.Errorf("completed event completed_at = %v, want the log's completed_at %v", ev[0].Data["completed_at"], l.CompletedAt)
		}
		if got := e.auditActions(w.ID); strings.Join(got, ",") != "workorder.created,workorder.claimed,workorder.completed" {
			t.Errorf("audit: %v", got)
		}
	})

	t.Run("unclaimed order", func(t *testing.T) {
		e := e.withT(t)
		w := e.createWorkOrder(map[string]any{"targeting": target})
		// An agent identity never matches an unclaimed order...
		e.expectError(403, "work_order_not_claimed_by_agent", req{method: "POST", path: completePath(w.ID), pak: a.pak,
			body: map[string]any{"success": true}})
		// ...nor does a generator (the reference lets it through); the admin may.
		e.expectError(403, "work_order_not_claimed_by_agent", req{method: "POST", path: completePath(w.ID), pak: g.pak,
			body: map[string]any{"success": true}})
		var l client.WorkOrderLog
		e.must(200, req{method: "POST", path: completePath(w.ID), pak: e.admin, body: map[string]any{"success": true}}).decode(t, &l)
		if l.ClaimedBy != nil || l.ClaimedAt != nil || l.ResultMessage != nil {
			t.Fatalf("log of an unclaimed order: %+v", l)
		}
		e.expectError(404, "work_order_not_found", req{method: "POST", path: completePath(uuid.New()), pak: e.admin, body: map[string]any{"success": true}})
	})

	t.Run("retries with exponential backoff, then failure", func(t *testing.T) {
		e := e.withT(t)
		w := e.createWorkOrder(map[string]any{"targeting": target, "max_retries": 2, "backoff_seconds": 10})
		fail := func(msg string) resp {
			return e.do(req{method: "POST", path: completePath(w.ID), pak: a.pak, body: map[string]any{"success": false, "message": msg}})
		}
		for n := 1; n <= 2; n++ {
			e.claim(w.ID, a.agent.ID, a.pak)
			start := time.Now()
			r := fail("boom")
			if r.status != 202 || strings.TrimSpace(string(r.body)) != `{"status":"retry_scheduled"}` {
				t.Fatalf("attempt %d: %d %s", n, r.status, r.body)
			}
			got := e.getWorkOrder(w.ID)
			want := start.Add(time.Duration(10*(1<<n)) * time.Second)
			if got.Status != "RETRY_PENDING" || got.RetryCount != int32(n) || got.ClaimedBy != nil || got.ClaimedAt != nil ||
				got.LastError == nil || *got.LastError != "boom" || got.LastErrorAt == nil || got.NextRetryAfter == nil {
				t.Fatalf("after failure %d: %+v", n, got)
			}
			if d := got.NextRetryAfter.Sub(want); d < -3*time.Second || d > 3*time.Second {
				t.Fatalf("after failure %d: next_retry_after %v, want ≈ %v (backoff 10 s × 2^%d)", n, got.NextRetryAfter, want, n)
			}
			// Not claimable while waiting; due once the backoff has passed.
			e.expectError(404, "work_order_not_claimable", req{method: "POST", path: v1path("work-orders", w.ID, "claim"), pak: a.pak,
				body: map[string]any{"agent_id": a.agent.ID}})
			e.sqlExec(`UPDATE work_orders SET next_retry_after = now() - interval '1 second' WHERE id = $1`, w.ID)
			if !e.srv.RunWorkerOnce(context.Background(), "work-order-maintenance") {
				t.Fatal("maintenance worker did not run")
			}
			if got := e.getWorkOrder(w.ID); got.Status != "PENDING" || got.NextRetryAfter != nil || got.RetryCount != int32(n) {
				t.Fatalf("after maintenance: %+v", got)
			}
		}
		e.claim(w.ID, a.agent.ID, a.pak)
		r := fail("still broken")
		if r.status != 200 {
			t.Fatalf("final failure: %d %s", r.status, r.body)
		}
		var l client.WorkOrderLog
		r.decode(t, &l)
		if l.Success || l.RetriesAttempted != 2 || l.ResultMessage == nil || *l.ResultMessage != "still broken" {
			t.Fatalf("failed log: %+v", l)
		}
		got := e.getWorkOrder(w.ID)
		if got.Status != "FAILED" || got.LastError == nil || *got.LastError != "still broken" || got.LastErrorAt == nil ||
			!got.LastErrorAt.Equal(l.CompletedAt) || got.RetryCount != 2 {
			t.Fatalf("synthesised failed order: %+v", got)
		}
		ev := rec.ofType(events.WorkOrderFailed)
		if len(ev) != 1 || ev[0].Data["work_order_log_id"] != w.ID || ev[0].Data["success"] != false {
			t.Fatalf("failed events: %+v", ev)
		}
		if by, _ := ev[0].Data["agent_id"].(*uuid.UUID); by == nil || *by != a.agent.ID {
			t.Errorf("failed event agent_id = %v", ev[0].Data["agent_id"])
		}
		want := "workorder.created,workorder.claimed,workorder.retry,workorder.claimed,workorder.retry,workorder.claimed,workorder.failed"
		if got := e.auditActions(w.ID); strings.Join(got, ",") != want {
			t.Errorf("audit: %v", got)
		}
	})

	t.Run("non-retryable failure", func(t *testing.T) {
		e := e.withT(t)
		w := e.createWorkOrder(map[string]any{"targeting": target})
		e.claim(w.ID, a.agent.ID, a.pak)
		var l client.WorkOrderLog
		e.must(200, req{method: "POST", path: completePath(w.ID), pak: a.pak,
			body: map[string]any{"success": false, "retryable": false}}).decode(t, &l)
		if l.Success || l.RetriesAttempted != 0 || l.ResultMessage == nil || *l.ResultMessage != "Unknown error" {
			t.Fatalf("log: %+v", l)
		}
	})

	t.Run("no retries allowed", func(t *testing.T) {
		e := e.withT(t)
		w := e.createWorkOrder(map[string]any{"targeting": target, "max_retries": 0})
		e.claim(w.ID, a.agent.ID, a.pak)
		e.must(200, req{method: "POST", path: completePath(w.ID), pak: a.pak, body: map[string]any{"success": false, "message": "x"}})
	})

	t.Run("retry message defaults", func(t *testing.T) {
		e := e.withT(t)
		w := e.createWorkOrder(map[string]any{"targeting": target})
		e.claim(w.ID, a.agent.ID, a.pak)
		e.must(202, req{method: "POST", path: completePath(w.ID), pak: e.admin, body: map[string]any{"success": false, "retryable": true}})
		if got := e.getWorkOrder(w.ID); got.LastError == nil || *got.LastError != "Unknown error" {
			t.Fatalf("order: %+v", got)
		}
		// Released by its agent: only the admin (or a caller without an agent identity) may act on it now.
		e.expectError(403, "work_order_not_claimed_by_agent", req{method: "POST", path: completePath(w.ID), pak: a.pak,
			body: map[string]any{"success": true}})
	})
}

func TestWorkOrderLog(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	b := e.createAgent("b", "c")
	target := map[string]any{"agent_ids": []uuid.UUID{a.agent.ID, b.agent.ID}}
	finish := func(workType string, agent agentFixture, success bool) uuid.UUID {
		w := e.createWorkOrder(map[string]any{"work_type": workType, "targeting": target})
		e.claim(w.ID, agent.agent.ID, agent.pak)
		e.must(200, req{method: "POST", path: v1path("work-orders", w.ID, "complete"), pak: agent.pak,
			body: map[string]any{"success": success, "retryable": false}})
		return w.ID
	}
	l1 := finish("build", a, true)
	l2 := finish("custom", b, false)
	l3 := finish("build", b, true)
	// Completion order is by transaction time; make it unambiguous.
	e.sqlExec(`UPDATE work_order_log SET completed_at = now() - make_interval(secs => $2) WHERE id = $1`, l1, 30)
	e.sqlExec(`UPDATE work_order_log SET completed_at = now() - make_interval(secs => $2) WHERE id = $1`, l2, 20)
	e.sqlExec(`UPDATE work_order_log SET completed_at = now() - make_interval(secs => $2) WHERE id = $1`, l3, 10)

	for _, tc := range []struct {
		query string
		want  []uuid.UUID
	}{
		{"", []uuid.UUID{l3, l2, l1}},
		{"?work_type=build", []uuid.UUID{l3, l1}},
		{"?success=false", []uuid.UUID{l2}},
		{"?success=true&agent_id=" + b.agent.ID.String(), []uuid.UUID{l3}},
		{"?agent_id=" + a.agent.ID.String(), []uuid.UUID{l1}},
		{"?limit=2", []uuid.UUID{l3, l2}},
		{"?limit=0", []uuid.UUID{}},
	} {
		var out []client.WorkOrderLog
		e.must(200, req{method: "GET", path: v1path("work-order-log") + tc.query, pak: e.admin}).decode(t, &out)
		got := make([]uuid.UUID, len(out))
		for i, l := range out {
			got[i] = l.ID
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("log%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"?success=yes", "?limit=-1", "?limit=x", "?agent_id=nope"} {
		e.expectError(400, "invalid_parameter", req{method: "GET", path: v1path("work-order-log") + q, pak: e.admin})
	}
	e.expectError(403, "admin_required", req{method: "GET", path: v1path("work-order-log"), pak: a.pak})
	e.expectError(403, "admin_required", req{method: "GET", path: v1path("work-order-log", l1), pak: a.pak})
	e.expectError(404, "work_order_log_entry_not_found", req{method: "GET", path: v1path("work-order-log", uuid.New()), pak: e.admin})
}

func TestWorkOrderMaintenance(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	target := map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}}
	ctx := context.Background()
	fail := func(id uuid.UUID) {
		e.claim(id, a.agent.ID, a.pak)
		e.must(202, req{method: "POST", path: v1path("work-orders", id, "complete"), pak: a.pak, body: map[string]any{"success": false}})
	}
	due := e.createWorkOrder(map[string]any{"targeting": target})
	fail(due.ID)
	waiting := e.createWorkOrder(map[string]any{"targeting": target})
	fail(waiting.ID)
	stale := e.createWorkOrder(map[string]any{"targeting": target, "claim_timeout_seconds": 60})
	e.claim(stale.ID, a.agent.ID, a.pak)
	fresh := e.createWorkOrder(map[string]any{"targeting": target, "claim_timeout_seconds": 60})
	e.claim(fresh.ID, a.agent.ID, a.pak)

	e.sqlExec(`UPDATE work_orders SET next_retry_after = now() - interval '1 second' WHERE id = $1`, due.ID)
	e.sqlExec(`UPDATE work_orders SET claimed_at = now() - interval '61 seconds' WHERE id = $1`, stale.ID)
	e.sqlExec(`UPDATE work_orders SET claimed_at = now() - interval '50 seconds' WHERE id = $1`, fresh.ID)
	for range 2 { // idempotent: a second run (another replica) changes nothing more
		if !e.srv.RunWorkerOnce(ctx, "work-order-maintenance") {
			t.Fatal("worker did not run")
		}
	}
	if got := e.getWorkOrder(due.ID); got.Status != "PENDING" || got.NextRetryAfter != nil || got.RetryCount != 1 || got.LastError == nil {
		t.Errorf("due retry: %+v", got)
	}
	if got := e.getWorkOrder(waiting.ID); got.Status != "RETRY_PENDING" || got.NextRetryAfter == nil {
		t.Errorf("waiting retry: %+v", got)
	}
	if got := e.getWorkOrder(stale.ID); got.Status != "PENDING" || got.ClaimedBy != nil || got.ClaimedAt != nil {
		t.Errorf("stale claim: %+v", got)
	}
	if got := e.getWorkOrder(fresh.ID); got.Status != "CLAIMED" || got.ClaimedBy == nil {
		t.Errorf("fresh claim: %+v", got)
	}
	// Released orders can be claimed again.
	e.claim(stale.ID, a.agent.ID, a.pak)
	e.claim(due.ID, a.agent.ID, a.pak)
}

// TestWorkOrderEventPayloads checks the webhook payload shape of the work order events.
func TestWorkOrderEventPayloads(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	a := e.createAgent("a", "c")
	w := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}}})
	e.claim(w.ID, a.agent.ID, a.pak)
	e.must(200, req{method: "POST", path: v1path("work-orders", w.ID, "complete"), pak: a.pak, body: map[string]any{"success": true}})
	want := map[string][]string{
		events.WorkOrderCreated:   {"created_at", "status", "work_order_id", "work_type"},
		events.WorkOrderClaimed:   {"agent_id", "claimed_at", "work_order_id", "work_type"},
		events.WorkOrderCompleted: {"agent_id", "completed_at", "result_message", "success", "work_order_log_id", "work_type"},
	}
	for typ, keys := range want {
		evs := rec.ofType(typ)
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", typ, len(evs))
		}
		raw, err := json.Marshal(evs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != len(keys) {
			t.Errorf("%s data %s, want keys %v", typ, raw, keys)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s data %s lacks %s", typ, raw, k)
			}
		}
		for _, k := range []string{"created_at", "claimed_at", "completed_at"} {
			if s, ok := m[k].(string); ok && !strings.HasSuffix(s, "Z") {
				t.Errorf("%s %s = %q, want UTC", typ, k, s)
			}
		}
	}
}

// apiClient returns a typed client for the broker whose exchanges are validated like e's.
func (e *env) apiClient(key string) *client.Client {
	e.t.Helper()
	c, err := client.New(e.url, client.WithPAK(key), client.WithHTTPClient(e.http),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestWorkOrderClient drives the whole work order lifecycle through the typed client.
func TestWorkOrderClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.createAgent("a", "c")
	e.addAgentLabel(a.agent.ID, "team:ci")
	admin := e.apiClient(e.admin).WorkOrders()
	agent := e.apiClient(a.pak).WorkOrders()

	retries := int32(1)
	w, err := admin.Create(ctx, client.CreateWorkOrderRequest{WorkType: "custom", YAMLContent: buildYAML, MaxRetries: &retries,
		Targeting: &client.WorkOrderTargeting{Labels: []string{"team:ci"}}})
	if err != nil || w.Status != client.WorkOrderPending || w.MaxRetries != 1 {
		t.Fatalf("create: %+v %v", w, err)
	}
	if _, err := admin.Create(ctx, client.CreateWorkOrderRequest{WorkType: "custom", YAMLContent: buildYAML}); !client.HasCode(err, "no_targeting_specified") {
		t.Fatalf("create without targeting: %v", err)
	}
	if list, err := admin.List(ctx, &client.WorkOrderListOptions{Status: "PENDING", WorkType: "custom"}); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if pending, err := agent.Pending(ctx, a.agent.ID, "custom"); err != nil || len(pending) != 1 || pending[0].ID != w.ID {
		t.Fatalf("pending: %+v %v", pending, err)
	}
	if _, err := agent.Claim(ctx, w.ID, a.agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Claim(ctx, w.ID, a.agent.ID); !client.IsNotFound(err) || !client.HasCode(err, "work_order_not_claimable") {
		t.Fatalf("second claim: %v", err)
	}
	msg := "flaky"
	l, err := agent.Complete(ctx, w.ID, client.CompleteWorkOrderRequest{Success: false, Message: &msg})
	if err != nil || l != nil {
		t.Fatalf("retryable failure: %+v %v, want a scheduled retry", l, err)
	}
	if got, err := admin.Get(ctx, w.ID); err != nil || got.Status != client.WorkOrderRetryPending || got.RetryCount != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}
	e.sqlExec(`UPDATE work_orders SET next_retry_after = now() WHERE id = $1`, w.ID)
	e.srv.RunWorkerOnce(ctx, "work-order-maintenance")
	if _, err := agent.Claim(ctx, w.ID, a.agent.ID); err != nil {
		t.Fatal(err)
	}
	l, err = agent.Complete(ctx, w.ID, client.CompleteWorkOrderRequest{Success: true})
	if err != nil || l == nil || !l.Success || l.RetriesAttempted != 1 {
		t.Fatalf("complete: %+v %v", l, err)
	}
	success := true
	logs, err := admin.Log(ctx, &client.WorkOrderLogOptions{Success: &success, AgentID: &a.agent.ID, Limit: 5})
	if err != nil || len(logs) != 1 || logs[0].ID != w.ID {
		t.Fatalf("log: %+v %v", logs, err)
	}
	if entry, err := admin.LogEntry(ctx, w.ID); err != nil || entry.ID != w.ID {
		t.Fatalf("log entry: %+v %v", entry, err)
	}
	if got, err := admin.Get(ctx, w.ID); err != nil || got.Status != client.WorkOrderCompleted {
		t.Fatalf("get finished: %+v %v", got, err)
	}
	other, err := admin.Create(ctx, client.CreateWorkOrderRequest{WorkType: "custom", YAMLContent: buildYAML,
		TargetAgentIDs: []uuid.UUID{a.agent.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, other.ID); !client.HasCode(err, "work_order_not_found") {
		t.Fatalf("second delete: %v", err)
	}
}
