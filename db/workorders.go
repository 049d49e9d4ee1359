package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Work order queue states (work_orders.status).
const (
	WorkOrderPending      = "PENDING"
	WorkOrderClaimed      = "CLAIMED"
	WorkOrderRetryPending = "RETRY_PENDING"
)

// WorkOrder is a row of work_orders: an order still in the queue.
type WorkOrder struct {
	ID                  uuid.UUID  `db:"id"`
	CreatedAt           time.Time  `db:"created_at"`
	UpdatedAt           time.Time  `db:"updated_at"`
	WorkType            string     `db:"work_type"`
	YAMLContent         string     `db:"yaml_content"`
	Status              string     `db:"status"`
	ClaimedBy           *uuid.UUID `db:"claimed_by"`
	ClaimedAt           *time.Time `db:"claimed_at"`
	ClaimTimeoutSeconds int32      `db:"claim_timeout_seconds"`
	MaxRetries          int32      `db:"max_retries"`
	RetryCount          int32      `db:"retry_count"`
	BackoffSeconds      int32      `db:"backoff_seconds"`
	NextRetryAfter      *time.Time `db:"next_retry_after"`
	LastError           *string    `db:"last_error"`
	LastErrorAt         *time.Time `db:"last_error_at"`
}

const workOrderColumns = `id, created_at, updated_at, work_type, yaml_content, status, claimed_by, claimed_at,
	claim_timeout_seconds, max_retries, retry_count, backoff_seconds, next_retry_after, last_error, last_error_at`

// WorkOrderLog is a row of work_order_log: an order that left the queue for good.
type WorkOrderLog struct {
	ID               uuid.UUID  `db:"id"`
	WorkType         string     `db:"work_type"`
	CreatedAt        time.Time  `db:"created_at"`
	ClaimedAt        *time.Time `db:"claimed_at"`
	CompletedAt      time.Time  `db:"completed_at"`
	ClaimedBy        *uuid.UUID `db:"claimed_by"`
	Success          bool       `db:"success"`
	RetriesAttempted int32      `db:"retries_attempted"`
	ResultMessage    *string    `db:"result_message"`
	YAMLContent      string     `db:"yaml_content"`
}

const workOrderLogColumns = `id, work_type, created_at, claimed_at, completed_at, claimed_by, success,
	retries_attempted, result_message, yaml_content`

// NewWorkOrder describes an order to enqueue and the agents that may claim it: the listed
// agents, agents carrying any of the labels, and agents carrying any of the annotations.
type NewWorkOrder struct {
	WorkType            string
	YAMLContent         string
	MaxRetries          int32
	BackoffSeconds      int32
	ClaimTimeoutSeconds int32
	AgentIDs            []uuid.UUID       // distinct
	Labels              []string          // distinct
	Annotations         map[string]string // key → value
}

// eligibleFor is the condition under which the agent (SQL expression agent) may claim the
// work order whose id is the SQL expression order: the agent is live and is a hard target,
// shares a label, or shares an exact (key, value) annotation with the order.
//
// When order is a parameter rather than a column, every sub-query is uncorrelated and runs
// once through the (work_order_id, …) indexes, so the cost of a claim does not depend on how
// many orders the agent's labels match.
func eligibleFor(order, agent string) string {
	return `EXISTS (SELECT 1 FROM agents ag WHERE ag.id = ` + agent + ` AND ag.deleted_at IS NULL)
		AND (EXISTS (SELECT 1 FROM work_order_targets t WHERE t.work_order_id = ` + order + ` AND t.agent_id = ` + agent + `)
			OR EXISTS (SELECT 1 FROM work_order_labels l JOIN agent_labels al ON al.label = l.label
				WHERE l.work_order_id = ` + order + ` AND al.agent_id = ` + agent + `)
			OR EXISTS (SELECT 1 FROM work_order_annotations a
				JOIN agent_annotations aa ON aa.key = a.key AND aa.value = a.value
				WHERE a.work_order_id = ` + order + ` AND aa.agent_id = ` + agent + `))`
}

// LiveAgentsAmong returns which of ids name live agents.
func LiveAgentsAmong(ctx context.Context, q Queryer, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	var found []uuid.UUID
	if err := q.SelectContext(ctx, &found, `SELECT id FROM agents WHERE id = ANY($1) AND deleted_at IS NULL`, ids); err != nil {
		return nil, Wrap(err)
	}
	out := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// CreateWorkOrder inserts a PENDING work order with its targets, labels and annotations.
// Run it in a transaction: a failing target insert leaves the order behind otherwise.
func CreateWorkOrder(ctx context.Context, q Queryer, n NewWorkOrder) (WorkOrder, error) {
	var w WorkOrder
	err := q.GetContext(ctx, &w, `INSERT INTO work_orders
		(work_type, yaml_content, max_retries, backoff_seconds, claim_timeout_seconds)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+workOrderColumns,
		n.WorkType, n.YAMLContent, n.MaxRetries, n.BackoffSeconds, n.ClaimTimeoutSeconds)
	if err != nil {
		return WorkOrder{}, fmt.Errorf("insert work order: %w", Wrap(err))
	}
	if len(n.AgentIDs) > 0 {
		if _, err := q.ExecContext(ctx, `INSERT INTO work_order_targets (work_order_id, agent_id)
			SELECT $1, a FROM unnest($2::uuid[]) AS a`, w.ID, n.AgentIDs); err != nil {
			return WorkOrder{}, fmt.Errorf("insert work order targets: %w", Wrap(err))
		}
	}
	if len(n.Labels) > 0 {
		if _, err := q.ExecContext(ctx, `INSERT INTO work_order_labels (work_order_id, label)
			SELECT $1, l FROM unnest($2::text[]) AS l`, w.ID, n.Labels); err != nil {
			return WorkOrder{}, fmt.Errorf("insert work order labels: %w", Wrap(err))
		}
	}
	if len(n.Annotations) > 0 {
		keys := make([]string, 0, len(n.Annotations))
		values := make([]string, 0, len(n.Annotations))
		for k, v := range n.Annotations {
			keys, values = append(keys, k), append(values, v)
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO work_order_annotations (work_order_id, key, value)
			SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS x(k, v)`, w.ID, keys, values); err != nil {
			return WorkOrder{}, fmt.Errorf("insert work order annotations: %w", Wrap(err))
		}
	}
	return w, nil
}

// ListWorkOrders returns one page of the queued orders, newest first, and whether more
// follow; non-nil filters match exactly. p.MaxBytes bounds the YAML of the page.
func ListWorkOrders(ctx context.Context, q Queryer, status, workType *string, p Page) ([]WorkOrder, bool, error) {
	args := []any{status, workType}
	inner := `SELECT ` + workOrderColumns + `, octet_length(yaml_content) AS row_bytes FROM work_orders
		WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR work_type = $2)
			AND ` + byCreatedDesc.after("", p, &args) + `
		ORDER BY ` + byCreatedDesc.by("") + ` LIMIT ` + limitArg(p, &args)
	return selectWorkOrders(ctx, q, inner, byCreatedDesc, p, args)
}

// pagedWorkOrder is a row of a budgeted work order page.
type pagedWorkOrder struct {
	WorkOrder
	Fetched int `db:"fetched"`
}

func selectWorkOrders(ctx context.Context, q Queryer, inner string, o order, p Page, args []any) ([]WorkOrder, bool, error) {
	var rows []pagedWorkOrder
	if err := q.SelectContext(ctx, &rows, budgeted(workOrderColumns, inner, o, p, &args), args...); err != nil {
		return nil, false, Wrap(err)
	}
	out, fetched := unwrap(rows, func(r pagedWorkOrder) (WorkOrder, int) { return r.WorkOrder, r.Fetched })
	out, more := budgetTrim(out, fetched, p)
	return out, more, nil
}

// GetWorkOrder returns a queued order.
func GetWorkOrder(ctx context.Context, q Queryer, id uuid.UUID) (WorkOrder, error) {
	var w WorkOrder
	err := q.GetContext(ctx, &w, `SELECT `+workOrderColumns+` FROM work_orders WHERE id = $1`, id)
	return w, Wrap(err)
}

// LockWorkOrder returns a queued order and locks its row until the transaction q ends.
func LockWorkOrder(ctx context.Context, q Queryer, id uuid.UUID) (WorkOrder, error) {
	var w WorkOrder
	err := q.GetContext(ctx, &w, `SELECT `+workOrderColumns+` FROM work_orders WHERE id = $1 FOR UPDATE`, id)
	return w, Wrap(err)
}

// DeleteWorkOrder removes a queued order (targets, labels and annotations cascade);
// ErrNotFound when there was none.
func DeleteWorkOrder(ctx context.Context, q Queryer, id uuid.UUID) error {
	return execOne(ctx, q, `DELETE FROM work_orders WHERE id = $1`, id)
}

// ListPendingWorkOrders returns one page of the PENDING orders the agent may claim, oldest
// first, and whether more follow; a non-nil workType filters exactly. p.MaxBytes bounds the
// YAML of the page.
func ListPendingWorkOrders(ctx context.Context, q Queryer, agentID uuid.UUID, workType *string, p Page) ([]WorkOrder, bool, error) {
	args := []any{agentID, workType}
	inner := `SELECT ` + prefixed("w", workOrderColumns) + `, octet_length(w.yaml_content) AS row_bytes FROM work_orders w
		WHERE w.status = 'PENDING' AND ($2::text IS NULL OR w.work_type = $2) AND ` + eligibleFor("w.id", "$1") + `
			AND ` + byCreatedAsc.after("w", p, &args) + `
		ORDER BY ` + byCreatedAsc.by("w") + ` LIMIT ` + limitArg(p, &args)
	return selectWorkOrders(ctx, q, inner, byCreatedAsc, p, args)
}

// ClaimWorkOrder hands a PENDING order to an eligible agent. The claim is one conditional
// UPDATE, so of several concurrent claimers exactly one wins; the others (and claims of
// missing, non-PENDING or ineligible orders) get ErrNotFound.
func ClaimWorkOrder(ctx context.Context, q Queryer, id, agentID uuid.UUID) (WorkOrder, error) {
	var w WorkOrder
	err := q.GetContext(ctx, &w, `UPDATE work_orders w SET status = 'CLAIMED', claimed_by = $2, claimed_at = now()
		WHERE w.id = $1 AND w.status = 'PENDING' AND `+eligibleFor("$1", "$2")+`
		RETURNING `+workOrderColumns, id, agentID)
	return w, Wrap(err)
}

// MoveWorkOrderToLog deletes a queued order and records it in work_order_log in one
// statement: retries_attempted is its retry count, completed_at the transaction time.
func MoveWorkOrderToLog(ctx context.Context, q Queryer, id uuid.UUID, success bool, message *string) (WorkOrderLog, error) {
	var l WorkOrderLog
	err := q.GetContext(ctx, &l, `WITH gone AS (DELETE FROM work_orders WHERE id = $1 RETURNING *)
		INSERT INTO work_order_log (id, work_type, created_at, claimed_at, completed_at, claimed_by, success,
			retries_attempted, result_message, yaml_content)
		SELECT id, work_type, created_at, claimed_at, now(), claimed_by, $2, retry_count, $3, yaml_content FROM gone
		RETURNING `+workOrderLogColumns, id, success, message)
	return l, Wrap(err)
}

// ScheduleWorkOrderRetry records a failed attempt: the order becomes RETRY_PENDING with the
// given retry count, is released by its agent, and is due again after delay.
func ScheduleWorkOrderRetry(ctx context.Context, q Queryer, id uuid.UUID, retryCount int32, delay time.Duration, message string) (WorkOrder, error) {
	var w WorkOrder
	err := q.GetContext(ctx, &w, `UPDATE work_orders SET status = 'RETRY_PENDING', retry_count = $2,
			next_retry_after = now() + make_interval(secs => $3), claimed_by = NULL, claimed_at = NULL,
			last_error = $4, last_error_at = now()
		WHERE id = $1 RETURNING `+workOrderColumns, id, retryCount, delay.Seconds(), message)
	return w, Wrap(err)
}

// WorkOrderLogFilter selects log rows; nil fields do not filter.
type WorkOrderLogFilter struct {
	WorkType *string
	Success  *bool
	AgentID  *uuid.UUID // claimed_by
}

// pagedWorkOrderLog is a row of a budgeted work order log page.
type pagedWorkOrderLog struct {
	WorkOrderLog
	Fetched int `db:"fetched"`
}

// ListWorkOrderLog returns one page of log rows, most recently completed first, and whether
// more follow. p.MaxBytes bounds the YAML of the page.
func ListWorkOrderLog(ctx context.Context, q Queryer, f WorkOrderLogFilter, p Page) ([]WorkOrderLog, bool, error) {
	args := []any{f.WorkType, f.Success, f.AgentID}
	inner := `SELECT ` + workOrderLogColumns + `, octet_length(yaml_content) AS row_bytes FROM work_order_log
		WHERE ($1::text IS NULL OR work_type = $1) AND ($2::boolean IS NULL OR success = $2)
			AND ($3::uuid IS NULL OR claimed_by = $3) AND ` + byCompleted.after("", p, &args) + `
		ORDER BY ` + byCompleted.by("") + ` LIMIT ` + limitArg(p, &args)
	var rows []pagedWorkOrderLog
	if err := q.SelectContext(ctx, &rows, budgeted(workOrderLogColumns, inner, byCompleted, p, &args), args...); err != nil {
		return nil, false, Wrap(err)
	}
	out, fetched := unwrap(rows, func(r pagedWorkOrderLog) (WorkOrderLog, int) { return r.WorkOrderLog, r.Fetched })
	out, more := budgetTrim(out, fetched, p)
	return out, more, nil
}

// GetWorkOrderLog returns one log row.
func GetWorkOrderLog(ctx context.Context, q Queryer, id uuid.UUID) (WorkOrderLog, error) {
	var l WorkOrderLog
	err := q.GetContext(ctx, &l, `SELECT `+workOrderLogColumns+` FROM work_order_log WHERE id = $1`, id)
	return l, Wrap(err)
}

// ReleaseDueRetries makes RETRY_PENDING orders whose backoff has passed PENDING again and
// returns how many. The statement is idempotent, so replicas may run it concurrently.
func ReleaseDueRetries(ctx context.Context, q Queryer) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE work_orders SET status = 'PENDING', next_retry_after = NULL
		WHERE status = 'RETRY_PENDING' AND next_retry_after <= now()`)
	if err != nil {
		return 0, Wrap(err)
	}
	return res.RowsAffected()
}

// ClaimExpired is the last_error of an order whose claim timed out, and the result message
// of one that failed for good that way.
const ClaimExpired = "claim expired"

// ExpiredClaims is what ExpireClaims did.
type ExpiredClaims struct {
	Requeued []WorkOrder    // back to PENDING, one more attempt counted
	Failed   []WorkOrderLog // past max_retries: moved to the log as failed
}

// ExpireClaims handles up to limit CLAIMED orders whose claim timed out (claimed_at +
// claim_timeout_seconds < now), oldest claim first. Each expiry counts an attempt, as a
// reported failure does: an order with retries left goes back to PENDING with its claim
// cleared, retry_count + 1 and last_error "claim expired"; one whose retry_count already
// equals max_retries moves to work_order_log as failed with result message "claim expired"
// (retries_attempted = retry_count, claimed_by = the agent that let the claim expire).
//
// Run it in a transaction: the orders are locked with FOR UPDATE SKIP LOCKED, so replicas
// running it at the same time handle disjoint orders and a claim expires exactly once.
func ExpireClaims(ctx context.Context, q Queryer, limit int) (ExpiredClaims, error) {
	var due []struct {
		ID    uuid.UUID `db:"id"`
		Final bool      `db:"final"`
	}
	if err := q.SelectContext(ctx, &due, `SELECT id, retry_count >= max_retries AS final FROM work_orders
		WHERE status = 'CLAIMED' AND claimed_at + make_interval(secs => claim_timeout_seconds) < now()
		ORDER BY claimed_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit); err != nil {
		return ExpiredClaims{}, fmt.Errorf("select expired claims: %w", Wrap(err))
	}
	var requeue, fail []uuid.UUID
	for _, d := range due {
		if d.Final {
			fail = append(fail, d.ID)
		} else {
			requeue = append(requeue, d.ID)
		}
	}
	var out ExpiredClaims
	if len(requeue) > 0 {
		if err := q.SelectContext(ctx, &out.Requeued, `UPDATE work_orders SET status = 'PENDING',
				claimed_by = NULL, claimed_at = NULL, retry_count = retry_count + 1,
				last_error = $2, last_error_at = now()
			WHERE id = ANY($1) RETURNING `+workOrderColumns, requeue, ClaimExpired); err != nil {
			return ExpiredClaims{}, fmt.Errorf("requeue expired claims: %w", Wrap(err))
		}
	}
	if len(fail) > 0 {
		if err := q.SelectContext(ctx, &out.Failed, `WITH gone AS (DELETE FROM work_orders WHERE id = ANY($1) RETURNING *)
			INSERT INTO work_order_log (id, work_type, created_at, claimed_at, completed_at, claimed_by, success,
				retries_attempted, result_message, yaml_content)
			SELECT id, work_type, created_at, claimed_at, now(), claimed_by, false, retry_count, $2, yaml_content FROM gone
			RETURNING `+workOrderLogColumns, fail, ClaimExpired); err != nil {
			return ExpiredClaims{}, fmt.Errorf("fail expired claims: %w", Wrap(err))
		}
	}
	return out, nil
}
