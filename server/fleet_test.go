package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// fleetRecord returns the agent's record from GET /fleet (with an optional query).
func (e *env) fleetRecord(agent uuid.UUID, query string) (client.FleetAgentRecord, bool) {
	e.t.Helper()
	var records []client.FleetAgentRecord
	e.must(200, req{method: "GET", path: v1path("fleet") + query, pak: e.admin}).decode(e.t, &records)
	for _, r := range records {
		if r.AgentID == agent {
			return r, true
		}
	}
	return client.FleetAgentRecord{}, false
}

func TestFleetRecords(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	g2 := e.createGenerator("g2")
	a := e.createAgent("a1", "east", g.gen.ID)
	idle := e.createAgent("a2", "west", g2.gen.ID)
	id := a.agent.ID
	e.addAgentLabel(id, "env:prod")
	e.addAgentAnnotation(id, "tier", "web")

	// Associated stacks: s1 and s5 explicitly, s2 by label, s3 by annotation; s4 shares the
	// label but belongs to a generator the agent is not registered with.
	s1 := e.createStack("s1", g.gen.ID, g.pak)
	s2 := e.createStack("s2", g.gen.ID, g.pak)
	s3 := e.createStack("s3", g.gen.ID, g.pak)
	s4 := e.createStack("s4", g2.gen.ID, g2.pak)
	s5 := e.createStack("s5", g.gen.ID, g.pak)
	e.addTarget(id, s1.ID)
	e.addTarget(id, s5.ID) // no objects: never pending
	e.addStackLabel(s2.ID, "env:prod")
	e.addStackAnnotation(s3.ID, "tier", "web")
	e.addStackLabel(s4.ID, "env:prod")
	old1 := e.createObject(s1.ID, g.pak, cmYAML)
	new1 := e.createObject(s1.ID, g.pak, cmYAML+"# v2\n") // latest of s1, no event yet: pending
	o2 := e.createObject(s2.ID, g.pak, cmYAML)            // reported: not pending
	o3 := e.createObject(s3.ID, g.pak, cmYAML)            // pending
	e.createObject(s4.ID, g2.pak, cmYAML)                 // not associated
	e.reportEvent(a, old1.ID, "SUCCESS")
	e.reportEvent(a, o2.ID, "FAILURE")

	// Work orders: three distinct pending ones the agent may claim, one it claimed, one for others.
	e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{id}}})
	e.createWorkOrder(map[string]any{"targeting": map[string]any{"labels": []string{"env:prod"}}})
	e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{id},
		"annotations": map[string]string{"tier": "web"}}})
	e.createWorkOrder(map[string]any{"targeting": map[string]any{"labels": []string{"env:dev"}}})
	claimed := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{id}}})
	e.claim(claimed.ID, id, a.pak)

	now := time.Now().UTC().Format(time.RFC3339)
	e.must(200, req{method: "PATCH", path: v1path("agents", id, "health-status"), pak: a.pak, body: map[string]any{
		"deployment_objects": []map[string]any{
			{"id": new1.ID, "status": "failing", "checked_at": now},
			{"id": o3.ID, "status": "degraded", "checked_at": now},
			{"id": o2.ID, "status": "healthy", "checked_at": now},
		}}})
	e.must(204, req{method: "POST", path: v1path("agents", id, "heartbeat"), pak: a.pak,
		body: map[string]any{"k8s_reachable": false, "k8s_api_latency_ms": 250}})

	rec, ok := e.fleetRecord(id, "")
	if !ok {
		t.Fatal("agent missing from the fleet")
	}
	var events []client.AgentEvent
	e.must(200, req{method: "GET", path: v1path("agents", id, "events"), pak: e.admin}).decode(t, &events)
	want := client.FleetAgentRecord{
		AgentID: id, Name: "a1", ClusterName: "east", Status: "INACTIVE",
		PendingObjectCount: 2, PendingWorkOrders: 3, ClaimedWorkOrders: 1,
		HealthFailing: 1, HealthDegraded: 1,
	}
	got := rec
	got.LastHeartbeat, got.HeartbeatAgeSeconds, got.LastEventAt, got.SecondsSinceLastEvent = nil, nil, nil, nil
	got.K8sReachable, got.K8sAPILatencyMs = nil, nil
	if !wsJSONEqual(t, got, want) {
		t.Fatalf("record\n got %+v\nwant %+v", got, want)
	}
	if rec.LastHeartbeat == nil || rec.HeartbeatAgeSeconds == nil || *rec.HeartbeatAgeSeconds < 0 || *rec.HeartbeatAgeSeconds > 5 {
		t.Fatalf("heartbeat fields %v %v", rec.LastHeartbeat, rec.HeartbeatAgeSeconds)
	}
	if rec.K8sReachable == nil || *rec.K8sReachable || rec.K8sAPILatencyMs == nil || *rec.K8sAPILatencyMs != 250 {
		t.Fatalf("k8s fields %v %v", rec.K8sReachable, rec.K8sAPILatencyMs)
	}
	if rec.LastEventAt == nil || !rec.LastEventAt.Equal(events[0].CreatedAt) ||
		rec.SecondsSinceLastEvent == nil || *rec.SecondsSinceLastEvent < 0 || *rec.SecondsSinceLastEvent > 5 {
		t.Fatalf("event fields %v %v (newest event %v)", rec.LastEventAt, rec.SecondsSinceLastEvent, events[0].CreatedAt)
	}

	t.Run("an agent with nothing", func(t *testing.T) {
		e := e.withT(t)
		rec, ok := e.fleetRecord(idle.agent.ID, "")
		want := client.FleetAgentRecord{AgentID: idle.agent.ID, Name: "a2", ClusterName: "west", Status: "INACTIVE"}
		if !ok || !wsJSONEqual(t, rec, want) {
			t.Fatalf("record %+v", rec)
		}
	})
	t.Run("reporting the latest object clears it", func(t *testing.T) {
		e := e.withT(t)
		e.reportEvent(a, new1.ID, "SUCCESS")
		if rec, _ := e.fleetRecord(id, ""); rec.PendingObjectCount != 1 {
			t.Fatalf("pending objects %d, want 1", rec.PendingObjectCount)
		}
	})
	t.Run("pak_id filter", func(t *testing.T) {
		e := e.withT(t)
		if _, ok := e.fleetRecord(id, "?pak_id="+g.gen.ID.String()); !ok {
			t.Fatal("a1 missing under its generator")
		}
		if _, ok := e.fleetRecord(idle.agent.ID, "?pak_id="+g.gen.ID.String()); ok {
			t.Fatal("a2 listed under a generator it is not registered with")
		}
		var none []client.FleetAgentRecord
		e.must(200, req{method: "GET", path: v1path("fleet") + "?pak_id=" + uuid.NewString(), pak: e.admin}).decode(t, &none)
		if len(none) != 0 {
			t.Fatalf("unknown generator: %d records", len(none))
		}
		e.must(400, req{method: "GET", path: v1path("fleet") + "?pak_id=nope", pak: e.admin})
	})
	t.Run("deleted agents leave the fleet", func(t *testing.T) {
		e := e.withT(t)
		gone := e.createAgent("gone", "west")
		e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})
		if _, ok := e.fleetRecord(gone.agent.ID, ""); ok {
			t.Fatal("deleted agent listed")
		}
	})
	t.Run("admin only", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("fleet"), pak: g.pak})
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("fleet"), pak: a.pak})
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("agents", id, "fleet-status"), pak: a.pak})
		e.must(200, req{method: "GET", path: v1path("fleet"), pak: e.srv.ReadOnlyPAK()})
	})
	t.Run("connected agents", func(t *testing.T) {
		e := e.withT(t)
		w := e.connectAgent(a)
		rec, _ := e.fleetRecord(id, "")
		if !rec.WSConnected || rec.ConnectedSince == nil || time.Since(*rec.ConnectedSince) > 10*time.Second {
			t.Fatalf("connected record %+v", rec)
		}
		_ = w.conn.CloseNow()
		e.waitConnections(id, false)
		if rec, _ := e.fleetRecord(id, ""); rec.WSConnected || rec.ConnectedSince != nil {
			t.Fatalf("record after disconnect %+v", rec)
		}
	})
}

func TestAgentFleetStatus(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("s", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c")
	for i := range 22 {
		e.reportEvent(a, obj.ID, []string{"SUCCESS", "FAILURE"}[i%2])
	}
	var out client.AgentFleetStatus
	e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "fleet-status"), pak: e.admin}).decode(t, &out)
	if out.Record.AgentID != a.agent.ID || out.Record.LastEventAt == nil {
		t.Fatalf("record %+v", out.Record)
	}
	var all []client.AgentEvent
	e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "events"), pak: e.admin}).decode(t, &all)
	if len(out.RecentEvents) != 20 {
		t.Fatalf("%d recent events, want 20", len(out.RecentEvents))
	}
	for i, ev := range out.RecentEvents {
		if ev.ID != all[i].ID {
			t.Fatalf("recent event %d is %s, want %s (newest first)", i, ev.ID, all[i].ID)
		}
	}
	if !out.Record.LastEventAt.Equal(all[0].CreatedAt) {
		t.Fatalf("last_event_at %v, newest event %v", out.Record.LastEventAt, all[0].CreatedAt)
	}
	e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", uuid.New(), "fleet-status"), pak: e.admin})
	e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID), pak: e.admin})
	e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", a.agent.ID, "fleet-status"), pak: e.admin})
}

// seedFleet creates n agents with a realistic spread of signals: every agent registered with
// one generator, labelled, targeting 5 of 200 stacks (2 objects each), with events, health
// rows and matching work orders.
func seedFleet(tb testing.TB, e *env, n int) {
	tb.Helper()
	g := e.createGenerator("fleet-bench")
	gen := g.gen.ID
	seed := []struct {
		query string
		args  []any
	}{
		{`INSERT INTO agents (name, cluster_name, pak_hash, last_heartbeat, k8s_reachable, k8s_api_latency_ms)
			SELECT 'agent-' || i, 'cluster-' || (i % 10), md5(i::text), now() - (i || ' seconds')::interval, i % 3 <> 0, i % 100
			FROM generate_series(1, $1::int) i`, []any{n}},
		{`INSERT INTO agent_generator_registrations (agent_id, generator_id) SELECT id, $1 FROM agents`, []any{gen}},
		{`INSERT INTO agent_labels (agent_id, label) SELECT id, 'zone:' || (abs(hashtext(id::text)) % 4) FROM agents`, nil},
		{`INSERT INTO stacks (name, generator_id) SELECT 'fleet-stack-' || i, $1 FROM generate_series(1, 200) i`, []any{gen}},
		{`INSERT INTO stack_labels (stack_id, label)
			SELECT id, 'zone:' || (abs(hashtext(id::text)) % 4) FROM stacks WHERE name LIKE 'fleet-stack-%'`, nil},
		{`INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum)
			SELECT s.id, 'kind: ConfigMap # ' || v, md5(s.id::text || v) FROM stacks s, generate_series(1, 2) v
			WHERE s.name LIKE 'fleet-stack-%' ORDER BY v`, nil},
		{`INSERT INTO agent_targets (agent_id, stack_id)
			SELECT a.id, s.id FROM agents a
			CROSS JOIN LATERAL (SELECT id FROM stacks WHERE name LIKE 'fleet-stack-%'
				ORDER BY md5(a.id::text || id::text) LIMIT 5) s`, nil},
		{`INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status)
			SELECT t.agent_id, d.id, 'DEPLOY', 'SUCCESS' FROM agent_targets t
			JOIN deployment_objects d ON d.stack_id = t.stack_id WHERE abs(hashtext(t.id::text)) % 2 = 0`, nil},
		{`INSERT INTO deployment_health (agent_id, deployment_object_id, status, checked_at)
			SELECT t.agent_id, d.id, (ARRAY['healthy','degraded','failing'])[1 + abs(hashtext(d.id::text || t.agent_id::text)) % 3], now()
			FROM agent_targets t JOIN deployment_objects d ON d.stack_id = t.stack_id`, nil},
		{`INSERT INTO work_orders (work_type, yaml_content) SELECT 'build', 'kind: Build' FROM generate_series(1, 100)`, nil},
		{`INSERT INTO work_order_labels (work_order_id, label)
			SELECT id, 'zone:' || (abs(hashtext(id::text)) % 4) FROM work_orders`, nil},
		{`ANALYZE`, nil},
	}
	ctx := context.Background()
	for _, q := range seed {
		if _, err := e.db.ExecContext(ctx, q.query, q.args...); err != nil {
			tb.Fatalf("seed: %v\n%s", err, q.query)
		}
	}
}

// BenchmarkListFleet measures GET /fleet over 1,000 agents, through the store and over HTTP.
func BenchmarkListFleet(b *testing.B) {
	e := newEnv(b)
	seedFleet(b, e, 1000)
	ctx := context.Background()
	rows, err := db.ListFleet(ctx, e.db, db.FleetFilter{})
	if err != nil || len(rows) != 1000 {
		b.Fatalf("fleet: %d rows, %v", len(rows), err)
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ListFleet(ctx, e.db, db.FleetFilter{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		for b.Loop() {
			r, err := http.NewRequest("GET", e.url+"/api/v1/fleet", nil)
			if err != nil {
				b.Fatal(err)
			}
			r.Header.Set("Authorization", e.admin)
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}

// TestFleetListTime lists a fleet of 1,000 agents and reports how long it took; it fails
// only when the listing is grossly slow.
func TestFleetListTime(t *testing.T) {
	if testing.Short() {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs every test: do not pass -short")
		}
		t.Skip("seeds 1,000 agents")
	}
	e := newEnv(t)
	seedFleet(t, e, 1000)
	var records []client.FleetAgentRecord
	e.must(200, req{method: "GET", path: v1path("fleet"), pak: e.admin}).decode(t, &records) // shape validated once
	if len(records) != 1000 {
		t.Fatalf("%d records", len(records))
	}
	var pending, failing int64
	for _, r := range records {
		pending += r.PendingObjectCount
		failing += r.HealthFailing
	}
	if pending == 0 || failing == 0 {
		t.Fatalf("seeded signals missing: pending %d failing %d", pending, failing)
	}
	const runs = 5
	start := time.Now()
	for range runs {
		r, err := http.NewRequest("GET", e.url+"/api/v1/fleet", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", e.admin)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	per := time.Since(start) / runs
	t.Logf("GET /fleet with 1,000 agents (about 53,000 agent-stack associations): %v per request", per)
	if per > 5*time.Second {
		t.Fatalf("GET /fleet took %v", per)
	}
}
