package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/workers"
)

// Telemetry (Kubernetes events and pod log lines agents stream for their stacks) is a
// short-lived buffer, never a log store.
const (
	retentionCeiling      = 6 * time.Hour
	defaultTelemetryLimit = 500
	maxTelemetryLimit     = 5000
	longTermSinkHint      = "Brokkr retains telemetry for at most 6 hours. For long-term log centralisation, ship to Datadog or equivalent."
)

// installTelemetry registers the telemetry history routes and the eviction worker.
func (s *Server) installTelemetry(g routes) {
	s.evicted = newEvictionMetrics(s.metrics.registry)
	g.GET("/stacks/:id/events", s.listTelemetryEvents)
	g.GET("/stacks/:id/logs", s.listTelemetryLogs)
	s.workers.Add(workers.Worker{
		Name:     "telemetry-eviction",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.TelemetryEvictionIntervalSeconds }),
		Run:      s.evictTelemetry,
	})
}

// evictionMetrics count the runs of the telemetry eviction worker and what it deleted.
type evictionMetrics struct {
	runs    prometheus.Counter
	evicted *prometheus.CounterVec
}

func newEvictionMetrics(reg prometheus.Registerer) *evictionMetrics {
	m := &evictionMetrics{
		runs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_ws_log_eviction_runs_total",
			Help: "Runs of the telemetry eviction worker.",
		}),
		evicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_telemetry_evicted_total",
			Help: "Telemetry rows deleted by the eviction worker, by table.",
		}, []string{"table"}),
	}
	for _, table := range []string{db.TableK8sEvents, db.TablePodLogs} {
		m.evicted.WithLabelValues(table)
	}
	reg.MustRegister(m.runs, m.evicted)
	return m
}

// telemetryRetention is broker.telemetry_retention_hours, capped at the ceiling (an unset or
// non-positive value means the ceiling).
func (s *Server) telemetryRetention() time.Duration {
	r := time.Duration(s.Config().Broker.TelemetryRetentionHours) * time.Hour
	if r <= 0 || r > retentionCeiling {
		r = retentionCeiling
	}
	return r
}

// telemetryPage reads since and limit: since defaults to, and is never older than,
// now − retention; limit defaults to 500 and is clamped to 1..5000.
func (s *Server) telemetryPage(c echo.Context) (since time.Time, limit int, retention time.Duration, err error) {
	retention = s.telemetryRetention()
	floor := time.Now().Add(-retention)
	since, limit = floor, defaultTelemetryLimit
	if v := c.QueryParam("since"); v != "" {
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			return since, limit, retention, badRequest("invalid_parameter",
				fmt.Sprintf("query parameter since: %q is not an RFC 3339 timestamp", v)).with("parameter", "since")
		}
		if t.After(floor) {
			since = t
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			return since, limit, retention, badRequest("invalid_parameter",
				fmt.Sprintf("query parameter limit: %q is not an integer", v)).with("parameter", "limit")
		}
		limit = int(min(max(n, 1), maxTelemetryLimit))
	}
	return since, limit, retention, nil
}

func retentionInfo(retention time.Duration, oldest *time.Time) client.RetentionInfo {
	return client.RetentionInfo{
		RetentionCeilingSeconds:   int64(retentionCeiling / time.Second),
		EffectiveRetentionSeconds: int64(retention / time.Second),
		OldestAvailableTS:         utcp(oldest),
		LongTermSinkHint:          longTermSinkHint,
	}
}

func (s *Server) listTelemetryEvents(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	since, limit, retention, err := s.telemetryPage(c)
	if err != nil {
		return err
	}
	rows, err := db.ListK8sEvents(c.Request().Context(), s.db, st.ID, since, limit)
	if err != nil {
		return err
	}
	out := client.K8sEventHistory{Events: make([]client.AgentK8sEvent, len(rows))}
	for i, r := range rows {
		if out.Events[i], err = toAgentK8sEvent(r); err != nil {
			return err
		}
	}
	var oldest *time.Time
	if n := len(rows); n > 0 {
		oldest = &rows[n-1].CreatedAt
	}
	out.Retention = retentionInfo(retention, oldest)
	return reply(c, http.StatusOK, out)
}

func (s *Server) listTelemetryLogs(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	since, limit, retention, err := s.telemetryPage(c)
	if err != nil {
		return err
	}
	rows, err := db.ListPodLogs(c.Request().Context(), s.db, st.ID, since, limit)
	if err != nil {
		return err
	}
	var oldest *time.Time
	if n := len(rows); n > 0 {
		oldest = &rows[n-1].CreatedAt
	}
	return reply(c, http.StatusOK, client.PodLogHistory{
		Retention: retentionInfo(retention, oldest),
		Lines:     mapSlice(rows, toAgentPodLog),
	})
}

func toAgentK8sEvent(e db.K8sEvent) (client.AgentK8sEvent, error) {
	out := client.AgentK8sEvent{
		ID: e.ID, AgentID: e.AgentID, StackID: e.StackID, ObservedAt: utc(e.ObservedAt), Reason: e.Reason,
		Message: e.Message, EventType: e.EventType, Source: e.Source, CreatedAt: utc(e.CreatedAt),
	}
	if err := json.Unmarshal(e.InvolvedObject, &out.InvolvedObject); err != nil {
		return out, fmt.Errorf("decode involved object of k8s event %s: %w", e.ID, err)
	}
	return out, nil
}

func toAgentPodLog(l db.PodLog) client.AgentPodLog {
	return client.AgentPodLog{
		ID: l.ID, AgentID: l.AgentID, StackID: l.StackID, Namespace: l.Namespace, Pod: l.Pod,
		Container: l.Container, TS: utc(l.TS), Line: l.Line, CreatedAt: utc(l.CreatedAt),
	}
}

// evictTelemetry is the telemetry-eviction worker: rows older than the retention go.
func (s *Server) evictTelemetry(ctx context.Context) error {
	s.evicted.runs.Inc()
	n, err := db.EvictTelemetry(ctx, s.db, s.telemetryRetention())
	for table, count := range n {
		s.evicted.evicted.WithLabelValues(table).Add(float64(count))
	}
	if err != nil {
		return fmt.Errorf("evict telemetry: %w", err)
	}
	return nil
}
