package stack

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// HealthOptions are the inputs of stack health.
type HealthOptions = verb.RefOptions

// NewCmdHealth returns stack health; runF replaces the run function in tests.
func NewCmdHealth(f *cmdutil.Factory, runF func(*HealthOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "health NAME|ID",
		Short:   "Show the health agents report for a stack's objects",
		Example: "  brokkrctl stack health web\n  brokkrctl stack health web -o json",
	}, stackArg(f), verb.Then(resolve.StackID, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.StackHealthResponse, error) {
		return c.Stacks().Health(ctx, id)
	}), PrintStackHealth)
}

// PrintStackHealth prints a stack's health: the wire object for json and yaml, otherwise the
// overall status on stderr (except for -o name) and a table of objects.
func PrintStackHealth(p *output.Printer, h client.StackHealthResponse) error {
	return output.PrintReport(p, h, fmt.Sprintf("Stack %s: %s", h.StackID, h.OverallStatus), specs.StackHealth, h.DeploymentObjects)
}
