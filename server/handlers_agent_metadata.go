package server

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
)

func (s *Server) listAgentLabels(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	rows, err := db.AgentLabels.List(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toAgentLabel))
}

// liveAgentForAdmin checks the caller is the admin and the path agent is live.
func (s *Server) liveAgentForAdmin(c echo.Context) (uuid.UUID, error) {
	if err := requireAdmin(identity(c)); err != nil {
		return uuid.Nil, err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return uuid.Nil, err
	}
	if _, err := db.GetAgent(c.Request().Context(), s.db, id); err != nil {
		return uuid.Nil, agentNotFound(err)
	}
	return id, nil
}

func (s *Server) addAgentLabel(c echo.Context) error {
	id, err := s.liveAgentForAdmin(c)
	if err != nil {
		return err
	}
	var body struct {
		AgentID *uuid.UUID `json:"agent_id"`
		Label   *string    `json:"label"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.AgentID == nil {
		return missing("agent_id")
	}
	if body.Label == nil {
		return missing("label")
	}
	if *body.AgentID != id {
		return badRequest("agent_id_mismatch", "body agent_id does not match the path")
	}
	if err := checkLabel(*body.Label); err != nil {
		return err
	}
	l, err := db.AgentLabels.Add(c.Request().Context(), s.db, id, *body.Label)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toAgentLabel(l))
}

func (s *Server) removeAgentLabel(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := db.AgentLabels.Remove(c.Request().Context(), s.db, id, param(c, "label")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return notFound("agent_label_not_found", "agent label not found")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listAgentAnnotations(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	rows, err := db.AgentAnnotations.List(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toAgentAnnotation))
}

func (s *Server) addAgentAnnotation(c echo.Context) error {
	id, err := s.liveAgentForAdmin(c)
	if err != nil {
		return err
	}
	var body struct {
		AgentID *uuid.UUID `json:"agent_id"`
		Key     *string    `json:"key"`
		Value   *string    `json:"value"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	switch {
	case body.AgentID == nil:
		return missing("agent_id")
	case body.Key == nil:
		return missing("key")
	case body.Value == nil:
		return missing("value")
	case *body.AgentID != id:
		return badRequest("agent_id_mismatch", "body agent_id does not match the path")
	}
	if err := checkAnnotation(*body.Key, *body.Value); err != nil {
		return err
	}
	a, err := db.AgentAnnotations.Add(c.Request().Context(), s.db, id, *body.Key, *body.Value)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toAgentAnnotation(a))
}

func (s *Server) removeAgentAnnotation(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := db.AgentAnnotations.Remove(c.Request().Context(), s.db, id, param(c, "key")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return notFound("agent_annotation_not_found", "agent annotation not found")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
