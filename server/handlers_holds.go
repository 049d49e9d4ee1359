package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/rollouts"
	"github.com/brokkr/brokkr/server/targetstate"
)

// holdRoutes serves the objects rollouts and apply windows hold back from agents.
func (s *Server) holdRoutes(g routes) {
	g.GET("/agents/:id/holds", s.agentHolds)
	g.GET("/stacks/:id/holds", s.stackHolds)
}

// agentHolds answers GET /agents/{id}/holds: the newest objects of the agent's stacks it does
// not receive now, and why.
func (s *Server) agentHolds(c echo.Context) error {
	id, err := s.agentForRead(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	agent, err := db.GetAgent(ctx, s.db, id)
	if err != nil {
		return agentNotFound(err)
	}
	assoc, err := db.AssociatedStacks(ctx, s.db, id)
	if err != nil {
		return err
	}
	stacks := make([]uuid.UUID, len(assoc))
	names := make(map[uuid.UUID]string, len(assoc))
	for i, st := range assoc {
		stacks[i], names[st.ID] = st.ID, st.Name
	}
	facts, err := s.agentFacts(ctx, id)
	if err != nil {
		return err
	}
	comp, err := s.compose(ctx, id, stacks, facts)
	if err != nil {
		return err
	}
	waves := waveFinder{s: s, policies: map[uuid.UUID]client.RolloutPolicy{}}
	out := make([]client.Hold, 0, len(comp.Holds))
	for _, h := range comp.Holds {
		hold := toHold(agent.ID, agent.Name, names[h.Stack], h)
		if hold.Wave, err = waves.of(ctx, h, facts); err != nil {
			return err
		}
		out = append(out, hold)
	}
	return reply(c, http.StatusOK, out)
}

// stackHolds answers GET /stacks/{id}/holds: per agent associated with the stack, the
// stack's newest object when the agent does not receive it now, and why.
func (s *Server) stackHolds(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	agents, err := db.StackAgents(ctx, s.db, st.ID)
	if err != nil {
		return err
	}
	held, err := db.StackHeldObjects(ctx, s.db, st.ID)
	if err != nil {
		return err
	}
	has := make(map[uuid.UUID]targetstate.Object, len(held))
	for _, h := range held {
		if has[h.AgentID], err = servedObject(h.DeploymentObject); err != nil {
			return err
		}
	}
	stacks := []uuid.UUID{st.ID}
	waves := waveFinder{s: s, policies: map[uuid.UUID]client.RolloutPolicy{}}
	out := []client.Hold{}
	for _, a := range agents {
		facts := &targetstate.Facts{Labels: a.Labels, Annotations: a.Annotations, Has: map[uuid.UUID]targetstate.Object{}}
		if o, ok := has[a.ID]; ok {
			facts.Has[st.ID] = o
		}
		comp, err := s.compose(ctx, a.ID, stacks, facts)
		if err != nil {
			return err
		}
		for _, h := range comp.Holds {
			hold := toHold(a.ID, a.Name, st.Name, h)
			if hold.Wave, err = waves.of(ctx, h, facts); err != nil {
				return err
			}
			out = append(out, hold)
		}
	}
	return reply(c, http.StatusOK, out)
}

// waveFinder tells the wave of a held agent in the rollout holding it, reading each
// rollout's policy once.
type waveFinder struct {
	s        *Server
	policies map[uuid.UUID]client.RolloutPolicy
}

// of returns the agent's wave in the rollout of a rollout hold (nil for other holds).
func (w waveFinder) of(ctx context.Context, h targetstate.Hold, facts *targetstate.Facts) (*int, error) {
	if h.Rollout == uuid.Nil {
		return nil, nil
	}
	p, ok := w.policies[h.Rollout]
	if !ok {
		raw, err := db.RolloutPolicySnapshot(ctx, w.s.db, h.Rollout)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		w.policies[h.Rollout] = p
	}
	wave := rollouts.WaveOf(p, facts.Labels, facts.Annotations)
	return &wave, nil
}

func toHold(agentID uuid.UUID, agentName, stackName string, h targetstate.Hold) client.Hold {
	out := client.Hold{AgentID: agentID, AgentName: agentName, StackID: h.Stack, StackName: stackName,
		DeploymentObjectID: h.Object, ServingObjectID: h.Serving, Reason: h.Reason}
	if h.Rollout != uuid.Nil {
		id := h.Rollout
		out.RolloutID = &id
	}
	if h.Window != nil {
		id := h.Window.ID
		out.WindowID, out.WindowName = &id, h.Window.Name
	}
	if !h.Until.IsZero() {
		u := utc(h.Until)
		out.Until = &u
	}
	return out
}

// holdHeader is the Brokkr-Hold header value of a hold in a target-state answer:
// "<stack id>; object=<id>; reason=window|rollout[; window=<name>][; until=<RFC 3339>]".
func holdHeader(h targetstate.Hold) string {
	var b strings.Builder
	b.WriteString(h.Stack.String())
	b.WriteString("; object=")
	b.WriteString(h.Object.String())
	b.WriteString("; reason=")
	b.WriteString(h.Reason)
	if h.Window != nil {
		b.WriteString("; window=")
		b.WriteString(headerToken(h.Window.Name))
	}
	if !h.Until.IsZero() {
		b.WriteString("; until=")
		b.WriteString(h.Until.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// headerToken is a name as a header parameter: quoted, with quotes and backslashes escaped
// and control characters dropped.
func headerToken(name string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range name {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
