package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/workers"
)

// Work order defaults and limits.
const (
	defaultWorkOrderMaxRetries     = 3
	defaultWorkOrderBackoffSeconds = 60
	defaultWorkOrderClaimTimeout   = 3600
	maxWorkTypeLen                 = 50 // work_orders.work_type is varchar(50)
	unknownWorkOrderError          = "Unknown error"
	// maxRetryDelay caps backoff × 2^n so that a large retry budget cannot push
	// next_retry_after beyond what a timestamp holds.
	maxRetryDelay = 10 * 365 * 24 * time.Hour
)

// installWorkOrders registers its routes, workers and event hooks.
func (s *Server) installWorkOrders(g routes) {
	g.GET("/work-orders", s.listWorkOrders)
	g.POST("/work-orders", s.createWorkOrder)
	g.GET("/work-orders/:id", s.getWorkOrder)
	g.DELETE("/work-orders/:id", s.deleteWorkOrder)
	g.POST("/work-orders/:id/claim", s.claimWorkOrder)
	g.POST("/work-orders/:id/complete", s.completeWorkOrder)
	g.GET("/work-order-log", s.listWorkOrderLog)
	g.GET("/work-order-log/:id", s.getWorkOrderLog)
	g.GET("/agents/:agent_id/work-orders/pending", s.listPendingWorkOrders)
	s.workers.Add(workers.Worker{
		Name:     "work-order-maintenance",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.WorkOrderMaintenanceIntervalSeconds }),
		Run:      s.maintainWorkOrders,
	})
}

var (
	errWorkOrderNotFound    = notFound("work_order_not_found", "work order not found")
	errWorkOrderLogNotFound = notFound("work_order_log_entry_not_found", "work order log entry not found")
)

func toWorkOrder(w db.WorkOrder) client.WorkOrder {
	return client.WorkOrder{
		ID: w.ID, CreatedAt: utc(w.CreatedAt), UpdatedAt: utc(w.UpdatedAt), WorkType: w.WorkType,
		YAMLContent: w.YAMLContent, Status: w.Status, ClaimedBy: w.ClaimedBy, ClaimedAt: utcp(w.ClaimedAt),
		ClaimTimeoutSeconds: w.ClaimTimeoutSeconds, MaxRetries: w.MaxRetries, RetryCount: w.RetryCount,
		BackoffSeconds: w.BackoffSeconds, NextRetryAfter: utcp(w.NextRetryAfter), LastError: w.LastError,
		LastErrorAt: utcp(w.LastErrorAt),
	}
}

func toWorkOrderLog(l db.WorkOrderLog) client.WorkOrderLog {
	return client.WorkOrderLog{
		ID: l.ID, WorkType: l.WorkType, CreatedAt: utc(l.CreatedAt), ClaimedAt: utcp(l.ClaimedAt),
		CompletedAt: utc(l.CompletedAt), ClaimedBy: l.ClaimedBy, Success: l.Success,
		RetriesAttempted: l.RetriesAttempted, ResultMessage: l.ResultMessage, YAMLContent: l.YAMLContent,
	}
}

// logAsWorkOrder presents a finished order in the queue's shape: COMPLETED or FAILED, with
// the queue-only settings zeroed and, for failures, the result message as the last error.
func logAsWorkOrder(l db.WorkOrderLog) client.WorkOrder {
	w := client.WorkOrder{
		ID: l.ID, CreatedAt: utc(l.CreatedAt), UpdatedAt: utc(l.CompletedAt), WorkType: l.WorkType,
		YAMLContent: l.YAMLContent, Status: client.WorkOrderCompleted, ClaimedBy: l.ClaimedBy,
		ClaimedAt: utcp(l.ClaimedAt), RetryCount: l.RetriesAttempted,
	}
	if !l.Success {
		w.Status = client.WorkOrderFailed
		w.LastError = l.ResultMessage
		w.LastErrorAt = utcp(&l.CompletedAt)
	}
	return w
}

// optionalQuery returns a query parameter when present (even empty), else nil.
func optionalQuery(c echo.Context, name string) *string {
	if !c.QueryParams().Has(name) {
		return nil
	}
	v := c.QueryParam(name)
	return &v
}

func (s *Server) listWorkOrders(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	p, err := pageParams(c, "work-orders", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListWorkOrders(c.Request().Context(), s.db, optionalQuery(c, "status"), optionalQuery(c, "work_type"), p)
	if err != nil {
		return err
	}
	return replyPage(c, "work-orders", rows, more, workOrderKey, toWorkOrder)
}

// workOrderBody is the body of POST /work-orders.
type workOrderBody struct {
	WorkType            *string     `json:"work_type"`
	YAMLContent         *string     `json:"yaml_content"`
	MaxRetries          *int32      `json:"max_retries"`
	BackoffSeconds      *int32      `json:"backoff_seconds"`
	ClaimTimeoutSeconds *int32      `json:"claim_timeout_seconds"`
	Targeting           *targeting  `json:"targeting"`
	TargetAgentIDs      []uuid.UUID `json:"target_agent_ids"`
}

type targeting struct {
	AgentIDs    []uuid.UUID       `json:"agent_ids"`
	Labels      []string          `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// tagProblem explains why s cannot be a work order label, annotation key or value
// (blank, longer than 64 bytes, or containing whitespace); "" when it can.
func tagProblem(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must not be blank"
	case len(s) > maxLabelLen:
		return fmt.Sprintf("must be at most %d bytes", maxLabelLen)
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return "must not contain whitespace"
	}
	return ""
}

func invalidWorkOrder(field, msg string) *APIError {
	return badRequest("invalid_work_order", field+" "+msg).with("field", field)
}

// newWorkOrder validates a create body and resolves defaults and targeting.
func newWorkOrder(body workOrderBody) (db.NewWorkOrder, error) {
	var t targeting
	if body.Targeting != nil {
		t = *body.Targeting
	}
	n := db.NewWorkOrder{
		WorkType: *body.WorkType, YAMLContent: *body.YAMLContent,
		MaxRetries: defaultWorkOrderMaxRetries, BackoffSeconds: defaultWorkOrderBackoffSeconds,
		ClaimTimeoutSeconds: defaultWorkOrderClaimTimeout,
		AgentIDs:            uniqueIDs(append(slices.Clone(t.AgentIDs), body.TargetAgentIDs...)),
	}
	if len(n.AgentIDs) == 0 && len(t.Labels) == 0 && len(t.Annotations) == 0 {
		return n, badRequest("no_targeting_specified",
			"at least one targeting method must be specified (targeting.agent_ids, targeting.labels or targeting.annotations)")
	}
	switch {
	case strings.TrimSpace(n.WorkType) == "":
		return n, invalidWorkOrder("work_type", "must not be blank")
	case len(n.WorkType) > maxWorkTypeLen:
		return n, invalidWorkOrder("work_type", fmt.Sprintf("must be at most %d bytes", maxWorkTypeLen))
	case strings.TrimSpace(n.YAMLContent) == "":
		return n, invalidWorkOrder("yaml_content", "must not be blank")
	}
	if body.MaxRetries != nil {
		if n.MaxRetries = *body.MaxRetries; n.MaxRetries < 0 {
			return n, invalidWorkOrder("max_retries", "must not be negative")
		}
	}
	if body.BackoffSeconds != nil {
		if n.BackoffSeconds = *body.BackoffSeconds; n.BackoffSeconds <= 0 {
			return n, invalidWorkOrder("backoff_seconds", "must be positive")
		}
	}
	if body.ClaimTimeoutSeconds != nil {
		if n.ClaimTimeoutSeconds = *body.ClaimTimeoutSeconds; n.ClaimTimeoutSeconds <= 0 {
			return n, invalidWorkOrder("claim_timeout_seconds", "must be positive")
		}
	}
	seen := make(map[string]bool, len(t.Labels))
	for i, l := range t.Labels {
		if p := tagProblem(l); p != "" {
			return n, invalidWorkOrder(fmt.Sprintf("targeting.labels[%d]", i), fmt.Sprintf("(%q) %s", l, p))
		}
		if !seen[l] {
			seen[l] = true
			n.Labels = append(n.Labels, l)
		}
	}
	keys := make([]string, 0, len(t.Annotations))
	for k := range t.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if p := tagProblem(k); p != "" {
			return n, invalidWorkOrder("targeting.annotations", fmt.Sprintf("key %q %s", k, p))
		}
		if p := tagProblem(t.Annotations[k]); p != "" {
			return n, invalidWorkOrder("targeting.annotations", fmt.Sprintf("value of %q %s", k, p))
		}
	}
	n.Annotations = t.Annotations
	return n, nil
}

func (s *Server) createWorkOrder(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	var body workOrderBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"work_type", body.WorkType != nil}, field{"yaml_content", body.YAMLContent != nil}); err != nil {
		return err
	}
	n, err := newWorkOrder(body)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var w db.WorkOrder
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		if len(n.AgentIDs) > 0 {
			live, err := db.LiveAgentsAmong(ctx, q, n.AgentIDs)
			if err != nil {
				return err
			}
			for _, id := range n.AgentIDs {
				if !live[id] {
					return apiError(http.StatusUnprocessableEntity, "foreign_key_violation",
						fmt.Sprintf("target agent %s does not name a live agent", id)).
						with("constraint", "work_order_targets_agent_id_fkey").with("agent_id", id)
				}
			}
		}
		var err error
		if w, err = db.CreateWorkOrder(ctx, q, n); err != nil {
			return err
		}
		if err := em.Emit(ctx, q, events.WorkOrderCreated, map[string]any{
			"work_order_id": w.ID, "work_type": w.WorkType, "status": w.Status, "created_at": utc(w.CreatedAt),
		}); err != nil {
			return err
		}
		if len(n.AgentIDs) > 0 {
			em.Notice(events.NoticeWorkOrder, map[string]any{"agent_ids": n.AgentIDs, "work_order": toWorkOrder(w)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.WorkOrderCreated, ResourceType: audit.ResourceWorkOrder, ResourceID: ptr(w.ID),
		Details: map[string]any{"work_type": w.WorkType}})
	return reply(c, http.StatusCreated, toWorkOrder(w))
}

func (s *Server) getWorkOrder(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w, err := db.GetWorkOrder(ctx, s.db, id)
	if err == nil {
		return reply(c, http.StatusOK, toWorkOrder(w))
	}
	if !errors.Is(err, db.ErrNotFound) {
		return err
	}
	l, err := db.GetWorkOrderLog(ctx, s.db, id)
	if err != nil {
		return orNotFound(err, errWorkOrderNotFound)
	}
	return reply(c, http.StatusOK, logAsWorkOrder(l))
}

func (s *Server) deleteWorkOrder(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := db.DeleteWorkOrder(c.Request().Context(), s.db, id); err != nil {
		return orNotFound(err, errWorkOrderNotFound)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listPendingWorkOrders(c echo.Context) error {
	agentID, err := selfAgent(c, "agent_id")
	if err != nil {
		return err
	}
	p, err := pageParams(c, "pending-work-orders", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListPendingWorkOrders(c.Request().Context(), s.db, agentID, optionalQuery(c, "work_type"), p)
	if err != nil {
		return err
	}
	return replyPage(c, "pending-work-orders", rows, more, workOrderKey, toWorkOrder)
}

func (s *Server) claimWorkOrder(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		AgentID *uuid.UUID `json:"agent_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"agent_id", body.AgentID != nil}); err != nil {
		return err
	}
	agentID := *body.AgentID
	if err := requireAdminOrAgentSelf(identity(c), agentID); err != nil {
		return err
	}
	ctx := c.Request().Context()
	var w db.WorkOrder
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		var err error
		if w, err = db.ClaimWorkOrder(ctx, q, id, agentID); err != nil {
			return orNotFound(err, notFound("work_order_not_claimable",
				"work order not found, not pending, or not claimable by this agent"))
		}
		return em.Emit(ctx, q, events.WorkOrderClaimed, map[string]any{
			"work_order_id": w.ID, "work_type": w.WorkType, "agent_id": agentID, "claimed_at": utcp(w.ClaimedAt),
		})
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{ActorType: "agent", ActorID: ptr(agentID), Action: audit.WorkOrderClaimed,
		ResourceType: audit.ResourceWorkOrder, ResourceID: ptr(w.ID), Details: map[string]any{"work_type": w.WorkType}})
	return reply(c, http.StatusOK, toWorkOrder(w))
}

// mayComplete reports whether the caller may complete an order claimed by claimedBy: the
// admin, or a caller whose agent identity equals the claim (so a caller without an agent
// identity matches an unclaimed order, and an agent does not).
// Only the admin or the agent holding the claim may complete an order. (The reference also
// lets any generator complete an unclaimed order; generators have no part in work orders.)
func mayComplete(who Identity, claimedBy *uuid.UUID) bool {
	if who.Admin {
		return true
	}
	return who.IsAgent() && claimedBy != nil && *claimedBy == who.AgentID
}

// retryDelay is the backoff before retry n: backoff × 2^n seconds, capped at maxRetryDelay.
func retryDelay(backoffSeconds, n int32) time.Duration {
	secs := float64(backoffSeconds) * math.Pow(2, float64(n))
	if secs >= maxRetryDelay.Seconds() {
		return maxRetryDelay
	}
	return time.Duration(secs * float64(time.Second))
}

func (s *Server) completeWorkOrder(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		Success   *bool   `json:"success"`
		Message   *string `json:"message"`
		Retryable *bool   `json:"retryable"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"success", body.Success != nil}); err != nil {
		return err
	}
	retryable := body.Retryable == nil || *body.Retryable
	who := identity(c)
	ctx := c.Request().Context()
	var (
		logged *db.WorkOrderLog // the order left the queue
		retry  db.WorkOrder     // otherwise: the order scheduled for retry
	)
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		w, err := db.LockWorkOrder(ctx, q, id)
		if err != nil {
			return orNotFound(err, errWorkOrderNotFound)
		}
		if !mayComplete(who, w.ClaimedBy) {
			return forbidden("work_order_not_claimed_by_agent", "the work order is not claimed by this agent")
		}
		event, message := events.WorkOrderCompleted, body.Message
		if !*body.Success {
			event = events.WorkOrderFailed
			if message == nil {
				message = ptr(unknownWorkOrderError)
			}
			if n := w.RetryCount + 1; retryable && n <= w.MaxRetries {
				retry, err = db.ScheduleWorkOrderRetry(ctx, q, id, n, retryDelay(w.BackoffSeconds, n), *message)
				return err
			}
		}
		l, err := db.MoveWorkOrderToLog(ctx, q, id, *body.Success, message)
		if err != nil {
			return err
		}
		logged = &l
		return em.Emit(ctx, q, event, map[string]any{
			"work_order_log_id": l.ID, "work_type": l.WorkType, "success": l.Success,
			"result_message": l.ResultMessage, "agent_id": l.ClaimedBy, "completed_at": utc(l.CompletedAt),
		})
	})
	if err != nil {
		return err
	}
	entry := audit.Entry{ResourceType: audit.ResourceWorkOrder, ResourceID: ptr(id)}
	switch {
	case logged == nil:
		entry.Action = audit.WorkOrderRetry
		entry.Details = map[string]any{"retry_count": retry.RetryCount, "next_retry_after": utcp(retry.NextRetryAfter)}
		s.audit(c, entry)
		return reply(c, http.StatusAccepted, client.WorkOrderRetryScheduled{Status: "retry_scheduled"})
	case logged.Success:
		entry.Action = audit.WorkOrderCompleted
		entry.Details = map[string]any{"work_type": logged.WorkType}
	default:
		entry.Action = audit.WorkOrderFailed
		entry.Details = map[string]any{"retryable": retryable}
	}
	s.audit(c, entry)
	return reply(c, http.StatusOK, toWorkOrderLog(*logged))
}

func (s *Server) listWorkOrderLog(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	f := db.WorkOrderLogFilter{WorkType: optionalQuery(c, "work_type")}
	if v := optionalQuery(c, "success"); v != nil {
		switch *v {
		case "true":
			f.Success = ptr(true)
		case "false":
			f.Success = ptr(false)
		default:
			return badRequest("invalid_parameter", "query parameter success must be true or false").with("parameter", "success")
		}
	}
	var err error
	if f.AgentID, err = uuidQuery(c, "agent_id"); err != nil {
		return err
	}
	p, err := pageParams(c, "work-order-log", historyLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListWorkOrderLog(c.Request().Context(), s.db, f, p)
	if err != nil {
		return err
	}
	return replyPage(c, "work-order-log", rows, more, workOrderLogKey, toWorkOrderLog)
}

func (s *Server) getWorkOrderLog(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	l, err := db.GetWorkOrderLog(c.Request().Context(), s.db, id)
	if err != nil {
		return orNotFound(err, errWorkOrderLogNotFound)
	}
	return reply(c, http.StatusOK, toWorkOrderLog(l))
}

// claimExpiryBatch is how many expired claims one transaction of the maintenance handles.
const claimExpiryBatch = 500

// maintainWorkOrders offers overdue retries again and expires timed-out claims. The retry
// release is idempotent and the claim expiry locks the orders it handles, so every replica
// may run the worker at the same time.
func (s *Server) maintainWorkOrders(ctx context.Context) error {
	retried, err := db.ReleaseDueRetries(ctx, s.db)
	if err != nil {
		return fmt.Errorf("release due retries: %w", err)
	}
	requeued, failed, err := s.expireClaims(ctx)
	if retried > 0 || requeued > 0 || failed > 0 {
		s.log.Info("work order maintenance", slog.Int64("retries_due", retried),
			slog.Int("claims_expired_requeued", requeued), slog.Int("claims_expired_failed", failed))
	}
	if err != nil {
		return fmt.Errorf("expire claims: %w", err)
	}
	return nil
}

// expireClaims handles every timed-out claim: an expired claim counts an attempt, like a
// reported failure, so an order whose execution kills its agent before it can report ends
// failed with "claim expired" after max_retries instead of cycling forever. Orders with
// retries left become PENDING again at once (the claim timeout already was their delay).
func (s *Server) expireClaims(ctx context.Context) (requeued, failed int, err error) {
	for {
		var res db.ExpiredClaims
		err := s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
			var err error
			if res, err = db.ExpireClaims(ctx, q, claimExpiryBatch); err != nil {
				return err
			}
			for _, l := range res.Failed {
				if err := em.Emit(ctx, q, events.WorkOrderFailed, map[string]any{
					"work_order_log_id": l.ID, "work_type": l.WorkType, "success": l.Success,
					"result_message": l.ResultMessage, "agent_id": l.ClaimedBy, "completed_at": utc(l.CompletedAt),
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return requeued, failed, err
		}
		for _, w := range res.Requeued {
			s.audit(nil, audit.Entry{ActorType: audit.ActorSystem, Action: audit.WorkOrderRetry, ResourceType: audit.ResourceWorkOrder,
				ResourceID: ptr(w.ID), Details: map[string]any{"reason": db.ClaimExpired, "retry_count": w.RetryCount}})
		}
		for _, l := range res.Failed {
			s.audit(nil, audit.Entry{ActorType: audit.ActorSystem, Action: audit.WorkOrderFailed, ResourceType: audit.ResourceWorkOrder,
				ResourceID: ptr(l.ID), Details: map[string]any{"reason": db.ClaimExpired, "retryable": false,
					"retries_attempted": l.RetriesAttempted}})
		}
		requeued, failed = requeued+len(res.Requeued), failed+len(res.Failed)
		if len(res.Requeued)+len(res.Failed) < claimExpiryBatch {
			return requeued, failed, nil
		}
	}
}
