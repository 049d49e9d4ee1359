package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/heartbeats"
	"github.com/brokkr/brokkr/server/live"
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
	// Listings read the database alone: heartbeats this replica holds are written first.
	if err := s.heartbeats.Flush(ctx); err != nil {
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
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
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
		return em.Emit(ctx, q, events.AgentRegistered, map[string]any{
			"agent_id": agent.ID, "name": agent.Name, "cluster_name": agent.ClusterName,
			"status": agent.Status, "created_at": utc(agent.CreatedAt),
		})
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.AgentCreated, ResourceType: audit.ResourceAgent, ResourceID: ptr(agent.ID),
		Details: map[string]any{"name": agent.Name, "cluster_name": agent.ClusterName}})
	s.audit(c, audit.Entry{Action: audit.PAKCreated, ResourceType: audit.ResourcePAK, ResourceID: ptr(agent.ID),
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
	return reply(c, http.StatusOK, toAgent(s.heartbeats.MergeAgent(a)))
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
	return reply(c, http.StatusOK, toAgent(s.heartbeats.MergeAgent(a)))
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
		s.live.Revoke(live.Sockets{Agents: []uuid.UUID{a.ID}}) // leaving ACTIVE closes its channel
	}
	s.audit(c, audit.Entry{Action: audit.AgentUpdated, ResourceType: audit.ResourceAgent, ResourceID: ptr(a.ID),
		Details: map[string]any{"name": a.Name, "cluster_name": a.ClusterName, "status": a.Status}})
	return reply(c, http.StatusOK, toAgent(s.heartbeats.MergeAgent(a)))
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
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		a, h, err := db.SoftDeleteAgent(ctx, q, id)
		if errors.Is(err, db.ErrNotFound) {
			return nil // deleting an absent agent is not an error
		}
		if err != nil {
			return err
		}
		hash = h
		return em.Emit(ctx, q, events.AgentDeregistered, map[string]any{"agent_id": a.ID, "deleted_at": utcp(a.DeletedAt)})
	})
	if err != nil {
		return err
	}
	if hash != "" {
		s.evictPAK(hash)
		s.audit(c, audit.Entry{Action: audit.AgentDeleted, ResourceType: audit.ResourceAgent, ResourceID: ptr(id)})
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
	// The agent's key proved it live. The heartbeat is written with the next batch (at once
	// when broker.heartbeat_flush_interval_ms is 0); this replica's reads see it already.
	beat := heartbeats.Beat{Reported: reported, Reachable: reachable, LatencyMs: latency, Announce: true}
	if err := s.heartbeats.Record(c.Request().Context(), id, beat); err != nil {
		return agentNotFound(err)
	}
	s.bus.Notice(events.NoticeAgentHeartbeat, map[string]any{"agent_id": id})
	return c.NoContent(http.StatusNoContent)
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
	s.audit(c, audit.Entry{Action: audit.PAKRotated, ResourceType: audit.ResourceAgent, ResourceID: ptr(a.ID),
		Details: map[string]any{"agent_name": a.Name}})
	return reply(c, http.StatusOK, client.RotateAgentPAKResponse{Agent: toAgent(s.heartbeats.MergeAgent(a)), PAK: key})
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
