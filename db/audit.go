package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AuditRecord is one audit_logs row to insert.
type AuditRecord struct {
	Timestamp    time.Time
	ActorType    string // admin, agent, generator, system
	ActorID      *uuid.UUID
	Action       string
	ResourceType string
	ResourceID   *uuid.UUID
	Details      json.RawMessage // nil = NULL
	IPAddress    *string
	UserAgent    *string
}

// InsertAuditLogs writes a batch of audit rows in one statement.
func InsertAuditLogs(ctx context.Context, q Queryer, recs []AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var (
		ts         = make([]time.Time, len(recs))
		actorTypes = make([]string, len(recs))
		actorIDs   = make([]*uuid.UUID, len(recs))
		actions    = make([]string, len(recs))
		resTypes   = make([]string, len(recs))
		resIDs     = make([]*uuid.UUID, len(recs))
		details    = make([]*string, len(recs))
		ips        = make([]*string, len(recs))
		agents     = make([]*string, len(recs))
	)
	for i, r := range recs {
		ts[i], actorTypes[i], actorIDs[i], actions[i] = r.Timestamp, r.ActorType, r.ActorID, r.Action
		resTypes[i], resIDs[i], ips[i], agents[i] = r.ResourceType, r.ResourceID, r.IPAddress, r.UserAgent
		if r.Details != nil {
			d := string(r.Details)
			details[i] = &d
		}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_logs
		(timestamp, actor_type, actor_id, action, resource_type, resource_id, details, ip_address, user_agent, created_at)
		SELECT t, at, aid, act, rt, rid, d::jsonb, ip, ua, t
		FROM unnest($1::timestamptz[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::text[])
			AS x(t, at, aid, act, rt, rid, d, ip, ua)`,
		ts, actorTypes, actorIDs, actions, resTypes, resIDs, details, ips, agents)
	return Wrap(err)
}

// AuditLog is an audit_logs row with the actor's display name.
type AuditLog struct {
	ID           uuid.UUID        `db:"id"`
	Timestamp    time.Time        `db:"timestamp"`
	ActorType    string           `db:"actor_type"`
	ActorID      *uuid.UUID       `db:"actor_id"`
	Action       string           `db:"action"`
	ResourceType string           `db:"resource_type"`
	ResourceID   *uuid.UUID       `db:"resource_id"`
	Details      *json.RawMessage `db:"details"`
	IPAddress    *string          `db:"ip_address"`
	UserAgent    *string          `db:"user_agent"`
	CreatedAt    time.Time        `db:"created_at"`
	ActorName    *string          `db:"actor_name"`
}

// AuditFilter selects audit rows; zero fields do not filter.
type AuditFilter struct {
	ActorType    string
	ActorID      *uuid.UUID
	Action       string // exact, or a prefix when it ends in '*'
	ResourceType string
	ResourceID   *uuid.UUID
	From, To     *time.Time // From inclusive, To exclusive, on timestamp
	Limit        int
	Offset       int
}

// ListAuditLogs returns one page of matching rows, newest first, and the number of matches.
func ListAuditLogs(ctx context.Context, q Queryer, f AuditFilter) ([]AuditLog, int64, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ActorType != "" {
		add("l.actor_type = $%d", f.ActorType)
	}
	if f.ActorID != nil {
		add("l.actor_id = $%d", *f.ActorID)
	}
	if f.Action != "" {
		if p, ok := strings.CutSuffix(f.Action, "*"); ok {
			add("starts_with(l.action, $%d)", p)
		} else {
			add("l.action = $%d", f.Action)
		}
	}
	if f.ResourceType != "" {
		add("l.resource_type = $%d", f.ResourceType)
	}
	if f.ResourceID != nil {
		add("l.resource_id = $%d", *f.ResourceID)
	}
	if f.From != nil {
		add("l.timestamp >= $%d", *f.From)
	}
	if f.To != nil {
		add("l.timestamp < $%d", *f.To)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int64
	if err := q.GetContext(ctx, &total, `SELECT count(*) FROM audit_logs l`+cond, args...); err != nil {
		return nil, 0, Wrap(err)
	}
	args = append(args, f.Limit, f.Offset)
	var out []AuditLog
	err := q.SelectContext(ctx, &out, fmt.Sprintf(`SELECT l.id, l.timestamp, l.actor_type, l.actor_id, l.action,
			l.resource_type, l.resource_id, l.details, l.ip_address, l.user_agent, l.created_at,
			CASE l.actor_type
				WHEN 'admin' THEN 'admin'
				WHEN 'system' THEN 'system'
				WHEN 'agent' THEN (SELECT name FROM agents WHERE id = l.actor_id)
				WHEN 'generator' THEN (SELECT name FROM generators WHERE id = l.actor_id)
			END AS actor_name
		FROM audit_logs l%s ORDER BY l.timestamp DESC, l.id LIMIT $%d OFFSET $%d`, cond, len(args)-1, len(args)), args...)
	return out, total, Wrap(err)
}

// DeleteAuditLogsBefore removes rows created before t and returns how many.
func DeleteAuditLogsBefore(ctx context.Context, q Queryer, t time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM audit_logs WHERE created_at < $1`, t)
	if err != nil {
		return 0, Wrap(err)
	}
	return res.RowsAffected()
}
