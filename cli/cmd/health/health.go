// Package health implements "brokkrctl health": the health agents report for deployment
// objects and stacks. Its verbs are object health and stack health under other names, so
// this package wires verbs of the object and stack packages; no other command package
// imports another.
package health

import (
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/object"
	"github.com/brokkr/brokkr/cli/cmd/stack"
	"github.com/brokkr/brokkr/cli/cmdutil"
)

// NewCmdHealth returns the health noun.
func NewCmdHealth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health <command>",
		Short: "Show deployment health",
		Long: `Show the health agents report for deployment objects (every agent's report) and stacks
(counts per object).`,
		Example: "  brokkrctl health object 9d2c4b1e-...\n  brokkrctl health stack web",
	}
	obj := object.NewCmdHealth(f, nil)
	obj.Use = "object ID"
	obj.Example = "  brokkrctl health object 9d2c4b1e-... -o yaml"
	cmd.AddCommand(obj)
	st := stack.NewCmdHealth(f, nil)
	st.Use = "stack NAME|ID"
	st.Example = "  brokkrctl health stack web"
	cmd.AddCommand(st)
	return cmd
}
