package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/workers"
)

// Diagnostic request retention bounds, in minutes.
const (
	defaultDiagnosticRetention = 60
	maxDiagnosticRetention     = 1440
	maxRequestedByLen          = 255 // diagnostic_requests.requested_by is varchar(255)
)

// installDiagnostics registers its routes, workers and event hooks.
func (s *Server) installDiagnostics(g routes) {
	g.POST("/deployment-objects/:id/diagnostics", s.createDiagnostic)
	g.GET("/diagnostics/:id", s.getDiagnostic)
	g.POST("/diagnostics/:id/claim", s.claimDiagnostic)
	g.POST("/diagnostics/:id/result", s.submitDiagnosticResult)
	g.GET("/agents/:id/diagnostics/pending", s.listPendingDiagnostics)
	s.workers.Add(workers.Worker{
		Name:     "diagnostic-cleanup",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.DiagnosticCleanupIntervalSeconds }),
		Run:      s.cleanupDiagnostics,
	})
}

var (
	errDiagnosticNotFound = notFound("diagnostic_not_found", "diagnostic request not found")
	errDiagnosticNotOwned = forbidden("diagnostic_not_owned", "the diagnostic request is assigned to another agent")
)

func toDiagnosticRequest(r db.DiagnosticRequest) client.DiagnosticRequest {
	return client.DiagnosticRequest{
		ID: r.ID, AgentID: r.AgentID, DeploymentObjectID: r.DeploymentObjectID, Status: r.Status,
		RequestedBy: r.RequestedBy, CreatedAt: utc(r.CreatedAt), ClaimedAt: utcp(r.ClaimedAt),
		CompletedAt: utcp(r.CompletedAt), ExpiresAt: utc(r.ExpiresAt),
	}
}

func toDiagnosticResult(r db.DiagnosticResult) client.DiagnosticResult {
	return client.DiagnosticResult{
		ID: r.ID, RequestID: r.RequestID, PodStatuses: r.PodStatuses, Events: r.Events, LogTails: r.LogTails,
		CollectedAt: utc(r.CollectedAt), CreatedAt: utc(r.CreatedAt),
	}
}

func (s *Server) createDiagnostic(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	objectID, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		AgentID          *uuid.UUID `json:"agent_id"`
		RequestedBy      *string    `json:"requested_by"`
		RetentionMinutes *int64     `json:"retention_minutes"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"agent_id", body.AgentID != nil}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := db.GetDeploymentObject(ctx, s.db, objectID); err != nil {
		return orNotFound(err, notFound("deployment_object_not_found", "deployment object not found"))
	}
	if _, err := db.GetAgent(ctx, s.db, *body.AgentID); err != nil {
		return agentNotFound(err)
	}
	retention := int64(defaultDiagnosticRetention)
	if body.RetentionMinutes != nil {
		retention = *body.RetentionMinutes
	}
	if retention < 1 || retention > maxDiagnosticRetention {
		return badRequest("invalid_diagnostic_request",
			fmt.Sprintf("retention_minutes must be between 1 and %d", maxDiagnosticRetention)).with("field", "retention_minutes")
	}
	if body.RequestedBy != nil && len(*body.RequestedBy) > maxRequestedByLen {
		return badRequest("invalid_diagnostic_request",
			fmt.Sprintf("requested_by must be at most %d bytes", maxRequestedByLen)).with("field", "requested_by")
	}
	r, err := db.CreateDiagnosticRequest(ctx, s.db, *body.AgentID, objectID, body.RequestedBy,
		time.Duration(retention)*time.Minute)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toDiagnosticRequest(r))
}

// diagnosticRequest loads the request of the path (404 first).
func (s *Server) diagnosticRequest(c echo.Context) (db.DiagnosticRequest, error) {
	id, err := uuidParam(c, "id")
	if err != nil {
		return db.DiagnosticRequest{}, err
	}
	r, err := db.GetDiagnosticRequest(c.Request().Context(), s.db, id)
	if err != nil {
		return db.DiagnosticRequest{}, orNotFound(err, errDiagnosticNotFound)
	}
	return r, nil
}

func (s *Server) getDiagnostic(c echo.Context) error {
	r, err := s.diagnosticRequest(c)
	if err != nil {
		return err
	}
	who := identity(c)
	if !who.Admin && !who.IsAgentSelf(r.AgentID) {
		return errDiagnosticNotOwned
	}
	out := client.DiagnosticResponse{Request: toDiagnosticRequest(r)}
	res, err := db.GetDiagnosticResult(c.Request().Context(), s.db, r.ID)
	switch {
	case err == nil:
		out.Result = ptr(toDiagnosticResult(res))
	case !errors.Is(err, db.ErrNotFound):
		return err
	}
	return reply(c, http.StatusOK, out)
}

func (s *Server) listPendingDiagnostics(c echo.Context) error {
	agentID, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	p, err := pageParams(c, "pending-diagnostics", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListPendingDiagnostics(c.Request().Context(), s.db, agentID, p)
	if err != nil {
		return err
	}
	return replyPage(c, "pending-diagnostics", rows, more, diagnosticKey, toDiagnosticRequest)
}

func (s *Server) claimDiagnostic(c echo.Context) error {
	r, err := s.diagnosticRequest(c)
	if err != nil {
		return err
	}
	who := identity(c)
	if !who.Admin && !who.IsAgentSelf(r.AgentID) {
		return errDiagnosticNotOwned
	}
	ctx := c.Request().Context()
	claimed, err := db.ClaimDiagnostic(ctx, s.db, r.ID)
	if errors.Is(err, db.ErrNotFound) {
		// Lost the race or was never pending: report the state it is in now.
		now, err := db.GetDiagnosticRequest(ctx, s.db, r.ID)
		if err != nil {
			return orNotFound(err, errDiagnosticNotFound)
		}
		return apiError(http.StatusConflict, "diagnostic_already_claimed",
			fmt.Sprintf("diagnostic request is %s, not pending", now.Status)).with("status", now.Status)
	}
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, toDiagnosticRequest(claimed))
}

func (s *Server) submitDiagnosticResult(c echo.Context) error {
	r, err := s.diagnosticRequest(c)
	if err != nil {
		return err
	}
	if !identity(c).IsAgentSelf(r.AgentID) {
		return forbidden("diagnostic_not_owned", "only the agent the request is assigned to may submit its result")
	}
	var body struct {
		PodStatuses *string    `json:"pod_statuses"`
		Events      *string    `json:"events"`
		LogTails    *string    `json:"log_tails"`
		CollectedAt *time.Time `json:"collected_at"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"pod_statuses", body.PodStatuses != nil}, field{"events", body.Events != nil},
		field{"collected_at", body.CollectedAt != nil}); err != nil {
		return err
	}
	notClaimed := func(status string) error {
		return apiError(http.StatusConflict, "diagnostic_not_claimed",
			fmt.Sprintf("diagnostic request is %s; a result needs a claimed request", status)).with("status", status)
	}
	if r.Status != db.DiagnosticClaimed {
		return notClaimed(r.Status)
	}
	switch {
	case *body.PodStatuses == "":
		return badRequest("invalid_diagnostic_result", "pod_statuses must not be empty").with("field", "pod_statuses")
	case *body.Events == "":
		return badRequest("invalid_diagnostic_result", "events must not be empty").with("field", "events")
	}
	ctx := c.Request().Context()
	var res db.DiagnosticResult
	err = s.db.InTx(ctx, func(q db.Queryer) error {
		if _, err := db.CompleteDiagnostic(ctx, q, r.ID); err != nil {
			if !errors.Is(err, db.ErrNotFound) {
				return err
			}
			// Changed since it was read: swept, or another submission won.
			now, err := db.GetDiagnosticRequest(ctx, q, r.ID)
			if err != nil {
				return orNotFound(err, errDiagnosticNotFound)
			}
			return notClaimed(now.Status)
		}
		var err error
		res, err = db.InsertDiagnosticResult(ctx, q, r.ID, db.NewDiagnosticResult{
			PodStatuses: *body.PodStatuses, Events: *body.Events, LogTails: body.LogTails, CollectedAt: *body.CollectedAt,
		})
		return err
	})
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toDiagnosticResult(res))
}

// cleanupDiagnostics expires overdue requests and deletes old finished ones. Its statements
// are idempotent, so every replica may run the worker at the same time.
func (s *Server) cleanupDiagnostics(ctx context.Context) error {
	hours := s.Config().Broker.DiagnosticMaxAgeHours
	if hours <= 0 {
		hours = 1
	}
	sw, err := db.SweepDiagnostics(ctx, s.db, time.Duration(hours)*time.Hour)
	if err != nil {
		return fmt.Errorf("sweep diagnostics: %w", err)
	}
	if sw.Expired > 0 || sw.Failed > 0 || sw.Deleted > 0 {
		s.log.Info("diagnostic requests swept", slog.Int64("expired", sw.Expired),
			slog.Int64("failed", sw.Failed), slog.Int64("deleted", sw.Deleted))
	}
	return nil
}
