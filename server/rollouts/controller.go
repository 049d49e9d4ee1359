package rollouts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/logx"
	"github.com/brokkr/brokkr/server/events"
)

// ErrNoRollout is returned when a stack has no rollout.
var ErrNoRollout = errors.New("the stack has no rollout")

// Options are the dependencies of New.
type Options struct {
	DB     *db.DB
	Bus    *events.Bus
	Logger *slog.Logger
	// Clock is the time every decision and stored timestamp of a rollout goes by.
	Clock func() time.Time
	// StackChanged tells the agents of a stack, inside the transaction of em, that their
	// target state changed (which agents a rollout serves, or its status).
	StackChanged func(ctx context.Context, q db.Queryer, em *events.Emitter, stackID uuid.UUID, agentIDs []uuid.UUID) error
}

// Controller steps the rollouts stored in the database.
type Controller struct {
	db           *db.DB
	bus          *events.Bus
	log          *slog.Logger
	clock        func() time.Time
	stackChanged func(ctx context.Context, q db.Queryer, em *events.Emitter, stackID uuid.UUID, agentIDs []uuid.UUID) error
	kicks        kicks
}

// New returns a controller.
func New(o Options) *Controller {
	c := &Controller{db: o.DB, bus: o.Bus, log: logx.OrDiscard(o.Logger), clock: o.Clock, stackChanged: o.StackChanged,
		kicks: kicks{last: map[uuid.UUID]time.Time{}, pending: map[uuid.UUID]bool{}}}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.stackChanged == nil {
		c.stackChanged = func(context.Context, db.Queryer, *events.Emitter, uuid.UUID, []uuid.UUID) error { return nil }
	}
	return c
}

// Start begins the rollout of a deployment object just created in transaction q, when its
// stack has a rollout policy: the stack's active rollouts of earlier objects are superseded,
// the rollout is stored with a snapshot of the policy, rollout.started is emitted and the
// first step taken. It reports whether a rollout was started.
func (c *Controller) Start(ctx context.Context, q db.Queryer, em *events.Emitter, obj db.DeploymentObject) (bool, error) {
	pol, err := db.LockRolloutPolicy(ctx, q, obj.StackID)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var policy client.RolloutPolicy
	if err := json.Unmarshal(pol.Policy, &policy); err != nil {
		return false, fmt.Errorf("rollout policy of stack %s: %w", obj.StackID, err)
	}
	now := c.clock()
	later, err := db.SupersedeRollouts(ctx, q, obj.StackID, obj.SequenceID, now)
	if err != nil {
		return false, err
	}
	prev, err := db.PreviousObjectID(ctx, q, obj.StackID, obj.SequenceID)
	if err != nil {
		return false, err
	}
	waves := make([]WaveState, len(policy.Waves)+1)
	waves[0].UnlockedAt = ptr(now)
	wavesJSON, err := json.Marshal(waves)
	if err != nil {
		return false, err
	}
	n := db.NewRollout{StackID: obj.StackID, DeploymentObjectID: obj.ID, PreviousObjectID: prev, Policy: pol.Policy,
		Status: client.RolloutProgressing, Waves: wavesJSON, CreatedAt: now}
	if later {
		// A later object of the stack already has its rollout (its transaction won the race).
		n.Status, n.FinishedAt = client.RolloutSuperseded, &now
	}
	row, err := db.CreateRollout(ctx, q, n)
	if err != nil {
		return false, err
	}
	in, err := c.input(ctx, q, row)
	if err != nil {
		return false, err
	}
	if err := c.emit(ctx, q, em, row, in, EventStarted); err != nil {
		return false, err
	}
	return true, c.apply(ctx, q, em, row, in, Plan(in))
}

// StepAll steps every rollout that may change without an operator, each in its own
// transaction; rollouts another replica is stepping are left to it.
func (c *Controller) StepAll(ctx context.Context) error {
	ids, err := db.SteppableRollouts(ctx, c.db)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := c.Step(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("rollout %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Kick steps the rollouts under way of the deployment objects after an agent reported on
// them: at once, unless this replica stepped the rollout after a report less than kickSpacing
// ago, in which case one step is made when that spacing has passed, for every report in
// between. Failures are logged; the periodic step retries them.
func (c *Controller) Kick(ctx context.Context, objectIDs []uuid.UUID) {
	ids, err := db.SteppableRolloutsOf(ctx, c.db, objectIDs)
	if err == nil {
		for _, id := range ids {
			if !c.kicks.admit(id, func() { c.kickStep(context.Background(), id) }) {
				continue
			}
			if err = c.Step(ctx, id); err != nil {
				break
			}
		}
	}
	if err != nil && ctx.Err() == nil {
		c.log.Warn("rollout step after an agent report failed", logx.Err(err))
	}
}

func (c *Controller) kickStep(ctx context.Context, id uuid.UUID) {
	if err := c.Step(ctx, id); err != nil {
		c.log.Warn("rollout step after agent reports failed", logx.Err(err))
	}
}

// Close stops the steps Kick deferred, waiting for one under way.
func (c *Controller) Close() { c.kicks.close() }

// Step takes one step of a rollout in a transaction of its own, unless another transaction
// holds it.
func (c *Controller) Step(ctx context.Context, id uuid.UUID) error {
	return c.bus.InTx(ctx, c.db, func(q db.Queryer, em *events.Emitter) error {
		row, err := db.LockRollout(ctx, q, id)
		if errors.Is(err, db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.Status != client.RolloutProgressing && row.Status != client.RolloutWaiting {
			return nil
		}
		in, err := c.input(ctx, q, row)
		if err != nil {
			return err
		}
		return c.apply(ctx, q, em, row, in, Plan(in))
	})
}

// Act applies an operator's action (promote, pause, resume, abort) to the stack's latest
// rollout and returns the rollout after it and its status before: ErrNoRollout without one,
// ErrInvalidState when the action does not apply to its status, ErrUnknownAction for another
// action.
func (c *Controller) Act(ctx context.Context, stackID uuid.UUID, action string) (out client.Rollout, from string, err error) {
	switch action {
	case ActionPromote, ActionPause, ActionResume, ActionAbort:
	default:
		return client.Rollout{}, "", ErrUnknownAction
	}
	err = c.bus.InTx(ctx, c.db, func(q db.Queryer, em *events.Emitter) error {
		row, err := db.LockLatestRollout(ctx, q, stackID)
		if errors.Is(err, db.ErrNotFound) {
			return ErrNoRollout
		}
		if err != nil {
			return err
		}
		from = row.Status
		in, err := c.input(ctx, q, row)
		if err != nil {
			return err
		}
		step, err := Act(in, action)
		if err != nil {
			return err
		}
		if err := c.apply(ctx, q, em, row, in, step); err != nil {
			return err
		}
		row, in = after(row, in, step)
		out = Wire(row, in, true)
		return nil
	})
	return out, from, err
}

// Latest returns the stack's latest rollout with its agents (ErrNoRollout without one).
func (c *Controller) Latest(ctx context.Context, stackID uuid.UUID) (client.Rollout, error) {
	row, err := db.LatestRollout(ctx, c.db, stackID)
	if errors.Is(err, db.ErrNotFound) {
		return client.Rollout{}, ErrNoRollout
	}
	if err != nil {
		return client.Rollout{}, err
	}
	in, err := c.input(ctx, c.db, row)
	if err != nil {
		return client.Rollout{}, err
	}
	return Wire(row, in, true), nil
}

// List returns up to limit rollouts of the stack, newest first, without their agents.
func (c *Controller) List(ctx context.Context, stackID uuid.UUID, limit int) ([]client.Rollout, error) {
	rows, err := db.ListRollouts(ctx, c.db, stackID, limit)
	if err != nil || len(rows) == 0 {
		return []client.Rollout{}, err
	}
	agents, err := db.StackAgents(ctx, c.db, stackID)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(rows))
	objects := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i], objects[i] = r.ID, r.DeploymentObjectID
	}
	released, err := db.RolloutAgents(ctx, c.db, ids)
	if err != nil {
		return nil, err
	}
	outcomes, err := db.AgentOutcomes(ctx, c.db, objects)
	if err != nil {
		return nil, err
	}
	out := make([]client.Rollout, len(rows))
	for i, r := range rows {
		in, err := c.assemble(r, agents, released, outcomes)
		if err != nil {
			return nil, err
		}
		out[i] = Wire(r, in, false)
	}
	return out, nil
}

// input reads what a step of the rollout goes by.
func (c *Controller) input(ctx context.Context, q db.Queryer, row db.Rollout) (Input, error) {
	agents, err := db.StackAgents(ctx, q, row.StackID)
	if err != nil {
		return Input{}, err
	}
	released, err := db.RolloutAgents(ctx, q, []uuid.UUID{row.ID})
	if err != nil {
		return Input{}, err
	}
	outcomes, err := db.AgentOutcomes(ctx, q, []uuid.UUID{row.DeploymentObjectID})
	if err != nil {
		return Input{}, err
	}
	return c.assemble(row, agents, released, outcomes)
}

// assemble builds the input of one rollout out of rows read for one or several rollouts of
// its stack.
func (c *Controller) assemble(row db.Rollout, agents []db.StackAgent, released []db.RolloutAgent, outcomes []db.AgentOutcome) (Input, error) {
	in := Input{Released: map[uuid.UUID]Release{}, Outcomes: map[uuid.UUID]Outcome{}, Now: c.clock()}
	if err := json.Unmarshal(row.Policy, &in.Policy); err != nil {
		return Input{}, fmt.Errorf("rollout %s policy: %w", row.ID, err)
	}
	var err error
	if in.State, err = stateOf(row); err != nil {
		return Input{}, err
	}
	in.Agents = make([]Agent, len(agents))
	for i, a := range agents {
		in.Agents[i] = Agent{ID: a.ID, Name: a.Name, Labels: a.Labels, Annotations: a.Annotations}
	}
	for _, r := range released {
		if r.RolloutID == row.ID {
			in.Released[r.AgentID] = Release{Wave: r.Wave, At: r.ReleasedAt}
		}
	}
	for _, o := range outcomes {
		if o.DeploymentObjectID == row.DeploymentObjectID {
			in.Outcomes[o.AgentID] = Outcome{Deploy: o.Deploy, Message: o.Message, Health: o.Health}
		}
	}
	return in, nil
}

// stateOf decodes the state of a stored rollout.
func stateOf(row db.Rollout) (State, error) {
	st := State{Status: row.Status, CurrentWave: row.CurrentWave, NextWaveAt: row.NextWaveAt,
		FailuresAccepted: row.FailuresAccepted, FinishedAt: row.FinishedAt}
	if row.Reason != nil {
		st.Reason = *row.Reason
	}
	if err := json.Unmarshal(row.Waves, &st.Waves); err != nil {
		return State{}, fmt.Errorf("rollout %s waves: %w", row.ID, err)
	}
	return st, nil
}

// after returns the rollout and its input once the step is applied.
func after(row db.Rollout, in Input, step Step) (db.Rollout, Input) {
	st := step.State
	row.Status, row.CurrentWave, row.NextWaveAt = st.Status, st.CurrentWave, st.NextWaveAt
	row.FailuresAccepted, row.FinishedAt, row.Reason = st.FailuresAccepted, st.FinishedAt, nil
	if st.Reason != "" {
		row.Reason = &st.Reason
	}
	row.Waves, _ = json.Marshal(st.Waves)
	next := in
	next.State = st
	if len(step.Release) > 0 {
		next.Released = make(map[uuid.UUID]Release, len(in.Released)+len(step.Release))
		for id, r := range in.Released {
			next.Released[id] = r
		}
		for _, id := range step.Release {
			next.Released[id] = Release{Wave: step.Waves[id], At: in.Now}
		}
	}
	return row, next
}

// apply stores a step, emits its events and tells the stack's agents when what they are
// served may have changed.
func (c *Controller) apply(ctx context.Context, q db.Queryer, em *events.Emitter, row db.Rollout, in Input, step Step) error {
	if !step.Changed(in.State) {
		return nil
	}
	if len(step.Release) > 0 {
		rel := make([]db.AgentRelease, len(step.Release))
		for i, id := range step.Release {
			rel[i] = db.AgentRelease{AgentID: id, Wave: step.Waves[id]}
		}
		if err := db.ReleaseAgents(ctx, q, row.ID, row.StackID, rel, in.Now); err != nil {
			return err
		}
	}
	row, next := after(row, in, step)
	if !step.State.equal(in.State) {
		if err := db.UpdateRollout(ctx, q, row); err != nil {
			return err
		}
	}
	if err := c.emit(ctx, q, em, row, next, step.Events...); err != nil {
		return err
	}
	if len(step.Release) > 0 || step.State.Status != in.State.Status {
		ids := make([]uuid.UUID, len(in.Agents))
		for i, a := range in.Agents {
			ids[i] = a.ID
		}
		return c.stackChanged(ctx, q, em, row.StackID, ids)
	}
	return nil
}

// emit emits webhook events whose data is the rollout without its agents.
func (c *Controller) emit(ctx context.Context, q db.Queryer, em *events.Emitter, row db.Rollout, in Input, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	b, err := json.Marshal(Wire(row, in, false))
	if err != nil {
		return err
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return err
	}
	for _, ev := range evs {
		if err := em.Emit(ctx, q, string(ev), data); err != nil {
			return err
		}
		c.log.Info("rollout "+string(ev)[len("rollout."):], logx.StackID(row.StackID),
			logx.DeploymentObjectID(row.DeploymentObjectID), slog.String("status", row.Status))
	}
	return nil
}

// Wire is the rollout as the API answers it; without agents, Agents is empty.
func Wire(row db.Rollout, in Input, withAgents bool) client.Rollout {
	p := View(in)
	policy := Normalize(in.Policy)
	policy.StackID, policy.CreatedAt, policy.UpdatedAt = row.StackID, time.Time{}, time.Time{}
	out := client.Rollout{
		ID: row.ID, StackID: row.StackID, DeploymentObjectID: row.DeploymentObjectID, PreviousObjectID: row.PreviousObjectID,
		Status: row.Status, CurrentWave: row.CurrentWave, NextWaveAt: utcp(row.NextWaveAt),
		Failures: p.Failures, FailureLimit: p.FailureLimit, Policy: policy, Waves: p.Waves, Agents: []client.RolloutAgent{},
		CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC(), FinishedAt: utcp(row.FinishedAt),
	}
	if row.Reason != nil {
		out.Reason = *row.Reason
	}
	if withAgents {
		out.Agents = p.Agents
	}
	return out
}
