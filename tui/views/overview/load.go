package overview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Polling budget.
const (
	// probeBudget is how many stacks have their health read per refresh.
	probeBudget = 8
	// probeKeep is how many of those re-check stacks already known to be unhealthy; the
	// rest continue the rotation through all stacks.
	probeKeep = 4
	// probeParallel bounds the concurrent health requests.
	probeParallel = 4
	// fleetResyncEvery: while live updates flow, the whole fleet is listed again every
	// this many refreshes (to see agents created or deleted, which push no frame).
	fleetResyncEvery = 6
	// eventsResyncEvery and stacksResyncEvery: the events and the stack list are read
	// again at least every this many refreshes.
	eventsResyncEvery = 12
	stacksResyncEvery = 12
	// keepEvents and keepOldest bound what the view holds of the event and work order
	// lists.
	keepEvents = 50
	keepOldest = 20
)

// LoadedMsg carries one refresh of the overview. A nil section was not fetched this time
// (its last data stays); a section with Err failed (its last data stays too).
type LoadedMsg struct {
	// Gen names the request the answer belongs to.
	Gen    uint64
	At     time.Time
	Fleet  *FleetResult
	Health *HealthResult
	Work   *WorkResult
	Events *EventsResult
}

// Err returns the first error of the refresh.
func (m LoadedMsg) Err() error {
	switch {
	case m.Fleet != nil && m.Fleet.Err != nil:
		return m.Fleet.Err
	case m.Health != nil && m.Health.Err != nil:
		return m.Health.Err
	case m.Work != nil && m.Work.Err != nil:
		return m.Work.Err
	case m.Events != nil && m.Events.Err != nil:
		return m.Events.Err
	}
	return nil
}

// FleetResult is the fleet record of every live agent.
type FleetResult struct {
	Records []client.FleetAgentRecord
	Err     error
}

// HealthResult is one round of stack health probes.
type HealthResult struct {
	// Stacks is the stack list when it was read again this round, nil otherwise.
	Stacks []client.Stack
	// Probed holds the stacks whose health was read.
	Probed []StackHealth
	// Next is where the rotation through the stack list continues; Walked is how many
	// stacks of the rotation this round covered.
	Next, Walked int
	// Queue holds the stacks still to be probed before the rotation: those associated with
	// an agent that reports unhealthy objects, not probed yet.
	Queue []uuid.UUID
	// Skipped means no agent holds a failing or degraded health row, so no stack was
	// probed and none is unhealthy.
	Skipped bool
	Err     error
}

// StackHealth is the health of one stack's deployment objects.
type StackHealth struct {
	StackID uuid.UUID
	// Status is the worst object status: failing, degraded, healthy or unknown.
	Status string
	// Failing and Degraded count the stack's objects in that state.
	Failing, Degraded int
}

// WorkResult is the state of the work order queue.
type WorkResult struct {
	Pending, Claimed int
	// Oldest holds the oldest pending orders, oldest first (without their YAML).
	Oldest []client.WorkOrder
	Err    error
}

// EventsResult holds the newest agent events, newest first.
type EventsResult struct {
	Events []client.AgentEvent
	Err    error
}

// plan says what a refresh fetches; it is built in Update from the view's state, so the
// command never reads the view.
type plan struct {
	fleet, events, stackList bool
	// unhealthy is the view's knowledge before the refresh; a fetched fleet replaces it.
	unhealthy bool
	stacks    []client.Stack
	bad       []uuid.UUID
	queue     []uuid.UUID
	cursor    int
	// suspect is an agent reporting unhealthy objects whose stacks go to the queue (nil
	// when the queue is not empty or no agent reports any).
	suspect uuid.UUID
}

// loadCmd runs one refresh and reports it with a StatusMsg.
func loadCmd(env *ui.Env, cl *client.Client, gen uint64, p plan) tea.Cmd {
	return func() tea.Msg {
		msg := fetch(env, cl, p)
		msg.Gen, msg.At = gen, env.Now()
		return ui.WithStatus(msg, msg.At, msg.Err())
	}
}

// fetch performs the requests of a refresh: the fleet, the work order queue and the events
// concurrently, then, when some agent reports failing or degraded health, a bounded round
// of stack health probes.
func fetch(env *ui.Env, cl *client.Client, p plan) LoadedMsg {
	var msg LoadedMsg
	var wg sync.WaitGroup
	call := func(f func(ctx context.Context)) {
		wg.Go(func() {
			ctx, cancel := env.Timeout()
			defer cancel()
			f(ctx)
		})
	}
	if p.fleet {
		msg.Fleet = &FleetResult{}
		call(func(ctx context.Context) {
			recs, err := cl.Fleet().List(ctx, nil)
			if err != nil {
				err = fmt.Errorf("list fleet: %w", err)
			}
			msg.Fleet.Records, msg.Fleet.Err = recs, err
		})
	}
	var pending, claimed []client.WorkOrder
	var pendingErr, claimedErr error
	call(func(ctx context.Context) {
		pending, pendingErr = cl.WorkOrders().List(ctx, &client.WorkOrderListOptions{Status: client.WorkOrderPending})
	})
	call(func(ctx context.Context) {
		claimed, claimedErr = cl.WorkOrders().List(ctx, &client.WorkOrderListOptions{Status: client.WorkOrderClaimed})
	})
	if p.events {
		msg.Events = &EventsResult{}
		call(func(ctx context.Context) {
			evs, err := cl.AgentEvents().List(ctx, nil)
			if err != nil {
				msg.Events.Err = fmt.Errorf("list agent events: %w", err)
				return
			}
			msg.Events.Events = newestEvents(evs, keepEvents)
		})
	}
	wg.Wait()
	msg.Work = workResult(pending, claimed, errors.Join(pendingErr, claimedErr))

	unhealthy := p.unhealthy
	if msg.Fleet != nil && msg.Fleet.Err == nil {
		var n counts
		var worst *client.FleetAgentRecord
		for i := range msg.Fleet.Records {
			r := &msg.Fleet.Records[i]
			n.add(r, 1)
			if isBad(r) && (worst == nil || worseBefore(r, worst) < 0) {
				worst = r
			}
		}
		unhealthy = n.unhealthy()
		if p.suspect == uuid.Nil && len(p.queue) == 0 && worst != nil {
			p.suspect = worst.AgentID // the view did not know of any yet
		}
	}
	msg.Health = probe(env, cl, p, unhealthy)
	return msg
}

func workResult(pending, claimed []client.WorkOrder, err error) *WorkResult {
	if err != nil {
		return &WorkResult{Err: fmt.Errorf("list work orders: %w", err)}
	}
	// The broker lists newest first; sort anyway, the order is what the panel shows.
	slices.SortStableFunc(pending, func(a, b client.WorkOrder) int { return a.CreatedAt.Compare(b.CreatedAt) })
	oldest := slices.Clone(pending[:min(len(pending), keepOldest)])
	for i := range oldest {
		oldest[i].YAMLContent = ""
	}
	return &WorkResult{Pending: len(pending), Claimed: len(claimed), Oldest: oldest}
}

// newestEvents returns the n newest events, newest first.
func newestEvents(evs []client.AgentEvent, n int) []client.AgentEvent {
	slices.SortStableFunc(evs, func(a, b client.AgentEvent) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return slices.Clone(evs[:min(len(evs), n)])
}

// probe reads the health of at most probeBudget stacks: first up to probeKeep of those
// known to be unhealthy, then the queue — the stacks of agents that report unhealthy
// objects — and then the next ones of the rotation through all stacks. Nothing is read
// when no agent holds a failing or degraded health row.
func probe(env *ui.Env, cl *client.Client, p plan, unhealthy bool) *HealthResult {
	res := &HealthResult{Next: p.cursor, Queue: p.queue}
	if p.cursor < 0 {
		res.Next = 0
	}
	if !unhealthy {
		res.Skipped, res.Queue = true, nil
		return res
	}
	stacks := p.stacks
	if p.stackList || stacks == nil {
		ctx, cancel := env.Timeout()
		list, err := cl.Stacks().List(ctx, nil)
		cancel()
		if err != nil {
			res.Err = fmt.Errorf("list stacks: %w", err)
			return res
		}
		if list == nil {
			list = []client.Stack{}
		}
		stacks, res.Stacks = list, list
	}
	queue := p.queue
	if p.suspect != uuid.Nil {
		ctx, cancel := env.Timeout()
		assoc, err := cl.Agents().Stacks(ctx, p.suspect)
		cancel()
		if err != nil {
			res.Err = fmt.Errorf("stacks of agent %s: %w", p.suspect, err)
		}
		queue = slices.Clone(queue)
		for _, st := range assoc {
			if !slices.Contains(queue, st.ID) {
				queue = append(queue, st.ID)
			}
		}
	}
	ids, rest, walked := pick(stacks, p.bad, queue, p.cursor, probeBudget, probeKeep)
	res.Queue, res.Walked = rest, walked
	if len(stacks) > 0 {
		res.Next = (p.cursor%len(stacks) + walked) % len(stacks)
	}
	out := make([]*StackHealth, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := env.Timeout()
			defer cancel()
			h, err := cl.Stacks().Health(ctx, id)
			if err != nil {
				errs[i] = fmt.Errorf("stack %s health: %w", id, err)
				return
			}
			out[i] = stackHealth(h)
		})
	}
	wg.Wait()
	for i, h := range out {
		if h != nil {
			res.Probed = append(res.Probed, *h)
			continue
		}
		if res.Err == nil {
			res.Err = errs[i]
		}
		if slices.Contains(queue, ids[i]) {
			res.Queue = append(res.Queue, ids[i]) // try again next time
		}
	}
	return res
}

func stackHealth(h client.StackHealthResponse) *StackHealth {
	sh := &StackHealth{StackID: h.StackID, Status: h.OverallStatus}
	for _, o := range h.DeploymentObjects {
		switch o.Status {
		case client.HealthFailing:
			sh.Failing++
		case client.HealthDegraded:
			sh.Degraded++
		}
	}
	return sh
}

// pick chooses the stacks to probe: up to keep of the known unhealthy ones, then the
// queue, then stacks from the rotation position cursor on, skipping those already chosen,
// up to budget in all. It returns them, what is left of the queue and how many positions of
// the rotation it went through.
func pick(stacks []client.Stack, bad, queue []uuid.UUID, cursor, budget, keep int) (ids, rest []uuid.UUID, walked int) {
	ids = make([]uuid.UUID, 0, budget)
	chosen := make(map[uuid.UUID]bool, budget)
	for _, id := range bad[:min(len(bad), keep, budget)] {
		ids = append(ids, id)
		chosen[id] = true
	}
	for _, id := range queue {
		switch {
		case chosen[id]:
		case len(ids) < budget:
			ids = append(ids, id)
			chosen[id] = true
		default:
			rest = append(rest, id)
		}
	}
	n := len(stacks)
	if n == 0 {
		return ids, rest, 0
	}
	cursor = ((cursor % n) + n) % n
	for ; walked < n && len(ids) < budget; walked++ {
		id := stacks[(cursor+walked)%n].ID
		if !chosen[id] {
			ids = append(ids, id)
			chosen[id] = true
		}
	}
	return ids, rest, walked
}
