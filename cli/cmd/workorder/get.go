package workorder

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
)

// GetOptions are the inputs of workorder get.
type GetOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Format  output.Format
}

// NewCmdGet returns workorder get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show a work order",
		Long: `Show one work order. Finished orders are read back from the log with status COMPLETED
or FAILED.`,
		Example: `  brokkrctl workorder get 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11
  brokkrctl workorder get 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11 -o yaml`,
		Args:              cmdutil.ExactArgs(1, "work order ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteWorkOrderIDs(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("work order ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			return runGet(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runGet(ctx context.Context, opts *GetOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	w, err := c.WorkOrders().Get(ctx, opts.ID)
	if err != nil {
		return err
	}
	return output.PrintOne(output.NewPrinter(opts.Factory, opts.Format), Spec, w)
}
