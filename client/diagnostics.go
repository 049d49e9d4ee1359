package client

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Diagnostic request statuses.
const (
	DiagnosticPending   = "pending"
	DiagnosticClaimed   = "claimed"
	DiagnosticCompleted = "completed"
	DiagnosticFailed    = "failed"
	DiagnosticExpired   = "expired"
)

// DiagnosticRequest asks an agent to collect diagnostics about a deployment object.
type DiagnosticRequest struct {
	ID                 uuid.UUID  `json:"id"`
	AgentID            uuid.UUID  `json:"agent_id"`
	DeploymentObjectID uuid.UUID  `json:"deployment_object_id"`
	Status             string     `json:"status"`
	RequestedBy        *string    `json:"requested_by"`
	CreatedAt          time.Time  `json:"created_at"`
	ClaimedAt          *time.Time `json:"claimed_at"`
	CompletedAt        *time.Time `json:"completed_at"`
	ExpiresAt          time.Time  `json:"expires_at"`
}

// DiagnosticResult is what the agent collected; the payloads are JSON documents in strings.
type DiagnosticResult struct {
	ID          uuid.UUID `json:"id"`
	RequestID   uuid.UUID `json:"request_id"`
	PodStatuses string    `json:"pod_statuses"`
	Events      string    `json:"events"`
	LogTails    *string   `json:"log_tails"`
	CollectedAt time.Time `json:"collected_at"`
	CreatedAt   time.Time `json:"created_at"`
}

// DiagnosticResponse is a request with its result (nil until one was submitted).
type DiagnosticResponse struct {
	Request DiagnosticRequest `json:"request"`
	Result  *DiagnosticResult `json:"result"`
}

// CreateDiagnosticRequest is the body of POST /deployment-objects/{id}/diagnostics.
// RetentionMinutes defaults to 60 and must be within 1..1440.
type CreateDiagnosticRequest struct {
	AgentID          uuid.UUID `json:"agent_id"`
	RequestedBy      *string   `json:"requested_by,omitempty"`
	RetentionMinutes *int64    `json:"retention_minutes,omitempty"`
}

// SubmitDiagnosticResult is the body of POST /diagnostics/{id}/result.
type SubmitDiagnosticResult struct {
	PodStatuses string    `json:"pod_statuses"`
	Events      string    `json:"events"`
	LogTails    *string   `json:"log_tails,omitempty"`
	CollectedAt time.Time `json:"collected_at"`
}

// Diagnostics is the handle for on-demand diagnostics of deployment objects.
type Diagnostics struct{ c *Client }

// Diagnostics returns the diagnostics handle.
func (c *Client) Diagnostics() *Diagnostics { return &Diagnostics{c: c} }

// Create asks an agent to collect diagnostics about a deployment object (admin, including
// the read-only admin key).
func (d *Diagnostics) Create(ctx context.Context, objectID uuid.UUID, req CreateDiagnosticRequest) (DiagnosticRequest, error) {
	var out DiagnosticRequest
	_, err := d.c.do(ctx, request{method: http.MethodPost, path: path("deployment-objects", objectID, "diagnostics"), body: req}, &out)
	return out, err
}

// Get returns a request and its result, if any (admin, or the assigned agent).
func (d *Diagnostics) Get(ctx context.Context, id uuid.UUID) (DiagnosticResponse, error) {
	var out DiagnosticResponse
	_, err := d.c.do(ctx, request{method: http.MethodGet, path: path("diagnostics", id)}, &out)
	return out, err
}

// Pending returns the agent's pending, unexpired requests, oldest first, reading every page.
func (d *Diagnostics) Pending(ctx context.Context, agentID uuid.UUID) ([]DiagnosticRequest, error) {
	return listAll[DiagnosticRequest](ctx, d.c, request{method: http.MethodGet, path: path("agents", agentID, "diagnostics", "pending")}, 0)
}

// PendingPage returns one page of the agent's pending, unexpired requests, oldest first.
func (d *Diagnostics) PendingPage(ctx context.Context, agentID uuid.UUID, opts *ListOptions) (Page[DiagnosticRequest], error) {
	return listPage[DiagnosticRequest](ctx, d.c, request{method: http.MethodGet, path: path("agents", agentID, "diagnostics", "pending")}, opts)
}

// Claim takes a pending request; a request in any other state is a 409 with code
// diagnostic_already_claimed.
func (d *Diagnostics) Claim(ctx context.Context, id uuid.UUID) (DiagnosticRequest, error) {
	var out DiagnosticRequest
	_, err := d.c.do(ctx, request{method: http.MethodPost, path: path("diagnostics", id, "claim")}, &out)
	return out, err
}

// SubmitResult stores what the assigned agent collected for a claimed request.
func (d *Diagnostics) SubmitResult(ctx context.Context, id uuid.UUID, res SubmitDiagnosticResult) (DiagnosticResult, error) {
	var out DiagnosticResult
	_, err := d.c.do(ctx, request{method: http.MethodPost, path: path("diagnostics", id, "result"), body: res}, &out)
	return out, err
}
