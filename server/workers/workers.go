// Package workers runs the broker's periodic background tasks, on every replica, with one
// run at a time per task and replica, and counts their runs.
package workers

import (
	"context"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
)

// Worker is a periodic background task of the broker. Every replica runs every worker, so a
// worker's run must be safe when several replicas run it at once: claim rows with
// FOR UPDATE SKIP LOCKED, or make each statement idempotent. A worker marked Exclusive
// additionally holds a PostgreSQL advisory lock while it runs, so that at most one replica
// does the work at a time (the others skip that tick).
type Worker struct {
	Name      string
	Interval  func(config.Broker) time.Duration // read before every tick: hot-reloadable
	Run       func(ctx context.Context) error
	Exclusive bool
}

// Seconds turns a config value in seconds into an interval function.
func Seconds(get func(config.BrokerSettings) int) func(config.Broker) time.Duration {
	return func(c config.Broker) time.Duration { return time.Duration(get(c.Broker)) * time.Second }
}

// Options are the dependencies of New.
type Options struct {
	DB       *db.DB
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Config   func() config.Broker // the configuration in force
}

// Runner runs the registered workers.
type Runner struct {
	db      *db.DB
	log     *slog.Logger
	config  func() config.Broker
	workers []Worker
	wg      sync.WaitGroup

	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a runner without workers and registers its metrics.
func New(o Options) *Runner {
	r := &Runner{
		db: o.DB, log: o.Logger, config: o.Config,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_worker_runs_total", Help: "Background worker runs by worker and result (ok, error, skipped).",
		}, []string{"worker", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "brokkr_worker_run_duration_seconds", Help: "Background worker run time.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"worker"}),
	}
	o.Registry.MustRegister(r.runs, r.duration)
	return r
}

// Add registers workers; call it before Start.
func (r *Runner) Add(ws ...Worker) { r.workers = append(r.workers, ws...) }

// Start runs every registered worker until ctx ends.
func (r *Runner) Start(ctx context.Context) {
	for _, w := range r.workers {
		r.wg.Go(func() { r.loop(ctx, w) })
	}
}

// Wait blocks until the workers started by Start have stopped.
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) loop(ctx context.Context, w Worker) {
	for {
		interval := w.Interval(r.config())
		if interval <= 0 {
			interval = time.Minute
		}
		// Jitter spreads replicas that started together.
		wait := interval + time.Duration(rand.Int64N(int64(interval)/10+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		r.RunOnce(ctx, w.Name)
	}
}

// RunOnce runs the named worker now (tests and operators use it); unknown names do nothing.
// It reports whether the worker ran (false: unknown, or another replica held it).
func (r *Runner) RunOnce(ctx context.Context, name string) bool {
	for _, w := range r.workers {
		if w.Name != name {
			continue
		}
		start := time.Now()
		ran, err := r.runOnce(ctx, w)
		result := "ok"
		switch {
		case !ran:
			result = "skipped"
		case err != nil:
			result = "error"
			if ctx.Err() == nil {
				r.log.Error("worker run failed", slog.String("worker", w.Name), slog.Any("error", err))
			}
		}
		r.runs.WithLabelValues(w.Name, result).Inc()
		if ran {
			r.duration.WithLabelValues(w.Name).Observe(time.Since(start).Seconds())
		}
		return ran
	}
	return false
}

func (r *Runner) runOnce(ctx context.Context, w Worker) (bool, error) {
	if !w.Exclusive {
		return true, w.Run(ctx)
	}
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	key := advisoryKey("brokkr.worker." + w.Name)
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return false, err
	}
	if !got {
		return false, nil
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	}()
	return true, w.Run(ctx)
}

// advisoryKey maps a name to a stable advisory lock key.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}
