package rollouts

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Rollout actions, as the broker names them.
const (
	ActionPromote = "promote"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionAbort   = "abort"
)

// RolloutLoadedMsg carries a stack's latest rollout, for the rollout view that asked.
type RolloutLoadedMsg struct {
	// Session is the opening of the rollout view; Tag the load it waits for.
	Session, Tag uint64
	// Rollout is nil when the stack has none.
	Rollout *client.Rollout
	Err     error
}

// ActionDoneMsg is the broker's answer to an action on a stack's rollout.
type ActionDoneMsg struct {
	Session uint64
	Action  string
	// Rollout is the rollout after the action (when Err is nil).
	Rollout client.Rollout
	Err     error
}

// Probe is what one look at a stack's latest rollout found.
type Probe struct {
	// Rollout is nil when the stack has none; its agents are dropped.
	Rollout *client.Rollout
	Err     error
	At      time.Time
}

// ListLoadedMsg carries the stacks and the rollouts looked up in this round.
type ListLoadedMsg struct {
	Tag    uint64
	Stacks []client.Stack
	// Probes holds the stacks whose rollout was looked up in this round.
	Probes map[uuid.UUID]Probe
	Err    error
}

type detailTickMsg struct{ session, tag uint64 }
type listTickMsg struct{ tag uint64 }

// tags numbers loads and sessions, so an answer matches only the request it answers.
var tags atomic.Uint64

func nextTag() uint64 { return tags.Add(1) }

// probeBudget bounds the rollout look-ups of one refresh of the list: the stacks with an
// active rollout first, then those looked at longest ago, so a large fleet is covered over
// a few refreshes.
const probeBudget = 20

// parallel is how many requests a command runs at once.
const parallel = 4

// Latest looks up a stack's latest rollout: nil when it has none.
func Latest(ctx context.Context, c *client.Client, stackID uuid.UUID) (*client.Rollout, error) {
	r, err := c.Stacks().Rollout(ctx, stackID)
	switch {
	case client.HasCode(err, "rollout_not_found"):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("stack rollout: %w", err)
	}
	return &r, nil
}

// fetchRollout is Latest within one request's time.
func fetchRollout(env ui.Env, stackID uuid.UUID) (*client.Rollout, error) {
	ctx, cancel := env.Timeout()
	defer cancel()
	return Latest(ctx, env.Client, stackID)
}

// loadRollout fetches the stack's latest rollout for the rollout view of session.
func loadRollout(env ui.Env, session, tag uint64, stackID uuid.UUID) tea.Cmd {
	return func() tea.Msg {
		msg := RolloutLoadedMsg{Session: session, Tag: tag}
		if env.Client == nil {
			msg.Err = ui.ErrNoClient
			return ui.WithStatus(msg, env.Now(), ui.ErrNoClient)
		}
		msg.Rollout, msg.Err = fetchRollout(env, stackID)
		return ui.WithStatus(msg, env.Now(), ui.Unusable(msg.Err))
	}
}

// act runs an action on the stack's latest rollout.
func act(env ui.Env, session uint64, stackID uuid.UUID, action string) tea.Cmd {
	return func() tea.Msg {
		msg := ActionDoneMsg{Session: session, Action: action}
		if env.Client == nil {
			msg.Err = ui.ErrNoClient
			return ui.WithStatus(msg, env.Now(), ui.ErrNoClient)
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		msg.Rollout, msg.Err = env.Client.Stacks().RolloutAction(ctx, stackID, action)
		return ui.WithStatus(msg, env.Now(), ui.Unusable(msg.Err))
	}
}

// seen is what the list knows of a stack when it picks the stacks to look at.
type seen struct {
	active bool
	at     time.Time
}

// loadList lists the stacks and looks up the latest rollout of up to probeBudget of them,
// picked from what the list knows (known is the list's own copy).
func loadList(env ui.Env, tag uint64, known map[uuid.UUID]seen) tea.Cmd {
	return func() tea.Msg {
		if env.Client == nil {
			return ui.WithStatus(ListLoadedMsg{Tag: tag, Err: ui.ErrNoClient}, env.Now(), ui.ErrNoClient)
		}
		ctx, cancel := env.Timeout()
		sts, err := env.Client.Stacks().List(ctx, nil)
		cancel()
		if err != nil {
			err = fmt.Errorf("list stacks: %w", err)
			return ui.WithStatus(ListLoadedMsg{Tag: tag, Err: err}, env.Now(), err)
		}
		pick := pickProbes(sts, known, probeBudget)
		probes := make([]Probe, len(pick))
		ui.ForEach(len(pick), parallel, func(i int) {
			r, err := fetchRollout(env, pick[i])
			if r != nil {
				r.Agents = nil
			}
			probes[i] = Probe{Rollout: r, Err: err, At: env.Now()}
		})
		msg := ListLoadedMsg{Tag: tag, Stacks: sts, Probes: make(map[uuid.UUID]Probe, len(pick))}
		var reach error
		for i, id := range pick {
			msg.Probes[id] = probes[i]
			if reach == nil {
				reach = ui.Unusable(probes[i].Err)
			}
		}
		return ui.WithStatus(msg, env.Now(), reach)
	}
}

// pickProbes picks up to n stacks to look at: those with an active rollout, then those never
// looked at, then those looked at longest ago.
func pickProbes(sts []client.Stack, known map[uuid.UUID]seen, n int) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(sts))
	for _, st := range sts {
		ids = append(ids, st.ID)
	}
	sort.SliceStable(ids, func(i, j int) bool {
		a, aok := known[ids[i]]
		b, bok := known[ids[j]]
		switch {
		case a.active != b.active:
			return a.active
		case aok != bok:
			return !aok
		}
		return a.at.Before(b.at)
	})
	return ids[:min(n, len(ids))]
}
