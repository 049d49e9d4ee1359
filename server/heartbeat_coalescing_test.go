package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
)

func withHeartbeatFlush(ms int) envOption {
	return func(c *config.Broker) { c.Broker.HeartbeatFlushIntervalMillis = ms }
}

// storedHeartbeat reads an agent's last_heartbeat straight from the database.
func (e *env) storedHeartbeat(id uuid.UUID) *time.Time {
	e.t.Helper()
	var at *time.Time
	if err := e.db.GetContext(context.Background(), &at, `SELECT last_heartbeat FROM agents WHERE id = $1`, id); err != nil {
		e.t.Fatal(err)
	}
	return at
}

// TestHeartbeatReadYourWrites: a heartbeat is answered before it is written, and this
// replica's reads show it at once: the agent read by id or by name merges it, listings, the
// fleet and the heartbeat-age metrics write it first.
func TestHeartbeatReadYourWrites(t *testing.T) {
	e := newEnv(t) // the default interval; without Start no tick writes anything
	a := e.createAgent("a", "c")
	id := a.agent.ID
	e.must(204, req{method: "POST", path: v1path("agents", id, "heartbeat"), pak: a.pak,
		body: map[string]any{"k8s_reachable": true, "k8s_api_latency_ms": 12}})
	if at := e.storedHeartbeat(id); at != nil {
		t.Fatalf("heartbeat written at once (%v): not coalesced", at)
	}

	got := e.getAgent(id)
	if got.LastHeartbeat == nil || time.Since(*got.LastHeartbeat).Abs() > time.Minute ||
		got.K8sReachable == nil || !*got.K8sReachable || got.K8sAPILatencyMs == nil || *got.K8sAPILatencyMs != 12 ||
		got.K8sReportedAt == nil {
		t.Fatalf("GET /agents/{id} after a heartbeat: %+v", got)
	}
	var self client.Agent
	e.must(200, req{method: "GET", path: v1path("agents", id), pak: a.pak}).decode(t, &self)
	var found client.Agent
	e.must(200, req{method: "GET", path: v1path("agents") + "/?name=a&cluster_name=c", pak: a.pak}).decode(t, &found)
	for _, r := range []client.Agent{self, found} {
		if r.LastHeartbeat == nil || !r.LastHeartbeat.Equal(*got.LastHeartbeat) {
			t.Fatalf("the agent's own read %v, want %v", r.LastHeartbeat, got.LastHeartbeat)
		}
	}
	if at := e.storedHeartbeat(id); at != nil {
		t.Fatalf("a read by id wrote the heartbeat (%v)", at)
	}

	var list []client.Agent
	e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin}).decode(t, &list)
	if len(list) != 1 || list[0].LastHeartbeat == nil || !list[0].LastHeartbeat.Equal(*got.LastHeartbeat) {
		t.Fatalf("GET /agents after a heartbeat: %+v", list)
	}
	if at := e.storedHeartbeat(id); at == nil || !at.Equal(*got.LastHeartbeat) {
		t.Fatalf("stored %v after the listing, want %v", at, got.LastHeartbeat)
	}

	// Fleet listings and the age metrics write the pending heartbeat first too.
	e.must(204, req{method: "POST", path: v1path("agents", id, "heartbeat"), pak: a.pak})
	next := e.getAgent(id).LastHeartbeat
	if next == nil || !next.After(*got.LastHeartbeat) {
		t.Fatalf("second heartbeat %v, first %v", next, got.LastHeartbeat)
	}
	rec, ok := e.fleetRecord(id, "")
	if !ok || rec.LastHeartbeat == nil || !rec.LastHeartbeat.Equal(*next) || rec.K8sAPILatencyMs == nil || *rec.K8sAPILatencyMs != 12 {
		t.Fatalf("GET /fleet after a heartbeat: %+v", rec)
	}
	e.must(204, req{method: "POST", path: v1path("agents", id, "heartbeat"), pak: a.pak})
	last := e.getAgent(id).LastHeartbeat
	var status client.AgentFleetStatus
	e.must(200, req{method: "GET", path: v1path("agents", id, "fleet-status"), pak: e.admin}).decode(t, &status)
	if status.Record.LastHeartbeat == nil || !status.Record.LastHeartbeat.Equal(*last) {
		t.Fatalf("fleet-status %v, want %v", status.Record.LastHeartbeat, last)
	}
	other := e.createAgent("b", "c")
	e.must(204, req{method: "POST", path: v1path("agents", other.agent.ID, "heartbeat"), pak: other.pak})
	ages := heartbeatAges(t, scrape(t, e.url), map[string]string{id.String(): "a", other.agent.ID.String(): "b"})
	if _, ok := ages[other.agent.ID.String()]; !ok {
		t.Fatalf("heartbeat ages %v miss the agent whose heartbeat was pending", ages)
	}
}

// TestHeartbeatFrameIsWritten: a heartbeat frame on the agent channel is coalesced like a
// REST heartbeat: shown at once by this replica and written, Kubernetes fields included,
// by the next flush.
func TestHeartbeatFrameIsWritten(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	id := a.agent.ID
	w := e.connectAgent(a)
	w.send(client.WSHeartbeat, client.Heartbeat{AgentID: id, SentAt: time.Now(), K8sReachable: new(false), K8sAPILatencyMs: new(int32(30))})
	wsEventually(t, "heartbeat frame taken", func() bool { return e.getAgent(id).LastHeartbeat != nil })
	if at := e.storedHeartbeat(id); at != nil {
		t.Fatalf("frame written at once (%v): not coalesced", at)
	}
	e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin}) // flushes
	var row struct {
		At        *time.Time `db:"last_heartbeat"`
		Reachable *bool      `db:"k8s_reachable"`
		Latency   *int32     `db:"k8s_api_latency_ms"`
	}
	if err := e.db.GetContext(context.Background(), &row,
		`SELECT last_heartbeat, k8s_reachable, k8s_api_latency_ms FROM agents WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if row.At == nil || row.Reachable == nil || *row.Reachable || row.Latency == nil || *row.Latency != 30 {
		t.Fatalf("stored after the flush: %+v", row)
	}
}

// TestHeartbeatsReachOtherReplicas: each replica writes on its own ticks; another replica
// reads a heartbeat once it is written, about one interval later.
func TestHeartbeatsReachOtherReplicas(t *testing.T) {
	a := newEnv(t, withHeartbeatFlush(200))
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	ag := a.createAgent("a", "c")
	sent := time.Now()
	a.must(204, req{method: "POST", path: v1path("agents", ag.agent.ID, "heartbeat"), pak: ag.pak})
	deadline := time.Now().Add(5 * time.Second) // one interval and a statement, generously
	for b.getAgent(ag.agent.ID).LastHeartbeat == nil {
		if time.Now().After(deadline) {
			t.Fatal("the other replica never saw the heartbeat")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("seen by the other replica after %v", time.Since(sent))
}

// TestHeartbeatWrittenAtOnceWithoutInterval: broker.heartbeat_flush_interval_ms = 0 writes
// each heartbeat before answering, as its own statement.
func TestHeartbeatWrittenAtOnceWithoutInterval(t *testing.T) {
	e := newEnv(t, withHeartbeatFlush(0))
	a := e.createAgent("a", "c")
	e.must(204, req{method: "POST", path: v1path("agents", a.agent.ID, "heartbeat"), pak: a.pak})
	if e.storedHeartbeat(a.agent.ID) == nil {
		t.Fatal("heartbeat not written before the answer")
	}
}

// TestHeartbeatsWrittenOnShutdown: when the broker's background work stops, the heartbeats
// it holds are written.
func TestHeartbeatsWrittenOnShutdown(t *testing.T) {
	e := newEnv(t, withHeartbeatFlush(60000))
	a := e.createAgent("a", "c")
	ctx, cancel := context.WithCancel(context.Background())
	e.srv.Start(ctx)
	e.must(204, req{method: "POST", path: v1path("agents", a.agent.ID, "heartbeat"), pak: a.pak})
	if e.storedHeartbeat(a.agent.ID) != nil {
		t.Fatal("written before the interval ended")
	}
	cancel()
	e.srv.Wait()
	if e.storedHeartbeat(a.agent.ID) == nil {
		t.Fatal("the pending heartbeat was lost on shutdown")
	}
}

// BenchmarkHeartbeats measures REST heartbeats from 64 agents at once, each written at once
// (interval 0) and coalesced (the default interval), and reports the database writes per
// heartbeat.
func BenchmarkHeartbeats(b *testing.B) {
	for _, tc := range []struct {
		name string
		ms   int
	}{{"each", 0}, {"coalesced", 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, withHeartbeatFlush(tc.ms))
			start(b, e.srv)
			agents := make([]agentFixture, 64)
			for i := range agents {
				agents[i] = e.createAgent(fmt.Sprintf("agent-%d", i), "bench")
			}
			// A plain client: the benchmark measures the broker, not the response validator.
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(agents)}}
			defer hc.CloseIdleConnections()
			writesBefore := heartbeatWrites(b, e.url)
			var next atomic.Int64
			b.SetParallelism(len(agents) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				a := agents[(next.Add(1)-1)%int64(len(agents))]
				url := e.url + v1path("agents", a.agent.ID, "heartbeat")
				for pb.Next() {
					if err := postHeartbeat(hc, url, a.pak); err != nil {
						b.Error(err)
						return
					}
				}
			})
			e.must(200, req{method: "GET", path: v1path("agents"), pak: e.admin}) // the last batch
			b.StopTimer()
			b.ReportMetric((heartbeatWrites(b, e.url)-writesBefore)/float64(b.N), "writes/op")
		})
	}
}

func postHeartbeat(hc *http.Client, url, key string) error {
	hr, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+key)
	res, err := hc.Do(hr)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("heartbeat: %d", res.StatusCode)
	}
	return nil
}

// heartbeatWrites reads how many heartbeat writes a broker has made.
func heartbeatWrites(tb testing.TB, url string) float64 {
	tb.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	f := fams["brokkr_heartbeat_flush_batch_size"]
	if f == nil || len(f.GetMetric()) != 1 {
		tb.Fatal("no brokkr_heartbeat_flush_batch_size")
	}
	return float64(f.GetMetric()[0].GetHistogram().GetSampleCount())
}
