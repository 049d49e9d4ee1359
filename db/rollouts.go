package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// activeRollout is the condition a rollout row r meets while it may still release its object.
const activeRollout = `r.status IN ('progressing', 'waiting', 'paused', 'halted')`

// RolloutPolicyRow is the rollout policy of a stack; Policy is its JSON document.
type RolloutPolicyRow struct {
	StackID   uuid.UUID `db:"stack_id"`
	Policy    []byte    `db:"policy"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

const rolloutPolicyColumns = `stack_id, policy, created_at, updated_at`

// GetRolloutPolicy returns the rollout policy of a stack (ErrNotFound when it has none).
func GetRolloutPolicy(ctx context.Context, q Queryer, stackID uuid.UUID) (RolloutPolicyRow, error) {
	var p RolloutPolicyRow
	err := q.GetContext(ctx, &p, `SELECT `+rolloutPolicyColumns+` FROM rollout_policies WHERE stack_id = $1`, stackID)
	return p, Wrap(err)
}

// LockRolloutPolicy returns the rollout policy of a stack and locks it until the end of the
// transaction, so that the rollouts of one stack are created one at a time (ErrNotFound when
// it has none).
func LockRolloutPolicy(ctx context.Context, q Queryer, stackID uuid.UUID) (RolloutPolicyRow, error) {
	var p RolloutPolicyRow
	err := q.GetContext(ctx, &p, `SELECT `+rolloutPolicyColumns+` FROM rollout_policies WHERE stack_id = $1 FOR UPDATE`, stackID)
	return p, Wrap(err)
}

// PutRolloutPolicy creates or replaces the rollout policy of a stack.
func PutRolloutPolicy(ctx context.Context, q Queryer, stackID uuid.UUID, policy []byte) (RolloutPolicyRow, error) {
	var p RolloutPolicyRow
	err := q.GetContext(ctx, &p, `INSERT INTO rollout_policies (stack_id, policy) VALUES ($1, $2::jsonb)
		ON CONFLICT (stack_id) DO UPDATE SET policy = EXCLUDED.policy
		RETURNING `+rolloutPolicyColumns, stackID, string(policy))
	return p, Wrap(err)
}

// DeleteRolloutPolicy removes the rollout policy of a stack (ErrNotFound when it has none).
func DeleteRolloutPolicy(ctx context.Context, q Queryer, stackID uuid.UUID) error {
	res, err := q.ExecContext(ctx, `DELETE FROM rollout_policies WHERE stack_id = $1`, stackID)
	if err != nil {
		return Wrap(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return ErrNotFound
	}
	return nil
}

// Rollout is a row of rollouts. Policy is the policy's JSON as it was when the object was
// posted, Waves the JSON state of each wave.
type Rollout struct {
	ID                 uuid.UUID  `db:"id"`
	StackID            uuid.UUID  `db:"stack_id"`
	DeploymentObjectID uuid.UUID  `db:"deployment_object_id"`
	PreviousObjectID   *uuid.UUID `db:"previous_object_id"`
	Policy             []byte     `db:"policy"`
	Status             string     `db:"status"`
	CurrentWave        int        `db:"current_wave"`
	Waves              []byte     `db:"waves"`
	NextWaveAt         *time.Time `db:"next_wave_at"`
	FailuresAccepted   int        `db:"failures_accepted"`
	Reason             *string    `db:"reason"`
	CreatedAt          time.Time  `db:"created_at"`
	UpdatedAt          time.Time  `db:"updated_at"`
	FinishedAt         *time.Time `db:"finished_at"`
}

const rolloutColumns = `id, stack_id, deployment_object_id, previous_object_id, policy, status, current_wave, waves,
	next_wave_at, failures_accepted, reason, created_at, updated_at, finished_at`

// NewRollout is a rollout to create.
type NewRollout struct {
	StackID            uuid.UUID
	DeploymentObjectID uuid.UUID
	PreviousObjectID   *uuid.UUID
	Policy             []byte
	Status             string
	Waves              []byte
	CreatedAt          time.Time
	FinishedAt         *time.Time
}

// CreateRollout inserts a rollout.
func CreateRollout(ctx context.Context, q Queryer, n NewRollout) (Rollout, error) {
	var r Rollout
	err := q.GetContext(ctx, &r, `INSERT INTO rollouts (stack_id, deployment_object_id, previous_object_id, policy, status,
			waves, created_at, finished_at)
		VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8) RETURNING `+rolloutColumns,
		n.StackID, n.DeploymentObjectID, n.PreviousObjectID, string(n.Policy), n.Status, string(n.Waves), n.CreatedAt, n.FinishedAt)
	return r, Wrap(err)
}

// SupersedeRollouts marks superseded, finished at at, the active rollouts of a stack whose
// object precedes sequence; it reports whether the stack has a rollout of a later object.
func SupersedeRollouts(ctx context.Context, q Queryer, stackID uuid.UUID, sequence int64, at time.Time) (later bool, err error) {
	if _, err := q.ExecContext(ctx, `UPDATE rollouts r SET status = 'superseded', finished_at = $3
		FROM deployment_objects d
		WHERE d.id = r.deployment_object_id AND r.stack_id = $1 AND d.sequence_id < $2 AND `+activeRollout,
		stackID, sequence, at); err != nil {
		return false, Wrap(err)
	}
	err = q.GetContext(ctx, &later, `SELECT EXISTS (SELECT 1 FROM rollouts r JOIN deployment_objects d ON d.id = r.deployment_object_id
		WHERE r.stack_id = $1 AND d.sequence_id > $2)`, stackID, sequence)
	return later, Wrap(err)
}

// PreviousObjectID returns the stack's latest live object before sequence (nil when none).
func PreviousObjectID(ctx context.Context, q Queryer, stackID uuid.UUID, sequence int64) (*uuid.UUID, error) {
	var ids []uuid.UUID
	err := q.SelectContext(ctx, &ids, `SELECT id FROM deployment_objects
		WHERE stack_id = $1 AND sequence_id < $2 AND deleted_at IS NULL ORDER BY sequence_id DESC LIMIT 1`, stackID, sequence)
	if err != nil || len(ids) == 0 {
		return nil, Wrap(err)
	}
	return &ids[0], nil
}

// LockRollout returns a rollout and locks it until the end of the transaction; a rollout
// another transaction holds is skipped (ErrNotFound), like one that does not exist.
func LockRollout(ctx context.Context, q Queryer, id uuid.UUID) (Rollout, error) {
	var r Rollout
	err := q.GetContext(ctx, &r, `SELECT `+rolloutColumns+` FROM rollouts WHERE id = $1 FOR UPDATE SKIP LOCKED`, id)
	return r, Wrap(err)
}

// latestRollout selects the rollout of the stack's latest object that has one.
const latestRollout = `SELECT ` + rolloutColumns + ` FROM rollouts WHERE id = (
	SELECT r.id FROM rollouts r JOIN deployment_objects d ON d.id = r.deployment_object_id
	WHERE r.stack_id = $1 ORDER BY d.sequence_id DESC LIMIT 1)`

// LatestRollout returns the stack's latest rollout (ErrNotFound when none).
func LatestRollout(ctx context.Context, q Queryer, stackID uuid.UUID) (Rollout, error) {
	var r Rollout
	err := q.GetContext(ctx, &r, latestRollout, stackID)
	return r, Wrap(err)
}

// LockLatestRollout is LatestRollout, locking the rollout until the end of the transaction
// (waiting for a transaction that holds it).
func LockLatestRollout(ctx context.Context, q Queryer, stackID uuid.UUID) (Rollout, error) {
	var r Rollout
	err := q.GetContext(ctx, &r, latestRollout+` FOR UPDATE`, stackID)
	return r, Wrap(err)
}

// ListRollouts returns up to limit rollouts of the stack, newest object first.
func ListRollouts(ctx context.Context, q Queryer, stackID uuid.UUID, limit int) ([]Rollout, error) {
	out := []Rollout{}
	err := q.SelectContext(ctx, &out, `SELECT `+prefixed("r", rolloutColumns)+`
		FROM rollouts r JOIN deployment_objects d ON d.id = r.deployment_object_id
		WHERE r.stack_id = $1 ORDER BY d.sequence_id DESC LIMIT $2`, stackID, limit)
	return out, Wrap(err)
}

// UpdateRollout stores the state of a rollout: status, current wave, waves, next wave time,
// failures accepted, reason and finish time.
func UpdateRollout(ctx context.Context, q Queryer, r Rollout) error {
	_, err := q.ExecContext(ctx, `UPDATE rollouts SET status = $2, current_wave = $3, waves = $4::jsonb, next_wave_at = $5,
		failures_accepted = $6, reason = $7, finished_at = $8 WHERE id = $1`,
		r.ID, r.Status, r.CurrentWave, string(r.Waves), r.NextWaveAt, r.FailuresAccepted, r.Reason, r.FinishedAt)
	return Wrap(err)
}

// SteppableRollouts returns the rollouts that may change without an operator (progressing
// or waiting), oldest first.
func SteppableRollouts(ctx context.Context, q Queryer) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := q.SelectContext(ctx, &out, `SELECT id FROM rollouts
		WHERE status IN ('progressing', 'waiting') ORDER BY created_at, id`)
	return out, Wrap(err)
}

// SteppableRolloutsOf returns the progressing or waiting rollouts of the deployment objects.
func SteppableRolloutsOf(ctx context.Context, q Queryer, objectIDs []uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	if len(objectIDs) == 0 {
		return nil, nil
	}
	err := q.SelectContext(ctx, &out, `SELECT id FROM rollouts
		WHERE deployment_object_id = ANY ($1::uuid[]) AND status IN ('progressing', 'waiting')`, objectIDs)
	return out, Wrap(err)
}

// RolloutAgent is an agent a rollout released its object to.
type RolloutAgent struct {
	RolloutID  uuid.UUID `db:"rollout_id"`
	AgentID    uuid.UUID `db:"agent_id"`
	Wave       int       `db:"wave"`
	ReleasedAt time.Time `db:"released_at"`
}

// RolloutAgents returns the agents the rollouts released their objects to.
func RolloutAgents(ctx context.Context, q Queryer, rolloutIDs []uuid.UUID) ([]RolloutAgent, error) {
	out := []RolloutAgent{}
	if len(rolloutIDs) == 0 {
		return out, nil
	}
	err := q.SelectContext(ctx, &out, `SELECT rollout_id, agent_id, wave, released_at FROM rollout_agents
		WHERE rollout_id = ANY ($1::uuid[])`, rolloutIDs)
	return out, Wrap(err)
}

// AgentRelease is one agent to release in a wave.
type AgentRelease struct {
	AgentID uuid.UUID
	Wave    int
}

// ReleaseAgents records that a rollout of a stack released its object to the agents at at;
// agents already released keep their row.
func ReleaseAgents(ctx context.Context, q Queryer, rolloutID, stackID uuid.UUID, agents []AgentRelease, at time.Time) error {
	if len(agents) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(agents))
	waves := make([]int32, len(agents))
	for i, a := range agents {
		ids[i], waves[i] = a.AgentID, int32(a.Wave)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO rollout_agents (rollout_id, agent_id, stack_id, wave, released_at)
		SELECT $1, a, $2, w, $5 FROM unnest($3::uuid[], $4::int[]) AS x(a, w)
		ON CONFLICT (rollout_id, agent_id) DO NOTHING`, rolloutID, stackID, ids, waves, at)
	return Wrap(err)
}

// AgentOutcome is what an agent reported on a deployment object: the status and message of
// its latest DEPLOY event, and its deployment health ("" when it reported none).
type AgentOutcome struct {
	DeploymentObjectID uuid.UUID `db:"deployment_object_id"`
	AgentID            uuid.UUID `db:"agent_id"`
	Deploy             string    `db:"deploy"`
	Message            string    `db:"message"`
	Health             string    `db:"health"`
}

// AgentOutcomes returns, per deployment object and agent that reported on it, the agent's
// latest DEPLOY event and its deployment health.
func AgentOutcomes(ctx context.Context, q Queryer, objectIDs []uuid.UUID) ([]AgentOutcome, error) {
	out := []AgentOutcome{}
	if len(objectIDs) == 0 {
		return out, nil
	}
	err := q.SelectContext(ctx, &out, `WITH ev AS (
			SELECT DISTINCT ON (e.deployment_object_id, e.agent_id) e.deployment_object_id, e.agent_id, e.status,
				COALESCE(e.message, '') AS message
			FROM agent_events e
			WHERE e.deployment_object_id = ANY ($1::uuid[]) AND e.deleted_at IS NULL AND `+deployEvent+`
			ORDER BY e.deployment_object_id, e.agent_id, e.created_at DESC, e.id DESC),
		h AS (
			SELECT deployment_object_id, agent_id, status FROM deployment_health
			WHERE deployment_object_id = ANY ($1::uuid[]))
		SELECT COALESCE(ev.deployment_object_id, h.deployment_object_id) AS deployment_object_id,
			COALESCE(ev.agent_id, h.agent_id) AS agent_id, COALESCE(ev.status, '') AS deploy,
			COALESCE(ev.message, '') AS message, COALESCE(h.status, '') AS health
		FROM ev FULL JOIN h ON h.deployment_object_id = ev.deployment_object_id AND h.agent_id = ev.agent_id`, objectIDs)
	return out, Wrap(err)
}

// StackAgent is a live agent associated with a stack, with what selectors match.
type StackAgent struct {
	ID          uuid.UUID
	Name        string
	Labels      []string
	Annotations map[string]string
}

// StackAgents returns the live agents associated with a live stack, by name then id: those
// targeting it explicitly, and those sharing a label or an exact annotation with it that are
// registered with its generator (the association target state goes by).
func StackAgents(ctx context.Context, q Queryer, stackID uuid.UUID) ([]StackAgent, error) {
	var rows []struct {
		ID   uuid.UUID `db:"id"`
		Name string    `db:"name"`
		selectorRow
	}
	err := q.SelectContext(ctx, &rows, `WITH st AS (
			SELECT id, generator_id FROM stacks WHERE id = $1 AND deleted_at IS NULL),
		ids AS (
			SELECT t.agent_id FROM agent_targets t JOIN st ON st.id = t.stack_id
			UNION
			SELECT m.agent_id FROM st CROSS JOIN LATERAL (
					SELECT al.agent_id FROM stack_labels sl JOIN agent_labels al ON al.label = sl.label
					WHERE sl.stack_id = st.id
					UNION
					SELECT aa.agent_id FROM stack_annotations sa
						JOIN agent_annotations aa ON aa.key = sa.key AND aa.value = sa.value
					WHERE sa.stack_id = st.id) m
			WHERE EXISTS (SELECT 1 FROM agent_generator_registrations g
				WHERE g.agent_id = m.agent_id AND g.generator_id = st.generator_id))
		SELECT a.id, a.name, `+selectorColumns+`
		FROM agents a JOIN ids ON ids.agent_id = a.id
		WHERE a.deleted_at IS NULL
		ORDER BY a.name, a.id`, stackID)
	if err != nil {
		return nil, Wrap(err)
	}
	out := make([]StackAgent, len(rows))
	for i, r := range rows {
		labels, ann, err := r.decode()
		if err != nil {
			return nil, fmt.Errorf("agent %s: %w", r.ID, err)
		}
		out[i] = StackAgent{ID: r.ID, Name: r.Name, Labels: labels, Annotations: ann}
	}
	return out, nil
}
