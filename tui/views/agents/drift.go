package agents

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// maxStateStacks bounds the stacks whose drift and dependencies one load reads (two
// requests each).
const maxStateStacks = 50

// StackState is how one stack stands on one agent: its drift there, and what the agent waits
// for before it applies the stack. At least one of Drift and Waiting is set.
type StackState struct {
	Stack   client.Stack
	Drift   *client.StackDrift
	Waiting *client.WaitingAgent
}

// fetchStates reads the drift and dependencies of up to maxStateStacks stacks, a few at a
// time, and returns the states by agent, in stack order. A broker without these reports
// (404) and a key that may not read them (403) leave states out without an error.
func fetchStates(ctx context.Context, c *client.Client, stacks []client.Stack) (map[uuid.UUID][]StackState, error) {
	stacks = stacks[:min(len(stacks), maxStateStacks)]
	drifts := make([][]client.StackDrift, len(stacks))
	deps := make([]client.StackDependencies, len(stacks))
	errs := make([]error, len(stacks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, labelFetchers)
	for i, st := range stacks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var derr, perr error
			drifts[i], derr = c.Stacks().Drift(ctx, st.ID)
			deps[i], perr = c.Stacks().Dependencies(ctx, st.ID)
			for _, err := range []error{derr, perr} {
				if err != nil && !client.IsNotFound(err) && !client.IsForbidden(err) {
					errs[i] = fmt.Errorf("drift of stack %s: %w", st.Name, err)
				}
			}
		})
	}
	wg.Wait()
	out := map[uuid.UUID][]StackState{}
	for i, st := range stacks {
		for j := range drifts[i] {
			out[drifts[i][j].AgentID] = append(out[drifts[i][j].AgentID], StackState{Stack: st, Drift: &drifts[i][j]})
		}
		for j := range deps[i].Waiting {
			w := &deps[i].Waiting[j]
			states := out[w.AgentID]
			if k := slices.IndexFunc(states, func(s StackState) bool { return s.Stack.ID == st.ID }); k >= 0 {
				states[k].Waiting = w
				continue
			}
			out[w.AgentID] = append(states, StackState{Stack: st, Waiting: w})
		}
	}
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// driftCounts counts an agent's drifted objects and the stacks it waits to apply.
func driftCounts(states []StackState) (objects, waiting int) {
	for _, s := range states {
		if s.Drift != nil {
			objects += max(len(s.Drift.Objects), 1)
		}
		if s.Waiting != nil {
			waiting++
		}
	}
	return objects, waiting
}

// waitingFor says what an agent waits for: "db (latest object not applied), ...".
func waitingFor(w client.WaitingAgent) string {
	parts := make([]string, 0, len(w.WaitingFor))
	for _, f := range w.WaitingFor {
		parts = append(parts, f.StackName+" ("+f.Reason+")")
	}
	return strings.Join(parts, ", ")
}
