package stacks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/rollouts"
)

// StacksLoadedMsg carries the stack list and the names of their generators.
type StacksLoadedMsg struct {
	// Tag matches the load the view is waiting for; older answers are dropped.
	Tag    uint64
	Stacks []client.Stack
	// Generators names generators by id; nil when they could not be listed (the ids are
	// shown instead).
	Generators map[uuid.UUID]string
	Err        error
}

// StackExtras are the details of one list row that cost a request each, so they are
// fetched only for the rows on screen.
type StackExtras struct {
	Labels []string
	// Objects counts the stack's live deployment objects; -1 when unknown.
	Objects int
	// Health is the stack's health roll-up ("" when unknown).
	Health string
	// Drifted counts the agents reporting drift of the stack; Waiting those waiting for the
	// stacks it depends on; -1 when unknown.
	Drifted, Waiting int
	// Rollout is the stack's latest rollout, without its agents (nil: none, or unknown);
	// Holds sums up the agents its objects are held back from (nil when unknown).
	Rollout *client.Rollout
	Holds   *rollouts.HoldSummary
	Err     error
}

// ExtrasLoadedMsg carries row details.
type ExtrasLoadedMsg struct {
	Extras map[uuid.UUID]StackExtras
}

// AgentStatus is how one agent serving the stack applied it.
type AgentStatus struct {
	AgentID   uuid.UUID
	Name      string
	Cluster   string
	Status    string // the agent's status (ACTIVE, INACTIVE)
	Connected bool   // holds a WebSocket to the broker
	// Associated reports that the stack is among the agent's stacks (by target, label or
	// annotation); Checked is false when that was not looked up (too many agents).
	Associated, Checked bool
	// Latest is the agent's newest DEPLOY event about one of the stack's objects; nil when none.
	Latest *client.AgentEvent
	// LatestSeq is the sequence id of Latest's object.
	LatestSeq int64
}

// DetailLoadedMsg carries what the stack detail polls: objects, health and, when asked
// for, the per-agent apply status.
type DetailLoadedMsg struct {
	// Tag matches the detail load the view is waiting for.
	Tag        uint64
	Objects    []client.DeploymentObject
	ObjectsErr error
	Health     *client.StackHealthResponse
	HealthErr  error
	// AgentsLoaded says Agents, AgentsErr and the counts below are set.
	AgentsLoaded bool
	Agents       []AgentStatus
	AgentsErr    error
	// Registered counts the agents registered with the stack's generator; Checked how many
	// of them were asked for their stacks.
	Registered, Checked int
	// Drift is the stack's current drift per agent; Deps what it depends on and who waits
	// (nil when unknown).
	Drift    []client.StackDrift
	DriftErr error
	Deps     *client.StackDependencies
	DepsErr  error
}

// TelemetryLoadedMsg carries the stored events and log lines of the open stack.
type TelemetryLoadedMsg struct {
	// Session is the detail session that asked.
	Session   uint64
	Events    []client.AgentK8sEvent
	EventsErr error
	Logs      []client.AgentPodLog
	LogsErr   error
}

// LiveOpenedMsg reports that the live channel of the open stack is open (or why not).
type LiveOpenedMsg struct {
	Session uint64
	Err     error
	sub     *client.Subscription
}

// Release closes a channel no view reads.
func (m LiveOpenedMsg) Release() { ui.CloseLive(m.sub) }

// LiveFrameMsg is one frame of the open stack's live channel, or the error that ended it.
type LiveFrameMsg struct {
	Session uint64
	Frame   client.WSMessage
	Err     error
	sub     *client.Subscription
}

// Release closes the channel of a frame no view reads any more.
func (m LiveFrameMsg) Release() { ui.CloseLive(m.sub) }

type listTickMsg struct{ tag uint64 }
type detailTickMsg struct{ tag uint64 }
type liveRetryMsg struct{ session uint64 }

// tags numbers loads and detail sessions, so an answer matches only the request it answers.
var tags atomic.Uint64

func nextTag() uint64 { return tags.Add(1) }

// maxAgentChecks bounds the per-agent requests of the agents pane.
const maxAgentChecks = 50

// parallel is how many requests a command runs at once.
const parallel = 4

// reachErr picks the error to report in the status line: refusals of single optional
// requests (403 for a non-admin key) do not mean the broker is unreachable.
func reachErr(errs ...error) error {
	for _, err := range errs {
		if err != nil && !client.IsForbidden(err) {
			return err
		}
	}
	return nil
}

// forEach runs fn over n items, parallel at a time.
func forEach(n int, fn func(i int)) { ui.ForEach(n, parallel, fn) }

// loadStacks lists the stacks and names their generators.
func loadStacks(env ui.Env, tag uint64) tea.Cmd {
	return func() tea.Msg {
		if env.Client == nil {
			return ui.WithStatus(StacksLoadedMsg{Tag: tag, Err: ui.ErrNoClient}, env.Now(), ui.ErrNoClient)
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		sts, err := env.Client.Stacks().List(ctx, nil)
		if err != nil {
			err = fmt.Errorf("list stacks: %w", err)
			return ui.WithStatus(StacksLoadedMsg{Tag: tag, Err: err}, env.Now(), err)
		}
		msg := StacksLoadedMsg{Tag: tag, Stacks: sts}
		// Generator names are an admin's nicety; other keys see the ids.
		if gens, gerr := env.Client.Generators().List(ctx); gerr == nil {
			msg.Generators = make(map[uuid.UUID]string, len(gens))
			for _, g := range gens {
				msg.Generators[g.ID] = g.Name
			}
		}
		return ui.WithStatus(msg, env.Now(), nil)
	}
}

// loadExtras fetches labels, object count and health of the given stacks.
func loadExtras(env ui.Env, ids []uuid.UUID) tea.Cmd {
	return func() tea.Msg {
		out := make(map[uuid.UUID]StackExtras, len(ids))
		if env.Client == nil {
			for _, id := range ids {
				out[id] = StackExtras{Objects: -1, Err: ui.ErrNoClient}
			}
			return ui.WithStatus(ExtrasLoadedMsg{Extras: out}, env.Now(), ui.ErrNoClient)
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		res := make([]StackExtras, len(ids))
		errs := make([]error, len(ids))
		forEach(len(ids), func(i int) {
			ex := StackExtras{Objects: -1, Drifted: -1, Waiting: -1}
			labels, lerr := env.Client.Stacks().Labels(ctx, ids[i])
			for _, l := range labels {
				ex.Labels = append(ex.Labels, l.Label)
			}
			sort.Strings(ex.Labels)
			objs, oerr := env.Client.Stacks().DeploymentObjects(ctx, ids[i])
			if oerr == nil {
				ex.Objects = len(objs)
			}
			h, herr := env.Client.Stacks().Health(ctx, ids[i])
			if herr == nil {
				ex.Health = h.OverallStatus
			}
			drift, derr := env.Client.Stacks().Drift(ctx, ids[i])
			if derr == nil {
				ex.Drifted = len(drift)
			}
			deps, perr := env.Client.Stacks().Dependencies(ctx, ids[i])
			if perr == nil {
				ex.Waiting = len(deps.Waiting)
			}
			var rerr, hoerr error
			ex.Rollout, ex.Holds, rerr, hoerr = loadRollout(ctx, env.Client, ids[i])
			ex.Err = errors.Join(lerr, oerr, herr, derr, perr, rerr, hoerr)
			res[i], errs[i] = ex, reachErr(lerr, oerr, herr, optional(derr), optional(perr), optional(rerr), optional(hoerr))
		})
		for i, id := range ids {
			out[id] = res[i]
		}
		return ui.WithStatus(ExtrasLoadedMsg{Extras: out}, env.Now(), reachErr(errs...))
	}
}

// loadDetail fetches the open stack's objects and health, and its agents when asked.
func loadDetail(env ui.Env, tag uint64, st client.Stack, withAgents bool) tea.Cmd {
	return func() tea.Msg {
		msg := DetailLoadedMsg{Tag: tag}
		if env.Client == nil {
			msg.ObjectsErr, msg.HealthErr = ui.ErrNoClient, ui.ErrNoClient
			return ui.WithStatus(msg, env.Now(), ui.ErrNoClient)
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		msg.Objects, msg.ObjectsErr = env.Client.Stacks().DeploymentObjects(ctx, st.ID)
		if msg.ObjectsErr != nil {
			msg.ObjectsErr = fmt.Errorf("list deployment objects: %w", msg.ObjectsErr)
		}
		if h, err := env.Client.Stacks().Health(ctx, st.ID); err != nil {
			msg.HealthErr = fmt.Errorf("stack health: %w", err)
		} else {
			msg.Health = &h
		}
		msg.Drift, msg.DriftErr, msg.Deps, msg.DepsErr = loadDrift(ctx, env.Client, st.ID)
		if withAgents {
			msg.AgentsLoaded = true
			if msg.ObjectsErr != nil {
				msg.AgentsErr = msg.ObjectsErr
			} else {
				msg.Agents, msg.Registered, msg.Checked, msg.AgentsErr = loadAgents(ctx, env.Client, st, msg.Objects)
			}
		}
		return ui.WithStatus(msg, env.Now(), reachErr(msg.ObjectsErr, msg.HealthErr, msg.AgentsErr, optional(msg.DriftErr), optional(msg.DepsErr)))
	}
}

// loadAgents finds the agents serving the stack and their newest event about its objects.
// The candidates are the agents registered with the stack's generator (only those can be
// targeted at it); each is asked for its stacks, up to maxAgentChecks of them, so the cost
// is bounded by 2 + maxAgentChecks requests.
func loadAgents(ctx context.Context, c *client.Client, st client.Stack, objects []client.DeploymentObject) ([]AgentStatus, int, int, error) {
	gen := st.GeneratorID
	recs, err := c.Fleet().List(ctx, &gen)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list agents of the stack's generator: %w", err)
	}
	evs, err := c.AgentEvents().List(ctx, &gen)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list agent events: %w", err)
	}
	seq := make(map[uuid.UUID]int64, len(objects))
	for _, o := range objects {
		seq[o.ID] = o.SequenceID
	}
	latest := map[uuid.UUID]client.AgentEvent{}
	for _, ev := range evs {
		if _, ok := seq[ev.DeploymentObjectID]; !ok || !isDeploy(ev) {
			continue
		}
		if cur, ok := latest[ev.AgentID]; !ok || ev.CreatedAt.After(cur.CreatedAt) ||
			(ev.CreatedAt.Equal(cur.CreatedAt) && seq[ev.DeploymentObjectID] > seq[cur.DeploymentObjectID]) {
			latest[ev.AgentID] = ev
		}
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Name != recs[j].Name {
			return strings.ToLower(recs[i].Name) < strings.ToLower(recs[j].Name)
		}
		return recs[i].AgentID.String() < recs[j].AgentID.String()
	})
	checked := min(len(recs), maxAgentChecks)
	assoc := make([]bool, checked)
	errs := make([]error, checked)
	forEach(checked, func(i int) {
		sts, err := c.Agents().Stacks(ctx, recs[i].AgentID)
		if err != nil {
			errs[i] = fmt.Errorf("stacks of agent %s: %w", recs[i].Name, err)
			return
		}
		assoc[i] = slices.ContainsFunc(sts, func(s client.Stack) bool { return s.ID == st.ID })
	})
	if err := errors.Join(errs...); err != nil {
		return nil, len(recs), checked, err
	}
	var out []AgentStatus
	for i, r := range recs {
		a := AgentStatus{AgentID: r.AgentID, Name: r.Name, Cluster: r.ClusterName, Status: r.Status, Connected: r.WSConnected}
		if i < checked {
			a.Checked, a.Associated = true, assoc[i]
		}
		if ev, ok := latest[r.AgentID]; ok {
			a.Latest, a.LatestSeq = &ev, seq[ev.DeploymentObjectID]
		}
		if a.Associated || a.Latest != nil {
			out = append(out, a)
		}
	}
	return out, len(recs), checked, nil
}

// loadTelemetry fetches the stored events and log lines of the stack.
func loadTelemetry(env ui.Env, session uint64, stackID uuid.UUID) tea.Cmd {
	return func() tea.Msg {
		msg := TelemetryLoadedMsg{Session: session}
		if env.Client == nil {
			msg.EventsErr, msg.LogsErr = ui.ErrNoClient, ui.ErrNoClient
			return ui.WithStatus(msg, env.Now(), ui.ErrNoClient)
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		opts := &client.TelemetryOptions{Limit: keepLines}
		if h, err := env.Client.Stacks().Events(ctx, stackID, opts); err != nil {
			msg.EventsErr = fmt.Errorf("stack events: %w", err)
		} else {
			msg.Events = h.Events
		}
		if h, err := env.Client.Stacks().Logs(ctx, stackID, opts); err != nil {
			msg.LogsErr = fmt.Errorf("stack logs: %w", err)
		} else {
			msg.Logs = h.Lines
		}
		return ui.WithStatus(msg, env.Now(), reachErr(msg.EventsErr, msg.LogsErr))
	}
}

// openLive subscribes to the stack's live channel; ctx is the detail session's context,
// whose end closes the subscription.
func openLive(env ui.Env, ctx context.Context, session uint64, stackID uuid.UUID) tea.Cmd {
	c := env.Client
	return func() tea.Msg {
		if c == nil {
			return LiveOpenedMsg{Session: session, Err: ui.ErrNoClient}
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		sub, err := c.Live().Stack(dctx, stackID)
		if err != nil {
			err = fmt.Errorf("open live channel: %w", err)
		}
		reach := err
		if ctx.Err() != nil {
			reach = nil // the stack was closed while dialling: nothing to say about the broker
		}
		return ui.WithStatus(LiveOpenedMsg{Session: session, Err: err, sub: sub}, env.Now(), reach)
	}
}

// nextFrame waits for the subscription's next frame.
func nextFrame(ctx context.Context, sub *client.Subscription, session uint64) tea.Cmd {
	return func() tea.Msg {
		m, err := sub.Next(ctx)
		return LiveFrameMsg{Session: session, Frame: m, Err: err, sub: sub}
	}
}
