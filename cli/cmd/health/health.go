// Package health implements "brokkrctl health": the health agents report for deployment
// objects and stacks.
package health

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmd/stack"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
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
	obj := NewCmdObjectHealth(f, nil)
	obj.Use = "object ID"
	obj.Example = "  brokkrctl health object 9d2c4b1e-... -o yaml"
	cmd.AddCommand(obj)
	st := stack.NewCmdHealth(f, nil)
	st.Use = "stack NAME|ID"
	st.Example = "  brokkrctl health stack web"
	cmd.AddCommand(st)
	return cmd
}

// RecordSpec is the table of per-agent health reports.
var RecordSpec = output.Spec[client.DeploymentHealth]{
	Kind:   "health",
	Plural: "health reports",
	Name:   func(h client.DeploymentHealth) string { return h.AgentID.String() },
	Columns: []output.Column[client.DeploymentHealth]{
		output.Text("AGENT", func(h client.DeploymentHealth) string { return h.AgentID.String() }),
		output.Text("STATUS", func(h client.DeploymentHealth) string { return h.Status }),
		output.Age("CHECKED", func(h client.DeploymentHealth) *time.Time { return &h.CheckedAt }),
		output.Text("SUMMARY", func(h client.DeploymentHealth) string { return resource.OrDash(h.Summary) }),
	},
}

// ObjectOptions are the inputs of object health.
type ObjectOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Format  output.Format
}

// NewCmdObjectHealth returns "health ID" for a deployment object; runF replaces the run
// function in tests.
func NewCmdObjectHealth(f *cmdutil.Factory, runF func(*ObjectOptions) error) *cobra.Command {
	opts := &ObjectOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "health ID",
		Short:             "Show every agent's health report for a deployment object",
		Example:           "  brokkrctl object health 9d2c4b1e-...",
		Args:              cmdutil.ExactArgs(1, "deployment object ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteObjectIDs(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("deployment object ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			h, err := c.DeploymentHealth().Object(cmd.Context(), opts.ID)
			if err != nil {
				return err
			}
			p := output.NewPrinter(f, opts.Format)
			switch opts.Format {
			case output.FormatJSON:
				return output.WriteJSON(p.IO.Out, h)
			case output.FormatYAML:
				return output.WriteYAML(p.IO.Out, h)
			case output.FormatTable, output.FormatWide:
				fmt.Fprintf(p.IO.ErrOut, "Object %s: %s\n", h.DeploymentObjectID, h.OverallStatus)
			}
			return output.PrintList(p, RecordSpec, h.HealthRecords)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}
