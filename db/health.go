package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Health states of a deployment object as seen by an agent (deployment_health.status).
const (
	HealthHealthy  = "healthy"
	HealthDegraded = "degraded"
	HealthFailing  = "failing"
	HealthUnknown  = "unknown"
)

// ValidHealthStatus reports whether s is one of the four health states.
func ValidHealthStatus(s string) bool {
	switch s {
	case HealthHealthy, HealthDegraded, HealthFailing, HealthUnknown:
		return true
	}
	return false
}

// DeploymentHealth is a row of deployment_health.
type DeploymentHealth struct {
	ID                 uuid.UUID `db:"id"`
	AgentID            uuid.UUID `db:"agent_id"`
	DeploymentObjectID uuid.UUID `db:"deployment_object_id"`
	Status             string    `db:"status"`
	Summary            *string   `db:"summary"`
	CheckedAt          time.Time `db:"checked_at"`
	CreatedAt          time.Time `db:"created_at"`
	UpdatedAt          time.Time `db:"updated_at"`
}

const deploymentHealthColumns = `id, agent_id, deployment_object_id, status, summary, checked_at, created_at, updated_at`

// HealthUpdate is one agent report about one deployment object.
type HealthUpdate struct {
	DeploymentObjectID uuid.UUID
	Status             string  // one of the Health* states
	Summary            *string // JSON text of the summary; nil = none
	CheckedAt          time.Time
}

// UpsertHealth stores an agent's reports in one statement, replacing the agent's earlier
// report on the same object (status, summary and checked_at; a nil summary clears it). When
// the batch names an object twice, the later report wins. An unknown object is a foreign-key
// violation and an invalid status a check violation; either way nothing is stored.
func UpsertHealth(ctx context.Context, q Queryer, agentID uuid.UUID, updates []HealthUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	last := make(map[uuid.UUID]int, len(updates))
	for i, u := range updates {
		last[u.DeploymentObjectID] = i
	}
	var (
		objects   = make([]uuid.UUID, 0, len(last))
		statuses  = make([]string, 0, len(last))
		summaries = make([]*string, 0, len(last))
		checked   = make([]time.Time, 0, len(last))
	)
	for i, u := range updates {
		if last[u.DeploymentObjectID] != i {
			continue
		}
		objects, statuses = append(objects, u.DeploymentObjectID), append(statuses, u.Status)
		summaries, checked = append(summaries, u.Summary), append(checked, u.CheckedAt)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO deployment_health (agent_id, deployment_object_id, status, summary, checked_at)
		SELECT $1, o, s, m, c FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[]) AS x(o, s, m, c)
		ON CONFLICT (agent_id, deployment_object_id) DO UPDATE
			SET status = EXCLUDED.status, summary = EXCLUDED.summary, checked_at = EXCLUDED.checked_at`,
		agentID, objects, statuses, summaries, checked)
	return Wrap(err)
}

// ListObjectHealth returns every agent's report on a deployment object, latest check first.
func ListObjectHealth(ctx context.Context, q Queryer, objectID uuid.UUID) ([]DeploymentHealth, error) {
	var out []DeploymentHealth
	err := q.SelectContext(ctx, &out, `SELECT `+deploymentHealthColumns+` FROM deployment_health
		WHERE deployment_object_id = $1 ORDER BY checked_at DESC, id`, objectID)
	return out, Wrap(err)
}

// ObjectHealthCounts counts the reports on one deployment object by status.
type ObjectHealthCounts struct {
	DeploymentObjectID uuid.UUID `db:"deployment_object_id"`
	Healthy            int64     `db:"healthy"`
	Degraded           int64     `db:"degraded"`
	Failing            int64     `db:"failing"`
	Unknown            int64     `db:"unknown"`
}

// StackHealthCounts returns the report counts of every live object of a stack that has at
// least one report, newest object (highest sequence) first.
func StackHealthCounts(ctx context.Context, q Queryer, stackID uuid.UUID) ([]ObjectHealthCounts, error) {
	var out []ObjectHealthCounts
	err := q.SelectContext(ctx, &out, `SELECT h.deployment_object_id,
			count(*) FILTER (WHERE h.status = 'healthy') AS healthy,
			count(*) FILTER (WHERE h.status = 'degraded') AS degraded,
			count(*) FILTER (WHERE h.status = 'failing') AS failing,
			count(*) FILTER (WHERE h.status = 'unknown') AS unknown
		FROM deployment_health h JOIN deployment_objects o ON o.id = h.deployment_object_id
		WHERE o.stack_id = $1 AND o.deleted_at IS NULL
		GROUP BY h.deployment_object_id, o.sequence_id
		ORDER BY o.sequence_id DESC`, stackID)
	return out, Wrap(err)
}
