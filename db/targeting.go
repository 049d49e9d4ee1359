package db

import (
	"context"

	"github.com/google/uuid"
)

// associatedStackIDs selects the ids of the live stacks associated with agent $1: stacks it
// targets explicitly, plus stacks sharing a label or an exact annotation with it whose
// generator the agent is registered with. Each stack appears once, however many of its
// targets, labels and annotations match.
//
// The candidates are collected from the agent's own rows into arrays first and the stacks
// then fetched by primary key, so the cost follows the agent's matches, not the number of
// stacks (a plain join lets the planner hash the whole stacks table when label statistics
// are skewed).
const associatedStackIDs = `
	SELECT s.id FROM stacks s
	WHERE s.id = ANY (ARRAY(SELECT stack_id FROM agent_targets WHERE agent_id = $1)) AND s.deleted_at IS NULL
	UNION
	SELECT s.id FROM stacks s
	WHERE s.id = ANY (ARRAY(
			SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = $1
			UNION
			SELECT sa.stack_id FROM agent_annotations aa
				JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value WHERE aa.agent_id = $1))
		AND s.deleted_at IS NULL
		AND s.generator_id IN (SELECT generator_id FROM agent_generator_registrations WHERE agent_id = $1)`

// AssociatedStackIDs returns the ids of the live stacks associated with an agent.
func AssociatedStackIDs(ctx context.Context, q Queryer, agentID uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := q.SelectContext(ctx, &out, associatedStackIDs, agentID)
	return out, Wrap(err)
}

// AssociatedStacks returns the live stacks associated with an agent, by id.
func AssociatedStacks(ctx context.Context, q Queryer, agentID uuid.UUID) ([]Stack, error) {
	var out []Stack
	err := q.SelectContext(ctx, &out, `SELECT `+stackColumns+` FROM stacks
		WHERE id IN (`+associatedStackIDs+`) ORDER BY id`, agentID)
	return out, Wrap(err)
}

// TargetState returns the latest live deployment object of every stack associated with the
// agent, newest sequence first. With incremental set, objects the agent has already reported
// applying (a DEPLOY event) are left out.
func TargetState(ctx context.Context, q Queryer, agentID uuid.UUID, incremental bool) ([]DeploymentObject, error) {
	var out []DeploymentObject
	err := q.SelectContext(ctx, &out, `SELECT `+prefixed("o", deploymentObjectColumns)+`
		FROM (`+associatedStackIDs+`) a(stack_id)
		CROSS JOIN LATERAL (
			SELECT * FROM deployment_objects d
			WHERE d.stack_id = a.stack_id AND d.deleted_at IS NULL
			ORDER BY d.sequence_id DESC LIMIT 1) o
		WHERE NOT $2 OR NOT EXISTS (
			SELECT 1 FROM agent_events e
			WHERE e.agent_id = $1 AND e.deployment_object_id = o.id AND e.deleted_at IS NULL AND `+deployEvent+`)
		ORDER BY o.sequence_id DESC`, agentID, incremental)
	return out, Wrap(err)
}

// IsStackAssociated reports whether a live stack is associated with an agent.
func IsStackAssociated(ctx context.Context, q Queryer, agentID, stackID uuid.UUID) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM (`+associatedStackIDs+`) a(id) WHERE a.id = $2)`, agentID, stackID)
	return ok, Wrap(err)
}
