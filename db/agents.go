package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ListAgents returns one page of the live agents, oldest first, and whether more follow.
func ListAgents(ctx context.Context, q Queryer, p Page) ([]Agent, bool, error) {
	var args []any
	var out []Agent
	err := q.SelectContext(ctx, &out, `SELECT `+agentColumns+` FROM agents
		WHERE deleted_at IS NULL AND `+byCreatedAsc.after("", p, &args)+`
		ORDER BY `+byCreatedAsc.by("")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// ListAgentsRegisteredWith returns one page of the live agents registered with a generator,
// oldest first, and whether more follow.
func ListAgentsRegisteredWith(ctx context.Context, q Queryer, generatorID uuid.UUID, p Page) ([]Agent, bool, error) {
	args := []any{generatorID}
	var out []Agent
	err := q.SelectContext(ctx, &out, `SELECT `+agentColumns+` FROM agents a
		WHERE a.deleted_at IS NULL AND EXISTS (
			SELECT 1 FROM agent_generator_registrations r WHERE r.agent_id = a.id AND r.generator_id = $1)
			AND `+byCreatedAsc.after("a", p, &args)+`
		ORDER BY `+byCreatedAsc.by("a")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// GetAgent returns a live agent.
func GetAgent(ctx context.Context, q Queryer, id uuid.UUID) (Agent, error) {
	var a Agent
	err := q.GetContext(ctx, &a, `SELECT `+agentColumns+` FROM agents WHERE id = $1 AND deleted_at IS NULL`, id)
	return a, Wrap(err)
}

// FindAgent returns the live agent with this name and cluster.
func FindAgent(ctx context.Context, q Queryer, name, cluster string) (Agent, error) {
	var a Agent
	err := q.GetContext(ctx, &a, `SELECT `+agentColumns+` FROM agents
		WHERE name = $1 AND cluster_name = $2 AND deleted_at IS NULL`, name, cluster)
	return a, Wrap(err)
}

// CreateAgent inserts an agent with status INACTIVE and the given PAK hash.
func CreateAgent(ctx context.Context, q Queryer, name, cluster, pakHash string) (Agent, error) {
	var a Agent
	err := q.GetContext(ctx, &a, `INSERT INTO agents (name, cluster_name, pak_hash) VALUES ($1, $2, $3)
		RETURNING `+agentColumns, name, cluster, pakHash)
	return a, Wrap(err)
}

// AgentUpdate holds the columns of an agent update; nil leaves a column unchanged.
type AgentUpdate struct {
	Name, ClusterName, Status *string
}

// UpdateAgent changes a live agent.
func UpdateAgent(ctx context.Context, q Queryer, id uuid.UUID, u AgentUpdate) (Agent, error) {
	var a Agent
	err := q.GetContext(ctx, &a, `UPDATE agents SET
			name = COALESCE($2, name), cluster_name = COALESCE($3, cluster_name), status = COALESCE($4, status)
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+agentColumns, id, u.Name, u.ClusterName, u.Status)
	return a, Wrap(err)
}

// SoftDeleteAgent marks a live agent deleted and returns the row and its PAK hash;
// ErrNotFound when no live agent had that id.
func SoftDeleteAgent(ctx context.Context, q Queryer, id uuid.UUID) (Agent, string, error) {
	var row struct {
		Agent
		PAKHash string `db:"pak_hash"`
	}
	err := q.GetContext(ctx, &row, `UPDATE agents SET deleted_at = now()
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+agentColumns+`, pak_hash`, id)
	return row.Agent, row.PAKHash, Wrap(err)
}

// SetAgentPAKHash replaces a live agent's PAK hash and returns the agent and the old hash.
func SetAgentPAKHash(ctx context.Context, q Queryer, id uuid.UUID, hash string) (Agent, string, error) {
	var row struct {
		Agent
		OldHash string `db:"old_hash"`
	}
	err := q.GetContext(ctx, &row, `UPDATE agents a SET pak_hash = $2 FROM agents old
		WHERE a.id = $1 AND a.deleted_at IS NULL AND old.id = a.id
		RETURNING `+prefixed("a", agentColumns)+`, old.pak_hash AS old_hash`, id, hash)
	return row.Agent, row.OldHash, Wrap(err)
}

// Heartbeat records a heartbeat; when reported is true the Kubernetes reachability fields are
// replaced too. ErrNotFound when the agent is not live.
func Heartbeat(ctx context.Context, q Queryer, id uuid.UUID, reported bool, reachable *bool, latency *int32) (Agent, error) {
	var a Agent
	err := q.GetContext(ctx, &a, `UPDATE agents SET last_heartbeat = now(),
			k8s_reachable = CASE WHEN $2 THEN $3 ELSE k8s_reachable END,
			k8s_api_latency_ms = CASE WHEN $2 THEN $4 ELSE k8s_api_latency_ms END,
			k8s_reported_at = CASE WHEN $2 THEN now() ELSE k8s_reported_at END
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+agentColumns, id, reported, reachable, latency)
	return a, Wrap(err)
}

// HeartbeatRow is one agent's heartbeat as the broker recorded it: its time and, when the
// agent reported it (ReportedAt set), its Kubernetes reachability.
type HeartbeatRow struct {
	AgentID    uuid.UUID
	At         time.Time
	ReportedAt *time.Time // nil: the Kubernetes fields were not reported
	Reachable  *bool
	LatencyMs  *int32
}

// HeartbeatBatch writes many heartbeats in one statement and returns how many live agents
// it updated. last_heartbeat never moves backwards, and the Kubernetes fields are replaced
// only by a report at least as recent as the stored one, so that replicas writing their
// batches independently and in any order converge on the newest values. Rows are locked in
// id order, so two batches sharing agents cannot deadlock.
func HeartbeatBatch(ctx context.Context, q Queryer, rows []HeartbeatRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	ids := make([]uuid.UUID, len(rows))
	at := make([]time.Time, len(rows))
	reported := make([]*time.Time, len(rows))
	reachable := make([]*bool, len(rows))
	latency := make([]*int32, len(rows))
	for i, r := range rows {
		ids[i], at[i], reported[i], reachable[i], latency[i] = r.AgentID, r.At, r.ReportedAt, r.Reachable, r.LatencyMs
	}
	// newer: the batch carries a Kubernetes report at least as recent as the stored one.
	const newer = `v.reported_at IS NOT NULL AND (a.k8s_reported_at IS NULL OR v.reported_at >= a.k8s_reported_at)`
	res, err := q.ExecContext(ctx, `WITH locked AS (
			SELECT id FROM agents WHERE id = ANY ($1::uuid[]) AND deleted_at IS NULL ORDER BY id FOR UPDATE
		)
		UPDATE agents a SET last_heartbeat = GREATEST(a.last_heartbeat, v.at),
			k8s_reachable = CASE WHEN `+newer+` THEN v.reachable ELSE a.k8s_reachable END,
			k8s_api_latency_ms = CASE WHEN `+newer+` THEN v.latency ELSE a.k8s_api_latency_ms END,
			k8s_reported_at = CASE WHEN `+newer+` THEN v.reported_at ELSE a.k8s_reported_at END
		FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::bool[], $5::int[])
			AS v(id, at, reported_at, reachable, latency)
		WHERE a.id = v.id AND a.deleted_at IS NULL AND a.id IN (SELECT id FROM locked)`,
		ids, at, reported, reachable, latency)
	if err != nil {
		return 0, Wrap(err)
	}
	return res.RowsAffected()
}

// CountActiveAgents counts live agents whose status is ACTIVE.
func CountActiveAgents(ctx context.Context, q Queryer) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `SELECT count(*) FROM agents WHERE deleted_at IS NULL AND status = 'ACTIVE'`)
	return n, Wrap(err)
}

// ListAgentTargets returns an agent's explicit targets.
func ListAgentTargets(ctx context.Context, q Queryer, agentID uuid.UUID) ([]AgentTarget, error) {
	var out []AgentTarget
	err := q.SelectContext(ctx, &out, `SELECT id, agent_id, stack_id FROM agent_targets WHERE agent_id = $1 ORDER BY stack_id`, agentID)
	return out, Wrap(err)
}

// AddAgentTarget targets a stack explicitly.
func AddAgentTarget(ctx context.Context, q Queryer, agentID, stackID uuid.UUID) (AgentTarget, error) {
	var t AgentTarget
	err := q.GetContext(ctx, &t, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)
		RETURNING id, agent_id, stack_id`, agentID, stackID)
	return t, Wrap(err)
}

// RemoveAgentTarget deletes a target; ErrNotFound when there was none.
func RemoveAgentTarget(ctx context.Context, q Queryer, agentID, stackID uuid.UUID) error {
	return execOne(ctx, q, `DELETE FROM agent_targets WHERE agent_id = $1 AND stack_id = $2`, agentID, stackID)
}

// HasAgentTarget reports whether the agent explicitly targets the stack.
func HasAgentTarget(ctx context.Context, q Queryer, agentID, stackID uuid.UUID) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM agent_targets WHERE agent_id = $1 AND stack_id = $2)`, agentID, stackID)
	return ok, Wrap(err)
}

// ListAgentEvents returns one page of an agent's live events, newest first, and whether
// more follow.
func ListAgentEvents(ctx context.Context, q Queryer, agentID uuid.UUID, p Page) ([]AgentEvent, bool, error) {
	args := []any{agentID}
	var out []AgentEvent
	err := q.SelectContext(ctx, &out, `SELECT `+agentEventColumns+` FROM agent_events
		WHERE agent_id = $1 AND deleted_at IS NULL AND `+byCreatedDesc.after("", p, &args)+`
		ORDER BY `+byCreatedDesc.by("")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// ListAllAgentEvents returns one page of the live events, newest first, and whether more
// follow; with generatorID set, only those of agents registered with that generator.
func ListAllAgentEvents(ctx context.Context, q Queryer, generatorID *uuid.UUID, p Page) ([]AgentEvent, bool, error) {
	args := []any{generatorID}
	var out []AgentEvent
	err := q.SelectContext(ctx, &out, `SELECT `+agentEventColumns+` FROM agent_events e
		WHERE e.deleted_at IS NULL AND ($1::uuid IS NULL OR EXISTS (
			SELECT 1 FROM agent_generator_registrations r WHERE r.agent_id = e.agent_id AND r.generator_id = $1))
			AND `+byCreatedDesc.after("e", p, &args)+`
		ORDER BY `+byCreatedDesc.by("e")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// GetAgentEvent returns a live event.
func GetAgentEvent(ctx context.Context, q Queryer, id uuid.UUID) (AgentEvent, error) {
	var e AgentEvent
	err := q.GetContext(ctx, &e, `SELECT `+agentEventColumns+` FROM agent_events WHERE id = $1 AND deleted_at IS NULL`, id)
	return e, Wrap(err)
}

// NewAgentEvent holds the columns of an event insert.
type NewAgentEvent struct {
	AgentID, DeploymentObjectID uuid.UUID
	EventType, Status           string
	Message                     *string
}

// CreateAgentEvent inserts an event.
func CreateAgentEvent(ctx context.Context, q Queryer, e NewAgentEvent) (AgentEvent, error) {
	var out AgentEvent
	err := q.GetContext(ctx, &out, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+agentEventColumns, e.AgentID, e.DeploymentObjectID, e.EventType, e.Status, e.Message)
	return out, Wrap(err)
}

// ListRegistrations returns an agent's generator registrations.
func ListRegistrations(ctx context.Context, q Queryer, agentID uuid.UUID) ([]Registration, error) {
	var out []Registration
	err := q.SelectContext(ctx, &out, `SELECT id, agent_id, generator_id, registered_at FROM agent_generator_registrations
		WHERE agent_id = $1 ORDER BY registered_at, id`, agentID)
	return out, Wrap(err)
}

// ListGeneratorRegistrations returns one page of the registrations of a generator, oldest
// first, and whether more follow.
func ListGeneratorRegistrations(ctx context.Context, q Queryer, generatorID uuid.UUID, p Page) ([]Registration, bool, error) {
	args := []any{generatorID}
	var out []Registration
	err := q.SelectContext(ctx, &out, `SELECT id, agent_id, generator_id, registered_at FROM agent_generator_registrations
		WHERE generator_id = $1 AND `+byRegistered.after("", p, &args)+`
		ORDER BY `+byRegistered.by("")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// Register registers an agent with a generator.
func Register(ctx context.Context, q Queryer, agentID, generatorID uuid.UUID) (Registration, error) {
	var r Registration
	err := q.GetContext(ctx, &r, `INSERT INTO agent_generator_registrations (agent_id, generator_id) VALUES ($1, $2)
		RETURNING id, agent_id, generator_id, registered_at`, agentID, generatorID)
	return r, Wrap(err)
}

// IsRegistered reports whether an agent is registered with a generator.
func IsRegistered(ctx context.Context, q Queryer, agentID, generatorID uuid.UUID) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM agent_generator_registrations
		WHERE agent_id = $1 AND generator_id = $2)`, agentID, generatorID)
	return ok, Wrap(err)
}

// Deregister removes the agent's explicit targets on the generator's live stacks, then the
// registration itself. A missing registration is not an error.
func Deregister(ctx context.Context, q Queryer, agentID, generatorID uuid.UUID) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM agent_targets t USING stacks s
		WHERE t.agent_id = $1 AND t.stack_id = s.id AND s.generator_id = $2 AND s.deleted_at IS NULL`, agentID, generatorID); err != nil {
		return Wrap(fmt.Errorf("delete targets: %w", err))
	}
	_, err := q.ExecContext(ctx, `DELETE FROM agent_generator_registrations WHERE agent_id = $1 AND generator_id = $2`, agentID, generatorID)
	return Wrap(err)
}

// execOne runs a statement that must affect at least one row, else ErrNotFound.
func execOne(ctx context.Context, q Queryer, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return Wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, columns string) string {
	out := make([]byte, 0, len(columns)*2)
	start := true
	for i := 0; i < len(columns); i++ {
		c := columns[i]
		if start && c != ' ' && c != '\t' && c != '\n' {
			out = append(out, alias...)
			out = append(out, '.')
			start = false
		}
		out = append(out, c)
		if c == ',' {
			start = true
		}
	}
	return string(out)
}

// DeleteAgentEventsBefore hard-deletes agent events created before t and returns how many.
func DeleteAgentEventsBefore(ctx context.Context, q Queryer, t time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM agent_events WHERE created_at < $1`, t)
	if err != nil {
		return 0, Wrap(err)
	}
	return res.RowsAffected()
}
