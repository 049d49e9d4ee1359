package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
)

func (s *Server) agentRoutes(g routes) {
	g.GET("/agents", s.listAgents)
	g.POST("/agents", s.createAgent)
	g.GET("/agents/", s.searchAgent)
	g.GET("/agents/:id", s.getAgent)
	g.PUT("/agents/:id", s.updateAgent)
	g.DELETE("/agents/:id", s.deleteAgent)
	g.GET("/agents/:id/events", s.listAgentEvents)
	g.POST("/agents/:id/events", s.createAgentEvent)
	g.GET("/agents/:id/labels", s.listAgentLabels)
	g.POST("/agents/:id/labels", s.addAgentLabel)
	g.DELETE("/agents/:id/labels/:label", s.removeAgentLabel)
	g.GET("/agents/:id/annotations", s.listAgentAnnotations)
	g.POST("/agents/:id/annotations", s.addAgentAnnotation)
	g.DELETE("/agents/:id/annotations/:key", s.removeAgentAnnotation)
	g.GET("/agents/:id/targets", s.listAgentTargets)
	g.POST("/agents/:id/targets", s.addAgentTarget)
	g.DELETE("/agents/:id/targets/:stack_id", s.removeAgentTarget)
	g.POST("/agents/:id/heartbeat", s.heartbeat)
	g.GET("/agents/:id/target-state", s.targetState)
	g.GET("/agents/:id/stacks", s.associatedStacks)
	g.POST("/agents/:id/rotate-pak", s.rotateAgentPAK)
	g.GET("/agents/:id/registrations", s.listAgentRegistrations)
	g.GET("/agent-events", s.listAllAgentEvents)
	g.GET("/agent-events/:id", s.getAgentEvent)
}

var errAgentNotFound = notFound("agent_not_found", "agent not found")

// agentNotFound maps db.ErrNotFound to agent_not_found.
func agentNotFound(err error) error { return orNotFound(err, errAgentNotFound) }

// selfAgent parses the agent id of the path and checks the caller is the admin or that agent.
func selfAgent(c echo.Context, name string) (uuid.UUID, error) {
	id, err := uuidParam(c, name)
	if err != nil {
		return uuid.Nil, err
	}
	return id, requireAdminOrAgentSelf(identity(c), id)
}

func (s *Server) listAgents(c echo.Context) error {
	ctx := c.Request().Context()
	id := identity(c)
	p, err := pageParams(c, "agents", collectionLimits)
	if err != nil {
		return err
	}
	var rows []db.Agent
	var more bool
	switch {
	case id.Admin:
		rows, more, err = db.ListAgents(ctx, s.db, p)
	case id.IsGenerator():
		g, gerr := db.GetGeneratorAny(ctx, s.db, id.GeneratorID)
		switch {
		case gerr != nil && !errors.Is(gerr, db.ErrNotFound):
			return gerr
		case gerr != nil || g.DeletedAt != nil:
			return forbidden("generator_not_found", "generator not found")
		case g.IsSystem:
			return forbidden("system_generator_not_a_tenant", "the system generator is not a tenant")
		}
		rows, more, err = db.ListAgentsRegisteredWith(ctx, s.db, id.GeneratorID, p)
	default:
		return forbidden("generator_required", "an admin or generator PAK is required")
	}
	if err != nil {
		return err
	}
	return replyPage(c, "agents", rows, more, agentKey, toAgent)
}

func (s *Server) createAgent(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	var body struct {
		Name         *string     `json:"name"`
		ClusterName  *string     `json:"cluster_name"`
		GeneratorIDs []uuid.UUID `json:"generator_ids"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return missing("name")
	}
	if body.ClusterName == nil {
		return missing("cluster_name")
	}
	ctx := c.Request().Context()
	gens := uniqueIDs(body.GeneratorIDs)
	if len(gens) > 0 {
		n, err := db.CountLiveGenerators(ctx, s.db, gens)
		if err != nil {
			return err
		}
		if n != len(gens) {
			return badRequest("invalid_generator_id", "generator_ids must name live generators")
		}
	}
	if err := checkName("invalid_agent", "name", *body.Name); err != nil {
		return err
	}
	if err := checkName("invalid_agent", "cluster_name", *body.ClusterName); err != nil {
		return err
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return err
	}
	var agent db.Agent
	err = s.inTx(ctx, func(q db.Queryer, em *Emitter) error {
		agent, err = db.CreateAgent(ctx, q, *body.Name, *body.ClusterName, hash)
		if err != nil {
			return err
		}
		sys, err := db.SystemGeneratorID(ctx, q)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if err == nil {
			gens = uniqueIDs(append([]uuid.UUID{sys}, gens...))
		}
		for _, g := range gens {
			if _, err := db.Register(ctx, q, agent.ID, g); err != nil {
				return err
			}
		}
		return em.Emit(ctx, q, EventAgentRegistered, map[string]any{
			"agent_id": agent.ID, "name": agent.Name, "cluster_name": agent.ClusterName,
			"status": agent.Status, "created_at": utc(agent.CreatedAt),
		})
	})
	if err != nil {
		return err
	}
	s.audit(c, AuditEntry{Action: AuditAgentCreated, ResourceType: ResourceAgent, ResourceID: ptr(agent.ID),
		Details: map[string]any{"name": agent.Name, "cluster_name": agent.ClusterName}})
	s.audit(c, AuditEntry{Action: AuditPAKCreated, ResourceType: ResourcePAK, ResourceID: ptr(agent.ID),
		Details: map[string]any{"entity": "agent", "name": agent.Name}})
	return reply(c, http.StatusCreated, client.CreateAgentResponse{Agent: toAgent(agent), InitialPAK: key})
}

func uniqueIDs(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) searchAgent(c echo.Context) error {
	name, cluster := c.QueryParam("name"), c.QueryParam("cluster_name")
	if name == "" || cluster == "" {
		return badRequest("name_and_cluster_required", "query parameters name and cluster_name are both required")
	}
	a, err := db.FindAgent(c.Request().Context(), s.db, name, cluster)
	if err != nil {
		return agentNotFound(err)
	}
	if err := requireAdminOrAgentSelf(identity(c), a.ID); err != nil {
		return err
	}
	return reply(c, http.StatusOK, toAgent(a))
}

func (s *Server) getAgent(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	a, err := db.GetAgent(c.Request().Context(), s.db, id)
	if err != nil {
		return agentNotFound(err)
	}
	return reply(c, http.StatusOK, toAgent(a))
}

func (s *Server) updateAgent(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	var body map[string]any
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	str := func(k string) *string {
		if v, ok := body[k].(string); ok {
			return &v
		}
		return nil
	}
	u := db.AgentUpdate{Name: str("name"), ClusterName: str("cluster_name"), Status: str("status")}
	if u.Name != nil {
		if err := checkName("invalid_agent", "name", *u.Name); err != nil {
			return err
		}
	}
	if u.ClusterName != nil {
		if err := checkName("invalid_agent", "cluster_name", *u.ClusterName); err != nil {
			return err
		}
	}
	if u.Status != nil && (strings.TrimSpace(*u.Status) == "" || len(*u.Status) > 50) {
		return badRequest("invalid_agent", "status must be 1 to 50 bytes")
	}
	a, err := db.UpdateAgent(c.Request().Context(), s.db, id, u)
	if err != nil {
		return agentNotFound(err)
	}
	if u.Status != nil {
		s.revokeSockets(recheck{Agents: []uuid.UUID{a.ID}}) // leaving ACTIVE closes its channel
	}
	s.audit(c, AuditEntry{Action: AuditAgentUpdated, ResourceType: ResourceAgent, ResourceID: ptr(a.ID),
		Details: map[string]any{"name": a.Name, "cluster_name": a.ClusterName, "status": a.Status}})
	return reply(c, http.StatusOK, toAgent(a))
}

func (s *Server) deleteAgent(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var hash string
	err = s.inTx(ctx, func(q db.Queryer, em *Emitter) error {
		a, h, err := db.SoftDeleteAgent(ctx, q, id)
		if errors.Is(err, db.ErrNotFound) {
			return nil // deleting an absent agent is not an error
		}
		if err != nil {
			return err
		}
		hash = h
		return em.Emit(ctx, q, EventAgentDeregistered, map[string]any{"agent_id": a.ID, "deleted_at": utcp(a.DeletedAt)})
	})
	if err != nil {
		return err
	}
	if hash != "" {
		s.evictPAK(hash)
		s.audit(c, AuditEntry{Action: AuditAgentDeleted, ResourceType: ResourceAgent, ResourceID: ptr(id)})
	}
	return c.NoContent(http.StatusNoContent)
}

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
	ctx := c.Request().Context()
	var ev db.AgentEvent
	err = s.inTx(ctx, func(q db.Queryer, em *Emitter) error {
		ev, err = db.CreateAgentEvent(ctx, q, db.NewAgentEvent{
			AgentID: id, DeploymentObjectID: *body.DeploymentObjectID,
			EventType: *body.EventType, Status: *body.Status, Message: body.Message,
		})
		if err != nil {
			return err
		}
		return s.emitAgentEvent(ctx, q, em, ev)
	})
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toAgentEvent(ev))
}

// emitAgentEvent emits deployment.applied or deployment.failed for a reported event.
func (s *Server) emitAgentEvent(ctx context.Context, q db.Queryer, em *Emitter, ev db.AgentEvent) error {
	var stackID *uuid.UUID
	if o, err := db.GetDeploymentObject(ctx, q, ev.DeploymentObjectID); err == nil {
		stackID = &o.StackID
	} else if !errors.Is(err, db.ErrNotFound) {
		return err
	}
	typ := EventDeploymentFailed
	if strings.EqualFold(ev.Status, "SUCCESS") {
		typ = EventDeploymentApplied
	}
	return em.Emit(ctx, q, typ, map[string]any{
		"agent_event_id": ev.ID, "agent_id": ev.AgentID, "deployment_object_id": ev.DeploymentObjectID,
		"stack_id": stackID, "event_type": ev.EventType, "status": ev.Status, "message": ev.Message,
		"created_at": utc(ev.CreatedAt),
	})
}

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
	err = s.inTx(ctx, func(q db.Queryer, em *Emitter) error {
		t, err = db.AddAgentTarget(ctx, q, id, *body.StackID)
		if err != nil {
			return err
		}
		em.Notice(NoticeTargetChanged, map[string]any{"agent_id": t.AgentID, "target": toAgentTarget(t)})
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

func (s *Server) heartbeat(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if !identity(c).IsAgentSelf(id) {
		return forbidden("agent_pak_mismatch", "only the agent itself may send its heartbeat")
	}
	// The body is optional and a malformed one is ignored.
	var body map[string]json.RawMessage
	var reported bool
	var reachable *bool
	var latency *int32
	if raw, err := readBody(c); err == nil && json.Unmarshal(raw, &body) == nil {
		if v, ok := body["k8s_reachable"]; ok && json.Unmarshal(v, &reachable) == nil && reachable != nil {
			reported = true
			if l, ok := body["k8s_api_latency_ms"]; ok {
				_ = json.Unmarshal(l, &latency)
			}
		}
	} else if err != nil {
		return err
	}
	if _, err := db.Heartbeat(c.Request().Context(), s.db, id, reported, reachable, latency); err != nil {
		return agentNotFound(err)
	}
	s.notice(NoticeAgentHeartbeat, map[string]any{"agent_id": id})
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

func (s *Server) targetState(c echo.Context) error {
	id, err := s.agentForRead(c)
	if err != nil {
		return err
	}
	incremental := c.QueryParam("mode") != "full"
	rows, err := db.TargetState(c.Request().Context(), s.db, id, incremental)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toDeploymentObject))
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

func (s *Server) rotateAgentPAK(c echo.Context) error {
	id, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return err
	}
	a, old, err := db.SetAgentPAKHash(c.Request().Context(), s.db, id, hash)
	if err != nil {
		return agentNotFound(err)
	}
	s.evictPAK(old)
	s.audit(c, AuditEntry{Action: AuditPAKRotated, ResourceType: ResourceAgent, ResourceID: ptr(a.ID),
		Details: map[string]any{"agent_name": a.Name}})
	return reply(c, http.StatusOK, client.RotateAgentPAKResponse{Agent: toAgent(a), PAK: key})
}

func (s *Server) listAgentRegistrations(c echo.Context) error {
	id, err := s.agentForRead(c)
	if err != nil {
		return err
	}
	rows, err := db.ListRegistrations(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toRegistration))
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
