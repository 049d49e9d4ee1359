package server_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// scrape reads a broker's /metrics into metric families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// labelsOf returns a metric's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// heartbeatAges returns brokkr_agent_heartbeat_age_seconds by agent id, checking that each
// series names its agent.
func heartbeatAges(t *testing.T, fams map[string]*dto.MetricFamily, names map[string]string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	f := fams["brokkr_agent_heartbeat_age_seconds"]
	if f == nil {
		return out
	}
	if f.GetType() != dto.MetricType_GAUGE {
		t.Fatalf("brokkr_agent_heartbeat_age_seconds is a %v, want a gauge", f.GetType())
	}
	for _, m := range f.GetMetric() {
		l := labelsOf(m)
		if want, ok := names[l["agent_id"]]; ok && l["agent_name"] != want {
			t.Errorf("agent %s reported as %q, want %q", l["agent_id"], l["agent_name"], want)
		}
		out[l["agent_id"]] = m.GetGauge().GetValue()
	}
	return out
}

// TestHeartbeatAgeMetrics: the heartbeat age of every live agent that has sent a heartbeat is
// computed from the database when scraped, per agent and as a fleet histogram of the ACTIVE
// agents, and two replicas report the same ages.
func TestHeartbeatAgeMetrics(t *testing.T) {
	e := newEnv(t)
	old := e.createAgent("old", "c1")     // ACTIVE, last heartbeat 400 s ago
	fresh := e.createAgent("fresh", "c1") // ACTIVE, heartbeat now
	idle := e.createAgent("idle", "c2")   // INACTIVE, heartbeat now
	never := e.createAgent("never", "c2") // ACTIVE, never sent a heartbeat
	gone := e.createAgent("gone", "c3")   // heartbeat, then deleted
	for _, a := range []agentFixture{old, fresh, never} {
		e.must(200, req{method: "PUT", path: v1path("agents", a.agent.ID), pak: e.admin, body: map[string]any{"status": "ACTIVE"}})
	}
	for _, a := range []agentFixture{old, fresh, idle, gone} {
		e.must(204, req{method: "POST", path: v1path("agents", a.agent.ID, "heartbeat"), pak: a.pak})
	}
	// A listing writes the heartbeats the replica holds, so that they do not overwrite the
	// back-dated one below.
	e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin})
	if _, err := e.db.ExecContext(context.Background(),
		`UPDATE agents SET last_heartbeat = now() - interval '400 seconds' WHERE id = $1`, old.agent.ID); err != nil {
		t.Fatal(err)
	}
	e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})
	names := map[string]string{}
	for _, a := range []agentFixture{old, fresh, idle, never, gone} {
		names[a.agent.ID.String()] = a.agent.Name
	}

	other := e.replica()
	for _, url := range []string{e.url, other.url} {
		fams := scrape(t, url)
		ages := heartbeatAges(t, fams, names)
		if len(ages) != 3 {
			t.Fatalf("%s: heartbeat ages of %d agents (%v), want old, fresh and idle", url, len(ages), ages)
		}
		if a := ages[old.agent.ID.String()]; a < 400 || a > 430 {
			t.Errorf("%s: old agent's heartbeat age = %v, want about 400", url, a)
		}
		for _, a := range []agentFixture{fresh, idle} {
			if v, ok := ages[a.agent.ID.String()]; !ok || v < 0 || v > 30 {
				t.Errorf("%s: %s's heartbeat age = %v (%v), want a few seconds", url, a.agent.Name, v, ok)
			}
		}
		for _, a := range []agentFixture{never, gone} {
			if _, ok := ages[a.agent.ID.String()]; ok {
				t.Errorf("%s: %s has a heartbeat age series", url, a.agent.Name)
			}
		}

		f := fams["brokkr_active_agents_heartbeat_age_seconds"]
		if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) != 1 {
			t.Fatalf("%s: fleet heartbeat histogram = %v", url, f)
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 2 || h.GetSampleSum() < 400 || h.GetSampleSum() > 460 {
			t.Errorf("%s: histogram count %d sum %v, want the two ACTIVE agents that sent heartbeats", url, h.GetSampleCount(), h.GetSampleSum())
		}
		want := map[float64]uint64{15: 1, 300: 1, 600: 2, 86400: 2}
		for _, b := range h.GetBucket() {
			if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
				t.Errorf("%s: bucket le=%v holds %d agents, want %d", url, b.GetUpperBound(), b.GetCumulativeCount(), n)
			}
		}
		gauge(t, fams, "brokkr_database_up", 1)
		if f := fams["go_sql_max_open_connections"]; f == nil || labelsOf(f.GetMetric()[0])["db_name"] != "brokkr" {
			t.Errorf("%s: no database pool statistics (go_sql_*{db_name=\"brokkr\"})", url)
		}
	}
}

// gauge asserts the value of an unlabelled gauge.
func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, want float64) {
	t.Helper()
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Errorf("%s: %v, want one series", name, f)
		return
	}
	if got := f.GetMetric()[0].GetGauge().GetValue(); math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// TestReadinessMetrics: brokkr_database_up and brokkr_ready follow /readyz, and a replica
// whose database is gone still answers /metrics, without the series the database provides.
func TestReadinessMetrics(t *testing.T) {
	e := newEnv(t)
	fams := scrape(t, e.url)
	gauge(t, fams, "brokkr_database_up", 1)
	gauge(t, fams, "brokkr_ready", 1)

	store := openFreshDB(t)
	srv, err := server.New(server.Options{Config: e.cfg, DB: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts := hs.URL
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(ts + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database closed: %d", res.StatusCode)
	}
	fams = scrape(t, ts)
	gauge(t, fams, "brokkr_database_up", 0)
	gauge(t, fams, "brokkr_ready", 0)
	if f := fams["brokkr_webhook_deliveries_queued"]; f != nil {
		t.Errorf("webhook queue reported without a database: %v", f)
	}
}

// TestWebhookDeliveryMetrics: outcomes are counted by delivery path and resulting status, and
// the queue gauges count what waits in the database.
func TestWebhookDeliveryMetrics(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	rc.setRespond(func(r *http.Request, _ int) (int, string) {
		switch r.URL.Path {
		case "/bad":
			return 400, "no"
		case "/down":
			return 503, "later"
		}
		return 200, "ok"
	})
	queued := func(status string) float64 {
		return e.metricValue(`brokkr_webhook_deliveries_queued{status="` + status + `"}`)
	}
	counted := func(result string) float64 {
		return e.metricValue(`brokkr_webhook_deliveries_total{path="broker",result="` + result + `"}`)
	}
	e.hookAndEmit(rc, "/ok", nil)
	if q := queued("pending"); q != 1 {
		t.Fatalf("pending deliveries = %v, want 1", q)
	}
	e.tick()
	e.hookAndEmit(rc, "/bad", nil)
	e.tick()
	e.hookAndEmit(rc, "/down", nil)
	e.tick()
	for result, want := range map[string]float64{"success": 1, "dead": 1, "failed": 1} {
		if got := counted(result); got != want {
			t.Errorf("broker deliveries with result %s = %v, want %v", result, got, want)
		}
	}
	if q, p := queued("failed"), queued("pending"); q != 1 || p != 0 {
		t.Errorf("queued failed = %v pending = %v, want 1 and 0", q, p)
	}

	// A delivery handed to an agent counts under path="agent".
	a := e.createAgent("in-cluster", "c1")
	e.addAgentLabel(a.agent.ID, "env:prod")
	e.createWebhook(map[string]any{"name": "via-agent", "url": "https://internal.example/hook",
		"event_types": []string{"stack.created"}, "target_labels": []string{"env:prod"}})
	g := e.createGenerator("gen")
	e.createStack("s", g.gen.ID, g.pak)
	var claimed []client.PendingWebhookDelivery
	e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "webhooks", "pending"), pak: a.pak}).decode(t, &claimed)
	if len(claimed) != 1 {
		t.Fatalf("agent claimed %d deliveries, want 1", len(claimed))
	}
	e.must(200, req{method: "POST", path: v1path("webhook-deliveries", claimed[0].ID, "result"), pak: a.pak,
		body: map[string]any{"success": true, "duration_ms": 3}})
	if got := e.metricValue(`brokkr_webhook_deliveries_total{path="agent",result="success"}`); got != 1 {
		t.Errorf("agent deliveries with result success = %v, want 1", got)
	}
	if got := counted("success"); got != 1 {
		t.Errorf("an agent's delivery was counted as the broker's (%v)", got)
	}
}
