package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/rollouts"
	"github.com/brokkr/brokkr/server/workers"
)

// Rollout listing bounds.
const (
	defaultRolloutsLimit = 50
	maxRolloutsLimit     = 200
)

// installRollouts builds the rollout controller and registers the rollout routes and the
// controller's periodic step.
func (s *Server) installRollouts(g routes) {
	s.rollouts = rollouts.New(rollouts.Options{DB: s.db, Bus: s.bus, Logger: s.log, Clock: s.clock,
		StackChanged: s.rolloutStackChanged})
	g.PUT("/stacks/:id/rollout-policy", s.putRolloutPolicy)
	g.GET("/stacks/:id/rollout-policy", s.getRolloutPolicy)
	g.DELETE("/stacks/:id/rollout-policy", s.deleteRolloutPolicy)
	g.GET("/stacks/:id/rollout", s.getRollout)
	g.GET("/stacks/:id/rollouts", s.listRollouts)
	g.POST("/stacks/:id/rollout/:action", s.rolloutAction)
	s.workers.Add(workers.Worker{
		Name:     "rollout-controller",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.RolloutIntervalSeconds }),
		Run:      s.rollouts.StepAll,
	})
}

var (
	errRolloutPolicyNotFound = notFound("rollout_policy_not_found", "the stack has no rollout policy")
	errRolloutNotFound       = notFound("rollout_not_found", "the stack has no rollout")
)

// rolloutStackChanged tells the agents of a stack whose rollout changed to fetch their target
// state.
func (s *Server) rolloutStackChanged(ctx context.Context, q db.Queryer, em *events.Emitter, stackID uuid.UUID, agentIDs []uuid.UUID) error {
	st, err := db.GetStack(ctx, q, stackID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	em.Notice(events.NoticeStackChanged, map[string]any{"agent_ids": agentIDs, "stack": toStack(st)})
	return nil
}

func toRolloutPolicy(row db.RolloutPolicyRow) (client.RolloutPolicy, error) {
	var p client.RolloutPolicy
	if err := json.Unmarshal(row.Policy, &p); err != nil {
		return client.RolloutPolicy{}, fmt.Errorf("rollout policy of stack %s: %w", row.StackID, err)
	}
	p = rollouts.Normalize(p)
	p.StackID, p.CreatedAt, p.UpdatedAt = row.StackID, utc(row.CreatedAt), utc(row.UpdatedAt)
	return p, nil
}

func (s *Server) putRolloutPolicy(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	var p client.RolloutPolicy
	if err := bindJSON(c, &p); err != nil {
		return err
	}
	if err := rollouts.Validate(p); err != nil {
		return badRequest("invalid_rollout_policy", err.Error())
	}
	p = rollouts.Normalize(p)
	p.StackID, p.CreatedAt, p.UpdatedAt = uuid.Nil, time.Time{}, time.Time{}
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	row, err := db.PutRolloutPolicy(c.Request().Context(), s.db, st.ID, doc)
	if err != nil {
		return err
	}
	out, err := toRolloutPolicy(row)
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.RolloutPolicySet, ResourceType: audit.ResourceStack, ResourceID: ptr(st.ID),
		Details: map[string]any{"waves": len(p.Waves), "gate": p.Gate, "pause": p.Pause}})
	return reply(c, http.StatusOK, out)
}

func (s *Server) getRolloutPolicy(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	row, err := db.GetRolloutPolicy(c.Request().Context(), s.db, st.ID)
	if errors.Is(err, db.ErrNotFound) {
		return errRolloutPolicyNotFound
	}
	if err != nil {
		return err
	}
	out, err := toRolloutPolicy(row)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, out)
}

func (s *Server) deleteRolloutPolicy(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	err = db.DeleteRolloutPolicy(c.Request().Context(), s.db, st.ID)
	if errors.Is(err, db.ErrNotFound) {
		return errRolloutPolicyNotFound
	}
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.RolloutPolicyDeleted, ResourceType: audit.ResourceStack, ResourceID: ptr(st.ID)})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getRollout(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	r, err := s.rollouts.Latest(c.Request().Context(), st.ID)
	if errors.Is(err, rollouts.ErrNoRollout) {
		return errRolloutNotFound
	}
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, r)
}

func (s *Server) listRollouts(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	limit := defaultRolloutsLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRolloutsLimit {
			return badRequest("invalid_parameter", fmt.Sprintf("query parameter limit must be an integer from 1 to %d", maxRolloutsLimit)).
				with("parameter", "limit")
		}
		limit = n
	}
	out, err := s.rollouts.List(c.Request().Context(), st.ID, limit)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, out)
}

// rolloutActionAudits are the audit actions of the rollout actions.
var rolloutActionAudits = map[string]string{
	rollouts.ActionPromote: audit.RolloutPromoted,
	rollouts.ActionPause:   audit.RolloutPaused,
	rollouts.ActionResume:  audit.RolloutResumed,
	rollouts.ActionAbort:   audit.RolloutAborted,
}

func (s *Server) rolloutAction(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	action := c.Param("action")
	if _, ok := rolloutActionAudits[action]; !ok {
		return notFound("unknown_rollout_action", "the rollout action must be promote, pause, resume or abort").with("action", action)
	}
	r, from, err := s.rollouts.Act(c.Request().Context(), st.ID, action)
	switch {
	case errors.Is(err, rollouts.ErrNoRollout):
		return errRolloutNotFound
	case errors.Is(err, rollouts.ErrInvalidState):
		return apiError(http.StatusConflict, "invalid_rollout_state",
			fmt.Sprintf("%s does not apply to a %s rollout", action, from)).with("status", from)
	case err != nil:
		return err
	}
	s.audit(c, audit.Entry{Action: rolloutActionAudits[action], ResourceType: audit.ResourceRollout, ResourceID: ptr(r.ID),
		Details: map[string]any{"stack_id": st.ID, "deployment_object_id": r.DeploymentObjectID, "from": from, "to": r.Status}})
	return reply(c, http.StatusOK, r)
}
