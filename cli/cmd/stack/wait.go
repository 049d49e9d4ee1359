package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// Conditions of stack wait.
const (
	ForApplied = "applied"
	ForHealthy = "healthy"
)

// WaitOptions are the inputs of stack wait.
type WaitOptions struct {
	Factory  *cmdutil.Factory
	Ref      string
	For      string
	Agent    string
	Timeout  time.Duration
	Interval time.Duration
}

// NewCmdWait returns stack wait; runF replaces the run function in tests.
func NewCmdWait(f *cmdutil.Factory, runF func(*WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:   "wait NAME|ID --for applied|healthy",
		Short: "Wait until agents applied a stack's latest object, or report it healthy",
		Long: `Wait for a rollout. Every agent associated with the stack (by target, label or
annotation), or only --agent, must report a SUCCESS event for the stack's latest deployment
object (--for applied) or report it healthy (--for healthy).

The command fails with the agent's message as soon as an agent reports a FAILURE event for
the object, when the stack is deleted, or after --timeout.`,
		Example: `  brokkrctl stack apply -f ./manifests --stack web && brokkrctl stack wait web --for applied
  brokkrctl stack wait web --for healthy --timeout 10m --agent edge-1/prod`,
	}, stackArg(f), verb.Setup[WaitOptions]{Opts: opts, Ref: &opts.Ref, RunF: runF, Run: runWait,
		Check: func(*cobra.Command) error {
			opts.For = strings.ToLower(opts.For)
			if opts.For != ForApplied && opts.For != ForHealthy {
				return cmdutil.FlagErrorf("invalid --for %q: want applied or healthy", opts.For)
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if opts.Interval < 50*time.Millisecond {
				return cmdutil.FlagErrorf("--interval must be at least 50ms")
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.For, "for", ForApplied, "Condition: applied or healthy")
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "Wait for this agent only (id or NAME/CLUSTER)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "Give up after this long")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "Polling interval")
	_ = cmd.RegisterFlagCompletionFunc("for", complete.Fixed(ForApplied, ForHealthy))
	_ = cmd.RegisterFlagCompletionFunc("agent", complete.Agents(f))
	return cmd
}

// WaitFailure is a definitive failure of stack wait (as opposed to a timeout).
type WaitFailure struct{ Reason string }

func (e *WaitFailure) Error() string { return e.Reason }

// waitState is one poll's view of a rollout.
type waitState struct {
	object  client.DeploymentObject
	agents  []uuid.UUID
	pending []uuid.UUID
}

func runWait(ctx context.Context, opts *WaitOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	st, err := resolve.Stack(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	var only *uuid.UUID
	if opts.Agent != "" {
		id, err := resolve.AgentID(ctx, c, opts.Agent)
		if err != nil {
			return err
		}
		only = &id
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	ios := f.IOStreams
	lastProgress := ""
	var last waitState
	for {
		state, err := pollWait(wctx, c, st, only, opts.For)
		var failure *WaitFailure
		switch {
		case errors.As(err, &failure):
			fmt.Fprintf(ios.ErrOut, "%s %s\n", ios.ColorScheme().FailureIcon(), failure.Reason)
			return cmdutil.ErrSilent
		case err != nil && wctx.Err() == nil:
			return err
		case err == nil:
			last = state
			if len(state.agents) > 0 && len(state.pending) == 0 {
				verb := "applied"
				if opts.For == ForHealthy {
					verb = "reports healthy"
				}
				for _, a := range state.agents {
					fmt.Fprintf(ios.ErrOut, "%s agent %s %s object #%d\n", ios.ColorScheme().SuccessIcon(), a, verb, state.object.SequenceID)
				}
				fmt.Fprintf(ios.Out, "stack %s %s\n", st.Name, opts.For)
				return nil
			}
			progress := fmt.Sprintf("waiting for %d of %d agents (object #%d)", len(state.pending), len(state.agents), state.object.SequenceID)
			if len(state.agents) == 0 {
				progress = "waiting: no agents are associated with the stack yet"
			}
			if progress != lastProgress && ios.IsStderrTTY() {
				fmt.Fprintln(ios.ErrOut, progress)
			}
			lastProgress = progress
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return timeoutError(st, opts, last)
		case <-time.After(opts.Interval):
		}
	}
}

func timeoutError(st client.Stack, opts *WaitOptions, last waitState) error {
	switch {
	case last.object.ID == uuid.Nil:
		return fmt.Errorf("timed out after %s: stack %s has no deployment object", opts.Timeout, st.Name)
	case len(last.agents) == 0:
		return fmt.Errorf("timed out after %s: no agents are associated with stack %s", opts.Timeout, st.Name)
	}
	ids := make([]string, len(last.pending))
	for i, a := range last.pending {
		ids[i] = a.String()
	}
	return fmt.Errorf("timed out after %s: object #%d of stack %s not %s by %s", opts.Timeout, last.object.SequenceID, st.Name, opts.For, strings.Join(ids, ", "))
}

// pollWait reads the rollout state once.
func pollWait(ctx context.Context, c *client.Client, st client.Stack, only *uuid.UUID, cond string) (waitState, error) {
	var state waitState
	if _, err := c.Stacks().Get(ctx, st.ID); client.IsNotFound(err) {
		return state, &WaitFailure{Reason: fmt.Sprintf("stack %s was deleted", st.Name)}
	} else if err != nil {
		return state, err
	}
	objs, err := resolve.StackObjects(ctx, c, st.ID, 1, false)
	if err != nil {
		return state, err
	}
	if len(objs) == 0 {
		return state, nil
	}
	state.object = objs[0]
	if state.object.IsDeletionMarker {
		return state, &WaitFailure{Reason: fmt.Sprintf("stack %s was deleted (object #%d is a deletion marker)", st.Name, state.object.SequenceID)}
	}
	if only != nil {
		state.agents = []uuid.UUID{*only}
	} else if state.agents, err = associatedAgents(ctx, c, st.ID); err != nil {
		return state, err
	}
	var healthy map[uuid.UUID]string
	if cond == ForHealthy {
		h, err := c.DeploymentHealth().Object(ctx, state.object.ID)
		if err != nil && !client.IsNotFound(err) {
			return state, err
		}
		healthy = map[uuid.UUID]string{}
		for _, r := range h.HealthRecords {
			healthy[r.AgentID] = r.Status
		}
	}
	for _, a := range state.agents {
		events, err := eventsSince(ctx, c, a, state.object.CreatedAt)
		if err != nil {
			return state, fmt.Errorf("events of agent %s: %w", a, err)
		}
		applied := false
		for _, ev := range latestFirst(events) {
			if ev.DeploymentObjectID != state.object.ID {
				continue
			}
			if strings.EqualFold(ev.Status, "FAILURE") {
				msg := "no message"
				if ev.Message != nil {
					msg = *ev.Message
				}
				return state, &WaitFailure{Reason: fmt.Sprintf("agent %s failed to apply object #%d of stack %s: %s", a, state.object.SequenceID, st.Name, msg)}
			}
			if strings.EqualFold(ev.Status, "SUCCESS") {
				applied = true
				break
			}
		}
		done := applied
		if cond == ForHealthy {
			done = healthy[a] == client.HealthHealthy
		}
		if !done {
			state.pending = append(state.pending, a)
		}
	}
	return state, nil
}

// latestFirst orders events newest first, so the latest outcome decides.
// eventsSince returns the agent's events, newest first, reading pages only until they reach
// events older than since: an event about an object is never older than the object.
func eventsSince(ctx context.Context, c *client.Client, agent uuid.UUID, since time.Time) ([]client.AgentEvent, error) {
	var out []client.AgentEvent
	opts := &client.ListOptions{}
	for {
		page, err := c.Agents().EventsPage(ctx, agent, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		n := len(page.Items)
		if page.NextCursor == "" || page.NextCursor == opts.Cursor || n == 0 || page.Items[n-1].CreatedAt.Before(since) {
			return out, nil
		}
		opts.Cursor = page.NextCursor
	}
}

func latestFirst(events []client.AgentEvent) []client.AgentEvent {
	out := slices.Clone(events)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// associatedAgents returns the agents whose associated stacks include stackID.
func associatedAgents(ctx context.Context, c *client.Client, stackID uuid.UUID) ([]uuid.UUID, error) {
	agents, err := c.Agents().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	var out []uuid.UUID
	for _, a := range agents {
		stacks, err := c.Agents().Stacks(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("stacks of agent %s: %w", a.ID, err)
		}
		for _, s := range stacks {
			if s.ID == stackID {
				out = append(out, a.ID)
				break
			}
		}
	}
	return out, nil
}
