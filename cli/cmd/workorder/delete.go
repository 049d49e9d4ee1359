package workorder

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// DeleteOptions are the inputs of workorder delete.
type DeleteOptions = verb.DeleteIDOptions

// NewCmdDelete returns workorder delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteByIDCmd(f, runF, &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a queued work order",
		Long: `Delete a queued work order. On a terminal the command asks for confirmation unless --yes
is given; without a terminal --yes is required.`,
		Example: `  brokkrctl workorder delete 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11
  brokkrctl workorder delete 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11 --yes`,
		Aliases: []string{"rm"},
	}, workOrderArg(f), "work order", func(ctx context.Context, c *client.Client, id uuid.UUID) error {
		return c.WorkOrders().Delete(ctx, id)
	})
}
