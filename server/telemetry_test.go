package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
)

// seedTelemetry stores one k8s event and one log line for the stack per age, with created_at
// set that long ago; the line text and event reason name the age.
func (e *env) seedTelemetry(agent, stack uuid.UUID, ages ...time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	for _, age := range ages {
		label := age.String()
		if _, err := e.db.ExecContext(ctx, `INSERT INTO agent_k8s_events
			(agent_id, stack_id, observed_at, reason, message, event_type, source, involved_object, created_at)
			VALUES ($1, $2, now() - $3::interval, $4, 'msg', 'Normal', NULL,
				'{"api_version":"v1","kind":"Pod","namespace":null,"name":"p","uid":null}', now() - $3::interval)`,
			agent, stack, fmt.Sprintf("%f seconds", age.Seconds()), label); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.db.ExecContext(ctx, `INSERT INTO agent_pod_logs
			(agent_id, stack_id, namespace, pod, container, ts, line, created_at)
			VALUES ($1, $2, 'ns', 'p', 'c', now() - $3::interval, $4, now() - $3::interval)`,
			agent, stack, fmt.Sprintf("%f seconds", age.Seconds()), label); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) telemetryEvents(stack uuid.UUID, query string) client.K8sEventHistory {
	e.t.Helper()
	var out client.K8sEventHistory
	e.must(200, req{method: "GET", path: v1path("stacks", stack, "events") + query, pak: e.admin}).decode(e.t, &out)
	return out
}

func (e *env) telemetryLogs(stack uuid.UUID, query string) client.PodLogHistory {
	e.t.Helper()
	var out client.PodLogHistory
	e.must(200, req{method: "GET", path: v1path("stacks", stack, "logs") + query, pak: e.admin}).decode(e.t, &out)
	return out
}

func TestTelemetryReads(t *testing.T) {
	e := newEnv(t)
	f := e.liveFixture("tel")
	other := e.createGenerator("other")
	ages := []time.Duration{time.Minute, 2 * time.Hour, 5 * time.Hour, 7 * time.Hour, 30 * time.Second}
	e.seedTelemetry(f.agent.agent.ID, f.stack.ID, ages...)

	reasons := func(h client.K8sEventHistory) string {
		var out []string
		for _, ev := range h.Events {
			out = append(out, ev.Reason)
		}
		return strings.Join(out, ",")
	}
	lines := func(h client.PodLogHistory) string {
		var out []string
		for _, l := range h.Lines {
			out = append(out, l.Line)
		}
		return strings.Join(out, ",")
	}

	t.Run("default window is the retention, newest first", func(t *testing.T) {
		e := e.withT(t)
		ev := e.telemetryEvents(f.stack.ID, "")
		if got := reasons(ev); got != "30s,1m0s,2h0m0s,5h0m0s" {
			t.Fatalf("events %s", got)
		}
		r := ev.Retention
		if r.RetentionCeilingSeconds != 21600 || r.EffectiveRetentionSeconds != 21600 ||
			!strings.Contains(r.LongTermSinkHint, "Datadog") || r.OldestAvailableTS == nil ||
			!r.OldestAvailableTS.Equal(ev.Events[len(ev.Events)-1].CreatedAt) {
			t.Fatalf("retention %+v", r)
		}
		if got := lines(e.telemetryLogs(f.stack.ID, "")); got != "30s,1m0s,2h0m0s,5h0m0s" {
			t.Fatalf("lines %s", got)
		}
		obj := ev.Events[0].InvolvedObject
		if obj.Kind != "Pod" || obj.Name != "p" || obj.Namespace != nil || ev.Events[0].Source != nil {
			t.Fatalf("event %+v", ev.Events[0])
		}
	})
	t.Run("since", func(t *testing.T) {
		e := e.withT(t)
		since := time.Now().Add(-90 * time.Minute).UTC().Format(time.RFC3339Nano)
		if got := reasons(e.telemetryEvents(f.stack.ID, "?since="+since)); got != "30s,1m0s" {
			t.Fatalf("events since 90m: %s", got)
		}
		// An older since is clamped to the retention window; offsets are accepted.
		old := time.Now().Add(-48 * time.Hour).In(time.FixedZone("x", 3600)).Format(time.RFC3339)
		if got := lines(e.telemetryLogs(f.stack.ID, "?since="+strings.ReplaceAll(old, "+", "%2B"))); got != "30s,1m0s,2h0m0s,5h0m0s" {
			t.Fatalf("lines since 48h: %s", got)
		}
		e.must(400, req{method: "GET", path: v1path("stacks", f.stack.ID, "events") + "?since=yesterday", pak: e.admin})
	})
	t.Run("limit", func(t *testing.T) {
		e := e.withT(t)
		ev := e.telemetryEvents(f.stack.ID, "?limit=2")
		if got := reasons(ev); got != "30s,1m0s" {
			t.Fatalf("limit 2: %s", got)
		}
		if !ev.Retention.OldestAvailableTS.Equal(ev.Events[1].CreatedAt) {
			t.Fatalf("oldest_available_ts %v, want %v", ev.Retention.OldestAvailableTS, ev.Events[1].CreatedAt)
		}
		if got := lines(e.telemetryLogs(f.stack.ID, "?limit=0")); got != "30s" {
			t.Fatalf("limit 0 (clamped to 1): %s", got)
		}
		if got := lines(e.telemetryLogs(f.stack.ID, "?limit=999999")); got != "30s,1m0s,2h0m0s,5h0m0s" {
			t.Fatalf("limit clamped to 5000: %s", got)
		}
		e.must(400, req{method: "GET", path: v1path("stacks", f.stack.ID, "logs") + "?limit=ten", pak: e.admin})
	})
	t.Run("empty page", func(t *testing.T) {
		e := e.withT(t)
		st := e.createStack("quiet", f.gen.gen.ID, f.gen.pak)
		ev := e.telemetryEvents(st.ID, "")
		if len(ev.Events) != 0 || ev.Retention.OldestAvailableTS != nil {
			t.Fatalf("empty stack %+v", ev)
		}
	})
	t.Run("access", func(t *testing.T) {
		e := e.withT(t)
		for _, kind := range []string{"events", "logs"} {
			e.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, kind), pak: f.gen.pak})
			e.expectError(403, "stack_not_owned", req{method: "GET", path: v1path("stacks", f.stack.ID, kind), pak: other.pak})
			e.expectError(403, "stack_not_owned", req{method: "GET", path: v1path("stacks", f.stack.ID, kind), pak: f.agent.pak})
			e.expectError(404, "stack_not_found", req{method: "GET", path: v1path("stacks", uuid.New(), kind), pak: e.admin})
		}
	})
}

func TestTelemetryRetentionSetting(t *testing.T) {
	e := newEnv(t, func(c *config.Broker) { c.Broker.TelemetryRetentionHours = 1 })
	f := e.liveFixture("ret")
	e.seedTelemetry(f.agent.agent.ID, f.stack.ID, time.Minute, 2*time.Hour)
	ev := e.telemetryEvents(f.stack.ID, "")
	if len(ev.Events) != 1 || ev.Retention.EffectiveRetentionSeconds != 3600 || ev.Retention.RetentionCeilingSeconds != 21600 {
		t.Fatalf("1h retention: %d events, %+v", len(ev.Events), ev.Retention)
	}
}

func TestTelemetryEviction(t *testing.T) {
	e := newEnv(t)
	f := e.liveFixture("evict")
	e.seedTelemetry(f.agent.agent.ID, f.stack.ID, time.Minute, 5*time.Hour, 7*time.Hour, 30*time.Hour)
	if !e.srv.RunWorkerOnce(context.Background(), "telemetry-eviction") {
		t.Fatal("worker did not run")
	}
	count := func(table string) int {
		var n int
		if err := e.db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n, m := count("agent_k8s_events"), count("agent_pod_logs"); n != 2 || m != 2 {
		t.Fatalf("after eviction: %d events, %d lines; want 2 and 2", n, m)
	}
	metrics := e.scrapeLiveMetrics()
	for _, want := range []string{
		"brokkr_ws_log_eviction_runs_total 1",
		`brokkr_ws_telemetry_evicted_total{table="agent_k8s_events"} 2`,
		`brokkr_ws_telemetry_evicted_total{table="agent_pod_logs"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	// A second run finds nothing more to delete.
	e.srv.RunWorkerOnce(context.Background(), "telemetry-eviction")
	if n := count("agent_pod_logs"); n != 2 {
		t.Fatalf("second run left %d lines", n)
	}
}
