package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// FleetRow is one live agent's stored fleet signals. Time-relative fields are computed by
// the database clock at query time and are never negative.
type FleetRow struct {
	AgentID               uuid.UUID  `db:"agent_id"`
	Name                  string     `db:"name"`
	ClusterName           string     `db:"cluster_name"`
	Status                string     `db:"status"`
	LastHeartbeat         *time.Time `db:"last_heartbeat"`
	HeartbeatAgeSeconds   *int64     `db:"heartbeat_age_seconds"`
	K8sReachable          *bool      `db:"k8s_reachable"`
	K8sAPILatencyMs       *int32     `db:"k8s_api_latency_ms"`
	PendingObjectCount    int64      `db:"pending_object_count"`
	PendingWorkOrders     int64      `db:"pending_work_orders"`
	ClaimedWorkOrders     int64      `db:"claimed_work_orders"`
	LastEventAt           *time.Time `db:"last_event_at"`
	SecondsSinceLastEvent *int64     `db:"seconds_since_last_event"`
	HealthFailing         int64      `db:"health_failing"`
	HealthDegraded        int64      `db:"health_degraded"`
}

// FleetFilter selects the agents of a fleet listing. The zero value selects every live agent.
type FleetFilter struct {
	GeneratorID *uuid.UUID  // only agents registered with this generator
	AgentIDs    []uuid.UUID // only these agents (nil = no restriction)
}

// fleetQuery computes the fleet rows of a set of agents in one statement. Every aggregate is
// a grouped query over the selected agents, so the cost follows the data, never one
// round-trip per agent:
//   - pending objects: associated stacks (explicit targets, plus label and exact annotation
//     matches within generators the agent is registered with; live stacks only) whose latest
//     live object has no live DEPLOY event from the agent, unless a rollout of that object
//     under way has not released it to the agent (or was aborted);
//   - pending work orders: distinct PENDING orders targeting the agent, or sharing a label
//     or an exact annotation with it;
//   - claimed work orders, last live event, failing and degraded health rows.
const fleetQuery = `
WITH ag AS MATERIALIZED (
	SELECT a.id, a.created_at, a.name, a.cluster_name, a.status, a.last_heartbeat,
		a.k8s_reachable, a.k8s_api_latency_ms
	FROM agents a
	WHERE a.deleted_at IS NULL
		AND ($1::uuid IS NULL OR EXISTS (
			SELECT 1 FROM agent_generator_registrations r WHERE r.agent_id = a.id AND r.generator_id = $1))
		AND ($2::uuid[] IS NULL OR a.id = ANY ($2::uuid[]))
),
assoc AS (
	SELECT t.agent_id, t.stack_id FROM ag JOIN agent_targets t ON t.agent_id = ag.id
	UNION
	SELECT al.agent_id, sl.stack_id
	FROM ag
	JOIN agent_labels al ON al.agent_id = ag.id
	JOIN stack_labels sl ON sl.label = al.label
	JOIN stacks s ON s.id = sl.stack_id
	JOIN agent_generator_registrations r ON r.agent_id = al.agent_id AND r.generator_id = s.generator_id
	UNION
	SELECT aa.agent_id, sa.stack_id
	FROM ag
	JOIN agent_annotations aa ON aa.agent_id = ag.id
	JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
	JOIN stacks s ON s.id = sa.stack_id
	JOIN agent_generator_registrations r ON r.agent_id = aa.agent_id AND r.generator_id = s.generator_id
),
latest AS (
	SELECT st.stack_id, o.id AS object_id, o.rollout_id, o.rollout_status
	FROM (SELECT DISTINCT stack_id FROM assoc) st
	JOIN stacks s ON s.id = st.stack_id AND s.deleted_at IS NULL
	CROSS JOIN LATERAL (
		SELECT d.id, r.id AS rollout_id, r.status AS rollout_status FROM deployment_objects d
		LEFT JOIN rollouts r ON r.deployment_object_id = d.id
		WHERE d.stack_id = st.stack_id AND d.deleted_at IS NULL
		ORDER BY d.sequence_id DESC LIMIT 1) o
),
pending_objects AS (
	SELECT x.agent_id, count(*) AS n
	FROM assoc x JOIN latest l ON l.stack_id = x.stack_id
	WHERE NOT EXISTS (
		SELECT 1 FROM agent_events e
		WHERE e.agent_id = x.agent_id AND e.deployment_object_id = l.object_id AND e.deleted_at IS NULL
			AND ` + deployEvent + `)
		AND (l.rollout_id IS NULL OR l.rollout_status = 'completed' OR (l.rollout_status <> 'aborted' AND EXISTS (
			SELECT 1 FROM rollout_agents ra WHERE ra.rollout_id = l.rollout_id AND ra.agent_id = x.agent_id)))
	GROUP BY x.agent_id
),
pending_orders AS (
	SELECT m.agent_id, count(*) AS n
	FROM (
		SELECT t.agent_id, t.work_order_id FROM ag JOIN work_order_targets t ON t.agent_id = ag.id
		UNION
		SELECT al.agent_id, wl.work_order_id
		FROM ag JOIN agent_labels al ON al.agent_id = ag.id JOIN work_order_labels wl ON wl.label = al.label
		UNION
		SELECT aa.agent_id, wa.work_order_id
		FROM ag JOIN agent_annotations aa ON aa.agent_id = ag.id
		JOIN work_order_annotations wa ON wa.key = aa.key AND wa.value = aa.value
	) m
	JOIN work_orders w ON w.id = m.work_order_id AND w.status = 'PENDING'
	GROUP BY m.agent_id
),
claimed AS (
	SELECT w.claimed_by AS agent_id, count(*) AS n
	FROM work_orders w
	WHERE w.status = 'CLAIMED' AND w.claimed_by IN (SELECT id FROM ag)
	GROUP BY w.claimed_by
),
last_events AS (
	SELECT e.agent_id, max(e.created_at) AS at
	FROM agent_events e
	WHERE e.deleted_at IS NULL AND e.agent_id IN (SELECT id FROM ag)
	GROUP BY e.agent_id
),
health AS (
	SELECT h.agent_id,
		count(*) FILTER (WHERE h.status = 'failing') AS failing,
		count(*) FILTER (WHERE h.status = 'degraded') AS degraded
	FROM deployment_health h
	WHERE h.status IN ('failing', 'degraded') AND h.agent_id IN (SELECT id FROM ag)
	GROUP BY h.agent_id
)
SELECT ag.id AS agent_id, ag.name, ag.cluster_name, ag.status, ag.last_heartbeat,
	CASE WHEN ag.last_heartbeat IS NULL THEN NULL
		ELSE GREATEST(0, floor(extract(epoch FROM now() - ag.last_heartbeat)))::bigint END AS heartbeat_age_seconds,
	ag.k8s_reachable, ag.k8s_api_latency_ms,
	COALESCE(po.n, 0) AS pending_object_count,
	COALESCE(pw.n, 0) AS pending_work_orders,
	COALESCE(c.n, 0) AS claimed_work_orders,
	le.at AS last_event_at,
	CASE WHEN le.at IS NULL THEN NULL
		ELSE GREATEST(0, floor(extract(epoch FROM now() - le.at)))::bigint END AS seconds_since_last_event,
	COALESCE(h.failing, 0) AS health_failing,
	COALESCE(h.degraded, 0) AS health_degraded
FROM ag
LEFT JOIN pending_objects po ON po.agent_id = ag.id
LEFT JOIN pending_orders pw ON pw.agent_id = ag.id
LEFT JOIN claimed c ON c.agent_id = ag.id
LEFT JOIN last_events le ON le.agent_id = ag.id
LEFT JOIN health h ON h.agent_id = ag.id
ORDER BY ag.created_at, ag.id`

// ListFleet returns the fleet rows of the live agents the filter selects, in creation order.
func ListFleet(ctx context.Context, q Queryer, f FleetFilter) ([]FleetRow, error) {
	var ids any
	if f.AgentIDs != nil {
		ids = f.AgentIDs
	}
	out := []FleetRow{}
	err := q.SelectContext(ctx, &out, fleetQuery, f.GeneratorID, ids)
	return out, Wrap(err)
}

// RecentAgentEvents returns up to limit of an agent's live events, newest first.
func RecentAgentEvents(ctx context.Context, q Queryer, agentID uuid.UUID, limit int) ([]AgentEvent, error) {
	out := []AgentEvent{}
	err := q.SelectContext(ctx, &out, `SELECT `+agentEventColumns+` FROM agent_events
		WHERE agent_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id LIMIT $2`, agentID, limit)
	return out, Wrap(err)
}
