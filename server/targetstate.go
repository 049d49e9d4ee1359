package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

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

// readTargetState reads an answer from the database and keeps it when the cache is on.
func (s *Server) readTargetState(ctx context.Context, key targetstate.Key) (*targetstate.Answer, error) {
	keep := s.targets.Active()
	ticket := s.targets.Begin()
	rows, err := db.TargetState(ctx, s.db, key.Agent, key.Incremental)
	if err != nil {
		return nil, err
	}
	var stacks []uuid.UUID
	if keep {
		if stacks, err = db.AssociatedStackIDs(ctx, s.db, key.Agent); err != nil {
			return nil, err
		}
	}
	objects := make([][]byte, len(rows))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as every other answer (writeJSON)
	for i, r := range rows {
		buf.Reset()
		if err := enc.Encode(toDeploymentObject(r)); err != nil {
			return nil, err
		}
		objects[i] = bytes.Clone(bytes.TrimRight(buf.Bytes(), "\n"))
	}
	answer := targetstate.NewAnswer(objects, stacks)
	if keep {
		s.targets.Put(ticket, key, answer)
	}
	return answer, nil
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
	"/diagnostics/", "/templates", "/webhook", "/work-orders",
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
