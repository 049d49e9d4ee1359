package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
	"github.com/brokkr/brokkr/server/events"
)

// Helpers of the webhook tests.

const testWebhookKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// withWebhookKey configures a fixed webhook encryption key, so replicas can read each other's
// subscriptions.
func withWebhookKey(c *config.Broker) { c.Broker.WebhookEncryptionKey = testWebhookKey }

func (e *env) createWebhook(body map[string]any) client.WebhookResponse {
	e.t.Helper()
	var out client.WebhookResponse
	e.must(201, req{method: "POST", path: "/api/v1/webhooks", pak: e.admin, body: body}).decode(e.t, &out)
	return out
}

func (e *env) listDeliveries(sub uuid.UUID, query string) []client.WebhookDelivery {
	e.t.Helper()
	var out []client.WebhookDelivery
	e.must(200, req{method: "GET", path: v1path("webhooks", sub, "deliveries") + query, pak: e.admin}).decode(e.t, &out)
	return out
}

func (e *env) delivery(id uuid.UUID) client.WebhookDelivery {
	e.t.Helper()
	var sub uuid.UUID
	if err := e.db.Get(&sub, `SELECT subscription_id FROM webhook_deliveries WHERE id = $1`, id); err != nil {
		e.t.Fatalf("delivery %s: %v", id, err)
	}
	for _, d := range e.listDeliveries(sub, "?limit=1000") {
		if d.ID == id {
			return d
		}
	}
	e.t.Fatalf("delivery %s not listed", id)
	return client.WebhookDelivery{}
}

func (e *env) whCount(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (e *env) whExec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.db.Exec(query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// tick runs one webhook-delivery worker run on the env's broker.
func (e *env) tick() {
	e.t.Helper()
	if !e.srv.RunWorkerOnce(context.Background(), "webhook-delivery") {
		e.t.Fatal("webhook-delivery worker did not run")
	}
}

type auditRow struct {
	ActorType  string     `db:"actor_type"`
	ResourceID *uuid.UUID `db:"resource_id"`
	Details    []byte     `db:"details"`
}

// auditRows returns the audit rows of an action, oldest first.
func (e *env) auditRows(action string) []auditRow {
	e.t.Helper()
	e.srv.FlushAudit(context.Background())
	var out []auditRow
	if err := e.db.Select(&out, `SELECT actor_type, resource_id, details FROM audit_logs WHERE action = $1
		ORDER BY timestamp, id`, action); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   string
}

// receiver is a real HTTP endpoint for webhooks. respond decides each answer (nil: 200).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(r *http.Request, n int) (int, string) // n counts requests to the same path, from 1
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{path: r.URL.RequestURI(), header: r.Header.Clone(), body: string(body)})
		n := 0
		for _, g := range rc.got {
			if g.path == r.URL.RequestURI() {
				n++
			}
		}
		respond := rc.respond
		rc.mu.Unlock()
		status, text := http.StatusOK, "ok"
		if respond != nil {
			status, text = respond(r, n)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// requests returns what was received on a path (all paths when path is "").
func (rc *receiver) requests(path string) []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []received
	for _, g := range rc.got {
		if path == "" || g.path == path {
			out = append(out, g)
		}
	}
	return out
}

func (rc *receiver) setRespond(f func(r *http.Request, n int) (int, string)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.respond = f
}

// TestWebhookSubscriptionAPI covers the subscription management operations.
func TestWebhookSubscriptionAPI(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/webhooks"
	valid := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "hook", "url": "https://hooks.example.com/secret-path?token=s3cr3t", "event_types": []string{"agent.*"}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}

	t.Run("event types", func(t *testing.T) {
		e := e.withT(t)
		var got []string
		e.must(200, req{method: "GET", path: base + "/event-types", pak: e.admin}).decode(t, &got)
		want := []string{"agent.registered", "agent.deregistered", "stack.created", "stack.deleted",
			"deployment.created", "deployment.applied", "deployment.failed", "deployment.deleted",
			"workorder.created", "workorder.claimed", "workorder.completed", "workorder.failed", "deployment.drifted",
			"rollout.started", "rollout.wave_completed", "rollout.halted", "rollout.completed", "rollout.aborted"}
		if !slices.Equal(got, want) {
			t.Fatalf("event types %v, want %v", got, want)
		}
	})

	t.Run("create with defaults hides the secrets", func(t *testing.T) {
		e := e.withT(t)
		r := e.must(201, req{method: "POST", path: base, pak: e.admin, body: valid(map[string]any{"auth_header": "Bearer hidden-token"})})
		for _, secret := range []string{"secret-path", "s3cr3t", "hidden-token"} {
			if strings.Contains(string(r.body), secret) {
				t.Fatalf("response reveals %q: %s", secret, r.body)
			}
		}
		var w client.WebhookResponse
		r.decode(t, &w)
		if !w.HasURL || !w.HasAuthHeader || !w.Enabled || w.MaxRetries != 5 || w.TimeoutSeconds != 30 ||
			w.CreatedBy == nil || *w.CreatedBy != "admin" || w.Filters != nil || w.TargetLabels != nil ||
			!slices.Equal(w.EventTypes, []string{"agent.*"}) {
			t.Fatalf("created %+v", w)
		}
		var raw map[string]json.RawMessage
		r.decode(t, &raw)
		if string(raw["filters"]) != "null" || string(raw["target_labels"]) != "null" {
			t.Fatalf("filters/target_labels not explicit null: %s", r.body)
		}
		var enc []byte
		if err := e.db.Get(&enc, `SELECT url_encrypted FROM webhook_subscriptions WHERE id = $1`, w.ID); err != nil {
			t.Fatal(err)
		}
		if enc[0] != 0x01 || len(enc) != 1+12+len(valid(nil)["url"].(string))+16 || strings.Contains(string(enc), "s3cr3t") {
			t.Fatalf("stored URL is not AES-GCM sealed: %x", enc)
		}
	})

	t.Run("create keeps empty target labels, filters and settings", func(t *testing.T) {
		e := e.withT(t)
		agent := uuid.New()
		r := e.must(201, req{method: "POST", path: base, pak: e.admin, body: valid(map[string]any{
			"target_labels": []string{}, "filters": map[string]any{"agent_id": agent, "stack_id": nil},
			"max_retries": 0, "timeout_seconds": 300})})
		var raw map[string]json.RawMessage
		r.decode(t, &raw)
		if string(raw["target_labels"]) != "[]" {
			t.Fatalf("target_labels %s, want []", raw["target_labels"])
		}
		if string(raw["filters"]) != `{"agent_id":"`+agent.String()+`"}` {
			t.Fatalf("filters %s", raw["filters"])
		}
		var w client.WebhookResponse
		r.decode(t, &w)
		if w.HasAuthHeader || w.MaxRetries != 0 || w.TimeoutSeconds != 300 {
			t.Fatalf("created %+v", w)
		}
		if n := e.whCount(`SELECT count(*) FROM webhook_subscriptions WHERE id = $1 AND target_labels = '{}'`, w.ID); n != 1 {
			t.Fatal("empty target_labels not stored as an empty array")
		}
	})

	t.Run("create validation order", func(t *testing.T) {
		e := e.withT(t)
		cases := []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"validate first, whatever else is wrong", map[string]any{"validate": nil, "filters": map[string]any{"labels": []string{}}}, 422, "unsupported_field", "validate"},
			{"filters.labels before shape", map[string]any{"name": 1, "filters": map[string]any{"labels": nil}}, 422, "unsupported_field", "filters.labels"},
			{"wrong type", valid(map[string]any{"name": 5}), 422, "invalid_request_body", ""},
			{"missing event_types", map[string]any{"name": "n", "url": "http://x"}, 422, "invalid_request_body", ""},
			{"null url", valid(map[string]any{"url": nil}), 422, "invalid_request_body", ""},
			{"null event type", valid(map[string]any{"event_types": []any{"a", nil}}), 422, "invalid_request_body", ""},
			{"bad filter uuid", valid(map[string]any{"filters": map[string]any{"agent_id": "nope"}}), 422, "invalid_request_body", ""},
			{"not an object", []string{"x"}, 422, "invalid_request_body", ""},
			{"blank url before name", valid(map[string]any{"url": "  ", "name": "", "max_retries": 99}), 400, "url_required", ""},
			{"scheme", valid(map[string]any{"url": "ftp://x", "name": ""}), 400, "invalid_url_scheme", ""},
			{"blank name before ranges", valid(map[string]any{"name": " ", "max_retries": 99}), 400, "invalid_webhook", ""},
			{"long name", valid(map[string]any{"name": strings.Repeat("n", 256)}), 400, "invalid_webhook", ""},
			{"no event types", valid(map[string]any{"event_types": []string{}}), 400, "invalid_webhook", ""},
			{"max_retries high", valid(map[string]any{"max_retries": 11}), 422, "invalid_webhook", ""},
			{"max_retries negative", valid(map[string]any{"max_retries": -1}), 422, "invalid_webhook", ""},
			{"timeout zero", valid(map[string]any{"timeout_seconds": 0}), 422, "invalid_webhook", ""},
			{"timeout high", valid(map[string]any{"timeout_seconds": 301}), 422, "invalid_webhook", ""},
		}
		for _, c := range cases {
			r := e.expectError(c.status, c.code, req{method: "POST", path: base, pak: e.admin, body: c.body})
			if c.field != "" {
				var b client.ErrorBody
				r.decode(t, &b)
				if b.Details["field"] != c.field || b.Details["use_instead"] == nil {
					t.Errorf("%s: details %v", c.name, b.Details)
				}
			}
		}
		e.must(400, req{method: "POST", path: base, pak: e.admin, body: "{not json", contentType: "application/json"})
		e.must(415, req{method: "POST", path: base, pak: e.admin, body: `{}`, contentType: "text/plain"})
		e.must(201, req{method: "POST", path: base, pak: e.admin, body: valid(map[string]any{"name": strings.Repeat("n", 255), "url": "http://x"})})
	})

	t.Run("list get update delete", func(t *testing.T) {
		e := e.withT(t)
		e.whExec(`DELETE FROM webhook_subscriptions`)
		first := e.createWebhook(valid(map[string]any{"name": "first"}))
		second := e.createWebhook(valid(map[string]any{"name": "second"}))
		var list []client.WebhookResponse
		e.must(200, req{method: "GET", path: base, pak: e.admin}).decode(t, &list)
		if len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
			t.Fatalf("list not newest first: %+v", list)
		}

		var got client.WebhookResponse
		e.must(200, req{method: "GET", path: v1path("webhooks", first.ID), pak: e.admin}).decode(t, &got)
		if got.ID != first.ID || got.Name != "first" {
			t.Fatalf("get %+v", got)
		}
		e.expectError(404, "webhook_not_found", req{method: "GET", path: v1path("webhooks", uuid.New()), pak: e.admin})
		e.must(400, req{method: "GET", path: base + "/not-a-uuid", pak: e.admin})

		// Only present, non-null keys change; validate is an ordinary unknown key here.
		var upd client.WebhookResponse
		e.must(200, req{method: "PUT", path: v1path("webhooks", first.ID), pak: e.admin, body: map[string]any{
			"validate": true, "name": "renamed", "enabled": false, "auth_header": "Bearer x", "url": nil,
			"max_retries": 10, "timeout_seconds": 1, "target_labels": []string{}, "event_types": []string{"*"},
			"filters": map[string]any{"stack_id": first.ID}}}).decode(t, &upd)
		if upd.Name != "renamed" || upd.Enabled || !upd.HasAuthHeader || !upd.HasURL || upd.MaxRetries != 10 ||
			upd.TimeoutSeconds != 1 || upd.TargetLabels == nil || len(upd.TargetLabels) != 0 ||
			!slices.Equal(upd.EventTypes, []string{"*"}) || upd.Filters == nil || *upd.Filters.StackID != first.ID ||
			upd.Filters.AgentID != nil || !upd.UpdatedAt.After(first.UpdatedAt) {
			t.Fatalf("updated %+v", upd)
		}
		e.must(200, req{method: "PUT", path: v1path("webhooks", first.ID), pak: e.admin, body: map[string]any{
			"name": nil, "auth_header": nil, "target_labels": nil, "filters": nil}}).decode(t, &upd)
		if upd.Name != "renamed" || !upd.HasAuthHeader || upd.TargetLabels == nil || upd.Filters == nil {
			t.Fatalf("nulls changed columns: %+v", upd)
		}

		id := v1path("webhooks", first.ID)
		e.expectError(422, "unsupported_field", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"filters": map[string]any{"labels": []string{"x"}}}})
		e.expectError(422, "invalid_request_body", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"enabled": "yes"}})
		e.expectError(404, "webhook_not_found", req{method: "PUT", path: v1path("webhooks", uuid.New()), pak: e.admin, body: map[string]any{"max_retries": 99}})
		e.expectError(422, "invalid_webhook", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"max_retries": 11}})
		e.expectError(422, "invalid_webhook", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"timeout_seconds": 0}})
		// Held to the create rules (a deliberate difference from the reference).
		e.expectError(400, "invalid_webhook", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"name": ""}})
		e.expectError(400, "invalid_webhook", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"event_types": []string{}}})
		e.expectError(400, "invalid_url_scheme", req{method: "PUT", path: id, pak: e.admin, body: map[string]any{"url": "file:///etc/passwd"}})

		e.must(204, req{method: "DELETE", path: id, pak: e.admin})
		e.expectError(404, "webhook_not_found", req{method: "DELETE", path: id, pak: e.admin})
		e.expectError(404, "webhook_not_found", req{method: "GET", path: id, pak: e.admin})

		created := e.auditRows("webhook.created")
		last := created[len(created)-1]
		var details struct {
			Name       string   `json:"name"`
			EventTypes []string `json:"event_types"`
		}
		if err := json.Unmarshal(last.Details, &details); err != nil || details.Name != "second" ||
			!slices.Equal(details.EventTypes, []string{"agent.*"}) || last.ActorType != "admin" || *last.ResourceID != second.ID {
			t.Fatalf("webhook.created audit: %+v %s", last, last.Details)
		}
		updated := e.auditRows("webhook.updated")
		if len(updated) != 2 || !strings.Contains(string(updated[0].Details), `"enabled": false`) &&
			!strings.Contains(string(updated[0].Details), `"enabled":false`) {
			t.Fatalf("webhook.updated audit: %d rows, first %s", len(updated), updated[0].Details)
		}
		if deleted := e.auditRows("webhook.deleted"); len(deleted) != 1 || *deleted[0].ResourceID != first.ID {
			t.Fatalf("webhook.deleted audit: %+v", deleted)
		}
	})

	t.Run("deliveries list", func(t *testing.T) {
		e := e.withT(t)
		sub := e.createWebhook(valid(map[string]any{"event_types": []string{"agent.registered"}, "target_labels": []string{"nobody"}}))
		for i := range 3 {
			e.createAgent("dl-"+string(rune('a'+i)), "c")
		}
		all := e.listDeliveries(sub.ID, "")
		if len(all) != 3 || !all[0].CreatedAt.After(all[2].CreatedAt) {
			t.Fatalf("deliveries %+v", all)
		}
		e.whExec(`UPDATE webhook_deliveries SET status = 'dead' WHERE id = $1`, all[1].ID)
		if got := e.listDeliveries(sub.ID, "?status=dead"); len(got) != 1 || got[0].ID != all[1].ID {
			t.Fatalf("status filter: %+v", got)
		}
		if got := e.listDeliveries(sub.ID, "?status=success"); len(got) != 0 {
			t.Fatalf("status filter: %+v", got)
		}
		if got := e.listDeliveries(sub.ID, "?limit=1&offset=1"); len(got) != 1 || got[0].ID != all[1].ID {
			t.Fatalf("limit/offset: %+v", got)
		}
		e.expectError(400, "invalid_parameter", req{method: "GET", path: v1path("webhooks", sub.ID, "deliveries") + "?limit=-1", pak: e.admin})
		e.expectError(404, "webhook_not_found", req{method: "GET", path: v1path("webhooks", uuid.New(), "deliveries"), pak: e.admin})

		// Deleting the subscription removes its deliveries.
		e.must(204, req{method: "DELETE", path: v1path("webhooks", sub.ID), pak: e.admin})
		if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1`, sub.ID); n != 0 {
			t.Fatalf("%d deliveries survive their subscription", n)
		}
	})

	t.Run("admin only", func(t *testing.T) {
		e := e.withT(t)
		sub := e.createWebhook(valid(nil))
		agent := e.createAgent("authz", "c")
		gen := e.createGenerator("authz-gen")
		id := v1path("webhooks", sub.ID)
		calls := []req{
			{method: "GET", path: base}, {method: "GET", path: base + "/event-types"},
			{method: "POST", path: base, body: valid(nil)}, {method: "GET", path: id},
			{method: "PUT", path: id, body: map[string]any{"name": "x"}}, {method: "DELETE", path: id},
			{method: "GET", path: id + "/deliveries"}, {method: "POST", path: id + "/test"},
		}
		for _, key := range []string{agent.pak, gen.pak} {
			for _, c := range calls {
				c.pak = key
				e.expectError(403, "admin_required", c)
			}
		}
		ro := e.srv.ReadOnlyPAK()
		e.must(200, req{method: "GET", path: base, pak: ro})
		e.must(200, req{method: "GET", path: id, pak: ro})
		e.must(200, req{method: "GET", path: id + "/deliveries", pak: ro})
		e.must(403, req{method: "POST", path: base, pak: ro, body: valid(nil)})
		e.must(403, req{method: "DELETE", path: id, pak: ro})
		e.must(401, req{method: "GET", path: base})
	})
}

// emitted summarises a delivery for the emission tests.
type emitted struct {
	typ   string
	data  map[string]any
	event uuid.UUID
}

func (e *env) emittedTo(sub uuid.UUID) []emitted {
	e.t.Helper()
	var out []emitted
	for _, d := range e.listDeliveries(sub, "?limit=1000") {
		var env map[string]json.RawMessage
		if err := json.Unmarshal([]byte(d.Payload), &env); err != nil {
			e.t.Fatalf("payload %q: %v", d.Payload, err)
		}
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"data", "event_type", "id", "timestamp"}) {
			e.t.Fatalf("envelope keys %v", keys)
		}
		var ev struct {
			ID        uuid.UUID      `json:"id"`
			Type      string         `json:"event_type"`
			Timestamp time.Time      `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
			e.t.Fatal(err)
		}
		if ev.ID != d.EventID || ev.Type != d.EventType || d.Status != "pending" || d.Attempts != 0 {
			e.t.Fatalf("delivery %+v does not match its payload %+v", d, ev)
		}
		out = append(out, emitted{typ: ev.Type, data: ev.Data, event: ev.ID})
	}
	slices.Reverse(out) // oldest first
	return out
}

func types(es []emitted) []string {
	out := make([]string, len(es))
	for i, x := range es {
		out[i] = x.typ
	}
	return out
}

// TestWebhookEmission drives every event type the API emits today through subscriptions with
// patterns, filters, targeting and a disabled one, and checks what was queued for each.
func TestWebhookEmission(t *testing.T) {
	e := newEnv(t)
	target := []string{"nobody:here"} // keeps the broker worker away from these rows
	all := e.createWebhook(map[string]any{"name": "all", "url": "http://x", "event_types": []string{"*"}, "target_labels": target})
	agents := e.createWebhook(map[string]any{"name": "agents", "url": "http://x", "event_types": []string{"agent.*"}, "target_labels": target})
	exact := e.createWebhook(map[string]any{"name": "exact", "url": "http://x", "event_types": []string{"stack.created", "deployment.applied"}, "target_labels": target})
	disabled := e.createWebhook(map[string]any{"name": "off", "url": "http://x", "event_types": []string{"*"}, "target_labels": target})
	e.must(200, req{method: "PUT", path: v1path("webhooks", disabled.ID), pak: e.admin, body: map[string]any{"enabled": false}})
	broken := e.createWebhook(map[string]any{"name": "broken", "url": "http://x", "event_types": []string{"*"}, "target_labels": target})
	e.whExec(`UPDATE webhook_subscriptions SET filters = 'not json' WHERE id = $1`, broken.ID)
	emptyFilter := e.createWebhook(map[string]any{"name": "empty", "url": "http://x", "event_types": []string{"stack.*"}, "target_labels": target})
	e.whExec(`UPDATE webhook_subscriptions SET filters = '' WHERE id = $1`, emptyFilter.ID)

	a := e.createAgent("emit-agent", "c1")
	byAgent := e.createWebhook(map[string]any{"name": "by-agent", "url": "http://x", "event_types": []string{"*"},
		"filters": map[string]any{"agent_id": a.agent.ID}, "target_labels": target})
	g := e.createGenerator("emit-gen")
	s := e.createStack("emit-stack", g.gen.ID, g.pak)
	byStack := e.createWebhook(map[string]any{"name": "by-stack", "url": "http://x", "event_types": []string{"deployment.*", "stack.*"},
		"filters": map[string]any{"stack_id": s.ID}, "target_labels": []string{"env:prod", "tier:web"}})
	other := e.createStack("other-stack", g.gen.ID, g.pak)

	obj := e.createObject(s.ID, g.pak, cmYAML)
	e.reportEvent(a, obj.ID, "SUCCESS")
	e.reportEvent(a, obj.ID, "FAILURE")
	e.createObject(other.ID, g.pak, cmYAML)
	e.must(204, req{method: "DELETE", path: v1path("stacks", s.ID), pak: g.pak})
	e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID), pak: e.admin})

	check := func(name string, sub uuid.UUID, want ...string) []emitted {
		t.Helper()
		got := e.emittedTo(sub)
		if !slices.Equal(types(got), want) {
			t.Errorf("%s received %v, want %v", name, types(got), want)
		}
		return got
	}
	everything := check("all", all.ID, "agent.registered", "stack.created", "stack.created", "deployment.created",
		"deployment.applied", "deployment.failed", "deployment.created", "stack.deleted", "agent.deregistered")
	check("agents", agents.ID, "agent.registered", "agent.deregistered")
	check("exact", exact.ID, "stack.created", "stack.created", "deployment.applied")
	check("disabled", disabled.ID)
	check("unparseable filters", broken.ID)
	check("empty filters", emptyFilter.ID, "stack.created", "stack.created", "stack.deleted")
	check("agent filter", byAgent.ID, "deployment.applied", "deployment.failed", "agent.deregistered")
	stackOnly := check("stack filter", byStack.ID, "deployment.created", "deployment.applied", "deployment.failed", "stack.deleted")

	// Payload data is the event's, with ids as strings.
	reg := everything[0].data
	if reg["agent_id"] != a.agent.ID.String() || reg["name"] != "emit-agent" || reg["cluster_name"] != "c1" || reg["status"] != "INACTIVE" {
		t.Errorf("agent.registered data %v", reg)
	}
	created := everything[3].data
	if created["deployment_object_id"] != obj.ID.String() || created["stack_id"] != s.ID.String() || created["sequence_id"] == nil {
		t.Errorf("deployment.created data %v", created)
	}
	applied := everything[4].data
	if applied["agent_id"] != a.agent.ID.String() || applied["stack_id"] != s.ID.String() || applied["status"] != "SUCCESS" {
		t.Errorf("deployment.applied data %v", applied)
	}
	// One emission shares its event id across subscriptions.
	if stackOnly[1].event != everything[4].event {
		t.Error("deliveries of one event carry different event ids")
	}
	// Target labels are copied from the subscription.
	for _, d := range e.listDeliveries(byStack.ID, "") {
		if !slices.Equal(d.TargetLabels, []string{"env:prod", "tier:web"}) || d.AcquiredBy != nil {
			t.Fatalf("delivery targeting %+v", d)
		}
	}
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
		WHERE d.target_labels IS DISTINCT FROM s.target_labels`); n != 0 {
		t.Errorf("%d deliveries differ from their subscription's target labels", n)
	}
}

// TestWebhookEmissionRollsBackWithItsWrite checks deliveries are part of the transaction of the
// write that caused them: when that write fails after emitting, nothing is queued.
func TestWebhookEmissionRollsBackWithItsWrite(t *testing.T) {
	e := newEnv(t)
	sub := e.createWebhook(map[string]any{"name": "all", "url": "http://x", "event_types": []string{"*"}, "target_labels": []string{"x"}})
	e.srv.Bus().AddTxHook(func(_ context.Context, _ db.Queryer, ev events.Event) error {
		if ev.Data["name"] == "doomed" {
			return errors.New("refused after emission")
		}
		return nil
	})
	e.must(500, req{method: "POST", path: "/api/v1/agents", pak: e.admin, body: map[string]any{"name": "doomed", "cluster_name": "c"}})
	if n := e.whCount(`SELECT count(*) FROM agents WHERE name = 'doomed'`); n != 0 {
		t.Fatal("the failed write was committed")
	}
	if n := len(e.listDeliveries(sub.ID, "")); n != 0 {
		t.Fatalf("%d deliveries survive the rolled-back write", n)
	}
	e.createAgent("kept", "c")
	if n := len(e.listDeliveries(sub.ID, "")); n != 1 {
		t.Fatalf("%d deliveries for a committed write, want 1", n)
	}
}

// TestWebhookKeyCheckAtStart covers the start-up rules of broker.webhook_encryption_key.
func TestWebhookKeyCheckAtStart(t *testing.T) {
	e := newEnv(t)
	boot := func(key string) error {
		cfg := e.cfg
		cfg.Broker.WebhookEncryptionKey = key
		srv, err := server.New(server.Options{Config: cfg, DB: e.db})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		_, err = srv.Bootstrap(context.Background())
		return err
	}
	if err := boot(""); err != nil {
		t.Fatalf("no key and no subscriptions: %v", err)
	}
	e.createWebhook(map[string]any{"name": "h", "url": "http://x", "event_types": []string{"*"}})
	err := boot("")
	if err == nil || !strings.Contains(err.Error(), "set broker.webhook_encryption_key") {
		t.Fatalf("no key over existing subscriptions: %v", err)
	}
	if err := boot(testWebhookKey); err != nil {
		t.Fatalf("with a key: %v", err)
	}
	if err := boot("abcd"); err == nil || !strings.Contains(err.Error(), "broker.webhook_encryption_key") {
		t.Fatalf("malformed key accepted: %v", err)
	}
}
