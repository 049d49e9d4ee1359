package workorder

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
)

// DeleteOptions are the inputs of workorder delete.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Yes     bool
}

// NewCmdDelete returns workorder delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a queued work order",
		Long: `Delete a queued work order. On a terminal the command asks for confirmation unless --yes
is given; without a terminal --yes is required.`,
		Example: `  brokkrctl workorder delete 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11
  brokkrctl workorder delete 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11 --yes`,
		Aliases:           []string{"rm"},
		Args:              cmdutil.ExactArgs(1, "work order ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteWorkOrderIDs(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := cmdutil.ParseUUID("work order ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required when not running interactively")
			}
			if runF != nil {
				return runF(opts)
			}
			return runDelete(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Delete without asking for confirmation")
	return cmd
}

func runDelete(ctx context.Context, opts *DeleteOptions) error {
	if err := cmdutil.ConfirmDestructive(opts.Factory, opts.Yes, "Delete work order "+opts.ID.String()+"?"); err != nil {
		return err
	}
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	if err := c.WorkOrders().Delete(ctx, opts.ID); err != nil {
		return err
	}
	output.Successf(opts.Factory.IOStreams, "Deleted work order %s", opts.ID)
	return nil
}
