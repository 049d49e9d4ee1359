package server

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/internal/logx"
)

// scrapeQueryTimeout bounds each query a scrape runs.
const scrapeQueryTimeout = 2 * time.Second

// heartbeatAgeBuckets are the upper bounds, in seconds, of the fleet's heartbeat age
// histogram: from a few missed heartbeats to a day.
var heartbeatAgeBuckets = []float64{15, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400}

// fleetCollector reports what the database knows of the fleet and of the webhook queue,
// computed when scraped, so that every replica reports the same values:
//
//   - brokkr_agent_heartbeat_age_seconds{agent_id,agent_name}: seconds since each live
//     agent's last heartbeat (agents that never sent one have no series); one series per agent;
//   - brokkr_active_agents_heartbeat_age_seconds: the same ages of the ACTIVE agents as one
//     histogram without per-agent labels, whose size does not grow with the fleet;
//   - brokkr_webhook_deliveries_queued{status}: deliveries waiting to be sent (pending), in
//     flight (acquired) and waiting for a retry (failed).
type fleetCollector struct {
	s          *Server
	agentAge   *prometheus.Desc
	fleetAge   *prometheus.Desc
	queued     *prometheus.Desc
	dbUp       *prometheus.Desc
	replicaUp  *prometheus.Desc
	queueNames []string
}

func newFleetCollector(s *Server) *fleetCollector {
	return &fleetCollector{
		s: s,
		agentAge: prometheus.NewDesc("brokkr_agent_heartbeat_age_seconds",
			"Seconds since the agent's last heartbeat, per live agent that has sent one.",
			[]string{"agent_id", "agent_name"}, nil),
		fleetAge: prometheus.NewDesc("brokkr_active_agents_heartbeat_age_seconds",
			"Seconds since the last heartbeat of each ACTIVE agent that has sent one, as a histogram over the fleet.",
			nil, nil),
		queued: prometheus.NewDesc("brokkr_webhook_deliveries_queued",
			"Webhook deliveries not finished, by status: pending (due), acquired (being sent), failed (waiting for a retry).",
			[]string{"status"}, nil),
		dbUp: prometheus.NewDesc("brokkr_database_up",
			"1 when this replica reaches its database (the check of /readyz), else 0.", nil, nil),
		replicaUp: prometheus.NewDesc("brokkr_ready",
			"1 when /readyz of this replica answers 200 (database reachable, notification listener connected), else 0.", nil, nil),
		queueNames: []string{"pending", "acquired", "failed"},
	}
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.agentAge, c.fleetAge, c.queued, c.dbUp, c.replicaUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A query that fails leaves its series out of the
// scrape; brokkr_database_up says why.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeQueryTimeout)
	defer cancel()
	reason := c.s.notReady(ctx)
	ch <- prometheus.MustNewConstMetric(c.dbUp, prometheus.GaugeValue, boolGauge(reason != notReadyDatabase))
	ch <- prometheus.MustNewConstMetric(c.replicaUp, prometheus.GaugeValue, boolGauge(reason == ""))
	if reason == notReadyDatabase {
		return
	}
	if err := c.collectHeartbeats(ctx, ch); err != nil {
		c.s.log.Debug("scrape agent heartbeat ages", logx.Err(err))
	}
	if err := c.collectQueue(ctx, ch); err != nil {
		c.s.log.Debug("scrape webhook queue", logx.Err(err))
	}
}

// heartbeatAge is one live agent's time since its last heartbeat, in the database's clock.
type heartbeatAge struct {
	ID     uuid.UUID `db:"id"`
	Name   string    `db:"name"`
	Active bool      `db:"active"`
	Age    float64   `db:"age"`
}

func (c *fleetCollector) collectHeartbeats(ctx context.Context, ch chan<- prometheus.Metric) error {
	// The ages are the database's: the heartbeats this replica holds are written first.
	if err := c.s.heartbeats.Flush(ctx); err != nil {
		return err
	}
	var rows []heartbeatAge
	err := c.s.db.SelectContext(ctx, &rows, `
		SELECT id, name, status = 'ACTIVE' AS active,
		       GREATEST(EXTRACT(EPOCH FROM now() - last_heartbeat), 0)::float8 AS age
		FROM agents
		WHERE deleted_at IS NULL AND last_heartbeat IS NOT NULL`)
	if err != nil {
		return err
	}
	buckets := make(map[float64]uint64, len(heartbeatAgeBuckets))
	var count uint64
	var sum float64
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(c.agentAge, prometheus.GaugeValue, r.Age, r.ID.String(), r.Name)
		if !r.Active {
			continue
		}
		count++
		sum += r.Age
		for _, le := range heartbeatAgeBuckets {
			if r.Age <= le {
				buckets[le]++
			}
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.fleetAge, count, sum, buckets)
	return nil
}

func (c *fleetCollector) collectQueue(ctx context.Context, ch chan<- prometheus.Metric) error {
	// One count per status, each answered by that status's partial index.
	var n struct {
		Pending  float64 `db:"pending"`
		Acquired float64 `db:"acquired"`
		Failed   float64 `db:"failed"`
	}
	err := c.s.db.GetContext(ctx, &n, `SELECT
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS pending,
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'acquired') AS acquired,
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'failed') AS failed`)
	if err != nil {
		return err
	}
	for i, v := range []float64{n.Pending, n.Acquired, n.Failed} {
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, v, c.queueNames[i])
	}
	return nil
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
