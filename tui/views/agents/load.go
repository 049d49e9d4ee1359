package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// labelFetchers bounds the concurrent label requests of one list load.
const labelFetchers = 4

// LoadedMsg carries the agent list and every agent's labels. Agents is nil when the list
// could not be read; Labels may lack the agents whose labels could not be read (Err says
// why).
type LoadedMsg struct {
	Gen    uint64 // request generation; older answers than the applied one are dropped
	At     time.Time
	Agents []client.Agent
	Labels map[uuid.UUID][]string
	// States are the drift and dependency states of the stacks by agent; nil when they
	// could not be read.
	States map[uuid.UUID][]StackState
	Err    error
}

// Detail is what the detail page shows about one agent.
type Detail struct {
	Agent         client.Agent
	Labels        []string
	Annotations   []client.AgentAnnotation
	Targets       []client.AgentTarget
	Registrations []client.AgentGeneratorRegistration
	// Generators names the generators of the registrations.
	Generators map[uuid.UUID]string
	// Stacks are the stacks associated with the agent (by target, label or annotation).
	Stacks []client.Stack
	// Events are the agent's events, newest first.
	Events []client.AgentEvent
	// Fleet is the agent's fleet record (connection, pending work, health counts); nil when
	// it could not be read.
	Fleet *client.FleetAgentRecord
	// States are the drift and dependency states of the agent's stacks.
	States []StackState
}

// DetailMsg carries one agent's detail. Detail is nil when the agent could not be read;
// otherwise Err lists the parts that could not be.
type DetailMsg struct {
	Gen     uint64
	At      time.Time
	AgentID uuid.UUID
	Detail  *Detail
	Err     error
}

// ActionMsg reports the outcome of an action on an agent (pause, resume, label edit).
type ActionMsg struct {
	At   time.Time
	Text string
	Err  error
}

// TickMsg is the view's polling timer.
type TickMsg struct{}

func (m *Model) loadList() tea.Cmd {
	gen, env := m.listReqs.Next(), m.env
	return func() tea.Msg {
		if env.Client == nil {
			return LoadedMsg{Gen: gen, At: env.Now(), Err: ui.ErrNoClient}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		agents, labels, err := fetchList(ctx, env.Client)
		msg := LoadedMsg{Gen: gen, At: env.Now(), Agents: agents, Labels: labels, Err: err}
		if agents == nil {
			return msg
		}
		stacks, serr := env.Client.Stacks().List(ctx, nil)
		if serr != nil {
			msg.Err = errors.Join(msg.Err, fmt.Errorf("list stacks: %w", serr))
			return msg
		}
		var derr error
		msg.States, derr = fetchStates(ctx, env.Client, stacks)
		msg.Err = errors.Join(msg.Err, derr)
		return msg
	}
}

// fetchList reads the agents, then their labels a few at a time.
func fetchList(ctx context.Context, c *client.Client) ([]client.Agent, map[uuid.UUID][]string, error) {
	agents, err := c.Agents().List(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list agents: %w", err)
	}
	if agents == nil {
		agents = []client.Agent{}
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		labels = make(map[uuid.UUID][]string, len(agents))
		errs   []error
		sem    = make(chan struct{}, labelFetchers)
	)
	for _, a := range agents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ls, err := c.Agents().Labels(ctx, a.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("labels of %s: %w", a.Name, err))
				return
			}
			names := make([]string, 0, len(ls))
			for _, l := range ls {
				names = append(names, l.Label)
			}
			labels[a.ID] = names
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		// One error tells enough; the others are almost always the same.
		return agents, labels, errs[0]
	}
	return agents, labels, nil
}

func (m *Model) loadDetail(agentID uuid.UUID) tea.Cmd {
	gen, env := m.detailReqs.Next(), m.env
	return func() tea.Msg {
		if env.Client == nil {
			return DetailMsg{Gen: gen, At: env.Now(), AgentID: agentID, Err: ui.ErrNoClient}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		d, err := fetchDetail(ctx, env.Client, agentID)
		return DetailMsg{Gen: gen, At: env.Now(), AgentID: agentID, Detail: d, Err: err}
	}
}

// fetchDetail reads everything about an agent at once. The detail is nil when the agent
// itself could not be read; the error joins whatever else failed.
func fetchDetail(ctx context.Context, c *client.Client, id uuid.UUID) (*Detail, error) {
	var (
		d    = &Detail{Generators: map[uuid.UUID]string{}}
		a    = c.Agents()
		wg   sync.WaitGroup
		gens []client.Generator
		errs = make([]error, 9)
	)
	run := func(i int, what string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", what, err)
			}
		})
	}
	run(0, "agent", func() (err error) { d.Agent, err = a.Get(ctx, id); return err })
	run(1, "labels", func() error {
		ls, err := a.Labels(ctx, id)
		for _, l := range ls {
			d.Labels = append(d.Labels, l.Label)
		}
		return err
	})
	run(2, "annotations", func() (err error) { d.Annotations, err = a.Annotations(ctx, id); return err })
	run(3, "targets", func() (err error) { d.Targets, err = a.Targets(ctx, id); return err })
	run(4, "registrations", func() (err error) { d.Registrations, err = a.Registrations(ctx, id); return err })
	run(5, "stacks", func() (err error) { d.Stacks, err = a.Stacks(ctx, id); return err })
	run(6, "events", func() (err error) { d.Events, err = a.Events(ctx, id); return err })
	run(7, "fleet status", func() error {
		fs, err := a.FleetStatus(ctx, id)
		if err == nil {
			d.Fleet = &fs.Record
		}
		return err
	})
	run(8, "generators", func() (err error) { gens, err = c.Generators().List(ctx); return err })
	wg.Wait()
	if errs[0] != nil {
		return nil, errs[0]
	}
	if errs[5] == nil {
		states, err := fetchStates(ctx, c, d.Stacks)
		d.States = states[id]
		if err != nil {
			errs = append(errs, fmt.Errorf("drift: %w", err))
		}
	}
	for _, g := range gens {
		d.Generators[g.ID] = g.Name
	}
	// The list leaves out the system generator every agent is registered with.
	for _, r := range d.Registrations {
		if _, ok := d.Generators[r.GeneratorID]; ok {
			continue
		}
		if g, err := c.Generators().Get(ctx, r.GeneratorID); err == nil {
			d.Generators[g.ID] = g.Name
		}
	}
	return d, errors.Join(errs...)
}

func (m *Model) setStatus(a client.Agent, to string) tea.Cmd {
	env := m.env
	done := "paused agent " + agentName(a)
	if to == StatusActive {
		done = "resumed agent " + agentName(a)
	}
	return func() tea.Msg {
		if env.Client == nil {
			return ActionMsg{At: env.Now(), Text: done, Err: ui.ErrNoClient}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		_, err := env.Client.Agents().Update(ctx, a.ID, client.UpdateAgentRequest{Status: &to})
		if err != nil {
			return ActionMsg{At: env.Now(), Text: "set status of " + agentName(a), Err: err}
		}
		return ActionMsg{At: env.Now(), Text: done}
	}
}

// editLabels adds, then removes labels, reporting what was done and what failed.
func (m *Model) editLabels(a client.Agent, add, remove []string) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		if env.Client == nil {
			return ActionMsg{At: env.Now(), Text: "labels of " + agentName(a), Err: ui.ErrNoClient}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		var added, removed []string
		var errs []error
		for _, l := range add {
			if _, err := env.Client.Agents().AddLabel(ctx, a.ID, l); err != nil {
				errs = append(errs, fmt.Errorf("add %s: %w", l, err))
				continue
			}
			added = append(added, l)
		}
		for _, l := range remove {
			if err := env.Client.Agents().RemoveLabel(ctx, a.ID, l); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", l, err))
				continue
			}
			removed = append(removed, l)
		}
		parts := []string{}
		if len(added) > 0 {
			parts = append(parts, "added "+strings.Join(added, ", "))
		}
		if len(removed) > 0 {
			parts = append(parts, "removed "+strings.Join(removed, ", "))
		}
		text := "labels of " + agentName(a)
		if len(parts) > 0 {
			text += ": " + strings.Join(parts, "; ")
		}
		return ActionMsg{At: env.Now(), Text: text, Err: errors.Join(errs...)}
	}
}
