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
