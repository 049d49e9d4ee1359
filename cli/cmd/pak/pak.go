// Package pak implements "brokkrctl pak": the holders of generator PAKs.
package pak

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// NewCmdPAK returns the pak noun.
func NewCmdPAK(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pak <command>",
		Aliases: []string{"paks"},
		Short:   "List PAK holders",
		Example: "  brokkrctl pak list",
	}
	cmd.AddCommand(NewCmdList(f, nil))
	return cmd
}

// ListOptions are the inputs of pak list.
type ListOptions = verb.FormatOptions

// NewCmdList returns pak list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	return verb.ShowCmd(f, runF, &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the generators that hold a PAK",
		Long:    "List the live generators that hold a PAK, the admin generator included.",
		Example: "  brokkrctl pak list -o json",
	}, func(ctx context.Context, c *client.Client) ([]client.PakSummary, error) {
		return c.PAKs().List(ctx)
	}, verb.Many(specs.PAK))
}
