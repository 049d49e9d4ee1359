package agent

import (
	"context"
	"fmt"
	"strings"
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
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List agents",
		Long: `List agents: all of them for the admin, those registered with the generator for a
generator PAK. --generator keeps the agents registered with that generator, as a generator
PAK would see them. --watch re-renders the list every --interval.`,
		Example: `  brokkrctl agent list
  brokkrctl agent list --generator ci -o wide
  brokkrctl agent list --watch --interval 5s`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Watch && opts.Interval < 100*time.Millisecond {
				return cmdutil.FlagErrorf("--interval must be at least 100ms")
			}
			if runF != nil {
				return runF(opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Only agents registered with this generator (name or id)")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Keep polling and re-render the list")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "Polling interval of --watch")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("generator", cmdutil.CompleteGenerators(f))
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	var gen *uuid.UUID
	if opts.Generator != "" {
		id, err := resource.GeneratorID(ctx, c, opts.Generator)
		if err != nil {
			return err
		}
		gen = &id
	}
	render := func(ctx context.Context, p *output.Printer) error {
		agents, err := c.Agents().List(ctx)
		if err != nil {
			return err
		}
		if gen != nil {
			regs, err := c.Generators().RegisteredAgents(ctx, *gen)
			if err != nil {
				return err
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
			agents = filtered
		}
		return output.PrintList(p, Spec, agents)
	}
	p := output.NewPrinter(opts.Factory, opts.Format)
	if !opts.Watch {
		return render(ctx, p)
	}
	return resource.Watch(ctx, p, opts.Interval, "brokkrctl agent list", render)
}

// GetOptions are the inputs of agent get.
type GetOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdGet returns agent get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "get ID|NAME/CLUSTER",
		Short:             "Show an agent",
		Example:           "  brokkrctl agent get edge-1/prod\n  brokkrctl agent get 5b0e6f9e-0b6d-4f3c-8a55-1d2f3a4b5c6d -o yaml",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			a, err := resource.Agent(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, a)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
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
	cmd := &cobra.Command{
		Use:   "create --name NAME --cluster CLUSTER",
		Short: "Create an agent and print its initial PAK",
		Long: `Create an agent (status INACTIVE), optionally registered with generators. Its initial PAK is
printed once: alone on stdout (with a warning on stderr), or as the initial_pak field of the
response with -o json or -o yaml.`,
		Example: `  brokkrctl agent create --name edge-1 --cluster prod --generator ci
  AGENT_PAK=$(brokkrctl agent create --name edge-1 --cluster prod -o json | jq -r .initial_pak)`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Name == "" || opts.Cluster == "" {
				return cmdutil.FlagErrorf("--name and --cluster are required")
			}
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			c, err := f.Client()
			if err != nil {
				return err
			}
			req := client.CreateAgentRequest{Name: opts.Name, ClusterName: opts.Cluster}
			for _, g := range opts.Generators {
				id, err := resource.GeneratorID(ctx, c, g)
				if err != nil {
					return err
				}
				req.GeneratorIDs = append(req.GeneratorIDs, id)
			}
			res, err := c.Agents().Create(ctx, req)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Created agent %s/%s (%s)", res.Agent.Name, res.Agent.ClusterName, res.Agent.ID)
			return generator.PrintPAK(f, opts.Format, "agent "+res.Agent.Name, res.InitialPAK, res)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "Agent name (required)")
	cmd.Flags().StringVar(&opts.Cluster, "cluster", "", "Cluster name (required)")
	cmd.Flags().StringArrayVar(&opts.Generators, "generator", nil, "Register with this generator, name or id (repeatable)")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("generator", cmdutil.CompleteGenerators(f))
	return cmd
}

// UpdateOptions are the inputs of agent update.
type UpdateOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Request client.UpdateAgentRequest
	Format  output.Format
}

// NewCmdUpdate returns agent update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	var name, cluster, status string
	cmd := &cobra.Command{
		Use:               "update AGENT [--name NAME] [--cluster CLUSTER] [--status ACTIVE|INACTIVE]",
		Short:             "Change an agent's name, cluster or status",
		Example:           "  brokkrctl agent update edge-1/prod --status ACTIVE\n  brokkrctl agent update 5b0e6f9e-... --name edge-2",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			fl := cmd.Flags()
			if fl.Changed("name") {
				opts.Request.Name = &name
			}
			if fl.Changed("cluster") {
				opts.Request.ClusterName = &cluster
			}
			if fl.Changed("status") {
				s := strings.ToUpper(status)
				opts.Request.Status = &s
			}
			r := opts.Request
			if r.Name == nil && r.ClusterName == nil && r.Status == nil {
				return cmdutil.FlagErrorf("nothing to change: give --name, --cluster or --status")
			}
			if runF != nil {
				return runF(opts)
			}
			return runUpdate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "New name")
	cmd.Flags().StringVar(&cluster, "cluster", "", "New cluster name")
	cmd.Flags().StringVar(&status, "status", "", "New status: ACTIVE or INACTIVE")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("status", resource.Fixed(StatusActive, StatusInactive))
	return cmd
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	id, err := resource.AgentID(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	a, err := c.Agents().Update(ctx, id, opts.Request)
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "Updated agent %s/%s (status %s)", a.Name, a.ClusterName, a.Status)
	return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, a)
}

// NewCmdStatus returns agent activate (status ACTIVE) or agent deactivate.
func NewCmdStatus(f *cmdutil.Factory, status string) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	verb, short := "activate", "Set an agent's status to ACTIVE"
	if status == StatusInactive {
		verb, short = "deactivate", "Set an agent's status to INACTIVE"
	}
	cmd := &cobra.Command{
		Use:               verb + " AGENT",
		Short:             short,
		Long:              short + "; the same as agent update --status " + status + ".",
		Example:           "  brokkrctl agent " + verb + " edge-1/prod",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			s := status
			opts.Request.Status = &s
			return runUpdate(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// DeleteOptions are the inputs of agent delete.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Yes     bool
}

// NewCmdDelete returns agent delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "delete AGENT",
		Short: "Delete an agent and revoke its PAK",
		Long: `Delete an agent: its PAK stops working and its connections are closed. On a terminal the
command asks for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example:           "  brokkrctl agent delete edge-1/prod --yes",
		Aliases:           []string{"rm"},
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required when not running interactively")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			a, err := resource.Agent(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if err := cmdutil.ConfirmDestructive(f, opts.Yes, fmt.Sprintf("Delete agent %s/%s?", a.Name, a.ClusterName)); err != nil {
				return err
			}
			if err := c.Agents().Delete(cmd.Context(), a.ID); err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Deleted agent %s/%s", a.Name, a.ClusterName)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Delete without asking for confirmation")
	return cmd
}

// NewCmdTarget returns agent target with list, add and remove.
func NewCmdTarget(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "target <command>",
		Aliases: []string{"targets"},
		Short:   "Manage the stacks an agent is explicitly bound to",
		Long: `Manage an agent's explicit targets. The agent must be registered with the stack's
generator.`,
		Example: "  brokkrctl agent target add edge-1/prod --stack web\n  brokkrctl agent target list edge-1/prod",
	}
	list := agentListVerb(f, "list", "List an agent's explicit targets",
		"  brokkrctl agent target list edge-1/prod", TargetSpec,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.AgentTarget, error) {
			return c.Agents().Targets(ctx, id)
		})
	list.Aliases = []string{"ls"}
	cmd.AddCommand(list, newCmdTargetChange(f, true), newCmdTargetChange(f, false))
	return cmd
}

func newCmdTargetChange(f *cmdutil.Factory, add bool) *cobra.Command {
	var stacks []string
	cmd := &cobra.Command{
		Use:               "add AGENT --stack NAME|ID",
		Short:             "Bind an agent to stacks",
		Example:           "  brokkrctl agent target add edge-1/prod --stack web --stack api",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(stacks) == 0 {
				return cmdutil.FlagErrorf("--stack is required")
			}
			ctx := cmd.Context()
			c, err := f.Client()
			if err != nil {
				return err
			}
			agentID, err := resource.AgentID(ctx, c, args[0])
			if err != nil {
				return err
			}
			for _, s := range stacks {
				stackID, err := resource.StackID(ctx, c, s)
				if err != nil {
					return err
				}
				if add {
					_, err = c.Agents().AddTarget(ctx, agentID, stackID)
					if client.IsConflict(err) {
						output.Successf(f.IOStreams, "Agent %s already targets stack %s", args[0], s)
						continue
					}
				} else {
					err = c.Agents().RemoveTarget(ctx, agentID, stackID)
				}
				if err != nil {
					return err
				}
				if add {
					output.Successf(f.IOStreams, "Agent %s now targets stack %s", args[0], s)
				} else {
					output.Successf(f.IOStreams, "Agent %s no longer targets stack %s", args[0], s)
				}
			}
			return nil
		},
	}
	if !add {
		cmd.Use = "remove AGENT --stack NAME|ID"
		cmd.Aliases = []string{"rm"}
		cmd.Short = "Unbind an agent from stacks"
		cmd.Example = "  brokkrctl agent target remove edge-1/prod --stack web"
	}
	cmd.Flags().StringArrayVar(&stacks, "stack", nil, "Stack name or id (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("stack", cmdutil.CompleteStacks(f))
	return cmd
}

// RotateOptions are the inputs of agent rotate-pak.
type RotateOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdRotatePAK returns agent rotate-pak; runF replaces the run function in tests.
func NewCmdRotatePAK(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "rotate-pak AGENT",
		Short: "Replace an agent's PAK",
		Long: `Replace an agent's PAK and print the new one once; the old key stops working at once and
the agent's connections are closed. Output as for agent create.`,
		Example:           "  brokkrctl agent rotate-pak edge-1/prod -o json",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.AgentID(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			res, err := c.Agents().RotatePAK(cmd.Context(), id)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Rotated the PAK of agent %s/%s", res.Agent.Name, res.Agent.ClusterName)
			return generator.PrintPAK(f, opts.Format, "agent "+res.Agent.Name, res.PAK, res)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
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
	cmd := &cobra.Command{
		Use:   "target-state AGENT",
		Short: "Show the deployment objects an agent should apply",
		Long: `Show the latest deployment object of every stack associated with the agent. Objects the
agent already reported on are left out unless --full is given.`,
		Example:           "  brokkrctl agent target-state edge-1/prod\n  brokkrctl agent target-state edge-1/prod --full -o yaml",
		Args:              cmdutil.ExactArgs(1, "agent id or NAME/CLUSTER"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteAgents(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.AgentID(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			objs, err := c.Agents().TargetState(cmd.Context(), id, opts.Full)
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), stack.ObjectSpec, objs)
		},
	}
	cmd.Flags().BoolVar(&opts.Full, "full", false, "Include objects the agent already reported on")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}
