package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
)

func (s *Server) generatorRoutes(g routes) {
	g.GET("/generators", s.listGenerators)
	g.POST("/generators", s.createGenerator)
	g.GET("/generators/:id", s.getGenerator)
	g.PUT("/generators/:id", s.updateGenerator)
	g.DELETE("/generators/:id", s.deleteGenerator)
	g.POST("/generators/:id/rotate-pak", s.rotateGeneratorPAK)
	g.POST("/generators/:id/register", s.registerAgent)
	g.DELETE("/generators/:id/register", s.deregisterAgent)
	g.GET("/generators/:id/registered-agents", s.listRegisteredAgents)
}

var errGeneratorNotFound = notFound("generator_not_found", "generator not found")

func generatorNotFound(err error) error { return orNotFound(err, errGeneratorNotFound) }

// selfGenerator parses the generator id of the path and checks the caller is the admin or
// that generator.
func selfGenerator(c echo.Context) (uuid.UUID, error) {
	id, err := uuidParam(c, "id")
	if err != nil {
		return uuid.Nil, err
	}
	who := identity(c)
	if !who.Admin && !who.IsGeneratorSelf(id) {
		return uuid.Nil, forbidden("generator_not_owned", "the PAK does not belong to this generator")
	}
	return id, nil
}

func (s *Server) listGenerators(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	p, err := pageParams(c, "generators", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListGenerators(c.Request().Context(), s.db, p)
	if err != nil {
		return err
	}
	return replyPage(c, "generators", rows, more, generatorKey, toGenerator)
}

func (s *Server) createGenerator(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return missing("name")
	}
	if err := checkName("invalid_generator", "name", *body.Name); err != nil {
		return err
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return err
	}
	g, err := db.CreateGenerator(c.Request().Context(), s.db, *body.Name, body.Description, hash)
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.GeneratorCreated, ResourceType: audit.ResourceGenerator, ResourceID: ptr(g.ID),
		Details: map[string]any{"name": g.Name}})
	s.audit(c, audit.Entry{Action: audit.PAKCreated, ResourceType: audit.ResourcePAK, ResourceID: ptr(g.ID),
		Details: map[string]any{"entity": "generator", "name": g.Name}})
	return reply(c, http.StatusCreated, client.GeneratorPAKResponse{Generator: toGenerator(g), PAK: key})
}

func (s *Server) getGenerator(c echo.Context) error {
	id, err := selfGenerator(c)
	if err != nil {
		return err
	}
	g, err := db.GetGenerator(c.Request().Context(), s.db, id)
	if err != nil {
		return generatorNotFound(err)
	}
	return reply(c, http.StatusOK, toGenerator(g))
}

func (s *Server) updateGenerator(c echo.Context) error {
	id, err := selfGenerator(c)
	if err != nil {
		return err
	}
	var body struct {
		ID           *uuid.UUID `json:"id"`
		CreatedAt    *time.Time `json:"created_at"`
		UpdatedAt    *time.Time `json:"updated_at"`
		Name         *string    `json:"name"`
		Description  *string    `json:"description"`
		LastActiveAt *time.Time `json:"last_active_at"`
		IsActive     *bool      `json:"is_active"`
		IsSystem     *bool      `json:"is_system"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"id", body.ID != nil}, field{"created_at", body.CreatedAt != nil},
		field{"updated_at", body.UpdatedAt != nil}, field{"name", body.Name != nil},
		field{"is_active", body.IsActive != nil}, field{"is_system", body.IsSystem != nil}); err != nil {
		return err
	}
	if *body.ID != id {
		return badRequest("generator_id_mismatch", "body id does not match the path")
	}
	if err := checkName("invalid_generator", "name", *body.Name); err != nil {
		return err
	}
	g, err := db.UpdateGenerator(c.Request().Context(), s.db, id, db.GeneratorUpdate{
		Name: *body.Name, Description: body.Description, LastActiveAt: body.LastActiveAt, IsActive: *body.IsActive,
	})
	if err != nil {
		return err // unknown id: 404 not_found
	}
	s.audit(c, audit.Entry{Action: audit.GeneratorUpdated, ResourceType: audit.ResourceGenerator, ResourceID: ptr(g.ID),
		Details: map[string]any{"name": g.Name}})
	return reply(c, http.StatusOK, toGenerator(g))
}

func (s *Server) deleteGenerator(c echo.Context) error {
	id, err := selfGenerator(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	g, err := db.GetGenerator(ctx, s.db, id)
	if err != nil {
		return generatorNotFound(err)
	}
	if g.IsSystem {
		return forbidden("cannot_delete_system_generator", "the system generator cannot be deleted")
	}
	hash, err := db.SoftDeleteGenerator(ctx, s.db, id)
	if err != nil {
		return generatorNotFound(err)
	}
	if hash != "" {
		s.evictPAK(hash)
	}
	s.audit(c, audit.Entry{Action: audit.GeneratorDeleted, ResourceType: audit.ResourceGenerator, ResourceID: ptr(id),
		Details: map[string]any{"name": g.Name}})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) rotateGeneratorPAK(c echo.Context) error {
	id, err := selfGenerator(c)
	if err != nil {
		return err
	}
	g, err := db.GetGenerator(c.Request().Context(), s.db, id)
	if err != nil {
		return generatorNotFound(err)
	}
	if g.IsSystem {
		return forbidden("system_generator_not_a_tenant", "the system generator has no PAK")
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return err
	}
	g, old, err := db.SetGeneratorPAKHash(c.Request().Context(), s.db, id, hash)
	if err != nil {
		return generatorNotFound(err)
	}
	if old != "" {
		s.evictPAK(old)
	}
	s.audit(c, audit.Entry{Action: audit.PAKRotated, ResourceType: audit.ResourceGenerator, ResourceID: ptr(g.ID),
		Details: map[string]any{"generator_name": g.Name}})
	return reply(c, http.StatusCreated, client.GeneratorPAKResponse{Generator: toGenerator(g), PAK: key})
}

// registrationTarget resolves the agent of a register/deregister call: an agent registers
// itself; the admin names the agent in the body; generators may not.
func (s *Server) registrationTarget(c echo.Context) (generatorID, agentID uuid.UUID, err error) {
	generatorID, err = uuidParam(c, "id")
	if err != nil {
		return
	}
	var body struct {
		AgentID *uuid.UUID `json:"agent_id"`
	}
	if err = bindJSON(c, &body); err != nil {
		return
	}
	who := identity(c)
	switch {
	case who.IsAgent():
		agentID = who.AgentID
	case who.Admin:
		if body.AgentID == nil {
			err = badRequest("missing_agent_id", "agent_id is required when the admin registers an agent")
			return
		}
		agentID = *body.AgentID
		// A deleted agent is as unknown as one that never existed.
		if _, aerr := db.GetAgent(c.Request().Context(), s.db, agentID); aerr != nil {
			err = orNotFound(aerr, apiError(http.StatusUnprocessableEntity, "foreign_key_violation",
				"agent_id does not name a live agent").with("constraint", "agent_generator_registrations_agent_id_fkey"))
			return
		}
	default:
		err = forbidden("forbidden", "generators cannot register agents")
		return
	}
	if _, gerr := db.GetGenerator(c.Request().Context(), s.db, generatorID); gerr != nil {
		err = generatorNotFound(gerr)
	}
	return
}

func (s *Server) registerAgent(c echo.Context) error {
	gen, agent, err := s.registrationTarget(c)
	if err != nil {
		return err
	}
	r, err := db.Register(c.Request().Context(), s.db, agent, gen)
	if errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "already_registered", "the agent is already registered with this generator")
	}
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.AgentRegistered, ResourceType: audit.ResourceAgent, ResourceID: ptr(agent),
		Details: map[string]any{"generator_id": gen}})
	return reply(c, http.StatusCreated, toRegistration(r))
}

func (s *Server) deregisterAgent(c echo.Context) error {
	gen, agent, err := s.registrationTarget(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		if err := db.Deregister(ctx, q, agent, gen); err != nil {
			return err
		}
		em.Notice(events.NoticeTargetChanged, map[string]any{"agent_id": agent,
			"target": client.AgentTarget{ID: uuid.Nil, AgentID: agent, StackID: uuid.Nil}})
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.AgentDeregistered, ResourceType: audit.ResourceAgent, ResourceID: ptr(agent),
		Details: map[string]any{"generator_id": gen}})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listRegisteredAgents(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	who := identity(c)
	if !who.Admin && !who.IsGeneratorSelf(id) {
		return forbidden("not_authorized", "the PAK does not belong to this generator")
	}
	ctx := c.Request().Context()
	g, err := db.GetGenerator(ctx, s.db, id)
	if err != nil {
		return generatorNotFound(err)
	}
	if g.IsSystem && !who.Admin {
		return forbidden("system_generator_not_a_tenant", "the system generator is not a tenant")
	}
	p, err := pageParams(c, "registered-agents", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListGeneratorRegistrations(ctx, s.db, id, p)
	if err != nil {
		return err
	}
	return replyPage(c, "registered-agents", rows, more, registrationKey, toRegistration)
}
