package server_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
	"github.com/brokkr/brokkr/server/events"
)

// expireClaim makes the current claim of an order older than its timeout, as if the agent
// holding it had died, and runs the maintenance worker.
func (e *env) expireClaim(id uuid.UUID) {
	e.t.Helper()
	e.sqlExec(`UPDATE work_orders SET claimed_at = now() - make_interval(secs => claim_timeout_seconds + 1)
		WHERE id = $1 AND status = 'CLAIMED'`, id)
	if !e.srv.RunWorkerOnce(context.Background(), "work-order-maintenance") {
		e.t.Fatal("maintenance worker did not run")
	}
}

// TestClaimExpiryCountsAttempts follows an order whose every claim expires (its agent dies
// while running it): each expiry counts an attempt, and after max_retries the order leaves
// the queue as failed with "claim expired" instead of being offered forever.
func TestClaimExpiryCountsAttempts(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	a := e.createAgent("a", "c")
	w := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}},
		"max_retries": 2, "claim_timeout_seconds": 60})

	for attempt := int32(1); attempt <= 2; attempt++ {
		e.claim(w.ID, a.agent.ID, a.pak)
		e.expireClaim(w.ID)
		got := e.getWorkOrder(w.ID)
		if got.Status != "PENDING" || got.RetryCount != attempt || got.ClaimedBy != nil || got.ClaimedAt != nil ||
			got.LastError == nil || *got.LastError != "claim expired" || got.LastErrorAt == nil {
			t.Fatalf("after expiry %d: %+v", attempt, got)
		}
		if n := len(rec.ofType(events.WorkOrderFailed)); n != 0 {
			t.Fatalf("after expiry %d: %d workorder.failed events", attempt, n)
		}
	}

	// The third claim is the last attempt (max_retries 2): its expiry fails the order.
	e.claim(w.ID, a.agent.ID, a.pak)
	e.expireClaim(w.ID)
	if n := e.sqlCount(`SELECT count(*) FROM work_orders WHERE id = $1`, w.ID); n != 0 {
		t.Fatalf("the order is still queued")
	}
	var l client.WorkOrderLog
	e.must(200, req{method: "GET", path: v1path("work-order-log", w.ID), pak: e.admin}).decode(t, &l)
	if l.Success || l.RetriesAttempted != 2 || l.ResultMessage == nil || *l.ResultMessage != "claim expired" ||
		l.ClaimedBy == nil || *l.ClaimedBy != a.agent.ID || l.ClaimedAt == nil {
		t.Fatalf("log entry: %+v", l)
	}
	got := e.getWorkOrder(w.ID)
	if got.Status != "FAILED" || got.LastError == nil || *got.LastError != "claim expired" || got.RetryCount != 2 {
		t.Fatalf("read back: %+v", got)
	}
	evs := rec.ofType(events.WorkOrderFailed)
	if len(evs) != 1 {
		t.Fatalf("%d workorder.failed events, want 1", len(evs))
	}
	raw, _ := json.Marshal(evs[0].Data)
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	if data["work_order_log_id"] != w.ID.String() || data["result_message"] != "claim expired" ||
		data["success"] != false || data["agent_id"] != a.agent.ID.String() {
		t.Fatalf("workorder.failed data %s", raw)
	}
	// Nothing is left to claim, and running the worker again changes nothing.
	e.expectError(404, "work_order_not_claimable", req{method: "POST", path: v1path("work-orders", w.ID, "claim"),
		pak: a.pak, body: map[string]any{"agent_id": a.agent.ID}})
	e.srv.RunWorkerOnce(context.Background(), "work-order-maintenance")
	if n := e.sqlCount(`SELECT count(*) FROM work_order_log WHERE id = $1`, w.ID); n != 1 {
		t.Fatalf("%d log rows", n)
	}

	// With max_retries 0 the first expiry is final.
	once := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}},
		"max_retries": 0})
	e.claim(once.ID, a.agent.ID, a.pak)
	e.expireClaim(once.ID)
	if got := e.getWorkOrder(once.ID); got.Status != "FAILED" || got.RetryCount != 0 || *got.LastError != "claim expired" {
		t.Fatalf("max_retries 0: %+v", got)
	}
}

// TestClaimExpiryMixesWithReportedFailures checks that expiries and reported failures count
// against the same budget.
func TestClaimExpiryMixesWithReportedFailures(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	w := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}},
		"max_retries": 1})
	e.claim(w.ID, a.agent.ID, a.pak)
	e.expireClaim(w.ID) // attempt 1
	e.claim(w.ID, a.agent.ID, a.pak)
	var l client.WorkOrderLog // attempt 2 fails: past max_retries
	e.must(200, req{method: "POST", path: v1path("work-orders", w.ID, "complete"), pak: a.pak,
		body: map[string]any{"success": false, "message": "boom"}}).decode(t, &l)
	if l.Success || l.RetriesAttempted != 1 || *l.ResultMessage != "boom" {
		t.Fatalf("log entry: %+v", l)
	}
}

// TestClaimExpiryAcrossReplicas runs the maintenance on two replicas at once over many
// expired claims: each claim expires exactly once (one attempt counted per order).
func TestClaimExpiryAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	r := e.replica()
	a := e.createAgent("a", "c")
	var ids []uuid.UUID
	for range 40 {
		w := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}},
			"max_retries": 3})
		e.claim(w.ID, a.agent.ID, a.pak)
		ids = append(ids, w.ID)
	}
	last := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}},
		"max_retries": 0})
	e.claim(last.ID, a.agent.ID, a.pak)
	e.sqlExec(`UPDATE work_orders SET claimed_at = now() - interval '2 hours' WHERE status = 'CLAIMED'`)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	r.srv.Bus().Subscribe(rec.record)
	var wg sync.WaitGroup
	for _, s := range []*server.Server{e.srv, r.srv, e.srv, r.srv} {
		wg.Go(func() { s.RunWorkerOnce(context.Background(), "work-order-maintenance") })
	}
	wg.Wait()
	if n := e.sqlCount(`SELECT count(*) FROM work_orders WHERE id = ANY($1) AND status = 'PENDING' AND retry_count = 1`, ids); n != len(ids) {
		t.Fatalf("%d of %d orders requeued with exactly one attempt counted", n, len(ids))
	}
	if n := e.sqlCount(`SELECT count(*) FROM work_order_log WHERE id = $1 AND NOT success`, last.ID); n != 1 {
		t.Fatalf("final order: %d failed log rows", n)
	}
	if n := len(rec.ofType(events.WorkOrderFailed)); n != 1 {
		t.Fatalf("%d workorder.failed events, want 1", n)
	}
}
