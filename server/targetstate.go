package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/logx"
	"github.com/brokkr/brokkr/internal/window"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/targetstate"
)

// newTargetCache builds the replica's target-state cache for the database's schema.
func (s *Server) newTargetCache(entries int) (*targetstate.Cache, error) {
	schema := s.db.Schema()
	if schema == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.db.GetContext(ctx, &schema, `SELECT current_schema()`); err != nil {
			return nil, err
		}
	}
	return targetstate.New(targetstate.Options{
		Schema: schema, MaxEntries: entries, DB: s.db, Logger: s.log, Registry: s.metrics.registry,
		Listening: func() bool { return s.listener != nil && s.listener.Listening() },
		Clock:     s.clock,
	}), nil
}

// SyncTargetState returns once this replica has applied every change committed before the
// call to the target-state answers it keeps (see targetstate.Cache.Sync). Writes through the
// API do it themselves; tools that write to the database directly call it.
func (s *Server) SyncTargetState(ctx context.Context) { s.targets.Sync(ctx) }

// syncBeforePush brings this replica's target-state cache up to date with a transaction that
// tells agents to fetch their target state (stack_changed, target_changed pushes), before they
// are told: an agent must not be answered from memory what it was told has changed.
func (s *Server) syncBeforePush(ctx context.Context, evs []events.Event) {
	for _, ev := range evs {
		if ev.Type == events.NoticeStackChanged || ev.Type == events.NoticeTargetChanged {
			s.targets.Sync(ctx)
			return
		}
	}
}

// targetState answers GET /agents/{id}/target-state: from memory when nothing the answer
// depends on has changed since it was read, and 304 when the client already has it.
func (s *Server) targetState(c echo.Context) error {
	id, err := s.agentForRead(c)
	if err != nil {
		return err
	}
	key := targetstate.Key{Agent: id, Incremental: c.QueryParam("mode") != "full"}
	answer, ok := s.targets.Get(key)
	if !ok {
		if answer, err = s.readTargetState(c.Request().Context(), key); err != nil {
			return err
		}
	}
	h := c.Response().Header()
	h.Set("ETag", answer.ETag)
	for _, hold := range answer.Holds {
		h.Add("Brokkr-Hold", holdHeader(hold))
	}
	h.Set(echo.HeaderCacheControl, "no-cache")
	if targetstate.Matches(c.Request().Header.Get("If-None-Match"), answer.ETag) {
		s.targets.NotModified()
		return c.NoContent(http.StatusNotModified)
	}
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	_, err = answer.WriteTo(c.Response())
	return err
}

// readTargetState makes an answer that was not kept, from the agent's associated stacks and
// what each serves (both kept apart, see targetstate.Cache.Views), and keeps it when the
// cache is on. Incremental mode leaves out the objects the agent has reported applying.
func (s *Server) readTargetState(ctx context.Context, key targetstate.Key) (*targetstate.Answer, error) {
	ticket := s.targets.Begin()
	stacks, ok := s.targets.Stacks(key.Agent)
	if !ok {
		var err error
		if stacks, err = db.AssociatedStackIDs(ctx, s.db, key.Agent); err != nil {
			return nil, err
		}
		s.targets.PutStacks(ticket, key.Agent, stacks)
	}
	comp, err := s.compose(ctx, key.Agent, stacks, nil)
	if err != nil {
		return nil, err
	}
	if key.Incremental && len(comp.Objects) > 0 {
		ids := make([]uuid.UUID, len(comp.Objects))
		for i, o := range comp.Objects {
			ids[i] = o.ID
		}
		deployed, err := db.DeployedObjects(ctx, s.db, key.Agent, ids)
		if err != nil {
			return nil, err
		}
		comp.Objects = slices.DeleteFunc(comp.Objects, func(o targetstate.Object) bool { return slices.Contains(deployed, o.ID) })
	}
	answer := targetstate.ComposedAnswer(stacks, comp)
	s.targets.Put(ticket, key, answer)
	return answer, nil
}

// compose resolves which object of each stack the agent receives now. facts, when nil, are
// read when apply windows exist.
func (s *Server) compose(ctx context.Context, agent uuid.UUID, stacks []uuid.UUID, facts *targetstate.Facts) (targetstate.Composition, error) {
	views, err := s.targets.Views(ctx, stacks, s.readViews)
	if err != nil {
		return targetstate.Composition{}, err
	}
	windows, err := s.targets.Windows(ctx, s.readWindows)
	if err != nil {
		return targetstate.Composition{}, err
	}
	if len(windows.Set) > 0 && facts == nil {
		if facts, err = s.agentFacts(ctx, agent); err != nil {
			return targetstate.Composition{}, err
		}
	}
	return targetstate.Compose(agent, stacks, views, windows, facts, s.clock()), nil
}

// agentFacts reads what apply windows need to know of an agent.
func (s *Server) agentFacts(ctx context.Context, agent uuid.UUID) (*targetstate.Facts, error) {
	labels, annotations, err := db.AgentSelectorFacts(ctx, s.db, agent)
	if err != nil {
		return nil, err
	}
	held, err := db.AgentHeldObjects(ctx, s.db, agent)
	if err != nil {
		return nil, err
	}
	f := &targetstate.Facts{Labels: labels, Annotations: annotations, Has: make(map[uuid.UUID]targetstate.Object, len(held))}
	for _, h := range held {
		o, err := servedObject(h.DeploymentObject)
		if err != nil {
			return nil, err
		}
		f.Has[h.StackID] = o
	}
	return f, nil
}

// readViews reads what each stack serves: its live objects down to the newest one every agent
// receives, with the agents each rollout under way has released its object to.
func (s *Server) readViews(ctx context.Context, stacks []uuid.UUID) (map[uuid.UUID]targetstate.View, error) {
	rows, err := db.StackSteps(ctx, s.db, stacks)
	if err != nil {
		return nil, err
	}
	var rollouts []uuid.UUID
	for _, r := range rows {
		if !r.Everyone {
			rollouts = append(rollouts, *r.RolloutID)
		}
	}
	releases, err := db.RolloutReleases(ctx, s.db, rollouts)
	if err != nil {
		return nil, err
	}
	released := make(map[uuid.UUID]map[uuid.UUID]struct{}, len(rollouts))
	for _, id := range rollouts {
		released[id] = map[uuid.UUID]struct{}{}
	}
	for _, r := range releases {
		released[r.RolloutID][r.AgentID] = struct{}{}
	}
	out := make(map[uuid.UUID]targetstate.View, len(stacks))
	for _, r := range rows {
		o, err := servedObject(r.DeploymentObject)
		if err != nil {
			return nil, err
		}
		step := targetstate.Step{Object: o}
		if !r.Everyone {
			step.Rollout, step.NextWaveAt, step.Released = *r.RolloutID, r.NextWaveAt, released[*r.RolloutID]
		}
		out[r.StackID] = append(out[r.StackID], step)
	}
	return out, nil
}

// servedObject is a deployment object as target state serves it.
func servedObject(o db.DeploymentObject) (targetstate.Object, error) {
	b, err := encodeObject(o)
	if err != nil {
		return targetstate.Object{}, err
	}
	return targetstate.Object{JSON: unique.Make(string(b)), ID: o.ID, Seq: o.SequenceID, Urgent: o.Urgent}, nil
}

// encodeObject is a deployment object's JSON as every answer encodes it (writeJSON).
func encodeObject(o db.DeploymentObject) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(toDeploymentObject(o)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Writes and the target-state cache. Every write that can change a target state is
// announced by the database to every replica (see server/targetstate); the replica that
// made it also waits for its own announcements before it answers, so that its client
// never reads a target state from before its write. Routes that cannot change one skip
// the wait; an agent's event only changes that agent's incremental answer, which
// recordAgentEvent drops at once.

// targetNeutralWrites are the write routes (relative to /api/v1) that change nothing a
// target state is made of.
var targetNeutralWrites = []string{
	"/agents/:id/events", "/agents/:id/heartbeat", "/agents/:id/health-status", "/agents/:id/rotate-pak",
	"/generators/:id/rotate-pak", "/auth/", "/admin/", "/deployment-objects/:id/diagnostics",
	"/diagnostics/", "/templates", "/webhook", "/work-orders", "/read-only-paks",
}

// targetSync returns the middleware a write route at path gets, or nil.
func (s *Server) targetSync(path string) echo.MiddlewareFunc {
	for _, p := range targetNeutralWrites {
		if strings.HasPrefix(path, p) {
			return nil
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if writeMayHaveLanded(c, err) {
				s.targets.Sync(c.Request().Context())
			}
			return err
		}
	}
}

// writeMayHaveLanded reports whether a write handler may have changed the database: not
// when it was refused with a client error (those are decided before anything is written).
func writeMayHaveLanded(c echo.Context, err error) bool {
	if err == nil {
		st := c.Response().Status
		return st < 400 || st >= 500
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code >= 500
	}
	return true
}

// readWindows reads every apply window. A stored window that no longer compiles (its time
// zone gone from the system) is left out, loudly.
func (s *Server) readWindows(ctx context.Context) (window.Set, error) {
	rows, err := db.ListApplyWindows(ctx, s.db)
	if err != nil {
		return nil, err
	}
	set := make(window.Set, 0, len(rows))
	for _, r := range rows {
		w, err := compileWindow(r)
		if err != nil {
			s.log.Error("apply window ignored: it cannot be read", slog.String("window", r.Name), logx.Err(err))
			continue
		}
		set = append(set, w)
	}
	return set, nil
}
