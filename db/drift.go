package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// deployEvent is the condition an agent event row e must meet to count as the outcome of
// applying its deployment object: a DEPLOY event. DRIFT and DEPENDENCY events report on an
// object without applying it, so they never change its latest status.
const deployEvent = `e.event_type = 'DEPLOY'`

// StackSettingsRow is a live stack with the values of two of its annotations.
type StackSettingsRow struct {
	ID          uuid.UUID `db:"id"`
	Name        string    `db:"name"`
	GeneratorID uuid.UUID `db:"generator_id"`
	DependsOn   *string   `db:"depends_on"`
	DriftPolicy *string   `db:"drift_policy"`
}

// GeneratorStackSettings returns every live stack of the generators with the values of its
// annotations dependsOnKey and driftPolicyKey (nil when absent), by name then id.
func GeneratorStackSettings(ctx context.Context, q Queryer, generatorIDs []uuid.UUID, dependsOnKey, driftPolicyKey string) ([]StackSettingsRow, error) {
	out := []StackSettingsRow{}
	err := q.SelectContext(ctx, &out, `SELECT s.id, s.name, s.generator_id,
		(SELECT a.value FROM stack_annotations a WHERE a.stack_id = s.id AND a.key = $2) AS depends_on,
		(SELECT a.value FROM stack_annotations a WHERE a.stack_id = s.id AND a.key = $3) AS drift_policy
		FROM stacks s WHERE s.generator_id = ANY($1) AND s.deleted_at IS NULL
		ORDER BY s.name, s.id`, generatorIDs, dependsOnKey, driftPolicyKey)
	return out, Wrap(err)
}

// StackAgentEvent is the latest event of one type an agent reported on a stack's latest
// deployment object.
type StackAgentEvent struct {
	AgentID            uuid.UUID `db:"agent_id"`
	AgentName          string    `db:"agent_name"`
	DeploymentObjectID uuid.UUID `db:"deployment_object_id"`
	Status             string    `db:"status"`
	Message            *string   `db:"message"`
	CreatedAt          time.Time `db:"created_at"`
	// DeployedSince tells whether the agent reported applying the object at or after it.
	DeployedSince bool `db:"deployed_since"`
}

// LatestStackEvents returns, per live agent, its latest live event of eventType on the
// stack's latest live deployment object, by agent name.
func LatestStackEvents(ctx context.Context, q Queryer, stackID uuid.UUID, eventType string) ([]StackAgentEvent, error) {
	out := []StackAgentEvent{}
	err := q.SelectContext(ctx, &out, `WITH latest AS (
			SELECT d.id FROM deployment_objects d
			WHERE d.stack_id = $1 AND d.deleted_at IS NULL ORDER BY d.sequence_id DESC LIMIT 1),
		ev AS (
			SELECT DISTINCT ON (x.agent_id) x.agent_id, x.deployment_object_id, x.status, x.message, x.created_at
			FROM agent_events x JOIN latest l ON l.id = x.deployment_object_id
			WHERE x.event_type = $2 AND x.deleted_at IS NULL
			ORDER BY x.agent_id, x.created_at DESC, x.id DESC)
		SELECT ev.agent_id, a.name AS agent_name, ev.deployment_object_id, ev.status, ev.message, ev.created_at,
			EXISTS (SELECT 1 FROM agent_events e
				WHERE e.agent_id = ev.agent_id AND e.deployment_object_id = ev.deployment_object_id
				AND e.deleted_at IS NULL AND `+deployEvent+` AND e.created_at >= ev.created_at) AS deployed_since
		FROM ev JOIN agents a ON a.id = ev.agent_id AND a.deleted_at IS NULL
		ORDER BY a.name, a.id`, stackID, eventType)
	return out, Wrap(err)
}
