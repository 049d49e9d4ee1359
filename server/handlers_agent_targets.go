package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/events"
)

func (s *Server) listAgentTargets(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	rows, err := db.ListAgentTargets(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toAgentTarget))
}

// authorizeTarget applies the checks shared by adding and removing a target: the stack is
// live, the caller is the admin or the stack's generator, and the agent is registered with
// that generator.
func (s *Server) authorizeTarget(ctx context.Context, id Identity, agentID, stackID uuid.UUID) error {
	st, err := db.GetStack(ctx, s.db, stackID)
	if errors.Is(err, db.ErrNotFound) {
		return errStackNotFound
	}
	if err != nil {
		return err
	}
	if _, err := db.GetAgent(ctx, s.db, agentID); err != nil {
		return agentNotFound(err)
	}
	switch {
	case id.Admin:
	case id.IsGenerator():
		if id.GeneratorID != st.GeneratorID {
			return forbidden("target_generator_mismatch", "the stack belongs to another generator")
		}
	default:
		return forbidden("target_create_denied", "only the admin or the stack's generator may target it")
	}
	ok, err := db.IsRegistered(ctx, s.db, agentID, st.GeneratorID)
	if err != nil {
		return err
	}
	if !ok {
		return forbidden("agent_not_registered", "the agent is not registered with the stack's generator")
	}
	return nil
}

func (s *Server) addAgentTarget(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		AgentID *uuid.UUID `json:"agent_id"`
		StackID *uuid.UUID `json:"stack_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.AgentID == nil {
		return missing("agent_id")
	}
	if body.StackID == nil {
		return missing("stack_id")
	}
	ctx := c.Request().Context()
	if err := s.authorizeTarget(ctx, identity(c), id, *body.StackID); err != nil {
		return err
	}
	if *body.AgentID != id {
		return badRequest("agent_id_mismatch", "body agent_id does not match the path")
	}
	var t db.AgentTarget
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		t, err = db.AddAgentTarget(ctx, q, id, *body.StackID)
		if err != nil {
			return err
		}
		em.Notice(events.NoticeTargetChanged, map[string]any{"agent_id": t.AgentID, "target": toAgentTarget(t)})
		return nil
	})
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toAgentTarget(t))
}

func (s *Server) removeAgentTarget(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	stackID, err := uuidParam(c, "stack_id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.authorizeTarget(ctx, identity(c), id, stackID); err != nil {
		return err
	}
	if err := db.RemoveAgentTarget(ctx, s.db, id, stackID); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return notFound("agent_target_not_found", "agent target not found")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// agentForRead checks access to an agent-scoped read and, for the admin, that the agent is
// live (an agent's own PAK already proves it is).
func (s *Server) agentForRead(c echo.Context) (uuid.UUID, error) {
	id, err := selfAgent(c, "id")
	if err != nil {
		return uuid.Nil, err
	}
	if identity(c).Admin {
		if _, err := db.GetAgent(c.Request().Context(), s.db, id); err != nil {
			return uuid.Nil, agentNotFound(err)
		}
	}
	return id, nil
}

func (s *Server) associatedStacks(c echo.Context) error {
	id, err := s.agentForRead(c)
	if err != nil {
		return err
	}
	rows, err := db.AssociatedStacks(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toStack))
}
