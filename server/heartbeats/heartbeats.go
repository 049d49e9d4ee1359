// Package heartbeats coalesces the agents' heartbeats in the broker. A replica keeps the
// latest heartbeat of each agent in memory and writes all of them in one statement per
// interval (broker.heartbeat_flush_interval_ms), instead of one statement per heartbeat.
// The replica's own reads see the heartbeats still in memory (MergeAgent, MergeFleet, or
// Flush before a listing); other replicas see them once written, at most one interval
// later. A replica that stops without its final flush loses at most one interval of
// heartbeats, which the agents' next heartbeats repair.
package heartbeats

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/logx"
)

// Timeouts of the flushes the coalescer starts itself.
const (
	tickTimeout  = 30 * time.Second // a flush of the periodic tick
	finalTimeout = 5 * time.Second  // the flush when Run ends
)

// Options are the dependencies of New.
type Options struct {
	DB       db.Queryer
	Logger   *slog.Logger          // nil: discard
	Registry prometheus.Registerer // nil: the metrics are not registered
	// Interval is how long heartbeats are gathered before they are written; 0 or less
	// writes each heartbeat at once, in the caller, as its own statement.
	Interval time.Duration
	// Now is the clock heartbeats are stamped with (nil: time.Now).
	Now func() time.Time
}

// Beat is one heartbeat as an agent sent it.
type Beat struct {
	// Reported is set when the heartbeat carried the Kubernetes reachability; Reachable and
	// LatencyMs then replace the stored values. A heartbeat without it leaves them alone.
	Reported  bool
	Reachable *bool
	LatencyMs *int32
	// Announce asks for the agent to be passed to the OnFlush functions once the heartbeat
	// is written.
	Announce bool
}

// Entry is an agent's latest heartbeat not yet written.
type Entry struct {
	At         time.Time  // when the broker received it
	ReportedAt *time.Time // when the latest Kubernetes report arrived; nil: none since the last write
	Reachable  *bool
	LatencyMs  *int32
	announce   bool
}

// merge returns e updated by a later entry: the later time wins, and the later report
// wins unless it has none.
func (e Entry) merge(later Entry) Entry {
	out := e
	if later.At.After(out.At) {
		out.At = later.At
	}
	if later.ReportedAt != nil && (e.ReportedAt == nil || !later.ReportedAt.Before(*e.ReportedAt)) {
		out.ReportedAt, out.Reachable, out.LatencyMs = later.ReportedAt, later.Reachable, later.LatencyMs
	}
	out.announce = e.announce || later.announce
	return out
}

// Coalescer gathers heartbeats and writes them in batches. Its methods are safe for
// concurrent use; a nil Coalescer merges nothing and has nothing to flush.
type Coalescer struct {
	q        db.Queryer
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	pending  map[uuid.UUID]Entry // one entry per agent
	inflight map[uuid.UUID]Entry // the batch being written, nil when none
	onFlush  []func(agents []uuid.UUID)

	writing chan struct{} // held while a batch is written: one write at a time

	duration prometheus.Histogram
	size     prometheus.Histogram
	failures prometheus.Counter
}

// New returns a coalescer; Run writes its batches.
func New(o Options) *Coalescer {
	c := &Coalescer{
		q: o.DB, log: logx.OrDiscard(o.Logger), interval: o.Interval, now: o.Now,
		pending: map[uuid.UUID]Entry{},
		writing: make(chan struct{}, 1),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "brokkr_heartbeat_flush_duration_seconds",
			Help:    "Time to write one batch of agent heartbeats (one statement).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		size: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "brokkr_heartbeat_flush_batch_size",
			Help:    "Agents whose heartbeats one write carried.",
			Buckets: []float64{1, 10, 100, 1000, 5000, 10000, 25000, 50000, 100000},
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_heartbeat_flush_failures_total",
			Help: "Heartbeat writes that failed; their heartbeats are kept and written by the next flush.",
		}),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if o.Registry != nil {
		pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "brokkr_heartbeat_flush_pending",
			Help: "Agents whose latest heartbeat waits in this replica's memory for the next flush.",
		}, func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return float64(len(c.pending) + len(c.inflight))
		})
		o.Registry.MustRegister(c.duration, c.size, c.failures, pending)
	}
	return c
}

// OnFlush adds a function told, after each successful write, the agents whose written
// heartbeats asked to be announced. It runs in the goroutine that wrote and must not
// block. Add functions before Run.
func (c *Coalescer) OnFlush(fn func(agents []uuid.UUID)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onFlush = append(c.onFlush, fn)
}

// Coalescing reports whether heartbeats are gathered (false: each is written at once).
func (c *Coalescer) Coalescing() bool { return c != nil && c.interval > 0 }

// Record takes an agent's heartbeat, stamped with the coalescer's clock. When coalescing it
// only keeps it in memory and never fails; otherwise it writes it at once and returns the
// write's error (db.ErrNotFound when the agent is not live).
func (c *Coalescer) Record(ctx context.Context, agentID uuid.UUID, b Beat) error {
	if !c.Coalescing() {
		return c.writeNow(ctx, agentID, b)
	}
	now := c.now().UTC().Truncate(time.Microsecond) // what the database stores
	e := Entry{At: now, announce: b.Announce}
	if b.Reported {
		e.ReportedAt, e.Reachable, e.LatencyMs = &now, b.Reachable, b.LatencyMs
	}
	c.mu.Lock()
	if old, ok := c.pending[agentID]; ok {
		e = old.merge(e)
	}
	c.pending[agentID] = e
	c.mu.Unlock()
	return nil
}

// writeNow writes one heartbeat as its own statement.
func (c *Coalescer) writeNow(ctx context.Context, agentID uuid.UUID, b Beat) error {
	start := time.Now()
	_, err := db.Heartbeat(ctx, c.q, agentID, b.Reported, b.Reachable, b.LatencyMs)
	c.observe(start, 1, err)
	if err != nil {
		return err
	}
	if b.Announce {
		c.announce([]uuid.UUID{agentID})
	}
	return nil
}

func (c *Coalescer) observe(start time.Time, n int, err error) {
	c.duration.Observe(time.Since(start).Seconds())
	c.size.Observe(float64(n))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		c.failures.Inc()
	}
}

func (c *Coalescer) announce(agents []uuid.UUID) {
	c.mu.Lock()
	fns := c.onFlush
	c.mu.Unlock()
	for _, fn := range fns {
		fn(agents)
	}
}

// Flush writes every heartbeat in memory, in one statement, and returns once they and any
// write already under way are in the database; it costs nothing when nothing waits. When
// the write fails its heartbeats are kept (newer ones received meanwhile win) for the next
// flush.
func (c *Coalescer) Flush(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	idle := len(c.pending) == 0 && c.inflight == nil
	c.mu.Unlock()
	if idle {
		return nil
	}
	select {
	case c.writing <- struct{}{}:
	default: // a write is under way: wait for it
		select {
		case c.writing <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-c.writing }()
	c.mu.Lock()
	batch := c.pending
	if len(batch) == 0 {
		c.mu.Unlock()
		return nil
	}
	c.pending, c.inflight = make(map[uuid.UUID]Entry, len(batch)), batch
	c.mu.Unlock()

	rows := make([]db.HeartbeatRow, 0, len(batch))
	var announced []uuid.UUID
	for id, e := range batch {
		rows = append(rows, db.HeartbeatRow{AgentID: id, At: e.At, ReportedAt: e.ReportedAt, Reachable: e.Reachable, LatencyMs: e.LatencyMs})
		if e.announce {
			announced = append(announced, id)
		}
	}
	// Sorted, so that the rows of one batch are always visited in the same order.
	slices.SortFunc(rows, func(a, b db.HeartbeatRow) int { return bytes.Compare(a.AgentID[:], b.AgentID[:]) })
	start := time.Now()
	_, err := db.HeartbeatBatch(ctx, c.q, rows)
	c.observe(start, len(rows), err)

	c.mu.Lock()
	c.inflight = nil
	if err != nil {
		for id, e := range batch {
			if later, ok := c.pending[id]; ok {
				e = e.merge(later)
			}
			c.pending[id] = e
		}
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if len(announced) > 0 {
		c.announce(announced)
	}
	return nil
}

// Pending returns the agent's heartbeat not yet written, if any.
func (c *Coalescer) Pending(agentID uuid.UUID) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked(agentID)
}

// pendingLocked is Pending with c.mu held.
func (c *Coalescer) pendingLocked(agentID uuid.UUID) (Entry, bool) {
	e, ok := c.inflight[agentID]
	if p, pok := c.pending[agentID]; pok {
		if ok {
			return e.merge(p), true
		}
		return p, true
	}
	return e, ok
}

// MergeAgent returns the agent row read from the database with its heartbeat not yet
// written, so that this replica reads its own writes.
func (c *Coalescer) MergeAgent(a db.Agent) db.Agent {
	e, ok := c.Pending(a.ID)
	if !ok {
		return a
	}
	if a.LastHeartbeat == nil || e.At.After(*a.LastHeartbeat) {
		a.LastHeartbeat = &e.At
	}
	if e.ReportedAt != nil && (a.K8sReportedAt == nil || !e.ReportedAt.Before(*a.K8sReportedAt)) {
		a.K8sReportedAt, a.K8sReachable, a.K8sAPILatencyMs = e.ReportedAt, e.Reachable, e.LatencyMs
	}
	return a
}

// MergeFleet updates fleet rows read from the database with the heartbeats not yet
// written; the heartbeat age of an updated row is counted on the coalescer's clock.
func (c *Coalescer) MergeFleet(rows []db.FleetRow) {
	if c == nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 && c.inflight == nil {
		return
	}
	for i := range rows {
		r := &rows[i]
		e, ok := c.pendingLocked(r.AgentID)
		if !ok {
			continue
		}
		if r.LastHeartbeat == nil || e.At.After(*r.LastHeartbeat) {
			at := e.At
			age := max(int64(now.Sub(at)/time.Second), 0)
			r.LastHeartbeat, r.HeartbeatAgeSeconds = &at, &age
		}
		if e.ReportedAt != nil {
			r.K8sReachable, r.K8sAPILatencyMs = e.Reachable, e.LatencyMs
		}
	}
}

// Run writes the gathered heartbeats every interval until ctx ends, then once more (with
// a short timeout). A failed write is logged and retried at the next tick.
func (c *Coalescer) Run(ctx context.Context) {
	if !c.Coalescing() {
		return
	}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
			err := c.Flush(fctx)
			cancel()
			if err != nil {
				c.log.Warn("final heartbeat flush failed; agents' next heartbeats repair it", logx.Err(err))
			}
			return
		case <-tick.C:
			fctx, cancel := context.WithTimeout(ctx, tickTimeout)
			err := c.Flush(fctx)
			cancel()
			switch {
			case err != nil && !failing:
				c.log.Warn("heartbeat flush failed; retrying at the next tick", logx.Err(err))
			case err != nil:
				c.log.Debug("heartbeat flush failed again", logx.Err(err))
			case failing:
				c.log.Info("heartbeat flush recovered")
			}
			failing = err != nil
		}
	}
}
