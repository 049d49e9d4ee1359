package server_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/events"
)

const buildYAML = "apiVersion: shipwright.io/v1beta1\nkind: Build\nmetadata:\n  name: demo\n"

// Work order fixtures and helpers.

func (e *env) createWorkOrder(body map[string]any) client.WorkOrder {
	e.t.Helper()
	if _, ok := body["work_type"]; !ok {
		body["work_type"] = "build"
	}
	if _, ok := body["yaml_content"]; !ok {
		body["yaml_content"] = buildYAML
	}
	var w client.WorkOrder
	e.must(201, req{method: "POST", path: v1path("work-orders"), pak: e.admin, body: body}).decode(e.t, &w)
	return w
}

func (e *env) claim(order, agent uuid.UUID, key string) client.WorkOrder {
	e.t.Helper()
	var w client.WorkOrder
	e.must(200, req{method: "POST", path: v1path("work-orders", order, "claim"), pak: key,
		body: map[string]any{"agent_id": agent}}).decode(e.t, &w)
	return w
}

func (e *env) getWorkOrder(id uuid.UUID) client.WorkOrder {
	e.t.Helper()
	var w client.WorkOrder
	e.must(200, req{method: "GET", path: v1path("work-orders", id), pak: e.admin}).decode(e.t, &w)
	return w
}

// sqlCount runs a COUNT query directly against the database.
func (e *env) sqlCount(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.GetContext(context.Background(), &n, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// sqlExec runs a statement directly against the database.
func (e *env) sqlExec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.db.ExecContext(context.Background(), query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

func workOrderIDs(ws []client.WorkOrder) []uuid.UUID {
	out := make([]uuid.UUID, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

// auditActions returns the actions audited for a resource, oldest first.
func (e *env) auditActions(resource uuid.UUID) []string {
	e.t.Helper()
	e.srv.FlushAudit(context.Background())
	var out []string
	if err := e.db.SelectContext(context.Background(), &out,
		`SELECT action FROM audit_logs WHERE resource_id = $1 ORDER BY timestamp, id`, resource); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestCreateWorkOrder(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	a1 := e.createAgent("a1", "c1")
	a2 := e.createAgent("a2", "c1")
	gone := e.createAgent("gone", "c1")
	e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})
	g := e.createGenerator("g")

	t.Run("defaults and targeting", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: v1path("work-orders"), pak: e.admin, body: map[string]any{
			"work_type": "build", "yaml_content": buildYAML,
			"targeting":        map[string]any{"agent_ids": []uuid.UUID{a1.agent.ID}, "labels": []string{"team:ci", "team:ci"}, "annotations": map[string]string{"zone": "eu"}},
			"target_agent_ids": []uuid.UUID{a2.agent.ID, a1.agent.ID},
		}})
		obj := jsonObject(t, r)
		requireNull(t, obj, "claimed_by", "claimed_at", "next_retry_after", "last_error", "last_error_at")
		requireUTC(t, obj, "created_at", "updated_at")
		var w client.WorkOrder
		r.decode(t, &w)
		if w.Status != "PENDING" || w.MaxRetries != 3 || w.BackoffSeconds != 60 || w.ClaimTimeoutSeconds != 3600 ||
			w.RetryCount != 0 || w.WorkType != "build" || w.YAMLContent != buildYAML {
			t.Fatalf("work order: %+v", w)
		}
		if n := e.sqlCount(`SELECT count(*) FROM work_order_targets WHERE work_order_id = $1`, w.ID); n != 2 {
			t.Errorf("targets: %d, want 2 (legacy ids merged, duplicates dropped)", n)
		}
		if n := e.sqlCount(`SELECT count(*) FROM work_order_labels WHERE work_order_id = $1 AND label = 'team:ci'`, w.ID); n != 1 {
			t.Errorf("labels: %d", n)
		}
		if n := e.sqlCount(`SELECT count(*) FROM work_order_annotations WHERE work_order_id = $1 AND key = 'zone' AND value = 'eu'`, w.ID); n != 1 {
			t.Errorf("annotations: %d", n)
		}
		created := rec.ofType(events.WorkOrderCreated)
		if len(created) != 1 || created[0].Data["work_order_id"] != w.ID || created[0].Data["status"] != "PENDING" ||
			created[0].Data["work_type"] != "build" {
			t.Fatalf("created events: %+v", created)
		}
		notices := rec.ofType(events.NoticeWorkOrder)
		if len(notices) != 1 {
			t.Fatalf("work order notices: %+v", notices)
		}
		ids, _ := notices[0].Data["agent_ids"].([]uuid.UUID)
		if !slices.Equal(ids, []uuid.UUID{a1.agent.ID, a2.agent.ID}) {
			t.Errorf("notice agent_ids = %v", notices[0].Data["agent_ids"])
		}
		if pushed, _ := notices[0].Data["work_order"].(client.WorkOrder); pushed.ID != w.ID {
			t.Errorf("notice work_order = %+v", notices[0].Data["work_order"])
		}
		if got := e.auditActions(w.ID); len(got) != 1 || got[0] != "workorder.created" {
			t.Errorf("audit: %v", got)
		}
	})

	t.Run("explicit settings, labels only", func(t *testing.T) {
		e := e.withT(t)
		before := len(rec.ofType(events.NoticeWorkOrder))
		w := e.createWorkOrder(map[string]any{"work_type": "custom", "max_retries": 0, "backoff_seconds": 5,
			"claim_timeout_seconds": 30, "targeting": map[string]any{"labels": []string{"x"}}})
		if w.MaxRetries != 0 || w.BackoffSeconds != 5 || w.ClaimTimeoutSeconds != 30 || w.WorkType != "custom" {
			t.Fatalf("work order: %+v", w)
		}
		if n := len(rec.ofType(events.NoticeWorkOrder)); n != before {
			t.Errorf("no agent is listed, yet %d notices were sent", n-before)
		}
	})

	orders := func() int { return e.sqlCount(`SELECT count(*) FROM work_orders`) }
	base := orders()
	target := map[string]any{"agent_ids": []uuid.UUID{a1.agent.ID}}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"missing work_type", map[string]any{"yaml_content": buildYAML, "targeting": target}, 422, "invalid_request_body"},
		{"missing yaml_content", map[string]any{"work_type": "build", "targeting": target}, 422, "invalid_request_body"},
		{"no targeting", map[string]any{"work_type": "build", "yaml_content": buildYAML}, 400, "no_targeting_specified"},
		{"empty targeting", map[string]any{"work_type": "build", "yaml_content": buildYAML,
			"targeting": map[string]any{"agent_ids": []string{}, "labels": []string{}, "annotations": map[string]string{}}, "target_agent_ids": []string{}}, 400, "no_targeting_specified"},
		{"blank work_type", map[string]any{"work_type": " ", "yaml_content": buildYAML, "targeting": target}, 400, "invalid_work_order"},
		{"long work_type", map[string]any{"work_type": strings.Repeat("w", 51), "yaml_content": buildYAML, "targeting": target}, 400, "invalid_work_order"},
		{"blank yaml", map[string]any{"work_type": "build", "yaml_content": "\n", "targeting": target}, 400, "invalid_work_order"},
		{"negative max_retries", map[string]any{"work_type": "build", "yaml_content": buildYAML, "max_retries": -1, "targeting": target}, 400, "invalid_work_order"},
		{"zero backoff", map[string]any{"work_type": "build", "yaml_content": buildYAML, "backoff_seconds": 0, "targeting": target}, 400, "invalid_work_order"},
		{"zero claim timeout", map[string]any{"work_type": "build", "yaml_content": buildYAML, "claim_timeout_seconds": 0, "targeting": target}, 400, "invalid_work_order"},
		{"max_retries beyond int32", map[string]any{"work_type": "build", "yaml_content": buildYAML, "max_retries": int64(math.MaxInt32) + 1, "targeting": target}, 422, "invalid_request_body"},
		{"label with whitespace", map[string]any{"work_type": "build", "yaml_content": buildYAML,
			"targeting": map[string]any{"labels": []string{"ok", "not ok"}}}, 400, "invalid_work_order"},
		{"blank annotation value", map[string]any{"work_type": "build", "yaml_content": buildYAML,
			"targeting": map[string]any{"annotations": map[string]string{"zone": ""}}}, 400, "invalid_work_order"},
		{"long annotation key", map[string]any{"work_type": "build", "yaml_content": buildYAML,
			"targeting": map[string]any{"annotations": map[string]string{strings.Repeat("k", 65): "v"}}}, 400, "invalid_work_order"},
		{"unknown agent", map[string]any{"work_type": "build", "yaml_content": buildYAML,
			"targeting": map[string]any{"agent_ids": []uuid.UUID{a1.agent.ID, uuid.New()}, "labels": []string{"l"}}}, 422, "foreign_key_violation"},
		{"deleted agent (legacy list)", map[string]any{"work_type": "build", "yaml_content": buildYAML,
			"target_agent_ids": []uuid.UUID{gone.agent.ID}}, 422, "foreign_key_violation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			r := e.expectError(tc.status, tc.code, req{method: "POST", path: v1path("work-orders"), pak: e.admin, body: tc.body})
			if tc.code == "invalid_work_order" {
				var body client.ErrorBody
				r.decode(t, &body)
				if body.Details["field"] == nil {
					t.Errorf("invalid_work_order names no field: %s", r.body)
				}
			}
			if n := orders(); n != base {
				t.Fatalf("a rejected create left %d work orders behind", n-base)
			}
		})
	}
	t.Run("label error names the entry", func(t *testing.T) {
		e := e.withT(t)
		r := e.expectError(400, "invalid_work_order", req{method: "POST", path: v1path("work-orders"), pak: e.admin,
			body: map[string]any{"work_type": "build", "yaml_content": buildYAML, "targeting": map[string]any{"labels": []string{"ok", "not ok"}}}})
		if !strings.Contains(string(r.body), `targeting.labels[1]`) {
			t.Errorf("error does not name the entry: %s", r.body)
		}
	})
	t.Run("unknown agent leaves no targets or labels", func(t *testing.T) {
		e := e.withT(t)
		if n := e.sqlCount(`SELECT count(*) FROM work_order_labels WHERE label = 'l'`); n != 0 {
			t.Fatalf("labels of the rejected order survived: %d", n)
		}
	})
	t.Run("non-admin callers", func(t *testing.T) {
		e := e.withT(t)
		body := map[string]any{"work_type": "build", "yaml_content": buildYAML, "targeting": target}
		e.expectError(403, "admin_required", req{method: "POST", path: v1path("work-orders"), pak: a1.pak, body: body})
		e.expectError(403, "admin_required", req{method: "POST", path: v1path("work-orders"), pak: g.pak, body: body})
		e.expectError(403, "read_only", req{method: "POST", path: v1path("work-orders"), pak: e.srv.ReadOnlyPAK(), body: body})
		e.must(415, req{method: "POST", path: v1path("work-orders"), pak: e.admin, body: "{}", contentType: "text/plain"})
	})
}

func TestWorkOrderReads(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	target := map[string]any{"agent_ids": []uuid.UUID{a.agent.ID}}
	w1 := e.createWorkOrder(map[string]any{"work_type": "build", "targeting": target})
	w2 := e.createWorkOrder(map[string]any{"work_type": "custom", "targeting": target})
	w3 := e.createWorkOrder(map[string]any{"work_type": "build", "targeting": target})
	e.claim(w3.ID, a.agent.ID, a.pak)

	list := func(query string) []uuid.UUID {
		var out []client.WorkOrder
		e.must(200, req{method: "GET", path: v1path("work-orders") + query, pak: e.admin}).decode(e.t, &out)
		return workOrderIDs(out)
	}
	t.Run("list", func(t *testing.T) {
		e := e.withT(t)
		for _, tc := range []struct {
			query string
			want  []uuid.UUID
		}{
			{"", []uuid.UUID{w3.ID, w2.ID, w1.ID}},
			{"?work_type=build", []uuid.UUID{w3.ID, w1.ID}},
			{"?status=PENDING", []uuid.UUID{w2.ID, w1.ID}},
			{"?status=CLAIMED&work_type=build", []uuid.UUID{w3.ID}},
			{"?status=CLAIMED&work_type=custom", []uuid.UUID{}},
			{"?work_type=", []uuid.UUID{}},
		} {
			if got := list(tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("list%s = %v, want %v", tc.query, got, tc.want)
			}
		}
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("work-orders"), pak: a.pak})
		e.must(200, req{method: "GET", path: v1path("work-orders"), pak: e.srv.ReadOnlyPAK()})
	})
	t.Run("get", func(t *testing.T) {
		e := e.withT(t)
		got := e.getWorkOrder(w3.ID)
		if got.Status != "CLAIMED" || got.ClaimedBy == nil || *got.ClaimedBy != a.agent.ID || got.ClaimedAt == nil {
			t.Fatalf("claimed order: %+v", got)
		}
		e.expectError(404, "work_order_not_found", req{method: "GET", path: v1path("work-orders", uuid.New()), pak: e.admin})
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("work-orders", w1.ID), pak: a.pak})
		e.must(400, req{method: "GET", path: v1path("work-orders", "nope"), pak: e.admin})
	})
	t.Run("delete", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(403, "admin_required", req{method: "DELETE", path: v1path("work-orders", w2.ID), pak: a.pak})
		e.must(204, req{method: "DELETE", path: v1path("work-orders", w2.ID), pak: e.admin})
		e.expectError(404, "work_order_not_found", req{method: "DELETE", path: v1path("work-orders", w2.ID), pak: e.admin})
		e.expectError(404, "work_order_not_found", req{method: "GET", path: v1path("work-orders", w2.ID), pak: e.admin})
		if n := e.sqlCount(`SELECT count(*) FROM work_order_targets WHERE work_order_id = $1`, w2.ID); n != 0 {
			t.Errorf("targets of the deleted order survived: %d", n)
		}
	})
}

func TestWorkOrderEligibilityAndClaim(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	hard := e.createAgent("hard", "c")
	labelled := e.createAgent("labelled", "c")
	e.addAgentLabel(labelled.agent.ID, "team:ci")
	annotated := e.createAgent("annotated", "c")
	e.addAgentAnnotation(annotated.agent.ID, "zone", "eu")
	wrongValue := e.createAgent("wrong-value", "c")
	e.addAgentAnnotation(wrongValue.agent.ID, "zone", "us")
	outsider := e.createAgent("outsider", "c")
	g := e.createGenerator("g")

	byTarget := e.createWorkOrder(map[string]any{"target_agent_ids": []uuid.UUID{hard.agent.ID}})
	byLabel := e.createWorkOrder(map[string]any{"work_type": "custom", "targeting": map[string]any{"labels": []string{"team:ci", "other"}}})
	byAnnotation := e.createWorkOrder(map[string]any{"targeting": map[string]any{"annotations": map[string]string{"zone": "eu"}}})
	everyone := e.createWorkOrder(map[string]any{"targeting": map[string]any{
		"agent_ids": []uuid.UUID{hard.agent.ID}, "labels": []string{"team:ci"}, "annotations": map[string]string{"zone": "eu"}}})

	pending := func(agent agentFixture, key, query string) []uuid.UUID {
		var out []client.WorkOrder
		e.must(200, req{method: "GET", path: v1path("agents", agent.agent.ID, "work-orders", "pending") + query, pak: key}).decode(e.t, &out)
		return workOrderIDs(out)
	}
	t.Run("pending", func(t *testing.T) {
		e := e.withT(t)
		for _, tc := range []struct {
			agent agentFixture
			query string
			want  []uuid.UUID
		}{
			{hard, "", []uuid.UUID{byTarget.ID, everyone.ID}},
			{labelled, "", []uuid.UUID{byLabel.ID, everyone.ID}},
			{labelled, "?work_type=custom", []uuid.UUID{byLabel.ID}},
			{labelled, "?work_type=build", []uuid.UUID{everyone.ID}},
			{annotated, "", []uuid.UUID{byAnnotation.ID, everyone.ID}},
			{wrongValue, "", []uuid.UUID{}},
			{outsider, "", []uuid.UUID{}},
		} {
			if got := pending(tc.agent, tc.agent.pak, tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("pending for %s%s = %v, want %v", tc.agent.agent.Name, tc.query, got, tc.want)
			}
		}
		if got := pending(hard, e.admin, ""); !slices.Equal(got, []uuid.UUID{byTarget.ID, everyone.ID}) {
			t.Errorf("admin view of pending: %v", got)
		}
		path := v1path("agents", hard.agent.ID, "work-orders", "pending")
		e.expectError(403, "agent_pak_mismatch", req{method: "GET", path: path, pak: outsider.pak})
		e.expectError(403, "agent_pak_mismatch", req{method: "GET", path: path, pak: g.pak})
	})

	claimPath := func(id uuid.UUID) string { return v1path("work-orders", id, "claim") }
	t.Run("claim errors", func(t *testing.T) {
		e := e.withT(t)
		for _, tc := range []struct {
			name  string
			order uuid.UUID
			agent agentFixture
		}{
			{"not a target", byTarget.ID, labelled},
			{"annotation value differs", byAnnotation.ID, wrongValue},
			{"no match at all", everyone.ID, outsider},
			{"unknown order", uuid.New(), hard},
		} {
			e.expectError(404, "work_order_not_claimable", req{method: "POST", path: claimPath(tc.order), pak: tc.agent.pak,
				body: map[string]any{"agent_id": tc.agent.agent.ID}})
		}
		e.expectError(403, "agent_pak_mismatch", req{method: "POST", path: claimPath(byTarget.ID), pak: outsider.pak,
			body: map[string]any{"agent_id": hard.agent.ID}})
		e.expectError(403, "agent_pak_mismatch", req{method: "POST", path: claimPath(byTarget.ID), pak: g.pak,
			body: map[string]any{"agent_id": hard.agent.ID}})
		e.expectError(422, "invalid_request_body", req{method: "POST", path: claimPath(byTarget.ID), pak: hard.pak, body: map[string]any{}})
		if got := e.getWorkOrder(byTarget.ID); got.Status != "PENDING" {
			t.Fatalf("failed claims changed the order: %+v", got)
		}
	})

	t.Run("claim", func(t *testing.T) {
		e := e.withT(t)
		before := time.Now()
		w := e.claim(byLabel.ID, labelled.agent.ID, labelled.pak)
		if w.Status != "CLAIMED" || w.ClaimedBy == nil || *w.ClaimedBy != labelled.agent.ID || w.ClaimedAt == nil ||
			w.ClaimedAt.Before(before.Add(-5*time.Second)) || w.ClaimedAt.After(time.Now().Add(5*time.Second)) {
			t.Fatalf("claimed: %+v", w)
		}
		// Claimed orders leave every pending list, and cannot be claimed again.
		if got := pending(labelled, labelled.pak, ""); !slices.Equal(got, []uuid.UUID{everyone.ID}) {
			t.Errorf("pending after claim: %v", got)
		}
		e.expectError(404, "work_order_not_claimable", req{method: "POST", path: claimPath(byLabel.ID), pak: labelled.pak,
			body: map[string]any{"agent_id": labelled.agent.ID}})
		// The admin may claim on an agent's behalf; the audit names the agent.
		w = e.claim(everyone.ID, annotated.agent.ID, e.admin)
		if *w.ClaimedBy != annotated.agent.ID {
			t.Fatalf("admin claim: %+v", w)
		}
		claimed := rec.ofType(events.WorkOrderClaimed)
		if len(claimed) != 2 || claimed[0].Data["work_order_id"] != byLabel.ID || claimed[0].Data["agent_id"] != labelled.agent.ID ||
			claimed[0].Data["work_type"] != "custom" || claimed[0].Data["claimed_at"] == nil {
			t.Fatalf("claimed events: %+v", claimed)
		}
		e.srv.FlushAudit(context.Background())
		var actor struct {
			Type string    `db:"actor_type"`
			ID   uuid.UUID `db:"actor_id"`
		}
		if err := e.db.GetContext(context.Background(), &actor, `SELECT actor_type, actor_id FROM audit_logs
			WHERE action = 'workorder.claimed' AND resource_id = $1`, everyone.ID); err != nil {
			t.Fatal(err)
		}
		if actor.Type != "agent" || actor.ID != annotated.agent.ID {
			t.Errorf("claim audit actor: %+v", actor)
		}
	})

	t.Run("deleted agent cannot claim", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("agents", hard.agent.ID), pak: e.admin})
		e.expectError(404, "work_order_not_claimable", req{method: "POST", path: claimPath(byTarget.ID), pak: e.admin,
			body: map[string]any{"agent_id": hard.agent.ID}})
	})
}
