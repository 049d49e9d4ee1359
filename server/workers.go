package server

import (
	"context"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/internal/config"
)

// worker is a periodic background task of the broker. Every replica runs every worker, so a
// worker's run must be safe when several replicas run it at once: claim rows with
// FOR UPDATE SKIP LOCKED, or make each statement idempotent. A worker marked exclusive
// additionally holds a PostgreSQL advisory lock while it runs, so that at most one replica
// does the work at a time (the others skip that tick).
type worker struct {
	name      string
	interval  func(config.Broker) time.Duration // read before every tick: hot-reloadable
	run       func(ctx context.Context) error
	exclusive bool
}

// addWorker registers a worker; call it from an install function, before Start.
func (s *Server) addWorker(w worker) { s.workers = append(s.workers, w) }

type workerMetrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newWorkerMetrics(reg *prometheus.Registry) *workerMetrics {
	m := &workerMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_worker_runs_total", Help: "Background worker runs by worker and result (ok, error, skipped).",
		}, []string{"worker", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "brokkr_worker_run_duration_seconds", Help: "Background worker run time.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"worker"}),
	}
	reg.MustRegister(m.runs, m.duration)
	return m
}

// runWorkers runs every registered worker until ctx ends.
func (s *Server) runWorkers(ctx context.Context) {
	for _, w := range s.workers {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.loopWorker(ctx, w)
		}()
	}
}

func (s *Server) loopWorker(ctx context.Context, w worker) {
	for {
		interval := w.interval(s.Config())
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
		s.RunWorkerOnce(ctx, w.name)
	}
}

// RunWorkerOnce runs the named worker now (tests and operators use it); unknown names do
// nothing. It reports whether the worker ran (false: unknown, or another replica held it).
func (s *Server) RunWorkerOnce(ctx context.Context, name string) bool {
	for _, w := range s.workers {
		if w.name != name {
			continue
		}
		start := time.Now()
		ran, err := s.runOnce(ctx, w)
		result := "ok"
		switch {
		case !ran:
			result = "skipped"
		case err != nil:
			result = "error"
			if ctx.Err() == nil {
				s.log.Error("worker run failed", slog.String("worker", w.name), slog.Any("err", err))
			}
		}
		s.workerMetrics.runs.WithLabelValues(w.name, result).Inc()
		if ran {
			s.workerMetrics.duration.WithLabelValues(w.name).Observe(time.Since(start).Seconds())
		}
		return ran
	}
	return false
}

func (s *Server) runOnce(ctx context.Context, w worker) (bool, error) {
	if !w.exclusive {
		return true, w.run(ctx)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	key := advisoryKey("brokkr.worker." + w.name)
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
	return true, w.run(ctx)
}

// advisoryKey maps a name to a stable advisory lock key.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}

// seconds turns a config value in seconds into an interval function.
func seconds(get func(config.BrokerSettings) int) func(config.Broker) time.Duration {
	return func(c config.Broker) time.Duration { return time.Duration(get(c.Broker)) * time.Second }
}
