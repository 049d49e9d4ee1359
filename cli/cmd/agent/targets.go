package agent

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

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
	list, _ := newItemsCmd(f, nil, "list", "List an agent's explicit targets",
		"  brokkrctl agent target list edge-1/prod", specs.AgentTarget,
		func(ctx context.Context, c *client.Client, id uuid.UUID, _ *ItemsOptions) ([]client.AgentTarget, error) {
			return c.Agents().Targets(ctx, id)
		})
	list.Aliases = []string{"ls"}
	cmd.AddCommand(list, NewCmdTargetChange(f, nil, true), NewCmdTargetChange(f, nil, false))
	return cmd
}

// TargetOptions are the inputs of agent target add and agent target remove.
type TargetOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Stacks  []string
	// Add binds the stacks; otherwise they are unbound.
	Add bool
}

// NewCmdTargetChange returns agent target add (add true) or agent target remove; runF
// replaces the run function in tests.
func NewCmdTargetChange(f *cmdutil.Factory, runF func(*TargetOptions) error, add bool) *cobra.Command {
	opts := &TargetOptions{Factory: f, Add: add}
	cmd := verb.OneArg(&cobra.Command{
		Use:     "add AGENT --stack NAME|ID",
		Short:   "Bind an agent to stacks",
		Example: "  brokkrctl agent target add edge-1/prod --stack web --stack api",
	}, agentArg(f), verb.Setup[TargetOptions]{Opts: opts, Ref: &opts.Ref, RunF: runF, Run: runTargetChange,
		Check: func(*cobra.Command) error {
			if len(opts.Stacks) == 0 {
				return cmdutil.FlagErrorf("--stack is required")
			}
			return nil
		}})
	if !add {
		cmd.Use = "remove AGENT --stack NAME|ID"
		cmd.Aliases = []string{"rm"}
		cmd.Short = "Unbind an agent from stacks"
		cmd.Example = "  brokkrctl agent target remove edge-1/prod --stack web"
	}
	cmd.Flags().StringArrayVar(&opts.Stacks, "stack", nil, "Stack name or id (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("stack", complete.Stacks(f))
	return cmd
}

func runTargetChange(ctx context.Context, opts *TargetOptions) error {
	ios := opts.Factory.IOStreams
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	agentID, err := resolve.AgentID(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	for _, s := range opts.Stacks {
		stackID, err := resolve.StackID(ctx, c, s)
		if err != nil {
			return err
		}
		if !opts.Add {
			if err := c.Agents().RemoveTarget(ctx, agentID, stackID); err != nil {
				return err
			}
			output.Successf(ios, "Agent %s no longer targets stack %s", opts.Ref, s)
			continue
		}
		_, err = c.Agents().AddTarget(ctx, agentID, stackID)
		switch {
		case client.IsConflict(err):
			output.Successf(ios, "Agent %s already targets stack %s", opts.Ref, s)
		case err != nil:
			return err
		default:
			output.Successf(ios, "Agent %s now targets stack %s", opts.Ref, s)
		}
	}
	return nil
}
