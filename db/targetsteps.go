package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// maxSteps bounds the objects of one stack a target state considers: its newest live objects
// down to the newest one every agent receives. Only a stack with more rollouts under way or
// superseded than this, none completed, reaches it.
const maxSteps = 200

// StepRow is one live object of a stack as target state considers it, with its rollout.
type StepRow struct {
	DeploymentObject
	// Everyone is set when every agent of the stack receives the object: it has no rollout,
	// or a completed one. Otherwise only the agents its rollout (RolloutID) released do.
	Everyone   bool       `db:"everyone"`
	RolloutID  *uuid.UUID `db:"rollout_id"`
	NextWaveAt *time.Time `db:"next_wave_at"`
}

// everyoneObject is the condition a deployment object d with its rollout r (left-joined)
// meets when every agent of its stack receives it: no rollout, or a completed one.
const everyoneObject = `(r.id IS NULL OR r.status = 'completed')`

// StackSteps returns, for each of the stacks, its live objects newest first down to the
// newest one every agent receives (all of them when none is), leaving out objects whose
// rollout was aborted.
func StackSteps(ctx context.Context, q Queryer, stackIDs []uuid.UUID) ([]StepRow, error) {
	var out []StepRow
	err := q.SelectContext(ctx, &out, `SELECT `+prefixed("o", deploymentObjectColumns)+`, o.everyone, o.rollout_id, o.next_wave_at
		FROM unnest($1::uuid[]) a(stack_id)
		LEFT JOIN LATERAL (
			SELECT d.sequence_id FROM deployment_objects d
			LEFT JOIN rollouts r ON r.deployment_object_id = d.id
			WHERE d.stack_id = a.stack_id AND d.deleted_at IS NULL AND `+everyoneObject+`
			ORDER BY d.sequence_id DESC LIMIT 1) f ON true
		CROSS JOIN LATERAL (
			SELECT d.*, `+everyoneObject+` AS everyone, r.id AS rollout_id, r.next_wave_at
			FROM deployment_objects d
			LEFT JOIN rollouts r ON r.deployment_object_id = d.id
			WHERE d.stack_id = a.stack_id AND d.deleted_at IS NULL AND d.sequence_id >= COALESCE(f.sequence_id, 0)
				AND (r.id IS NULL OR r.status <> 'aborted')
			ORDER BY d.sequence_id DESC LIMIT $2) o
		ORDER BY o.stack_id, o.sequence_id DESC`, stackIDs, maxSteps)
	return out, Wrap(err)
}

// Release is an agent a rollout has released its object to.
type Release struct {
	RolloutID uuid.UUID `db:"rollout_id"`
	AgentID   uuid.UUID `db:"agent_id"`
}

// RolloutReleases returns the agents the rollouts have released their objects to.
func RolloutReleases(ctx context.Context, q Queryer, rolloutIDs []uuid.UUID) ([]Release, error) {
	var out []Release
	if len(rolloutIDs) == 0 {
		return nil, nil
	}
	err := q.SelectContext(ctx, &out, `SELECT rollout_id, agent_id FROM rollout_agents WHERE rollout_id = ANY ($1::uuid[])`,
		rolloutIDs)
	return out, Wrap(err)
}

// AgentSelectorFacts returns an agent's labels and annotations, which apply windows select
// agents by.
func AgentSelectorFacts(ctx context.Context, q Queryer, agentID uuid.UUID) ([]string, map[string]string, error) {
	var row selectorRow
	if err := q.GetContext(ctx, &row, `SELECT `+selectorColumns+` FROM agents a WHERE a.id = $1`, agentID); err != nil {
		return nil, nil, Wrap(err)
	}
	return row.decode()
}

// selectorColumns selects the labels and the annotations of agent a, which rollout waves and
// apply windows select agents by.
const selectorColumns = `COALESCE((SELECT array_agg(label ORDER BY label) FROM agent_labels WHERE agent_id = a.id), '{}') AS labels,
	COALESCE((SELECT jsonb_object_agg(key, value) FROM agent_annotations WHERE agent_id = a.id), '{}') AS annotations`

// selectorRow is what selectorColumns select.
type selectorRow struct {
	Labels      TextArray `db:"labels"`
	Annotations []byte    `db:"annotations"`
}

func (r selectorRow) decode() ([]string, map[string]string, error) {
	ann := map[string]string{}
	if err := json.Unmarshal(r.Annotations, &ann); err != nil {
		return nil, nil, fmt.Errorf("agent annotations: %w", err)
	}
	labels := []string(r.Labels)
	if labels == nil {
		labels = []string{}
	}
	return labels, ann, nil
}

// HeldObject is the object an agent last reported applying in a stack.
type HeldObject struct {
	AgentID uuid.UUID `db:"agent_id"`
	DeploymentObject
}

// AgentHeldObjects returns, per stack, the object the agent last reported applying (a DEPLOY
// event), deleted or not.
func AgentHeldObjects(ctx context.Context, q Queryer, agentID uuid.UUID) ([]HeldObject, error) {
	var out []HeldObject
	err := q.SelectContext(ctx, &out, `SELECT ad.agent_id, `+prefixed("d", deploymentObjectColumns)+`
		FROM agent_deployments ad JOIN deployment_objects d ON d.id = ad.deployment_object_id
		WHERE ad.agent_id = $1`, agentID)
	return out, Wrap(err)
}

// StackHeldObjects returns, per agent, the object of the stack it last reported applying.
func StackHeldObjects(ctx context.Context, q Queryer, stackID uuid.UUID) ([]HeldObject, error) {
	var out []HeldObject
	err := q.SelectContext(ctx, &out, `SELECT ad.agent_id, `+prefixed("d", deploymentObjectColumns)+`
		FROM agent_deployments ad JOIN deployment_objects d ON d.id = ad.deployment_object_id
		WHERE ad.stack_id = $1`, stackID)
	return out, Wrap(err)
}

// DeployedObjects returns which of the objects the agent has reported applying (a live DEPLOY
// event): incremental target state leaves them out. An object the agent applied once but
// has since replaced with another of its stack (agent_deployments names that one) is not
// left out: it is served again after a rollout was aborted, and the agent must apply it again.
func DeployedObjects(ctx context.Context, q Queryer, agentID uuid.UUID, objectIDs []uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	if len(objectIDs) == 0 {
		return nil, nil
	}
	err := q.SelectContext(ctx, &out, `SELECT DISTINCT e.deployment_object_id FROM agent_events e
		WHERE e.agent_id = $1 AND e.deployment_object_id = ANY ($2::uuid[]) AND e.deleted_at IS NULL AND `+deployEvent+`
			AND NOT EXISTS (
				SELECT 1 FROM agent_deployments ad JOIN deployment_objects d ON d.stack_id = ad.stack_id
				WHERE d.id = e.deployment_object_id AND ad.agent_id = $1 AND ad.deployment_object_id <> d.id)`,
		agentID, objectIDs)
	return out, Wrap(err)
}

// RolloutPolicySnapshot returns the policy a rollout goes by (its JSON document).
func RolloutPolicySnapshot(ctx context.Context, q Queryer, id uuid.UUID) ([]byte, error) {
	var p []byte
	err := q.GetContext(ctx, &p, `SELECT policy FROM rollouts WHERE id = $1`, id)
	return p, Wrap(err)
}
