package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/events"
)

func (s *Server) listAgentEvents(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	p, err := pageParams(c, "agent-events", historyLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListAgentEvents(c.Request().Context(), s.db, id, p)
	if err != nil {
		return err
	}
	return replyPage(c, "agent-events", rows, more, eventKey, toAgentEvent)
}

func (s *Server) createAgentEvent(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		AgentID            *uuid.UUID `json:"agent_id"`
		DeploymentObjectID *uuid.UUID `json:"deployment_object_id"`
		EventType          *string    `json:"event_type"`
		Status             *string    `json:"status"`
		Message            *string    `json:"message"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"agent_id", body.AgentID != nil}, field{"deployment_object_id", body.DeploymentObjectID != nil},
		field{"event_type", body.EventType != nil}, field{"status", body.Status != nil}); err != nil {
		return err
	}
	if *body.AgentID != id {
		return badRequest("agent_id_mismatch", "body agent_id does not match the path")
	}
	if *body.EventType == "" || len(*body.EventType) > 50 {
		return badRequest("invalid_agent_event", "event_type must be 1 to 50 bytes")
	}
	if *body.Status == "" || len(*body.Status) > 10 {
		return badRequest("invalid_agent_event", "status must be 1 to 10 bytes")
	}
	ev, err := s.recordAgentEvent(c.Request().Context(), db.NewAgentEvent{
		AgentID: id, DeploymentObjectID: *body.DeploymentObjectID,
		EventType: *body.EventType, Status: *body.Status, Message: body.Message,
	})
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toAgentEvent(ev))
}

// recordAgentEvent stores an event an agent reported (on the REST API or its channel) and
// emits deployment.applied or deployment.failed in the same transaction.
func (s *Server) recordAgentEvent(ctx context.Context, n db.NewAgentEvent) (db.AgentEvent, error) {
	var ev db.AgentEvent
	err := s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		var err error
		if ev, err = db.CreateAgentEvent(ctx, q, n); err != nil {
			return err
		}
		return s.emitAgentEvent(ctx, q, em, ev)
	})
	// The agent's incremental target state leaves out what it reported: drop it here at
	// once (the other replicas learn it from the database's notification).
	s.targets.InvalidateAgent(n.AgentID)
	if err == nil && ev.EventType == client.EventTypeDeploy {
		// An outcome may pass a rollout's gate or halt it: step it now.
		s.rollouts.Kick(ctx, []uuid.UUID{ev.DeploymentObjectID})
	}
	return ev, err
}

// emitAgentEvent emits deployment.applied or deployment.failed for a reported event,
// deployment.drifted for a DRIFT event that is not CLEARED, and nothing for the other DRIFT
// and DEPENDENCY events.
func (s *Server) emitAgentEvent(ctx context.Context, q db.Queryer, em *events.Emitter, ev db.AgentEvent) error {
	typ := events.DeploymentFailed
	switch {
	case ev.EventType == client.EventTypeDependency:
		return nil
	case ev.EventType == client.EventTypeDrift:
		if !strings.EqualFold(ev.Status, client.DriftDrifted) && !strings.EqualFold(ev.Status, client.DriftCorrected) {
			return nil
		}
		typ = events.DeploymentDrifted
	case strings.EqualFold(ev.Status, "SUCCESS"):
		typ = events.DeploymentApplied
	}
	var stackID *uuid.UUID
	if o, err := db.GetDeploymentObject(ctx, q, ev.DeploymentObjectID); err == nil {
		stackID = &o.StackID
	} else if !errors.Is(err, db.ErrNotFound) {
		return err
	}
	return em.Emit(ctx, q, typ, map[string]any{
		"agent_event_id": ev.ID, "agent_id": ev.AgentID, "deployment_object_id": ev.DeploymentObjectID,
		"stack_id": stackID, "event_type": ev.EventType, "status": ev.Status, "message": ev.Message,
		"created_at": utc(ev.CreatedAt),
	})
}

func (s *Server) listAllAgentEvents(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	gen, err := uuidQuery(c, "pak_id")
	if err != nil {
		return err
	}
	p, err := pageParams(c, "agent-events", historyLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListAllAgentEvents(c.Request().Context(), s.db, gen, p)
	if err != nil {
		return err
	}
	return replyPage(c, "agent-events", rows, more, eventKey, toAgentEvent)
}

func (s *Server) getAgentEvent(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	ev, err := db.GetAgentEvent(c.Request().Context(), s.db, id)
	if errors.Is(err, db.ErrNotFound) {
		return notFound("agent_event_not_found", "agent event not found")
	}
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, toAgentEvent(ev))
}
