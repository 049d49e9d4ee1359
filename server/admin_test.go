package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
)

func TestAuditLogQuery(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := e.createGenerator("ci")
	a := e.createAgent("a1", "c1")
	s := e.createStack("web", g.gen.ID, g.pak)
	e.must(204, req{method: "DELETE", path: v1path("stacks", s.ID), pak: g.pak})
	e.must(200, req{method: "POST", path: v1path("agents", a.agent.ID, "rotate-pak"), pak: e.admin})
	e.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/agents", pak: "brokkr_BRxxxxxx_unknownkey",
		headers: map[string]string{"X-Forwarded-For": "203.0.113.7, 10.0.0.1", "User-Agent": "probe/1.0"}})
	e.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/agents", pak: "malformed"}) // not audited
	e.srv.FlushAudit(ctx)

	list := func(query string) client.AuditLogList {
		t.Helper()
		var out client.AuditLogList
		e.must(200, req{method: "GET", path: "/api/v1/admin/audit-logs" + query, pak: e.admin}).decode(t, &out)
		return out
	}
	all := list("")
	actions := map[string]int{}
	for _, l := range all.Logs {
		actions[l.Action]++
	}
	want := map[string]int{"generator.created": 1, "pak.created": 2, "agent.created": 1, "stack.created": 1,
		"stack.deleted": 1, "pak.rotated": 1, "auth.failed": 1}
	for k, n := range want {
		if actions[k] != n {
			t.Errorf("%s: %d rows, want %d (all: %v)", k, actions[k], n, actions)
		}
	}
	if all.Total != int64(len(all.Logs)) || all.Count != len(all.Logs) || all.Limit != 100 || all.Offset != 0 {
		t.Fatalf("page meta: %+v", all)
	}
	for i := 1; i < len(all.Logs); i++ {
		if all.Logs[i].Timestamp.After(all.Logs[i-1].Timestamp) {
			t.Fatal("logs not newest first")
		}
	}

	// Filters.
	gen := list("?actor_type=generator")
	if gen.Total != 2 {
		t.Fatalf("generator actions: %+v", gen)
	}
	for _, l := range gen.Logs {
		if l.ActorName == nil || *l.ActorName != "ci" || l.ActorID == nil || *l.ActorID != g.gen.ID {
			t.Fatalf("generator actor: %+v", l)
		}
	}
	if p := list("?action=pak.*"); p.Total != 3 {
		t.Fatalf("prefix filter: %d rows", p.Total)
	}
	if r := list("?resource_type=stack&resource_id=" + s.ID.String()); r.Total != 2 {
		t.Fatalf("resource filter: %d rows", r.Total)
	}
	failed := list("?action=auth.failed")
	if failed.Total != 1 {
		t.Fatalf("auth.failed rows: %d", failed.Total)
	}
	f := failed.Logs[0]
	var details map[string]string
	if err := json.Unmarshal(f.Details, &details); err != nil {
		t.Fatal(err)
	}
	if f.ActorType != "system" || f.ActorName == nil || *f.ActorName != "system" || f.IPAddress == nil || *f.IPAddress != "203.0.113.7" ||
		f.UserAgent == nil || *f.UserAgent != "probe/1.0" || details["path"] != "/api/v1/agents" || details["reason"] != "invalid_pak" {
		t.Fatalf("auth.failed row: %+v details %s", f, f.Details)
	}
	admin := list("?actor_type=admin&limit=2&offset=1")
	if admin.Count != 2 || admin.Limit != 2 || admin.Offset != 1 || admin.Total < 4 {
		t.Fatalf("paging: %+v", admin)
	}
	if l := list("?limit=99999"); l.Limit != 1000 {
		t.Fatalf("limit not clamped: %d", l.Limit)
	}
	from := all.Logs[len(all.Logs)-1].Timestamp
	to := all.Logs[0].Timestamp
	window := list("?from=" + url.QueryEscape(from.Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339Nano)))
	if window.Total != all.Total-countAt(all, to) {
		t.Fatalf("time window: %d rows, want %d", window.Total, all.Total-countAt(all, to))
	}
	e.expectError(400, "invalid_parameter", req{method: "GET", path: "/api/v1/admin/audit-logs?from=yesterday", pak: e.admin})
	e.expectError(403, "admin_required", req{method: "GET", path: "/api/v1/admin/audit-logs", pak: g.pak})
}

func countAt(l client.AuditLogList, ts time.Time) int64 {
	var n int64
	for _, x := range l.Logs {
		if x.Timestamp.Equal(ts) {
			n++
		}
	}
	return n
}

func TestConfigReload(t *testing.T) {
	e := newEnv(t)
	e.expectError(503, "config_reload_disabled", req{method: "POST", path: "/api/v1/admin/config/reload", pak: e.admin})

	dir := t.TempDir()
	file := filepath.Join(dir, "broker.toml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[log]\nlevel = \"info\"\n")
	r := e.replicaWith(func(o *server.Options) {
		o.Reload = func() (config.Broker, error) {
			c, _, err := config.LoadBroker(config.LoadOptions{File: file, Environ: []string{}})
			return c, err
		}
	})
	var res client.ConfigReloadResponse
	r.must(200, req{method: "POST", path: "/api/v1/admin/config/reload", pak: e.admin}).decode(t, &res)
	if !res.Success || res.Message != "No changes detected" || len(res.Changes) != 0 {
		t.Fatalf("unchanged reload: %+v", res)
	}

	write("[log]\nlevel = \"debug\"\n[broker]\nwebhook_delivery_batch_size = 7\nlisten_addr = \"127.0.0.1:4000\"\n[cors]\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\n")
	res = client.ConfigReloadResponse{}
	r.must(200, req{method: "POST", path: "/api/v1/admin/config/reload", pak: e.admin}).decode(t, &res)
	got := map[string]client.ConfigChange{}
	for _, ch := range res.Changes {
		got[ch.Key] = ch
	}
	if len(got) != 3 || got["log.level"].NewValue != "debug" || got["broker.webhook_delivery_batch_size"].NewValue != "7" ||
		got["cors.allowed_origins"].NewValue != `["https://a.example", "https://b.example"]` || res.Message != "3 setting(s) updated" {
		t.Fatalf("changes: %+v", res)
	}
	if c := r.srv.Config(); c.Broker.WebhookDeliveryBatchSize != 7 || c.Log.Level != "debug" || c.Broker.ListenAddr == "127.0.0.1:4000" {
		t.Fatalf("applied config: batch %d level %s listen %s", c.Broker.WebhookDeliveryBatchSize, c.Log.Level, c.Broker.ListenAddr)
	}
	// CORS is read per request: the new origin is allowed at once.
	pre := r.do(req{method: "GET", path: "/api/v1/agents", pak: e.admin, headers: map[string]string{"Origin": "https://b.example"}})
	if pre.header.Get("Access-Control-Allow-Origin") != "https://b.example" {
		t.Fatalf("reloaded CORS origin not applied: %v", pre.header)
	}

	// A broken file changes nothing.
	write("[broker]\npak_hash = \"short\"\n")
	r.expectError(500, "internal_error", req{method: "POST", path: "/api/v1/admin/config/reload", pak: e.admin})
	if r.srv.Config().Broker.WebhookDeliveryBatchSize != 7 {
		t.Fatal("failed reload changed the configuration")
	}
	r.expectError(403, "read_only", req{method: "POST", path: "/api/v1/admin/config/reload", pak: r.srv.ReadOnlyPAK()})

	r.srv.FlushAudit(context.Background())
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_logs WHERE action = 'config.reloaded'`); err != nil || n != 2 {
		t.Fatalf("config.reloaded audit rows: %d %v", n, err)
	}
}

func TestConfigFileWatcher(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "broker.yaml")
	if err := os.WriteFile(file, []byte("broker:\n  config_watch: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Broker.ConfigWatch = true
	r := e.replicaWith(func(o *server.Options) {
		o.Config = cfg
		o.ConfigFile = file
		o.Reload = func() (config.Broker, error) {
			c, _, err := config.LoadBroker(config.LoadOptions{File: file, Environ: []string{}})
			return c, err
		}
	})
	start(t, r.srv)
	time.Sleep(300 * time.Millisecond) // let the watcher start
	if err := os.WriteFile(file, []byte("broker:\n  config_watch: true\n  audit_log_retention_days: 11\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for r.srv.Config().Broker.AuditLogRetentionDays != 11 {
		if time.Now().After(deadline) {
			t.Fatal("configuration file change not applied")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRetentionWorkers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := e.createGenerator("ci")
	a := e.createAgent("a1", "c1")
	s := e.createStack("web", g.gen.ID, g.pak)
	obj := e.createObject(s.ID, g.pak, cmYAML)
	for i := 0; i < 3; i++ {
		e.must(201, req{method: "POST", path: v1path("agents", a.agent.ID, "events"), pak: a.pak,
			body: client.NewAgentEvent{AgentID: a.agent.ID, DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "SUCCESS"}})
	}
	e.srv.FlushAudit(ctx)
	// Age one event and every audit row past their retention (30 and 90 days by default).
	if _, err := e.db.Exec(`UPDATE agent_events SET created_at = now() - interval '31 days' WHERE id IN (SELECT id FROM agent_events LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`UPDATE audit_logs SET created_at = now() - interval '91 days'`); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"agent-event-cleanup", "audit-cleanup"} {
		if !e.srv.RunWorkerOnce(ctx, w) {
			t.Fatalf("worker %s did not run", w)
		}
	}
	var events, audits int
	if err := e.db.Get(&events, `SELECT count(*) FROM agent_events`); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Get(&audits, `SELECT count(*) FROM audit_logs`); err != nil {
		t.Fatal(err)
	}
	if events != 2 || audits != 0 {
		t.Fatalf("after cleanup: %d events, %d audit rows", events, audits)
	}

}
