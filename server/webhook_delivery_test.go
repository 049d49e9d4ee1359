package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
)

// hookAndEmit subscribes a receiver path to agent.registered, creates one agent so exactly one
// delivery is queued, and disables the subscription again so later events leave it alone.
func (e *env) hookAndEmit(rc *receiver, path string, extra map[string]any) (client.WebhookResponse, client.WebhookDelivery) {
	e.t.Helper()
	body := map[string]any{"name": path, "url": rc.URL + path, "event_types": []string{"agent.registered"}, "timeout_seconds": 2}
	for k, v := range extra {
		body[k] = v
	}
	sub := e.createWebhook(body)
	e.createAgent("agent-"+uuid.NewString()[:8], "c")
	e.must(200, req{method: "PUT", path: v1path("webhooks", sub.ID), pak: e.admin, body: map[string]any{"enabled": false}})
	ds := e.listDeliveries(sub.ID, "")
	if len(ds) != 1 {
		e.t.Fatalf("%d deliveries queued, want 1", len(ds))
	}
	return sub, ds[0]
}

// makeDue moves a failed delivery's retry time into the past.
func (e *env) makeDue(id uuid.UUID) {
	e.t.Helper()
	e.whExec(`UPDATE webhook_deliveries SET next_retry_at = now() - interval '1 second' WHERE id = $1 AND status = 'failed'`, id)
}

// metricValue reads one sample of the broker's /metrics (0 when absent).
func (e *env) metricValue(sample string) float64 {
	e.t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				e.t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

func near(t time.Time, want time.Time, slack time.Duration) bool {
	return t.After(want.Add(-slack)) && t.Before(want.Add(slack))
}

// TestWebhookBrokerDelivery sends deliveries to a real HTTP receiver through the worker.
func TestWebhookBrokerDelivery(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	respondOn := map[string]func(n int) (int, string){}
	var mu sync.Mutex
	rc.setRespond(func(r *http.Request, n int) (int, string) {
		mu.Lock()
		f := respondOn[r.URL.Path]
		mu.Unlock()
		if f == nil {
			return 200, "ok"
		}
		return f(n)
	})
	on := func(path string, f func(n int) (int, string)) {
		mu.Lock()
		defer mu.Unlock()
		respondOn[path] = f
	}

	t.Run("success with the decrypted URL, auth header and exact payload", func(t *testing.T) {
		e := e.withT(t)
		_, d := e.hookAndEmit(rc, "/ok?token=abc", map[string]any{"auth_header": "Bearer tok-123"})
		e.tick()
		got := rc.requests("/ok?token=abc")
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(got))
		}
		if got[0].body != d.Payload || got[0].header.Get("Authorization") != "Bearer tok-123" ||
			got[0].header.Get("Content-Type") != "application/json" {
			t.Fatalf("request %+v, want body %s", got[0], d.Payload)
		}
		after := e.delivery(d.ID)
		if after.Status != "success" || after.Attempts != 1 || after.CompletedAt == nil || after.LastError != nil ||
			after.LastAttemptAt == nil || after.AcquiredUntil != nil || after.NextRetryAt != nil {
			t.Fatalf("after success %+v", after)
		}
		e.tick()
		if n := len(rc.requests("/ok?token=abc")); n != 1 {
			t.Fatalf("a finished delivery was sent again (%d requests)", n)
		}
	})

	t.Run("server error is retried with backoff, then succeeds", func(t *testing.T) {
		e := e.withT(t)
		on("/flaky", func(n int) (int, string) {
			if n == 1 {
				return 500, "boom"
			}
			return 204, ""
		})
		_, d := e.hookAndEmit(rc, "/flaky", nil)
		e.tick()
		failed := e.delivery(d.ID)
		if failed.Status != "failed" || failed.Attempts != 1 || failed.LastError == nil || *failed.LastError != "HTTP 500: boom" ||
			failed.NextRetryAt == nil || !near(*failed.NextRetryAt, time.Now().Add(2*time.Second), 1500*time.Millisecond) ||
			failed.AcquiredUntil != nil || failed.CompletedAt != nil {
			t.Fatalf("after a 500: %+v", failed)
		}
		e.tick()
		if n := len(rc.requests("/flaky")); n != 1 {
			t.Fatalf("retried before next_retry_at (%d requests)", n)
		}
		e.makeDue(d.ID)
		e.tick()
		done := e.delivery(d.ID)
		if done.Status != "success" || done.Attempts != 2 || done.LastError != nil || done.NextRetryAt != nil {
			t.Fatalf("after the retry: %+v", done)
		}
		if got := rc.requests("/flaky"); len(got) != 2 || got[0].body != got[1].body {
			t.Fatalf("retry requests %+v", got)
		}
	})

	t.Run("client error is final and audited", func(t *testing.T) {
		e := e.withT(t)
		on("/bad", func(int) (int, string) { return 400, "bad request" })
		sub, d := e.hookAndEmit(rc, "/bad", nil)
		e.tick()
		dead := e.delivery(d.ID)
		if dead.Status != "dead" || dead.Attempts != 1 || *dead.LastError != "HTTP 400: bad request" || dead.CompletedAt == nil {
			t.Fatalf("after a 400: %+v", dead)
		}
		rows := e.auditRows("webhook.delivery_failed")
		var found bool
		for _, r := range rows {
			var det map[string]any
			_ = json.Unmarshal(r.Details, &det)
			if det["delivery_id"] == d.ID.String() {
				found = true
				if r.ActorType != "system" || *r.ResourceID != sub.ID || det["attempts"] != 1.0 ||
					det["status_code"] != 400.0 || det["retryable"] != false || det["error"] != "HTTP 400: bad request" {
					t.Fatalf("audit row %+v %s", r, r.Details)
				}
			}
		}
		if !found {
			t.Fatal("no webhook.delivery_failed audit row")
		}
	})

	t.Run("retryable statuses until max_retries", func(t *testing.T) {
		e := e.withT(t)
		on("/down", func(int) (int, string) { return 503, "unavailable" })
		_, d := e.hookAndEmit(rc, "/down", map[string]any{"max_retries": 3})
		for attempt := 1; attempt <= 3; attempt++ {
			e.tick()
			got := e.delivery(d.ID)
			if got.Attempts != int32(attempt) {
				t.Fatalf("attempt %d: %+v", attempt, got)
			}
			if attempt < 3 {
				wantRetry := time.Now().Add(time.Duration(1<<attempt) * time.Second)
				if got.Status != "failed" || !near(*got.NextRetryAt, wantRetry, 1500*time.Millisecond) {
					t.Fatalf("attempt %d: %+v", attempt, got)
				}
				e.makeDue(d.ID)
			} else if got.Status != "dead" || got.NextRetryAt != nil || got.CompletedAt == nil {
				t.Fatalf("after max_retries: %+v", got)
			}
		}
		e.tick()
		if n := len(rc.requests("/down")); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
		for _, status := range []int{408, 425, 429} {
			path := fmt.Sprintf("/status-%d", status)
			on(path, func(int) (int, string) { return status, "" })
			_, d := e.hookAndEmit(rc, path, nil)
			e.tick()
			if got := e.delivery(d.ID); got.Status != "failed" {
				t.Fatalf("HTTP %d not retried: %+v", status, got)
			}
		}
		on("/gone", func(int) (int, string) { return 404, "" })
		_, gone := e.hookAndEmit(rc, "/gone", nil)
		e.tick()
		if got := e.delivery(gone.ID); got.Status != "dead" || *got.LastError != "HTTP 404: " {
			t.Fatalf("HTTP 404: %+v", got)
		}
	})

	t.Run("timeout is retryable", func(t *testing.T) {
		e := e.withT(t)
		on("/slow", func(int) (int, string) {
			time.Sleep(3 * time.Second)
			return 200, ""
		})
		_, d := e.hookAndEmit(rc, "/slow", map[string]any{"timeout_seconds": 1})
		start := time.Now()
		e.tick()
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Fatalf("tick took %s with a 1s timeout", took)
		}
		if got := e.delivery(d.ID); got.Status != "failed" || *got.LastError != "Request failed: timed out after 1s" {
			t.Fatalf("after a timeout: %+v", got)
		}
	})

	t.Run("transport errors do not reveal the URL", func(t *testing.T) {
		e := e.withT(t)
		sub := e.createWebhook(map[string]any{"name": "closed", "url": "http://127.0.0.1:1/secret-token-path", "event_types": []string{"agent.registered"}})
		e.createAgent("transport", "c")
		e.must(200, req{method: "PUT", path: v1path("webhooks", sub.ID), pak: e.admin, body: map[string]any{"enabled": false}})
		e.tick()
		d := e.listDeliveries(sub.ID, "")[0]
		if d.Status != "failed" || !strings.HasPrefix(*d.LastError, "Request failed: ") || strings.Contains(*d.LastError, "secret-token") {
			t.Fatalf("after a refused connection: %+v", d)
		}
	})

	t.Run("last_error keeps 200 characters of the body", func(t *testing.T) {
		e := e.withT(t)
		on("/verbose", func(int) (int, string) { return 502, strings.Repeat("é", 1000) + "\x00" })
		_, d := e.hookAndEmit(rc, "/verbose", nil)
		e.tick()
		if got := e.delivery(d.ID); *got.LastError != "HTTP 502: "+strings.Repeat("é", 200) {
			t.Fatalf("last_error %q", *got.LastError)
		}
	})

	t.Run("targeted deliveries are left to agents, empty targets are the broker's", func(t *testing.T) {
		e := e.withT(t)
		_, targeted := e.hookAndEmit(rc, "/targeted", map[string]any{"target_labels": []string{"env:prod"}})
		_, empty := e.hookAndEmit(rc, "/empty-targets", map[string]any{"target_labels": []string{}})
		e.tick()
		if got := e.delivery(targeted.ID); got.Status != "pending" || len(rc.requests("/targeted")) != 0 {
			t.Fatalf("the broker sent a targeted delivery: %+v", got)
		}
		if got := e.delivery(empty.ID); got.Status != "success" {
			t.Fatalf("delivery with empty target labels: %+v", got)
		}
	})

	t.Run("undecryptable secrets end the delivery", func(t *testing.T) {
		e := e.withT(t)
		before := e.metricValue(`brokkr_webhook_decrypt_failures_total{field="url",path="broker"}`)
		sub, d := e.hookAndEmit(rc, "/undecryptable", nil)
		e.whExec(`UPDATE webhook_subscriptions SET url_encrypted = '\x01000000000000000000000000000000000000000000'::bytea WHERE id = $1`, sub.ID)
		sub2, d2 := e.hookAndEmit(rc, "/undecryptable-auth", map[string]any{"auth_header": "x"})
		e.whExec(`UPDATE webhook_subscriptions SET auth_header_encrypted = '\x01ffff'::bytea WHERE id = $1`, sub2.ID)
		beforeAuth := e.metricValue(`brokkr_webhook_decrypt_failures_total{field="auth_header",path="broker"}`)
		e.tick()
		if got := e.delivery(d.ID); got.Status != "dead" || got.Attempts != 0 || !strings.HasPrefix(*got.LastError, "Failed to decrypt URL") {
			t.Fatalf("undecryptable URL: %+v", got)
		}
		if got := e.delivery(d2.ID); got.Status != "dead" || !strings.HasPrefix(*got.LastError, "Failed to decrypt auth header") {
			t.Fatalf("undecryptable auth header: %+v", got)
		}
		if len(rc.requests("/undecryptable")) != 0 || len(rc.requests("/undecryptable-auth")) != 0 {
			t.Fatal("an undecryptable delivery was sent")
		}
		if after := e.metricValue(`brokkr_webhook_decrypt_failures_total{field="url",path="broker"}`); after != before+1 {
			t.Fatalf("url decrypt failures %v → %v", before, after)
		}
		if after := e.metricValue(`brokkr_webhook_decrypt_failures_total{field="auth_header",path="broker"}`); after != beforeAuth+1 {
			t.Fatalf("auth_header decrypt failures %v → %v", beforeAuth, after)
		}
	})

	t.Run("cleanup deletes old finished deliveries", func(t *testing.T) {
		e := e.withT(t)
		sub, _ := e.hookAndEmit(rc, "/cleanup", map[string]any{"target_labels": []string{"x"}})
		e.whExec(`INSERT INTO webhook_deliveries (subscription_id, event_type, event_id, payload, status, created_at)
			SELECT $1, 'agent.registered', gen_random_uuid(), '{}', st, now() - age * interval '1 day'
			FROM unnest(ARRAY['success','dead','failed','pending','success'], ARRAY[8, 8, 8, 8, 6]) AS x(st, age)`, sub.ID)
		if !e.srv.RunWorkerOnce(context.Background(), "webhook-cleanup") {
			t.Fatal("webhook-cleanup did not run")
		}
		var left []string
		if err := e.db.Select(&left, `SELECT status || ':' || (created_at < now() - interval '7 days')::text
			FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY 1`, sub.ID); err != nil {
			t.Fatal(err)
		}
		if want := []string{"failed:true", "pending:false", "pending:true", "success:false"}; !slices.Equal(left, want) {
			t.Fatalf("after cleanup %v, want %v", left, want)
		}
	})
}

// TestWebhookTestEndpoint covers POST /webhooks/{id}/test against a real receiver.
func TestWebhookTestEndpoint(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	rc.setRespond(func(r *http.Request, _ int) (int, string) {
		switch r.URL.Path {
		case "/accepted":
			return 202, ""
		case "/broken":
			return 500, strings.Repeat("x", 600)
		}
		return 200, ""
	})
	sub := e.createWebhook(map[string]any{"name": "t", "url": rc.URL + "/accepted", "auth_header": "Token abc",
		"event_types": []string{"*"}, "target_labels": []string{"nobody"}})
	var ok client.WebhookTestResponse
	e.must(200, req{method: "POST", path: v1path("webhooks", sub.ID, "test"), pak: e.admin}).decode(t, &ok)
	if !ok.Success || ok.StatusCode != 202 || ok.Message != "Test delivery successful" {
		t.Fatalf("test response %+v", ok)
	}
	got := rc.requests("/accepted")
	if len(got) != 1 || got[0].header.Get("Authorization") != "Token abc" || got[0].header.Get("Content-Type") != "application/json" {
		t.Fatalf("test request %+v", got)
	}
	var ev struct {
		ID        uuid.UUID `json:"id"`
		Type      string    `json:"event_type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			Message        string    `json:"message"`
			SubscriptionID uuid.UUID `json:"subscription_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(got[0].body), &ev); err != nil || ev.Type != "webhook.test" || ev.ID == uuid.Nil ||
		ev.Data.SubscriptionID != sub.ID || ev.Data.Message != "This is a test webhook delivery from Brokkr" ||
		!near(ev.Timestamp, time.Now(), 5*time.Second) {
		t.Fatalf("test event %s (%v)", got[0].body, err)
	}

	e.must(200, req{method: "PUT", path: v1path("webhooks", sub.ID), pak: e.admin, body: map[string]any{"url": rc.URL + "/broken"}})
	var fail client.ErrorBody
	e.expectError(400, "webhook_test_failed", req{method: "POST", path: v1path("webhooks", sub.ID, "test"), pak: e.admin}).decode(t, &fail)
	if fail.Details["status_code"] != 500.0 || fail.Details["body"] != strings.Repeat("x", 500) {
		t.Fatalf("failed test details %v", fail.Details)
	}

	e.must(200, req{method: "PUT", path: v1path("webhooks", sub.ID), pak: e.admin, body: map[string]any{"url": "http://127.0.0.1:1/x"}})
	var transport client.ErrorBody
	e.expectError(400, "webhook_test_failed", req{method: "POST", path: v1path("webhooks", sub.ID, "test"), pak: e.admin}).decode(t, &transport)
	if transport.Details != nil || !strings.HasPrefix(transport.Message, "request failed: ") || strings.Contains(transport.Message, "127.0.0.1") {
		t.Fatalf("transport failure %+v", transport)
	}

	e.whExec(`UPDATE webhook_subscriptions SET url_encrypted = '\x01abcdef'::bytea WHERE id = $1`, sub.ID)
	e.expectError(500, "internal_error", req{method: "POST", path: v1path("webhooks", sub.ID, "test"), pak: e.admin})
	e.expectError(404, "webhook_not_found", req{method: "POST", path: v1path("webhooks", uuid.New(), "test"), pak: e.admin})
	if n := len(e.listDeliveries(sub.ID, "")); n != 0 {
		t.Fatalf("tests recorded %d deliveries", n)
	}
}

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

// blockingReceiver holds every request until release is closed, then answers 200.
func blockingReceiver(t *testing.T) (*receiver, chan struct{}) {
	rc := newReceiver(t)
	release := make(chan struct{})
	rc.setRespond(func(r *http.Request, _ int) (int, string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200, ""
	})
	return rc, release
}

// waitRequests waits until the receiver has n requests.
func waitRequests(t *testing.T, rc *receiver, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d requests", n), func() bool { return len(rc.requests("")) >= n })
}

func eventIDs(t *testing.T, rs []received) map[uuid.UUID]int {
	t.Helper()
	out := map[uuid.UUID]int{}
	for _, r := range rs {
		var ev struct {
			ID uuid.UUID `json:"id"`
		}
		if err := json.Unmarshal([]byte(r.body), &ev); err != nil {
			t.Fatalf("request body %q: %v", r.body, err)
		}
		out[ev.ID]++
	}
	return out
}

// TestWebhookDeliveryAcrossBrokerStop stops a broker in the middle of sending: it hands its
// deliveries back, and another replica delivers them.
func TestWebhookDeliveryAcrossBrokerStop(t *testing.T) {
	e := newEnv(t, withWebhookKey)
	rc, release := blockingReceiver(t)
	sub := e.createWebhook(map[string]any{"name": "stop", "url": rc.URL, "event_types": []string{"agent.registered"}})
	for i := range 5 {
		e.createAgent(fmt.Sprint("stop-", i), "c")
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		e.srv.RunWorkerOnce(ctx, "webhook-delivery")
	}()
	waitRequests(t, rc, 5)
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'acquired'`); n != 5 {
		t.Fatalf("%d deliveries acquired while sending, want 5", n)
	}
	stop()
	<-ran
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempts = 0`); n != 5 {
		t.Fatalf("%d deliveries handed back untouched, want 5: %+v", n, e.listDeliveries(sub.ID, ""))
	}
	close(release)
	b := e.replica()
	b.tick()
	for _, d := range e.listDeliveries(sub.ID, "") {
		if d.Status != "success" || d.Attempts != 1 {
			t.Fatalf("after the other replica's run: %+v", d)
		}
	}
	if ids := eventIDs(t, rc.requests("")); len(ids) != 5 {
		t.Fatalf("%d distinct events received, want 5", len(ids))
	}
}

// TestWebhookDeliveryAcrossBrokerCrash kills a broker's database access after it sent but
// before it recorded the outcome: its claims stay, run out, and another replica delivers again.
func TestWebhookDeliveryAcrossBrokerCrash(t *testing.T) {
	e := newEnv(t, withWebhookKey, func(c *config.Broker) { c.Broker.WebhookClaimTTLSeconds = 1 })
	rc, release := blockingReceiver(t)
	sub := e.createWebhook(map[string]any{"name": "crash", "url": rc.URL, "event_types": []string{"agent.registered"}, "timeout_seconds": 1})
	for i := range 5 {
		e.createAgent(fmt.Sprint("crash-", i), "c")
	}

	ctx := context.Background()
	poolA, err := db.Open(ctx, e.db.URL(), db.Options{MaxConnections: 4})
	if err != nil {
		t.Fatal(err)
	}
	a, err := server.New(server.Options{Config: e.cfg, DB: poolA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if _, err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		a.RunWorkerOnce(ctx, "webhook-delivery")
	}()
	waitRequests(t, rc, 5)
	_ = poolA.Close() // the crash: A can no longer record anything
	close(release)
	<-ran

	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'acquired'`); n != 5 {
		t.Fatalf("%d deliveries still claimed by the crashed broker, want 5", n)
	}
	e.tick() // the claims have not run out yet
	if n := len(rc.requests("")); n != 5 {
		t.Fatalf("claimed deliveries sent again before their claim ran out (%d requests)", n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'success'`) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries of the crashed broker were not redelivered: %+v", e.listDeliveries(sub.ID, ""))
		}
		time.Sleep(200 * time.Millisecond)
		e.tick()
	}
	ids := eventIDs(t, rc.requests(""))
	if len(ids) != 5 {
		t.Fatalf("%d distinct events received, want 5", len(ids))
	}
	for id, n := range ids {
		if n != 2 {
			t.Fatalf("event %s received %d times, want 2 (once by each broker)", id, n)
		}
	}
}
