// Package agent implements "brokkrctl agent": the cluster agents, their labels, annotations,
// targets, registrations, PAKs, events and target state.
package agent

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/meta"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// Agent statuses.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// agentArg is the agent argument of the verbs on one agent.
func agentArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "agent id or NAME/CLUSTER", Complete: complete.Agents(f)}
}

// NewCmdAgent returns the agent noun.
func NewCmdAgent(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "agent <command>",
		Aliases: []string{"agents", "ag"},
		Short:   "Manage agents",
		Long: `Manage agents: the processes in each cluster that apply their stacks' deployment objects.
Agents are addressed by id, by NAME/CLUSTER, or by a name that is unique.`,
		Example: `  brokkrctl agent create edge-1 --cluster prod --generator ci
  brokkrctl agent target add edge-1/prod --stack web
  brokkrctl agent target-state edge-1/prod`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdStatus(f, nil, StatusActive), NewCmdStatus(f, nil, StatusInactive), NewCmdDelete(f, nil),
		meta.NewCmdLabel(f, MetaAPI(f)), meta.NewCmdAnnotation(f, MetaAPI(f)), NewCmdTarget(f),
		NewCmdRegistrations(f, nil), NewCmdRotatePAK(f, nil), NewCmdEvents(f, nil), NewCmdTargetState(f, nil),
		NewCmdStacks(f, nil), NewCmdFleetStatus(f, nil), NewCmdHolds(f, nil))
	return cmd
}

// MetaAPI connects the label and annotation verbs to agents.
func MetaAPI(f *cmdutil.Factory) meta.API {
	return meta.For("agent", complete.Agents(f), resolve.AgentID,
		func(c *client.Client) meta.Service[client.AgentLabel, client.AgentAnnotation] { return c.Agents() },
		func(l client.AgentLabel) string { return l.Label },
		func(a client.AgentAnnotation) meta.Annotation { return meta.Annotation{Key: a.Key, Value: a.Value} })
}

// ItemsOptions are the inputs of the verbs that list something of one agent: registrations,
// events, stacks and target list.
type ItemsOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	// Limit keeps the newest events only (events).
	Limit  int
	Format output.Format
}

// newItemsCmd builds a read-only verb "<use> AGENT" that lists what fetch returns for the
// agent; it returns the options the command fills, for verbs with flags of their own.
func newItemsCmd[T any](f *cmdutil.Factory, runF func(*ItemsOptions) error, use, short, example string, spec output.Spec[T],
	fetch func(ctx context.Context, c *client.Client, id uuid.UUID, opts *ItemsOptions) ([]T, error)) (*cobra.Command, *ItemsOptions) {
	opts := &ItemsOptions{Factory: f}
	run := func(ctx context.Context, opts *ItemsOptions) error {
		return verb.List(ctx, opts.Factory, opts.Format, spec, verb.Via(resolve.AgentID, opts.Ref,
			func(ctx context.Context, c *client.Client, id uuid.UUID) ([]T, error) { return fetch(ctx, c, id, opts) }))
	}
	cmd := verb.OneArg(&cobra.Command{Use: use + " AGENT", Short: short, Example: example}, agentArg(f),
		verb.Setup[ItemsOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: run})
	return cmd, opts
}

// NewCmdRegistrations returns agent registrations; runF replaces the run function in tests.
func NewCmdRegistrations(f *cmdutil.Factory, runF func(*ItemsOptions) error) *cobra.Command {
	cmd, _ := newItemsCmd(f, runF, "registrations", "List the generators an agent is registered with",
		"  brokkrctl agent registrations edge-1/prod", specs.Registration,
		func(ctx context.Context, c *client.Client, id uuid.UUID, _ *ItemsOptions) ([]client.AgentGeneratorRegistration, error) {
			return c.Agents().Registrations(ctx, id)
		})
	return cmd
}

// NewCmdEvents returns agent events; runF replaces the run function in tests.
func NewCmdEvents(f *cmdutil.Factory, runF func(*ItemsOptions) error) *cobra.Command {
	cmd, opts := newItemsCmd(f, runF, "events", "List the events an agent reported, newest first",
		"  brokkrctl agent events edge-1/prod -o wide\n  brokkrctl agent events edge-1/prod --limit 20", specs.AgentEvent, events)
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "Show the newest N events only (0 = all)")
	return cmd
}

// events reads the agent's events, newest first: all of them, or the newest opts.Limit.
func events(ctx context.Context, c *client.Client, id uuid.UUID, opts *ItemsOptions) ([]client.AgentEvent, error) {
	limit := opts.Limit
	if limit < 0 {
		return nil, cmdutil.FlagErrorf("--limit must not be negative")
	}
	if limit == 0 {
		return c.Agents().Events(ctx, id)
	}
	var out []client.AgentEvent
	page := &client.ListOptions{}
	for len(out) < limit {
		page.Limit = limit - len(out)
		p, err := c.Agents().EventsPage(ctx, id, page)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" || p.NextCursor == page.Cursor {
			break
		}
		page.Cursor = p.NextCursor
	}
	return out, nil
}

// NewCmdStacks returns agent stacks; runF replaces the run function in tests.
func NewCmdStacks(f *cmdutil.Factory, runF func(*ItemsOptions) error) *cobra.Command {
	cmd, _ := newItemsCmd(f, runF, "stacks", "List the stacks associated with an agent",
		"  brokkrctl agent stacks edge-1/prod", specs.Stack,
		func(ctx context.Context, c *client.Client, id uuid.UUID, _ *ItemsOptions) ([]client.Stack, error) {
			return c.Agents().Stacks(ctx, id)
		})
	cmd.Long = `List the stacks associated with an agent: explicit targets, and stacks sharing a label or
an annotation with it, of generators it is registered with.`
	return cmd
}

// FleetStatusOptions are the inputs of agent fleet-status.
type FleetStatusOptions = verb.RefOptions

// NewCmdFleetStatus returns agent fleet-status; runF replaces the run function in tests.
func NewCmdFleetStatus(f *cmdutil.Factory, runF func(*FleetStatusOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "fleet-status AGENT",
		Short:   "Show an agent's fleet record and recent events",
		Example: "  brokkrctl agent fleet-status edge-1/prod\n  brokkrctl agent fleet-status edge-1/prod -o json",
	}, agentArg(f), verb.Then(resolve.AgentID, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.AgentFleetStatus, error) {
		return c.Agents().FleetStatus(ctx, id)
	}), printFleetStatus)
}

// printFleetStatus prints the wire object for json and yaml, otherwise the fleet record and,
// after it, the recent events.
func printFleetStatus(p *output.Printer, st client.AgentFleetStatus) error {
	if ok, err := p.PrintWire(st); ok {
		return err
	}
	if err := output.PrintOne(p, specs.Fleet, st.Record); err != nil {
		return err
	}
	if p.Format == output.FormatName || len(st.RecentEvents) == 0 {
		return nil
	}
	if p.IO.IsStdoutTTY() {
		if _, err := p.IO.Out.Write([]byte("\nRecent events:\n")); err != nil {
			return err
		}
	}
	return output.PrintList(p, specs.AgentEvent, st.RecentEvents)
}
