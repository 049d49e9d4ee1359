package workorder

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// GetOptions are the inputs of workorder get.
type GetOptions = verb.IDOptions

// NewCmdGet returns workorder get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowIDCmd(f, runF, &cobra.Command{
		Use:   "get ID",
		Short: "Show a work order",
		Long: `Show one work order. Finished orders are read back from the log with status COMPLETED
or FAILED.`,
		Example: `  brokkrctl workorder get 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11
  brokkrctl workorder get 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11 -o yaml`,
	}, workOrderArg(f), func(ctx context.Context, c *client.Client, id uuid.UUID) (client.WorkOrder, error) {
		return c.WorkOrders().Get(ctx, id)
	}, verb.One(specs.WorkOrder))
}
