package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Work order statuses. Queued orders are PENDING, CLAIMED or RETRY_PENDING; COMPLETED and
// FAILED appear only on orders read back from the work order log.
const (
	WorkOrderPending      = "PENDING"
	WorkOrderClaimed      = "CLAIMED"
	WorkOrderRetryPending = "RETRY_PENDING"
	WorkOrderCompleted    = "COMPLETED"
	WorkOrderFailed       = "FAILED"
)

// WorkOrder is a unit of work (e.g. a build) that one eligible agent claims and executes.
type WorkOrder struct {
	ID                  uuid.UUID  `json:"id"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	WorkType            string     `json:"work_type"`
	YAMLContent         string     `json:"yaml_content"`
	Status              string     `json:"status"`
	ClaimedBy           *uuid.UUID `json:"claimed_by"`
	ClaimedAt           *time.Time `json:"claimed_at"`
	ClaimTimeoutSeconds int32      `json:"claim_timeout_seconds"`
	MaxRetries          int32      `json:"max_retries"`
	RetryCount          int32      `json:"retry_count"`
	BackoffSeconds      int32      `json:"backoff_seconds"`
	NextRetryAfter      *time.Time `json:"next_retry_after"`
	LastError           *string    `json:"last_error"`
	LastErrorAt         *time.Time `json:"last_error_at"`
}

// WorkOrderLog is a work order that left the queue: it succeeded, or failed for good.
// Its id is the id the order had in the queue.
type WorkOrderLog struct {
	ID               uuid.UUID  `json:"id"`
	WorkType         string     `json:"work_type"`
	CreatedAt        time.Time  `json:"created_at"`
	ClaimedAt        *time.Time `json:"claimed_at"`
	CompletedAt      time.Time  `json:"completed_at"`
	ClaimedBy        *uuid.UUID `json:"claimed_by"`
	Success          bool       `json:"success"`
	RetriesAttempted int32      `json:"retries_attempted"`
	ResultMessage    *string    `json:"result_message"`
	YAMLContent      string     `json:"yaml_content"`
}

// WorkOrderTargeting says which agents may claim an order: the listed agents, agents with
// any of the labels, and agents with any of the (key, value) annotations.
type WorkOrderTargeting struct {
	AgentIDs    []uuid.UUID       `json:"agent_ids,omitempty"`
	Labels      []string          `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CreateWorkOrderRequest is the body of POST /work-orders. Nil numbers take the defaults
// (3 retries, 60 s backoff, 3600 s claim timeout).
type CreateWorkOrderRequest struct {
	WorkType            string              `json:"work_type"`
	YAMLContent         string              `json:"yaml_content"`
	MaxRetries          *int32              `json:"max_retries,omitempty"`
	BackoffSeconds      *int32              `json:"backoff_seconds,omitempty"`
	ClaimTimeoutSeconds *int32              `json:"claim_timeout_seconds,omitempty"`
	Targeting           *WorkOrderTargeting `json:"targeting,omitempty"`
	// TargetAgentIDs is the older spelling of Targeting.AgentIDs; both lists are used.
	TargetAgentIDs []uuid.UUID `json:"target_agent_ids,omitempty"`
}

// ClaimWorkOrderRequest is the body of POST /work-orders/{id}/claim.
type ClaimWorkOrderRequest struct {
	AgentID uuid.UUID `json:"agent_id"`
}

// CompleteWorkOrderRequest is the body of POST /work-orders/{id}/complete. Retryable
// defaults to true when nil.
type CompleteWorkOrderRequest struct {
	Success   bool    `json:"success"`
	Message   *string `json:"message,omitempty"`
	Retryable *bool   `json:"retryable,omitempty"`
}

// WorkOrderRetryScheduled is the 202 answer of a retryable failure.
type WorkOrderRetryScheduled struct {
	Status string `json:"status"` // "retry_scheduled"
}

// WorkOrders is the handle for work orders, their claims and their log.
type WorkOrders struct{ c *Client }

// WorkOrders returns the work order handle.
func (c *Client) WorkOrders() *WorkOrders { return &WorkOrders{c: c} }

// WorkOrderListOptions filter List; empty fields do not filter.
type WorkOrderListOptions struct {
	Status   string // PENDING, CLAIMED or RETRY_PENDING
	WorkType string
	Limit    int // List: at most this many orders (0 = all)
}

func (o *WorkOrderListOptions) request() request {
	q := url.Values{}
	if o != nil {
		if o.Status != "" {
			q.Set("status", o.Status)
		}
		if o.WorkType != "" {
			q.Set("work_type", o.WorkType)
		}
	}
	return request{method: http.MethodGet, path: "/work-orders", query: q}
}

// List returns the queued work orders, newest first, reading as many pages as needed (admin).
func (w *WorkOrders) List(ctx context.Context, opts *WorkOrderListOptions) ([]WorkOrder, error) {
	limit := 0
	if opts != nil {
		limit = opts.Limit
	}
	return listAll[WorkOrder](ctx, w.c, opts.request(), limit)
}

// ListPage returns one page of the queued work orders, newest first; opts filter them
// (its Limit is not used), page selects the page (admin).
func (w *WorkOrders) ListPage(ctx context.Context, opts *WorkOrderListOptions, page *ListOptions) (Page[WorkOrder], error) {
	return listPage[WorkOrder](ctx, w.c, opts.request(), page)
}

// Create enqueues a work order (admin).
func (w *WorkOrders) Create(ctx context.Context, req CreateWorkOrderRequest) (WorkOrder, error) {
	var out WorkOrder
	_, err := w.c.do(ctx, request{method: http.MethodPost, path: "/work-orders", body: req}, &out)
	return out, err
}

// Get returns a work order; finished orders come back from the log as COMPLETED or FAILED
// (admin).
func (w *WorkOrders) Get(ctx context.Context, id uuid.UUID) (WorkOrder, error) {
	var out WorkOrder
	_, err := w.c.do(ctx, request{method: http.MethodGet, path: path("work-orders", id)}, &out)
	return out, err
}

// Delete removes a queued work order (admin).
func (w *WorkOrders) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := w.c.do(ctx, request{method: http.MethodDelete, path: path("work-orders", id)}, nil)
	return err
}

// Pending returns the PENDING orders the agent may claim, oldest first, reading every page;
// a non-empty workType filters them (the agent itself, or admin).
func (w *WorkOrders) Pending(ctx context.Context, agentID uuid.UUID, workType string) ([]WorkOrder, error) {
	return listAll[WorkOrder](ctx, w.c, pendingRequest(agentID, workType), 0)
}

// PendingPage returns one page of the PENDING orders the agent may claim, oldest first.
func (w *WorkOrders) PendingPage(ctx context.Context, agentID uuid.UUID, workType string, page *ListOptions) (Page[WorkOrder], error) {
	return listPage[WorkOrder](ctx, w.c, pendingRequest(agentID, workType), page)
}

func pendingRequest(agentID uuid.UUID, workType string) request {
	q := url.Values{}
	if workType != "" {
		q.Set("work_type", workType)
	}
	return request{method: http.MethodGet, path: path("agents", agentID, "work-orders", "pending"), query: q}
}

// Claim takes a PENDING order for the agent. Exactly one of several concurrent claimers
// wins; the others get a 404 with code work_order_not_claimable.
func (w *WorkOrders) Claim(ctx context.Context, id, agentID uuid.UUID) (WorkOrder, error) {
	var out WorkOrder
	_, err := w.c.do(ctx, request{method: http.MethodPost, path: path("work-orders", id, "claim"),
		body: ClaimWorkOrderRequest{AgentID: agentID}}, &out)
	return out, err
}

// Complete reports the outcome of a claimed order. It returns the log entry when the order
// left the queue (success, or a final failure), and nil when a retry was scheduled.
func (w *WorkOrders) Complete(ctx context.Context, id uuid.UUID, req CompleteWorkOrderRequest) (*WorkOrderLog, error) {
	var raw []byte
	status, err := w.c.do(ctx, request{method: http.MethodPost, path: path("work-orders", id, "complete"), body: req,
		want: []int{http.StatusOK, http.StatusAccepted}}, &raw)
	if err != nil || status == http.StatusAccepted {
		return nil, err
	}
	var out WorkOrderLog
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode POST /work-orders/%s/complete response: %w", id, err)
	}
	return &out, nil
}

// WorkOrderLogOptions filter Log; zero fields do not filter.
type WorkOrderLogOptions struct {
	WorkType string
	Success  *bool
	AgentID  *uuid.UUID // the agent that claimed the order
	Limit    int        // Log: at most this many entries (0 = all)
}

func (o *WorkOrderLogOptions) request() request {
	q := url.Values{}
	if o != nil {
		if o.WorkType != "" {
			q.Set("work_type", o.WorkType)
		}
		if o.Success != nil {
			q.Set("success", strconv.FormatBool(*o.Success))
		}
		if o.AgentID != nil {
			q.Set("agent_id", o.AgentID.String())
		}
	}
	return request{method: http.MethodGet, path: "/work-order-log", query: q}
}

// Log returns finished work orders, most recently completed first, reading as many pages as
// needed (admin).
func (w *WorkOrders) Log(ctx context.Context, opts *WorkOrderLogOptions) ([]WorkOrderLog, error) {
	limit := 0
	if opts != nil {
		limit = opts.Limit
	}
	return listAll[WorkOrderLog](ctx, w.c, opts.request(), limit)
}

// LogPage returns one page of finished work orders, most recently completed first; opts
// filter them (its Limit is not used), page selects the page (admin).
func (w *WorkOrders) LogPage(ctx context.Context, opts *WorkOrderLogOptions, page *ListOptions) (Page[WorkOrderLog], error) {
	return listPage[WorkOrderLog](ctx, w.c, opts.request(), page)
}

// LogEntry returns one finished work order (admin).
func (w *WorkOrders) LogEntry(ctx context.Context, id uuid.UUID) (WorkOrderLog, error) {
	var out WorkOrderLog
	_, err := w.c.do(ctx, request{method: http.MethodGet, path: path("work-order-log", id)}, &out)
	return out, err
}
