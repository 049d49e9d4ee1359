package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// TestAgentWebhookDelivery covers the agent side: claiming targeted deliveries and reporting.
func TestAgentWebhookDelivery(t *testing.T) {
	e := newEnv(t)
	prod := e.createAgent("prod", "c1")
	e.addAgentLabel(prod.agent.ID, "env:prod")
	e.addAgentLabel(prod.agent.ID, "tier:web")
	bare := e.createAgent("bare", "c2")
	sub := e.createWebhook(map[string]any{"name": "via-agent", "url": "https://internal.example/hook", "auth_header": "Bearer inside",
		"event_types": []string{"stack.created"}, "target_labels": []string{"env:prod"}, "max_retries": 3, "timeout_seconds": 7})
	g := e.createGenerator("gen")
	for i := range 3 {
		e.createStack(fmt.Sprint("s", i), g.gen.ID, g.pak)
	}
	pending := func(agent uuid.UUID, key string) []client.PendingWebhookDelivery {
		t.Helper()
		var out []client.PendingWebhookDelivery
		e.must(200, req{method: "GET", path: v1path("agents", agent, "webhooks", "pending"), pak: key}).decode(t, &out)
		return out
	}

	if got := pending(bare.agent.ID, bare.pak); len(got) != 0 {
		t.Fatalf("an agent without the labels claimed %+v", got)
	}
	claimed := pending(prod.agent.ID, prod.pak)
	if len(claimed) != 3 {
		t.Fatalf("claimed %d, want 3", len(claimed))
	}
	for _, p := range claimed {
		if p.URL != "https://internal.example/hook" || p.AuthHeader == nil || *p.AuthHeader != "Bearer inside" ||
			p.SubscriptionID != sub.ID || p.EventType != "stack.created" || p.TimeoutSeconds != 7 || p.MaxRetries != 3 ||
			p.Attempts != 0 || !strings.Contains(p.Payload, `"event_type":"stack.created"`) {
			t.Fatalf("pending delivery %+v", p)
		}
		row := e.delivery(p.ID)
		if row.Status != "acquired" || row.AcquiredBy == nil || *row.AcquiredBy != prod.agent.ID ||
			!near(*row.AcquiredUntil, time.Now().Add(60*time.Second), 5*time.Second) {
			t.Fatalf("claimed row %+v", row)
		}
	}
	if got := pending(prod.agent.ID, prod.pak); len(got) != 0 {
		t.Fatalf("claimed twice: %+v", got)
	}
	if got := pending(prod.agent.ID, e.admin); len(got) != 0 {
		t.Fatalf("admin poll: %+v", got)
	}
	e.expectError(403, "agent_pak_mismatch", req{method: "GET", path: v1path("agents", prod.agent.ID, "webhooks", "pending"), pak: bare.pak})
	e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", uuid.New(), "webhooks", "pending"), pak: e.admin})

	result := func(id uuid.UUID, key string, body map[string]any) resp {
		return e.do(req{method: "POST", path: v1path("webhook-deliveries", id, "result"), pak: key, body: body})
	}
	ok := map[string]any{"success": true, "duration_ms": 12}
	e.expectError(403, "agent_pak_required", req{method: "POST", path: v1path("webhook-deliveries", claimed[0].ID, "result"), pak: e.admin, body: ok})
	e.expectError(404, "delivery_not_found", req{method: "POST", path: v1path("webhook-deliveries", uuid.New(), "result"), pak: prod.pak, body: ok})
	e.expectError(403, "delivery_not_acquired_by_agent", req{method: "POST", path: v1path("webhook-deliveries", claimed[0].ID, "result"), pak: bare.pak, body: ok})
	e.expectError(422, "invalid_request_body", req{method: "POST", path: v1path("webhook-deliveries", claimed[0].ID, "result"), pak: prod.pak, body: map[string]any{}})

	r := result(claimed[0].ID, prod.pak, ok)
	var success map[string]any
	r.decode(t, &success)
	if r.status != 200 || len(success) != 2 || success["status"] != "success" || success["delivery_id"] != claimed[0].ID.String() {
		t.Fatalf("success report: %d %s", r.status, r.body)
	}
	if got := e.delivery(claimed[0].ID); got.Status != "success" || got.Attempts != 1 || got.CompletedAt == nil {
		t.Fatalf("after success report %+v", got)
	}
	e.expectError(403, "delivery_not_acquired_by_agent", req{method: "POST", path: v1path("webhook-deliveries", claimed[0].ID, "result"), pak: prod.pak, body: ok})

	var failed client.DeliveryResultResponse
	e.must(200, req{method: "POST", path: v1path("webhook-deliveries", claimed[1].ID, "result"), pak: prod.pak,
		body: map[string]any{"success": false, "status_code": 503, "error": "upstream down"}}).decode(t, &failed)
	if failed.Status != "failed" || failed.DeliveryID != claimed[1].ID || failed.Attempts == nil || *failed.Attempts != 1 ||
		failed.NextRetryAt == nil || !near(*failed.NextRetryAt, time.Now().Add(2*time.Second), 1500*time.Millisecond) {
		t.Fatalf("failure report %+v", failed)
	}
	if got := e.delivery(claimed[1].ID); got.Status != "failed" || *got.LastError != "HTTP 503: upstream down" || got.AcquiredBy != nil {
		t.Fatalf("after failure report %+v", got)
	}
	// Once due, the broker's worker promotes it (without sending it) and the agent claims it again.
	e.makeDue(claimed[1].ID)
	e.tick()
	again := pending(prod.agent.ID, prod.pak)
	if len(again) != 1 || again[0].ID != claimed[1].ID || again[0].Attempts != 1 {
		t.Fatalf("reclaimed %+v", again)
	}
	r = result(claimed[1].ID, prod.pak, map[string]any{"success": false, "status_code": 404, "error": "HTTP 404 Not Found"})
	if r.status != 200 || !strings.Contains(string(r.body), `"next_retry_at":null`) || !strings.Contains(string(r.body), `"status":"dead"`) {
		t.Fatalf("404 report: %d %s", r.status, r.body)
	}
	if got := e.delivery(claimed[1].ID); got.Status != "dead" || *got.LastError != "HTTP 404 Not Found" || got.Attempts != 2 {
		t.Fatalf("after 404 report %+v", got)
	}
	var agentAudit bool
	for _, row := range e.auditRows("webhook.delivery_failed") {
		if strings.Contains(string(row.Details), claimed[1].ID.String()) && strings.Contains(string(row.Details), prod.agent.ID.String()) {
			agentAudit = row.ActorType == "system" && *row.ResourceID == sub.ID
		}
	}
	if !agentAudit {
		t.Fatal("no webhook.delivery_failed audit row for the agent-reported failure")
	}

	e.must(200, req{method: "POST", path: v1path("webhook-deliveries", claimed[2].ID, "result"), pak: prod.pak, body: map[string]any{"success": false}})
	if got := e.delivery(claimed[2].ID); got.Status != "failed" || *got.LastError != "Unknown error" {
		t.Fatalf("after a bare failure %+v", got)
	}

	t.Run("expired agent claims are released", func(t *testing.T) {
		e := e.withT(t)
		e.makeDue(claimed[2].ID)
		e.tick()
		p := pending(prod.agent.ID, prod.pak)
		if len(p) != 1 {
			t.Fatalf("reclaim: %+v", p)
		}
		e.whExec(`UPDATE webhook_deliveries SET acquired_until = now() - interval '1 second' WHERE id = $1`, p[0].ID)
		e.tick()
		if got := e.delivery(p[0].ID); got.Status != "pending" || got.AcquiredBy != nil || got.AcquiredUntil != nil {
			t.Fatalf("after expiry %+v", got)
		}
		e.expectError(403, "delivery_not_acquired_by_agent", req{method: "POST", path: v1path("webhook-deliveries", p[0].ID, "result"), pak: prod.pak, body: ok})
	})

	t.Run("empty target labels are eligible for any agent", func(t *testing.T) {
		e := e.withT(t)
		e.whExec(`DELETE FROM webhook_deliveries`)
		open := e.createWebhook(map[string]any{"name": "open", "url": "https://x", "event_types": []string{"stack.deleted"}, "target_labels": []string{}})
		both := e.createWebhook(map[string]any{"name": "both", "url": "https://y", "event_types": []string{"stack.deleted"}, "target_labels": []string{"env:prod", "tier:web"}})
		var stacks []client.Stack
		e.must(200, req{method: "GET", path: "/api/v1/stacks", pak: e.admin}).decode(t, &stacks)
		e.must(204, req{method: "DELETE", path: v1path("stacks", stacks[0].ID), pak: e.admin})
		got := pending(bare.agent.ID, bare.pak)
		if len(got) != 1 || got[0].SubscriptionID != open.ID {
			t.Fatalf("bare agent claimed %+v", got)
		}
		got = pending(prod.agent.ID, prod.pak)
		if len(got) != 1 || got[0].SubscriptionID != both.ID {
			t.Fatalf("labelled agent claimed %+v", got)
		}
	})

	t.Run("undecryptable secrets end the delivery", func(t *testing.T) {
		e := e.withT(t)
		before := e.metricValue(`brokkr_webhook_decrypt_failures_total{field="auth_header",path="agent"}`)
		e.whExec(`UPDATE webhook_subscriptions SET auth_header_encrypted = '\x00'::bytea WHERE id = $1`, sub.ID)
		e.createStack("s-undecryptable", g.gen.ID, g.pak)
		if got := pending(prod.agent.ID, prod.pak); len(got) != 0 {
			t.Fatalf("undecryptable delivery handed out: %+v", got)
		}
		ds := e.listDeliveries(sub.ID, "?limit=1")
		if ds[0].Status != "dead" || !strings.HasPrefix(*ds[0].LastError, "Failed to decrypt auth header") {
			t.Fatalf("undecryptable delivery %+v", ds[0])
		}
		if after := e.metricValue(`brokkr_webhook_decrypt_failures_total{field="auth_header",path="agent"}`); after != before+1 {
			t.Fatalf("decrypt failures %v → %v", before, after)
		}
	})
}
