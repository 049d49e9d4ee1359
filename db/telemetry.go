package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// K8sEvent is a row of agent_k8s_events. InvolvedObject holds the JSON object as stored.
type K8sEvent struct {
	ID             uuid.UUID       `db:"id"`
	AgentID        uuid.UUID       `db:"agent_id"`
	StackID        uuid.UUID       `db:"stack_id"`
	ObservedAt     time.Time       `db:"observed_at"`
	Reason         string          `db:"reason"`
	Message        string          `db:"message"`
	EventType      string          `db:"event_type"`
	Source         *string         `db:"source"`
	InvolvedObject json.RawMessage `db:"involved_object"`
	CreatedAt      time.Time       `db:"created_at"`
}

const k8sEventColumns = `id, agent_id, stack_id, observed_at, reason, message, event_type, source, involved_object, created_at`

// PodLog is a row of agent_pod_logs.
type PodLog struct {
	ID        uuid.UUID `db:"id"`
	AgentID   uuid.UUID `db:"agent_id"`
	StackID   uuid.UUID `db:"stack_id"`
	Namespace string    `db:"namespace"`
	Pod       string    `db:"pod"`
	Container string    `db:"container"`
	TS        time.Time `db:"ts"`
	Line      string    `db:"line"`
	CreatedAt time.Time `db:"created_at"`
}

const podLogColumns = `id, agent_id, stack_id, namespace, pod, container, ts, line, created_at`

// InsertK8sEvent stores a forwarded Kubernetes event (ID and CreatedAt are assigned).
func InsertK8sEvent(ctx context.Context, q Queryer, e K8sEvent) (K8sEvent, error) {
	var out K8sEvent
	err := q.GetContext(ctx, &out, `INSERT INTO agent_k8s_events
		(agent_id, stack_id, observed_at, reason, message, event_type, source, involved_object)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) RETURNING `+k8sEventColumns,
		e.AgentID, e.StackID, e.ObservedAt, e.Reason, e.Message, e.EventType, e.Source, string(e.InvolvedObject))
	return out, Wrap(err)
}

// InsertPodLog stores a forwarded pod log line (ID and CreatedAt are assigned).
func InsertPodLog(ctx context.Context, q Queryer, l PodLog) (PodLog, error) {
	var out PodLog
	err := q.GetContext(ctx, &out, `INSERT INTO agent_pod_logs (agent_id, stack_id, namespace, pod, container, ts, line)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+podLogColumns,
		l.AgentID, l.StackID, l.Namespace, l.Pod, l.Container, l.TS, l.Line)
	return out, Wrap(err)
}

// ListK8sEvents returns up to limit events of a stack stored at or after since, newest first.
func ListK8sEvents(ctx context.Context, q Queryer, stackID uuid.UUID, since time.Time, limit int) ([]K8sEvent, error) {
	out := []K8sEvent{}
	err := q.SelectContext(ctx, &out, `SELECT `+k8sEventColumns+` FROM agent_k8s_events
		WHERE stack_id = $1 AND created_at >= $2 ORDER BY created_at DESC, id DESC LIMIT $3`, stackID, since, limit)
	return out, Wrap(err)
}

// ListPodLogs returns up to limit log lines of a stack stored at or after since, newest first.
func ListPodLogs(ctx context.Context, q Queryer, stackID uuid.UUID, since time.Time, limit int) ([]PodLog, error) {
	out := []PodLog{}
	err := q.SelectContext(ctx, &out, `SELECT `+podLogColumns+` FROM agent_pod_logs
		WHERE stack_id = $1 AND created_at >= $2 ORDER BY created_at DESC, id DESC LIMIT $3`, stackID, since, limit)
	return out, Wrap(err)
}

// Telemetry tables, as named in eviction results.
const (
	TableK8sEvents = "agent_k8s_events"
	TablePodLogs   = "agent_pod_logs"
)

// evictionBatch bounds the rows one eviction statement deletes, so that a large backlog
// never holds locks for long.
const evictionBatch = 5000

// EvictTelemetry deletes the telemetry rows stored more than maxAge ago (by the database
// clock) and returns how many rows it deleted per table. Rows another session is deleting
// at the same time are skipped, so concurrent runs share the work instead of waiting.
func EvictTelemetry(ctx context.Context, q Queryer, maxAge time.Duration) (map[string]int64, error) {
	out := map[string]int64{}
	for _, table := range []string{TableK8sEvents, TablePodLogs} {
		query := fmt.Sprintf(`DELETE FROM %[1]s WHERE id IN (
			SELECT id FROM %[1]s WHERE created_at < now() - make_interval(secs => $1)
			LIMIT $2 FOR UPDATE SKIP LOCKED)`, table)
		for {
			res, err := q.ExecContext(ctx, query, maxAge.Seconds(), evictionBatch)
			if err != nil {
				return out, Wrap(fmt.Errorf("evict %s: %w", table, err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return out, fmt.Errorf("evict %s: %w", table, err)
			}
			out[table] += n
			if n < evictionBatch {
				break
			}
		}
	}
	return out, nil
}
