// Package pak implements "brokkrctl pak": the holders of generator PAKs and the named
// read-only PAKs.
package pak

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// NewCmdPAK returns the pak noun.
func NewCmdPAK(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pak <command>",
		Aliases: []string{"paks"},
		Short:   "List PAK holders; create, list and revoke read-only PAKs",
		Long: `List the generators that hold a PAK, and manage named read-only PAKs: keys that read
everything the admin reads, secrets excepted, and change nothing (for dashboards, on-call
staff and brokkrctl tui). Only the admin key creates and revokes them.`,
		Example: `  brokkrctl pak list
  brokkrctl pak create --read-only dashboards
  brokkrctl pak list --read-only
  brokkrctl pak revoke dashboards`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdCreate(f, nil), NewCmdRevoke(f, nil))
	return cmd
}

// ListOptions are the inputs of pak list.
type ListOptions struct {
	Factory  *cmdutil.Factory
	Format   output.Format
	ReadOnly bool
}

// NewCmdList returns pak list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list [--read-only]",
		Aliases: []string{"ls"},
		Short:   "List the generators that hold a PAK, or the read-only PAKs",
		Long: `List the live generators that hold a PAK, the admin generator included; with --read-only,
the named read-only PAKs that are not revoked (their names, never their keys).`,
		Example: `  brokkrctl pak list -o json
  brokkrctl pak list --read-only`,
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList})
	cmd.Flags().BoolVar(&opts.ReadOnly, "read-only", false, "List the read-only PAKs")
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	if opts.ReadOnly {
		return verb.List(ctx, opts.Factory, opts.Format, specs.ReadOnlyPAK, func(ctx context.Context, c *client.Client) ([]client.ReadOnlyPAK, error) {
			return c.ReadOnlyPAKs().List(ctx)
		})
	}
	return verb.List(ctx, opts.Factory, opts.Format, specs.PAK, func(ctx context.Context, c *client.Client) ([]client.PakSummary, error) {
		return c.PAKs().List(ctx)
	})
}

// CreateOptions are the inputs of pak create.
type CreateOptions struct {
	Factory  *cmdutil.Factory
	Name     string
	ReadOnly bool
	Format   output.Format
}

// NewCmdCreate returns pak create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := verb.Create(&cobra.Command{
		Use:   "create --read-only NAME [flags]",
		Short: "Create a named read-only PAK and print it",
		Long: `Create a read-only PAK named NAME (or --name): it reads everything the admin reads, secrets
excepted, and every change it attempts is refused (403 read_only). The key is printed once:
alone on stdout (with a warning on stderr), or as the pak field of the response with -o json
or -o yaml. Agents and generators get their PAKs from agent create and generator create.`,
		Example: `  brokkrctl pak create --read-only dashboards
  PAK=$(brokkrctl pak create --read-only on-call -o json | jq -r .pak)`,
	}, &opts.Name, "Name of the read-only PAK (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format,
		RunF: runF, Run: runCreate,
		Check: func(*cobra.Command) error {
			if !opts.ReadOnly {
				return cmdutil.FlagErrorf("--read-only is required: pak create makes read-only PAKs only")
			}
			if opts.Name == "" {
				return cmdutil.FlagErrorf("a NAME is required")
			}
			return nil
		}})
	cmd.Flags().BoolVar(&opts.ReadOnly, "read-only", false, "Create a read-only PAK (required)")
	return cmd
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.ReadOnlyPAKCreated, error) {
		return c.ReadOnlyPAKs().Create(ctx, opts.Name)
	}
	return verb.IssuePAK(ctx, opts.Factory, opts.Format, create, func(k client.ReadOnlyPAKCreated) verb.Issue {
		return verb.Issue{Message: fmt.Sprintf("Created read-only PAK %s (%s)", k.Name, k.ID),
			Holder: "read-only PAK " + k.Name, PAK: k.PAK}
	})
}

// RevokeOptions are the inputs of pak revoke.
type RevokeOptions = verb.DeleteOptions

// NewCmdRevoke returns pak revoke; runF replaces the run function in tests.
func NewCmdRevoke(f *cmdutil.Factory, runF func(*RevokeOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "revoke NAME|ID [-y]",
		Short: "Revoke a read-only PAK",
		Long: `Revoke the read-only PAK named NAME (or with this ID): it stops authenticating on every
replica at once and its open live connections are closed.`,
		Example: "  brokkrctl pak revoke dashboards --yes",
	}, verb.Arg{What: "read-only PAK NAME or ID", Complete: completeReadOnly(f)}, findReadOnly, verb.Deletion[client.ReadOnlyPAK]{
		Question: func(k client.ReadOnlyPAK) string { return fmt.Sprintf("Revoke read-only PAK %s (%s)?", k.Name, k.ID) },
		Delete: func(ctx context.Context, c *client.Client, k client.ReadOnlyPAK) error {
			return c.ReadOnlyPAKs().Revoke(ctx, k.ID)
		},
		Done: func(k client.ReadOnlyPAK) string { return fmt.Sprintf("Revoked read-only PAK %s (%s)", k.Name, k.ID) },
	})
}
