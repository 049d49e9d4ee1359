package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unique"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
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

// readTargetState makes an answer that was not kept: in full mode from the agent's associated
// stacks and their latest objects (kept apart, see targetstate.Cache.Latest), in incremental
// mode from the database; and keeps it when the cache is on.
func (s *Server) readTargetState(ctx context.Context, key targetstate.Key) (*targetstate.Answer, error) {
	if !s.targets.Active() { // nothing is kept: one query, as it stands
		return s.queryTargetState(ctx, key, nil)
	}
	ticket := s.targets.Begin()
	stacks, ok := s.targets.Stacks(key.Agent)
	if !ok {
		var err error
		if stacks, err = db.AssociatedStackIDs(ctx, s.db, key.Agent); err != nil {
			return nil, err
		}
		s.targets.PutStacks(ticket, key.Agent, stacks)
	}
	var answer *targetstate.Answer
	if key.Incremental {
		var err error
		if answer, err = s.queryTargetState(ctx, key, stacks); err != nil {
			return nil, err
		}
	} else {
		latest, err := s.targets.Latest(ctx, stacks, s.readLatest)
		if err != nil {
			return nil, err
		}
		answer = targetstate.ComposeAnswer(stacks, latest)
	}
	s.targets.Put(ticket, key, answer)
	return answer, nil
}

// queryTargetState reads an answer with the target-state query, for an agent associated with
// stacks (nil when unknown: the answer is then not kept).
func (s *Server) queryTargetState(ctx context.Context, key targetstate.Key, stacks []uuid.UUID) (*targetstate.Answer, error) {
	rows, err := db.TargetState(ctx, s.db, key.Agent, key.Incremental)
	if err != nil {
		return nil, err
	}
	objects := make([][]byte, len(rows))
	for i, r := range rows {
		if objects[i], err = encodeObject(r); err != nil {
			return nil, err
		}
	}
	return targetstate.NewAnswer(objects, stacks), nil
}

// readLatest reads the latest live object of each stack from the database.
func (s *Server) readLatest(ctx context.Context, stacks []uuid.UUID) (map[uuid.UUID]targetstate.Object, error) {
	rows, err := db.LatestObjects(ctx, s.db, stacks)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]targetstate.Object, len(rows))
	for _, r := range rows {
		b, err := encodeObject(r)
		if err != nil {
			return nil, err
		}
		out[r.StackID] = targetstate.Object{JSON: unique.Make(string(b)), Seq: r.SequenceID}
	}
	return out, nil
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
