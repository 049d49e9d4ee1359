package heartbeats_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/heartbeats"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// counting is the real pool, counting the statements run through it.
type counting struct {
	*db.DB
	statements atomic.Int64
}

func (c *counting) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.statements.Add(1)
	return c.DB.ExecContext(ctx, query, args...)
}

func (c *counting) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	c.statements.Add(1)
	return c.DB.GetContext(ctx, dest, query, args...)
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type fixture struct {
	t     *testing.T
	store *db.DB
	q     *counting
	clock *clock
	reg   *prometheus.Registry
	c     *heartbeats.Coalescer
}

func newFixture(t *testing.T, interval time.Duration) *fixture {
	t.Helper()
	store, err := db.Open(context.Background(), dbtest.URL(t), db.Options{MaxConnections: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	f := &fixture{t: t, store: store, q: &counting{DB: store}, reg: prometheus.NewRegistry(),
		clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	f.c = f.coalescer(interval, f.reg)
	return f
}

// coalescer is another coalescer on the fixture's database and clock (another replica).
func (f *fixture) coalescer(interval time.Duration, reg prometheus.Registerer) *heartbeats.Coalescer {
	return heartbeats.New(heartbeats.Options{DB: f.q, Registry: reg, Interval: interval, Now: f.clock.Now})
}

// agents inserts n live agents.
func (f *fixture) agents(n int) []uuid.UUID {
	f.t.Helper()
	var ids []uuid.UUID
	if err := f.store.SelectContext(context.Background(), &ids, `INSERT INTO agents (name, cluster_name)
		SELECT 'agent-' || i, 'c' FROM generate_series(1, $1::int) i RETURNING id`, n); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

func (f *fixture) row(id uuid.UUID) db.Agent {
	f.t.Helper()
	var a db.Agent
	if err := f.store.GetContext(context.Background(), &a, `SELECT id, last_heartbeat, k8s_reachable,
		k8s_api_latency_ms, k8s_reported_at FROM agents WHERE id = $1`, id); err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *fixture) record(id uuid.UUID, b heartbeats.Beat) {
	f.t.Helper()
	if err := f.c.Record(context.Background(), id, b); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) flush(c *heartbeats.Coalescer) {
	f.t.Helper()
	if err := c.Flush(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func reported(reachable bool, latency int32) heartbeats.Beat {
	return heartbeats.Beat{Reported: true, Reachable: &reachable, LatencyMs: &latency}
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

// requireK8s checks an agent's Kubernetes fields.
func requireK8s(t *testing.T, a db.Agent, reachable bool, latency int32, at time.Time) {
	t.Helper()
	if a.K8sReachable == nil || *a.K8sReachable != reachable || a.K8sAPILatencyMs == nil ||
		*a.K8sAPILatencyMs != latency || !sameTime(a.K8sReportedAt, at) {
		t.Fatalf("k8s fields %v %v %v, want %v %v %v", a.K8sReachable, a.K8sAPILatencyMs, a.K8sReportedAt,
			reachable, latency, at)
	}
}

// TestFlushWritesABatchInOneStatement: the heartbeats of 1,000 agents are kept in memory,
// nothing is written until the flush, and the flush writes all of them with one statement.
func TestFlushWritesABatchInOneStatement(t *testing.T) {
	f := newFixture(t, time.Second)
	ids := f.agents(1000)
	at := f.clock.Now()
	for i, id := range ids {
		if i%2 == 0 {
			f.record(id, reported(i%4 == 0, int32(i)))
		} else {
			f.record(id, heartbeats.Beat{})
		}
	}
	if n := f.q.statements.Load(); n != 0 {
		t.Fatalf("%d statements before the flush", n)
	}
	if a := f.row(ids[0]); a.LastHeartbeat != nil {
		t.Fatalf("heartbeat written before the flush: %v", a.LastHeartbeat)
	}
	f.flush(f.c)
	if n := f.q.statements.Load(); n != 1 {
		t.Fatalf("the flush ran %d statements, want 1", n)
	}
	var written int
	if err := f.store.GetContext(context.Background(), &written,
		`SELECT count(*) FROM agents WHERE last_heartbeat = $1`, at); err != nil {
		t.Fatal(err)
	}
	if written != 1000 {
		t.Fatalf("%d agents have the heartbeat, want 1000", written)
	}
	for _, i := range []int{0, 2, 998} {
		requireK8s(t, f.row(ids[i]), i%4 == 0, int32(i), at)
	}
	if a := f.row(ids[1]); a.K8sReachable != nil || a.K8sAPILatencyMs != nil || a.K8sReportedAt != nil {
		t.Fatalf("bare heartbeat set k8s fields: %+v", a)
	}
	// Nothing left: the next flush runs no statement.
	f.flush(f.c)
	if n := f.q.statements.Load(); n != 1 {
		t.Fatalf("an empty flush ran a statement (%d in all)", n)
	}
	if _, ok := f.c.Pending(ids[0]); ok {
		t.Fatal("a written heartbeat is still pending")
	}
	if got := testutil.CollectAndCount(f.reg, "brokkr_heartbeat_flush_duration_seconds"); got != 1 {
		t.Fatalf("duration metric: %d series", got)
	}
	if got := value(t, f.reg, "brokkr_heartbeat_flush_pending"); got != 0 {
		t.Fatalf("pending gauge %v after the flush", got)
	}
	if sum, count := histogram(t, f.reg, "brokkr_heartbeat_flush_batch_size"); sum != 1000 || count != 1 {
		t.Fatalf("batch size histogram: sum %v count %v, want one batch of 1000", sum, count)
	}
}

// TestKubernetesFieldsSemantics: a heartbeat without Kubernetes fields never clears reported
// ones, whether both arrive in the same interval or in different ones; a later report
// replaces an earlier one, an absent latency included.
func TestKubernetesFieldsSemantics(t *testing.T) {
	f := newFixture(t, time.Second)
	ids := f.agents(2)
	same, apart := ids[0], ids[1]
	t0 := f.clock.Now()

	// A report, then a bare heartbeat: in different intervals (apart), in the same one (same).
	f.record(apart, reported(true, 42))
	f.flush(f.c)
	f.record(same, reported(true, 42))
	f.clock.set(t0.Add(time.Second))
	f.record(same, heartbeats.Beat{})
	if e, ok := f.c.Pending(same); !ok || !e.At.Equal(t0.Add(time.Second)) || !sameTime(e.ReportedAt, t0) {
		t.Fatalf("pending entry %+v %v", e, ok)
	}
	f.record(apart, heartbeats.Beat{})
	f.flush(f.c)
	for _, id := range ids {
		a := f.row(id)
		if !sameTime(a.LastHeartbeat, t0.Add(time.Second)) {
			t.Fatalf("last_heartbeat %v, want %v", a.LastHeartbeat, t0.Add(time.Second))
		}
		requireK8s(t, a, true, 42, t0)
	}

	// A later report replaces the earlier one, even without a latency.
	t2 := t0.Add(2 * time.Second)
	f.clock.set(t2)
	f.record(same, heartbeats.Beat{Reported: true, Reachable: new(false)})
	f.clock.set(t2.Add(time.Second))
	f.record(same, heartbeats.Beat{})
	f.flush(f.c)
	a := f.row(same)
	if a.K8sReachable == nil || *a.K8sReachable || a.K8sAPILatencyMs != nil || !sameTime(a.K8sReportedAt, t2) ||
		!sameTime(a.LastHeartbeat, t2.Add(time.Second)) {
		t.Fatalf("after an unreachable report: %+v", a)
	}
}

// TestLastHeartbeatNeverMovesBackwards: replicas flush independently; an older heartbeat or
// report written after a newer one changes nothing.
func TestLastHeartbeatNeverMovesBackwards(t *testing.T) {
	f := newFixture(t, time.Second)
	id := f.agents(1)[0]
	replicaA, replicaB := f.c, f.coalescer(time.Second, nil)
	t0 := f.clock.Now()

	if err := replicaA.Record(context.Background(), id, reported(true, 1)); err != nil {
		t.Fatal(err)
	}
	f.clock.set(t0.Add(time.Second))
	if err := replicaB.Record(context.Background(), id, reported(false, 2)); err != nil {
		t.Fatal(err)
	}
	f.flush(replicaB) // the newer heartbeat lands first
	f.flush(replicaA)
	a := f.row(id)
	if !sameTime(a.LastHeartbeat, t0.Add(time.Second)) {
		t.Fatalf("last_heartbeat %v moved back from %v", a.LastHeartbeat, t0.Add(time.Second))
	}
	requireK8s(t, a, false, 2, t0.Add(time.Second))

	// A clock behind the stored value does not move it back either.
	f.clock.set(t0.Add(-time.Hour))
	f.record(id, heartbeats.Beat{})
	f.flush(f.c)
	if a := f.row(id); !sameTime(a.LastHeartbeat, t0.Add(time.Second)) {
		t.Fatalf("last_heartbeat %v moved back", a.LastHeartbeat)
	}
}

// TestFailedFlushKeepsHeartbeats: a flush that fails keeps its heartbeats, newer ones
// received meanwhile win, and the next flush writes them.
func TestFailedFlushKeepsHeartbeats(t *testing.T) {
	f := newFixture(t, time.Second)
	id := f.agents(1)[0]
	t0 := f.clock.Now()
	f.record(id, reported(true, 7))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.c.Flush(cancelled); err == nil {
		t.Fatal("a flush with a cancelled context succeeded")
	}
	if a := f.row(id); a.LastHeartbeat != nil {
		t.Fatalf("written by a failed flush: %+v", a)
	}
	if e, ok := f.c.Pending(id); !ok || !e.At.Equal(t0) || !sameTime(e.ReportedAt, t0) {
		t.Fatalf("heartbeat lost by a failed flush: %+v %v", e, ok)
	}
	f.clock.set(t0.Add(time.Second))
	f.record(id, heartbeats.Beat{})
	f.flush(f.c)
	a := f.row(id)
	if !sameTime(a.LastHeartbeat, t0.Add(time.Second)) {
		t.Fatalf("last_heartbeat %v, want the newer %v", a.LastHeartbeat, t0.Add(time.Second))
	}
	requireK8s(t, a, true, 7, t0)
	if got := value(t, f.reg, "brokkr_heartbeat_flush_failures_total"); got != 1 {
		t.Fatalf("failures counter %v, want 1", got)
	}
}

// TestMergeAgent: a row read from the database shows the pending heartbeat, unless the
// database holds a newer one.
func TestMergeAgent(t *testing.T) {
	f := newFixture(t, time.Second)
	id := f.agents(1)[0]
	t0 := f.clock.Now()
	f.record(id, reported(true, 3))
	got := f.c.MergeAgent(f.row(id))
	if !sameTime(got.LastHeartbeat, t0) {
		t.Fatalf("merged last_heartbeat %v", got.LastHeartbeat)
	}
	requireK8s(t, got, true, 3, t0)
	later := t0.Add(time.Minute)
	row := f.row(id)
	row.LastHeartbeat, row.K8sReportedAt = &later, &later
	if got := f.c.MergeAgent(row); !sameTime(got.LastHeartbeat, later) || !sameTime(got.K8sReportedAt, later) {
		t.Fatalf("an older pending heartbeat overrode a newer row: %+v", got)
	}
	var nilCoalescer *heartbeats.Coalescer
	if got := nilCoalescer.MergeAgent(row); got.LastHeartbeat != row.LastHeartbeat {
		t.Fatal("a nil coalescer changed the row")
	}
}

// TestDeletedAgentsAreSkipped: the heartbeat of an agent deleted meanwhile is dropped.
func TestDeletedAgentsAreSkipped(t *testing.T) {
	f := newFixture(t, time.Second)
	ids := f.agents(2)
	f.record(ids[0], heartbeats.Beat{})
	f.record(ids[1], heartbeats.Beat{})
	if _, err := f.store.ExecContext(context.Background(), `UPDATE agents SET deleted_at = now() WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	f.flush(f.c)
	if a := f.row(ids[0]); a.LastHeartbeat != nil {
		t.Fatalf("deleted agent got a heartbeat: %+v", a)
	}
	if a := f.row(ids[1]); a.LastHeartbeat == nil {
		t.Fatal("live agent's heartbeat not written")
	}
	if _, ok := f.c.Pending(ids[0]); ok {
		t.Fatal("deleted agent's heartbeat kept")
	}
}

// TestRunFlushesOnTicksAndAtTheEnd: Run writes every interval, and once more when its
// context ends.
func TestRunFlushesOnTicksAndAtTheEnd(t *testing.T) {
	f := newFixture(t, 20*time.Millisecond)
	ids := f.agents(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.c.Run(ctx)
	}()
	f.record(ids[0], heartbeats.Beat{})
	for deadline := time.Now().Add(5 * time.Second); f.row(ids[0]).LastHeartbeat == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no tick wrote the heartbeat")
		}
	}
	cancel()
	<-done

	// The final flush: a coalescer whose ticks are far apart writes when Run ends.
	slow := f.coalescer(time.Hour, nil)
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() {
		defer close(done)
		slow.Run(ctx)
	}()
	if err := slow.Record(context.Background(), ids[1], heartbeats.Beat{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if f.row(ids[1]).LastHeartbeat == nil {
		t.Fatal("the heartbeat was not written when Run ended")
	}
}

// TestWithoutInterval: with no interval each heartbeat is written at once, an agent that
// is not live is an error, and announced agents are told after each write.
func TestWithoutInterval(t *testing.T) {
	f := newFixture(t, 0)
	id := f.agents(1)[0]
	var told []uuid.UUID
	f.c.OnFlush(func(agents []uuid.UUID) { told = append(told, agents...) })
	if err := f.c.Record(context.Background(), id, heartbeats.Beat{Announce: true}); err != nil {
		t.Fatal(err)
	}
	if f.row(id).LastHeartbeat == nil {
		t.Fatal("heartbeat not written at once")
	}
	if len(told) != 1 || told[0] != id {
		t.Fatalf("announced %v", told)
	}
	if err := f.c.Record(context.Background(), uuid.New(), heartbeats.Beat{}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown agent: %v, want ErrNotFound", err)
	}
}

// TestOnFlushAnnouncesWrittenAgents: only agents whose heartbeats asked to be announced
// are passed on, and only once they are written.
func TestOnFlushAnnouncesWrittenAgents(t *testing.T) {
	f := newFixture(t, time.Second)
	ids := f.agents(2)
	var told []uuid.UUID
	f.c.OnFlush(func(agents []uuid.UUID) { told = append(told, agents...) })
	f.record(ids[0], heartbeats.Beat{Announce: true})
	f.record(ids[1], heartbeats.Beat{})
	if len(told) != 0 {
		t.Fatalf("announced before the write: %v", told)
	}
	f.flush(f.c)
	if len(told) != 1 || told[0] != ids[0] {
		t.Fatalf("announced %v, want only %v", told, ids[0])
	}
}

// value returns the value of the one gauge or counter of family name.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() == name && len(fam.GetMetric()) == 1 {
			m := fam.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// histogram returns the sum and count of a histogram family's one metric.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (float64, uint64) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() == name && len(fam.GetMetric()) == 1 {
			h := fam.GetMetric()[0].GetHistogram()
			return h.GetSampleSum(), h.GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0, 0
}
