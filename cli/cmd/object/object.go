// Package object implements "brokkrctl object": reading single deployment objects, their raw
// YAML and their health.
package object

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/health"
	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmd/stack"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/google/uuid"
)

// NewCmdObject returns the object noun.
func NewCmdObject(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "object <command>",
		Aliases: []string{"objects", "deployment-object", "deployment-objects", "do"},
		Short:   "Read deployment objects",
		Long: `Read deployment objects: the immutable versions of a stack's manifests. List a stack's
objects with "brokkrctl stack objects".`,
		Example: `  brokkrctl object get 9d2c4b1e-... -o yaml
  brokkrctl object yaml 9d2c4b1e-... > web.yaml`,
	}
	cmd.AddCommand(NewCmdGet(f, nil), NewCmdYAML(f, nil), health.NewCmdObjectHealth(f, nil))
	return cmd
}

// GetOptions are the inputs of object get.
type GetOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Format  output.Format
}

// NewCmdGet returns object get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show a deployment object",
		Long: `Show a deployment object. The table shows its sequence, checksum and age; -o yaml and
-o json show the whole object including its YAML content.`,
		Example:           "  brokkrctl object get 9d2c4b1e-... -o yaml",
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
			o, err := c.DeploymentObjects().Get(cmd.Context(), opts.ID)
			if err != nil {
				return err
			}
			return output.PrintOne(output.NewPrinter(f, opts.Format), stack.ObjectSpec, o)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// YAMLOptions are the inputs of object yaml.
type YAMLOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
}

// NewCmdYAML returns object yaml; runF replaces the run function in tests.
func NewCmdYAML(f *cmdutil.Factory, runF func(*YAMLOptions) error) *cobra.Command {
	opts := &YAMLOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "yaml ID",
		Aliases:           []string{"content"},
		Short:             "Print a deployment object's manifests",
		Example:           "  brokkrctl object yaml 9d2c4b1e-... | kubectl diff -f -",
		Args:              cmdutil.ExactArgs(1, "deployment object ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteObjectIDs(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			y, err := c.DeploymentObjects().GetYAML(cmd.Context(), opts.ID)
			if err != nil {
				return err
			}
			if y != "" && !strings.HasSuffix(y, "\n") {
				y += "\n"
			}
			_, err = io.WriteString(f.IOStreams.Out, y)
			return err
		},
	}
	return cmd
}
