// Package pak implements "brokkrctl pak": the holders of generator PAKs.
package pak

import (
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
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

// Spec is the table of PAK holders.
var Spec = output.Spec[client.PakSummary]{
	Kind:   "generator",
	Plural: "PAK holders",
	Name:   func(p client.PakSummary) string { return p.Name },
	Columns: []output.Column[client.PakSummary]{
		output.Text("ID", func(p client.PakSummary) string { return p.ID.String() }),
		output.Text("NAME", func(p client.PakSummary) string { return p.Name }),
	},
}

// ListOptions are the inputs of pak list.
type ListOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdList returns pak list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the generators that hold a PAK",
		Long:    "List the live generators that hold a PAK, the admin generator included.",
		Example: "  brokkrctl pak list -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			paks, err := c.PAKs().List(cmd.Context())
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), Spec, paks)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}
