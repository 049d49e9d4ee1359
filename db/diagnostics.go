package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Diagnostic request states (diagnostic_requests.status).
const (
	DiagnosticPending   = "pending"
	DiagnosticClaimed   = "claimed"
	DiagnosticCompleted = "completed"
	DiagnosticFailed    = "failed"
	DiagnosticExpired   = "expired"
)

// DiagnosticRequest is a row of diagnostic_requests.
type DiagnosticRequest struct {
	ID                 uuid.UUID  `db:"id"`
	AgentID            uuid.UUID  `db:"agent_id"`
	DeploymentObjectID uuid.UUID  `db:"deployment_object_id"`
	Status             string     `db:"status"`
	RequestedBy        *string    `db:"requested_by"`
	CreatedAt          time.Time  `db:"created_at"`
	ClaimedAt          *time.Time `db:"claimed_at"`
	CompletedAt        *time.Time `db:"completed_at"`
	ExpiresAt          time.Time  `db:"expires_at"`
}

const diagnosticRequestColumns = `id, agent_id, deployment_object_id, status, requested_by, created_at,
	claimed_at, completed_at, expires_at`

// DiagnosticResult is a row of diagnostic_results.
type DiagnosticResult struct {
	ID          uuid.UUID `db:"id"`
	RequestID   uuid.UUID `db:"request_id"`
	PodStatuses string    `db:"pod_statuses"`
	Events      string    `db:"events"`
	LogTails    *string   `db:"log_tails"`
	CollectedAt time.Time `db:"collected_at"`
	CreatedAt   time.Time `db:"created_at"`
}

const diagnosticResultColumns = `id, request_id, pod_statuses, events, log_tails, collected_at, created_at`

// CreateDiagnosticRequest inserts a pending request that expires retention from now.
func CreateDiagnosticRequest(ctx context.Context, q Queryer, agentID, objectID uuid.UUID, requestedBy *string, retention time.Duration) (DiagnosticRequest, error) {
	var r DiagnosticRequest
	err := q.GetContext(ctx, &r, `INSERT INTO diagnostic_requests (agent_id, deployment_object_id, requested_by, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING `+diagnosticRequestColumns,
		agentID, objectID, requestedBy, retention.Seconds())
	return r, Wrap(err)
}

// GetDiagnosticRequest returns one request.
func GetDiagnosticRequest(ctx context.Context, q Queryer, id uuid.UUID) (DiagnosticRequest, error) {
	var r DiagnosticRequest
	err := q.GetContext(ctx, &r, `SELECT `+diagnosticRequestColumns+` FROM diagnostic_requests WHERE id = $1`, id)
	return r, Wrap(err)
}

// GetDiagnosticResult returns the latest result of a request; ErrNotFound when none.
func GetDiagnosticResult(ctx context.Context, q Queryer, requestID uuid.UUID) (DiagnosticResult, error) {
	var r DiagnosticResult
	err := q.GetContext(ctx, &r, `SELECT `+diagnosticResultColumns+` FROM diagnostic_results
		WHERE request_id = $1 ORDER BY created_at DESC, id LIMIT 1`, requestID)
	return r, Wrap(err)
}

// ListPendingDiagnostics returns one page of an agent's pending, unexpired requests, oldest
// first, and whether more follow.
func ListPendingDiagnostics(ctx context.Context, q Queryer, agentID uuid.UUID, p Page) ([]DiagnosticRequest, bool, error) {
	args := []any{agentID}
	var out []DiagnosticRequest
	err := q.SelectContext(ctx, &out, `SELECT `+diagnosticRequestColumns+` FROM diagnostic_requests
		WHERE agent_id = $1 AND status = 'pending' AND expires_at > now() AND `+byCreatedAsc.after("", p, &args)+`
		ORDER BY `+byCreatedAsc.by("")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// ClaimDiagnostic moves a pending request to claimed. It is one conditional UPDATE, so of
// concurrent claimers exactly one wins; the others get ErrNotFound.
func ClaimDiagnostic(ctx context.Context, q Queryer, id uuid.UUID) (DiagnosticRequest, error) {
	var r DiagnosticRequest
	err := q.GetContext(ctx, &r, `UPDATE diagnostic_requests SET status = 'claimed', claimed_at = now()
		WHERE id = $1 AND status = 'pending' RETURNING `+diagnosticRequestColumns, id)
	return r, Wrap(err)
}

// CompleteDiagnostic moves a claimed request to completed; ErrNotFound unless it was claimed.
func CompleteDiagnostic(ctx context.Context, q Queryer, id uuid.UUID) (DiagnosticRequest, error) {
	var r DiagnosticRequest
	err := q.GetContext(ctx, &r, `UPDATE diagnostic_requests SET status = 'completed', completed_at = now()
		WHERE id = $1 AND status = 'claimed' RETURNING `+diagnosticRequestColumns, id)
	return r, Wrap(err)
}

// NewDiagnosticResult is what an agent collected for a request.
type NewDiagnosticResult struct {
	PodStatuses string
	Events      string
	LogTails    *string
	CollectedAt time.Time
}

// InsertDiagnosticResult stores a request's result.
func InsertDiagnosticResult(ctx context.Context, q Queryer, requestID uuid.UUID, n NewDiagnosticResult) (DiagnosticResult, error) {
	var r DiagnosticResult
	err := q.GetContext(ctx, &r, `INSERT INTO diagnostic_results (request_id, pod_statuses, events, log_tails, collected_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+diagnosticResultColumns,
		requestID, n.PodStatuses, n.Events, n.LogTails, n.CollectedAt)
	return r, Wrap(err)
}

// DiagnosticSweep counts what one cleanup pass changed.
type DiagnosticSweep struct {
	Expired int64 // pending requests past expires_at, now expired
	Failed  int64 // claimed requests past expires_at, now failed
	Deleted int64 // finished requests older than the maximum age, removed with their results
}

// SweepDiagnostics expires overdue requests and deletes finished ones created more than
// maxAge ago. Each statement is idempotent, so replicas may run it concurrently.
func SweepDiagnostics(ctx context.Context, q Queryer, maxAge time.Duration) (DiagnosticSweep, error) {
	var s DiagnosticSweep
	steps := []struct {
		n     *int64
		query string
		args  []any
	}{
		{&s.Expired, `UPDATE diagnostic_requests SET status = 'expired'
			WHERE status = 'pending' AND expires_at < now()`, nil},
		{&s.Failed, `UPDATE diagnostic_requests SET status = 'failed', completed_at = now()
			WHERE status = 'claimed' AND expires_at < now()`, nil},
		{&s.Deleted, `DELETE FROM diagnostic_requests
			WHERE status IN ('expired', 'completed', 'failed') AND created_at < now() - make_interval(secs => $1)`,
			[]any{maxAge.Seconds()}},
	}
	for _, st := range steps {
		res, err := q.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return s, Wrap(err)
		}
		if *st.n, err = res.RowsAffected(); err != nil {
			return s, err
		}
	}
	return s, nil
}
