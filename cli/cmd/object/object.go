// Package object implements "brokkrctl object": reading single deployment objects, their raw
// YAML and their health.
package object

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
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
	cmd.AddCommand(NewCmdGet(f, nil), NewCmdYAML(f, nil), NewCmdHealth(f, nil))
	return cmd
}

// objectArg is the ID argument of the verbs on one deployment object.
func objectArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "deployment object ID", Complete: complete.ObjectIDs(f)}
}

// GetOptions are the inputs of object get.
type GetOptions = verb.IDOptions

// NewCmdGet returns object get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowIDCmd(f, runF, &cobra.Command{
		Use:   "get ID",
		Short: "Show a deployment object",
		Long: `Show a deployment object. The table shows its sequence, checksum and age; -o yaml and
-o json show the whole object including its YAML content.`,
		Example: "  brokkrctl object get 9d2c4b1e-... -o yaml",
	}, objectArg(f), func(ctx context.Context, c *client.Client, id uuid.UUID) (client.DeploymentObject, error) {
		return c.DeploymentObjects().Get(ctx, id)
	}, verb.One(specs.DeploymentObject))
}

// YAMLOptions are the inputs of object yaml.
type YAMLOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
}

// NewCmdYAML returns object yaml; runF replaces the run function in tests.
func NewCmdYAML(f *cmdutil.Factory, runF func(*YAMLOptions) error) *cobra.Command {
	opts := &YAMLOptions{Factory: f}
	return verb.OneArg(&cobra.Command{
		Use:     "yaml ID",
		Aliases: []string{"content"},
		Short:   "Print a deployment object's manifests",
		Example: "  brokkrctl object yaml 9d2c4b1e-... | kubectl diff -f -",
	}, objectArg(f), verb.Setup[YAMLOptions]{Opts: opts, ID: &opts.ID, RunF: runF, Run: runYAML})
}

func runYAML(ctx context.Context, opts *YAMLOptions) error {
	y, err := verb.Do(ctx, opts.Factory, func(ctx context.Context, c *client.Client) (string, error) {
		return c.DeploymentObjects().GetYAML(ctx, opts.ID)
	})
	if err != nil {
		return err
	}
	if y != "" && !strings.HasSuffix(y, "\n") {
		y += "\n"
	}
	_, err = io.WriteString(opts.Factory.IOStreams.Out, y)
	return err
}

// HealthOptions are the inputs of object health.
type HealthOptions = verb.IDOptions

// NewCmdHealth returns object health (also health object); runF replaces the run function in
// tests.
func NewCmdHealth(f *cmdutil.Factory, runF func(*HealthOptions) error) *cobra.Command {
	return verb.ShowIDCmd(f, runF, &cobra.Command{
		Use:     "health ID",
		Short:   "Show every agent's health report for a deployment object",
		Example: "  brokkrctl object health 9d2c4b1e-...",
	}, objectArg(f), func(ctx context.Context, c *client.Client, id uuid.UUID) (client.DeploymentHealthResponse, error) {
		return c.DeploymentHealth().Object(ctx, id)
	}, func(p *output.Printer, h client.DeploymentHealthResponse) error {
		summary := fmt.Sprintf("Object %s: %s", h.DeploymentObjectID, h.OverallStatus)
		return output.PrintReport(p, h, summary, specs.HealthRecord, h.HealthRecords)
	})
}
