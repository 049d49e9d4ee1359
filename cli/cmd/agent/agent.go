// Package agent implements "brokkrctl agent": the cluster agents, their labels, annotations,
// targets, registrations, PAKs, events and target state.
package agent

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/generator"
	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmd/stack"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Agent statuses.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// NewCmdAgent returns the agent noun.
func NewCmdAgent(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "agent <command>",
		Aliases: []string{"agents", "ag"},
		Short:   "Manage agents",
		Long: `Manage agents: the processes in each cluster that apply their stacks' deployment objects.
Agents are addressed by id, by NAME/CLUSTER, or by a name that is unique.`,
		Example: `  brokkrctl agent create --name edge-1 --cluster prod --generator ci
  brokkrctl agent target add edge-1/prod --stack web
  brokkrctl agent target-state edge-1/prod`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdStatus(f, StatusActive), NewCmdStatus(f, StatusInactive), NewCmdDelete(f, nil),
		resource.NewCmdLabel(f, MetaAPI(f)), resource.NewCmdAnnotation(f, MetaAPI(f)), NewCmdTarget(f),
		NewCmdRegistrations(f), NewCmdRotatePAK(f, nil), NewCmdEvents(f), NewCmdTargetState(f, nil),
		NewCmdStacks(f), NewCmdFleetStatus(f))
	return cmd
}

// MetaAPI connects the label and annotation verbs to agents.
func MetaAPI(f *cmdutil.Factory) resource.MetaAPI {
	return resource.MetaAPI{
		Noun:     "agent",
		Complete: resource.CompleteAgents(f),
		Resolve:  resource.AgentID,
		Labels: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]resource.Label, error) {
			ls, err := c.Agents().Labels(ctx, id)
			out := make([]resource.Label, len(ls))
			for i, l := range ls {
				out[i] = resource.Label{Label: l.Label}
			}
			return out, err
		},
		AddLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			_, err := c.Agents().AddLabel(ctx, id, l)
			return err
		},
		RemoveLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			return c.Agents().RemoveLabel(ctx, id, l)
		},
		Annotations: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]resource.Annotation, error) {
			as, err := c.Agents().Annotations(ctx, id)
			out := make([]resource.Annotation, len(as))
			for i, a := range as {
				out[i] = resource.Annotation{Key: a.Key, Value: a.Value}
			}
			return out, err
		},
		AddAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k, v string) error {
			_, err := c.Agents().AddAnnotation(ctx, id, k, v)
			return err
		},
		RemoveAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k string) error {
			return c.Agents().RemoveAnnotation(ctx, id, k)
		},
	}
}

// Spec is the table of agents.
var Spec = output.Spec[client.Agent]{
	Kind: "agent",
	Name: func(a client.Agent) string { return a.ID.String() },
	Columns: []output.Column[client.Agent]{
		output.Text("ID", func(a client.Agent) string { return a.ID.String() }),
		output.Text("NAME", func(a client.Agent) string { return a.Name }),
		output.Text("CLUSTER", func(a client.Agent) string { return a.ClusterName }),
		output.Text("STATUS", func(a client.Agent) string { return a.Status }),
		output.Age("HEARTBEAT", func(a client.Agent) *time.Time { return a.LastHeartbeat }),
		output.Age("AGE", func(a client.Agent) *time.Time { return &a.CreatedAt }),
		output.WideOnly(output.Text("K8S", func(a client.Agent) string { return resource.BoolPtr(a.K8sReachable) })),
		output.WideOnly(output.Text("LATENCY MS", func(a client.Agent) string { return resource.IntPtr(a.K8sAPILatencyMs) })),
	},
}

// EventSpec is the table of agent events.
var EventSpec = output.Spec[client.AgentEvent]{
	Kind: "agentevent",
	Name: func(e client.AgentEvent) string { return e.ID.String() },
	Columns: []output.Column[client.AgentEvent]{
		output.Text("ID", func(e client.AgentEvent) string { return e.ID.String() }),
		output.Text("OBJECT", func(e client.AgentEvent) string { return e.DeploymentObjectID.String() }),
		output.Text("TYPE", func(e client.AgentEvent) string { return e.EventType }),
		output.Text("STATUS", func(e client.AgentEvent) string { return e.Status }),
		output.Age("AGE", func(e client.AgentEvent) *time.Time { return &e.CreatedAt }),
		output.Text("MESSAGE", func(e client.AgentEvent) string { return resource.OrDash(e.Message) }),
		output.WideOnly(output.Text("AGENT", func(e client.AgentEvent) string { return e.AgentID.String() })),
	},
}

// TargetSpec is the table of explicit targets.
var TargetSpec = output.Spec[client.AgentTarget]{
	Kind: "target",
	Name: func(t client.AgentTarget) string { return t.StackID.String() },
	Columns: []output.Column[client.AgentTarget]{
		output.Text("STACK", func(t client.AgentTarget) string { return t.StackID.String() }),
		output.Text("AGENT", func(t client.AgentTarget) string { return t.AgentID.String() }),
		output.WideOnly(output.Text("ID", func(t client.AgentTarget) string { return t.ID.String() })),
	},
}

// FleetSpec is the table of fleet records (shared with the fleet noun).
var FleetSpec = output.Spec[client.FleetAgentRecord]{
	Kind:   "agent",
	Plural: "agents",
	Name:   func(r client.FleetAgentRecord) string { return r.AgentID.String() },
	Columns: []output.Column[client.FleetAgentRecord]{
		output.Text("AGENT", func(r client.FleetAgentRecord) string { return r.AgentID.String() }),
		output.Text("NAME", func(r client.FleetAgentRecord) string { return r.Name }),
		output.Text("CLUSTER", func(r client.FleetAgentRecord) string { return r.ClusterName }),
		output.Text("STATUS", func(r client.FleetAgentRecord) string { return r.Status }),
		output.Text("CONNECTED", func(r client.FleetAgentRecord) string {
			if r.WSConnected {
				return "yes"
			}
			return "no"
		}),
		output.Age("HEARTBEAT", func(r client.FleetAgentRecord) *time.Time { return r.LastHeartbeat }),
		output.Text("PENDING", func(r client.FleetAgentRecord) string { return strconv.FormatInt(r.PendingObjectCount, 10) }),
		output.Text("WORK", func(r client.FleetAgentRecord) string {
			return strconv.FormatInt(r.PendingWorkOrders, 10) + "/" + strconv.FormatInt(r.ClaimedWorkOrders, 10)
		}),
		output.Text("FAILING", func(r client.FleetAgentRecord) string { return strconv.FormatInt(r.HealthFailing, 10) }),
		output.WideOnly(output.Text("DEGRADED", func(r client.FleetAgentRecord) string { return strconv.FormatInt(r.HealthDegraded, 10) })),
		output.WideOnly(output.Age("LAST EVENT", func(r client.FleetAgentRecord) *time.Time { return r.LastEventAt })),
		output.WideOnly(output.Text("K8S", func(r client.FleetAgentRecord) string { return resource.BoolPtr(r.K8sReachable) })),
		output.WideOnly(output.Text("LATENCY MS", func(r client.FleetAgentRecord) string { return resource.IntPtr(r.K8sAPILatencyMs) })),
	},
}

// agentListVerb builds a read-only verb "<use> AGENT" that lists what fetch returns.
func agentListVerb[T any](f *cmdutil.Factory, use, short, example string, spec output.Spec[T],
	fetch func(ctx context.Context, c *client.Client, id uuid.UUID) ([]T, error)) *cobra.Command {
	var format output.Format
	cmd := &cobra.Command{
		Use:               use + " AGENT",
		Short:             short,
		Example:           example,
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := format.Validate(); err != nil {
				return err
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.AgentID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			items, err := fetch(cmd.Context(), c, id)
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, format), spec, items)
		},
	}
	output.AddFormatFlag(cmd, &format)
	return cmd
}

// NewCmdRegistrations returns agent registrations.
func NewCmdRegistrations(f *cmdutil.Factory) *cobra.Command {
	return agentListVerb(f, "registrations", "List the generators an agent is registered with",
		"  brokkrctl agent registrations edge-1/prod", generator.RegistrationSpec,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.AgentGeneratorRegistration, error) {
			return c.Agents().Registrations(ctx, id)
		})
}

// NewCmdEvents returns agent events.
func NewCmdEvents(f *cmdutil.Factory) *cobra.Command {
	limit := 0
	cmd := agentListVerb(f, "events", "List the events an agent reported, newest first",
		"  brokkrctl agent events edge-1/prod -o wide\n  brokkrctl agent events edge-1/prod --limit 20", EventSpec,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.AgentEvent, error) {
			if limit < 0 {
				return nil, cmdutil.FlagErrorf("--limit must not be negative")
			}
			if limit == 0 {
				return c.Agents().Events(ctx, id)
			}
			var out []client.AgentEvent
			opts := &client.ListOptions{}
			for len(out) < limit {
				opts.Limit = limit - len(out)
				page, err := c.Agents().EventsPage(ctx, id, opts)
				if err != nil {
					return nil, err
				}
				out = append(out, page.Items...)
				if page.NextCursor == "" || page.NextCursor == opts.Cursor {
					break
				}
				opts.Cursor = page.NextCursor
			}
			return out, nil
		})
	cmd.Flags().IntVar(&limit, "limit", 0, "Show the newest N events only (0 = all)")
	return cmd
}

// NewCmdStacks returns agent stacks.
func NewCmdStacks(f *cmdutil.Factory) *cobra.Command {
	cmd := agentListVerb(f, "stacks", "List the stacks associated with an agent",
		"  brokkrctl agent stacks edge-1/prod", stack.Spec,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.Stack, error) {
			return c.Agents().Stacks(ctx, id)
		})
	cmd.Long = `List the stacks associated with an agent: explicit targets, and stacks sharing a label or
an annotation with it, of generators it is registered with.`
	return cmd
}

// NewCmdFleetStatus returns agent fleet-status.
func NewCmdFleetStatus(f *cmdutil.Factory) *cobra.Command {
	var format output.Format
	cmd := &cobra.Command{
		Use:               "fleet-status AGENT",
		Short:             "Show an agent's fleet record and recent events",
		Example:           "  brokkrctl agent fleet-status edge-1/prod\n  brokkrctl agent fleet-status edge-1/prod -o json",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := format.Validate(); err != nil {
				return err
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.AgentID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			st, err := c.Agents().FleetStatus(cmd.Context(), id)
			if err != nil {
				return err
			}
			p := output.NewPrinter(f, format)
			switch format {
			case output.FormatJSON:
				return output.WriteJSON(p.IO.Out, st)
			case output.FormatYAML:
				return output.WriteYAML(p.IO.Out, st)
			}
			if err := output.PrintOne(p, FleetSpec, st.Record); err != nil {
				return err
			}
			if format == output.FormatName || len(st.RecentEvents) == 0 {
				return nil
			}
			if p.IO.IsStdoutTTY() {
				if _, err := p.IO.Out.Write([]byte("\nRecent events:\n")); err != nil {
					return err
				}
			}
			return output.PrintList(p, EventSpec, st.RecentEvents)
		},
	}
	output.AddFormatFlag(cmd, &format)
	return cmd
}
