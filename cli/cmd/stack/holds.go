package stack

import (
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
)

// HoldsOptions are the inputs of stack holds.
type HoldsOptions = verb.RefOptions

// NewCmdHolds returns stack holds; runF replaces the run function in tests.
func NewCmdHolds(f *cmdutil.Factory, runF func(*HoldsOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:   "holds NAME|ID",
		Short: "Show the agents that do not receive a stack's latest object yet, and why",
		Long: `Show, per agent, the stack's object held back from it, the object it receives instead
("nothing" when it never applied one of the stack), why (a rollout wave not released yet, or
an apply window) and until when, when that is known.`,
		Example: "  brokkrctl stack holds web\n  brokkrctl stack holds web -o json",
	}, stackArg(f), verb.Then(resolve.StackID, resolve.StackHolds), specs.PrintHolds)
}
