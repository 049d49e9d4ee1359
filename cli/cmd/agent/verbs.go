package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/cli/watch"
	"github.com/brokkr/brokkr/client"
)

// ListOptions are the inputs of agent list.
type ListOptions struct {
	Factory   *cmdutil.Factory
	Generator string
	Watch     bool
	Interval  time.Duration
	Format    output.Format
}

// NewCmdList returns agent list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List agents",
		Long: `List agents: all of them for the admin, those registered with the generator for a
generator PAK. --generator keeps the agents registered with that generator, as a generator
PAK would see them. --watch re-renders the list every --interval.`,
		Example: `  brokkrctl agent list
  brokkrctl agent list --generator ci -o wide
  brokkrctl agent list --watch --interval 5s`,
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList,
		Check: func(*cobra.Command) error { return watch.CheckFlags(opts.Watch, opts.Interval) }})
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Only agents registered with this generator (name or id)")
	watch.AddFlags(cmd, &opts.Watch, &opts.Interval)
	_ = cmd.RegisterFlagCompletionFunc("generator", complete.Generators(f))
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	gen, err := resolve.OptionalGeneratorID(ctx, c, opts.Generator)
	if err != nil {
		return err
	}
	render := func(ctx context.Context, p *output.Printer) error {
		agents, err := c.Agents().List(ctx)
		if err != nil {
			return err
		}
		if gen != nil {
			if agents, err = registeredOnly(ctx, c, *gen, agents); err != nil {
				return err
			}
		}
		return output.PrintList(p, specs.Agent, agents)
	}
	p := output.NewPrinter(opts.Factory, opts.Format)
	return watch.Render(ctx, p, opts.Watch, opts.Interval, "brokkrctl agent list", render)
}

// registeredOnly keeps the agents registered with the generator.
func registeredOnly(ctx context.Context, c *client.Client, gen uuid.UUID, agents []client.Agent) ([]client.Agent, error) {
	regs, err := c.Generators().RegisteredAgents(ctx, gen)
	if err != nil {
		return nil, err
	}
	keep := make(map[uuid.UUID]bool, len(regs))
	for _, r := range regs {
		keep[r.AgentID] = true
	}
	filtered := agents[:0]
	for _, a := range agents {
		if keep[a.ID] {
			filtered = append(filtered, a)
		}
	}
	return filtered, nil
}

// GetOptions are the inputs of agent get.
type GetOptions = verb.RefOptions

// NewCmdGet returns agent get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "get ID|NAME/CLUSTER",
		Short:   "Show an agent",
		Example: "  brokkrctl agent get edge-1/prod\n  brokkrctl agent get 5b0e6f9e-0b6d-4f3c-8a55-1d2f3a4b5c6d -o yaml",
	}, agentArg(f), resolve.Agent, verb.One(specs.Agent))
}

// CreateOptions are the inputs of agent create.
type CreateOptions struct {
	Factory    *cmdutil.Factory
	Name       string
	Cluster    string
	Generators []string
	Format     output.Format
}

// NewCmdCreate returns agent create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := verb.Create(&cobra.Command{
		Use:   "create NAME --cluster CLUSTER [flags]",
		Short: "Create an agent and print its initial PAK",
		Long: `Create an agent named NAME (or --name) in a cluster (status INACTIVE), optionally
registered with generators. Its initial PAK is printed once: alone on stdout (with a warning
on stderr), or as the initial_pak field of the response with -o json or -o yaml.`,
		Example: `  brokkrctl agent create edge-1 --cluster prod --generator ci
  AGENT_PAK=$(brokkrctl agent create edge-1 --cluster prod -o json | jq -r .initial_pak)`,
	}, &opts.Name, "Agent name (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(*cobra.Command) error {
			if opts.Name == "" || opts.Cluster == "" {
				return cmdutil.FlagErrorf("--name and --cluster are required")
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.Cluster, "cluster", "", "Cluster name (required)")
	cmd.Flags().StringArrayVar(&opts.Generators, "generator", nil, "Register with this generator, name or id (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("generator", complete.Generators(f))
	return cmd
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.CreateAgentResponse, error) {
		req := client.CreateAgentRequest{Name: opts.Name, ClusterName: opts.Cluster}
		for _, g := range opts.Generators {
			id, err := resolve.GeneratorID(ctx, c, g)
			if err != nil {
				return client.CreateAgentResponse{}, err
			}
			req.GeneratorIDs = append(req.GeneratorIDs, id)
		}
		return c.Agents().Create(ctx, req)
	}
	return verb.IssuePAK(ctx, opts.Factory, opts.Format, create, func(res client.CreateAgentResponse) verb.Issue {
		a := res.Agent
		return verb.Issue{Message: fmt.Sprintf("Created agent %s/%s (%s)", a.Name, a.ClusterName, a.ID), Holder: "agent " + a.Name, PAK: res.InitialPAK}
	})
}

// UpdateOptions are the inputs of agent update, activate and deactivate.
type UpdateOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Request client.UpdateAgentRequest
	Format  output.Format
}

// NewCmdUpdate returns agent update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	r := &opts.Request
	cmd := verb.OneArg(&cobra.Command{
		Use:     "update AGENT [--name NAME] [--cluster CLUSTER] [--status ACTIVE|INACTIVE]",
		Short:   "Change an agent's name, cluster or status",
		Example: "  brokkrctl agent update edge-1/prod --status ACTIVE\n  brokkrctl agent update 5b0e6f9e-... --name edge-2",
	}, agentArg(f), verb.Setup[UpdateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runUpdate,
		Check: func(*cobra.Command) error {
			if r.Status != nil {
				s := strings.ToUpper(*r.Status)
				r.Status = &s
			}
			if r.Name == nil && r.ClusterName == nil && r.Status == nil {
				return cmdutil.FlagErrorf("nothing to change: give --name, --cluster or --status")
			}
			return nil
		}})
	cmdutil.OptionalStringVar(cmd.Flags(), &r.Name, "name", "New name")
	cmdutil.OptionalStringVar(cmd.Flags(), &r.ClusterName, "cluster", "New cluster name")
	cmdutil.OptionalStringVar(cmd.Flags(), &r.Status, "status", "New status: ACTIVE or INACTIVE")
	_ = cmd.RegisterFlagCompletionFunc("status", complete.Fixed(StatusActive, StatusInactive))
	return cmd
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	update := verb.Via(resolve.AgentID, opts.Ref, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.Agent, error) {
		return c.Agents().Update(ctx, id, opts.Request)
	})
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Agent, update, func(a client.Agent) string {
		return fmt.Sprintf("Updated agent %s/%s (status %s)", a.Name, a.ClusterName, a.Status)
	})
}

// NewCmdStatus returns agent activate (status ACTIVE) or agent deactivate; runF replaces the
// run function in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(*UpdateOptions) error, status string) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	name, short := "activate", "Set an agent's status to ACTIVE"
	if status == StatusInactive {
		name, short = "deactivate", "Set an agent's status to INACTIVE"
	}
	return verb.OneArg(&cobra.Command{
		Use:     name + " AGENT",
		Short:   short,
		Long:    short + "; the same as agent update --status " + status + ".",
		Example: "  brokkrctl agent " + name + " edge-1/prod",
	}, agentArg(f), verb.Setup[UpdateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runUpdate,
		Check: func(*cobra.Command) error {
			s := status
			opts.Request.Status = &s
			return nil
		}})
}

// DeleteOptions are the inputs of agent delete.
type DeleteOptions = verb.DeleteOptions

// NewCmdDelete returns agent delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "delete AGENT",
		Short: "Delete an agent and revoke its PAK",
		Long: `Delete an agent: its PAK stops working and its connections are closed. On a terminal the
command asks for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example: "  brokkrctl agent delete edge-1/prod --yes",
		Aliases: []string{"rm"},
	}, agentArg(f), resolve.Agent, verb.Deletion[client.Agent]{
		Question: func(a client.Agent) string { return fmt.Sprintf("Delete agent %s/%s?", a.Name, a.ClusterName) },
		Delete:   func(ctx context.Context, c *client.Client, a client.Agent) error { return c.Agents().Delete(ctx, a.ID) },
		Done:     func(a client.Agent) string { return fmt.Sprintf("Deleted agent %s/%s", a.Name, a.ClusterName) },
	})
}

// RotateOptions are the inputs of agent rotate-pak.
type RotateOptions = verb.RefOptions

// NewCmdRotatePAK returns agent rotate-pak; runF replaces the run function in tests.
func NewCmdRotatePAK(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{Factory: f}
	return verb.OneArg(&cobra.Command{
		Use:   "rotate-pak AGENT",
		Short: "Replace an agent's PAK",
		Long: `Replace an agent's PAK and print the new one once; the old key stops working at once and
the agent's connections are closed. Output as for agent create.`,
		Example: "  brokkrctl agent rotate-pak edge-1/prod -o json",
	}, agentArg(f), verb.Setup[RotateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runRotatePAK})
}

func runRotatePAK(ctx context.Context, opts *RotateOptions) error {
	rotate := verb.Via(resolve.AgentID, opts.Ref, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.RotateAgentPAKResponse, error) {
		return c.Agents().RotatePAK(ctx, id)
	})
	return verb.IssuePAK(ctx, opts.Factory, opts.Format, rotate, func(res client.RotateAgentPAKResponse) verb.Issue {
		a := res.Agent
		return verb.Issue{Message: fmt.Sprintf("Rotated the PAK of agent %s/%s", a.Name, a.ClusterName), Holder: "agent " + a.Name, PAK: res.PAK}
	})
}

// TargetStateOptions are the inputs of agent target-state.
type TargetStateOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Full    bool
	Format  output.Format
}

// NewCmdTargetState returns agent target-state; runF replaces the run function in tests.
func NewCmdTargetState(f *cmdutil.Factory, runF func(*TargetStateOptions) error) *cobra.Command {
	opts := &TargetStateOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:   "target-state AGENT",
		Short: "Show the deployment objects an agent should apply",
		Long: `Show the latest deployment object of every stack associated with the agent. Objects the
agent already reported on are left out unless --full is given.`,
		Example: "  brokkrctl agent target-state edge-1/prod\n  brokkrctl agent target-state edge-1/prod --full -o yaml",
	}, agentArg(f), verb.Setup[TargetStateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runTargetState})
	cmd.Flags().BoolVar(&opts.Full, "full", false, "Include objects the agent already reported on")
	return cmd
}

func runTargetState(ctx context.Context, opts *TargetStateOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.DeploymentObject, verb.Via(resolve.AgentID, opts.Ref,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.DeploymentObject, error) {
			return c.Agents().TargetState(ctx, id, opts.Full)
		}))
}

// HoldsOptions are the inputs of agent holds.
type HoldsOptions = verb.RefOptions

// NewCmdHolds returns agent holds; runF replaces the run function in tests.
func NewCmdHolds(f *cmdutil.Factory, runF func(*HoldsOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:   "holds AGENT",
		Short: "Show the stacks whose latest object an agent does not receive yet, and why",
		Long: `Show, per stack, the object held back from the agent, the object it receives instead
("nothing" when it never applied one of the stack), why (a rollout wave not released yet, or
an apply window) and until when, when that is known.`,
		Example: "  brokkrctl agent holds edge-1/prod\n  brokkrctl agent holds edge-1/prod -o json",
	}, agentArg(f), verb.Then(resolve.AgentID, resolve.AgentHolds), specs.PrintHolds)
}
